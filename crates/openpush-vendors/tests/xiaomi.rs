//! The Xiaomi MiPush client against the Xiaomi mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::SystemClock;
use openpush_vendor_mock::xiaomi::{XiaomiMock, XiaomiMockConfig, XiaomiOutcome};
use openpush_vendor_mock::MockServer;
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::xiaomi::{XiaomiClient, XiaomiCredentials, XiaomiOptions};
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: XiaomiMock,
    server: MockServer,
}

async fn start_with(config: XiaomiMockConfig) -> Env {
    let mock = XiaomiMock::new(config, Arc::new(SystemClock));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn start() -> Env {
    start_with(XiaomiMockConfig::for_tests()).await
}

fn options() -> XiaomiOptions {
    XiaomiOptions {
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

fn client(env: &Env) -> XiaomiClient {
    let creds = env.mock.config().notifier_credentials();
    XiaomiClient::with_options(
        XiaomiCredentials {
            app_secret: creds["app_secret"].as_str().unwrap().to_owned(),
            package: creds["package"].as_str().unwrap().to_owned(),
            base_url: Some(env.server.url()),
        },
        options(),
    )
    .unwrap()
}

fn msg(v: Value) -> PushMessage {
    PushMessage::parse(v).unwrap()
}

fn simple() -> PushMessage {
    msg(json!({"title": "Hello", "content": "World"}))
}

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("regid-{i:05}")).collect()
}

#[tokio::test]
async fn maps_the_message_and_the_xiaomi_block() {
    let env = start().await;
    let c = client(&env);
    let message = msg(json!({
        "title": "Generic title",
        "content": "Generic body",
        "ext": {"orderId": "42", "n": 7},
        "xiaomi": {
            "title": "小米标题", "description": "Xiaomi body", "notifyType": 3,
            "timeToLive": 3600000, "notifyId": 12, "channelId": "chat",
            "notifyEffect": "2", "intentUri": "intent:#Intent;action=OPEN;end",
            "jobkey": "job1", "callbackUrl": "https://cb.example.com", "callbackType": 3,
            "payload": "{\"k\":\"v w\"}"
        }
    }));
    let outs = c.send_many(&["regid-a"], &message, Some(77)).await;
    let [VendorOutcome::Sent { raw }] = outs.as_slice() else {
        panic!("{outs:?}")
    };
    assert_eq!(raw["result"], "ok");
    assert!(raw["data"]["id"].is_string());
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 1);
    let p = &pushes[0];
    assert_eq!(p.token, "regid-a");
    assert_eq!(p.title, "小米标题");
    assert_eq!(p.body, "Xiaomi body");
    assert!(!p.pass_through);
    assert_eq!(p.package, "com.example.openpush");
    assert_eq!(p.payload.as_deref(), Some("{\"k\":\"v w\"}"));
    let f = &p.fields;
    assert_eq!(f["notify_type"], "3");
    assert_eq!(f["time_to_live"], "3600000");
    assert_eq!(f["notify_id"], "12");
    assert_eq!(f["extra.channel_id"], "chat");
    assert_eq!(f["extra.notify_effect"], "2");
    assert_eq!(f["extra.intent_uri"], "intent:#Intent;action=OPEN;end");
    assert_eq!(f["extra.jobkey"], "job1");
    assert_eq!(f["extra.callback"], "https://cb.example.com");
    assert_eq!(f["extra.callback.type"], "3");
    assert_eq!(f["extra.orderId"], "42");
    assert_eq!(f["extra.n"], "7");
    assert_eq!(
        f["extra.EPush"],
        r#"{"provider":"XIAOMI","report":{"task_id":77}}"#
    );

    // Pass-through from the Easemob flag, payload from `ext`.
    let pt = msg(json!({"title": "t", "content": "c", "ext": {"a": "b"},
                        "easemob": {"needNotification": false}}));
    assert!(c.send_many(&["regid-b"], &pt, None).await[0].is_success());
    let p = &env.mock.pushes()[1];
    assert!(p.pass_through);
    assert_eq!(p.payload.as_deref(), Some(r#"{"a":"b"}"#));
    assert!(!p.fields.contains_key("extra.EPush"));
}

#[tokio::test]
async fn batches_up_to_1000_regids_per_request() {
    let env = start().await;
    let c = client(&env);
    let ts = tokens(2500);
    let outs = c.send_many(&ts, &simple(), Some(1)).await;
    assert_eq!(outs.len(), 2500);
    assert!(outs.iter().all(VendorOutcome::is_success));
    assert_eq!(env.mock.request_count(), 3);
    assert_eq!(env.mock.push_count(), 2500);
    let mut seen: Vec<String> = env.mock.pushes().into_iter().map(|p| p.token).collect();
    seen.sort();
    assert_eq!(seen, ts);
}

#[tokio::test]
async fn bad_regids_are_dead_and_the_rest_sent() {
    let env = start().await;
    let c = client(&env);
    let ts = tokens(5);
    env.mock.unregister(&ts[1]);
    env.mock.unregister(&ts[3]);
    let mut with_bad = ts.clone();
    with_bad.push("has,comma".into());
    let outs = c.send_many(&with_bad, &simple(), None).await;
    assert!(outs[0].is_success() && outs[2].is_success() && outs[4].is_success());
    for i in [1, 3] {
        match &outs[i] {
            VendorOutcome::TokenDead { raw } => {
                assert_eq!(raw["data"]["bad_regids"], format!("{},{}", ts[1], ts[3]))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(&outs[5], VendorOutcome::Rejected { reason, .. } if reason.contains("registration id"))
    );
    assert_eq!(env.mock.request_count(), 1);
    assert_eq!(env.mock.push_count(), 3);
}

#[tokio::test]
async fn request_failures_are_rejected_for_every_token() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(1, XiaomiOutcome::SendFailed);
    let outs = c.send_many(&tokens(3), &simple(), None).await;
    for o in &outs {
        match o {
            VendorOutcome::Rejected { raw, reason } => {
                assert_eq!(raw["code"], 20301);
                assert!(reason.contains("20301"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // A package chosen by the message and refused by Xiaomi is the message's fault.
    let other_pkg = msg(json!({"title": "t", "content": "c",
                               "xiaomi": {"restrictedPackageNames": ["com.not.mine"]}}));
    let outs = c.send_many(&tokens(1), &other_pkg, None).await;
    assert!(
        matches!(&outs[0], VendorOutcome::Rejected { reason, .. } if reason.contains("22022")),
        "{outs:?}"
    );
    assert_eq!(env.mock.push_count(), 0);
}

#[tokio::test]
async fn oversize_payload_is_rejected_without_a_request() {
    let env = start().await;
    let c = client(&env);
    let big = msg(json!({"title": "t", "content": "c",
                         "xiaomi": {"payload": "x".repeat(4097)}}));
    let outs = c.send_many(&tokens(2), &big, None).await;
    assert!(outs.iter().all(
        |o| matches!(o, VendorOutcome::Rejected { reason, .. } if reason.contains("payload"))
    ));
    assert_eq!(env.mock.request_count(), 0);
}

#[tokio::test]
async fn busy_is_retried_then_sent() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(1, XiaomiOutcome::Busy);
    env.mock.fail_next(1, XiaomiOutcome::SystemError);
    let outs = c.send_many(&tokens(2), &simple(), None).await;
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    assert_eq!(env.mock.request_count(), 3);
    assert_eq!(env.mock.push_count(), 2);

    // Always busy: gives up after max_attempts.
    env.mock.fail_all(Some(XiaomiOutcome::Busy));
    let outs = c.send_many(&tokens(1), &simple(), None).await;
    match &outs[0] {
        VendorOutcome::Error { reason } => {
            assert!(
                reason.contains("10002") && reason.contains("3 attempts"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.mock.request_count(), 6);
}

#[tokio::test]
async fn retry_after_is_obeyed() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(
        1,
        XiaomiOutcome::Http {
            status: 503,
            retry_after_secs: Some(1),
        },
    );
    let t = Instant::now();
    let outs = c.send_many(&tokens(1), &simple(), None).await;
    assert!(outs[0].is_success(), "{outs:?}");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(env.mock.request_count(), 2);
}

#[tokio::test]
async fn bad_secret_and_quota_are_errors_without_retry() {
    let env = start().await;
    let bad = XiaomiClient::with_options(
        XiaomiCredentials {
            app_secret: "not-the-secret".into(),
            package: "com.example.openpush".into(),
            base_url: Some(env.server.url()),
        },
        options(),
    )
    .unwrap();
    let outs = bad.send_many(&tokens(2), &simple(), None).await;
    for o in &outs {
        match o {
            VendorOutcome::Error { reason } => {
                assert!(
                    reason.contains("Xiaomi") && reason.contains("21301"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(env.mock.request_count(), 1, "a config error is not retried");

    let env = start_with(XiaomiMockConfig {
        daily_quota: Some(2),
        ..XiaomiMockConfig::for_tests()
    })
    .await;
    let c = client(&env);
    assert!(c.send_many(&tokens(2), &simple(), None).await[0].is_success());
    let outs = c.send_many(&tokens(1), &simple(), None).await;
    assert!(
        matches!(&outs[0], VendorOutcome::Error { reason } if reason.contains("10034")),
        "{outs:?}"
    );
    assert_eq!(env.mock.request_count(), 2);
}

#[tokio::test]
async fn from_notifier_reads_the_required_fields() {
    let env = start().await;
    let creds = env.mock.config().notifier_credentials();
    let c = XiaomiClient::from_notifier(&creds, Some(env.server.url())).unwrap();
    assert_eq!(c.package(), "com.example.openpush");
    assert!(c.send_many(&tokens(1), &simple(), None).await[0].is_success());
    assert!(XiaomiClient::from_notifier(&json!({"package": "p"}), None).is_err());
    assert!(!format!("{c:?}").contains(creds["app_secret"].as_str().unwrap()));
}
