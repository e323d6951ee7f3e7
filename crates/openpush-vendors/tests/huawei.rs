//! The Huawei client against the Huawei mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::huawei::{HuaweiMock, HuaweiMockConfig, HuaweiOutcome};
use openpush_vendor_mock::MockServer;
use openpush_vendors::huawei::{HuaweiClient, HuaweiOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: HuaweiMock,
    server: MockServer,
}

async fn start_with_clock(clock: Arc<dyn Clock>) -> Env {
    let mock = HuaweiMock::new(HuaweiMockConfig::for_tests(), clock);
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn start() -> Env {
    start_with_clock(Arc::new(SystemClock)).await
}

fn options() -> HuaweiOptions {
    HuaweiOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
            max_throttled_attempts: 3,
        },
        ..Default::default()
    }
}

fn client_for(env: &Env, creds: &Value) -> HuaweiClient {
    HuaweiClient::from_notifier_with_options(creds, Some(env.server.url()), options()).unwrap()
}

fn client(env: &Env) -> HuaweiClient {
    client_for(env, &env.mock.notifier_credentials())
}

fn token(i: usize) -> String {
    format!("AFcSAHhhnxdrMCYBxth2QOG9IgY2VydGlmaWNhdGU{i:05}")
}

fn simple() -> PushMessage {
    PushMessage::parse(json!({"title": "Hello", "content": "World"})).unwrap()
}

#[tokio::test]
async fn maps_the_message_and_the_huawei_block() {
    let env = start().await;
    let c = client(&env);
    let message = PushMessage::parse(json!({
        "title": "Generic", "content": "Body",
        "ext": {"orderId": "42"},
        "config": {"clickAction": {"url": "https://example.com/x"}, "timeToLive": 3600},
        "huawei": {"message": {
            "notification": {"title": "HW title", "image": "https://example.com/i.png"},
            "android": {"collapseKey": 5, "urgency": "HIGH", "category": "IM", "biTag": "bt",
                "notification": {"channelId": "chat", "importance": "NORMAL", "style": 1,
                    "bigTitle": "BT", "bigBody": "BB",
                    "badge": {"addNum": 2, "badgeClass": "com.example.Main"}}}
        }}
    }))
    .unwrap();
    let out = c.send_many(&[token(1)], &message, Some(77)).await;
    let VendorOutcome::Sent { raw } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(raw["code"], "80000000");
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 1);
    let p = &pushes[0];
    assert_eq!(p.token, token(1));
    assert_eq!(p.title.as_deref(), Some("HW title"));
    assert_eq!(p.body.as_deref(), Some("Body"));
    let data: Value = serde_json::from_str(p.data.as_deref().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"orderId": "42", "EPush": {"provider": "HUAWEI", "report": {"task_id": 77}}})
    );
    assert_eq!(
        p.message["notification"],
        json!({"title": "HW title", "body": "Body", "image": "https://example.com/i.png"})
    );
    assert_eq!(
        p.message["android"],
        json!({
            "collapse_key": 5, "urgency": "HIGH", "category": "IM", "bi_tag": "bt",
            "ttl": "3600s",
            "notification": {"channel_id": "chat", "importance": "NORMAL", "style": 1,
                "big_title": "BT", "big_body": "BB",
                "badge": {"add_num": 2, "class": "com.example.Main"},
                "click_action": {"type": 2, "url": "https://example.com/x"}}
        })
    );
}

#[tokio::test]
async fn batches_by_1000_with_one_access_token() {
    let env = start().await;
    let c = client(&env);
    let tokens: Vec<String> = (0..2500).map(token).collect();
    let outs = c.send_many(&tokens, &simple(), Some(1)).await;
    assert_eq!(outs.len(), 2500);
    assert!(outs.iter().all(VendorOutcome::is_success));
    assert_eq!(env.mock.request_count(), 3);
    assert_eq!(env.mock.push_count(), 2500);
    // Every token delivered exactly once.
    let mut seen: Vec<String> = env.mock.pushes().into_iter().map(|p| p.token).collect();
    seen.sort();
    assert_eq!(seen, tokens);
    for _ in 0..3 {
        assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    }
    assert_eq!(env.mock.tokens_issued(), 1);
    assert_eq!(c.access_tokens_fetched(), 1);
}

#[tokio::test]
async fn illegal_tokens_are_dead_and_the_rest_sent() {
    let env = start().await;
    let c = client(&env);
    env.mock.unregister(&token(2));
    let tokens = [token(1), token(2), token(3)];
    let outs = c.send_many(&tokens, &simple(), None).await;
    assert!(outs[0].is_success());
    match &outs[1] {
        VendorOutcome::TokenDead { raw } => assert_eq!(raw["code"], "80100000"),
        other => panic!("{other:?}"),
    }
    assert!(outs[2].is_success());

    // Every token invalid: 80300007, all dead.
    env.mock
        .set_token_outcome(&token(1), HuaweiOutcome::InvalidToken);
    let outs = c.send_many(&tokens[..2], &simple(), None).await;
    assert!(outs
        .iter()
        .all(|o| matches!(o, VendorOutcome::TokenDead { raw } if raw["code"] == "80300007")));
}

#[tokio::test]
async fn refused_messages_are_rejected() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(1, HuaweiOutcome::IllegalMessage);
    let outs = c.send_many(&[token(1), token(2)], &simple(), None).await;
    for o in &outs {
        match o {
            VendorOutcome::Rejected { raw, reason } => {
                assert_eq!(raw["code"], "80100003");
                assert!(reason.contains("80100003"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Too big for Huawei: refused locally, no request.
    let requests = env.mock.request_count();
    let big = PushMessage::parse(json!({"title": "t", "content": "c",
        "huawei": {"message": {"data": "x".repeat(5000)}}}))
    .unwrap();
    let outs = c.send_many(&[token(1)], &big, None).await;
    match &outs[0] {
        VendorOutcome::Rejected { reason, .. } => assert!(reason.contains("4096"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mock.request_count(), requests);
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let env = start_with_clock(Arc::new(clock.clone())).await;
    let c = client(&env);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    // The mock's clock passes the token's hour; the client still thinks it valid.
    clock.advance_ms(3_601_000);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert_eq!(env.mock.tokens_issued(), 2);
    assert_eq!(env.mock.request_count(), 3);

    // A token refused even after a refresh is an auth error.
    env.mock.fail_all(Some(HuaweiOutcome::AuthTokenExpired));
    match &c.send_many(&[token(1)], &simple(), None).await[0] {
        VendorOutcome::Error { reason } => assert!(reason.contains("Huawei auth"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mock.tokens_issued(), 3);
}

#[tokio::test]
async fn traffic_control_and_internal_errors_are_retried() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(
        1,
        HuaweiOutcome::TrafficControl {
            retry_after_secs: None,
        },
    );
    env.mock.fail_next(1, HuaweiOutcome::InternalError);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert_eq!(env.mock.request_count(), 3);

    env.mock.fail_next(
        1,
        HuaweiOutcome::TrafficControl {
            retry_after_secs: Some(1),
        },
    );
    let t0 = Instant::now();
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());

    env.mock.fail_all(Some(HuaweiOutcome::InternalError));
    let before = env.mock.request_count();
    match &c.send_many(&[token(1)], &simple(), None).await[0] {
        VendorOutcome::Error { reason } => assert!(reason.contains("81000001"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mock.request_count() - before, 3, "3 attempts at most");
}

#[tokio::test]
async fn configuration_errors_are_errors() {
    let env = start().await;
    let mut creds = env.mock.notifier_credentials();
    creds["client_secret"] = json!("wrong-secret");
    let c = client_for(&env, &creds);
    let outs = c.send_many(&[token(1), token(2)], &simple(), None).await;
    for o in &outs {
        match o {
            VendorOutcome::Error { reason } => {
                assert!(reason.contains("Huawei"), "{reason}");
                assert!(reason.contains("invalid client_secret"), "{reason}");
                assert!(!reason.contains("wrong-secret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(env.mock.request_count(), 0);

    let c = client(&env);
    env.mock.fail_next(1, HuaweiOutcome::AppForbidden);
    assert!(matches!(
        &c.send_many(&[token(1)], &simple(), None).await[0],
        VendorOutcome::Error { reason } if reason.contains("80300002")
    ));

    // An explicit token_url wins over the base URL.
    let mut creds = env.mock.notifier_credentials();
    creds["token_url"] = json!(format!("{}/oauth2/v3/token", env.server.url()));
    let c = HuaweiClient::from_notifier_with_options(
        &creds,
        Some("http://127.0.0.1:9".into()),
        HuaweiOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..options().retry
            },
            ..options()
        },
    )
    .unwrap();
    assert!(matches!(
        &c.send_many(&[token(1)], &simple(), None).await[0],
        VendorOutcome::Error { reason } if reason.contains("Huawei request failed")
    ));
    assert_eq!(c.access_tokens_fetched(), 1);
}
