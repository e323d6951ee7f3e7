//! The vendor blocks of a `pushMessage`: `apns`, `fcm`, `fcmV1`, `huawei`, `honor`, `xiaomi`,
//! `oppo`, `vivo`, `meizu` and `harmonyOS`.
//!
//! Each block overrides the generic fields for its channel. Fields keep the documented camelCase
//! names; anything a block does not model stays in its `other` map and is sent back as it came.
//! Codes that OpenPush itself acts on are enums; codes only handed to the vendor are integers or
//! strings checked against their documented set.

use serde_json::Value;

use super::check::{
    each, in_range, max_items, max_len, max_len_of, nested, one_of, required_because, str_one_of,
    Check,
};
use super::error::MessageError;
use super::lenient::{self, StringOrList};
use super::text::Counting::{Chars, WideIsTwo};
use super::Object;

// =============================================================================================
// Enumerations

int_enum! {
    /// `apns.priority`, sent as the `apns-priority` header.
    pub enum ApnsPriority {
        /// 5: delivered at a time that saves power.
        PowerAware = 5,
        /// 10: delivered at once.
        Immediate = 10,
    }
}

string_enum! {
    /// `apns.pushType`, sent as the `apns-push-type` header. Default `alert`.
    pub enum ApnsPushType {
        Alert = "alert",
        Background = "background",
    }
}

string_enum! {
    /// `apns.interruptionLevel`.
    pub enum InterruptionLevel {
        Active = "ACTIVE",
        Critical = "CRITICAL",
        Passive = "PASSIVE",
        TimeSensitive = "TIME_SENSITIVE",
    }
}

string_enum! {
    /// `apns.liveActivityEvent`.
    pub enum LiveActivityEvent {
        Start = "START",
        Update = "UPDATE",
        End = "END",
    }
}

string_enum! {
    /// `fcm.priority` (legacy FCM).
    pub enum FcmPriority {
        Normal = "normal",
        High = "high",
    }
}

string_enum! {
    /// `fcmV1.type`: which parts of the FCM message to send.
    pub enum FcmV1Type {
        Both = "BOTH",
        Data = "DATA",
        Notification = "NOTIFICATION",
    }
}

string_enum! {
    /// `fcmV1.androidConfig.priority`.
    pub enum AndroidPriority {
        Normal = "NORMAL",
        High = "HIGH",
    }
}

string_enum! {
    /// `importance` of a Huawei or Honor notification.
    pub enum Importance {
        Low = "LOW",
        Normal = "NORMAL",
    }
}

string_enum! {
    /// `huawei.message.android.notification.visibility`.
    pub enum Visibility {
        Unspecified = "VISIBILITY_UNSPECIFIED",
        Public = "PUBLIC",
        Secret = "SECRET",
        Private = "PRIVATE",
    }
}

// =============================================================================================
// APNs

wire_struct! {
    /// `apns`: options for Apple's push service.
    pub struct Apns {
        /// Expiry, in ms.
        #[serde(deserialize_with = "lenient::int64")]
        pub invalidation_time: Option<i64>,
        pub priority: Option<ApnsPriority>,
        pub push_type: Option<ApnsPushType>,
        #[serde(deserialize_with = "lenient::code")]
        pub collapse_id: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub apns_id: Option<String>,
        #[serde(deserialize_with = "lenient::int32")]
        pub badge: Option<i32>,
        /// A sound file in `Library/Sounds` (aiff, wav or caf; at most 30 s).
        pub sound: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub mutable_content: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub content_available: Option<bool>,
        pub category_name: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub thread_id: Option<String>,
        pub title: Option<String>,
        pub sub_title: Option<String>,
        pub content: Option<String>,
        pub title_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub title_loc_args: Option<Vec<String>>,
        pub sub_title_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub sub_title_loc_args: Option<Vec<String>>,
        pub body_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub body_loc_args: Option<Vec<String>>,
        /// Custom keys for the app's user info.
        pub ext: Option<Object>,
        pub launch_image: Option<String>,
        pub interruption_level: Option<InterruptionLevel>,
        pub live_activity_event: Option<LiveActivityEvent>,
        #[serde(deserialize_with = "lenient::int64")]
        pub timestamp: Option<i64>,
        #[serde(deserialize_with = "lenient::int64")]
        pub dismissal_date: Option<i64>,
        #[serde(deserialize_with = "lenient::int64")]
        pub stale_date: Option<i64>,
        pub attributes_type: Option<String>,
        pub attributes: Option<Object>,
        pub content_state: Option<Object>,
    }
}

impl Check for Apns {
    fn check(&self, _at: &str) -> Result<(), MessageError> {
        // Every documented rule (priority 5|10, pushType, the enumerations) is enforced by the
        // types while reading.
        Ok(())
    }
}

// =============================================================================================
// FCM legacy

/// Four weeks in seconds: the longest FCM time to live.
pub const FCM_MAX_TTL_SECS: u64 = 2_419_200;

wire_struct! {
    /// `fcm`: options for the legacy FCM HTTP API.
    pub struct Fcm {
        pub condition: Option<String>,
        pub collapse_key: Option<String>,
        pub priority: Option<FcmPriority>,
        /// Whole seconds as a string, at most 4 weeks (a number is accepted and kept as text).
        #[serde(deserialize_with = "lenient::code")]
        pub time_to_live: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub dry_run: Option<bool>,
        pub restricted_package_name: Option<String>,
        pub data: Option<Object>,
        pub notification: Option<FcmNotification>,
    }
}

wire_struct! {
    /// `fcm.notification`.
    pub struct FcmNotification {
        pub title: Option<String>,
        pub body: Option<String>,
        pub android_channel_id: Option<String>,
        pub icon: Option<String>,
        /// A sound in the app's `res/raw`.
        pub sound: Option<String>,
        pub tag: Option<String>,
        pub color: Option<String>,
        pub click_action: Option<String>,
        pub title_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub title_loc_args: Option<Vec<String>>,
        pub body_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub body_loc_args: Option<Vec<String>>,
    }
}

impl Check for Fcm {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        if let Some(ttl) = &self.time_to_live {
            let secs = ttl.strip_suffix('s').unwrap_or(ttl);
            match secs.parse::<u64>() {
                Ok(n) if n <= FCM_MAX_TTL_SECS => {}
                _ => {
                    return Err(MessageError::Invalid {
                        field: format!("{at}.timeToLive"),
                        reason: format!(
                            "expected whole seconds from 0 to {FCM_MAX_TTL_SECS} (4 weeks), got {ttl:?}"
                        ),
                    })
                }
            }
        }
        Ok(())
    }
}

// =============================================================================================
// FCM HTTP v1

wire_struct! {
    /// `fcmV1`: options for the FCM HTTP v1 API.
    pub struct FcmV1 {
        /// Which parts to send: notification, data, or both.
        #[serde(rename = "type")]
        pub message_type: Option<FcmV1Type>,
        /// String pairs for the app (non-string values are kept; the FCM client stringifies).
        pub data: Option<Object>,
        pub options: Option<Object>,
        pub condition: Option<String>,
        pub notification: Option<FcmV1Notification>,
        pub android_config: Option<FcmV1AndroidConfig>,
        pub web_push_config: Option<FcmV1WebPushConfig>,
        pub apns_config: Option<FcmV1ApnsConfig>,
    }
}

wire_struct! {
    /// `fcmV1.notification`.
    pub struct FcmV1Notification {
        pub title: Option<String>,
        pub body: Option<String>,
        /// Image URL (the image at most 1 MB).
        pub image: Option<String>,
    }
}

wire_struct! {
    /// `fcmV1.androidConfig`.
    pub struct FcmV1AndroidConfig {
        pub collapse_key: Option<String>,
        pub priority: Option<AndroidPriority>,
        /// Seconds with an `s` suffix, e.g. `"3.5s"`; default 4 weeks.
        #[serde(deserialize_with = "lenient::code")]
        pub ttl: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub direct_boot_ok: Option<bool>,
        pub android_notification: Option<FcmV1AndroidNotification>,
    }
}

wire_struct! {
    /// `fcmV1.androidConfig.androidNotification`.
    pub struct FcmV1AndroidNotification {
        pub title: Option<String>,
        pub body: Option<String>,
        pub icon: Option<String>,
        /// `#rrggbb`.
        pub color: Option<String>,
        pub sound: Option<String>,
        pub tag: Option<String>,
        pub image: Option<String>,
        pub click_action: Option<String>,
        pub body_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub body_loc_args: Option<Vec<String>>,
        pub title_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub title_loc_args: Option<Vec<String>>,
        pub channel_id: Option<String>,
    }
}

wire_struct! {
    /// `fcmV1.webPushConfig`.
    pub struct FcmV1WebPushConfig {
        pub headers: Option<Object>,
        pub notification: Option<Object>,
    }
}

wire_struct! {
    /// `fcmV1.apnsConfig`.
    pub struct FcmV1ApnsConfig {
        /// e.g. `apns-push-type`.
        pub headers: Option<Object>,
        /// `aps` and custom keys.
        pub payload: Option<Object>,
    }
}

impl Check for FcmV1 {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "androidConfig", &self.android_config)
    }
}

impl Check for FcmV1AndroidConfig {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        if let Some(ttl) = &self.ttl {
            if !is_duration(ttl) {
                return Err(MessageError::Invalid {
                    field: format!("{at}.ttl"),
                    reason: format!("expected seconds such as \"3.5s\", got {ttl:?}"),
                });
            }
        }
        nested(at, "androidNotification", &self.android_notification)
    }
}

impl Check for FcmV1AndroidNotification {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        if let Some(color) = &self.color {
            let hex = color.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(MessageError::Invalid {
                    field: format!("{at}.color"),
                    reason: format!("expected #rrggbb, got {color:?}"),
                });
            }
        }
        Ok(())
    }
}

/// Seconds as FCM and Huawei write them: digits, an optional fraction of up to 9 digits, and an
/// optional `s`/`S` suffix (`"86400"`, `"3.5s"`).
fn is_duration(s: &str) -> bool {
    seconds(s).is_some()
}

fn seconds(s: &str) -> Option<f64> {
    let body = s.strip_suffix(['s', 'S']).unwrap_or(s);
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.is_some_and(|f| !digits(f) || f.len() > 9) {
        return None;
    }
    body.parse().ok()
}

// =============================================================================================
// Huawei

wire_struct! {
    /// `huawei`: options for Huawei Push Kit.
    pub struct Huawei {
        #[serde(deserialize_with = "lenient::boolean")]
        pub validate_only: Option<bool>,
        pub review: Option<Object>,
        pub message: Option<HuaweiMessage>,
    }
}

wire_struct! {
    /// `huawei.message`.
    pub struct HuaweiMessage {
        /// Huawei takes a string here; an object is kept and serialised by the Huawei client.
        pub data: Option<Value>,
        pub notification: Option<HuaweiNotification>,
        pub android: Option<HuaweiAndroid>,
    }
}

wire_struct! {
    /// `huawei.message.notification`.
    pub struct HuaweiNotification {
        pub title: Option<String>,
        pub body: Option<String>,
        pub image: Option<String>,
    }
}

wire_struct! {
    /// `huawei.message.android`.
    pub struct HuaweiAndroid {
        #[serde(deserialize_with = "lenient::int32")]
        pub collapse_key: Option<i32>,
        pub urgency: Option<String>,
        /// e.g. `"IM"`; needs self-classification rights.
        pub category: Option<String>,
        /// Seconds as a string.
        #[serde(deserialize_with = "lenient::code")]
        pub ttl: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub bi_tag: Option<String>,
        /// 1 development, 2 production.
        #[serde(deserialize_with = "lenient::int32")]
        pub fast_app_target_type: Option<i32>,
        /// Overrides `message.data`.
        pub data: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub receipt_id: Option<String>,
        /// 0 normal, 1 test (at most 500 test messages a day).
        #[serde(deserialize_with = "lenient::int32")]
        pub target_user_type: Option<i32>,
        pub notification: Option<HuaweiAndroidNotification>,
    }
}

wire_struct! {
    /// `huawei.message.android.notification`.
    pub struct HuaweiAndroidNotification {
        pub title: Option<String>,
        pub body: Option<String>,
        pub icon: Option<String>,
        pub color: Option<String>,
        pub notify_summary: Option<String>,
        pub image: Option<String>,
        pub big_title: Option<String>,
        pub big_body: Option<String>,
        /// e.g. `/raw/ring`; applied only when the channel is created.
        pub sound: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub default_sound: Option<bool>,
        #[serde(deserialize_with = "lenient::code")]
        pub tag: Option<String>,
        pub channel_id: Option<String>,
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_id: Option<i32>,
        #[serde(deserialize_with = "lenient::code")]
        pub group: Option<String>,
        pub click_action: Option<AndroidClickAction>,
        pub body_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub body_loc_args: Option<Vec<String>>,
        pub title_loc_key: Option<String>,
        #[serde(deserialize_with = "lenient::code_list")]
        pub title_loc_args: Option<Vec<String>>,
        pub multi_lang_key: Option<Object>,
        /// 0 default, 1 big text, 3 inbox.
        #[serde(deserialize_with = "lenient::int32")]
        pub style: Option<i32>,
        /// ms.
        #[serde(deserialize_with = "lenient::int64")]
        pub auto_clear: Option<i64>,
        /// RFC 3339.
        pub when: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub foreground_show: Option<bool>,
        pub badge: Option<HuaweiBadge>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub auto_cancel: Option<bool>,
        pub importance: Option<Importance>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub use_default_vibrate: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub use_default_light: Option<bool>,
        /// At most 10 durations of at most 60 s each (`"1.5"`, `"2s"`).
        #[serde(deserialize_with = "lenient::code_list")]
        pub vibrate_config: Option<Vec<String>>,
        pub light_settings: Option<HuaweiLightSettings>,
        pub visibility: Option<Visibility>,
        /// At most 5 lines of at most 1024 characters.
        pub inbox_content: Option<Vec<String>>,
        /// At most 3.
        pub buttons: Option<Vec<HuaweiButton>>,
    }
}

wire_struct! {
    /// `clickAction` of a Huawei or Honor notification.
    pub struct AndroidClickAction {
        /// 1 custom page (intent or action), 2 URL, 3 the app's home page.
        #[serde(rename = "type", deserialize_with = "lenient::int32")]
        pub click_type: Option<i32>,
        pub intent: Option<String>,
        pub url: Option<String>,
        pub action: Option<String>,
    }
}

wire_struct! {
    /// `huawei.message.android.notification.badge`.
    pub struct HuaweiBadge {
        /// 1..=99.
        #[serde(deserialize_with = "lenient::int32")]
        pub add_num: Option<i32>,
        pub badge_class: Option<String>,
        /// 0..=99.
        #[serde(deserialize_with = "lenient::int32")]
        pub set_num: Option<i32>,
    }
}

wire_struct! {
    /// `huawei.message.android.notification.lightSettings`.
    pub struct HuaweiLightSettings {
        pub color: Option<HuaweiColor>,
        #[serde(deserialize_with = "lenient::code")]
        pub light_on_duration: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub light_off_duration: Option<String>,
    }
}

wire_struct! {
    /// An RGBA colour, each channel 0..=1.
    pub struct HuaweiColor {
        #[serde(deserialize_with = "lenient::float", serialize_with = "lenient::write_float")]
        pub alpha: Option<f64>,
        #[serde(deserialize_with = "lenient::float", serialize_with = "lenient::write_float")]
        pub red: Option<f64>,
        #[serde(deserialize_with = "lenient::float", serialize_with = "lenient::write_float")]
        pub green: Option<f64>,
        #[serde(deserialize_with = "lenient::float", serialize_with = "lenient::write_float")]
        pub blue: Option<f64>,
    }
}

wire_struct! {
    /// A Huawei notification button.
    pub struct HuaweiButton {
        /// At most 40 characters.
        pub name: Option<String>,
        /// 0 open home, 1 open page, 2 open URL, 3 clear, 4 share.
        #[serde(deserialize_with = "lenient::int32")]
        pub action_type: Option<i32>,
        /// 0 intent, 1 action.
        #[serde(deserialize_with = "lenient::int32")]
        pub intent_type: Option<i32>,
        pub intent: Option<String>,
        /// At most 1024 characters.
        pub data: Option<String>,
    }
}

/// Longest vibration step Huawei allows, in seconds.
const HUAWEI_MAX_VIBRATE_SECS: f64 = 60.0;

impl Check for Huawei {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "message", &self.message)
    }
}

impl Check for HuaweiMessage {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "android", &self.android)
    }
}

impl Check for HuaweiAndroid {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        one_of(at, "fastAppTargetType", self.fast_app_target_type, &[1, 2])?;
        one_of(at, "targetUserType", self.target_user_type, &[0, 1])?;
        if let Some(ttl) = &self.ttl {
            if !is_duration(ttl) {
                return Err(MessageError::Invalid {
                    field: format!("{at}.ttl"),
                    reason: format!("expected seconds such as \"86400\" or \"3.5s\", got {ttl:?}"),
                });
            }
        }
        nested(at, "notification", &self.notification)
    }
}

impl Check for HuaweiAndroidNotification {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        one_of(at, "style", self.style, &[0, 1, 3])?;
        nested(at, "clickAction", &self.click_action)?;
        nested(at, "badge", &self.badge)?;
        max_items(at, "vibrateConfig", &self.vibrate_config, 10, "entries")?;
        for (i, step) in self.vibrate_config.iter().flatten().enumerate() {
            match seconds(step) {
                Some(s) if s <= HUAWEI_MAX_VIBRATE_SECS => {}
                _ => {
                    return Err(MessageError::Invalid {
                        field: format!("{at}.vibrateConfig[{i}]"),
                        reason: format!(
                            "expected seconds from 0 to 60 such as \"1.5\", got {step:?}"
                        ),
                    })
                }
            }
        }
        nested(at, "lightSettings", &self.light_settings)?;
        max_items(at, "inboxContent", &self.inbox_content, 5, "lines")?;
        for (i, line) in self.inbox_content.iter().flatten().enumerate() {
            max_len_of(&format!("{at}.inboxContent[{i}]"), line, 1024, Chars)?;
        }
        max_items(at, "buttons", &self.buttons, 3, "buttons")?;
        each(at, "buttons", &self.buttons)
    }
}

impl Check for AndroidClickAction {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        one_of(at, "type", self.click_type, &[1, 2, 3])
    }
}

impl Check for HuaweiBadge {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        in_range(at, "addNum", self.add_num, 1, 99)?;
        in_range(at, "setNum", self.set_num, 0, 99)
    }
}

impl Check for HuaweiLightSettings {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "color", &self.color)
    }
}

impl Check for HuaweiColor {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        in_range(at, "alpha", self.alpha, 0.0, 1.0)?;
        in_range(at, "red", self.red, 0.0, 1.0)?;
        in_range(at, "green", self.green, 0.0, 1.0)?;
        in_range(at, "blue", self.blue, 0.0, 1.0)
    }
}

impl Check for HuaweiButton {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "name", &self.name, 40, Chars)?;
        in_range(at, "actionType", self.action_type, 0, 4)?;
        one_of(at, "intentType", self.intent_type, &[0, 1])?;
        max_len(at, "data", &self.data, 1024, Chars)
    }
}

// =============================================================================================
// Honor

wire_struct! {
    /// `honor`: options for Honor Push.
    pub struct Honor {
        pub data: Option<Object>,
        pub android_config: Option<HonorAndroidConfig>,
    }
}

wire_struct! {
    /// `honor.androidConfig`.
    pub struct HonorAndroidConfig {
        #[serde(deserialize_with = "lenient::code")]
        pub ttl: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub bi_tag: Option<String>,
        /// Overrides the outer `data`.
        pub data: Option<String>,
        pub android_notification: Option<HonorAndroidNotification>,
    }
}

wire_struct! {
    /// `honor.androidConfig.androidNotification`.
    pub struct HonorAndroidNotification {
        pub title: Option<String>,
        pub body: Option<String>,
        pub image: Option<String>,
        /// Required when `style` is 1.
        pub big_title: Option<String>,
        /// Required when `style` is 1.
        pub big_body: Option<String>,
        /// 0 default, 1 big text.
        #[serde(deserialize_with = "lenient::int32")]
        pub style: Option<i32>,
        pub importance: Option<Importance>,
        pub when: Option<String>,
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_id: Option<i32>,
        pub click_action: Option<AndroidClickAction>,
        /// At most 3.
        pub buttons: Option<Vec<HonorButton>>,
        pub badge_notification: Option<HonorBadge>,
    }
}

wire_struct! {
    /// A Honor notification button.
    pub struct HonorButton {
        /// At most 40 characters.
        pub name: Option<String>,
        /// 0 open home, 1 open page, 2 clear.
        #[serde(deserialize_with = "lenient::int32")]
        pub action_type: Option<i32>,
        #[serde(deserialize_with = "lenient::int32")]
        pub intent_type: Option<i32>,
        pub intent: Option<String>,
        pub data: Option<String>,
    }
}

wire_struct! {
    /// `honor.androidConfig.androidNotification.badgeNotification`; `setNum` wins over `addNum`.
    pub struct HonorBadge {
        #[serde(deserialize_with = "lenient::int32")]
        pub add_num: Option<i32>,
        /// Required.
        pub badge_class: Option<String>,
        #[serde(deserialize_with = "lenient::int32")]
        pub set_num: Option<i32>,
    }
}

impl Check for Honor {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "androidConfig", &self.android_config)
    }
}

impl Check for HonorAndroidConfig {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        nested(at, "androidNotification", &self.android_notification)
    }
}

impl Check for HonorAndroidNotification {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        one_of(at, "style", self.style, &[0, 1])?;
        if self.style == Some(1) {
            required_because(at, "bigTitle", &self.big_title, "style is 1")?;
            required_because(at, "bigBody", &self.big_body, "style is 1")?;
        }
        nested(at, "clickAction", &self.click_action)?;
        max_items(at, "buttons", &self.buttons, 3, "buttons")?;
        each(at, "buttons", &self.buttons)?;
        nested(at, "badgeNotification", &self.badge_notification)
    }
}

impl Check for HonorButton {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "name", &self.name, 40, Chars)?;
        in_range(at, "actionType", self.action_type, 0, 2)
    }
}

impl Check for HonorBadge {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        required_because(
            at,
            "badgeClass",
            &self.badge_class,
            "badgeNotification is given",
        )
    }
}

// =============================================================================================
// Xiaomi

/// Every bit `xiaomi.callbackType` may combine.
const XIAOMI_CALLBACK_BITS: i32 = 1 | 2 | 16 | 32 | 64 | 128 | 1024;

wire_struct! {
    /// `xiaomi`: options for Xiaomi (MiPush).
    pub struct Xiaomi {
        /// At most 50 characters, CJK counting 1.
        pub title: Option<String>,
        /// At most 128 characters.
        pub description: Option<String>,
        pub restricted_package_names: Option<StringOrList>,
        /// 0 notification, 1 pass-through.
        #[serde(deserialize_with = "lenient::flag")]
        pub pass_through: Option<i32>,
        #[serde(deserialize_with = "lenient::code")]
        pub payload: Option<String>,
        /// -1 all, or a sum of 1 sound, 2 vibrate, 4 LED.
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_type: Option<i32>,
        /// ms.
        #[serde(deserialize_with = "lenient::int64")]
        pub time_to_live: Option<i64>,
        /// Epoch ms.
        #[serde(deserialize_with = "lenient::int64")]
        pub time_to_send: Option<i64>,
        #[serde(deserialize_with = "lenient::int64")]
        pub notify_id: Option<i64>,
        pub sound: Option<String>,
        pub ticker: Option<String>,
        /// `"0"` or `"1"`.
        #[serde(deserialize_with = "lenient::code")]
        pub notify_foreground: Option<String>,
        /// `"1"` launcher, `"2"` `intentUri`, `"3"` `webUri`.
        #[serde(deserialize_with = "lenient::code")]
        pub notify_effect: Option<String>,
        pub intent_uri: Option<String>,
        pub web_uri: Option<String>,
        #[serde(deserialize_with = "lenient::int64")]
        pub flow_control: Option<i64>,
        #[serde(deserialize_with = "lenient::code")]
        pub jobkey: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub only_send_once: Option<String>,
        pub callback_url: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub callback_param: Option<String>,
        /// A combination of 1, 2, 16, 32, 64, 128, 1024 (3 = 1 + 2).
        #[serde(deserialize_with = "lenient::int32")]
        pub callback_type: Option<i32>,
        pub locale: Option<String>,
        pub locale_not_in: Option<String>,
        pub model: Option<String>,
        pub model_not_in: Option<String>,
        pub app_version: Option<String>,
        pub app_version_not_in: Option<String>,
        /// `"wifi"`.
        pub connpt: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub channel_id: Option<String>,
    }
}

impl Check for Xiaomi {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "title", &self.title, 50, Chars)?;
        max_len(at, "description", &self.description, 128, Chars)?;
        in_range(at, "notifyType", self.notify_type, -1, 7)?;
        str_one_of(at, "notifyForeground", &self.notify_foreground, &["0", "1"])?;
        str_one_of(at, "notifyEffect", &self.notify_effect, &["1", "2", "3"])?;
        if let Some(t) = self.callback_type {
            if t <= 0 || t & !XIAOMI_CALLBACK_BITS != 0 {
                return Err(MessageError::Invalid {
                    field: format!("{at}.callbackType"),
                    reason: format!(
                        "expected a combination of 1, 2, 16, 32, 64, 128, 1024, got {t}"
                    ),
                });
            }
        }
        Ok(())
    }
}

// =============================================================================================
// OPPO

wire_struct! {
    /// `oppo`: options for OPPO Push.
    pub struct Oppo {
        /// At most 32 characters.
        pub title: Option<String>,
        pub sub_title: Option<String>,
        /// At most 200 characters.
        pub content: Option<String>,
        pub channel_id: Option<String>,
        /// For deduplication.
        #[serde(deserialize_with = "lenient::code")]
        pub app_message_id: Option<String>,
        /// 1 standard, 2 long text, 3 big picture.
        #[serde(deserialize_with = "lenient::int32")]
        pub style: Option<i32>,
        /// 0 launch, 1 intent action, 2 web, 4 activity, 5 intent scheme.
        #[serde(deserialize_with = "lenient::int32")]
        pub click_action_type: Option<i32>,
        /// At most 500 characters.
        pub click_action_activity: Option<String>,
        /// At most 500 characters.
        pub click_action_url: Option<String>,
        pub action_parameters: Option<Object>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub off_line: Option<bool>,
        /// Seconds.
        #[serde(deserialize_with = "lenient::int64")]
        pub off_line_ttl: Option<i64>,
        pub time_zone: Option<String>,
        #[serde(deserialize_with = "lenient::int64")]
        pub show_ttl: Option<i64>,
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_id: Option<i32>,
        pub call_back_url: Option<String>,
        #[serde(deserialize_with = "lenient::code")]
        pub call_back_parameter: Option<String>,
        pub category: Option<String>,
        /// 1, 2 or 16.
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_level: Option<i32>,
    }
}

impl Check for Oppo {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "title", &self.title, 32, Chars)?;
        max_len(at, "content", &self.content, 200, Chars)?;
        one_of(at, "style", self.style, &[1, 2, 3])?;
        one_of(
            at,
            "clickActionType",
            self.click_action_type,
            &[0, 1, 2, 4, 5],
        )?;
        max_len(
            at,
            "clickActionActivity",
            &self.click_action_activity,
            500,
            Chars,
        )?;
        max_len(at, "clickActionUrl", &self.click_action_url, 500, Chars)?;
        one_of(at, "notifyLevel", self.notify_level, &[1, 2, 16])
    }
}

// =============================================================================================
// vivo

wire_struct! {
    /// `vivo`: options for vivo Push.
    pub struct Vivo {
        /// At most 40 characters, CJK counting 2.
        pub title: Option<String>,
        /// At most 100 characters.
        pub content: Option<String>,
        /// 1 none, 2 ring, 3 vibrate, 4 both.
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_type: Option<i32>,
        /// Seconds.
        #[serde(deserialize_with = "lenient::int64")]
        pub time_to_live: Option<i64>,
        /// 1 home, 2 URL, 3 custom, 4 app page.
        #[serde(deserialize_with = "lenient::int32")]
        pub skip_type: Option<i32>,
        /// At most 1000 characters.
        pub skip_content: Option<String>,
        /// -1 any, 1 Wi-Fi.
        #[serde(deserialize_with = "lenient::int32")]
        pub network_type: Option<i32>,
        /// 0 operational, 1 system.
        #[serde(deserialize_with = "lenient::int32")]
        pub classification: Option<i32>,
        /// Upper case; must match `classification`.
        pub category: Option<String>,
        pub client_custom_map: Option<Object>,
        /// At most 64 characters.
        #[serde(deserialize_with = "lenient::code")]
        pub request_id: Option<String>,
        /// 0 production, 1 test.
        #[serde(deserialize_with = "lenient::int32")]
        pub push_mode: Option<i32>,
        pub extra: Option<VivoExtra>,
        /// 1..=2147483647.
        #[serde(deserialize_with = "lenient::int64")]
        pub notify_id: Option<i64>,
        /// At most 64 characters.
        #[serde(deserialize_with = "lenient::code")]
        pub profile_id: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub send_online: Option<bool>,
    }
}

wire_struct! {
    /// `vivo.extra`: the receipt callback.
    pub struct VivoExtra {
        /// At most 128 characters.
        pub callback: Option<String>,
        /// At most 64 characters.
        #[serde(deserialize_with = "lenient::code")]
        pub callback_param: Option<String>,
    }
}

impl Check for Vivo {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "title", &self.title, 40, WideIsTwo)?;
        max_len(at, "content", &self.content, 100, Chars)?;
        one_of(at, "notifyType", self.notify_type, &[1, 2, 3, 4])?;
        one_of(at, "skipType", self.skip_type, &[1, 2, 3, 4])?;
        max_len(at, "skipContent", &self.skip_content, 1000, Chars)?;
        one_of(at, "networkType", self.network_type, &[-1, 1])?;
        one_of(at, "classification", self.classification, &[0, 1])?;
        max_len(at, "requestId", &self.request_id, 64, Chars)?;
        one_of(at, "pushMode", self.push_mode, &[0, 1])?;
        nested(at, "extra", &self.extra)?;
        in_range(at, "notifyId", self.notify_id, 1, i64::from(i32::MAX))?;
        max_len(at, "profileId", &self.profile_id, 64, Chars)
    }
}

impl Check for VivoExtra {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "callback", &self.callback, 128, Chars)?;
        max_len(at, "callbackParam", &self.callback_param, 64, Chars)
    }
}

// =============================================================================================
// Meizu

wire_struct! {
    /// `meizu`: options for Meizu Push.
    pub struct Meizu {
        /// At most 32 characters.
        pub title: Option<String>,
        /// At most 100 characters.
        pub content: Option<String>,
        /// 0 or 1.
        #[serde(deserialize_with = "lenient::int32")]
        pub notice_expand_type: Option<i32>,
        pub notice_expand_content: Option<String>,
        /// 0 app, 1 page, 2 H5, 3 custom.
        #[serde(deserialize_with = "lenient::int32")]
        pub click_type: Option<i32>,
        pub url: Option<String>,
        pub parameters: Option<Object>,
        pub activity: Option<String>,
        pub custom_attribute: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub is_off_line: Option<bool>,
        /// Hours.
        #[serde(deserialize_with = "lenient::int32")]
        pub valid_time: Option<i32>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub is_suspend: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub is_clear_notice_bar: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub is_fix_display: Option<bool>,
        pub fix_start_display_date: Option<String>,
        pub fix_end_display_date: Option<String>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub vibrate: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub lights: Option<bool>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub sound: Option<bool>,
        #[serde(deserialize_with = "lenient::code")]
        pub notify_key: Option<String>,
        /// At most 128 characters.
        pub callback: Option<String>,
        /// At most 64 characters.
        #[serde(deserialize_with = "lenient::code")]
        pub callback_param: Option<String>,
        /// `"1"` arrive, `"2"` click, `"3"` both (default).
        #[serde(deserialize_with = "lenient::code")]
        pub callback_type: Option<String>,
    }
}

impl Check for Meizu {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        max_len(at, "title", &self.title, 32, Chars)?;
        max_len(at, "content", &self.content, 100, Chars)?;
        one_of(at, "noticeExpandType", self.notice_expand_type, &[0, 1])?;
        in_range(at, "clickType", self.click_type, 0, 3)?;
        max_len(at, "callback", &self.callback, 128, Chars)?;
        max_len(at, "callbackParam", &self.callback_param, 64, Chars)?;
        str_one_of(at, "callbackType", &self.callback_type, &["1", "2", "3"])
    }
}

// =============================================================================================
// HarmonyOS

wire_struct! {
    /// `harmonyOS`: options for HarmonyOS Push Kit.
    pub struct HarmonyOs {
        /// 0 alert (default), 1 card, 2 extension, 6 background, 7 live view, 10 VoIP.
        #[serde(deserialize_with = "lenient::int32")]
        pub push_type: Option<i32>,
        #[serde(deserialize_with = "lenient::boolean")]
        pub is_test_message: Option<bool>,
        #[serde(deserialize_with = "lenient::code")]
        pub receipt_id: Option<String>,
        /// Default `IM`.
        pub category: Option<String>,
        pub title: Option<String>,
        pub body: Option<String>,
        /// An https URL of a png, jpg, jpeg, heif, gif or bmp image.
        pub image: Option<String>,
        /// 0 normal, 1 big text (needs `bigTitle` and `bigBody`), 3 multi-line (`inboxContent`).
        #[serde(deserialize_with = "lenient::int32")]
        pub style: Option<i32>,
        pub big_title: Option<String>,
        pub big_body: Option<String>,
        /// At most 3 lines.
        pub inbox_content: Option<Vec<String>>,
        #[serde(deserialize_with = "lenient::int32")]
        pub notify_id: Option<i32>,
        #[serde(deserialize_with = "lenient::int32")]
        pub add_num: Option<i32>,
        /// Wins over `addNum`.
        #[serde(deserialize_with = "lenient::int32")]
        pub set_num: Option<i32>,
        /// 0 home, 1 custom page.
        #[serde(deserialize_with = "lenient::int32")]
        pub action_type: Option<i32>,
        pub action: Option<String>,
        pub uri: Option<String>,
        /// Type not documented: kept as sent.
        pub data: Option<Value>,
        /// For `pushType` other than 0; type not documented: kept as sent.
        pub payload: Option<Value>,
    }
}

impl Check for HarmonyOs {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        one_of(at, "pushType", self.push_type, &[0, 1, 2, 6, 7, 10])?;
        one_of(at, "style", self.style, &[0, 1, 3])?;
        if self.style == Some(1) {
            required_because(at, "bigTitle", &self.big_title, "style is 1")?;
            required_because(at, "bigBody", &self.big_body, "style is 1")?;
        }
        max_items(at, "inboxContent", &self.inbox_content, 3, "lines")?;
        one_of(at, "actionType", self.action_type, &[0, 1])
    }
}
