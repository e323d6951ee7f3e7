//! The vivo client against the vivo mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::SystemClock;
use openpush_vendor_mock::vivo::{VivoMock, VivoMockConfig, VivoOutcome, VivoSendKind};
use openpush_vendor_mock::MockServer;
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::vivo::{VivoClient, VivoCredentials, VivoOptions};
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: VivoMock,
    server: MockServer,
}

async fn env_with(cfg: VivoMockConfig) -> Env {
    let mock = VivoMock::new(cfg, Arc::new(SystemClock));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn env() -> Env {
    env_with(VivoMockConfig::for_tests()).await
}

fn options() -> VivoOptions {
    VivoOptions {
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
    fn creds(&self, secret: Option<&str>) -> VivoCredentials {
        let a = &self.mock.config().apps[0];
        VivoCredentials {
            app_id: a.app_id.clone(),
            app_key: a.app_key.clone(),
            app_secret: secret.map_or_else(|| a.app_secret.clone(), str::to_owned),
            base_url: Some(self.server.url()),
        }
    }

    fn client(&self) -> VivoClient {
        VivoClient::with_options(self.creds(None), options()).unwrap()
    }
}

fn msg(v: Value) -> PushMessage {
    PushMessage::parse(v).unwrap()
}

fn simple() -> PushMessage {
    msg(json!({"title": "Hello", "content": "World"}))
}

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("vivo_reg_{i:05}")).collect()
}

#[tokio::test]
async fn maps_the_vivo_block_on_single_send() {
    let e = env().await;
    let c = e.client();
    let m = msg(json!({
        "title": "Generic", "content": "Generic body", "ext": {"orderId": 42},
        "config": {"clickAction": {"url": "https://x.example"}},
        "vivo": {"title": "vivo title", "notifyType": 2, "timeToLive": 3600,
                 "classification": 1, "category": "IM", "requestId": "req-1",
                 "extra": {"callback": "https://cb.example"}}
    }));
    let out = c.send_many(&["reg-one"], &m, Some(5)).await;
    let [VendorOutcome::Sent { raw }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(raw["result"], 0);
    assert!(raw["taskId"].as_str().is_some());
    let p = e.mock.pushes();
    assert_eq!(
        (p[0].kind, p[0].token.as_str()),
        (VivoSendKind::Single, "reg-one")
    );
    let app_id: u64 = e.mock.config().apps[0].app_id.parse().unwrap();
    // The message's requestId, made unique per call (vivo drops a requestId it has seen).
    let mut payload = p[0].payload.clone();
    let rid = payload["requestId"].as_str().unwrap().to_owned();
    assert!(rid.starts_with("req-1-") && rid.len() == 22, "{rid}");
    payload["requestId"] = json!("req-1");
    assert_eq!(
        payload,
        json!({
            "regId": "reg-one", "appId": app_id, "requestId": "req-1",
            "title": "vivo title", "content": "Generic body", "notifyType": 2,
            "timeToLive": 3600, "skipType": 2, "skipContent": "https://x.example",
            "classification": 1, "category": "IM", "pushMode": 0,
            "extra": {"callback": "https://cb.example"},
            "clientCustomMap": {"orderId": "42",
                "EPush": "{\"provider\":\"VIVO\",\"report\":{\"task_id\":5}}"}
        })
    );
    // The next page of the same task (another token) is not taken for a repeat.
    let out = c.send_many(&["reg-two"], &m, Some(5)).await;
    assert!(out.iter().all(VendorOutcome::is_success), "{out:?}");
    let p = e.mock.pushes();
    assert_eq!(p.len(), 2, "both delivered");
    assert_ne!(p[1].payload["requestId"], json!(rid));
}

#[tokio::test]
async fn many_tokens_use_one_list_payload_and_2_to_1000_id_lists() {
    let e = env().await;
    let c = e.client();
    let ts = tokens(2500);
    let out = c.send_many(&ts, &simple(), None).await;
    assert_eq!(out.len(), 2500);
    assert!(
        out.iter().all(VendorOutcome::is_success),
        "{:?}",
        out.iter().find(|o| !o.is_success())
    );
    // 1 auth + 1 saveListPayload + ceil(2500 / 1000) pushToList.
    assert_eq!(e.mock.request_count(), 1 + 1 + 3);
    assert_eq!(e.mock.push_count(), 2500);
    // 1001 tokens: two lists (a list of one id would be refused).
    e.mock.reset();
    assert!(c
        .send_many(&tokens(1001), &simple(), None)
        .await
        .iter()
        .all(VendorOutcome::is_success));
    assert_eq!((e.mock.request_count(), e.mock.push_count()), (3, 1001));
    assert!(e.mock.pushes().iter().all(|p| p.kind == VivoSendKind::List));
}

#[tokio::test]
async fn invalid_users_are_split_out() {
    let e = env().await;
    let c = e.client();
    let ts = tokens(5);
    e.mock.unregister(&ts[1]);
    e.mock
        .set_token_outcome(&ts[2], VivoOutcome::InvalidUser { status: 2 });
    e.mock
        .set_token_outcome(&ts[3], VivoOutcome::InvalidUser { status: 3 });
    let out = c.send_many(&ts, &simple(), None).await;
    assert!(out[0].is_success() && out[4].is_success());
    assert!(
        matches!(out[1], VendorOutcome::TokenDead { .. }),
        "{:?}",
        out[1]
    );
    assert!(
        matches!(&out[2], VendorOutcome::Rejected { reason, .. } if reason.contains("status 2"))
    );
    assert!(
        matches!(out[3], VendorOutcome::TokenDead { .. }),
        "{:?}",
        out[3]
    );
    // Single send: 10302 is a dead token; invalidUser status 2 is a rejection.
    let out = c.send_many(&ts[1..3], &simple(), None).await;
    assert!(matches!(out[0], VendorOutcome::TokenDead { .. }));
    let out = c.send_many(&ts[1..2], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::TokenDead { raw } if raw["result"] == 10302),
        "{out:?}"
    );
    let out = c.send_many(&ts[2..3], &simple(), None).await;
    assert!(matches!(&out[0], VendorOutcome::Rejected { .. }), "{out:?}");
}

#[tokio::test]
async fn auth_token_is_cached_and_refreshed_when_refused() {
    let e = env().await;
    let c = e.client();
    for _ in 0..3 {
        assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    }
    assert!(c
        .send_many(&tokens(4), &simple(), None)
        .await
        .iter()
        .all(VendorOutcome::is_success));
    assert_eq!((e.mock.tokens_issued(), c.auth_tokens_fetched()), (1, 1));
    e.mock.expire_auth_tokens();
    assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    assert_eq!(e.mock.tokens_issued(), 2);
    e.mock.fail_all(Some(VivoOutcome::AuthTokenExpired));
    let out = c.send_many(&["r"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("vivo auth")),
        "{out:?}"
    );
    assert_eq!(e.mock.tokens_issued(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_request_id() {
    let e = env().await;
    let c = e.client();
    e.mock.fail_next(
        2,
        VivoOutcome::Http {
            status: 503,
            retry_after_secs: None,
        },
    );
    assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    assert_eq!(e.mock.push_count(), 1);
    e.mock.fail_next(
        1,
        VivoOutcome::Http {
            status: 502,
            retry_after_secs: None,
        },
    );
    assert!(c
        .send_many(&tokens(2), &simple(), None)
        .await
        .iter()
        .all(VendorOutcome::is_success));
    e.mock.fail_all(Some(VivoOutcome::Http {
        status: 500,
        retry_after_secs: None,
    }));
    let out = c.send_many(&["r"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("gave up after 3")),
        "{out:?}"
    );
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let e = env().await;
    let c = e.client();
    assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    e.mock.fail_next(
        1,
        VivoOutcome::Http {
            status: 503,
            retry_after_secs: Some(1),
        },
    );
    let start = Instant::now();
    assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn bad_secret_quota_and_local_checks_fail_clearly() {
    let e = env().await;
    let bad = VivoClient::with_options(e.creds(Some("wrong")), options()).unwrap();
    let out = bad.send_many(&tokens(2), &simple(), None).await;
    assert!(out.iter().all(|o| matches!(o, VendorOutcome::Error { reason } if reason.contains("vivo auth failed: result 10206"))), "{out:?}");

    let c = e.client();
    e.mock.fail_next(1, VivoOutcome::QuotaExceeded);
    let out = c.send_many(&["r"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Error { reason } if reason.contains("quota")),
        "{out:?}"
    );
    e.mock.fail_next(
        1,
        VivoOutcome::Refused {
            result: 10055,
            desc: "bad".into(),
        },
    );
    let out = c.send_many(&["r"], &simple(), None).await;
    assert!(
        matches!(&out[0], VendorOutcome::Rejected { reason, .. } if reason.contains("10055")),
        "{out:?}"
    );

    // 10 ext pairs + EPush = 11 clientCustomMap pairs: refused without a request.
    let before = e.mock.request_count();
    let ext: serde_json::Map<String, Value> =
        (0..10).map(|i| (format!("k{i}"), json!("v"))).collect();
    let m = msg(json!({"title": "t", "content": "c", "ext": ext}));
    let out = c.send_many(&tokens(3), &m, Some(1)).await;
    assert!(out
        .iter()
        .all(|o| matches!(o, VendorOutcome::Rejected { .. })));
    assert_eq!(e.mock.request_count(), before);
}

#[tokio::test]
async fn from_notifier_reads_the_stored_fields() {
    let e = env().await;
    let c =
        VivoClient::from_notifier(&e.mock.notifier_credentials(), Some(e.server.url())).unwrap();
    assert!(c.send_many(&["r"], &simple(), None).await[0].is_success());
    assert!(VivoClient::from_notifier(&json!({"app_id": "1", "app_key": "k"}), None).is_err());
    let default = VivoClient::from_notifier(
        &json!({"app_id": "1", "app_key": "k", "app_secret": "s"}),
        None,
    )
    .unwrap();
    assert_eq!(default.base_url(), "https://api-push.vivo.com.cn");
}
