//! The Huawei mock accepts what Huawei accepts and refuses what it refuses, with Huawei's codes,
//! driven by hand-built requests as an HMS SDK sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::huawei::{HuaweiApp, HuaweiMock, HuaweiMockConfig, HuaweiOutcome};
use openpush_vendor_mock::MockServer;
use serde_json::{json, Value};

struct Env {
    mock: HuaweiMock,
    server: MockServer,
    app: HuaweiApp,
}

async fn start_with(config: HuaweiMockConfig, clock: Arc<dyn Clock>) -> Env {
    let app = config.apps[0].clone();
    let mock = HuaweiMock::new(config, clock);
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server, app }
}

async fn start() -> Env {
    start_with(HuaweiMockConfig::for_tests(), Arc::new(SystemClock)).await
}

async fn oauth(env: &Env, body: &str, content_type: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/oauth2/v3/token", env.server.url()))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn grant(app: &HuaweiApp) -> String {
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        app.client_id, app.client_secret
    )
}

async fn access_token(env: &Env) -> String {
    let (s, b) = oauth(env, &grant(&env.app), "application/x-www-form-urlencoded").await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

async fn send_raw(
    env: &Env,
    app_id: &str,
    bearer: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/{app_id}/messages:send", env.server.url()))
        .header("content-type", content_type)
        .body(body);
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

async fn send(env: &Env, at: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send_raw(
        env,
        &env.app.app_id,
        Some(at),
        "application/json",
        body.to_string(),
    )
    .await;
    (s, b)
}

fn message(tokens: &[&str]) -> Value {
    json!({"validate_only": false, "message": {
        "notification": {"title": "Hello", "body": "World"},
        "data": "{\"k\":\"v\"}",
        "android": {"collapse_key": -1, "urgency": "HIGH", "ttl": "86400s",
                    "notification": {"click_action": {"type": 3}, "channel_id": "chat",
                                     "badge": {"add_num": 1, "class": "com.x.Main"}}},
        "token": tokens
    }})
}

/// Sets (or adds) the field at a JSON pointer.
fn set(v: &mut Value, ptr: &str, value: Value) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    v.pointer_mut(parent).unwrap()[key] = value;
}

const T1: &str = "AFcSAHhhnxdrMCYBxth2QOG9IgY2VydGlmaWNhdGUtMDAwMQ";
const T2: &str = "AFcSAHhhnxdrMCYBxth2QOG9IgY2VydGlmaWNhdGUtMDAwMg";

#[tokio::test]
async fn token_then_send_succeeds_and_is_recorded() {
    let env = start().await;
    let (s, b) = oauth(&env, &grant(&env.app), "application/x-www-form-urlencoded").await;
    assert_eq!(s, 200);
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["token_type"], "Bearer");
    let at = b["access_token"].as_str().unwrap();

    let (s, b) = send(&env, at, message(&[T1, T2])).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["code"], "80000000");
    assert_eq!(b["msg"], "Success");
    assert!(!b["requestId"].as_str().unwrap().is_empty());

    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].token, T1);
    assert_eq!(pushes[1].token, T2);
    assert_eq!(pushes[0].title.as_deref(), Some("Hello"));
    assert_eq!(pushes[0].body.as_deref(), Some("World"));
    assert_eq!(pushes[0].data.as_deref(), Some("{\"k\":\"v\"}"));
    assert_eq!(pushes[0].app_id, env.app.app_id);
    assert!(pushes[0].message.get("token").is_none());
    assert_eq!(pushes[0].message["android"]["urgency"], "HIGH");
    assert_eq!(env.mock.push_count(), 2);
    assert_eq!(env.mock.request_count(), 1);
    assert_eq!(env.mock.tokens_issued(), 1);

    // validate_only answers like a send but records nothing.
    let mut dry = message(&[T1]);
    dry["validate_only"] = json!(true);
    let (_, b) = send(&env, at, dry).await;
    assert_eq!(b["code"], "80000000");
    assert_eq!(env.mock.push_count(), 2);
}

#[tokio::test]
async fn token_endpoint_refuses_bad_client_credentials() {
    let env = start().await;
    let form = "application/x-www-form-urlencoded";
    let bad_secret = format!(
        "grant_type=client_credentials&client_id={}&client_secret=wrong",
        env.app.client_id
    );
    let (s, b) = oauth(&env, &bad_secret, form).await;
    assert_eq!(
        (s, &b["error"], &b["sub_error"]),
        (400, &json!(1101), &json!(12304))
    );
    assert_eq!(b["error_description"], "invalid client_secret");

    let unknown = format!(
        "grant_type=client_credentials&client_id=1&client_secret={}",
        env.app.client_secret
    );
    let (s, b) = oauth(&env, &unknown, form).await;
    assert_eq!(
        (s, b["error_description"].as_str()),
        (400, Some("invalid client_id"))
    );

    let other_grant = grant(&env.app).replace("client_credentials", "password");
    let (s, b) = oauth(&env, &other_grant, form).await;
    assert_eq!(
        (s, b["error_description"].as_str()),
        (400, Some("unsupported grant_type"))
    );

    let (s, b) = oauth(&env, &grant(&env.app), "application/json").await;
    assert_eq!(
        (s, b["error_description"].as_str()),
        (400, Some("invalid request"))
    );
    assert_eq!(env.mock.tokens_issued(), 0);
}

#[tokio::test]
async fn send_requires_a_valid_access_token() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let mut config = HuaweiMockConfig::for_tests();
    let other = HuaweiApp::random();
    config.apps.push(other.clone());
    let env = start_with(config, Arc::new(clock.clone())).await;
    let body = message(&[T1]).to_string();

    let (s, _, b) = send_raw(
        &env,
        &env.app.app_id,
        None,
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("80200001")));
    let (s, _, b) = send_raw(
        &env,
        &env.app.app_id,
        Some("not-issued"),
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("80200001")));

    // A token of another app.
    let (_, t) = oauth(&env, &grant(&other), "application/x-www-form-urlencoded").await;
    let other_at = t["access_token"].as_str().unwrap();
    let (s, _, b) = send_raw(
        &env,
        &env.app.app_id,
        Some(other_at),
        "application/json",
        body.clone(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (200, Some("80200001")));

    // Expiry by the clock: valid at 3599 s, expired at 3600 s.
    let at = access_token(&env).await;
    clock.advance_ms(3_599_000);
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], "80000000");
    clock.advance_ms(1_000);
    let (s, b) = send(&env, &at, message(&[T1])).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("80200003")));
    assert_eq!(env.mock.push_count(), 1);
}

#[tokio::test]
async fn malformed_requests_get_huaweis_codes() {
    let env = start().await;
    let at = access_token(&env).await;
    let code = |b: &Value| b["code"].as_str().unwrap().to_owned();

    // Content type and JSON.
    let (s, _, b) = send_raw(
        &env,
        &env.app.app_id,
        Some(&at),
        "text/plain",
        message(&[T1]).to_string(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "80100001".to_owned()));
    let (s, _, b) = send_raw(
        &env,
        &env.app.app_id,
        Some(&at),
        "application/json",
        "{not json".into(),
    )
    .await;
    assert_eq!((s, code(&b)), (400, "80100001".to_owned()));

    // Token counts: 0 and 1001.
    assert_eq!(code(&send(&env, &at, message(&[])).await.1), "80300010");
    let many: Vec<String> = (0..1001).map(|i| format!("{T1}{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(code(&send(&env, &at, message(&many)).await.1), "80300010");
    // 1000 is fine.
    assert_eq!(
        code(&send(&env, &at, message(&many[..1000])).await.1),
        "80000000"
    );
    let mut no_message = message(&[T1]);
    no_message.as_object_mut().unwrap().remove("message");
    assert_eq!(code(&send(&env, &at, no_message).await.1), "80300010");

    // Size: over 4096 bytes without the tokens.
    let mut big = message(&[T1]);
    big["message"]["data"] = json!("x".repeat(4100));
    let (s, b) = send(&env, &at, big).await;
    assert_eq!((s, code(&b)), (200, "80300008".to_owned()));

    // Structure.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/message/data", json!({"k": "v"}), "80100003"),
        ("/message/android/collapse_key", json!(101), "80100013"),
        ("/message/android/urgency", json!("URGENT"), "80100003"),
        ("/message/android/ttl", json!("1 day"), "80100003"),
        (
            "/message/android/notification/click_action",
            Value::Null,
            "80100003",
        ),
        (
            "/message/android/notification/click_action/type",
            json!(2),
            "80100003",
        ),
        (
            "/message/android/notification/importance",
            json!("MAX"),
            "80100003",
        ),
        (
            "/message/android/notification/badge/add_num",
            json!(100),
            "80100003",
        ),
        ("/message/notification/title", json!(""), "80100003"),
        ("/validate_only", json!("no"), "80100001"),
    ];
    for (ptr, value, expected) in cases {
        let mut m = message(&[T1]);
        set(&mut m, ptr, value);
        let (s, b) = send(&env, &at, m).await;
        assert_eq!((s, code(&b)), (200, expected.to_owned()), "{ptr}: {b}");
    }
    // camelCase names are not Huawei's: the click action is missing.
    let mut camel = message(&[T1]);
    let n = camel["message"]["android"]["notification"]
        .as_object_mut()
        .unwrap();
    let ca = n.remove("click_action").unwrap();
    n.insert("clickAction".into(), ca);
    assert_eq!(code(&send(&env, &at, camel).await.1), "80100003");
    assert_eq!(env.mock.push_count(), 1000);
}

#[tokio::test]
async fn dead_and_invalid_tokens() {
    let env = start().await;
    let at = access_token(&env).await;
    env.mock.unregister(T2);
    let (_, b) = send(&env, &at, message(&[T1, T2, "bad token"])).await;
    assert_eq!(b["code"], "80100000");
    let msg: Value = serde_json::from_str(b["msg"].as_str().unwrap()).unwrap();
    assert_eq!(
        msg,
        json!({"success": 1, "failure": 2, "illegal_tokens": [T2, "bad token"]})
    );
    assert_eq!(env.mock.push_count(), 1);

    env.mock.set_token_outcome(T1, HuaweiOutcome::InvalidToken);
    let (_, b) = send(&env, &at, message(&[T1, T2])).await;
    assert_eq!(b["code"], "80300007");
    env.mock.clear_token_outcome(T1);
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], "80000000");
    assert_eq!(env.mock.push_count(), 2);
}

#[tokio::test]
async fn scripted_outcomes() {
    let env = start().await;
    let at = access_token(&env).await;
    let body = message(&[T1]).to_string();
    let raw = |b: String| send_raw(&env, &env.app.app_id, Some(&at), "application/json", b);

    env.mock.fail_next(
        1,
        HuaweiOutcome::TrafficControl {
            retry_after_secs: Some(7),
        },
    );
    let (s, h, _) = raw(body.clone()).await;
    assert_eq!(s, 503);
    assert_eq!(h["retry-after"], "7");
    // Consumed: the next request is delivered.
    let (s, _, b) = raw(body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("80000000")));

    env.mock.fail_all(Some(HuaweiOutcome::InternalError));
    let (s, _, b) = raw(body.clone()).await;
    assert_eq!((s, b["code"].as_str()), (500, Some("81000001")));
    // A scripted fault never hides a malformed request.
    let (s, _, b) = raw(message(&[]).to_string()).await;
    assert_eq!((s, b["code"].as_str()), (200, Some("80300010")));
    env.mock.fail_all(None);

    env.mock
        .set_token_outcome(T2, HuaweiOutcome::AuthTokenExpired);
    let (_, b) = send(&env, &at, message(&[T1, T2])).await;
    assert_eq!(b["code"], "80200003");
    env.mock.set_token_outcome(T2, HuaweiOutcome::AppForbidden);
    assert_eq!(send(&env, &at, message(&[T2])).await.1["code"], "80300002");
    env.mock.fail_next(1, HuaweiOutcome::IllegalMessage);
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], "80100003");

    env.mock.set_latency(Duration::from_millis(150));
    let t0 = Instant::now();
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], "80000000");
    assert!(t0.elapsed() >= Duration::from_millis(150));

    env.mock.reset();
    assert_eq!(env.mock.push_count(), 0);
    assert_eq!(send(&env, &at, message(&[T2])).await.1["code"], "80000000");
    env.mock.expire_access_tokens();
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], "80200003");
}

#[test]
fn notifier_credentials_are_the_required_fields() {
    let c = HuaweiMockConfig::for_tests();
    let v = c.notifier_credentials();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 3);
    for k in ["app_id", "client_id", "client_secret"] {
        assert!(!obj[k].as_str().unwrap().is_empty(), "{k}");
    }
    openpush_core::notifier::check_credentials(openpush_core::notifier::VendorKind::Huawei, &v)
        .unwrap();
}
