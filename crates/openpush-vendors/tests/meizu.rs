//! The Meizu push client against the Meizu mock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::SystemClock;
use openpush_vendor_mock::meizu::{MeizuMock, MeizuMockConfig, MeizuOutcome};
use openpush_vendor_mock::MockServer;
use openpush_vendors::meizu::{MeizuClient, MeizuCredentials, MeizuOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

struct Env {
    mock: MeizuMock,
    server: MockServer,
}

async fn start_with(config: MeizuMockConfig) -> Env {
    let mock = MeizuMock::new(config, Arc::new(SystemClock));
    let server = MockServer::start(mock.router()).await.unwrap();
    Env { mock, server }
}

async fn start() -> Env {
    start_with(MeizuMockConfig::for_tests()).await
}

fn options() -> MeizuOptions {
    MeizuOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
            max_throttled_attempts: 3,
        },
        throttle_pause: Duration::from_millis(200),
        ..Default::default()
    }
}

fn client_with(env: &Env, app_secret: Option<&str>, opts: MeizuOptions) -> MeizuClient {
    let creds = env.mock.config().notifier_credentials();
    MeizuClient::with_options(
        MeizuCredentials {
            app_id: creds["app_id"].as_str().unwrap().to_owned(),
            app_secret: app_secret
                .unwrap_or(creds["app_secret"].as_str().unwrap())
                .to_owned(),
            base_url: Some(env.server.url()),
        },
        opts,
    )
    .unwrap()
}

fn client(env: &Env) -> MeizuClient {
    client_with(env, None, options())
}

fn msg(v: Value) -> PushMessage {
    PushMessage::parse(v).unwrap()
}

fn simple() -> PushMessage {
    msg(json!({"title": "Hello", "content": "World"}))
}

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("R{i:05}pushid")).collect()
}

#[tokio::test]
async fn maps_the_message_and_the_meizu_block() {
    let env = start().await;
    let c = client(&env);
    let message = msg(json!({
        "title": "Generic title",
        "content": "Generic body",
        "ext": {"orderId": "42"},
        "meizu": {
            "title": "魅族标题", "content": "Meizu body", "noticeExpandType": 1,
            "noticeExpandContent": "long text", "clickType": 2, "url": "https://e.com/x",
            "parameters": {"p": 1}, "isOffLine": true, "validTime": 48,
            "isSuspend": false, "vibrate": true, "lights": false, "notifyKey": "chat-1",
            "callback": "https://cb.example.com", "callbackParam": "cp", "callbackType": "3"
        }
    }));
    let outs = c.send_many(&["P-a"], &message, Some(9)).await;
    let [VendorOutcome::Sent { raw }] = outs.as_slice() else {
        panic!("{outs:?}")
    };
    assert_eq!(raw["code"], "200");
    assert!(raw["msgId"].is_string());
    let pushes = env.mock.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].token, "P-a");
    assert_eq!(pushes[0].title, "魅族标题");
    assert_eq!(pushes[0].body, "Meizu body");
    assert_eq!(
        pushes[0].message,
        json!({
            "noticeBarInfo": {"noticeBarType": 0, "title": "魅族标题", "content": "Meizu body"},
            "noticeExpandInfo": {"noticeExpandType": 1, "noticeExpandContent": "long text"},
            "clickTypeInfo": {"clickType": 2, "url": "https://e.com/x",
                              "parameters": {"p": 1, "orderId": "42",
                                             "EPush": {"provider": "MEIZU",
                                                       "report": {"task_id": 9}}}},
            "pushTimeInfo": {"offLine": 1, "validTime": 48},
            "advanceInfo": {"suspend": 0, "notificationType": {"vibrate": 1, "lights": 0},
                            "notifyKey": "chat-1"},
            "extra": {"callback": "https://cb.example.com", "callback.param": "cp",
                      "callback.type": "3"}
        })
    );
}

#[tokio::test]
async fn batches_up_to_100_push_ids_per_request() {
    let env = start().await;
    let c = client(&env);
    let ts = tokens(250);
    let outs = c.send_many(&ts, &simple(), Some(1)).await;
    assert_eq!(outs.len(), 250);
    assert!(outs.iter().all(VendorOutcome::is_success), "{:?}", outs[0]);
    assert_eq!(env.mock.request_count(), 3);
    assert_eq!(env.mock.push_count(), 250);
    let mut seen: Vec<String> = env.mock.pushes().into_iter().map(|p| p.token).collect();
    seen.sort();
    assert_eq!(seen, ts);
}

#[tokio::test]
async fn value_map_splits_dead_rejected_and_sent() {
    let env = start().await;
    let c = client(&env);
    let ts = tokens(6);
    env.mock.unregister(&ts[1]);
    env.mock
        .set_token_outcome(&ts[2], MeizuOutcome::IllegalPushId);
    env.mock
        .set_token_outcome(&ts[3], MeizuOutcome::NotificationsOff);
    env.mock.set_token_outcome(&ts[4], MeizuOutcome::Collapsed);
    let outs = c.send_many(&ts, &simple(), None).await;
    assert!(outs[0].is_success() && outs[5].is_success(), "{outs:?}");
    for i in [1, 2] {
        match &outs[i] {
            VendorOutcome::TokenDead { raw } => assert_eq!(raw["code"], "200"),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(&outs[3], VendorOutcome::Rejected { reason, .. } if reason.contains("110010"))
    );
    assert!(matches!(&outs[4], VendorOutcome::Rejected { reason, .. } if reason.contains("520")));
    assert_eq!(env.mock.request_count(), 1);
    assert_eq!(env.mock.push_count(), 2);
}

#[tokio::test]
async fn parameter_errors_are_rejected_and_local_limits_skip_the_request() {
    let env = start().await;
    let c = client(&env);
    // clickType 2 needs a url: Meizu answers 1005 for the whole request.
    let m = msg(json!({"title": "t", "content": "c", "meizu": {"clickType": 2}}));
    let outs = c.send_many(&tokens(2), &m, None).await;
    for o in &outs {
        match o {
            VendorOutcome::Rejected { raw, reason } => {
                assert_eq!(raw["code"], "1005");
                assert!(reason.contains("1005"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(env.mock.request_count(), 1);
    // validTime over 72 hours: refused locally.
    let m = msg(json!({"title": "t", "content": "c", "meizu": {"validTime": 100}}));
    let outs = c.send_many(&tokens(2), &m, None).await;
    assert!(outs.iter().all(
        |o| matches!(o, VendorOutcome::Rejected { reason, .. } if reason.contains("validTime"))
    ));
    let outs = c.send_many(&["a,b", ""], &simple(), None).await;
    assert!(outs
        .iter()
        .all(|o| matches!(o, VendorOutcome::Rejected { reason, .. } if reason.contains("pushId"))));
    assert_eq!(env.mock.request_count(), 1);
}

#[tokio::test]
async fn busy_is_retried_then_sent() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(1, MeizuOutcome::Busy);
    env.mock.fail_next(1, MeizuOutcome::Overload);
    let outs = c.send_many(&tokens(3), &simple(), None).await;
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    assert_eq!(env.mock.request_count(), 3);

    env.mock.fail_all(Some(MeizuOutcome::SystemError));
    let outs = c.send_many(&tokens(1), &simple(), None).await;
    assert!(
        matches!(&outs[0], VendorOutcome::Error { reason } if reason.contains("1001") && reason.contains("3 attempts")),
        "{outs:?}"
    );
    assert_eq!(env.mock.request_count(), 6);
}

#[tokio::test]
async fn retry_after_and_the_rate_limit_are_obeyed() {
    let env = start().await;
    let c = client(&env);
    env.mock.fail_next(
        1,
        MeizuOutcome::Http {
            status: 503,
            retry_after_secs: Some(1),
        },
    );
    let t = Instant::now();
    assert!(c.send_many(&tokens(1), &simple(), None).await[0].is_success());
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());

    // Top-level 110010: wait out the pause, then send.
    env.mock.fail_next(1, MeizuOutcome::RateTooFast);
    let t = Instant::now();
    assert!(c.send_many(&tokens(1), &simple(), None).await[0].is_success());
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(env.mock.request_count(), 4);
}

#[tokio::test]
async fn real_per_second_limit_is_waited_out() {
    let env = start_with(MeizuMockConfig {
        requests_per_second: Some(1),
        ..MeizuMockConfig::for_tests()
    })
    .await;
    let c = client_with(
        &env,
        None,
        MeizuOptions {
            throttle_pause: Duration::from_secs(1),
            retry: RetryPolicy {
                max_attempts: 4,
                ..options().retry
            },
            ..options()
        },
    );
    let outs = c.send_many(&tokens(250), &simple(), None).await;
    assert!(
        outs.iter().all(VendorOutcome::is_success),
        "{:?}",
        outs.last()
    );
    assert_eq!(env.mock.push_count(), 250);
    assert!(
        env.mock.request_count() >= 5,
        "{}",
        env.mock.request_count()
    );
}

#[tokio::test]
async fn bad_secret_bad_app_and_daily_limit_are_errors() {
    let env = start().await;
    let c = client_with(&env, Some("0123456789abcdef0123456789abcdef"), options());
    let outs = c.send_many(&tokens(2), &simple(), None).await;
    for o in &outs {
        match o {
            VendorOutcome::Error { reason } => {
                assert!(
                    reason.contains("Meizu") && reason.contains("1006"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(env.mock.request_count(), 1, "a config error is not retried");

    let other_app = MeizuClient::with_options(
        MeizuCredentials {
            app_id: "1".into(),
            app_secret: "x".into(),
            base_url: Some(env.server.url()),
        },
        options(),
    )
    .unwrap();
    let outs = other_app.send_many(&tokens(1), &simple(), None).await;
    assert!(matches!(&outs[0], VendorOutcome::Error { reason } if reason.contains("110000")));

    let env = start_with(MeizuMockConfig {
        daily_limit: Some(2),
        ..MeizuMockConfig::for_tests()
    })
    .await;
    let c = client(&env);
    assert!(c.send_many(&tokens(2), &simple(), None).await[0].is_success());
    let outs = c.send_many(&tokens(1), &simple(), None).await;
    assert!(
        matches!(&outs[0], VendorOutcome::Error { reason } if reason.contains("110019")),
        "{outs:?}"
    );
    assert_eq!(env.mock.request_count(), 2);
}

#[tokio::test]
async fn from_notifier_reads_the_required_fields() {
    let env = start().await;
    let creds = env.mock.config().notifier_credentials();
    let c = MeizuClient::from_notifier(&creds, Some(env.server.url())).unwrap();
    assert_eq!(c.app_id(), creds["app_id"].as_str().unwrap());
    assert!(c.send_many(&tokens(1), &simple(), None).await[0].is_success());
    assert!(MeizuClient::from_notifier(&json!({"app_id": "1"}), None).is_err());
    assert!(!format!("{c:?}").contains(creds["app_secret"].as_str().unwrap()));
}
