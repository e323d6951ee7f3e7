//! The Xiaomi MiPush mock, driven by hand-built requests as a vendor SDK sends them: it accepts
//! a correct request and answers each mistake with Xiaomi's code.

use std::sync::Arc;

use openpush_core::{ManualClock, SystemClock};
use openpush_vendor_mock::xiaomi::{
    XiaomiMock, XiaomiMockConfig, XiaomiOutcome, SEND_PATH_V2, SEND_PATH_V3,
};
use openpush_vendor_mock::MockServer;
use serde_json::Value;

const PKG: &str = "com.example.openpush";

struct Env {
    mock: XiaomiMock,
    server: MockServer,
    secret: String,
}

async fn start_with(config: XiaomiMockConfig, clock: Arc<dyn openpush_core::Clock>) -> Env {
    let secret = config.apps[0].app_secret.clone();
    let mock = XiaomiMock::new(config, clock);
    let server = MockServer::start(mock.router()).await.unwrap();
    Env {
        mock,
        server,
        secret,
    }
}

async fn start() -> Env {
    start_with(XiaomiMockConfig::for_tests(), Arc::new(SystemClock)).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn good(regids: &str) -> Vec<(&str, &str)> {
    vec![
        ("registration_id", regids),
        ("restricted_package_name", PKG),
        ("pass_through", "0"),
        ("title", "Hello"),
        ("description", "World"),
        ("notify_type", "-1"),
        ("time_to_live", "86400000"),
        ("extra.notify_effect", "1"),
        ("extra.EPush", r#"{"provider":"XIAOMI"}"#),
    ]
}

async fn post_raw(
    env: &Env,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", env.server.url()))
        .body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
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

async fn post(env: &Env, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = post_raw(
        env,
        SEND_PATH_V3,
        Some(&format!("key={}", env.secret)),
        Some("application/x-www-form-urlencoded"),
        form(pairs),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn code(v: &Value) -> i64 {
    v["code"].as_i64().unwrap_or(-999)
}

#[tokio::test]
async fn accepts_a_correct_request_and_records_each_regid() {
    let env = start().await;
    let payload = enc(r#"{"orderId":"42","text":"a&b=c d"}"#);
    let mut pairs = good("rid-1,rid-2");
    pairs.push(("payload", &payload));
    let v = post(&env, &pairs).await;
    assert_eq!(v["result"], "ok", "{v}");
    assert_eq!(code(&v), 0);
    assert!(v["data"]["id"].as_str().unwrap().starts_with("scm"));
    assert!(v["trace_id"].is_string());
    assert!(v["data"].get("bad_regids").is_none());
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].token, "rid-1");
    assert_eq!(pushes[1].token, "rid-2");
    assert_eq!(pushes[0].title, "Hello");
    assert_eq!(pushes[0].body, "World");
    assert!(!pushes[0].pass_through);
    assert_eq!(pushes[0].package, PKG);
    assert_eq!(
        pushes[0].payload.as_deref(),
        Some(r#"{"orderId":"42","text":"a&b=c d"}"#)
    );
    assert_eq!(pushes[0].fields["extra.notify_effect"], "1");
    assert!(!pushes[0].fields.contains_key("registration_id"));
    assert_eq!(env.mock.push_count(), 2);
    assert_eq!(env.mock.request_count(), 1);
    assert_eq!(env.mock.day_acked(), 2);

    // The single-package v2 path answers the same way.
    let (s, v) = post_raw(
        &env,
        SEND_PATH_V2,
        Some(&format!("key={}", env.secret)),
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        form(&good("rid-3")),
    )
    .await;
    assert_eq!((s, code(&v)), (200, 0), "{v}");
    assert_eq!(env.mock.push_count(), 3);
}

#[tokio::test]
async fn authorization_must_be_lowercase_key_and_the_app_secret() {
    let env = start().await;
    let body = form(&good("rid-1"));
    let ct = Some("application/x-www-form-urlencoded");
    let wrong = [
        None,
        Some(format!("Key={}", env.secret)),
        Some(format!("Bearer {}", env.secret)),
        Some("key=not-the-secret".to_owned()),
        Some("key=".to_owned()),
    ];
    for auth in wrong {
        let (s, v) = post_raw(&env, SEND_PATH_V3, auth.as_deref(), ct, body.clone()).await;
        assert_eq!(s, 200);
        assert_eq!(code(&v), 21301, "{auth:?}: {v}");
        assert_eq!(v["result"], "error");
        assert_eq!(v["description"], "authentication failed");
    }
    // A scripted fault never hides a bad request.
    env.mock.fail_all(Some(XiaomiOutcome::Busy));
    let (_, v) = post_raw(&env, SEND_PATH_V3, None, ct, body).await;
    assert_eq!(code(&v), 21301);
    assert_eq!(env.mock.push_count(), 0);
    assert_eq!(env.mock.request_count(), 6);
}

#[tokio::test]
async fn form_content_type_and_required_fields() {
    let env = start().await;
    let auth = format!("key={}", env.secret);
    let (_, v) = post_raw(
        &env,
        SEND_PATH_V3,
        Some(&auth),
        Some("application/json"),
        r#"{"registration_id":"rid-1"}"#.into(),
    )
    .await;
    assert_eq!(code(&v), 10017, "{v}");

    let without = |name: &str| -> Vec<(&str, &str)> {
        good("rid-1")
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect()
    };
    for name in [
        "registration_id",
        "restricted_package_name",
        "title",
        "description",
    ] {
        let v = post(&env, &without(name)).await;
        assert_eq!(code(&v), 10016, "{name}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(name), "{v}");
    }
    // Pass-through needs a payload, but no title.
    let v = post(
        &env,
        &[
            ("registration_id", "rid-1"),
            ("restricted_package_name", PKG),
            ("pass_through", "1"),
        ],
    )
    .await;
    assert_eq!(code(&v), 10016, "{v}");
    let v = post(
        &env,
        &[
            ("registration_id", "rid-1"),
            ("restricted_package_name", PKG),
            ("pass_through", "1"),
            ("payload", "hi"),
        ],
    )
    .await;
    assert_eq!(code(&v), 0, "{v}");
    assert!(env.mock.pushes()[0].pass_through);
    assert_eq!(env.mock.push_count(), 1);
}

#[tokio::test]
async fn package_name_must_belong_to_the_app() {
    let env = start().await;
    let mut pairs = good("rid-1");
    pairs[1] = ("restricted_package_name", "com.other.app");
    assert_eq!(code(&post(&env, &pairs).await), 22022);
    let two = format!("{PKG},com.other.app");
    pairs[1] = ("restricted_package_name", &two);
    assert_eq!(code(&post(&env, &pairs).await), 22022);
    // v2 takes exactly one package.
    let both = format!("{PKG},{PKG}");
    pairs[1] = ("restricted_package_name", &both);
    let (_, v) = post_raw(
        &env,
        SEND_PATH_V2,
        Some(&format!("key={}", env.secret)),
        Some("application/x-www-form-urlencoded"),
        form(&pairs),
    )
    .await;
    assert_eq!(code(&v), 22022);
    assert_eq!(code(&post(&env, &pairs).await), 0, "v3 takes a list");
}

#[tokio::test]
async fn regid_count_and_field_limits() {
    let env = start().await;
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("rid-{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let many = ids(1001);
    let v = post(&env, &good(&many)).await;
    assert_eq!(code(&v), 10017, "{v}");
    let max = ids(1000);
    assert_eq!(code(&post(&env, &good(&max)).await), 0);
    assert_eq!(env.mock.push_count(), 1000);
    assert_eq!(code(&post(&env, &good("a,,b")).await), 10017);

    let cases: Vec<(&str, String, i64)> = vec![
        ("title", "t".repeat(51), 10017),
        ("title", "   ".into(), 10017),
        ("description", "d".repeat(129), 10017),
        ("notify_type", "9".into(), 10017),
        ("time_to_live", "soon".into(), 10017),
        ("notify_id", "-1".into(), 10017),
        ("pass_through", "2".into(), 10017),
        ("payload", "p".repeat(4097), 65009),
    ];
    for (field, value, want) in &cases {
        let mut pairs: Vec<(&str, &str)> = good("rid-x")
            .into_iter()
            .filter(|(k, _)| k != field)
            .collect();
        pairs.push((*field, value.as_str()));
        let v = post(&env, &pairs).await;
        assert_eq!(code(&v), *want, "{field}: {v}");
    }
    // Limits are inclusive: 50-char title (CJK counting 1), 128-char description, 4096 bytes.
    let title = "标".repeat(50);
    let desc = "d".repeat(128);
    let payload = "p".repeat(4096);
    let pairs = [
        ("registration_id", "rid-y"),
        ("restricted_package_name", PKG),
        ("title", title.as_str()),
        ("description", desc.as_str()),
        ("payload", payload.as_str()),
    ];
    assert_eq!(code(&post(&env, &pairs).await), 0);

    // Too many custom extras.
    let keys: Vec<String> = (0..11).map(|i| format!("extra.k{i}")).collect();
    let mut pairs = good("rid-z");
    for k in &keys {
        pairs.push((k, "v"));
    }
    assert_eq!(code(&post(&env, &pairs).await), 65014);
    assert_eq!(env.mock.push_count(), 1001);
}

#[tokio::test]
async fn daily_quota_counts_messages_per_beijing_day() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut config = XiaomiMockConfig::for_tests();
    config.daily_quota = Some(3);
    let env = start_with(config, clock.clone()).await;
    let v = post(&env, &good("a,b")).await;
    assert_eq!(code(&v), 0);
    assert_eq!(v["data"]["day_acked"], "2");
    assert_eq!(v["data"]["day_quota"], "3");
    let v = post(&env, &good("c,d")).await;
    assert_eq!(code(&v), 10034, "{v}");
    assert_eq!(v["description"], "daily message quota exceeded");
    assert_eq!(code(&post(&env, &good("c")).await), 0);
    assert_eq!(code(&post(&env, &good("d")).await), 10034);
    clock.advance_ms(86_400_000);
    assert_eq!(code(&post(&env, &good("d")).await), 0);
    assert_eq!(env.mock.push_count(), 4);
}

#[tokio::test]
async fn scripted_outcomes() {
    let env = start().await;
    env.mock.unregister("dead");
    let v = post(&env, &good("ok-1,dead,ok-2")).await;
    assert_eq!(code(&v), 0);
    assert_eq!(v["data"]["bad_regids"], "dead");
    assert_eq!(env.mock.push_count(), 2);

    env.mock.fail_next(1, XiaomiOutcome::Busy);
    assert_eq!(code(&post(&env, &good("ok-1")).await), 10002);
    assert_eq!(code(&post(&env, &good("ok-1")).await), 0);

    for (o, want) in [
        (XiaomiOutcome::SystemError, 10001),
        (XiaomiOutcome::TooFrequent, 10027),
        (XiaomiOutcome::QuotaExceeded, 10034),
        (XiaomiOutcome::AuthFailed, 21301),
        (XiaomiOutcome::SendFailed, 20301),
    ] {
        env.mock.fail_next(1, o);
        assert_eq!(code(&post(&env, &good("ok-1")).await), want);
    }

    env.mock.fail_next(
        1,
        XiaomiOutcome::Http {
            status: 503,
            retry_after_secs: Some(2),
        },
    );
    let resp = reqwest::Client::new()
        .post(format!("{}{SEND_PATH_V3}", env.server.url()))
        .header("authorization", format!("key={}", env.secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&good("ok-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "2");

    // A token's request-level outcome fails the whole request.
    env.mock
        .set_token_outcome("slow", XiaomiOutcome::TooFrequent);
    assert_eq!(code(&post(&env, &good("ok-1,slow")).await), 10027);
    env.mock.clear_token_outcome("slow");
    assert_eq!(code(&post(&env, &good("ok-1,slow")).await), 0);

    env.mock.fail_all(Some(XiaomiOutcome::Busy));
    assert_eq!(code(&post(&env, &good("ok-1")).await), 10002);
    assert_eq!(code(&post(&env, &good("ok-1")).await), 10002);
    env.mock.fail_all(None);

    env.mock.set_latency(std::time::Duration::from_millis(150));
    let t = std::time::Instant::now();
    assert_eq!(code(&post(&env, &good("ok-1")).await), 0);
    assert!(t.elapsed() >= std::time::Duration::from_millis(150));

    env.mock.reset();
    assert_eq!((env.mock.push_count(), env.mock.request_count()), (0, 0));
    let v = post(&env, &good("dead")).await;
    assert!(
        v["data"].get("bad_regids").is_none(),
        "reset clears scripts"
    );
}

#[test]
fn notifier_credentials_are_the_required_fields() {
    let c = XiaomiMockConfig::for_tests();
    let v = c.notifier_credentials();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = openpush_core::notifier::VendorKind::Xiaomi
        .required_fields()
        .to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert!(obj.values().all(Value::is_string));
    assert_eq!(v["app_secret"], c.apps[0].app_secret.as_str());
    assert!(!format!("{c:?}").contains(&c.apps[0].app_secret));
}
