//! The FCM HTTP v1 client against the FCM mock.

use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_vendor_mock::{FcmOutcome, FcmTarget, MockVendors};
use openpush_vendors::fcm::{FcmClient, FcmCredentials, FcmOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};

const TOKEN: &str = "fcmToken_abcdefghijklmnopqrstuvwxyz0123456789:APA91b";

fn token(i: usize) -> String {
    format!("{TOKEN}-{i:04}")
}

fn creds(m: &MockVendors) -> FcmCredentials {
    FcmCredentials {
        service_account_json: m.fcm_service_account_json().to_string(),
        base_url: Some(m.fcm_url()),
        token_url: None,
    }
}

fn client(m: &MockVendors) -> FcmClient {
    FcmClient::with_options(
        creds(m),
        FcmOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(100),
                max_retry_after: Duration::from_secs(5),
                max_throttled_attempts: 3,
            },
            ..Default::default()
        },
    )
    .unwrap()
}

fn msg(v: Value) -> PushMessage {
    PushMessage::parse(v).unwrap()
}

fn simple() -> PushMessage {
    msg(json!({"title": "Hello", "content": "World"}))
}

#[tokio::test]
async fn maps_the_message_and_the_fcm_v1_block() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    let message = msg(json!({
        "title": "Generic title",
        "content": "Generic body",
        "ext": {"orderId": "42", "n": 7, "obj": {"a": 1}},
        "fcmV1": {
            "data": {"k": "v"},
            "notification": {"title": "FCM title", "image": "https://example.com/i.png"},
            "androidConfig": {
                "collapseKey": "ck",
                "priority": "HIGH",
                "ttl": "3600",
                "directBootOk": true,
                "androidNotification": {"channelId": "chat", "color": "#ff0000",
                                         "bodyLocArgs": ["x"], "clickAction": "OPEN"}
            },
            "apnsConfig": {"headers": {"apns-push-type": "alert", "apns-priority": 10},
                           "payload": {"aps": {"badge": 1}}},
            "options": {"analyticsLabel": "campaign"}
        }
    }));
    let out = c.send(TOKEN, &message, Some(5)).await;
    let VendorOutcome::Sent { raw } = out else {
        panic!("{out:?}")
    };
    assert!(raw["name"]
        .as_str()
        .unwrap()
        .starts_with("projects/openpush-test/messages/"));
    let msgs = m.fcm().messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].target, FcmTarget::Token(TOKEN.into()));
    assert_eq!(
        msgs[0].message,
        json!({
            "token": TOKEN,
            "notification": {"title": "FCM title", "body": "Generic body",
                             "image": "https://example.com/i.png"},
            "data": {"k": "v", "orderId": "42", "n": "7", "obj": "{\"a\":1}",
                     "EPush": "{\"provider\":\"FCM\",\"report\":{\"task_id\":5}}"},
            "android": {
                "collapse_key": "ck",
                "priority": "high",
                "direct_boot_ok": true,
                "notification": {"color": "#ff0000", "click_action": "OPEN",
                                 "body_loc_args": ["x"], "channel_id": "chat"},
                "ttl": "3600s"
            },
            "apns": {"headers": {"apns-push-type": "alert", "apns-priority": "10"},
                     "payload": {"aps": {"badge": 1}}},
            "fcm_options": {"analytics_label": "campaign"}
        })
    );
    m.shutdown().await;
}

#[tokio::test]
async fn data_only_and_plain_messages() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    let data = msg(json!({"title": "t", "content": "c", "ext": {"x": "1"},
        "fcmV1": {"type": "DATA"}}));
    assert!(c.send(TOKEN, &data, None).await.is_success());
    let msgs = m.fcm().messages();
    assert_eq!(
        msgs[0].message,
        json!({"token": TOKEN, "notification": {"title": "Hello", "body": "World"}})
    );
    assert_eq!(msgs[1].message, json!({"token": TOKEN, "data": {"x": "1"}}));
    m.shutdown().await;
}

#[tokio::test]
async fn one_access_token_for_many_sends() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    let tokens: Vec<String> = (0..50).map(token).collect();
    // Concurrent first sends: the refresh is single-flight.
    let outs = c.send_many(&tokens, &simple(), Some(1)).await;
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    for _ in 0..5 {
        assert!(c.send(TOKEN, &simple(), None).await.is_success());
    }
    assert_eq!(m.fcm().tokens_issued(), 1);
    assert_eq!(c.access_tokens_fetched(), 1);
    assert_eq!(m.fcm().message_count(), 55);
    m.shutdown().await;
}

#[tokio::test]
async fn dead_tokens_are_token_dead() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    m.fcm().unregister(&token(1));
    match c.send(&token(1), &simple(), None).await {
        VendorOutcome::TokenDead { raw } => assert_eq!(raw["error"]["status"], "NOT_FOUND"),
        other => panic!("{other:?}"),
    }
    // Malformed: the mock's own check (400 INVALID_ARGUMENT on message.token).
    match c.send("short", &simple(), None).await {
        VendorOutcome::TokenDead { raw } => {
            assert_eq!(raw["error"]["status"], "INVALID_ARGUMENT")
        }
        other => panic!("{other:?}"),
    }
    m.fcm()
        .set_token_outcome(&token(2), FcmOutcome::InvalidToken);
    assert!(matches!(
        c.send(&token(2), &simple(), None).await,
        VendorOutcome::TokenDead { .. }
    ));
    m.shutdown().await;
}

#[tokio::test]
async fn bad_payloads_and_sender_mismatch_are_rejected() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    // A reserved data key.
    let reserved = msg(json!({"title": "t", "content": "c", "fcmV1": {"data": {"from": "x"}}}));
    match c.send(TOKEN, &reserved, None).await {
        VendorOutcome::Rejected { raw, reason } => {
            assert_eq!(raw["error"]["status"], "INVALID_ARGUMENT");
            assert!(reason.contains("from"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    m.fcm()
        .set_token_outcome(&token(3), FcmOutcome::SenderIdMismatch);
    match c.send(&token(3), &simple(), None).await {
        VendorOutcome::Rejected { reason, .. } => {
            assert!(reason.contains("SENDER_ID_MISMATCH"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.fcm().message_count(), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn waits_for_retry_after_then_sends() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    m.fcm().fail_next(
        1,
        FcmOutcome::QuotaExceeded {
            retry_after_secs: 1,
        },
    );
    let t0 = Instant::now();
    let out = c.send(TOKEN, &simple(), None).await;
    assert!(out.is_success(), "{out:?}");
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(m.fcm().request_count(), 2);

    m.fcm().fail_next(1, FcmOutcome::Internal);
    m.fcm().fail_next(
        1,
        FcmOutcome::Unavailable {
            retry_after_secs: None,
        },
    );
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    assert_eq!(m.fcm().request_count(), 5);

    m.fcm().fail_all(Some(FcmOutcome::Internal));
    assert!(matches!(
        c.send(TOKEN, &simple(), None).await,
        VendorOutcome::Error { .. }
    ));
    assert_eq!(m.fcm().request_count(), 8, "3 attempts at most");
    m.shutdown().await;
}

#[tokio::test]
async fn refreshes_a_revoked_access_token_once() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    m.fcm().revoke_access_tokens();
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    assert_eq!(m.fcm().tokens_issued(), 2);

    // THIRD_PARTY_AUTH_ERROR is a credential stored at Google: no new access token helps.
    m.fcm()
        .set_token_outcome(&token(9), FcmOutcome::ThirdPartyAuthError);
    match c.send(&token(9), &simple(), None).await {
        VendorOutcome::Error { reason } => {
            assert!(reason.contains("THIRD_PARTY_AUTH_ERROR"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.fcm().tokens_issued(), 2);
    m.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_failure_is_an_auth_error() {
    let m = MockVendors::start().await.unwrap();
    // Another project's key: the mock does not know the account.
    let other = openpush_vendor_mock::FcmServiceAccount::for_tests("other-project");
    let c = FcmClient::new(FcmCredentials {
        service_account_json: other.to_json(&m.fcm_token_uri()).to_string(),
        base_url: Some(m.fcm_url()),
        token_url: None,
    })
    .unwrap();
    match c.send(TOKEN, &simple(), None).await {
        VendorOutcome::Error { reason } => assert!(reason.contains("invalid_grant"), "{reason}"),
        other => panic!("{other:?}"),
    }
    m.shutdown().await;
}

#[test]
fn debug_hides_the_key() {
    let c = FcmCredentials {
        service_account_json: r#"{"private_key":"-----BEGIN PRIVATE KEY-----secret"}"#.into(),
        base_url: None,
        token_url: None,
    };
    let d = format!("{c:?}");
    assert!(!d.contains("secret"), "{d}");
    assert!(FcmClient::new(c).is_err());
}

#[tokio::test]
async fn a_key_file_without_private_key_id_or_token_uri_works() {
    let m = MockVendors::start().await.unwrap();
    let mut sa = m.fcm_service_account_json();
    let o = sa.as_object_mut().unwrap();
    o.remove("private_key_id");
    o.remove("token_uri");
    let c = FcmClient::new(FcmCredentials {
        service_account_json: sa.to_string(),
        base_url: Some(m.fcm_url()),
        token_url: Some(m.fcm_token_uri()),
    })
    .unwrap();
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    assert_eq!(c.project_id(), "openpush-test");
    m.shutdown().await;
}
