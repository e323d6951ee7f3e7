//! The Meizu push mock, driven by hand-built, hand-signed requests as Meizu's SDK sends them:
//! it accepts a correct request and answers each mistake with Meizu's code.

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::meizu::{sign, MeizuMock, MeizuMockConfig, MeizuOutcome, SEND_PATH};
use openpush_vendor_mock::MockServer;
use serde_json::{json, Value};

struct Env {
    mock: MeizuMock,
    server: MockServer,
    app_id: String,
    secret: String,
}

async fn start_with(config: MeizuMockConfig, clock: Arc<dyn Clock>) -> Env {
    let app_id = config.apps[0].app_id.clone();
    let secret = config.apps[0].app_secret.clone();
    let mock = MeizuMock::new(config, clock);
    let server = MockServer::start(mock.router()).await.unwrap();
    Env {
        mock,
        server,
        app_id,
        secret,
    }
}

async fn start() -> Env {
    start_with(MeizuMockConfig::for_tests(), Arc::new(SystemClock)).await
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn good_message() -> Value {
    json!({
        "noticeBarInfo": {"noticeBarType": 0, "title": "Hello", "content": "World"},
        "clickTypeInfo": {"clickType": 0, "parameters": {"k": "v"}},
        "pushTimeInfo": {"offLine": 1, "validTime": 24},
        "advanceInfo": {"suspend": 1, "notificationType": {"vibrate": 1, "lights": 0, "sound": 1},
                        "notifyKey": "grp_1"},
        "extra": {"callback": "https://cb.example.com", "callback.param": "p", "callback.type": "3"}
    })
}

/// A signed form body the way the SDK builds it: sign over raw values, then URL-encode.
fn signed(env: &Env, push_ids: &str, message: &Value) -> String {
    let mut params = BTreeMap::new();
    params.insert("appId".to_owned(), env.app_id.clone());
    params.insert("pushIds".to_owned(), push_ids.to_owned());
    params.insert("messageJson".to_owned(), message.to_string());
    let s = md5_hex(&format!(
        "appId={}messageJson={}pushIds={}{}",
        env.app_id, params["messageJson"], push_ids, env.secret
    ));
    assert_eq!(s, sign(&params, &env.secret));
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("sign", &s)
        .finish()
}

async fn post_raw(env: &Env, content_type: Option<&str>, body: String) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{SEND_PATH}", env.server.url()))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const FORM: &str = "application/x-www-form-urlencoded;charset=UTF-8";

async fn post(env: &Env, body: String) -> Value {
    let (s, v) = post_raw(env, Some(FORM), body).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn push(env: &Env, ids: &str, message: &Value) -> Value {
    post(env, signed(env, ids, message)).await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn accepts_a_signed_request_and_records_each_push_id() {
    let env = start().await;
    let v = push(&env, "P1,P2", &good_message()).await;
    assert_eq!(code(&v), "200", "{v}");
    assert_eq!(v["value"], json!({}));
    let msg_id = v["msgId"].as_str().unwrap();
    assert_eq!(msg_id.len(), 32);
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        (pushes[0].token.as_str(), pushes[1].token.as_str()),
        ("P1", "P2")
    );
    assert_eq!(pushes[0].title, "Hello");
    assert_eq!(pushes[0].body, "World");
    assert_eq!(pushes[0].message, good_message());
    assert_eq!(pushes[0].msg_id, msg_id);
    assert_eq!(pushes[0].app_id, env.app_id);
    assert_eq!(env.mock.push_count(), 2);
    assert_eq!(env.mock.request_count(), 1);
    // Numeric strings are accepted for integers, and the defaults need no pushTimeInfo.
    let m = json!({"noticeBarInfo": {"title": "标题", "content": "内容"},
                   "clickTypeInfo": {"clickType": "2", "url": "https://e.com"}});
    assert_eq!(code(&push(&env, "P3", &m).await), "200");
}

#[tokio::test]
async fn form_parameters_app_and_signature_are_checked() {
    let env = start().await;
    let body = signed(&env, "P1", &good_message());
    let (_, v) = post_raw(&env, Some("application/json"), body.clone()).await;
    assert_eq!(code(&v), "1005", "{v}");
    let (_, v) = post_raw(&env, None, body).await;
    assert_eq!(code(&v), "1005", "{v}");

    // Missing parameters.
    let mj = good_message().to_string();
    for drop in ["appId", "pushIds", "messageJson", "sign"] {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("appId", &env.app_id),
            ("pushIds", "P1"),
            ("messageJson", &mj),
            ("sign", "0123456789abcdef0123456789abcdef"),
        ];
        pairs.retain(|(k, _)| *k != drop);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        assert_eq!(code(&post(&env, body).await), "110004", "{drop}");
    }

    // Unknown app.
    let mut params = BTreeMap::new();
    params.insert("appId".to_owned(), "999".to_owned());
    params.insert("pushIds".to_owned(), "P1".to_owned());
    params.insert("messageJson".to_owned(), mj.clone());
    let s = sign(&params, &env.secret);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("sign", &s)
        .finish();
    assert_eq!(code(&post(&env, body).await), "110000");

    // Wrong secret, upper-case hex, and a signature over URL-encoded values all fail.
    params.insert("appId".to_owned(), env.app_id.clone());
    let wrong_secret = sign(&params, "not-the-secret");
    let right = sign(&params, &env.secret);
    let encoded_sig = md5_hex(&format!(
        "appId={}messageJson={}pushIds=P1{}",
        env.app_id,
        form_urlencoded::byte_serialize(mj.as_bytes()).collect::<String>(),
        env.secret
    ));
    for s in [wrong_secret, right.to_uppercase(), encoded_sig] {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .append_pair("sign", &s)
            .finish();
        let v = post(&env, body).await;
        assert_eq!(code(&v), "1006", "{v}");
        assert_eq!(v["value"], "");
    }
    // A scripted fault never hides a bad request.
    env.mock.fail_all(Some(MeizuOutcome::Busy));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("sign", "00000000000000000000000000000000")
        .finish();
    assert_eq!(code(&post(&env, body).await), "1006");
    assert_eq!(env.mock.push_count(), 0);
}

#[tokio::test]
async fn push_id_count_and_message_fields_are_checked() {
    let env = start().await;
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("P{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(code(&push(&env, &ids(101), &good_message()).await), "1005");
    assert_eq!(code(&push(&env, &ids(100), &good_message()).await), "200");
    assert_eq!(code(&push(&env, "P1,,P2", &good_message()).await), "1005");
    assert_eq!(env.mock.push_count(), 100);

    let bad: Vec<(&str, Value)> = vec![
        (
            "title too long",
            json!({"noticeBarInfo": {"title": "t".repeat(33), "content": "c"}}),
        ),
        (
            "empty title",
            json!({"noticeBarInfo": {"title": "", "content": "c"}}),
        ),
        (
            "content too long",
            json!({"noticeBarInfo": {"title": "t", "content": "c".repeat(101)}}),
        ),
        ("no noticeBarInfo", json!({"title": "t", "content": "c"})),
        (
            "noticeBarType",
            json!({"noticeBarInfo": {"title": "t", "content": "c", "noticeBarType": 1}}),
        ),
        (
            "validTime",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                             "pushTimeInfo": {"offLine": 1, "validTime": 73}}),
        ),
        (
            "validTime 0",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                               "pushTimeInfo": {"validTime": 0}}),
        ),
        (
            "clickType url",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                                 "clickTypeInfo": {"clickType": 2}}),
        ),
        (
            "clickType 4",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                               "clickTypeInfo": {"clickType": 4}}),
        ),
        (
            "parameters",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                              "clickTypeInfo": {"clickType": 0, "parameters": "x"}}),
        ),
        (
            "notifyKey",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                             "advanceInfo": {"notifyKey": "123456789"}}),
        ),
        (
            "callback",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                            "extra": {"callback.type": "1"}}),
        ),
        (
            "expand",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                          "noticeExpandInfo": {"noticeExpandType": 1}}),
        ),
        (
            "flag",
            json!({"noticeBarInfo": {"title": "t", "content": "c"},
                        "advanceInfo": {"suspend": 2}}),
        ),
    ];
    for (what, m) in &bad {
        let v = push(&env, "P1", m).await;
        assert_eq!(code(&v), "1005", "{what}: {v}");
    }
    // Not JSON at all.
    let mut params = BTreeMap::new();
    params.insert("appId".to_owned(), env.app_id.clone());
    params.insert("pushIds".to_owned(), "P1".to_owned());
    params.insert("messageJson".to_owned(), "{not json".to_owned());
    let s = sign(&params, &env.secret);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .append_pair("sign", &s)
        .finish();
    assert_eq!(code(&post(&env, body).await), "1005");
    // Inclusive limits: 32-char title, 100-char content, 72 hours, 8-char key.
    let m = json!({"noticeBarInfo": {"title": "标".repeat(32), "content": "c".repeat(100)},
                   "pushTimeInfo": {"validTime": 72}, "advanceInfo": {"notifyKey": "abcd-_12"}});
    assert_eq!(code(&push(&env, "P1", &m).await), "200");
    assert_eq!(env.mock.push_count(), 101);
}

#[tokio::test]
async fn per_second_rate_and_daily_limit() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut config = MeizuMockConfig::for_tests();
    config.requests_per_second = Some(2);
    config.daily_limit = Some(5);
    let env = start_with(config, clock.clone()).await;
    assert_eq!(code(&push(&env, "A", &good_message()).await), "200");
    assert_eq!(code(&push(&env, "B", &good_message()).await), "200");
    let v = push(&env, "C", &good_message()).await;
    assert_eq!(code(&v), "110010", "{v}");
    assert_eq!(v["value"], "");
    clock.advance_ms(1000);
    assert_eq!(code(&push(&env, "C,D", &good_message()).await), "200");
    let v = push(&env, "E,F", &good_message()).await;
    assert_eq!(code(&v), "110019", "{v}");
    clock.advance_ms(1000);
    assert_eq!(code(&push(&env, "E", &good_message()).await), "200");
    clock.advance_ms(86_400_000);
    assert_eq!(code(&push(&env, "F,G", &good_message()).await), "200");
    assert_eq!(env.mock.push_count(), 7);
}

#[tokio::test]
async fn scripted_outcomes() {
    let env = start().await;
    env.mock.unregister("dead");
    env.mock
        .set_token_outcome("illegal", MeizuOutcome::IllegalPushId);
    env.mock
        .set_token_outcome("off", MeizuOutcome::NotificationsOff);
    env.mock.set_token_outcome("many", MeizuOutcome::Collapsed);
    let v = push(&env, "ok,dead,illegal,off,many", &good_message()).await;
    assert_eq!(code(&v), "200", "{v}");
    assert_eq!(
        v["value"],
        json!({"110002": ["dead"], "110003": ["illegal"], "110010": ["off"], "520": ["many"]})
    );
    assert_eq!(env.mock.push_count(), 1);
    assert_eq!(env.mock.pushes()[0].token, "ok");
    env.mock.clear_token_outcome("dead");
    let v = push(&env, "dead", &good_message()).await;
    assert_eq!(v["value"], json!({}));

    for (o, want) in [
        (MeizuOutcome::SystemError, "1001"),
        (MeizuOutcome::Busy, "1003"),
        (MeizuOutcome::Overload, "519"),
        (MeizuOutcome::RateTooFast, "110010"),
        (MeizuOutcome::DailyLimit, "110019"),
        (MeizuOutcome::SignFailed, "1006"),
    ] {
        env.mock.fail_next(1, o);
        assert_eq!(code(&push(&env, "ok", &good_message()).await), want);
    }
    env.mock.fail_next(1, MeizuOutcome::SendFailed);
    let v = push(&env, "a,b", &good_message()).await;
    assert_eq!(v["value"], json!({"501": ["a", "b"]}));

    env.mock.fail_next(
        1,
        MeizuOutcome::Http {
            status: 503,
            retry_after_secs: Some(1),
        },
    );
    let resp = reqwest::Client::new()
        .post(format!("{}{SEND_PATH}", env.server.url()))
        .header("content-type", FORM)
        .body(signed(&env, "ok", &good_message()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");

    env.mock.set_token_outcome("busy", MeizuOutcome::Busy);
    assert_eq!(code(&push(&env, "ok,busy", &good_message()).await), "1003");
    env.mock.fail_all(Some(MeizuOutcome::Overload));
    assert_eq!(code(&push(&env, "ok", &good_message()).await), "519");
    env.mock.reset();
    assert_eq!((env.mock.push_count(), env.mock.request_count()), (0, 0));
    assert_eq!(code(&push(&env, "ok,busy", &good_message()).await), "200");
}

#[test]
fn notifier_credentials_are_the_required_fields() {
    let c = MeizuMockConfig::for_tests();
    let v = c.notifier_credentials();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = openpush_core::notifier::VendorKind::Meizu
        .required_fields()
        .to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert!(obj.values().all(Value::is_string));
    assert!(!format!("{c:?}").contains(&c.apps[0].app_secret));
}
