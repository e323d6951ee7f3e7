//! State survives a restart: write, stop (graceful), start on the same data dir, read back.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn everything_written_reads_back_after_a_restart() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1", "u2"]).await;
    s.put(
        &format!("{p}/users/u1"),
        &t,
        json!({"nickname": "One", "notification_display_style": 1}),
    )
    .await;
    s.put(
        &format!("{p}/users/u1/push/binding"),
        &t,
        json!({"device_id": "d1", "notifier_name": "fcm", "device_token": "token-0123456789"}),
    )
    .await;
    s.put(
        &format!("{p}/users/u1/notification/user/u1"),
        &t,
        json!({"type": "AT", "ignoreInterval": "21:00-07:00"}),
    )
    .await;
    s.put(
        &format!("{p}/users/u1/notification/language"),
        &t,
        json!({"translationLanguage": "EU"}),
    )
    .await;
    s.post(
        &format!("{p}/push/label"),
        &t,
        json!({"name": "vip", "description": "d"}),
    )
    .await;
    s.post(
        &format!("{p}/push/label/vip/user"),
        &t,
        json!({"usernames": ["u1", "u2"]}),
    )
    .await;

    let s = s.restart().await;

    let (st, b) = s.get(&format!("{p}/users/u1"), &t).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let e = &b["entities"][0];
    assert_eq!(e["nickname"], "One");
    assert_eq!(e["notification_display_style"], 1);
    assert_eq!(e["pushInfo"][0]["device_token"], "token-0123456789");
    let (_, b) = s
        .get(&format!("{p}/users/u1/notification/user/u1"), &t)
        .await;
    assert_eq!(b["data"]["type"], "AT");
    assert_eq!(b["data"]["ignoreInterval"], "21:00-07:00");
    let (_, b) = s
        .get(&format!("{p}/users/u1/notification/language"), &t)
        .await;
    assert_eq!(b["data"]["language"], "EU");
    let (_, b) = s.get(&format!("{p}/push/label/vip"), &t).await;
    assert_eq!(b["data"]["count"], 2);
    assert_eq!(b["data"]["description"], "d");
    let (_, b) = s.get(&format!("{p}/push/label/vip/user"), &t).await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    // The login password still verifies.
    let (st, _) = s
        .call(
            reqwest::Method::POST,
            &format!("{p}/token"),
            None,
            Some(json!({"grant_type": "password", "username": "u2", "password": "pw"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
}
