//! The APNs client against the APNs mock (h2c, and TLS once).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::message::PushMessage;
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::{ApnsOutcome, MockVendors, MockVendorsOptions};
use openpush_vendors::apns::{ApnsClient, ApnsCredentials, ApnsOptions};
use openpush_vendors::retry::RetryPolicy;
use openpush_vendors::VendorOutcome;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn token(i: usize) -> String {
    format!("{i:064x}")
}

fn creds(m: &MockVendors, base_url: String) -> ApnsCredentials {
    let c = m.apns_credentials();
    ApnsCredentials {
        key_p8_pem: c.p8_pem(),
        key_id: c.key_id.clone(),
        team_id: c.team_id.clone(),
        bundle_id: c.bundle_id.clone(),
        production: true,
        base_url: Some(base_url),
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
        max_throttled_attempts: 3,
    }
}

fn client(m: &MockVendors) -> ApnsClient {
    ApnsClient::with_options(
        creds(m, m.apns_url()),
        ApnsOptions {
            retry: fast_retry(),
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
async fn maps_the_message_and_the_apns_block() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    let message = msg(json!({
        "title": "Generic title",
        "subTitle": "sub",
        "content": "Generic body",
        "ext": {"orderId": "42", "n": 7},
        "apns": {
            "title": "iOS title",
            "content": "iOS body",
            "badge": 3,
            "sound": "ping.caf",
            "mutableContent": true,
            "contentAvailable": true,
            "categoryName": "REPLY",
            "threadId": "chat-1",
            "interruptionLevel": "TIME_SENSITIVE",
            "titleLocKey": "T_KEY",
            "titleLocArgs": ["a"],
            "bodyLocKey": "B_KEY",
            "bodyLocArgs": ["b", "c"],
            "priority": 5,
            "collapseId": "c-1",
            "apnsId": "123e4567-e89b-12d3-a456-426614174000",
            "invalidationTime": 1_900_000_000_000i64,
            "ext": {"deep": "link://x"}
        }
    }));
    let out = c.send(TOKEN, &message, Some(968120369184112182)).await;
    assert_eq!(
        out,
        VendorOutcome::Sent {
            raw: json!({"apns-id": "123e4567-e89b-12d3-a456-426614174000"})
        }
    );
    let pushes = m.apns().pushes();
    assert_eq!(pushes.len(), 1);
    let p = &pushes[0];
    assert_eq!(p.device_token, TOKEN);
    assert_eq!(p.topic, "com.example.openpush");
    assert_eq!(p.push_type, "alert");
    assert_eq!(p.priority, 5);
    assert_eq!(p.expiration, Some(1_900_000_000));
    assert_eq!(p.collapse_id.as_deref(), Some("c-1"));
    assert_eq!(p.apns_id, "123e4567-e89b-12d3-a456-426614174000");
    assert_eq!(
        p.payload,
        json!({
            "aps": {
                "alert": {
                    "title": "iOS title",
                    "subtitle": "sub",
                    "body": "iOS body",
                    "title-loc-key": "T_KEY",
                    "title-loc-args": ["a"],
                    "loc-key": "B_KEY",
                    "loc-args": ["b", "c"]
                },
                "badge": 3,
                "sound": "ping.caf",
                "mutable-content": 1,
                "interruption-level": "time-sensitive",
                "content-available": 1,
                "category": "REPLY",
                "thread-id": "chat-1"
            },
            "orderId": "42",
            "n": 7,
            "deep": "link://x",
            "EPush": {"provider": "APNS", "report": {"task_id": 968120369184112182i64}}
        })
    );
    m.shutdown().await;
}

#[tokio::test]
async fn plain_message_and_background_push() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    let bg = msg(json!({"title": "t", "content": "c", "apns": {"pushType": "background"}}));
    assert!(c.send(TOKEN, &bg, None).await.is_success());
    let pushes = m.apns().pushes();
    assert_eq!(
        pushes[0].payload,
        json!({"aps": {"alert": {"title": "Hello", "body": "World"}}})
    );
    assert_eq!(
        (pushes[0].push_type.as_str(), pushes[0].priority),
        ("alert", 10)
    );
    assert_eq!(pushes[0].expiration, None);
    assert_eq!(pushes[1].payload, json!({"aps": {"content-available": 1}}));
    assert_eq!(
        (pushes[1].push_type.as_str(), pushes[1].priority),
        ("background", 5)
    );
    m.shutdown().await;
}

#[tokio::test]
async fn dead_tokens_are_token_dead() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    let gone = token(1);
    m.apns().unregister(&gone);
    match c.send(&gone, &simple(), None).await {
        VendorOutcome::TokenDead { raw } => {
            assert_eq!(raw["reason"], "Unregistered");
            assert_eq!(raw["status"], 410);
            assert!(raw["timestamp"].is_i64());
        }
        other => panic!("{other:?}"),
    }
    // Not hex: the mock's own check answers 400 BadDeviceToken.
    match c.send("not-a-token", &simple(), None).await {
        VendorOutcome::TokenDead { raw } => assert_eq!(raw["reason"], "BadDeviceToken"),
        other => panic!("{other:?}"),
    }
    let other_app = token(2);
    m.apns().register_device(&other_app, "com.example.other");
    match c.send(&other_app, &simple(), None).await {
        VendorOutcome::TokenDead { raw } => assert_eq!(raw["reason"], "DeviceTokenNotForTopic"),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.apns().push_count(), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn bad_payloads_are_rejected() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    // The mock refuses a collapse id over 64 bytes.
    let long_collapse = msg(json!({"title": "t", "content": "c",
        "apns": {"collapseId": "x".repeat(65)}}));
    match c.send(TOKEN, &long_collapse, None).await {
        VendorOutcome::Rejected { raw, reason } => {
            assert_eq!(raw["reason"], "BadCollapseId");
            assert!(reason.contains("400"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Over 4096 bytes: refused before it is sent.
    let big =
        msg(json!({"title": "t", "content": "c", "apns": {"ext": {"blob": "y".repeat(5000)}}}));
    let before = m.apns().request_count();
    match c.send(TOKEN, &big, None).await {
        VendorOutcome::Rejected { raw, .. } => assert_eq!(raw["reason"], "PayloadTooLarge"),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.apns().request_count(), before);
    m.shutdown().await;
}

#[tokio::test]
async fn waits_for_retry_after_then_sends() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    m.apns().fail_next(
        1,
        ApnsOutcome::TooManyRequests {
            retry_after_secs: Some(1),
        },
    );
    let t0 = Instant::now();
    let out = c.send(TOKEN, &simple(), None).await;
    assert!(out.is_success(), "{out:?}");
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(m.apns().request_count(), 2);
    assert_eq!(m.apns().push_count(), 1);

    // 500 then 503 without Retry-After: exponential backoff, then success.
    m.apns().fail_next(1, ApnsOutcome::InternalServerError);
    m.apns().fail_next(
        1,
        ApnsOutcome::ServiceUnavailable {
            retry_after_secs: None,
        },
    );
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    assert_eq!(m.apns().request_count(), 5);
    m.shutdown().await;
}

#[tokio::test]
async fn gives_up_after_bounded_attempts() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    m.apns().fail_all(Some(ApnsOutcome::Shutdown));
    match c.send(TOKEN, &simple(), None).await {
        VendorOutcome::Error { reason } => assert!(reason.contains("Shutdown"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.apns().request_count(), 3, "max_attempts = 3");
    // A Retry-After longer than the policy allows is not waited for.
    m.apns().fail_all(Some(ApnsOutcome::ServiceUnavailable {
        retry_after_secs: Some(3600),
    }));
    let t0 = Instant::now();
    assert!(matches!(
        c.send(TOKEN, &simple(), None).await,
        VendorOutcome::Error { .. }
    ));
    assert!(t0.elapsed() < Duration::from_secs(2));
    m.shutdown().await;
}

#[tokio::test]
async fn reuses_one_provider_token() {
    let m = MockVendors::start().await.unwrap();
    let c = client(&m);
    for _ in 0..3 {
        assert!(c.send(TOKEN, &simple(), None).await.is_success());
    }
    // Across a second boundary a re-signed token would have a new `iat`, which the mock
    // answers with 429 TooManyProviderTokenUpdates.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let outs = c.send_many(&[token(5), token(6)], &simple(), None).await;
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    assert_eq!(c.provider_tokens_signed(), 1);
    assert_eq!(m.apns().push_count(), 5);
    // A clone shares the token.
    let c2 = c.clone();
    assert!(c2.send(TOKEN, &simple(), None).await.is_success());
    assert_eq!(c2.provider_tokens_signed(), 1);
    m.shutdown().await;
}

#[tokio::test]
async fn auth_errors_refresh_the_token_once_then_fail() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let m = MockVendors::start_with(MockVendorsOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client(&m);
    assert!(c.send(TOKEN, &simple(), None).await.is_success());
    // To the mock, the token is now over an hour old: 403 ExpiredProviderToken. The client
    // re-signs once (its own clock has not moved, so the mock refuses that one too).
    clock.advance_ms(61 * 60 * 1000);
    match c.send(TOKEN, &simple(), None).await {
        VendorOutcome::Error { reason } => {
            assert!(
                reason.contains("auth") && reason.contains("ExpiredProviderToken"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.provider_tokens_signed(), 2);
    assert_eq!(m.apns().request_count(), 3);

    // A key the mock does not trust: 403 InvalidProviderToken, one refresh, then Error.
    let mut bad = creds(&m, m.apns_url());
    bad.key_p8_pem = openpush_vendor_mock::ApnsCredentials::generate("T", "K", "b").p8_pem();
    let bad = ApnsClient::new(bad).unwrap();
    match bad.send(TOKEN, &simple(), None).await {
        VendorOutcome::Error { reason } => assert!(reason.contains("InvalidProviderToken")),
        other => panic!("{other:?}"),
    }
    assert_eq!(bad.provider_tokens_signed(), 2);
    m.shutdown().await;
}

/// A TCP proxy in front of the mock that counts the connections it accepts.
async fn counting_proxy(target: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn hundred_concurrent_sends_share_one_connection() {
    let m = MockVendors::start().await.unwrap();
    m.apns().set_latency(Duration::from_millis(200));
    let (proxy, connections) = counting_proxy(m.apns_url()).await;
    let c = ApnsClient::new(creds(&m, proxy)).unwrap();
    let tokens: Vec<String> = (0..100).map(token).collect();
    let t0 = Instant::now();
    let outs = c.send_many(&tokens, &simple(), Some(7)).await;
    let took = t0.elapsed();
    assert_eq!(outs.len(), 100);
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    assert_eq!(m.apns().push_count(), 100);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one HTTP/2 connection"
    );
    // 100 × 200 ms one after another would take 20 s: the streams ran concurrently.
    assert!(took < Duration::from_secs(3), "{took:?}");
    let mut seen: Vec<String> = m
        .apns()
        .pushes()
        .into_iter()
        .map(|p| p.device_token)
        .collect();
    seen.sort();
    assert_eq!(seen, tokens);
    m.shutdown().await;
}

#[tokio::test]
async fn concurrency_is_bounded_per_client() {
    let m = MockVendors::start().await.unwrap();
    m.apns().set_latency(Duration::from_millis(100));
    let c = ApnsClient::with_options(
        creds(&m, m.apns_url()),
        ApnsOptions {
            max_concurrency: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let tokens: Vec<String> = (0..20).map(token).collect();
    let t0 = Instant::now();
    let outs = c.send_many(&tokens, &simple(), None).await;
    assert!(outs.iter().all(VendorOutcome::is_success));
    // 20 sends, 5 at a time, 100 ms each: at least 4 rounds.
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    m.shutdown().await;
}

#[tokio::test]
async fn speaks_tls_with_alpn_h2() {
    let id = openpush_vendor_mock::tls::TlsIdentity::self_signed();
    let pem = id.cert_pem.clone();
    let m = MockVendors::start_with(MockVendorsOptions {
        apns_tls: Some(id),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(m.apns_url().starts_with("https://"));
    let url = m.apns_url().replace("127.0.0.1", "localhost");
    let c = ApnsClient::with_options(
        creds(&m, url),
        ApnsOptions {
            extra_root_pem: Some(pem),
            ..Default::default()
        },
    )
    .unwrap();
    let outs = c.send_many(&[token(1), token(2)], &simple(), None).await;
    assert!(outs.iter().all(VendorOutcome::is_success), "{outs:?}");
    assert_eq!(m.apns().push_count(), 2);
    m.shutdown().await;
}

#[test]
fn debug_hides_the_key() {
    let c = ApnsCredentials {
        key_p8_pem: "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----".into(),
        key_id: "KEYID12345".into(),
        team_id: "TEAMID1234".into(),
        bundle_id: "com.example".into(),
        production: false,
        base_url: None,
    };
    let d = format!("{c:?}");
    assert!(!d.contains("secret") && !d.contains("PRIVATE"), "{d}");
    assert!(d.contains("KEYID12345"));
    assert!(ApnsClient::new(c).is_err(), "not a key");
}

#[tokio::test]
async fn default_base_urls() {
    let c = openpush_vendor_mock::ApnsCredentials::generate("TEAMID1234", "KEYID12345", "b");
    let mk = |production| ApnsCredentials {
        key_p8_pem: c.p8_pem(),
        key_id: c.key_id.clone(),
        team_id: c.team_id.clone(),
        bundle_id: c.bundle_id.clone(),
        production,
        base_url: None,
    };
    assert_eq!(
        ApnsClient::new(mk(true)).unwrap().base_url(),
        "https://api.push.apple.com"
    );
    assert_eq!(
        ApnsClient::new(mk(false)).unwrap().base_url(),
        "https://api.sandbox.push.apple.com"
    );
}

/// The send futures can be spawned: no lock guard lives across an `.await`.
#[test]
fn send_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let c = openpush_vendor_mock::ApnsCredentials::generate("TEAMID1234", "KEYID12345", "b");
    let apns = ApnsClient::new(ApnsCredentials {
        key_p8_pem: c.p8_pem(),
        key_id: c.key_id.clone(),
        team_id: c.team_id.clone(),
        bundle_id: c.bundle_id.clone(),
        production: false,
        base_url: None,
    })
    .unwrap();
    let sa = openpush_vendor_mock::FcmServiceAccount::for_tests("p");
    let fcm = openpush_vendors::fcm::FcmClient::new(openpush_vendors::fcm::FcmCredentials {
        service_account_json: sa.to_json("http://127.0.0.1:1/token").to_string(),
        base_url: None,
        token_url: None,
    })
    .unwrap();
    let m = simple();
    let tokens = [TOKEN];
    assert_send(&apns.send(TOKEN, &m, None));
    assert_send(&apns.send_many(&tokens, &m, None));
    assert_send(&fcm.send(TOKEN, &m, None));
    assert_send(&fcm.send_many(&tokens, &m, None));
}

/// One HTTP/2 connection carries at most the stand-in's 50 concurrent streams here: a light load
/// stays on one connection, and 200 requests in flight at once (the stand-in answers after
/// 300 ms) open the pool's four.
#[tokio::test]
async fn connections_open_as_the_in_flight_load_needs_them() {
    let opts = MockVendorsOptions::default();
    let mut apns = openpush_vendor_mock::ApnsMockConfig::for_credentials(&opts.apns_credentials);
    apns.max_concurrent_streams = 50;
    let m = MockVendors::start_with(MockVendorsOptions {
        apns: Some(apns),
        ..opts
    })
    .await
    .unwrap();
    let c = ApnsClient::with_options(
        creds(&m, m.apns_url()),
        ApnsOptions {
            retry: fast_retry(),
            connections: 4,
            streams_per_connection: 50,
            max_concurrency: 200,
            ..Default::default()
        },
    )
    .unwrap();
    let light: Vec<String> = (0..20).map(token).collect();
    let out = c.send_many(&light, &simple(), None).await;
    assert!(out.iter().all(VendorOutcome::is_success), "{out:?}");
    assert_eq!((c.connections_used(), m.apns_connections()), (1, 1));

    m.apns().set_latency(Duration::from_millis(300));
    let heavy: Vec<String> = (0..200).map(token).collect();
    let out = c.send_many(&heavy, &simple(), None).await;
    assert!(out.iter().all(VendorOutcome::is_success), "{out:?}");
    assert_eq!((c.connections_used(), m.apns_connections()), (4, 4));
    assert_eq!(m.apns().push_count(), 220);
    m.shutdown().await;
}
