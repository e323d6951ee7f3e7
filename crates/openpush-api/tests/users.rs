//! IM users: register, list, get, update, delete, with bad input.

mod common;

use common::{assert_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn user(s: &TestServer, p: &str, t: &str, name: &str) -> Value {
    let (st, b) = s.get(&format!("{p}/users/{name}"), t).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["entities"][0].clone()
}

#[tokio::test]
async fn register_one_and_many() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let (st, b) = s
        .post(
            &format!("{p}/users"),
            &t,
            json!({"username": "User_1", "password": "pw", "nickname": "昵称"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["action"], "post");
    assert_eq!(b["path"], "/users");
    assert_eq!(b["organization"], "o");
    assert_eq!(b["applicationName"], "a");
    assert!(b["uri"].as_str().unwrap().ends_with("/o/a/users"));
    let e = &b["entities"][0];
    assert_eq!(e["username"], "user_1", "user ids are lower-cased");
    assert_eq!(e["type"], "user");
    assert_eq!(e["activated"], true);
    assert_eq!(e["nickname"], "昵称");
    assert_eq!(e["pushInfo"], json!([]));
    assert!(e["uuid"].as_str().unwrap().len() == 36);
    assert!(e.get("password").is_none());

    // Duplicate (case-insensitively): 400 and nothing changes.
    let dup = s
        .post(
            &format!("{p}/users"),
            &t,
            json!({"username": "USER_1", "password": "other"}),
        )
        .await;
    assert_error(&dup, StatusCode::BAD_REQUEST, "value of user_1 exists");
    assert_eq!(dup.1["error"], "duplicate_unique_property_exists");
    assert_eq!(user(&s, &p, &t, "user_1").await["nickname"], "昵称");

    // A batch with one existing user: the others are created, the existing one reported.
    let (st, b) = s
        .post(&format!("{p}/users"), &t, json!([{"username": "u2", "password": "pw"}, {"username": "user_1", "password": "pw"}, {"username": "u3", "password": "pw"}]))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let made: Vec<_> = b["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["username"].clone())
        .collect();
    assert_eq!(made, [json!("u2"), json!("u3")]);
    assert_eq!(b["data"][0]["username"], "user_1");
    assert!(b["data"][0]["registerUserFailReason"]
        .as_str()
        .unwrap()
        .contains("exists"));
}

#[tokio::test]
async fn register_bad_input_changes_nothing() {
    let s = TestServer::start_with(|c| c.limits.users_per_batch = 3).await;
    let (p, t) = s.app_with_token("o", "a").await;
    let path = format!("{p}/users");
    let long = "x".repeat(65);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"password": "pw"}), "username"),
        (json!({"username": "u1"}), "password"),
        (json!({"username": 5, "password": "pw"}), "username"),
        (json!({"username": "u1", "password": 12}), "password"),
        (
            json!({"username": "", "password": "pw"}),
            "username must be provided",
        ),
        (json!({"username": long, "password": "pw"}), "1 to 64"),
        (
            json!({"username": "bad name", "password": "pw"}),
            "may only contain",
        ),
        (
            json!({"username": "用户", "password": "pw"}),
            "may only contain",
        ),
        (
            json!({"username": "u1", "password": "p".repeat(65)}),
            "at most 64",
        ),
        (
            json!({"username": "u1", "password": "pw", "nickname": "n".repeat(101)}),
            "nickname",
        ),
        (json!([]), "no users"),
        (json!("u1"), "user object"),
        (
            json!([{"username": "a", "password": "pw"}, {"username": "b", "password": "pw"}, {"username": "c", "password": "pw"}, {"username": "d", "password": "pw"}]),
            "at most 3 users",
        ),
        (
            json!([{"username": "ok1", "password": "pw"}, {"username": "bad name", "password": "pw"}]),
            "[1].username",
        ),
    ];
    for (body, text) in cases {
        let got = s.post(&path, &t, body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, text);
    }
    for raw in ["{not json", "", "[1,", "null"] {
        let got = s
            .call_raw(
                Method::POST,
                &path,
                Some(&t),
                Some(raw),
                Some("application/json"),
            )
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{raw}: {}", got.1);
    }
    // Not one of those created a user (a rejected batch creates none of its valid members).
    let (_, list) = s.get(&path, &t).await;
    assert_eq!(list["entities"], json!([]), "{list}");
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn list_pages_with_url_safe_cursors() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let names: Vec<String> = (0..25).map(|i| format!("user{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    s.users(&p, &t, &refs).await;
    s.put(
        &format!("{p}/users/user03/push/binding"),
        &t,
        json!({"device_id": "d1", "notifier_name": "fcm", "device_token": "token-0123456789"}),
    )
    .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            // Raw, unencoded, and with the parameters in the other order.
            Some(c) => format!("{p}/users?cursor={c}&limit=10"),
            None => format!("{p}/users?limit=10"),
        };
        let (st, b) = s.get(&q, &t).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        for e in b["entities"].as_array().unwrap() {
            seen.push(e["username"].as_str().unwrap().to_owned());
            if e["username"] == "user03" {
                assert_eq!(e["pushInfo"][0]["device_Id"], "d1");
            }
        }
        match b.get("cursor").and_then(Value::as_str) {
            Some(c) => {
                assert!(
                    c.bytes()
                        .all(|x| x.is_ascii_alphanumeric() || x == b'-' || x == b'_'),
                    "{c}"
                );
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(seen, names);
    // Default page is 10.
    let (_, b) = s.get(&format!("{p}/users"), &t).await;
    assert_eq!(b["count"], 10);
    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=b3BlbnB1c2g6bGFiZWw6MQ",
    ] {
        let got = s.get(&format!("{p}/users?{q}"), &t).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{q}: {}", got.1);
    }
}

#[tokio::test]
async fn get_update_delete() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1", "u2"]).await;
    // Lookups are case-insensitive.
    assert_eq!(user(&s, &p, &t, "U1").await["username"], "u1");

    // Display style as a string (Java SDK) and as a number (PHP SDK).
    let (st, b) = s
        .put(
            &format!("{p}/users/u1"),
            &t,
            json!({"notification_display_style": "1", "nickname": "Nick"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["action"], "put");
    assert_eq!(b["entities"][0]["notification_display_style"], 1);
    assert_eq!(b["entities"][0]["nickname"], "Nick");
    let (_, b) = s
        .put(
            &format!("{p}/users/u1"),
            &t,
            json!({"notification_display_style": 0}),
        )
        .await;
    assert_eq!(b["entities"][0]["notification_display_style"], 0);
    assert_eq!(
        b["entities"][0]["nickname"], "Nick",
        "untouched fields stay"
    );

    // Legacy DND fields with strings, numbers and 1/0 flags.
    let (st, b) = s
        .put(&format!("{p}/users/u1"), &t, json!({"notification_no_disturbing": 1, "notification_no_disturbing_start": "8", "notification_no_disturbing_end": 18}))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let e = &b["entities"][0];
    assert_eq!(
        (
            e["notification_no_disturbing"].clone(),
            e["notification_no_disturbing_start"].clone(),
            e["notification_no_disturbing_end"].clone()
        ),
        (json!(true), json!("8"), json!("18"))
    );
    let (_, b) = s
        .put(
            &format!("{p}/users/u1"),
            &t,
            json!({"notification_no_disturbing": false}),
        )
        .await;
    assert_eq!(b["entities"][0]["notification_no_disturbing"], false);

    // Bad updates: 400 and nothing changes.
    for (body, text) in [
        (json!({"notification_display_style": 2}), "0 or 1"),
        (
            json!({"notification_display_style": "x"}),
            "notification_display_style",
        ),
        (json!({"nickname": 5}), "nickname"),
        (json!({"nickname": "n".repeat(101)}), "nickname"),
        (
            json!({"notification_no_disturbing": "maybe"}),
            "notification_no_disturbing",
        ),
        (
            json!({"notification_no_disturbing": true, "notification_no_disturbing_start": 24}),
            "0 to 23",
        ),
    ] {
        assert_error(
            &s.put(&format!("{p}/users/u1"), &t, body).await,
            StatusCode::BAD_REQUEST,
            text,
        );
    }
    let e = user(&s, &p, &t, "u1").await;
    assert_eq!(
        (
            e["nickname"].clone(),
            e["notification_display_style"].clone()
        ),
        (json!("Nick"), json!(0))
    );

    // Unknown users: GET and DELETE answer 404 service_resource_not_found (an update answers
    // 400 RequiredPropertyNotFoundException, tested in easemob_answers.rs).
    for (m, body) in [(Method::GET, None), (Method::DELETE, None)] {
        let got = s.call(m, &format!("{p}/users/ghost"), Some(&t), body).await;
        assert_error(&got, StatusCode::NOT_FOUND, "Service resource not found");
        assert_eq!(got.1["error"], "service_resource_not_found");
    }

    // Delete removes the user, its bindings and its label memberships.
    s.put(
        &format!("{p}/users/u1/push/binding"),
        &t,
        json!({"device_id": "d1", "notifier_name": "fcm", "device_token": "token-0123456789"}),
    )
    .await;
    s.post(&format!("{p}/push/label"), &t, json!({"name": "vip"}))
        .await;
    s.post(
        &format!("{p}/push/label/vip/user"),
        &t,
        json!({"usernames": ["u1", "u2"]}),
    )
    .await;
    let (st, b) = s.delete(&format!("{p}/users/U1"), &t, None).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["action"], "delete");
    assert_eq!(b["entities"][0]["username"], "u1");
    assert_eq!(
        s.get(&format!("{p}/users/u1"), &t).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, label) = s.get(&format!("{p}/push/label/vip"), &t).await;
    assert_eq!(label["data"]["count"], 1);
    // Re-registering starts with no bindings.
    s.users(&p, &t, &["u1"]).await;
    assert_eq!(user(&s, &p, &t, "u1").await["pushInfo"], json!([]));
}
