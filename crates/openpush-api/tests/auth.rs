//! Tokens and tenancy: app and user tokens, their expiry and 401 texts, and that one app's
//! tokens open nothing of another app's.

mod common;

use common::{assert_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn client_credentials_token_and_its_errors() {
    let s = TestServer::start().await;
    let c = s.create_app("org1", "app1").await;
    let path = "/org1/app1/token";
    let ok = s
        .call(Method::POST, path, None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": 1024000})))
        .await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);
    assert_eq!(ok.1["expires_in"], 1024000);
    assert!(ok.1["access_token"].as_str().unwrap().len() > 20);
    assert!(ok.1["application"].as_str().unwrap().len() == 36);
    assert!(ok.1.get("error").is_none());
    // The secret is never echoed back.
    assert!(!ok.1.to_string().contains(&c.client_secret));

    let cases = [
        (
            json!({"grant_type": "client_credentials", "client_secret": c.client_secret}),
            StatusCode::BAD_REQUEST,
            "client_id must be provided.",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": c.client_id}),
            StatusCode::BAD_REQUEST,
            "client_secret must be provided",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": "YXA6nope", "client_secret": c.client_secret}),
            StatusCode::BAD_REQUEST,
            "client_id does not match",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": "YXA6nope"}),
            StatusCode::BAD_REQUEST,
            "client_secret does not match",
        ),
        (
            json!({"client_id": c.client_id, "client_secret": c.client_secret}),
            StatusCode::BAD_REQUEST,
            "grant_type must be provided",
        ),
        (
            json!({"grant_type": "magic", "client_id": c.client_id, "client_secret": c.client_secret}),
            StatusCode::BAD_REQUEST,
            "not supported",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": -5}),
            StatusCode::BAD_REQUEST,
            "ttl",
        ),
        (
            json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": "soon"}),
            StatusCode::BAD_REQUEST,
            "ttl",
        ),
        (
            json!({"grant_type": 5}),
            StatusCode::BAD_REQUEST,
            "grant_type",
        ),
    ];
    for (body, status, text) in cases {
        let got = s.call(Method::POST, path, None, Some(body.clone())).await;
        assert_error(&got, status, text);
    }
    let got = s
        .call(Method::POST, "/org1/nope/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret})))
        .await;
    assert_error(
        &got,
        StatusCode::NOT_FOUND,
        "Could not find application for org1/nope",
    );
    assert_eq!(got.1["error"], "organization_application_not_found");
}

#[tokio::test]
async fn ttl_zero_never_expires_and_fits_32_bits() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    for ttl in [json!(0), json!("0")] {
        let (st, b) = s
            .call(Method::POST, "/o/a/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": ttl})))
            .await;
        assert_eq!(st, StatusCode::OK);
        let e = b["expires_in"].as_i64().unwrap();
        assert!(e > 0 && e <= i64::from(i32::MAX), "{e}");
        let t = b["access_token"].as_str().unwrap().to_owned();
        // A hundred years later it still works.
        s.clock.advance_ms(100 * 365 * 24 * 3600 * 1000);
        assert_eq!(s.get("/o/a/users", &t).await.0, StatusCode::OK);
    }
    // A huge ttl is capped in expires_in but still a 32-bit number.
    let (_, b) = s
        .call(Method::POST, "/o/a/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": 99_999_999_999i64})))
        .await;
    assert_eq!(b["expires_in"].as_i64().unwrap(), i64::from(i32::MAX));
    // No ttl: the configured default.
    let (_, b) = s
        .call(Method::POST, "/o/a/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret})))
        .await;
    assert_eq!(
        b["expires_in"].as_u64().unwrap(),
        s.config.token.default_ttl_secs
    );
}

#[tokio::test]
async fn the_401_texts() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    let (_, b) = s
        .call(Method::POST, "/o/a/token", None, Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": 60})))
        .await;
    let token = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/o/a/users", &token).await.0, StatusCode::OK);

    let missing = s.call(Method::GET, "/o/a/users", None, None).await;
    assert_error(
        &missing,
        StatusCode::UNAUTHORIZED,
        "Unable to authenticate (OAuth)",
    );
    let corrupt = s.get("/o/a/users", "not-a-token!").await;
    assert_error(&corrupt, StatusCode::UNAUTHORIZED, "corrupt access token");
    assert_eq!(corrupt.1["error"], "auth_bad_access_token");
    // Well-formed but not signed by this server.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let got = s.get("/o/a/users", &forged).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
    assert_eq!(got.1["error_description"], "Unable to authenticate");

    s.clock.advance_ms(61_000);
    let expired = s.get("/o/a/users", &token).await;
    assert_error(&expired, StatusCode::UNAUTHORIZED, "expired access token");
    assert_eq!(expired.1["error"], "unauthorized");
}

#[tokio::test]
async fn an_app_token_works_only_on_its_own_app() {
    let s = TestServer::start().await;
    let (a, ta) = s.app_with_token("org", "a").await;
    let (b, tb) = s.app_with_token("org", "b").await;
    s.users(&a, &ta, &["alice"]).await;
    s.users(&b, &tb, &["bob"]).await;
    for path in [
        "/users",
        "/users/alice",
        "/push/label",
        "/users/alice/push/binding",
    ] {
        let got = s.get(&format!("{b}{path}"), &ta).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
        assert_eq!(got.1["error_description"], "Unable to authenticate");
    }
    // Writes too, and nothing changes in app b.
    let got = s
        .post(
            &format!("{b}/users"),
            &ta,
            json!({"username": "mallory", "password": "x"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::UNAUTHORIZED);
    let got = s.delete(&format!("{b}/users/bob"), &ta, None).await;
    assert_eq!(got.0, StatusCode::UNAUTHORIZED);
    let (_, list) = s.get(&format!("{b}/users"), &tb).await;
    let names: Vec<_> = list["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("bob")]);
    // An app that does not exist: 401 for app calls too (the token is not for it).
    assert_eq!(
        s.get("/org/ghost/users", &ta).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn user_tokens_log_in_but_cannot_call_app_endpoints() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["Alice"]).await;
    let login = |u: &str, pw: &str| json!({"grant_type": "password", "username": u, "password": pw, "ttl": 86400});
    let (st, b) = s
        .call(Method::POST, "/o/a/token", None, Some(login("ALICE", "pw")))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["expires_in"], 86400);
    assert_eq!(b["user"]["username"], "alice");
    assert!(b["user"].get("password").is_none());
    let user_token = b["access_token"].as_str().unwrap().to_owned();
    let got = s.get("/o/a/users", &user_token).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");

    for body in [
        login("alice", "wrong"),
        login("nobody", "pw"),
        login("bad name!", "pw"),
    ] {
        let got = s.call(Method::POST, "/o/a/token", None, Some(body)).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "invalid username or password",
        );
    }
    let got = s
        .call(
            Method::POST,
            "/o/a/token",
            None,
            Some(json!({"grant_type": "password", "username": "alice"})),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "password must be provided");
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    let s = s.restart().await;
    let (st, b) = s.get(&format!("{p}/users/u1"), &t).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["entities"][0]["username"], "u1");
}

#[tokio::test]
async fn client_secrets_are_stored_hashed() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    let app = s.store.app_by_name("o", "a").await.unwrap().unwrap();
    assert_ne!(app.secret_hash, c.client_secret.as_bytes());
    assert_eq!(app.secret_hash.len(), 32);
    // The app's Debug form shows no hash or secret.
    let dbg = format!("{app:?}");
    assert!(!dbg.contains("secret_hash"), "{dbg}");
}
