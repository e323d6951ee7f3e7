//! The FCM HTTP v1 mock rejects what Google rejects and accepts a good message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openpush_core::{Clock, ManualClock, SystemClock};
use openpush_vendor_mock::creds::{FCM_SCOPE, GOOGLE_TOKEN_URI};
use openpush_vendor_mock::fcm::JWT_BEARER_GRANT;
use openpush_vendor_mock::{
    FcmMockConfig, FcmOutcome, FcmServiceAccount, FcmTarget, MockVendors, MockVendorsOptions,
};
use serde_json::{json, Value};

const TOKEN: &str = "dGVzdC10b2tlbi0x:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-test-token-0001";

fn now_secs() -> i64 {
    SystemClock.now_ms() / 1000
}

async fn oauth(m: &MockVendors, assertion: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(m.fcm_token_uri())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type={}&assertion={assertion}",
            JWT_BEARER_GRANT.replace(':', "%3A")
        ))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn access_token(m: &MockVendors) -> String {
    let sa = m.fcm_service_account();
    let (s, body) = oauth(m, &sa.assertion(&m.fcm_token_uri(), FCM_SCOPE, now_secs())).await;
    assert_eq!(s, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn send_with(
    m: &MockVendors,
    bearer: Option<&str>,
    project: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!(
            "{}/v1/projects/{project}/messages:send",
            m.fcm_url()
        ))
        .json(body);
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

async fn send(m: &MockVendors, at: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send_with(m, Some(at), "openpush-test", &body).await;
    (s, b)
}

fn fcm_code(body: &Value) -> Option<&str> {
    body["error"]["details"]
        .as_array()?
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.firebase.fcm.v1.FcmError")?["errorCode"]
        .as_str()
}

fn good_message() -> Value {
    json!({"message": {
        "token": TOKEN,
        "notification": {"title": "Hello", "body": "World"},
        "data": {"k": "v", "n": "1"},
        "android": {"priority": "high", "ttl": "3600s", "collapseKey": "c",
                    "notification": {"channel_id": "default", "color": "#ff0000", "sound": "default"}},
        "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"badge": 1}}}
    }})
}

#[tokio::test]
async fn oauth_then_send_succeeds_and_is_recorded() {
    let m = MockVendors::start().await.unwrap();
    let sa = m.fcm_service_account();
    let (s, body) = oauth(&m, &sa.assertion(&m.fcm_token_uri(), FCM_SCOPE, now_secs())).await;
    assert_eq!(s, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let at = body["access_token"].as_str().unwrap();

    let (s, b) = send(&m, at, good_message()).await;
    assert_eq!(s, 200, "{b}");
    let name = b["name"].as_str().unwrap();
    assert!(
        name.starts_with("projects/openpush-test/messages/"),
        "{name}"
    );

    let msgs = m.fcm().messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].name, name);
    assert_eq!(msgs[0].target, FcmTarget::Token(TOKEN.into()));
    assert_eq!(msgs[0].message["data"]["k"], "v");

    // Topic and condition targets; the canonical Google audience is accepted too.
    let (s, body) = oauth(&m, &sa.assertion(GOOGLE_TOKEN_URI, FCM_SCOPE, now_secs())).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = send(
        &m,
        at,
        json!({"message": {"topic": "news", "data": {"a": "b"}}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = send(
        &m,
        at,
        json!({"message": {"condition": "'a' in topics && 'b' in topics", "notification": {"title": "t"}}}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m.fcm().message_count(), 3);
    assert_eq!(m.fcm().tokens_issued(), 2);

    // validate_only answers like a send but delivers nothing.
    let mut dry = good_message();
    dry["validate_only"] = json!(true);
    let (s, b) = send(&m, at, dry).await;
    assert_eq!(
        (s, b),
        (
            200,
            json!({"name": "projects/openpush-test/messages/fake_message_id"})
        )
    );
    assert_eq!(m.fcm().message_count(), 3);
    m.shutdown().await;
}

#[tokio::test]
async fn http1_and_h2c_are_both_served() {
    let m = MockVendors::start().await.unwrap();
    let at = access_token(&m).await;
    for client in [
        reqwest::Client::builder().http1_only().build().unwrap(),
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap(),
    ] {
        let resp = client
            .post(format!(
                "{}/v1/projects/openpush-test/messages:send",
                m.fcm_url()
            ))
            .bearer_auth(&at)
            .json(&good_message())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    m.shutdown().await;
}

#[tokio::test]
async fn oauth_rejects_bad_assertions() {
    let m = MockVendors::start().await.unwrap();
    let sa = m.fcm_service_account().clone();
    let uri = m.fcm_token_uri();
    let now = now_secs();

    // Tampered claims: the signature no longer matches.
    let good = sa.assertion(&uri, FCM_SCOPE, now);
    let parts: Vec<&str> = good.split('.').collect();
    let other_claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": sa.client_email, "scope": FCM_SCOPE, "aud": uri, "iat": now, "exp": now + 60})
            .to_string(),
    );
    let tampered = format!("{}.{}.{}", parts[0], other_claims, parts[2]);
    let (s, b) = oauth(&m, &tampered).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(b["error_description"], "Invalid JWT Signature.");

    let (s, b) = oauth(&m, "garbage").await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));

    // Unknown account.
    let mut stranger = sa.clone();
    stranger.client_email = "someone@else.iam.gserviceaccount.com".into();
    let (s, b) = oauth(&m, &stranger.assertion(&uri, FCM_SCOPE, now)).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));

    // Wrong key id.
    let mut wrong_kid = sa.clone();
    wrong_kid.private_key_id = "0".repeat(40);
    let (s, b) = oauth(&m, &wrong_kid.assertion(&uri, FCM_SCOPE, now)).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));

    // Wrong audience.
    let (s, b) = oauth(
        &m,
        &sa.assertion("https://example.com/token", FCM_SCOPE, now),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("audience"));

    // Lifetime over an hour; expired; issued in the future.
    for (iat, exp) in [
        (now, now + 3601),
        (now - 7200, now - 3600),
        (now + 3600, now + 3700),
    ] {
        let a = sa.assertion_with(
            json!({"iss": sa.client_email, "scope": FCM_SCOPE, "aud": uri, "iat": iat, "exp": exp}),
        );
        let (s, b) = oauth(&m, &a).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (400, Some("invalid_grant")),
            "{iat} {exp}"
        );
    }

    // No scope.
    let a = sa
        .assertion_with(json!({"iss": sa.client_email, "aud": uri, "iat": now, "exp": now + 3600}));
    let (s, b) = oauth(&m, &a).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));

    // Wrong grant type.
    let resp = reqwest::Client::new()
        .post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&assertion={good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    assert_eq!(m.fcm().tokens_issued(), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn send_requires_a_valid_access_token() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let m = MockVendors::start_with(MockVendorsOptions {
        clock: Arc::new(clock.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (s, _, b) = send_with(&m, None, "openpush-test", &good_message()).await;
    assert_eq!(
        (s, b["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (s, _, b) = send_with(&m, Some("ya29.made-up"), "openpush-test", &good_message()).await;
    assert_eq!(
        (s, b["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    let sa = m.fcm_service_account();
    let (_, body) = oauth(
        &m,
        &sa.assertion(&m.fcm_token_uri(), FCM_SCOPE, clock.now_ms() / 1000),
    )
    .await;
    let at = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(send(&m, &at, good_message()).await.0, 200);

    // Another project's resource.
    let (s, _, b) = send_with(&m, Some(&at), "someone-elses", &good_message()).await;
    assert_eq!(
        (s, b["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    // A token for another scope cannot send.
    let a = sa.assertion(
        &m.fcm_token_uri(),
        "https://www.googleapis.com/auth/userinfo.email",
        clock.now_ms() / 1000,
    );
    let (_, body) = oauth(&m, &a).await;
    let narrow = body["access_token"].as_str().unwrap().to_owned();
    let (s, b) = send(&m, &narrow, good_message()).await;
    assert_eq!(
        (s, b["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    // Expired after expires_in.
    clock.advance_ms(3600 * 1000);
    let (s, b) = send(&m, &at, good_message()).await;
    assert_eq!(
        (s, b["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    assert_eq!(m.fcm().message_count(), 1);
    m.shutdown().await;
}

#[tokio::test]
async fn invalid_messages_are_400_invalid_argument() {
    let m = MockVendors::start().await.unwrap();
    let at = access_token(&m).await;
    let big = "x".repeat(4100);
    let cases = [
        json!({}),
        json!({"message": {}}),
        json!({"message": {"token": TOKEN, "topic": "news"}}),
        json!({"message": {"token": "bad-token"}}),
        json!({"message": {"topic": "/topics/news"}}),
        json!({"message": {"token": TOKEN, "data": {"n": 1}}}),
        json!({"message": {"token": TOKEN, "data": {"from": "x"}}}),
        json!({"message": {"token": TOKEN, "data": {"google.x": "x"}}}),
        json!({"message": {"token": TOKEN, "data": {"k": big}}}),
        json!({"message": {"topic": "news", "data": {"k": "y".repeat(2100)}}}),
        json!({"message": {"token": TOKEN, "android": {"ttl": "3600"}}}),
        json!({"message": {"token": TOKEN, "android": {"ttl": "2419201s"}}}),
        json!({"message": {"token": TOKEN, "android": {"priority": "urgent"}}}),
        json!({"message": {"token": TOKEN, "android": {"notification": {"color": "red"}}}}),
        json!({"message": {"token": TOKEN, "android": {"data": {"a": true}}}}),
        json!({"message": {"token": TOKEN, "bogus": 1}}),
        json!({"message": {"token": TOKEN, "notification": {"title": 5}}}),
        json!({"message": {"token": TOKEN, "notification": {"click_action": "x"}}}),
        json!({"message": {"condition": "no topics here"}}),
    ];
    for case in cases {
        let (s, b) = send(&m, &at, case.clone()).await;
        assert_eq!(s, 400, "{case} → {b}");
        assert_eq!(b["error"]["code"], 400, "{b}");
        assert_eq!(b["error"]["status"], "INVALID_ARGUMENT", "{b}");
    }
    // The not-a-token case names itself, with the FcmError detail.
    let (_, b) = send(&m, &at, json!({"message": {"token": "bad-token"}})).await;
    assert_eq!(
        b["error"]["message"],
        "The registration token is not a valid FCM registration token"
    );
    assert_eq!(fcm_code(&b), Some("INVALID_ARGUMENT"));

    // Malformed JSON.
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/v1/projects/openpush-test/messages:send",
            m.fcm_url()
        ))
        .bearer_auth(&at)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(m.fcm().message_count(), 0);
    m.shutdown().await;
}

#[tokio::test]
async fn scripted_token_outcomes() {
    let m = MockVendors::start().await.unwrap();
    let at = access_token(&m).await;
    m.fcm().unregister(TOKEN);
    let (s, b) = send(&m, &at, good_message()).await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["status"], "NOT_FOUND");
    assert_eq!(fcm_code(&b), Some("UNREGISTERED"));

    m.fcm()
        .set_token_outcome(TOKEN, FcmOutcome::SenderIdMismatch);
    let (s, b) = send(&m, &at, good_message()).await;
    assert_eq!((s, fcm_code(&b)), (403, Some("SENDER_ID_MISMATCH")));

    m.fcm().set_token_outcome(TOKEN, FcmOutcome::InvalidToken);
    let (s, b) = send(&m, &at, good_message()).await;
    assert_eq!((s, fcm_code(&b)), (400, Some("INVALID_ARGUMENT")));

    m.fcm().clear_token_outcome(TOKEN);
    m.fcm().fail_next(
        1,
        FcmOutcome::Unavailable {
            retry_after_secs: Some(7),
        },
    );
    m.fcm().fail_next(1, FcmOutcome::Internal);
    m.fcm().fail_next(
        1,
        FcmOutcome::QuotaExceeded {
            retry_after_secs: 30,
        },
    );
    let (s, h, b) = send_with(&m, Some(&at), "openpush-test", &good_message()).await;
    assert_eq!((s, fcm_code(&b)), (503, Some("UNAVAILABLE")));
    assert_eq!(h["retry-after"], "7");
    let (s, b) = send(&m, &at, good_message()).await;
    assert_eq!((s, fcm_code(&b)), (500, Some("INTERNAL")));
    let (s, h, b) = send_with(&m, Some(&at), "openpush-test", &good_message()).await;
    assert_eq!((s, fcm_code(&b)), (429, Some("QUOTA_EXCEEDED")));
    assert_eq!(b["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(h["retry-after"], "30");
    assert_eq!(send(&m, &at, good_message()).await.0, 200);

    m.fcm().set_latency(Duration::from_millis(120));
    let t = Instant::now();
    assert_eq!(send(&m, &at, good_message()).await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(120));
    assert_eq!(m.fcm().message_count(), 2);
    m.shutdown().await;
}

#[tokio::test]
async fn quota_per_minute_is_429_with_retry_after() {
    let clock = ManualClock::new(SystemClock.now_ms());
    let sa = FcmServiceAccount::for_tests("openpush-test");
    let mut fcm = FcmMockConfig::for_service_account(&sa);
    fcm.quota_per_minute = 2;
    let m = MockVendors::start_with(MockVendorsOptions {
        clock: Arc::new(clock.clone()),
        fcm_service_account: sa,
        fcm: Some(fcm),
        ..Default::default()
    })
    .await
    .unwrap();
    let sa = m.fcm_service_account();
    let (_, body) = oauth(
        &m,
        &sa.assertion(&m.fcm_token_uri(), FCM_SCOPE, clock.now_ms() / 1000),
    )
    .await;
    let at = body["access_token"].as_str().unwrap().to_owned();

    assert_eq!(send(&m, &at, good_message()).await.0, 200);
    clock.advance_ms(15_000);
    assert_eq!(send(&m, &at, good_message()).await.0, 200);
    let (s, h, b) = send_with(&m, Some(&at), "openpush-test", &good_message()).await;
    assert_eq!((s, fcm_code(&b)), (429, Some("QUOTA_EXCEEDED")));
    assert_eq!(h["retry-after"], "45");
    clock.advance_ms(45_000);
    assert_eq!(send(&m, &at, good_message()).await.0, 200);
    m.shutdown().await;
}

#[test]
fn service_account_json_has_googles_shape() {
    let sa = FcmServiceAccount::for_tests("my-project");
    let j = sa.to_json("http://127.0.0.1:9/token");
    for key in [
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    ] {
        assert!(j[key].is_string(), "{key}");
    }
    assert_eq!(j["type"], "service_account");
    assert_eq!(j["token_uri"], "http://127.0.0.1:9/token");
    assert!(j["private_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(j["private_key_id"].as_str().unwrap().len(), 40);
    assert!(j["client_email"]
        .as_str()
        .unwrap()
        .ends_with("@my-project.iam.gserviceaccount.com"));
    let back = FcmServiceAccount::from_json(&j).unwrap();
    assert_eq!(back.client_email, sa.client_email);
    assert_eq!(back.public_key(), sa.public_key());
    assert!(!format!("{sa:?}").contains("PRIVATE"));
}

#[test]
fn apns_p8_round_trips() {
    let c = openpush_vendor_mock::ApnsCredentials::generate("TEAMID1234", "KEYID12345", "com.x");
    let pem = c.p8_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let back =
        openpush_vendor_mock::ApnsCredentials::from_p8("TEAMID1234", "KEYID12345", "com.x", &pem)
            .unwrap();
    assert_eq!(back.verifying_key(), c.verifying_key());
    assert!(c.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(!format!("{c:?}").contains("PRIVATE"));
}
