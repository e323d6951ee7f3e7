//! Easemob's `pushMessage` object: what to show, and how, on every channel.
//!
//! [`PushMessage::parse`] is the only way to build one. It reads the JSON leniently where
//! Easemob's SDKs differ (numbers as strings and back, `true`/`"true"`/`1`, `sub_title` and
//! `easeMob`), then checks every documented limit, and refuses with a [`MessageError`] that names
//! the field by its path. A parsed message serialises to the stored form ([`PushMessage::to_value`]):
//! the same JSON that was sent, except that
//! - the aliases `sub_title` and `easeMob` come back as the documented `subTitle` and `easemob`;
//! - a modelled field sent as `null` is dropped (`null` means absent);
//! - a modelled field sent in a lenient form comes back in its documented type (`"1"` → `1` for
//!   an Int, `1` → `true` for a Bool, `2` → `"2"` for a numeric String code, `"ALERT"` → `"alert"`).
//!
//! Keys we do not model are kept, at every level, in each struct's `other` map.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[macro_use]
mod lenient;
mod check;
mod error;
pub mod text;
mod vendor;

#[cfg(test)]
mod tests;

pub use error::MessageError;
pub use lenient::StringOrList;
pub use text::{display_units, Counting};
pub use vendor::*;

use check::{max_len_of, nested, Check};

/// A JSON object as sent.
pub type Object = serde_json::Map<String, Value>;

/// Longest `title`, in display units (CJK counts 2).
pub const TITLE_MAX: usize = 32;
/// Longest `content`, in display units (CJK counts 2).
pub const CONTENT_MAX: usize = 100;
/// Longest `subTitle`, in characters.
pub const SUB_TITLE_MAX: usize = 10;
/// Most key/value pairs in `ext`.
pub const EXT_MAX_PAIRS: usize = 10;
/// Longest `ext`, in characters of its compact JSON.
pub const EXT_MAX_JSON: usize = 1024;

const AT: &str = "pushMessage";

// =============================================================================================
// config

wire_struct! {
    /// `config`: tap action and badge, for every channel that supports them.
    pub struct Config {
        pub click_action: Option<ClickAction>,
        pub badge: Option<Badge>,
        /// Legacy: offline retention in seconds (default 86400).
        #[serde(deserialize_with = "lenient::int64")]
        pub time_to_live: Option<i64>,
    }
}

wire_struct! {
    /// `config.clickAction`: what a tap opens (Android; the Easemob iOS channel honours only
    /// `url`). Absent: the app's home page.
    pub struct ClickAction {
        pub url: Option<String>,
        /// An intent action.
        pub action: Option<String>,
        /// A package or Activity path.
        pub activity: Option<String>,
    }
}

wire_struct! {
    /// A badge change: `config.badge` and `easemob.badge`.
    pub struct Badge {
        #[serde(deserialize_with = "lenient::int32")]
        pub add_num: Option<i32>,
        #[serde(deserialize_with = "lenient::int32")]
        pub set_num: Option<i32>,
        /// The entry Activity class (needed for Huawei).
        pub activity: Option<String>,
    }
}

// =============================================================================================
// easemob

int_enum! {
    /// `easemob.operation.type`: what a tap does on the Easemob channel.
    pub enum EasemobOperationType {
        /// 0: launch the app (default).
        LaunchApp = 0,
        /// 1: open `openUrl`.
        OpenUrl = 1,
        /// 2: open the `openAction` page (Android only).
        OpenAction = 2,
    }
}

wire_struct! {
    /// `easemob` (also read as `easeMob`): options for the Easemob channel.
    pub struct EasemobOptions {
        pub title: Option<String>,
        pub content: Option<String>,
        pub sub_title: Option<String>,
        pub icon_url: Option<String>,
        /// `true` (default) shows a notification; `false` passes the message through.
        #[serde(deserialize_with = "lenient::boolean")]
        pub need_notification: Option<bool>,
        pub badge: Option<Badge>,
        pub operation: Option<EasemobOperation>,
        /// Android notification channel; default `chat`.
        pub channel_id: Option<String>,
        /// Default `消息`; used only when the channel is created.
        pub channel_name: Option<String>,
        /// 0 lowest … 3 default, 4 high.
        #[serde(deserialize_with = "lenient::int32")]
        pub channel_level: Option<i32>,
        /// 1 (default) dismiss on tap, 0 keep.
        #[serde(deserialize_with = "lenient::flag")]
        pub auto_cancel: Option<i32>,
        /// Epoch ms after which the notification expires.
        #[serde(deserialize_with = "lenient::int64")]
        pub expires_time: Option<i64>,
        /// 0 (default) silent, 1 sound.
        #[serde(deserialize_with = "lenient::flag")]
        pub sound: Option<i32>,
        /// 0 (default) still, 1 vibrate.
        #[serde(deserialize_with = "lenient::flag")]
        pub vibrate: Option<i32>,
        /// 0 normal (default), 1 big text, 2 big picture (Android only).
        #[serde(deserialize_with = "lenient::int32")]
        pub style: Option<i32>,
        pub big_txt: Option<String>,
        pub big_picture: Option<String>,
        /// Notification id; the same id replaces the earlier notification.
        #[serde(deserialize_with = "lenient::int64")]
        pub id: Option<i64>,
    }
}

wire_struct! {
    /// `easemob.operation`.
    pub struct EasemobOperation {
        #[serde(rename = "type")]
        pub operation_type: Option<EasemobOperationType>,
        pub open_url: Option<String>,
        pub open_action: Option<String>,
    }
}

impl Check for EasemobOptions {
    fn check(&self, at: &str) -> Result<(), MessageError> {
        check::in_range(at, "channelLevel", self.channel_level, 0, 4)?;
        check::one_of(at, "style", self.style, &[0, 1, 2])
    }
}

// =============================================================================================
// The message

wire_struct! {
    /// The message as read, before the top-level rules are applied.
    struct RawPushMessage {
        pub title: Option<String>,
        pub sub_title: Option<String>,
        pub content: Option<String>,
        pub ext: Option<Object>,
        pub config: Option<Config>,
        pub easemob: Option<EasemobOptions>,
        pub apns: Option<Apns>,
        pub fcm: Option<Fcm>,
        pub fcm_v1: Option<FcmV1>,
        pub huawei: Option<Huawei>,
        pub honor: Option<Honor>,
        pub xiaomi: Option<Xiaomi>,
        pub oppo: Option<Oppo>,
        pub vivo: Option<Vivo>,
        pub meizu: Option<Meizu>,
        #[serde(rename = "harmonyOS")]
        pub harmony_os: Option<HarmonyOs>,
    }
}

/// A valid `pushMessage`. Built only by [`PushMessage::parse`] (or deserialising, which parses);
/// serialises to the stored form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Value")]
pub struct PushMessage {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_title: Option<String>,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Config>,
    #[serde(skip_serializing_if = "Option::is_none")]
    easemob: Option<EasemobOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apns: Option<Apns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fcm: Option<Fcm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fcm_v1: Option<FcmV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    huawei: Option<Huawei>,
    #[serde(skip_serializing_if = "Option::is_none")]
    honor: Option<Honor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xiaomi: Option<Xiaomi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oppo: Option<Oppo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vivo: Option<Vivo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meizu: Option<Meizu>,
    #[serde(rename = "harmonyOS", skip_serializing_if = "Option::is_none")]
    harmony_os: Option<HarmonyOs>,
    #[serde(flatten)]
    other: Object,
}

/// Reads `v` as `T`, naming the path of a type error from `at`.
fn read<T: DeserializeOwned>(at: &str, v: Value) -> Result<T, MessageError> {
    serde_path_to_error::deserialize(v).map_err(|e| MessageError::from_serde(at, e))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl PushMessage {
    /// Reads and checks a `pushMessage`. Refuses a message that breaks a documented type or
    /// limit, naming the field (see the module docs for what is lenient).
    pub fn parse(value: Value) -> Result<Self, MessageError> {
        if !value.is_object() {
            return Err(MessageError::Invalid {
                field: AT.to_owned(),
                reason: format!("expected a JSON object, got {}", json_kind(&value)),
            });
        }
        let mut raw: RawPushMessage = read(AT, value)?;

        // Aliases. They stay in `other` when the documented key is also given, so the documented
        // key wins and nothing sent is lost.
        let mut sub_title_at = "pushMessage.subTitle";
        if raw.sub_title.is_none() {
            if let Some(v) = raw.other.remove("sub_title") {
                sub_title_at = "pushMessage.sub_title";
                raw.sub_title = read(sub_title_at, v)?;
            }
        }
        let mut easemob_at = "pushMessage.easemob";
        if raw.easemob.is_none() {
            if let Some(v) = raw.other.remove("easeMob") {
                easemob_at = "pushMessage.easeMob";
                raw.easemob = read(easemob_at, v)?;
            }
        }

        let title = required("pushMessage.title", raw.title)?;
        max_len_of("pushMessage.title", &title, TITLE_MAX, Counting::WideIsTwo)?;
        if let Some(sub_title) = &raw.sub_title {
            if sub_title.is_empty() {
                return Err(MessageError::Empty {
                    field: sub_title_at.to_owned(),
                });
            }
            max_len_of(sub_title_at, sub_title, SUB_TITLE_MAX, Counting::Chars)?;
        }
        let content = required("pushMessage.content", raw.content)?;
        max_len_of(
            "pushMessage.content",
            &content,
            CONTENT_MAX,
            Counting::WideIsTwo,
        )?;
        if let Some(ext) = &raw.ext {
            check_ext(ext)?;
        }

        if let Some(easemob) = &raw.easemob {
            easemob.check(easemob_at)?;
        }
        nested(AT, "apns", &raw.apns)?;
        nested(AT, "fcm", &raw.fcm)?;
        nested(AT, "fcmV1", &raw.fcm_v1)?;
        nested(AT, "huawei", &raw.huawei)?;
        nested(AT, "honor", &raw.honor)?;
        nested(AT, "xiaomi", &raw.xiaomi)?;
        nested(AT, "oppo", &raw.oppo)?;
        nested(AT, "vivo", &raw.vivo)?;
        nested(AT, "meizu", &raw.meizu)?;
        nested(AT, "harmonyOS", &raw.harmony_os)?;

        Ok(PushMessage {
            title,
            sub_title: raw.sub_title,
            content,
            ext: raw.ext,
            config: raw.config,
            easemob: raw.easemob,
            apns: raw.apns,
            fcm: raw.fcm,
            fcm_v1: raw.fcm_v1,
            huawei: raw.huawei,
            honor: raw.honor,
            xiaomi: raw.xiaomi,
            oppo: raw.oppo,
            vivo: raw.vivo,
            meizu: raw.meizu,
            harmony_os: raw.harmony_os,
            other: raw.other,
        })
    }

    /// The stored form: the message as sent, aliases under their documented names.
    pub fn to_value(&self) -> Value {
        // Every key is a string and every number finite or a plain integer, so this cannot fail.
        serde_json::to_value(self)
            .unwrap_or_else(|e| unreachable!("a parsed PushMessage always serialises to JSON: {e}"))
    }

    /// Whether the Easemob channel shows a notification (`easemob.needNotification`, default
    /// `true`); `false` means pass-through.
    pub fn needs_notification(&self) -> bool {
        self.easemob
            .as_ref()
            .and_then(|e| e.need_notification)
            .unwrap_or(true)
    }

    /// `easemob.expiresTime`: epoch ms after which the Easemob channel drops the notification.
    pub fn expires_time_ms(&self) -> Option<i64> {
        self.easemob.as_ref().and_then(|e| e.expires_time)
    }

    /// Notification title (non-empty, at most 32 display units).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// iOS subtitle (non-empty, at most 10 characters).
    pub fn sub_title(&self) -> Option<&str> {
        self.sub_title.as_deref()
    }

    /// Notification body (non-empty, at most 100 display units).
    pub fn content(&self) -> &str {
        &self.content
    }

    /// Custom key/value pairs (at most 10, at most 1024 characters of JSON).
    pub fn ext(&self) -> Option<&Object> {
        self.ext.as_ref()
    }

    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    pub fn easemob(&self) -> Option<&EasemobOptions> {
        self.easemob.as_ref()
    }

    pub fn apns(&self) -> Option<&Apns> {
        self.apns.as_ref()
    }

    pub fn fcm(&self) -> Option<&Fcm> {
        self.fcm.as_ref()
    }

    pub fn fcm_v1(&self) -> Option<&FcmV1> {
        self.fcm_v1.as_ref()
    }

    pub fn huawei(&self) -> Option<&Huawei> {
        self.huawei.as_ref()
    }

    pub fn honor(&self) -> Option<&Honor> {
        self.honor.as_ref()
    }

    pub fn xiaomi(&self) -> Option<&Xiaomi> {
        self.xiaomi.as_ref()
    }

    pub fn oppo(&self) -> Option<&Oppo> {
        self.oppo.as_ref()
    }

    pub fn vivo(&self) -> Option<&Vivo> {
        self.vivo.as_ref()
    }

    pub fn meizu(&self) -> Option<&Meizu> {
        self.meizu.as_ref()
    }

    pub fn harmony_os(&self) -> Option<&HarmonyOs> {
        self.harmony_os.as_ref()
    }

    /// Top-level keys we do not model, as sent.
    pub fn other(&self) -> &Object {
        &self.other
    }
}

impl TryFrom<Value> for PushMessage {
    type Error = MessageError;

    fn try_from(value: Value) -> Result<Self, MessageError> {
        PushMessage::parse(value)
    }
}

impl From<&PushMessage> for Value {
    fn from(m: &PushMessage) -> Value {
        m.to_value()
    }
}

fn required(field: &str, v: Option<String>) -> Result<String, MessageError> {
    match v {
        None => Err(MessageError::Required {
            field: field.to_owned(),
        }),
        Some(s) if s.is_empty() => Err(MessageError::Empty {
            field: field.to_owned(),
        }),
        Some(s) => Ok(s),
    }
}

fn check_ext(ext: &Object) -> Result<(), MessageError> {
    if ext.len() > EXT_MAX_PAIRS {
        return Err(MessageError::TooMany {
            field: "pushMessage.ext".to_owned(),
            max: EXT_MAX_PAIRS,
            items: "pairs",
            got: ext.len(),
        });
    }
    // Serialising a JSON map cannot fail.
    let json = serde_json::to_string(ext).unwrap_or_default();
    let got = json.chars().count();
    if got > EXT_MAX_JSON {
        return Err(MessageError::TooLarge {
            field: "pushMessage.ext".to_owned(),
            max: EXT_MAX_JSON,
            got,
        });
    }
    Ok(())
}
