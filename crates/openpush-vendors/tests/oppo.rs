//! The OPPO client against the OPPO mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::SystemClock;
use openpush_vendor_mock::oppo::{OppoMock, OppoMockConfig, OppoOutcome, OppoSendKind};
use openpush_vendor_mock::MockServer;
use openpush_vendors::oppo::{OppoClient, OppoCredentials, OppoOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: OppoMock,
    server: MockServer,
}

async fn env_with(cfg: OppoMockConfig) -> Env {
    let mock = OppoMock::new(cfg, Arc::new(SystemClock));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn env() -> Env {
    env_with(OppoMockConfig::for_tests()).await
}

fn options() -> OppoOptions {
    OppoOptions {
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

impl Env {
    fn client(&self) -> OppoClient {
        let c = self.mock.notifier_credentials();
        OppoClient::with_options(
            OppoCredentials {
                app_key: c["app_key"].as_str().unwrap().into(),
                master_secret: c["master_secret"].as_str().unwrap().into(),
                base_url: Some(self.server.url()),
            },
            options(),
        )
        .unwrap()
    }
}

fn msg(v: Value) -> PushMessage {
    PushMessage::parse(v).unwrap()
}

fn simple() -> PushMessage {
    msg(json!({"title": "Hello", "content": "World"}))
}

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("CN_regid{i:05}")).collect()
}

#[tokio::test]
async fn maps_the_oppo_block_on_unicast() {
    let e = env().await;
    let c = e.client();
    let m = msg(json!({
        "title": "Generic", "content": "Generic body", "ext": {"orderId": 42},
        "oppo": {"title": "OPPO title", "channelId": "im", "style": 1, "clickActionType": 2,
                 "clickActionUrl": "https://x.example", "offLineTtl": 3600, "notifyLevel": 2}
    }));
    let out = c.send_many(&["CN_one"], &m, Some(77)).await;
    let [VendorOutcome::Sent { raw }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(raw["code"], 0);
    assert!(raw["data"]["messageId"].as_str().is_some());
    let p = e.mock.pushes();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].kind, p[0].token.as_str()),
        (OppoSendKind::Unicast, "CN_one")
    );
    assert_eq!(
        p[0].payload,
        json!({
            "title": "OPPO title", "content": "Generic body", "style": 1, "channel_id": "im",
            "notify_level": 2, "click_action_type": 2, "click_action_url": "https://x.example",
            "off_line_ttl": 3600,
            "action_parameters": "{\"orderId\":\"42\",\"EPush\":\"{\\\"provider\\\":\\\"OPPO\\\",\\\"report\\\":{\\\"task_id\\\":77}}\"}"
        })
    );
}

#[tokio::test]
async fn many_tokens_use_one_saved_message_and_1000_id_broadcasts() {
    let e = env().await;
    let c = e.client();
    let ts = tokens(2500);
    let out = c.send_many(&ts, &simple(), Some(1)).await;
    assert_eq!(out.len(), 2500);
    assert!(out.iter().all(VendorOutcome::is_success));
    // 1 auth + 1 save_message_content + ceil(2500 / 1000) broadcasts.
    assert_eq!(e.mock.request_count(), 1 + 1 + 3);
    assert_eq!(e.mock.push_count(), 2500);
    let p = e.mock.pushes();
    assert!(p
        .iter()
        .all(|p| p.kind == OppoSendKind::Broadcast && p.title == "Hello"));
    let mut seen: Vec<_> = p.iter().map(|p| p.token.clone()).collect();
    seen.sort();
    assert_eq!(seen, ts);
    // The saved content carries the custom data as form text.
    assert!(p[0].payload["action_parameters"]
        .as_str()
        .unwrap()
        .contains("EPush"));
}

#[tokio::test]
async fn dead_and_refused_tokens_are_split_out() {
    let e = env().await;
    let c = e.client();
    let ts = tokens(5);
    e.mock.unregister(&ts[1]);
    e.mock.set_token_outcome(
        &ts[3],
        OppoOutcome::Refused {
            code: 10001,
            message: "bad".into(),
        },
    );
    let out = c.send_many(&ts, &simple(), None).await;
    assert!(out[0].is_success() && out[2].is_success() && out[4].is_success());
    assert!(
        matches!(out[1], VendorOutcome::TokenDead { .. }),
        "{:?}",
        out[1]
    );
    let VendorOutcome::Rejected { reason, raw } = &out[3] else {
        panic!("{:?}", out[3])
    };
    assert!(reason.contains("10001"), "{reason}");
    assert_eq!(raw["data"]["10000"], json!([ts[1]]));
    // Unicast: code 10000 is a dead token.
    let out = c.send_many(&ts[1..2], &simple(), None).await;
    assert!(
        matches!(out[0], VendorOutcome::TokenDead { .. }),
        "{:?}",
        out[0]
    );
    assert_eq!(e.mock.push_count(), 3);
}

#[tokio::test]
async fn auth_token_is_cached_and_refreshed_when_refused() {
    let e = env().await;
    let c = e.client();
    for _ in 0..3 {
        assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    }
    assert!(c
        .send_many(&tokens(3), &simple(), None)
        .await
        .iter()
        .all(VendorOutcome::is_success));
    assert_eq!((e.mock.tokens_issued(), c.auth_tokens_fetched()), (1, 1));
    e.mock.expire_auth_tokens();
    assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    assert_eq!(e.mock.tokens_issued(), 2);
    // A token OPPO keeps refusing: one refresh, then an error.
    e.mock.fail_all(Some(OppoOutcome::AuthTokenExpired));
    let out = c.send_many(&["CN_a"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("OPPO auth")),
        "{out:?}"
    );
    assert_eq!(e.mock.tokens_issued(), 3);
}

#[tokio::test]
async fn busy_and_5xx_are_retried() {
    let e = env().await;
    let c = e.client();
    e.mock.fail_next(1, OppoOutcome::FlowControl);
    e.mock.fail_next(
        1,
        OppoOutcome::Http {
            status: 503,
            retry_after_secs: None,
        },
    );
    assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    e.mock.fail_next(1, OppoOutcome::ServiceUnavailable);
    assert!(c
        .send_many(&tokens(3), &simple(), None)
        .await
        .iter()
        .all(VendorOutcome::is_success));
    e.mock.fail_all(Some(OppoOutcome::Http {
        status: 500,
        retry_after_secs: None,
    }));
    let out = c.send_many(&["CN_a"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("gave up after 3")),
        "{out:?}"
    );
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let e = env().await;
    let c = e.client();
    assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    e.mock.fail_next(
        1,
        OppoOutcome::Http {
            status: 429,
            retry_after_secs: Some(1),
        },
    );
    let start = Instant::now();
    assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn bad_secret_quota_and_local_checks_fail_clearly() {
    let e = env().await;
    let bad = OppoClient::with_options(
        OppoCredentials {
            app_key: e.mock.config().apps[0].app_key.clone(),
            master_secret: "wrong".into(),
            base_url: Some(e.server.url()),
        },
        options(),
    )
    .unwrap();
    let out = bad.send_many(&tokens(2), &simple(), None).await;
    assert!(out.iter().all(|o| matches!(o, VendorOutcome::Error { reason } if reason.contains("OPPO auth failed: code 16"))), "{out:?}");

    let c = e.client();
    e.mock.fail_next(1, OppoOutcome::QuotaExceeded);
    let out = c.send_many(&["CN_a"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("quota")),
        "{out:?}"
    );

    // Custom data OPPO would refuse: no request is made.
    let before = e.mock.request_count();
    let ap: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("p{i}"), json!("y".repeat(90))))
        .collect();
    let m = msg(json!({"title": "t", "content": "c", "oppo": {"actionParameters": ap}}));
    let out = c.send_many(&tokens(2), &m, None).await;
    assert!(out
        .iter()
        .all(|o| matches!(o, VendorOutcome::Rejected { .. })));
    assert_eq!(e.mock.request_count(), before);
}

#[tokio::test]
async fn from_notifier_reads_the_stored_fields() {
    let e = env().await;
    let c =
        OppoClient::from_notifier(&e.mock.notifier_credentials(), Some(e.server.url())).unwrap();
    assert!(c.send_many(&["CN_a"], &simple(), None).await[0].is_success());
    assert!(OppoClient::from_notifier(&json!({"app_key": "k"}), None).is_err());
    let default =
        OppoClient::from_notifier(&json!({"app_key": "k", "master_secret": "s"}), None).unwrap();
    assert_eq!(default.base_url(), "https://api.push.oppomobile.com");
}
