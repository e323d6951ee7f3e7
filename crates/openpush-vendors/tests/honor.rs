//! The Honor client against the Honor mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::honor::{HonorMock, HonorMockConfig, HonorOutcome};
use openpush_vendor_mock::MockServer;
use openpush_vendors::honor::{HonorClient, HonorOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: HonorMock,
    server: MockServer,
}

async fn start_with_clock(clock: Arc<dyn Clock>) -> Env {
    let mock = HonorMock::new(HonorMockConfig::for_tests(), clock);
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn start() -> Env {
    start_with_clock(Arc::new(SystemClock)).await
}

fn options() -> HonorOptions {
    HonorOptions {
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

fn client_for(env: &Env, creds: &Value) -> HonorClient {
    HonorClient::from_notifier_with_options(creds, Some(env.server.url()), options()).unwrap()
}

fn client(env: &Env) -> HonorClient {
    client_for(env, &env.mock.notifier_credentials())
}

fn token(i: usize) -> String {
    format!("0864523047600000100000{i:05}CN01")
}

fn simple() -> PushMessage {
    PushMessage::parse(json!({"title": "Hello", "content": "World"})).unwrap()
}

#[tokio::test]
async fn maps_the_message_and_the_honor_block() {
    let env = start().await;
    let c = client(&env);
    let message = PushMessage::parse(json!({
        "title": "Generic", "content": "Body",
        "ext": {"orderId": "42"},
        "config": {"clickAction": {"action": "com.example.OPEN"}},
        "honor": {
            "data": {"source": "honor"},
            "androidConfig": {"ttl": "600", "biTag": "bt",
                "androidNotification": {"title": "Honor title", "style": 1,
                    "bigTitle": "BT", "bigBody": "BB", "importance": "LOW", "notifyId": 9,
                    "buttons": [{"name": "Open", "actionType": 0}],
                    "badgeNotification": {"addNum": 1, "badgeClass": "com.example.Main"}}}
        }
    }))
    .unwrap();
    let out = c.send_many(&[token(1)], &message, Some(12)).await;
    let VendorOutcome::Sent { raw } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(raw["code"], 200);
    assert_eq!(raw["data"]["sendResult"], true);
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 1);
    let p = &pushes[0];
    assert_eq!(p.title.as_deref(), Some("Honor title"));
    assert_eq!(p.body.as_deref(), Some("Body"));
    let data: Value = serde_json::from_str(p.data.as_deref().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"source": "honor", "orderId": "42",
               "EPush": {"provider": "HONOR", "report": {"task_id": 12}}})
    );
    assert_eq!(
        p.message["notification"],
        json!({"title": "Honor title", "body": "Body"})
    );
    assert_eq!(
        p.message["android"],
        json!({"ttl": "600", "biTag": "bt",
            "notification": {"title": "Honor title", "body": "Body", "style": 1,
                "bigTitle": "BT", "bigBody": "BB", "importance": "LOW", "notifyId": 9,
                "buttons": [{"name": "Open", "actionType": 0}],
                "badge": {"addNum": 1, "badgeClass": "com.example.Main"},
                "clickAction": {"type": 1, "action": "com.example.OPEN"}}})
    );
}

#[tokio::test]
async fn batches_by_1000_with_one_access_token() {
    let env = start().await;
    let c = client(&env);
    let tokens: Vec<String> = (0..2500).map(token).collect();
    let outs = c.send_many(&tokens, &simple(), None).await;
    assert_eq!(outs.len(), 2500);
    assert!(outs.iter().all(VendorOutcome::is_success));
    assert_eq!(env.mock.request_count(), 3);
    assert_eq!(env.mock.push_count(), 2500);
    for _ in 0..3 {
        assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    }
    assert_eq!(env.mock.tokens_issued(), 1);
    assert_eq!(c.access_tokens_fetched(), 1);
}

#[tokio::test]
async fn expire_tokens_are_dead_and_fail_tokens_rejected() {
    let env = start().await;
    let c = client(&env);
    env.mock.unregister(&token(2));
    env.mock
        .set_token_outcome(&token(3), HonorOutcome::InvalidToken);
    let outs = c
        .send_many(&[token(1), token(2), token(3)], &simple(), None)
        .await;
    assert!(outs[0].is_success());
    match &outs[1] {
        VendorOutcome::TokenDead { raw } => assert_eq!(raw["code"], 80100000),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(outs[2], VendorOutcome::Rejected { .. }),
        "{:?}",
        outs[2]
    );

    // Every token failing: 80300007, split the same way.
    let outs = c.send_many(&[token(2), token(3)], &simple(), None).await;
    assert!(matches!(&outs[0], VendorOutcome::TokenDead { raw } if raw["code"] == 80300007));
    assert!(matches!(outs[1], VendorOutcome::Rejected { .. }));
    assert_eq!(env.mock.push_count(), 1);
}

#[tokio::test]
async fn refused_messages_are_rejected() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(1, HonorOutcome::IllegalMessage);
    let outs = c.send_many(&[token(1), token(2)], &simple(), None).await;
    assert!(outs.iter().all(|o| matches!(o,
        VendorOutcome::Rejected { reason, .. } if reason.contains("80100003"))));
    let requests = env.mock.request_count();
    let big = PushMessage::parse(json!({"title": "t", "content": "c",
        "honor": {"data": {"blob": "x".repeat(5000)}}}))
    .unwrap();
    assert!(matches!(&c.send_many(&[token(1)], &big, None).await[0],
        VendorOutcome::Rejected { reason, .. } if reason.contains("4096")));
    assert_eq!(env.mock.request_count(), requests);
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let env = start_with_clock(Arc::new(clock.clone())).await;
    let c = client(&env);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    // Past the hour on the mock's clock. The client's `timestamp` header comes from the real
    // clock, so the mock's clock goes back to now afterwards.
    clock.advance_ms(3_601_000);
    env.mock.expire_access_tokens();
    clock.set_ms(SystemClock.now_ms());
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert_eq!(env.mock.tokens_issued(), 2);
    assert_eq!(env.mock.request_count(), 3);

    env.mock.fail_all(Some(HonorOutcome::AuthTokenExpired));
    match &c.send_many(&[token(1)], &simple(), None).await[0] {
        VendorOutcome::Error { reason } => assert!(reason.contains("Honor auth"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mock.tokens_issued(), 3);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(
        1,
        HonorOutcome::ServiceUnavailable {
            retry_after_secs: None,
        },
    );
    env.mock.fail_next(1, HonorOutcome::InternalError);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert_eq!(env.mock.request_count(), 3);

    env.mock.fail_next(
        1,
        HonorOutcome::ServiceUnavailable {
            retry_after_secs: Some(1),
        },
    );
    let t0 = Instant::now();
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());

    env.mock.fail_all(Some(HonorOutcome::InternalError));
    let before = env.mock.request_count();
    assert!(
        matches!(&c.send_many(&[token(1)], &simple(), None).await[0],
        VendorOutcome::Error { reason } if reason.contains("81000001"))
    );
    assert_eq!(env.mock.request_count() - before, 3, "3 attempts at most");
}

#[tokio::test]
async fn configuration_errors_are_errors() {
    let env = start().await;
    let mut creds = env.mock.notifier_credentials();
    creds["client_secret"] = json!("wrong-secret");
    let c = client_for(&env, &creds);
    for o in c.send_many(&[token(1), token(2)], &simple(), None).await {
        match o {
            VendorOutcome::Error { reason } => {
                assert!(reason.contains("Honor"), "{reason}");
                assert!(reason.contains("Invalid client secret"), "{reason}");
                assert!(!reason.contains("wrong-secret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(env.mock.request_count(), 0);

    // The Keycloak path as an explicit token URL.
    let mut creds = env.mock.notifier_credentials();
    creds["token_url"] = json!(format!(
        "{}/auth/realms/developer/protocol/openid-connect/token",
        env.server.url()
    ));
    let c = client_for(&env, &creds);
    assert!(c.send_many(&[token(1)], &simple(), None).await[0].is_success());
    env.mock.fail_next(1, HonorOutcome::AppForbidden);
    assert!(
        matches!(&c.send_many(&[token(1)], &simple(), None).await[0],
        VendorOutcome::Error { reason } if reason.contains("80300002"))
    );
}
