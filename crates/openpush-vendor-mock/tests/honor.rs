//! The Honor mock accepts what Honor accepts and refuses what it refuses,
//! driven by hand-built requests as a Honor SDK sends them.

use std::sync::Arc;
use std::time::Duration;

use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::honor::{HonorApp, HonorMock, HonorMockConfig, HonorOutcome};
use openpush_vendor_mock::MockServer;
use serde_json::{json, Value};

struct Env {
    mock: HonorMock,
    server: MockServer,
    app: HonorApp,
    clock: Arc<dyn Clock>,
}

async fn start_with(config: HonorMockConfig, clock: Arc<dyn Clock>) -> Env {
    let app = config.apps[0].clone();
    let mock = HonorMock::new(config, clock.clone());
    let server = MockServer::start(mock.router()).await.unwrap();
    Env {
        mock,
        server,
        app,
        clock,
    }
}

async fn start() -> Env {
    start_with(HonorMockConfig::for_tests(), Arc::new(SystemClock)).await
}

async fn oauth_at(env: &Env, path: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", env.server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn grant(app: &HonorApp) -> String {
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        app.client_id, app.client_secret
    )
}

async fn access_token(env: &Env) -> String {
    let (s, b) = oauth_at(env, "/auth/token", &grant(&env.app)).await;
    assert_eq!(s, 200, "{b}");
    b["access_token"].as_str().unwrap().to_owned()
}

struct Req<'a> {
    bearer: Option<&'a str>,
    timestamp: Option<String>,
    content_type: &'a str,
    body: String,
}

async fn send_req(env: &Env, r: Req<'_>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/{}/sendMessage",
            env.server.url(),
            env.app.app_id
        ))
        .header("content-type", r.content_type)
        .body(r.body);
    if let Some(b) = r.bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    if let Some(ts) = r.timestamp {
        req = req.header("timestamp", ts);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

fn req<'a>(env: &Env, at: &'a str, body: &Value) -> Req<'a> {
    Req {
        bearer: Some(at),
        timestamp: Some(env.clock.now_ms().to_string()),
        content_type: "application/json; charset=UTF-8",
        body: body.to_string(),
    }
}

async fn send(env: &Env, at: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send_req(env, req(env, at, &body)).await;
    (s, b)
}

fn message(tokens: &[&str]) -> Value {
    json!({
        "notification": {"title": "Hello", "body": "World"},
        "data": "{\"k\":\"v\"}",
        "android": {"ttl": "86400s", "biTag": "b",
            "notification": {"title": "Hi", "body": "There", "clickAction": {"type": 3},
                             "importance": "NORMAL",
                             "badge": {"addNum": 1, "badgeClass": "com.x.Main"}}},
        "token": tokens
    })
}

/// Sets (or adds) the field at a JSON pointer.
fn set(v: &mut Value, ptr: &str, value: Value) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    v.pointer_mut(parent).unwrap()[key] = value;
}

const T1: &str = "0864523047600000100000123400CN01";
const T2: &str = "0864523047600000100000123401CN01";

#[tokio::test]
async fn token_then_send_succeeds_and_is_recorded() {
    let env = start().await;
    // Both token paths work.
    for path in [
        "/auth/token",
        "/auth/realms/developer/protocol/openid-connect/token",
    ] {
        let (s, b) = oauth_at(&env, path, &grant(&env.app)).await;
        assert_eq!(
            (s, &b["expires_in"], &b["token_type"]),
            (200, &json!(3600), &json!("Bearer"))
        );
    }
    let at = access_token(&env).await;
    let (s, b) = send(&env, &at, message(&[T1, T2])).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["code"], 200);
    assert_eq!(b["message"], "Success");
    assert_eq!(b["data"]["sendResult"], true);
    assert_eq!(b["data"]["failTokens"], json!([]));
    assert_eq!(b["data"]["expireTokens"], json!([]));
    assert!(!b["data"]["requestId"].as_str().unwrap().is_empty());

    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        (pushes[0].token.as_str(), pushes[1].token.as_str()),
        (T1, T2)
    );
    assert_eq!(pushes[0].title.as_deref(), Some("Hi"));
    assert_eq!(pushes[0].body.as_deref(), Some("There"));
    assert_eq!(pushes[0].data.as_deref(), Some("{\"k\":\"v\"}"));
    assert_eq!(pushes[0].message["android"]["biTag"], "b");
    assert!(pushes[0].message.get("token").is_none());
    assert_eq!(env.mock.push_count(), 2);
    assert_eq!(env.mock.tokens_issued(), 3);
}

#[tokio::test]
async fn token_endpoint_refuses_bad_client_credentials() {
    let env = start().await;
    let bad = format!(
        "grant_type=client_credentials&client_id={}&client_secret=nope",
        env.app.client_id
    );
    let (s, b) = oauth_at(&env, "/auth/token", &bad).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized_client")));
    let unknown = grant(&env.app).replace(&env.app.client_id, "42");
    let (s, b) = oauth_at(&env, "/auth/token", &unknown).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let other = grant(&env.app).replace("client_credentials", "password");
    let (s, b) = oauth_at(&env, "/auth/token", &other).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(env.mock.tokens_issued(), 0);
}

#[tokio::test]
async fn auth_and_timestamp_are_checked() {
    let manual = ManualClock::new(SystemClock.now_ms());
    let env = start_with(HonorMockConfig::for_tests(), Arc::new(manual.clone())).await;
    let at = access_token(&env).await;
    let body = message(&[T1]);

    let mut r = req(&env, &at, &body);
    r.bearer = None;
    let (s, _, b) = send_req(&env, r).await;
    assert_eq!((s, &b["code"]), (401, &json!(80200001)));
    let (s, _, b) = send_req(&env, req(&env, "unknown", &body)).await;
    assert_eq!((s, &b["code"]), (401, &json!(80200001)));

    let mut r = req(&env, &at, &body);
    r.timestamp = None;
    let (s, _, b) = send_req(&env, r).await;
    assert_eq!((s, &b["code"]), (400, &json!(80100001)));
    let mut r = req(&env, &at, &body);
    r.timestamp = Some("yesterday".into());
    assert_eq!(send_req(&env, r).await.2["code"], 80100001);
    // ±10 minutes.
    let mut r = req(&env, &at, &body);
    r.timestamp = Some((manual.now_ms() - 601_000).to_string());
    assert_eq!(send_req(&env, r).await.2["code"], 80100001);
    let mut r = req(&env, &at, &body);
    r.timestamp = Some((manual.now_ms() + 599_000).to_string());
    assert_eq!(send_req(&env, r).await.2["code"], 200);

    let mut r = req(&env, &at, &body);
    r.content_type = "text/plain";
    let (s, _, b) = send_req(&env, r).await;
    assert_eq!((s, &b["code"]), (400, &json!(80100001)));

    // The access token expires after an hour by the clock.
    manual.advance_ms(3_600_000);
    let (s, b) = send(&env, &at, body).await;
    assert_eq!((s, &b["code"]), (401, &json!(80200003)));
    assert_eq!(env.mock.push_count(), 1);
}

#[tokio::test]
async fn malformed_bodies_get_honors_codes() {
    let env = start().await;
    let at = access_token(&env).await;
    let code = |b: &Value| b["code"].as_i64().unwrap();

    assert_eq!(code(&send(&env, &at, message(&[])).await.1), 80300010);
    let many: Vec<String> = (0..1001).map(|i| format!("{T1}{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(code(&send(&env, &at, message(&many)).await.1), 80300010);
    assert_eq!(code(&send(&env, &at, message(&many[..1000])).await.1), 200);

    let mut big = message(&[T1]);
    big["data"] = json!("x".repeat(4100));
    assert_eq!(code(&send(&env, &at, big).await.1), 80300008);

    let cases: Vec<(&str, Value)> = vec![
        ("/data", json!({"k": 1})),
        ("/android/ttl", json!("one day")),
        ("/android/notification/clickAction/type", json!(9)),
        ("/android/notification/clickAction/type", json!(2)),
        ("/android/notification/style", json!(1)),
        ("/android/notification/importance", json!("HIGH")),
        ("/android/notification/badge/badgeClass", Value::Null),
        ("/android/notification/badge/setNum", json!(100)),
        (
            "/android/notification/buttons",
            json!([{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]),
        ),
        (
            "/android/notification/buttons",
            json!([{"name": "a", "actionType": 3}]),
        ),
        ("/android/notification/title", json!("")),
    ];
    for (ptr, value) in cases {
        let mut m = message(&[T1]);
        set(&mut m, ptr, value.clone());
        let (s, b) = send(&env, &at, m).await;
        assert_eq!((s, code(&b)), (200, 80100003), "{ptr} = {value}: {b}");
    }
    // …but the notification title may come from `notification` alone.
    let mut m = message(&[T1]);
    m["android"]["notification"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    assert_eq!(code(&send(&env, &at, m).await.1), 200);
    assert_eq!(env.mock.push_count(), 1001);
}

#[tokio::test]
async fn expired_and_failed_tokens() {
    let env = start().await;
    let at = access_token(&env).await;
    env.mock.unregister(T2);
    let (_, b) = send(&env, &at, message(&[T1, T2, "bad token"])).await;
    assert_eq!(b["code"], 80100000);
    assert_eq!(b["data"]["sendResult"], true);
    assert_eq!(b["data"]["expireTokens"], json!([T2]));
    assert_eq!(b["data"]["failTokens"], json!(["bad token"]));
    assert_eq!(env.mock.push_count(), 1);

    env.mock.set_token_outcome(T1, HonorOutcome::InvalidToken);
    let (_, b) = send(&env, &at, message(&[T1, T2])).await;
    assert_eq!(b["code"], 80300007);
    assert_eq!(b["data"]["sendResult"], false);
    assert_eq!(b["data"]["failTokens"], json!([T1]));
    assert_eq!(b["data"]["expireTokens"], json!([T2]));
    env.mock.clear_token_outcome(T1);
    env.mock.set_token_outcome(T1, HonorOutcome::TokenExpired);
    let (_, b) = send(&env, &at, message(&[T1])).await;
    assert_eq!(b["data"]["expireTokens"], json!([T1]));
    assert_eq!(env.mock.push_count(), 1);
}

#[tokio::test]
async fn scripted_outcomes() {
    let env = start().await;
    let at = access_token(&env).await;
    env.mock.fail_next(
        1,
        HonorOutcome::ServiceUnavailable {
            retry_after_secs: Some(3),
        },
    );
    let (s, h, _) = send_req(&env, req(&env, &at, &message(&[T1]))).await;
    assert_eq!((s, h["retry-after"].to_str().unwrap()), (503, "3"));
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], 200);

    env.mock.fail_all(Some(HonorOutcome::InternalError));
    let (s, b) = send(&env, &at, message(&[T1])).await;
    assert_eq!((s, &b["code"]), (500, &json!(81000001)));
    // Checks come first.
    assert_eq!(send(&env, &at, message(&[])).await.1["code"], 80300010);
    env.mock.fail_all(None);

    env.mock
        .set_token_outcome(T2, HonorOutcome::AuthTokenExpired);
    let (s, b) = send(&env, &at, message(&[T1, T2])).await;
    assert_eq!((s, &b["code"]), (401, &json!(80200003)));
    env.mock.set_token_outcome(T2, HonorOutcome::AppForbidden);
    assert_eq!(send(&env, &at, message(&[T2])).await.1["code"], 80300002);
    env.mock.fail_next(1, HonorOutcome::IllegalMessage);
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], 80100003);

    env.mock.set_latency(Duration::from_millis(120));
    let t0 = std::time::Instant::now();
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], 200);
    assert!(t0.elapsed() >= Duration::from_millis(120));

    env.mock.reset();
    assert_eq!((env.mock.push_count(), env.mock.request_count()), (0, 0));
    env.mock.expire_access_tokens();
    assert_eq!(send(&env, &at, message(&[T1])).await.1["code"], 80200003);
}

#[test]
fn notifier_credentials_are_the_required_fields() {
    let v = HonorMockConfig::for_tests().notifier_credentials();
    assert_eq!(v.as_object().unwrap().len(), 3);
    openpush_core::notifier::check_credentials(openpush_core::notifier::VendorKind::Honor, &v)
        .unwrap();
}
