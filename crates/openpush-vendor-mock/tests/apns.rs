//! The APNs mock rejects what APNs rejects and accepts a good push.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::{ApnsCredentials, ApnsOutcome, MockVendors, MockVendorsOptions};
use serde_json::{json, Value};

const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn h2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

fn now_secs() -> i64 {
    SystemClock.now_ms() / 1000
}

/// One provider token per mock, as a well-behaved client does: APNs answers 429
/// TooManyProviderTokenUpdates to a client that re-signs more often than every 20 minutes.
fn shared_jwt(mocks: &MockVendors) -> String {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        // Keyed by the key too: a later mock may reuse a finished one's port.
        .entry(mocks.apns_url() + &mocks.apns_credentials().public_key_pem())
        .or_insert_with(|| mocks.apns_credentials().provider_token(now_secs()))
        .clone()
}

struct Push<'a> {
    mocks: &'a MockVendors,
    token: String,
    jwt: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl<'a> Push<'a> {
    fn new(mocks: &'a MockVendors) -> Self {
        let creds = mocks.apns_credentials();
        Self {
            mocks,
            token: TOKEN.to_owned(),
            jwt: Some(shared_jwt(mocks)),
            headers: vec![
                ("apns-topic", creds.bundle_id.clone()),
                ("apns-push-type", "alert".to_owned()),
            ],
            body: br#"{"aps":{"alert":{"title":"hi","body":"there"}},"k":"v"}"#.to_vec(),
        }
    }
    fn token(mut self, t: &str) -> Self {
        self.token = t.to_owned();
        self
    }
    fn jwt(mut self, j: Option<String>) -> Self {
        self.jwt = j;
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }
    fn without(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }
    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    async fn send(self) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = format!("{}/3/device/{}", self.mocks.apns_url(), self.token);
        let mut req = h2().post(url).body(self.body);
        if let Some(j) = self.jwt {
            req = req.header("authorization", format!("bearer {j}"));
        }
        for (n, v) in self.headers {
            req = req.header(n, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, headers, body)
    }
}

async fn expect(p: Push<'_>, status: u16, reason: &str) {
    let (s, _, body) = p.send().await;
    assert_eq!((s, body["reason"].as_str().unwrap_or("")), (status, reason));
}

#[tokio::test]
async fn accepts_a_good_push_and_records_it() {
    let m = MockVendors::start().await.unwrap();
    let id = "123e4567-e89b-12d3-a456-426614174000";
    let (s, h, body) = Push::new(&m)
        .header("apns-id", id)
        .header("apns-priority", "5")
        .header("apns-expiration", "0")
        .header("apns-collapse-id", "c1")
        .send()
        .await;
    assert_eq!(s, 200);
    assert_eq!(body, Value::Null, "success has an empty body");
    assert_eq!(h["apns-id"], id);

    // Without an apns-id, APNs generates one.
    let (s, h, _) = Push::new(&m).send().await;
    assert_eq!(s, 200);
    let generated = h["apns-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36);

    let pushes = m.apns().pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].apns_id, id);
    assert_eq!(pushes[0].device_token, TOKEN);
    assert_eq!(pushes[0].topic, "com.example.openpush");
    assert_eq!(pushes[0].priority, 5);
    assert_eq!(pushes[0].expiration, Some(0));
    assert_eq!(pushes[0].collapse_id.as_deref(), Some("c1"));
    assert_eq!(pushes[0].payload["aps"]["alert"]["title"], "hi");
    assert_eq!(pushes[0].payload["k"], "v");
    assert_eq!(pushes[1].apns_id, generated);
    assert_eq!(pushes[1].priority, 10);
    m.shutdown().await;
}

#[tokio::test]
async fn http1_is_refused() {
    let m = MockVendors::start().await.unwrap();
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let creds = m.apns_credentials();
    let res = client
        .post(format!("{}/3/device/{TOKEN}", m.apns_url()))
        .header(
            "authorization",
            format!("bearer {}", creds.provider_token(now_secs())),
        )
        .header("apns-topic", &creds.bundle_id)
        .body(r#"{"aps":{"alert":"x"}}"#)
        .send()
        .await;
    assert!(res.is_err(), "HTTP/1.1 must not be served: {res:?}");
    assert_eq!(m.apns().push_count(), 0);
    // The server carries on serving HTTP/2.
    assert_eq!(Push::new(&m).send().await.0, 200);
    m.shutdown().await;
}

#[tokio::test]
async fn provider_token_checks() {
    let m = MockVendors::start().await.unwrap();
    let creds = m.apns_credentials().clone();

    expect(Push::new(&m).jwt(None), 403, "MissingProviderToken").await;
    expect(
        Push::new(&m).jwt(Some("not.a.jwt".into())),
        403,
        "InvalidProviderToken",
    )
    .await;

    // Same kid and team, another key: bad signature.
    let forger = ApnsCredentials::generate(&creds.team_id, &creds.key_id, &creds.bundle_id);
    expect(
        Push::new(&m).jwt(Some(forger.provider_token(now_secs()))),
        403,
        "InvalidProviderToken",
    )
    .await;

    // Unknown kid; right key but another team in iss.
    let other_kid = ApnsCredentials::from_p8(
        &creds.team_id,
        "OTHERKEY01",
        &creds.bundle_id,
        &creds.p8_pem(),
    )
    .unwrap();
    expect(
        Push::new(&m).jwt(Some(other_kid.provider_token(now_secs()))),
        403,
        "InvalidProviderToken",
    )
    .await;
    let other_team = ApnsCredentials::from_p8(
        "OTHERTEAM1",
        &creds.key_id,
        &creds.bundle_id,
        &creds.p8_pem(),
    )
    .unwrap();
    expect(
        Push::new(&m).jwt(Some(other_team.provider_token(now_secs()))),
        403,
        "InvalidProviderToken",
    )
    .await;

    // Older than an hour.
    expect(
        Push::new(&m).jwt(Some(creds.provider_token(now_secs() - 3601))),
        403,
        "ExpiredProviderToken",
    )
    .await;

    // `Bearer` is accepted as well as `bearer`.
    let (s, _, _) = Push::new(&m)
        .jwt(None)
        .header("authorization", &format!("Bearer {}", shared_jwt(&m)))
        .send()
        .await;
    assert_eq!(s, 200);
    assert_eq!(m.apns().push_count(), 1);
    m.shutdown().await;
}

#[tokio::test]
async fn refreshing_the_provider_token_too_often_is_429() {
    let start = SystemClock.now_ms();
    let clock = ManualClock::new(start);
    let m = MockVendors::start_with(MockVendorsOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let creds = m.apns_credentials().clone();
    let t0 = start / 1000;
    let first = creds.provider_token(t0);
    assert_eq!(Push::new(&m).jwt(Some(first.clone())).send().await.0, 200);

    clock.advance_ms(5 * 60 * 1000);
    expect(
        Push::new(&m).jwt(Some(creds.provider_token(t0 + 300))),
        429,
        "TooManyProviderTokenUpdates",
    )
    .await;
    // The token in use keeps working.
    assert_eq!(Push::new(&m).jwt(Some(first.clone())).send().await.0, 200);

    clock.advance_ms(20 * 60 * 1000);
    let second = creds.provider_token(t0 + 25 * 60);
    assert_eq!(Push::new(&m).jwt(Some(second)).send().await.0, 200);

    // An hour after its iat the first token has expired.
    clock.advance_ms(36 * 60 * 1000);
    expect(Push::new(&m).jwt(Some(first)), 403, "ExpiredProviderToken").await;
    m.shutdown().await;
}

#[tokio::test]
async fn topic_and_header_checks() {
    let m = MockVendors::start().await.unwrap();
    expect(Push::new(&m).without("apns-topic"), 400, "MissingTopic").await;
    expect(
        Push::new(&m).header("apns-topic", "com.other.app"),
        400,
        "TopicDisallowed",
    )
    .await;
    expect(
        Push::new(&m).header("apns-push-type", "voip"),
        400,
        "BadTopic",
    )
    .await;
    expect(
        Push::new(&m).header("apns-push-type", "shout"),
        400,
        "InvalidPushType",
    )
    .await;
    expect(
        Push::new(&m).header("apns-priority", "7"),
        400,
        "BadPriority",
    )
    .await;
    expect(
        Push::new(&m)
            .header("apns-push-type", "background")
            .header("apns-priority", "10")
            .body(r#"{"aps":{"content-available":1}}"#),
        400,
        "BadPriority",
    )
    .await;
    expect(
        Push::new(&m).header("apns-expiration", "tomorrow"),
        400,
        "BadExpirationDate",
    )
    .await;
    expect(
        Push::new(&m).header("apns-collapse-id", &"c".repeat(65)),
        400,
        "BadCollapseId",
    )
    .await;
    assert_eq!(
        Push::new(&m)
            .header("apns-collapse-id", &"c".repeat(64))
            .send()
            .await
            .0,
        200
    );
    expect(
        Push::new(&m).header("apns-id", "not-a-uuid"),
        400,
        "BadMessageId",
    )
    .await;
    m.shutdown().await;
}

#[tokio::test]
async fn duplicate_headers_are_rejected() {
    let m = MockVendors::start().await.unwrap();
    let creds = m.apns_credentials();
    let resp = h2()
        .post(format!("{}/3/device/{TOKEN}", m.apns_url()))
        .header(
            "authorization",
            format!("bearer {}", creds.provider_token(now_secs())),
        )
        .header("apns-topic", &creds.bundle_id)
        .header("apns-priority", "10")
        .header("apns-priority", "5")
        .body(r#"{"aps":{"alert":"x"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "DuplicateHeaders");
    m.shutdown().await;
}

#[tokio::test]
async fn payload_checks() {
    let m = MockVendors::start().await.unwrap();
    let padded = |n: usize| {
        let base = r#"{"aps":{"alert":"x"},"p":""}"#;
        let pad = "a".repeat(n - base.len());
        format!(r#"{{"aps":{{"alert":"x"}},"p":"{pad}"}}"#)
    };
    assert_eq!(padded(4096).len(), 4096);
    assert_eq!(Push::new(&m).body(padded(4096)).send().await.0, 200);
    expect(Push::new(&m).body(padded(4097)), 413, "PayloadTooLarge").await;

    // VoIP allows 5120 bytes, on the .voip topic.
    fn voip(p: Push<'_>) -> Push<'_> {
        p.header("apns-push-type", "voip")
            .header("apns-topic", "com.example.openpush.voip")
    }
    assert_eq!(voip(Push::new(&m)).body(padded(5120)).send().await.0, 200);
    expect(
        voip(Push::new(&m)).body(padded(5121)),
        413,
        "PayloadTooLarge",
    )
    .await;

    expect(Push::new(&m).body(""), 400, "PayloadEmpty").await;
    expect(Push::new(&m).body("{not json"), 400, "BadPayload").await;
    expect(
        Push::new(&m).body(r#"{"alert":"no aps"}"#),
        400,
        "BadPayload",
    )
    .await;
    assert_eq!(m.apns().push_count(), 2);
    m.shutdown().await;
}

#[tokio::test]
async fn device_token_and_path_checks() {
    let m = MockVendors::start().await.unwrap();
    expect(Push::new(&m).token("xyz"), 400, "BadDeviceToken").await;
    expect(Push::new(&m).token(&"g".repeat(64)), 400, "BadDeviceToken").await;
    expect(Push::new(&m).token(""), 400, "MissingDeviceToken").await;

    let resp = h2()
        .post(format!("{}/3/devices/{TOKEN}", m.apns_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["reason"], "BadPath");

    let resp = h2()
        .get(format!("{}/3/device/{TOKEN}", m.apns_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["reason"],
        "MethodNotAllowed"
    );

    m.apns().register_device(TOKEN, "com.example.openpush");
    expect(
        Push::new(&m)
            .header("apns-push-type", "voip")
            .header("apns-topic", "com.example.openpush.voip"),
        400,
        "DeviceTokenNotForTopic",
    )
    .await;
    m.shutdown().await;
}

#[tokio::test]
async fn unregistered_token_is_410_with_timestamp() {
    let m = MockVendors::start().await.unwrap();
    let before = SystemClock.now_ms();
    m.apns().unregister(TOKEN);
    let (s, h, body) = Push::new(&m)
        .header("apns-id", "123e4567-e89b-12d3-a456-426614174000")
        .send()
        .await;
    assert_eq!(s, 410);
    assert_eq!(body["reason"], "Unregistered");
    let ts = body["timestamp"].as_i64().expect("timestamp in ms");
    assert!(ts >= before && ts <= SystemClock.now_ms());
    assert_eq!(h["apns-id"], "123e4567-e89b-12d3-a456-426614174000");

    m.apns()
        .set_token_outcome(TOKEN, ApnsOutcome::ExpiredToken { timestamp_ms: 42 });
    let (s, _, body) = Push::new(&m).send().await;
    assert_eq!(
        (s, body),
        (410, json!({"reason": "ExpiredToken", "timestamp": 42}))
    );

    // Another token is unaffected; clearing the script restores delivery.
    let other = "f".repeat(64);
    assert_eq!(Push::new(&m).token(&other).send().await.0, 200);
    m.apns().clear_token_outcome(TOKEN);
    assert_eq!(Push::new(&m).send().await.0, 200);
    assert_eq!(m.apns().push_count(), 2);
    m.shutdown().await;
}

#[tokio::test]
async fn scripted_faults_and_latency() {
    let m = MockVendors::start().await.unwrap();
    m.apns().fail_next(
        1,
        ApnsOutcome::TooManyRequests {
            retry_after_secs: Some(3),
        },
    );
    m.apns().fail_next(
        1,
        ApnsOutcome::ServiceUnavailable {
            retry_after_secs: None,
        },
    );
    let (s, h, body) = Push::new(&m).send().await;
    assert_eq!((s, body["reason"].as_str()), (429, Some("TooManyRequests")));
    assert_eq!(h["retry-after"], "3");
    expect(Push::new(&m), 503, "ServiceUnavailable").await;
    assert_eq!(Push::new(&m).send().await.0, 200);

    m.apns().fail_all(Some(ApnsOutcome::InternalServerError));
    expect(Push::new(&m), 500, "InternalServerError").await;
    expect(Push::new(&m), 500, "InternalServerError").await;
    m.apns().fail_all(None);

    // A scripted fault never hides a bad request.
    m.apns().fail_next(1, ApnsOutcome::Shutdown);
    expect(Push::new(&m).jwt(None), 403, "MissingProviderToken").await;
    expect(Push::new(&m), 503, "Shutdown").await;

    m.apns().set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(Push::new(&m).send().await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(m.apns().push_count(), 2);
    m.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_streams_on_one_connection() {
    let m = MockVendors::start().await.unwrap();
    m.apns().set_latency(Duration::from_millis(100));
    let client = h2();
    let creds = m.apns_credentials().clone();
    let jwt = creds.provider_token(now_secs());
    let url = format!("{}/3/device/{TOKEN}", m.apns_url());
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (client, url, jwt, topic) = (
            client.clone(),
            url.clone(),
            jwt.clone(),
            creds.bundle_id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("authorization", format!("bearer {jwt}"))
                .header("apns-topic", topic)
                .body(format!(r#"{{"aps":{{"alert":"{i}"}}}}"#))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    // 200 requests × 100 ms serially would be 20 s; multiplexed they overlap.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(m.apns().push_count(), 200);
    m.shutdown().await;
}
