//! Cutting tokens short: a rotated client secret refuses the app's earlier tokens, a user's
//! tokens end with a revocation, a password change or its deletion (its open devices are closed
//! with 4001), `token.max_ttl_secs` bounds every lifetime, and the signing key can come from the
//! configuration, with a previous key accepted for a grace period.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{assert_error, TestServer};
use openpush_client::{login, Device, Event};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const REVOKED: &str = "Unable to authenticate due to revoked access token";

async fn grant(s: &TestServer, prefix: &str, body: Value) -> (StatusCode, Value) {
    s.call(Method::POST, &format!("{prefix}/token"), None, Some(body))
        .await
}

async fn app_grant(
    s: &TestServer,
    id: &str,
    secret: &str,
    ttl: Option<i64>,
) -> (StatusCode, Value) {
    let mut body =
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret});
    if let Some(t) = ttl {
        body["ttl"] = json!(t);
    }
    grant(s, "/o/a", body).await
}

async fn expect_closed(d: &mut Device, code: u16) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), d.next()).await {
            Ok(Ok(Event::Closed { code: c, .. })) => {
                assert_eq!(c, code);
                return;
            }
            Ok(Ok(Event::Push(_) | Event::Pong)) => continue,
            Ok(Err(e)) => panic!("socket error instead of close {code}: {e:?}"),
            Err(_) => panic!("no close {code} within 10 s"),
        }
    }
}

#[tokio::test]
async fn a_rotated_secret_refuses_every_earlier_app_token() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    let (st, never) = app_grant(&s, &c.client_id, &c.client_secret, Some(0)).await;
    assert_eq!(st, StatusCode::OK, "{never}");
    let never = never["access_token"].as_str().unwrap().to_owned();
    let short = s.app_token(&c).await;
    for t in [&never, &short] {
        assert_eq!(s.get("/o/a/users", t).await.0, StatusCode::OK);
    }

    let rotated = openpush_api::admin::rotate_secret(&*s.store, &s.clock, "o", "a")
        .await
        .unwrap();
    assert_ne!(rotated.client_secret, c.client_secret);
    // The old secret no longer grants anything; the new one does, under the same client id.
    let old = app_grant(&s, &c.client_id, &c.client_secret, None).await;
    assert_error(
        &old,
        StatusCode::BAD_REQUEST,
        "client_secret does not match",
    );
    let (st, fresh) = app_grant(&s, &c.client_id, &rotated.client_secret, Some(0)).await;
    assert_eq!(st, StatusCode::OK, "{fresh}");
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    // Every token issued before the rotation is refused, the never-expiring one included.
    for t in [&never, &short] {
        let got = s.get("/o/a/users", t).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, REVOKED);
    }
    assert_eq!(s.get("/o/a/users", &fresh).await.0, StatusCode::OK);
    // Still refused after a restart (the time is stored).
    let s = s.restart().await;
    assert_error(
        &s.get("/o/a/users", &never).await,
        StatusCode::UNAUTHORIZED,
        REVOKED,
    );
    assert_eq!(s.get("/o/a/users", &fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_running_server_sees_a_rotation_within_its_app_cache_time() {
    let s = TestServer::start_with(|c| c.token.app_cache_secs = 1).await;
    let c = s.create_app("o", "a").await;
    let t = s.app_token(&c).await;
    assert_eq!(s.get("/o/a/users", &t).await.0, StatusCode::OK);
    // Rotated beside the server (as `openpush app rotate-secret` does), with no token grant
    // after it: the cached app is read again within `app_cache_secs`.
    openpush_api::admin::rotate_secret(&*s.store, &s.clock, "o", "a")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(
        &s.get("/o/a/users", &t).await,
        StatusCode::UNAUTHORIZED,
        REVOKED,
    );
}

#[tokio::test]
async fn revoking_a_users_tokens_closes_its_devices_and_refuses_its_old_tokens() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    s.users(&p, &t, &["alice", "bob"]).await;
    let alice = login(&s.base, "o", "a", "alice", "pw").await.unwrap();
    let bob = login(&s.base, "o", "a", "bob", "pw").await.unwrap();
    let mut phone = Device::connect(&s.base, "o", "a", &alice, "phone")
        .await
        .unwrap();
    let mut other = Device::connect(&s.base, "o", "a", &bob, "phone")
        .await
        .unwrap();

    // A user token cannot revoke anything; an unknown user is a 404.
    let got = s
        .post(&format!("{p}/users/alice/tokens/revoke"), &alice, json!({}))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
    let got = s
        .call(
            Method::POST,
            &format!("{p}/users/nobody/tokens/revoke"),
            Some(&t),
            None,
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "Service resource not found");

    let (st, b) = s
        .call(
            Method::POST,
            &format!("{p}/users/alice/tokens/revoke"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["entities"][0]["username"], "alice");
    assert_eq!(b["action"], "post");
    expect_closed(&mut phone, 4001).await;
    // The old token opens nothing any more: neither the channel nor the report endpoint.
    let err = Device::connect(&s.base, "o", "a", &alice, "phone").await;
    assert!(err.is_err(), "connected with a revoked token");
    let report =
        json!({"task_id": 1, "device_id": "phone", "action": "ARRIVE", "provider": "EASEMOB"});
    let got = s
        .post(&format!("{p}/push/report"), &alice, report.clone())
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, REVOKED);
    // A new login works at once (even in the same millisecond), and bob was not touched.
    let again = login(&s.base, "o", "a", "alice", "pw").await.unwrap();
    Device::connect(&s.base, "o", "a", &again, "phone")
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    other.ping().await.unwrap();
    assert!(matches!(
        tokio::time::timeout(Duration::from_secs(10), other.next()).await,
        Ok(Ok(Event::Pong))
    ));
}

#[tokio::test]
async fn a_password_change_revokes_and_the_new_password_logs_in() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    s.users(&p, &t, &["alice"]).await;
    let before = login(&s.base, "o", "a", "alice", "pw").await.unwrap();
    let mut phone = Device::connect(&s.base, "o", "a", &before, "phone")
        .await
        .unwrap();

    let url = format!("{p}/users/alice/password");
    for (body, text) in [
        (json!({}), "newpassword"),
        (json!({"newpassword": ""}), "newpassword"),
        (json!({"newpassword": "x".repeat(65)}), "newpassword"),
        (json!({"newpassword": 5}), "newpassword"),
    ] {
        assert_error(&s.put(&url, &t, body).await, StatusCode::BAD_REQUEST, text);
    }
    let got = s
        .put(
            &format!("{p}/users/nobody/password"),
            &t,
            json!({"newpassword": "pw2"}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "Service resource not found");
    let got = s.put(&url, &before, json!({"newpassword": "pw2"})).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");

    let (st, b) = s.put(&url, &t, json!({"newpassword": "pw2"})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["action"], "set user password");
    assert!(b["timestamp"].as_i64().unwrap() > 0 && b["duration"].as_i64().is_some());
    assert!(!b.to_string().contains("pw2"));
    expect_closed(&mut phone, 4001).await;
    assert!(Device::connect(&s.base, "o", "a", &before, "phone")
        .await
        .is_err());
    let old = grant(
        &s,
        &p,
        json!({"grant_type": "password", "username": "alice", "password": "pw"}),
    )
    .await;
    assert_error(
        &old,
        StatusCode::BAD_REQUEST,
        "invalid username or password",
    );
    let after = login(&s.base, "o", "a", "alice", "pw2").await.unwrap();
    Device::connect(&s.base, "o", "a", &after, "phone")
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_user_closes_its_devices() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    s.users(&p, &t, &["alice"]).await;
    let token = login(&s.base, "o", "a", "alice", "pw").await.unwrap();
    let mut phone = Device::connect(&s.base, "o", "a", &token, "phone")
        .await
        .unwrap();
    let (st, b) = s.delete(&format!("{p}/users/alice"), &t, None).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    expect_closed(&mut phone, 4001).await;
    assert!(Device::connect(&s.base, "o", "a", &token, "phone")
        .await
        .is_err());
}

#[tokio::test]
async fn max_ttl_bounds_every_token_never_expiring_ones_included() {
    let s = TestServer::start_with(|c| c.token.max_ttl_secs = 3600).await;
    let c = s.create_app("o", "a").await;
    for (ttl, expected) in [
        (Some(0), 3600),
        (Some(7200), 3600),
        (Some(60), 60),
        (None, 3600),
    ] {
        let (st, b) = app_grant(&s, &c.client_id, &c.client_secret, ttl).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["expires_in"], expected, "ttl {ttl:?}");
    }
    let (_, b) = app_grant(&s, &c.client_id, &c.client_secret, Some(0)).await;
    let t = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/o/a/users", &t).await.0, StatusCode::OK);
    s.clock.advance_ms(3_601_000);
    let got = s.get("/o/a/users", &t).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "expired access token");

    // Without a maximum, ttl 0 still never expires.
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    let (_, b) = app_grant(&s, &c.client_id, &c.client_secret, Some(0)).await;
    assert_eq!(b["expires_in"], 2147483647);
    let t = b["access_token"].as_str().unwrap().to_owned();
    s.clock.advance_ms(10 * 365 * 24 * 3_600_000);
    assert_eq!(s.get("/o/a/users", &t).await.0, StatusCode::OK);
}

fn b64(key: [u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// A server on its own data directory with an app `o/a` (the first app, so the same id on
/// every such server) and the given token settings.
async fn keyed_server(tweak: impl FnOnce(&mut openpush_api::config::TokenConfig)) -> TestServer {
    let s = TestServer::start_with(|c| tweak(&mut c.token)).await;
    s.create_app("o", "a").await;
    s
}

#[tokio::test]
async fn the_signing_key_comes_from_the_configuration_and_a_previous_key_gets_a_grace_period() {
    use openpush_api::config::SecretString;
    let keys = tempfile::tempdir().unwrap();
    let (k1, k2) = ([0x11; 32], [0x22; 32]);
    let file1 = keys.path().join("k1");
    std::fs::write(&file1, format!("{}\n", b64(k1))).unwrap();

    // A token from a server whose key is k1 (given inline)…
    let a = TestServer::start_with(|c| c.token.signing_key = SecretString::new(b64(k1))).await;
    let creds = a.create_app("o", "a").await;
    let token = a.app_token(&creds).await;
    // …is accepted by another server, with another data file, whose key is k1 from a file:
    // the key is the configured one, not the one in the data file.
    let b = keyed_server(|t| t.signing_key_file = file1.clone()).await;
    assert_eq!(b.get("/o/a/users", &token).await.0, StatusCode::OK);
    // After a rotation to k2, with k1 as the previous key: still accepted.
    let c = keyed_server(|t| {
        t.signing_key = SecretString::new(b64(k2));
        t.previous_signing_key_file = file1.clone();
    })
    .await;
    assert_eq!(c.get("/o/a/users", &token).await.0, StatusCode::OK);
    // Once the previous key is dropped, the old token is refused.
    let d = keyed_server(|t| t.signing_key = SecretString::new(b64(k2))).await;
    let got = d.get("/o/a/users", &token).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "Unable to authenticate");
    // And a server on its stored key refuses it too.
    let e = keyed_server(|_| {}).await;
    assert_eq!(
        e.get("/o/a/users", &token).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A bad key stops the server from starting, and the error does not show the key.
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path().to_path_buf());
    config.token.signing_key = SecretString::new("c2hvcnQta2V5LXNlY3JldA==");
    let err = openpush_api::Server::bind_with_clock(
        config,
        std::sync::Arc::new(openpush_core::ManualClock::new(
            openpush_core::SystemClock.now_ms(),
        )),
    )
    .await
    .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("32"), "{shown}");
    assert!(!shown.contains("c2hvcnQta2V5"), "{shown}");
}
