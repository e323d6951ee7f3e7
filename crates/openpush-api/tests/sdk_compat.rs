//! SDK compatibility: what Easemob's SDKs send and what they expect back, each point tested with
//! the bytes the SDKs actually send.

mod common;

use common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The Java push SDK fetches its token with a JSON body labelled form-urlencoded and its
/// own user agent; the IM SDK sends no Content-Type at all.
#[tokio::test]
async fn p1_token_as_the_java_and_im_sdks_send_it() {
    let s = TestServer::start().await;
    let c = s.create_app("easemob-demo", "testy").await;
    let body = format!(
        r#"{{"grant_type":"client_credentials","client_id":"{}","client_secret":"{}"}}"#,
        c.client_id, c.client_secret
    );
    let res = s
        .client
        .post(s.url("/easemob-demo/testy/token"))
        .header("Content-type", "application/x-www-form-urlencoded")
        .header("User-Agent", "EasemobPushServerSDK/1.0.0")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert!(v["access_token"].is_string());
    let (st, _) = s
        .call_raw(
            Method::POST,
            "/easemob-demo/testy/token",
            None,
            Some(&body),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
}

/// Cursors appended raw, parameters in any order.
#[tokio::test]
async fn p2_raw_cursors_in_any_order() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["a1", "a2", "a3"]).await;
    for n in ["l1", "l2", "l3"] {
        s.post(&format!("{p}/push/label"), &t, json!({"name": n}))
            .await;
    }
    let (_, first) = s.get(&format!("{p}/push/label?limit=2"), &t).await;
    let cursor = first["cursor"].as_str().unwrap();
    let (st, next) = s
        .get(&format!("{p}/push/label?cursor={cursor}&limit=2"), &t)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(next["data"][0]["name"], "l3");
    assert!(next.get("cursor").is_none());
}

/// A body on DELETE.
#[tokio::test]
async fn p3_delete_with_a_body() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    s.post(&format!("{p}/push/label"), &t, json!({"name": "lab"}))
        .await;
    s.post(
        &format!("{p}/push/label/lab/user"),
        &t,
        json!({"usernames": ["u1"]}),
    )
    .await;
    let (st, b) = s
        .call_raw(
            Method::DELETE,
            &format!("{p}/push/label/lab/user"),
            Some(&t),
            Some(r#"{"usernames":["u1"]}"#),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["success"], json!(["u1"]));
}

/// Unknown and legacy fields are accepted (`ttl` on the token call; anything else anywhere).
#[tokio::test]
async fn p4_unknown_fields_are_accepted() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let (st, _) = s
        .post(
            &format!("{p}/users"),
            &t,
            json!({"username": "u1", "password": "pw", "async": true, "type": "IM"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .post(
            &format!("{p}/push/label"),
            &t,
            json!({"name": "l", "pushFunc": "LABEL", "extra": {"x": [1]}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s.put(&format!("{p}/users/u1/push/binding"), &t, json!({"device_id": "d", "notifier_name": "n", "device_token": "token-0123456789", "deviceType": "android"})).await;
    assert_eq!(st, StatusCode::OK);
}

/// Numbers, strings and booleans interchange in the IM settings.
#[tokio::test]
async fn p5_numbers_and_strings_interchange() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    for (body, field, want) in [
        (
            json!({"notification_display_style": "1"}),
            "notification_display_style",
            json!(1),
        ),
        (
            json!({"notification_display_style": 0}),
            "notification_display_style",
            json!(0),
        ),
        (
            json!({"notification_no_disturbing": true, "notification_no_disturbing_start": "10", "notification_no_disturbing_end": 12}),
            "notification_no_disturbing_start",
            json!("10"),
        ),
        (
            json!({"notification_no_disturbing": 1, "notification_no_disturbing_start": 10, "notification_no_disturbing_end": "12"}),
            "notification_no_disturbing_end",
            json!("12"),
        ),
        (
            json!({"notification_no_disturbing": "false"}),
            "notification_no_disturbing",
            json!(false),
        ),
        (
            json!({"notification_no_disturbing": 0}),
            "notification_no_disturbing",
            json!(false),
        ),
    ] {
        let (st, b) = s.put(&format!("{p}/users/u1"), &t, body.clone()).await;
        assert_eq!(st, StatusCode::OK, "{body}: {b}");
        assert_eq!(b["entities"][0][field], want, "{body}");
    }
    let (st, b) = s
        .put(
            &format!("{p}/users/u1/notification/user/u1"),
            &t,
            json!({"ignoreDuration": "60000"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["data"]["ignoreDuration"].as_i64().unwrap() > 60000);
}

/// `expires_in` is a 32-bit number, also for ttl 0.
#[tokio::test]
async fn p7_expires_in_fits_32_bits() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    for ttl in [json!(0), json!(1024000), json!(5_000_000_000u64)] {
        let (_, b) = s
            .call(Method::POST, "/o/a/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": ttl})))
            .await;
        let n = b["expires_in"].as_i64().unwrap();
        assert!(i32::try_from(n).is_ok() && n > 0, "{ttl}: {n}");
    }
}

/// Success is exactly 200 with a JSON body and no `error` key; errors are JSON with
/// `error_description`. Checked on every endpoint's success path.
#[tokio::test]
async fn p9_success_is_200_json_without_error_key() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("{p}/users"),
            Some(json!({"username": "u1", "password": "pw"})),
        ),
        (Method::GET, format!("{p}/users"), None),
        (Method::GET, format!("{p}/users/u1"), None),
        (
            Method::PUT,
            format!("{p}/users/u1"),
            Some(json!({"nickname": "n"})),
        ),
        (
            Method::PUT,
            format!("{p}/users/u1/push/binding"),
            Some(
                json!({"device_id": "d", "notifier_name": "n", "device_token": "token-0123456789"}),
            ),
        ),
        (Method::GET, format!("{p}/users/u1/push/binding"), None),
        (
            Method::PUT,
            format!("{p}/push/nickname"),
            Some(json!([{"username": "u1", "push_nickname": "pn"}])),
        ),
        (
            Method::PUT,
            format!("{p}/users/u1/notification/user/u1"),
            Some(json!({"type": "NONE"})),
        ),
        (
            Method::GET,
            format!("{p}/users/u1/notification/user/u1"),
            None,
        ),
        (
            Method::PUT,
            format!("{p}/users/u1/notification/language"),
            Some(json!({"translationLanguage": "EU"})),
        ),
        (
            Method::GET,
            format!("{p}/users/u1/notification/language"),
            None,
        ),
        (
            Method::POST,
            format!("{p}/push/label"),
            Some(json!({"name": "l"})),
        ),
        (Method::GET, format!("{p}/push/label"), None),
        (Method::GET, format!("{p}/push/label/l"), None),
        (
            Method::POST,
            format!("{p}/push/label/l/user"),
            Some(json!({"usernames": ["u1"]})),
        ),
        (Method::GET, format!("{p}/push/label/l/user"), None),
        (Method::GET, format!("{p}/push/label/l/user/u1"), None),
        (
            Method::DELETE,
            format!("{p}/push/label/l/user"),
            Some(json!({"usernames": ["u1"]})),
        ),
        (Method::DELETE, format!("{p}/push/label/l"), None),
        (Method::DELETE, format!("{p}/users/u1"), None),
    ];
    for (m, path, body) in calls {
        let res = {
            let mut r = s.client.request(m.clone(), s.url(&path)).bearer_auth(&t);
            if let Some(b) = &body {
                r = r.body(b.to_string());
            }
            r.send().await.unwrap()
        };
        assert_eq!(res.status().as_u16(), 200, "{m} {path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let text = res.text().await.unwrap();
        assert!(!text.is_empty(), "{m} {path}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("error").is_none(), "{m} {path}: {v}");
    }
}

/// User entities carry username, nickname (also from /push/nickname), uuid, activated,
/// pushInfo with `device_Id`.
#[tokio::test]
async fn p11_user_entities() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    s.put(
        &format!("{p}/push/nickname"),
        &t,
        json!([{"username": "u1", "push_nickname": "推送昵称"}]),
    )
    .await;
    s.put(
        &format!("{p}/users/u1/push/binding"),
        &t,
        json!({"device_id": "d1", "notifier_name": "hw", "device_token": "token-0123456789"}),
    )
    .await;
    let (_, b) = s.get(&format!("{p}/users/u1"), &t).await;
    let e = &b["entities"][0];
    assert_eq!(e["username"], "u1");
    assert_eq!(e["nickname"], "推送昵称");
    assert_eq!(e["activated"], true);
    assert!(e["uuid"].is_string());
    assert_eq!(
        e["pushInfo"],
        json!([{"device_Id": "d1", "device_token": "token-0123456789", "notifier_name": "hw"}])
    );
}
