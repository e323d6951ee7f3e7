//! Tests of the `pushMessage` model: round trip, aliases, limits, types, lenient forms.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::*;

fn base() -> Value {
    json!({"title": "t", "content": "c"})
}

/// `base()` with `value` set at the dotted `path` (objects created on the way).
fn with(path: &str, value: Value) -> Value {
    let mut root = base();
    set(&mut root, path, value);
    root
}

fn set(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        let map = node.as_object_mut().expect("objects on the path");
        if keys.peek().is_none() {
            map.insert(key.to_owned(), value);
            return;
        }
        node = map.entry(key).or_insert_with(|| json!({}));
    }
}

fn parse(v: Value) -> PushMessage {
    match PushMessage::parse(v.clone()) {
        Ok(m) => m,
        Err(e) => panic!("{v} was refused: {e}"),
    }
}

fn refuse(v: Value) -> MessageError {
    match PushMessage::parse(v.clone()) {
        Ok(m) => panic!("{v} was accepted as {:?}", m.to_value()),
        Err(e) => e,
    }
}

/// The stored form of `base()` with `value` at `path`, read back at `path`.
fn stored_at(path: &str, value: Value) -> Value {
    let stored = parse(with(path, value)).to_value();
    let mut node = &stored;
    for key in path.split('.') {
        node = &node[key];
    }
    node.clone()
}

/// A message with every block and every modelled field, and an unknown key at every level.
fn rich() -> Value {
    // Built block by block: one `json!` of it all exceeds the macro recursion limit.
    let mut m = Object::new();
    m.insert("title".to_owned(), json!("您有一条新消息"));
    m.insert("subTitle".to_owned(), json!("sub"));
    m.insert("content".to_owned(), json!("请及时查看 please"));
    m.insert(
        "ext".to_owned(),
        json!({"k1": "v", "k2": 2, "nested": {"a": [1, 2]}}),
    );
    m.insert("config".to_owned(), json!({
            "clickAction": {"url": "https://e.com", "action": "com.a.OPEN", "activity": "com.a.Main", "zz": 1},
            "badge": {"addNum": 1, "setNum": 0, "activity": "com.a.Main", "zz": [1]},
            "timeToLive": 86400,
            "zz": {"deep": true}
        }));
    m.insert(
        "easemob".to_owned(),
        json!({
            "title": "t2", "content": "c2", "subTitle": "s2", "iconUrl": "https://e.com/i.png",
            "needNotification": false,
            "badge": {"addNum": 2, "setNum": 3, "activity": "x", "zz": null},
            "operation": {"type": 1, "openUrl": "https://e.com", "openAction": "a", "zz": "q"},
            "channelId": "chat", "channelName": "消息", "channelLevel": 3, "autoCancel": 1,
            "expiresTime": 1_700_000_000_000_i64, "sound": 1, "vibrate": 0, "style": 1,
            "bigTxt": "big", "bigPicture": "https://e.com/p.png", "id": 968_120_369_184_112_182_i64,
            "zz": 1.5
        }),
    );
    m.insert("apns".to_owned(), json!({
            "invalidationTime": 3_600_000, "priority": 10, "pushType": "alert", "collapseId": "c",
            "apnsId": "123e4567-e89b-12d3-a456-426614174000", "badge": 1, "sound": "a.caf",
            "mutableContent": true, "contentAvailable": false, "categoryName": "cat", "threadId": "th",
            "title": "at", "subTitle": "as", "content": "ac",
            "titleLocKey": "TK", "titleLocArgs": ["a"], "subTitleLocKey": "SK", "subTitleLocArgs": ["b"],
            "bodyLocKey": "BK", "bodyLocArgs": ["c", "d"],
            "ext": {"e": 1}, "launchImage": "l.png", "interruptionLevel": "TIME_SENSITIVE",
            "liveActivityEvent": "UPDATE", "timestamp": 1_700_000_000, "dismissalDate": 1_700_000_100,
            "staleDate": 1_700_000_200, "attributesType": "AT", "attributes": {"a": 1},
            "contentState": {"s": "x"}, "zz": "unknown"
        }));
    m.insert("fcm".to_owned(), json!({
            "condition": "'a' in topics", "collapseKey": "ck", "priority": "high", "timeToLive": "3600",
            "dryRun": false, "restrictedPackageName": "com.a", "data": {"d": "1"},
            "notification": {
                "title": "ft", "body": "fb", "androidChannelId": "ch", "icon": "ic", "sound": "s",
                "tag": "tg", "color": "#ff0000", "clickAction": "OPEN", "titleLocKey": "TK",
                "titleLocArgs": ["x"], "bodyLocKey": "BK", "bodyLocArgs": ["y"], "zz": 0
            },
            "zz": false
        }));
    m.insert("fcmV1".to_owned(), json!({
            "type": "BOTH", "data": {"k": "v"}, "options": {"analytics_label": "l"}, "condition": "c",
            "notification": {"title": "t", "body": "b", "image": "https://e.com/i.png", "zz": 1},
            "androidConfig": {
                "collapseKey": "ck", "priority": "HIGH", "ttl": "3.5s", "directBootOk": true,
                "androidNotification": {
                    "title": "t", "body": "b", "icon": "i", "color": "#00ff00", "sound": "s", "tag": "t",
                    "image": "https://e.com/i.png", "clickAction": "OPEN", "bodyLocKey": "B",
                    "bodyLocArgs": ["1"], "titleLocKey": "T", "titleLocArgs": ["2"], "channelId": "c",
                    "zz": 1
                },
                "zz": 1
            },
            "webPushConfig": {"headers": {"TTL": "60"}, "notification": {"title": "w"}, "zz": 1},
            "apnsConfig": {"headers": {"apns-push-type": "alert"}, "payload": {"aps": {}, "EPush": {}}, "zz": 1},
            "zz": [null]
        }));
    // Split in two: one `json!` of it all exceeds the macro recursion limit.
    let mut hw_notification = json!({
        "title": "t", "body": "b", "icon": "/raw/ic", "color": "#AACCDD",
        "notifySummary": "s", "image": "https://e.com/i.png", "bigTitle": "bt",
        "bigBody": "bb", "sound": "/raw/ring", "defaultSound": false, "tag": "tg",
        "channelId": "ch", "notifyId": 7, "group": "g",
        "clickAction": {"type": 1, "intent": "intent://x", "url": "https://e.com", "action": "a", "zz": 1},
        "bodyLocKey": "B", "bodyLocArgs": ["1"], "titleLocKey": "T", "titleLocArgs": ["2"],
        "zz": 1
    });
    let more = json!({
        "multiLangKey": {"key": {"en": "x"}}, "style": 3, "autoClear": 86_400_000,
        "when": "2014-10-02T15:01:23.045123456Z", "foregroundShow": true,
        "badge": {"addNum": 1, "badgeClass": "com.a.Main", "setNum": 5, "zz": 1},
        "autoCancel": true, "importance": "NORMAL", "useDefaultVibrate": true,
        "useDefaultLight": true, "vibrateConfig": ["1", "1.5s", "60"],
        "lightSettings": {
            "color": {"alpha": 0, "red": 0.5, "green": 1, "blue": 0.25, "zz": 1},
            "lightOnDuration": "3.5", "lightOffDuration": "5S", "zz": 1
        },
        "visibility": "PUBLIC", "inboxContent": ["1", "2", "3", "4", "5"],
        "buttons": [
            {"name": "b1", "actionType": 0, "intentType": 0, "intent": "i", "data": "d", "zz": 1},
            {"name": "b2", "actionType": 4},
            {"name": "按钮", "actionType": 1, "intentType": 1}
        ]
    });
    if let (Some(a), Value::Object(b)) = (hw_notification.as_object_mut(), more) {
        a.extend(b);
    }
    m.insert("huawei".to_owned(), json!({
            "validateOnly": false, "review": {"r": 1},
            "message": {
                "data": "{\"k\":1}",
                "notification": {"title": "t", "body": "b", "image": "https://e.com/i.png", "zz": 1},
                "android": {
                    "collapseKey": -1, "urgency": "HIGH", "category": "IM", "ttl": "86400", "biTag": "b",
                    "fastAppTargetType": 2, "data": "{}", "receiptId": "RCP1", "targetUserType": 0,
                    "notification": hw_notification,
                    "zz": 1
                },
                "zz": 1
            },
            "zz": 1
        }));
    m.insert("honor".to_owned(), json!({
            "data": {"k": "v"},
            "androidConfig": {
                "ttl": "86400", "biTag": "b", "data": "{}",
                "androidNotification": {
                    "title": "t", "body": "b", "image": "https://e.com/i.png", "bigTitle": "bt",
                    "bigBody": "bb", "style": 1, "importance": "LOW", "when": "2024-01-01T00:00:00Z",
                    "notifyId": 3,
                    "clickAction": {"type": 3, "zz": 1},
                    "buttons": [{"name": "b", "actionType": 2, "intentType": 0, "intent": "i", "data": "d", "zz": 1}],
                    "badgeNotification": {"addNum": 1, "badgeClass": "com.a.Main", "setNum": 2, "zz": 1},
                    "zz": 1
                },
                "zz": 1
            },
            "zz": 1
        }));
    m.insert("xiaomi".to_owned(), json!({
            "title": "小米标题", "description": "d", "restrictedPackageNames": ["com.a", "com.b"],
            "passThrough": 0, "payload": "p", "notifyType": -1, "timeToLive": 86_400_000,
            "timeToSend": 1_700_000_000_000_i64, "notifyId": 5, "sound": "s", "ticker": "tk",
            "notifyForeground": "1", "notifyEffect": "2", "intentUri": "intent:#Intent;end",
            "webUri": "https://e.com", "flowControl": 3600, "jobkey": "job", "onlySendOnce": "1",
            "callbackUrl": "https://cb", "callbackParam": "cp", "callbackType": 3, "locale": "zh_CN",
            "localeNotIn": "en_US", "model": "m", "modelNotIn": "n", "appVersion": "1.0",
            "appVersionNotIn": "0.9", "connpt": "wifi", "channelId": "ch", "zz": 1
        }));
    m.insert("oppo".to_owned(), json!({
            "title": "t", "subTitle": "s", "content": "c", "channelId": "ch", "appMessageId": "m1",
            "style": 2, "clickActionType": 5, "clickActionActivity": "com.a.Main",
            "clickActionUrl": "https://e.com", "actionParameters": {"k": "v"}, "offLine": true,
            "offLineTtl": 3600, "timeZone": "GMT+08:00", "showTtl": 86400, "notifyId": 4,
            "callBackUrl": "https://cb", "callBackParameter": "p", "category": "IM", "notifyLevel": 16,
            "zz": 1
        }));
    m.insert("vivo".to_owned(), json!({
            "title": "vivo标题", "content": "c", "notifyType": 4, "timeToLive": 86400, "skipType": 2,
            "skipContent": "https://e.com", "networkType": -1, "classification": 1, "category": "IM",
            "clientCustomMap": {"k": "v"}, "requestId": "r-1", "pushMode": 0,
            "extra": {"callback": "https://cb", "callbackParam": "p", "zz": 1},
            "notifyId": 2_147_483_647, "profileId": "p", "sendOnline": true, "zz": 1
        }));
    m.insert("meizu".to_owned(), json!({
            "title": "t", "content": "c", "noticeExpandType": 1, "noticeExpandContent": "ec",
            "clickType": 2, "url": "https://e.com", "parameters": {"k": "v"}, "activity": "a",
            "customAttribute": "ca", "isOffLine": true, "validTime": 24, "isSuspend": true,
            "isClearNoticeBar": true, "isFixDisplay": false, "fixStartDisplayDate": "2024-01-01 00:00:00",
            "fixEndDisplayDate": "2024-01-02 00:00:00", "vibrate": true, "lights": false, "sound": true,
            "notifyKey": "nk", "callback": "https://cb", "callbackParam": "p", "callbackType": "3",
            "zz": 1
        }));
    m.insert("harmonyOS".to_owned(), json!({
            "pushType": 0, "isTestMessage": false, "receiptId": "r", "category": "IM", "title": "t",
            "body": "b", "image": "https://e.com/i.png", "style": 3, "bigTitle": "bt", "bigBody": "bb",
            "inboxContent": ["a", "b", "c"], "notifyId": 1, "addNum": 1, "setNum": 2, "actionType": 1,
            "action": "a", "uri": "u", "data": {"k": "v"}, "payload": "p", "zz": 1
        }));
    m.insert("zz".to_owned(), json!({"top": "level"}));
    m.insert("strategy_hint".to_owned(), json!(7));
    Value::Object(m)
}

// =============================================================================================
// Round trip

#[test]
fn rich_message_round_trips_exactly() {
    let input = rich();
    let msg = parse(input.clone());
    assert_eq!(msg.to_value(), input);
    assert_eq!(Value::from(&msg), input);
    // And again from the stored form.
    assert_eq!(parse(msg.to_value()), msg);
}

#[test]
fn rich_message_is_typed() {
    let msg = parse(rich());
    assert_eq!(msg.title(), "您有一条新消息");
    assert_eq!(msg.sub_title(), Some("sub"));
    assert_eq!(msg.content(), "请及时查看 please");
    assert_eq!(msg.ext().map(|e| e.len()), Some(3));
    let badge = msg.config().and_then(|c| c.badge.as_ref()).expect("badge");
    assert_eq!((badge.add_num, badge.set_num), (Some(1), Some(0)));
    assert_eq!(msg.config().and_then(|c| c.time_to_live), Some(86400));
    let easemob = msg.easemob().expect("easemob");
    assert_eq!(
        easemob.operation.as_ref().and_then(|o| o.operation_type),
        Some(EasemobOperationType::OpenUrl)
    );
    assert_eq!(easemob.id, Some(968_120_369_184_112_182));
    let apns = msg.apns().expect("apns");
    assert_eq!(apns.priority, Some(ApnsPriority::Immediate));
    assert_eq!(apns.push_type, Some(ApnsPushType::Alert));
    assert_eq!(
        apns.interruption_level,
        Some(InterruptionLevel::TimeSensitive)
    );
    assert_eq!(apns.other.get("zz"), Some(&json!("unknown")));
    assert_eq!(msg.fcm().and_then(|f| f.priority), Some(FcmPriority::High));
    let v1 = msg.fcm_v1().expect("fcmV1");
    assert_eq!(v1.message_type, Some(FcmV1Type::Both));
    assert_eq!(
        v1.android_config.as_ref().and_then(|a| a.priority),
        Some(AndroidPriority::High)
    );
    let hw = msg
        .huawei()
        .and_then(|h| h.message.as_ref())
        .and_then(|m| m.android.as_ref())
        .and_then(|a| a.notification.as_ref())
        .expect("huawei notification");
    assert_eq!(hw.buttons.as_ref().map(Vec::len), Some(3));
    assert_eq!(hw.importance, Some(Importance::Normal));
    assert_eq!(hw.visibility, Some(Visibility::Public));
    assert_eq!(
        hw.light_settings
            .as_ref()
            .and_then(|l| l.color.as_ref())
            .and_then(|c| c.red),
        Some(0.5)
    );
    let honor = msg
        .honor()
        .and_then(|h| h.android_config.as_ref())
        .and_then(|a| a.android_notification.as_ref())
        .expect("honor notification");
    assert_eq!(honor.importance, Some(Importance::Low));
    let xiaomi = msg.xiaomi().expect("xiaomi");
    assert_eq!(
        xiaomi.restricted_package_names.as_ref().map(|p| p.items()),
        Some(vec!["com.a", "com.b"])
    );
    assert_eq!(msg.oppo().and_then(|o| o.notify_level), Some(16));
    assert_eq!(
        msg.vivo()
            .and_then(|v| v.extra.as_ref())
            .and_then(|e| e.callback.as_deref()),
        Some("https://cb")
    );
    assert_eq!(msg.meizu().and_then(|m| m.is_off_line), Some(true));
    assert_eq!(msg.harmony_os().and_then(|h| h.push_type), Some(0));
    assert_eq!(msg.other().get("strategy_hint"), Some(&json!(7)));
    assert!(!msg.needs_notification());
    assert_eq!(msg.expires_time_ms(), Some(1_700_000_000_000));
}

#[test]
fn minimal_message_emits_only_what_was_sent() {
    let msg = parse(base());
    assert_eq!(msg.to_value(), base());
    assert_eq!(
        serde_json::to_string(&msg).expect("serialise"),
        r#"{"title":"t","content":"c"}"#
    );
    let empty_blocks = json!({"title": "t", "content": "c", "apns": {}, "config": {"badge": {}}});
    assert_eq!(parse(empty_blocks.clone()).to_value(), empty_blocks);
}

#[test]
fn modelled_nulls_are_absent_unknown_nulls_are_kept() {
    let msg = parse(json!({
        "title": "t", "content": "c", "subTitle": null, "ext": null, "apns": null,
        "easemob": {"needNotification": null, "zz": null}, "zz": null
    }));
    assert_eq!(
        msg.to_value(),
        json!({"title": "t", "content": "c", "easemob": {"zz": null}, "zz": null})
    );
    assert!(msg.needs_notification());
}

#[test]
fn serde_deserialize_parses() {
    let msg: PushMessage = serde_json::from_value(rich()).expect("valid");
    assert_eq!(msg.to_value(), rich());
    let err = serde_json::from_value::<PushMessage>(json!({"title": "t"})).expect_err("invalid");
    assert_eq!(err.to_string(), "pushMessage.content is required");
    let try_from = PushMessage::try_from(json!({"content": "c"})).expect_err("invalid");
    assert_eq!(try_from.field(), "pushMessage.title");
}

/// Random unknown keys with random values, at random levels of random subsets of the rich
/// message: every one parses and serialises back to exactly what was sent.
#[test]
fn random_unknown_fields_round_trip() {
    let mut rng = StdRng::seed_from_u64(0x0b5e_55ed);
    let full = rich();
    let blocks: Vec<String> = full
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| !matches!(k.as_str(), "title" | "content"))
        .cloned()
        .collect();
    for case in 0..300 {
        let mut input = base();
        for block in &blocks {
            if rng.gen_bool(0.5) {
                input[block.as_str()] = full[block.as_str()].clone();
            }
        }
        for _ in 0..rng.gen_range(0..6) {
            insert_unknown(&mut input, &mut rng);
        }
        let msg = match PushMessage::parse(input.clone()) {
            Ok(m) => m,
            Err(e) => panic!("case {case}: {input} refused: {e}"),
        };
        assert_eq!(msg.to_value(), input, "case {case}");
        assert_eq!(parse(msg.to_value()), msg, "case {case}");
    }
}

/// Puts a random value under a fresh key in a random object of `root` that is a modelled
/// struct (free-form maps like `ext` are left alone: their limits are not the point here).
fn insert_unknown(root: &mut Value, rng: &mut StdRng) {
    const FREE: &[&str] = &[
        "ext",
        "data",
        "options",
        "review",
        "multiLangKey",
        "attributes",
        "contentState",
        "headers",
        "payload",
        "notification_free",
        "actionParameters",
        "clientCustomMap",
        "parameters",
        "zz",
    ];
    let mut node = root;
    loop {
        let keys: Vec<String> = node
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, v)| v.is_object() && !FREE.contains(&k.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        // `webPushConfig.notification` is a free-form object too.
        let keys: Vec<String> = if node.get("headers").is_some() {
            Vec::new()
        } else {
            keys
        };
        if keys.is_empty() || rng.gen_bool(0.3) {
            break;
        }
        let key = keys[rng.gen_range(0..keys.len())].clone();
        node = &mut node[key.as_str()];
    }
    let key = format!("x_{}", rng.gen_range(0..1_000_000));
    let value = random_value(rng, 3);
    if let Some(map) = node.as_object_mut() {
        map.insert(key, value);
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<u64>()),
        4 => json!(f64::from(rng.gen_range(-1000..1000)) / 8.0),
        5 => {
            let pool = ['a', 'Z', '0', ' ', '"', '\\', '中', '消', '😀', 'é', '\n'];
            let n = rng.gen_range(0..12);
            Value::String((0..n).map(|_| pool[rng.gen_range(0..pool.len())]).collect())
        }
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.gen_range(0..4))
                .map(|i| (format!("k{i}"), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

// =============================================================================================
// Aliases

#[test]
fn sub_title_alias_is_read_and_emitted_as_documented() {
    let msg = parse(json!({"title": "t", "content": "c", "sub_title": "s"}));
    assert_eq!(msg.sub_title(), Some("s"));
    assert_eq!(
        msg.to_value(),
        json!({"title": "t", "content": "c", "subTitle": "s"})
    );
}

#[test]
fn ease_mob_alias_is_read_and_emitted_as_documented() {
    let msg = parse(json!({
        "title": "t", "content": "c",
        "easeMob": {"needNotification": "false", "expiresTime": 5, "zz": 1}
    }));
    assert!(!msg.needs_notification());
    assert_eq!(msg.expires_time_ms(), Some(5));
    assert_eq!(
        msg.to_value(),
        json!({"title": "t", "content": "c",
               "easemob": {"needNotification": false, "expiresTime": 5, "zz": 1}})
    );
}

#[test]
fn documented_key_wins_over_alias_and_alias_is_kept() {
    let input = json!({
        "title": "t", "content": "c",
        "subTitle": "doc", "sub_title": "alias",
        "easemob": {"needNotification": true}, "easeMob": {"needNotification": false}
    });
    let msg = parse(input.clone());
    assert_eq!(msg.sub_title(), Some("doc"));
    assert!(msg.needs_notification());
    assert_eq!(msg.to_value(), input);
}

#[test]
fn errors_under_an_alias_name_the_alias() {
    let e = refuse(json!({"title": "t", "content": "c", "sub_title": "12345678901"}));
    assert_eq!(e.field(), "pushMessage.sub_title");
    let e = refuse(json!({"title": "t", "content": "c", "sub_title": ""}));
    assert_eq!(e.to_string(), "pushMessage.sub_title must not be empty");
    let e = refuse(json!({"title": "t", "content": "c", "sub_title": 5}));
    assert_eq!(e.field(), "pushMessage.sub_title");
    let e = refuse(json!({"title": "t", "content": "c",
                          "easeMob": {"operation": {"type": 9}}}));
    assert_eq!(e.field(), "pushMessage.easeMob.operation.type");
    let e = refuse(json!({"title": "t", "content": "c", "easeMob": {"style": 9}}));
    assert_eq!(e.field(), "pushMessage.easeMob.style");
}

// =============================================================================================
// Required fields and top-level limits

#[test]
fn title_and_content_are_required_and_non_empty() {
    let e = refuse(json!({"content": "c"}));
    assert_eq!(e.to_string(), "pushMessage.title is required");
    let e = refuse(json!({"title": null, "content": "c"}));
    assert_eq!(
        e,
        MessageError::Required {
            field: "pushMessage.title".into()
        }
    );
    let e = refuse(json!({"title": "", "content": "c"}));
    assert_eq!(e.to_string(), "pushMessage.title must not be empty");
    let e = refuse(json!({"title": "t"}));
    assert_eq!(e.to_string(), "pushMessage.content is required");
    let e = refuse(json!({"title": "t", "content": ""}));
    assert_eq!(e.to_string(), "pushMessage.content must not be empty");
    let e = refuse(json!({"title": "t", "content": "c", "subTitle": ""}));
    assert_eq!(e.to_string(), "pushMessage.subTitle must not be empty");
    // Whitespace is content, as in the Java SDK's check.
    parse(json!({"title": " ", "content": " "}));
}

#[test]
fn title_counts_cjk_as_two() {
    parse(with("title", json!("a".repeat(32))));
    let e = refuse(with("title", json!("a".repeat(33))));
    assert_eq!(
        e.to_string(),
        "pushMessage.title exceeds 32 characters (CJK counts 2): got 33"
    );
    parse(with("title", json!("中".repeat(16))));
    let e = refuse(with("title", json!("中".repeat(17))));
    assert_eq!(
        e,
        MessageError::TooLong {
            field: "pushMessage.title".into(),
            max: 32,
            counting: Counting::WideIsTwo,
            got: 34
        }
    );
    parse(with("title", json!(format!("{}{}", "中".repeat(15), "ab"))));
    let e = refuse(with(
        "title",
        json!(format!("{}{}", "中".repeat(15), "abc")),
    ));
    assert_eq!(
        e.to_string(),
        "pushMessage.title exceeds 32 characters (CJK counts 2): got 33"
    );
    let e = refuse(with("title", json!("a".repeat(40))));
    assert_eq!(
        e.to_string(),
        "pushMessage.title exceeds 32 characters (CJK counts 2): got 40"
    );
}

#[test]
fn content_counts_cjk_as_two() {
    parse(with("content", json!("a".repeat(100))));
    parse(with("content", json!("请".repeat(50))));
    let e = refuse(with("content", json!("请".repeat(51))));
    assert_eq!(
        e.to_string(),
        "pushMessage.content exceeds 100 characters (CJK counts 2): got 102"
    );
    let e = refuse(with("content", json!("a".repeat(101))));
    assert_eq!(e.field(), "pushMessage.content");
}

#[test]
fn sub_title_counts_characters() {
    parse(with("subTitle", json!("a".repeat(10))));
    parse(with("subTitle", json!("中".repeat(10))));
    let e = refuse(with("subTitle", json!("中".repeat(11))));
    assert_eq!(
        e.to_string(),
        "pushMessage.subTitle exceeds 10 characters: got 11"
    );
}

#[test]
fn ext_pairs_and_size() {
    let pairs = |n: usize| -> Value {
        Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
    };
    parse(with("ext", pairs(10)));
    let e = refuse(with("ext", pairs(11)));
    assert_eq!(
        e.to_string(),
        "pushMessage.ext has more than 10 pairs: got 11"
    );

    // {"k":"…"} is 8 characters of JSON around the value.
    parse(with("ext", json!({"k": "x".repeat(1016)})));
    parse(with("ext", json!({"k": "中".repeat(1016)})));
    let e = refuse(with("ext", json!({"k": "x".repeat(1017)})));
    assert_eq!(
        e.to_string(),
        "pushMessage.ext exceeds 1024 characters as JSON: got 1025"
    );
    parse(with("ext", json!({})));
}

// =============================================================================================
// Vendor text limits

/// (path, limit, counting) for every single-text limit.
const TEXT_LIMITS: &[(&str, usize, Counting)] = &[
    ("xiaomi.title", 50, Counting::Chars),
    ("xiaomi.description", 128, Counting::Chars),
    ("oppo.title", 32, Counting::Chars),
    ("oppo.content", 200, Counting::Chars),
    ("oppo.clickActionUrl", 500, Counting::Chars),
    ("oppo.clickActionActivity", 500, Counting::Chars),
    ("vivo.title", 40, Counting::WideIsTwo),
    ("vivo.content", 100, Counting::Chars),
    ("vivo.skipContent", 1000, Counting::Chars),
    ("vivo.requestId", 64, Counting::Chars),
    ("vivo.profileId", 64, Counting::Chars),
    ("vivo.extra.callback", 128, Counting::Chars),
    ("vivo.extra.callbackParam", 64, Counting::Chars),
    ("meizu.title", 32, Counting::Chars),
    ("meizu.content", 100, Counting::Chars),
    ("meizu.callback", 128, Counting::Chars),
    ("meizu.callbackParam", 64, Counting::Chars),
];

#[test]
fn vendor_text_limits_at_and_past_the_limit() {
    for &(path, max, counting) in TEXT_LIMITS {
        parse(with(path, json!("a".repeat(max))));
        let e = refuse(with(path, json!("a".repeat(max + 1))));
        assert_eq!(
            e,
            MessageError::TooLong {
                field: format!("pushMessage.{path}"),
                max,
                counting,
                got: max + 1
            },
            "{path}"
        );
        // CJK: counts 2 where the limit says so, else 1.
        match counting {
            Counting::WideIsTwo => {
                parse(with(path, json!("中".repeat(max / 2))));
                let e = refuse(with(path, json!("中".repeat(max / 2 + 1))));
                assert_eq!(e.field(), format!("pushMessage.{path}"));
            }
            Counting::Chars => {
                parse(with(path, json!("中".repeat(max))));
                refuse(with(path, json!("中".repeat(max + 1))));
            }
        }
    }
}

#[test]
fn vendor_limit_messages_name_the_path() {
    let e = refuse(with("vivo.title", json!("中".repeat(21))));
    assert_eq!(
        e.to_string(),
        "pushMessage.vivo.title exceeds 40 characters (CJK counts 2): got 42"
    );
    let e = refuse(with("xiaomi.title", json!("小".repeat(51))));
    assert_eq!(
        e.to_string(),
        "pushMessage.xiaomi.title exceeds 50 characters: got 51"
    );
}

const HW_NOTIFICATION: &str = "huawei.message.android.notification";

#[test]
fn huawei_buttons() {
    let button = |name: &str| json!({"name": name, "actionType": 0});
    let path = format!("{HW_NOTIFICATION}.buttons");
    parse(with(&path, json!([button("a"), button("b"), button("c")])));
    let e = refuse(with(
        &path,
        json!([button("a"), button("b"), button("c"), button("d")]),
    ));
    assert_eq!(
        e.to_string(),
        "pushMessage.huawei.message.android.notification.buttons has more than 3 buttons: got 4"
    );
    parse(with(&path, json!([button("a"), button(&"n".repeat(40))])));
    let e = refuse(with(&path, json!([button("a"), button(&"n".repeat(41))])));
    assert_eq!(
        e.to_string(),
        "pushMessage.huawei.message.android.notification.buttons[1].name exceeds 40 characters: got 41"
    );
    parse(with(
        &path,
        json!([{"name": "a", "data": "d".repeat(1024)}]),
    ));
    let e = refuse(with(
        &path,
        json!([{"name": "a", "data": "d".repeat(1025)}]),
    ));
    assert_eq!(e.field(), format!("pushMessage.{path}[0].data"));
    let e = refuse(with(&path, json!([{"name": "a", "actionType": 5}])));
    assert_eq!(e.field(), format!("pushMessage.{path}[0].actionType"));
    let e = refuse(with(&path, json!([{"name": "a", "intentType": 2}])));
    assert_eq!(e.field(), format!("pushMessage.{path}[0].intentType"));
}

#[test]
fn huawei_inbox_content() {
    let path = format!("{HW_NOTIFICATION}.inboxContent");
    parse(with(&path, json!(["1", "2", "3", "4", "5"])));
    let e = refuse(with(&path, json!(["1", "2", "3", "4", "5", "6"])));
    assert_eq!(
        e.to_string(),
        "pushMessage.huawei.message.android.notification.inboxContent has more than 5 lines: got 6"
    );
    parse(with(&path, json!(["x".repeat(1024)])));
    let e = refuse(with(&path, json!(["ok", "x".repeat(1025)])));
    assert_eq!(e.field(), format!("pushMessage.{path}[1]"));
    let e = refuse(with(&path, json!([1])));
    assert_eq!(e.field(), format!("pushMessage.{path}[0]"));
}

#[test]
fn huawei_badge_vibration_and_light() {
    let badge = format!("{HW_NOTIFICATION}.badge");
    for ok in [
        json!({"addNum": 1}),
        json!({"addNum": 99, "setNum": 0}),
        json!({"setNum": 99}),
    ] {
        parse(with(&badge, ok));
    }
    let e = refuse(with(&badge, json!({"addNum": 0})));
    assert_eq!(
        e.to_string(),
        "pushMessage.huawei.message.android.notification.badge.addNum is invalid: expected 1 to 99, got 0"
    );
    refuse(with(&badge, json!({"addNum": 100})));
    let e = refuse(with(&badge, json!({"setNum": -1})));
    assert_eq!(e.field(), format!("pushMessage.{badge}.setNum"));
    refuse(with(&badge, json!({"setNum": 100})));

    let vibrate = format!("{HW_NOTIFICATION}.vibrateConfig");
    parse(with(&vibrate, json!(vec!["1"; 10])));
    let e = refuse(with(&vibrate, json!(vec!["1"; 11])));
    assert_eq!(e.field(), format!("pushMessage.{vibrate}"));
    parse(with(&vibrate, json!(["60", "59.5s", 3])));
    let e = refuse(with(&vibrate, json!(["1", "61"])));
    assert_eq!(e.field(), format!("pushMessage.{vibrate}[1]"));
    refuse(with(&vibrate, json!(["soon"])));

    let color = format!("{HW_NOTIFICATION}.lightSettings.color");
    parse(with(
        &color,
        json!({"alpha": 1, "red": 0, "green": "0.5", "blue": 1.0}),
    ));
    let e = refuse(with(&color, json!({"red": 1.5})));
    assert_eq!(e.field(), format!("pushMessage.{color}.red"));
}

#[test]
fn honor_rules() {
    let n = "honor.androidConfig.androidNotification";
    let button = json!({"name": "b", "actionType": 2});
    parse(with(
        &format!("{n}.buttons"),
        json!([button, button, button]),
    ));
    let e = refuse(with(
        &format!("{n}.buttons"),
        json!([button, button, button, button]),
    ));
    assert_eq!(
        e.to_string(),
        "pushMessage.honor.androidConfig.androidNotification.buttons has more than 3 buttons: got 4"
    );
    let e = refuse(with(
        &format!("{n}.buttons"),
        json!([{"name": "n".repeat(41)}]),
    ));
    assert_eq!(e.field(), format!("pushMessage.{n}.buttons[0].name"));
    let e = refuse(with(&format!("{n}.buttons"), json!([{"actionType": 3}])));
    assert_eq!(e.field(), format!("pushMessage.{n}.buttons[0].actionType"));

    let e = refuse(with(n, json!({"style": 1, "bigBody": "b"})));
    assert_eq!(
        e.to_string(),
        "pushMessage.honor.androidConfig.androidNotification.bigTitle is required when style is 1"
    );
    let e = refuse(with(n, json!({"style": 1, "bigTitle": "t"})));
    assert_eq!(e.field(), format!("pushMessage.{n}.bigBody"));
    parse(with(n, json!({"style": 0})));
    let e = refuse(with(n, json!({"style": 2})));
    assert_eq!(e.field(), format!("pushMessage.{n}.style"));

    let e = refuse(with(
        &format!("{n}.badgeNotification"),
        json!({"addNum": 1}),
    ));
    assert_eq!(
        e.to_string(),
        "pushMessage.honor.androidConfig.androidNotification.badgeNotification.badgeClass is required when badgeNotification is given"
    );
}

#[test]
fn harmony_rules() {
    parse(with("harmonyOS.inboxContent", json!(["a", "b", "c"])));
    let e = refuse(with("harmonyOS.inboxContent", json!(["a", "b", "c", "d"])));
    assert_eq!(
        e.to_string(),
        "pushMessage.harmonyOS.inboxContent has more than 3 lines: got 4"
    );
    let e = refuse(with("harmonyOS", json!({"style": 1, "bigTitle": "t"})));
    assert_eq!(e.field(), "pushMessage.harmonyOS.bigBody");
    parse(with(
        "harmonyOS",
        json!({"style": 1, "bigTitle": "t", "bigBody": "b"}),
    ));
}

// =============================================================================================
// Enumerations and ranges

/// (path, accepted values, a refused value).
fn code_cases() -> Vec<(&'static str, Vec<Value>, Value)> {
    vec![
        (
            "apns.priority",
            vec![json!(5), json!(10), json!("10")],
            json!(7),
        ),
        (
            "apns.pushType",
            vec![json!("alert"), json!("background"), json!("Background")],
            json!("voip"),
        ),
        (
            "apns.interruptionLevel",
            vec![json!("ACTIVE"), json!("critical")],
            json!("LOUD"),
        ),
        (
            "apns.liveActivityEvent",
            vec![json!("START"), json!("end")],
            json!("PAUSE"),
        ),
        (
            "fcm.priority",
            vec![json!("normal"), json!("HIGH")],
            json!("urgent"),
        ),
        (
            "fcm.timeToLive",
            vec![json!("0"), json!("2419200"), json!(3600), json!("60s")],
            json!("2419201"),
        ),
        (
            "fcmV1.type",
            vec![json!("BOTH"), json!("DATA"), json!("NOTIFICATION")],
            json!("ALL"),
        ),
        (
            "fcmV1.androidConfig.priority",
            vec![json!("NORMAL"), json!("high")],
            json!("MAX"),
        ),
        (
            "fcmV1.androidConfig.ttl",
            vec![json!("3.5s"), json!("86400"), json!(60)],
            json!("1 day"),
        ),
        (
            "fcmV1.androidConfig.androidNotification.color",
            vec![json!("#a0B1c2")],
            json!("red"),
        ),
        (
            "easemob.operation.type",
            vec![json!(0), json!(1), json!(2), json!("2")],
            json!(3),
        ),
        ("easemob.channelLevel", vec![json!(0), json!(4)], json!(5)),
        (
            "easemob.autoCancel",
            vec![json!(0), json!(1), json!(true)],
            json!(2),
        ),
        ("easemob.sound", vec![json!(0), json!("1")], json!(-1)),
        ("easemob.vibrate", vec![json!(1), json!(false)], json!(2)),
        (
            "easemob.style",
            vec![json!(0), json!(1), json!(2)],
            json!(3),
        ),
        (
            "huawei.message.android.fastAppTargetType",
            vec![json!(1), json!(2)],
            json!(3),
        ),
        (
            "huawei.message.android.targetUserType",
            vec![json!(0), json!(1)],
            json!(2),
        ),
        (
            "huawei.message.android.ttl",
            vec![json!("86400"), json!("1.5s")],
            json!("-1"),
        ),
        (
            "huawei.message.android.notification.style",
            vec![json!(0), json!(1), json!(3)],
            json!(2),
        ),
        (
            "huawei.message.android.notification.clickAction.type",
            vec![json!(1), json!(2), json!(3)],
            json!(4),
        ),
        (
            "huawei.message.android.notification.importance",
            vec![json!("LOW"), json!("NORMAL")],
            json!("HIGH"),
        ),
        (
            "huawei.message.android.notification.visibility",
            vec![
                json!("VISIBILITY_UNSPECIFIED"),
                json!("SECRET"),
                json!("PRIVATE"),
            ],
            json!("HIDDEN"),
        ),
        (
            "honor.androidConfig.androidNotification.clickAction.type",
            vec![json!(1), json!(3)],
            json!(0),
        ),
        (
            "honor.androidConfig.androidNotification.importance",
            vec![json!("low")],
            json!("HIGH"),
        ),
        ("xiaomi.passThrough", vec![json!(0), json!(1)], json!(2)),
        (
            "xiaomi.notifyType",
            vec![json!(-1), json!(1), json!(7)],
            json!(8),
        ),
        (
            "xiaomi.notifyForeground",
            vec![json!("0"), json!(1)],
            json!("2"),
        ),
        (
            "xiaomi.notifyEffect",
            vec![json!("1"), json!("2"), json!(3)],
            json!("4"),
        ),
        (
            "xiaomi.callbackType",
            vec![json!(1), json!(3), json!(1024), json!(1267)],
            json!(4),
        ),
        ("oppo.style", vec![json!(1), json!(2), json!(3)], json!(4)),
        (
            "oppo.clickActionType",
            vec![json!(0), json!(1), json!(2), json!(4), json!(5)],
            json!(3),
        ),
        (
            "oppo.notifyLevel",
            vec![json!(1), json!(2), json!(16)],
            json!(4),
        ),
        ("vivo.notifyType", vec![json!(1), json!(4)], json!(0)),
        ("vivo.skipType", vec![json!(1), json!(4)], json!(5)),
        ("vivo.networkType", vec![json!(-1), json!(1)], json!(0)),
        ("vivo.classification", vec![json!(0), json!(1)], json!(2)),
        ("vivo.pushMode", vec![json!(0), json!(1)], json!(2)),
        (
            "vivo.notifyId",
            vec![json!(1), json!(2_147_483_647_i64)],
            json!(0),
        ),
        ("meizu.noticeExpandType", vec![json!(0), json!(1)], json!(2)),
        ("meizu.clickType", vec![json!(0), json!(3)], json!(4)),
        (
            "meizu.callbackType",
            vec![json!("1"), json!("3"), json!(2)],
            json!("4"),
        ),
        (
            "harmonyOS.pushType",
            vec![json!(0), json!(1), json!(2), json!(6), json!(7), json!(10)],
            json!(3),
        ),
        ("harmonyOS.style", vec![json!(0), json!(3)], json!(2)),
        ("harmonyOS.actionType", vec![json!(0), json!(1)], json!(2)),
    ]
}

#[test]
fn codes_accept_their_documented_values_and_refuse_others() {
    for (path, good, bad) in code_cases() {
        for v in good {
            parse(with(path, v));
        }
        let e = refuse(with(path, bad.clone()));
        assert_eq!(e.field(), format!("pushMessage.{path}"), "{path} = {bad}");
        assert!(matches!(e, MessageError::Invalid { .. }), "{path}: {e}");
    }
}

#[test]
fn code_messages_list_the_allowed_values() {
    let e = refuse(with("apns.priority", json!(7)));
    assert_eq!(
        e.to_string(),
        "pushMessage.apns.priority is invalid: expected one of 5, 10, got 7"
    );
    let e = refuse(with("apns.pushType", json!("voip")));
    assert_eq!(
        e.to_string(),
        r#"pushMessage.apns.pushType is invalid: expected one of alert, background, got "voip""#
    );
    let e = refuse(with("fcmV1.type", json!("ALL")));
    assert_eq!(
        e.to_string(),
        r#"pushMessage.fcmV1.type is invalid: expected one of BOTH, DATA, NOTIFICATION, got "ALL""#
    );
    let e = refuse(with("easemob.operation.type", json!(3)));
    assert_eq!(
        e.to_string(),
        "pushMessage.easemob.operation.type is invalid: expected one of 0, 1, 2, got 3"
    );
    let e = refuse(with("vivo.notifyType", json!(9)));
    assert_eq!(
        e.to_string(),
        "pushMessage.vivo.notifyType is invalid: expected one of 1, 2, 3, 4, got 9"
    );
    let e = refuse(with("vivo.notifyId", json!(2_147_483_648_i64)));
    assert_eq!(
        e.to_string(),
        "pushMessage.vivo.notifyId is invalid: expected 1 to 2147483647, got 2147483648"
    );
}

// =============================================================================================
// Wrong JSON types

#[test]
fn wrong_types_name_the_path() {
    let cases: Vec<(Value, &str)> = vec![
        (with("title", json!(5)), "pushMessage.title"),
        (with("content", json!(["c"])), "pushMessage.content"),
        (with("ext", json!("k=v")), "pushMessage.ext"),
        (with("config", json!([])), "pushMessage.config"),
        (
            with("config.badge.addNum", json!("abc")),
            "pushMessage.config.badge.addNum",
        ),
        (
            with("config.badge.addNum", json!(1.5)),
            "pushMessage.config.badge.addNum",
        ),
        (
            with("config.badge.setNum", json!(2_147_483_648_i64)),
            "pushMessage.config.badge.setNum",
        ),
        (
            with("config.clickAction.url", json!(1)),
            "pushMessage.config.clickAction.url",
        ),
        (
            with("easemob.needNotification", json!("maybe")),
            "pushMessage.easemob.needNotification",
        ),
        (
            with("easemob.needNotification", json!(2)),
            "pushMessage.easemob.needNotification",
        ),
        (
            with("easemob.expiresTime", json!("soon")),
            "pushMessage.easemob.expiresTime",
        ),
        (with("apns", json!("x")), "pushMessage.apns"),
        (
            with("apns.mutableContent", json!({})),
            "pushMessage.apns.mutableContent",
        ),
        (
            with("apns.priority", json!(true)),
            "pushMessage.apns.priority",
        ),
        (
            with("apns.titleLocArgs", json!("a")),
            "pushMessage.apns.titleLocArgs",
        ),
        (
            with("apns.titleLocArgs", json!(["a", {}])),
            "pushMessage.apns.titleLocArgs[1]",
        ),
        (with("fcmV1.data", json!([])), "pushMessage.fcmV1.data"),
        (
            with("huawei.message.android.notification.buttons", json!({})),
            "pushMessage.huawei.message.android.notification.buttons",
        ),
        (
            with(
                "huawei.message.android.notification.buttons",
                json!([{"name": "a"}, {"name": 5}]),
            ),
            "pushMessage.huawei.message.android.notification.buttons[1].name",
        ),
        (
            with(
                "huawei.message.android.notification.badge.addNum",
                json!("many"),
            ),
            "pushMessage.huawei.message.android.notification.badge.addNum",
        ),
        (with("honor.data", json!("{}")), "pushMessage.honor.data"),
        (
            with("xiaomi.restrictedPackageNames", json!(5)),
            "pushMessage.xiaomi.restrictedPackageNames",
        ),
        (
            with("xiaomi.restrictedPackageNames", json!(["a", 1])),
            "pushMessage.xiaomi.restrictedPackageNames[1]",
        ),
        (
            with("oppo.offLine", json!("yes")),
            "pushMessage.oppo.offLine",
        ),
        (with("vivo.extra", json!("cb")), "pushMessage.vivo.extra"),
        (with("meizu.sound", json!(3)), "pushMessage.meizu.sound"),
        (
            with("harmonyOS.inboxContent", json!("a")),
            "pushMessage.harmonyOS.inboxContent",
        ),
    ];
    for (input, field) in cases {
        let e = refuse(input.clone());
        assert_eq!(e.field(), field, "{input}: {e}");
        assert!(
            e.to_string().starts_with(&format!("{field} is invalid: ")),
            "{e}"
        );
    }
}

#[test]
fn type_error_messages_read_well() {
    let e = refuse(with("config.badge.addNum", json!("abc")));
    assert_eq!(
        e.to_string(),
        r#"pushMessage.config.badge.addNum is invalid: invalid value: string "abc", expected an integer (or a string holding one)"#
    );
    let e = refuse(with("apns", json!("x")));
    assert_eq!(
        e.to_string(),
        r#"pushMessage.apns is invalid: invalid type: string "x", expected a JSON object"#
    );
    let e = refuse(with("title", json!(5)));
    assert_eq!(
        e.to_string(),
        "pushMessage.title is invalid: invalid type: integer `5`, expected a string"
    );
}

#[test]
fn a_non_object_is_refused() {
    for (v, kind) in [
        (json!("x"), "a string"),
        (json!([]), "an array"),
        (Value::Null, "null"),
        (json!(1), "a number"),
    ] {
        let e = refuse(v);
        assert_eq!(
            e.to_string(),
            format!("pushMessage is invalid: expected a JSON object, got {kind}")
        );
    }
}

// =============================================================================================
// Lenient forms

#[test]
fn ints_accept_numeric_strings_and_store_numbers() {
    assert_eq!(stored_at("config.badge.addNum", json!("1")), json!(1));
    assert_eq!(
        stored_at("config.badge.setNum", json!(" 2".trim())),
        json!(2)
    );
    assert_eq!(stored_at("config.badge.setNum", json!(2.0)), json!(2));
    assert_eq!(stored_at("config.badge.addNum", json!("-3")), json!(-3));
    assert_eq!(stored_at("config.timeToLive", json!("86400")), json!(86400));
    assert_eq!(
        stored_at("easemob.expiresTime", json!("1700000000000")),
        json!(1_700_000_000_000_i64)
    );
    assert_eq!(
        stored_at("easemob.id", json!("968120369184112182")),
        json!(968_120_369_184_112_182_i64)
    );
    assert_eq!(stored_at("apns.priority", json!("10")), json!(10));
    assert_eq!(stored_at("easemob.operation.type", json!("1")), json!(1));
    assert_eq!(stored_at("vivo.notifyId", json!("5")), json!(5));
    assert_eq!(
        stored_at("xiaomi.timeToLive", json!(86_400_000.0)),
        json!(86_400_000)
    );
}

#[test]
fn bools_accept_strings_and_numbers() {
    for (v, want) in [
        (json!(true), true),
        (json!(false), false),
        (json!("true"), true),
        (json!("FALSE"), false),
        (json!(1), true),
        (json!(0), false),
        (json!("1"), true),
        (json!("0"), false),
    ] {
        let msg = parse(with("easemob.needNotification", v.clone()));
        assert_eq!(msg.needs_notification(), want, "{v}");
        assert_eq!(
            stored_at("easemob.needNotification", v.clone()),
            json!(want)
        );
        assert_eq!(stored_at("apns.mutableContent", v.clone()), json!(want));
        assert_eq!(stored_at("meizu.isOffLine", v), json!(want));
    }
}

#[test]
fn flags_accept_booleans() {
    assert_eq!(stored_at("easemob.sound", json!(true)), json!(1));
    assert_eq!(stored_at("easemob.vibrate", json!("false")), json!(0));
    assert_eq!(stored_at("easemob.autoCancel", json!("1")), json!(1));
    assert_eq!(stored_at("xiaomi.passThrough", json!(true)), json!(1));
}

#[test]
fn string_codes_accept_numbers_and_store_strings() {
    assert_eq!(stored_at("xiaomi.notifyEffect", json!(2)), json!("2"));
    assert_eq!(stored_at("xiaomi.notifyForeground", json!(1)), json!("1"));
    assert_eq!(stored_at("meizu.callbackType", json!(3)), json!("3"));
    assert_eq!(stored_at("fcm.timeToLive", json!(3600)), json!("3600"));
    assert_eq!(stored_at("vivo.requestId", json!(12345)), json!("12345"));
    assert_eq!(
        stored_at("apns.titleLocArgs", json!([1, "a"])),
        json!(["1", "a"])
    );
}

#[test]
fn string_enums_are_case_insensitive_and_store_the_documented_spelling() {
    assert_eq!(
        stored_at("apns.pushType", json!("BACKGROUND")),
        json!("background")
    );
    assert_eq!(stored_at("fcmV1.type", json!("data")), json!("DATA"));
    assert_eq!(stored_at("fcm.priority", json!("High")), json!("high"));
    assert_eq!(
        stored_at("apns.interruptionLevel", json!("time_sensitive")),
        json!("TIME_SENSITIVE")
    );
}

#[test]
fn floats_accept_strings() {
    let path = format!("{HW_NOTIFICATION}.lightSettings.color.red");
    assert_eq!(stored_at(&path, json!("0.5")), json!(0.5));
    assert_eq!(stored_at(&path, json!(1)), json!(1));
    assert_eq!(stored_at(&path, json!(1.0)), json!(1));
    assert_eq!(stored_at(&path, json!(0.25)), json!(0.25));
}

#[test]
fn restricted_package_names_keep_their_form() {
    assert_eq!(
        stored_at("xiaomi.restrictedPackageNames", json!("com.a, com.b")),
        json!("com.a, com.b")
    );
    let msg = parse(with("xiaomi.restrictedPackageNames", json!("com.a, com.b")));
    assert_eq!(
        msg.xiaomi()
            .and_then(|x| x.restricted_package_names.as_ref())
            .map(|p| p.items()),
        Some(vec!["com.a", "com.b"])
    );
}

#[test]
fn lenient_forms_are_stable_after_one_pass() {
    let input = json!({
        "title": "t", "content": "c",
        "config": {"badge": {"addNum": "1", "setNum": 2.0}},
        "easemob": {"needNotification": "true", "sound": true, "operation": {"type": "0"}},
        "apns": {"priority": "5", "pushType": "ALERT", "bodyLocArgs": [1, 2]},
        "xiaomi": {"notifyEffect": 1, "passThrough": "0"}
    });
    let once = parse(input).to_value();
    assert_eq!(
        once,
        json!({
            "title": "t", "content": "c",
            "config": {"badge": {"addNum": 1, "setNum": 2}},
            "easemob": {"needNotification": true, "sound": 1, "operation": {"type": 0}},
            "apns": {"priority": 5, "pushType": "alert", "bodyLocArgs": ["1", "2"]},
            "xiaomi": {"notifyEffect": "1", "passThrough": 0}
        })
    );
    assert_eq!(parse(once.clone()).to_value(), once);
}

// =============================================================================================
// Accessors

#[test]
fn easemob_accessors_have_documented_defaults() {
    let msg = parse(base());
    assert!(msg.needs_notification());
    assert_eq!(msg.expires_time_ms(), None);
    assert!(msg.easemob().is_none());
    let msg = parse(with("easemob", json!({"channelId": "chat"})));
    assert!(msg.needs_notification());
    let msg = parse(with(
        "easemob",
        json!({"needNotification": false, "expiresTime": 42}),
    ));
    assert!(!msg.needs_notification());
    assert_eq!(msg.expires_time_ms(), Some(42));
}
