//! Push certificates: add, replace, read, list, delete; credentials never come back.

mod common;

use common::{assert_error, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn huawei(secret: &str) -> Value {
    json!({"name": "hw-prod", "vendor": "huawei", "credentials": {"app_id": "104410638", "client_id": "cid", "client_secret": secret}})
}

#[tokio::test]
async fn notifiers_round_trip_without_secrets() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    let (st, b) = s
        .post(&format!("{p}/notifiers"), &t, huawei("top-secret-1"))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["vendor"], "huawei");
    assert_eq!(b["data"]["environment"], "production");
    assert_eq!(b["data"]["replaced"], false);
    let (_, b) = s
        .post(&format!("{p}/notifiers"), &t, huawei("top-secret-2"))
        .await;
    assert_eq!(b["data"]["replaced"], true);
    let apns = json!({"name": "ios", "vendor": "APNS", "environment": "sandbox", "base_url": "http://127.0.0.1:9", "credentials": {
        "key_p8": "-----BEGIN PRIVATE KEY-----\nMIG…\n-----END PRIVATE KEY-----", "key_id": "ABC123", "team_id": "TEAM", "bundle_id": "com.example"}});
    let (st, b) = s.post(&format!("{p}/notifiers"), &t, apns).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, list) = s.get(&format!("{p}/notifiers"), &t).await;
    let names: Vec<_> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(names, [json!("hw-prod"), json!("ios")]);
    let (_, one) = s.get(&format!("{p}/notifiers/ios"), &t).await;
    assert_eq!(
        (
            one["data"]["environment"].clone(),
            one["data"]["base_url"].clone()
        ),
        (json!("sandbox"), json!("http://127.0.0.1:9"))
    );
    for body in [list.to_string(), one.to_string()] {
        assert!(
            !body.contains("top-secret")
                && !body.contains("PRIVATE KEY")
                && !body.contains("credentials"),
            "{body}"
        );
    }
    let stored = s.store.app_by_name("o", "a").await.unwrap().unwrap();
    assert_eq!(
        s.store
            .notifier(stored.id, "hw-prod")
            .await
            .unwrap()
            .unwrap()
            .credentials["client_secret"],
        "top-secret-2"
    );
    let (st, _) = s.delete(&format!("{p}/notifiers/hw-prod"), &t, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_error(
        &s.get(&format!("{p}/notifiers/hw-prod"), &t).await,
        StatusCode::BAD_REQUEST,
        "notifier not exists of hw-prod",
    );
    assert_error(
        &s.delete(&format!("{p}/notifiers/hw-prod"), &t, None).await,
        StatusCode::BAD_REQUEST,
        "notifier not exists",
    );
    // Another app's token sees nothing of it.
    let (_, other) = s.app_with_token("o", "b").await;
    assert_eq!(
        s.get(&format!("{p}/notifiers"), &other).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_notifiers_are_refused_and_change_nothing() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    let cases = [
        (
            json!({"vendor": "huawei", "credentials": {}}),
            "notifier_name",
        ),
        (
            json!({"name": "x", "vendor": "nokia", "credentials": {}}),
            "vendor must be one of",
        ),
        (
            json!({"name": "x", "vendor": "huawei"}),
            "credentials must be provided",
        ),
        (
            json!({"name": "x", "vendor": "huawei", "credentials": {"app_id": "1", "client_id": "c"}}),
            "credentials.client_secret",
        ),
        (
            json!({"name": "x", "vendor": "fcm", "credentials": {"service_account": "{}"}}),
            "service-account",
        ),
        (
            json!({"name": "x", "vendor": "apns", "credentials": {"key_p8": "nope", "key_id": "k", "team_id": "t", "bundle_id": "b"}}),
            "PEM",
        ),
        (
            json!({"name": "x", "vendor": "meizu", "environment": "staging", "credentials": {"app_id": "1", "app_secret": "s"}}),
            "environment",
        ),
        (
            json!({"name": "x", "vendor": "meizu", "base_url": "ftp://x", "credentials": {"app_id": "1", "app_secret": "s"}}),
            "base_url",
        ),
        (
            json!({"name": "a b", "vendor": "meizu", "credentials": {"app_id": "1", "app_secret": "s"}}),
            "notifier_name",
        ),
        (json!(["x", "meizu"]), "expected a JSON object"),
    ];
    for (body, text) in cases {
        assert_error(
            &s.post(&format!("{p}/notifiers"), &t, body.clone()).await,
            StatusCode::BAD_REQUEST,
            text,
        );
    }
    let (_, list) = s.get(&format!("{p}/notifiers"), &t).await;
    assert_eq!(list["data"], json!([]));
}
