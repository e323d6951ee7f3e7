//! HTTP-level behaviour: unknown paths, wrong methods, body limits, content types, rate limits, the
//! OpenAPI document, and the SDK-compatibility points (what Easemob's SDKs send and expect back).

mod common;

use common::{assert_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    for path in [
        "/",
        "/nope",
        "/o/a/nothing/here",
        "/o/a/users/u1/push/binding/extra",
    ] {
        let got = s.get(path, &t).await;
        assert_error(&got, StatusCode::NOT_FOUND, "url is invalid");
    }
    for (m, path) in [
        (Method::PATCH, format!("{p}/users")),
        (Method::DELETE, format!("{p}/users")),
        (Method::GET, format!("{p}/token")),
        (Method::POST, format!("{p}/users/u1")),
    ] {
        let got = s.call(m.clone(), &path, Some(&t), None).await;
        assert_error(&got, StatusCode::METHOD_NOT_ALLOWED, m.as_str());
    }
}

#[tokio::test]
async fn oversize_and_non_json_bodies() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 2048).await;
    let (p, t) = s.app_with_token("o", "a").await;
    let big = json!({"username": "u1", "password": "pw", "nickname": "x".repeat(4000)}).to_string();
    let got = s
        .call_raw(
            Method::POST,
            &format!("{p}/users"),
            Some(&t),
            Some(&big),
            Some("application/json"),
        )
        .await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "2048");
    let got = s
        .call_raw(
            Method::POST,
            &format!("{p}/users"),
            Some(&t),
            Some("username=u1&password=pw"),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "not valid JSON");
    let (_, list) = s.get(&format!("{p}/users"), &t).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn json_is_read_whatever_the_content_type_says() {
    let s = TestServer::start().await;
    let c = s.create_app("o", "a").await;
    let body = json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret, "ttl": 3600, "some_new_field": {"x": 1}}).to_string();
    // The Java push SDK labels JSON as form-urlencoded; the IM SDK sends no label at all.
    for ct in [
        Some("application/x-www-form-urlencoded"),
        None,
        Some("text/plain"),
        Some("application/json; charset=UTF-8"),
    ] {
        let (st, b) = s
            .call_raw(Method::POST, "/o/a/token", None, Some(&body), ct)
            .await;
        assert_eq!(st, StatusCode::OK, "{ct:?}: {b}");
        assert!(b.get("error").is_none());
    }
    let t = s.app_token(&c).await;
    let (st, b) = s
        .call_raw(
            Method::POST,
            "/o/a/users",
            Some(&t),
            Some(r#"{"username":"u1","password":"pw","unknown":true}"#),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn answers_json_with_status_200_whatever_accept_says() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let res = s
        .client
        .get(s.url(&format!("{p}/users")))
        .bearer_auth(&t)
        // Java 8's default Accept.
        .header(
            "Accept",
            "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = res.json().await.unwrap();
    assert!(v.get("error").is_none());
    // Also errors.
    let res = s
        .client
        .get(s.url("/nowhere"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn rate_limits_answer_429_per_app_and_group() {
    let s = TestServer::start_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.label = 3;
    })
    .await;
    let (a, ta) = s.app_with_token("o", "a").await;
    let (b, tb) = s.app_with_token("o", "b").await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(s.get(&format!("{a}/push/label"), &ta).await);
    }
    let limited: Vec<_> = codes
        .iter()
        .filter(|c| c.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    let passed = codes.iter().filter(|c| c.0 == StatusCode::OK).count();
    assert!(
        !limited.is_empty() && (3..=5).contains(&passed),
        "{passed} passed"
    );
    assert_error(
        limited[0],
        StatusCode::TOO_MANY_REQUESTS,
        "reached api limit",
    );
    // Another app, and another group of the same app, are not affected.
    assert_eq!(
        s.get(&format!("{b}/push/label"), &tb).await.0,
        StatusCode::OK
    );
    assert_eq!(s.get(&format!("{a}/users"), &ta).await.0, StatusCode::OK);
}

#[tokio::test]
async fn openapi_covers_every_endpoint() {
    let s = TestServer::start().await;
    let (st, doc) = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("post", "/{org}/{app}/token"),
        ("post", "/{org}/{app}/users"),
        ("get", "/{org}/{app}/users"),
        ("get", "/{org}/{app}/users/{username}"),
        ("put", "/{org}/{app}/users/{username}"),
        ("delete", "/{org}/{app}/users/{username}"),
        ("put", "/{org}/{app}/users/{username}/password"),
        ("post", "/{org}/{app}/users/{username}/tokens/revoke"),
        ("put", "/{org}/{app}/users/{username}/push/binding"),
        ("get", "/{org}/{app}/users/{username}/push/binding"),
        ("put", "/{org}/{app}/push/nickname"),
        (
            "put",
            "/{org}/{app}/users/{username}/notification/{chattype}/{key}",
        ),
        (
            "get",
            "/{org}/{app}/users/{username}/notification/{chattype}/{key}",
        ),
        ("put", "/{org}/{app}/users/{username}/notification/language"),
        ("get", "/{org}/{app}/users/{username}/notification/language"),
        ("post", "/{org}/{app}/push/label"),
        ("get", "/{org}/{app}/push/label"),
        ("get", "/{org}/{app}/push/label/{labelname}"),
        ("delete", "/{org}/{app}/push/label/{labelname}"),
        ("post", "/{org}/{app}/push/label/{labelname}/user"),
        ("get", "/{org}/{app}/push/label/{labelname}/user"),
        ("delete", "/{org}/{app}/push/label/{labelname}/user"),
        ("get", "/{org}/{app}/push/label/{labelname}/user/{username}"),
        ("post", "/{org}/{app}/push/sync/{target}"),
        ("post", "/{org}/{app}/push/async/{target}"),
        ("post", "/{org}/{app}/push/single"),
        ("get", "/{org}/{app}/push/connect"),
        ("post", "/{org}/{app}/push/message"),
        ("get", "/{org}/{app}/push/message/{id}"),
        ("post", "/{org}/{app}/push/message/{id}"),
        ("post", "/{org}/{app}/push/task"),
        ("post", "/{org}/{app}/push/task/broadcast"),
        ("post", "/{org}/{app}/push/list"),
        ("post", "/{org}/{app}/push/list/label"),
        ("get", "/{org}/{app}/push/tasks"),
        ("get", "/{org}/{app}/push/task/{id}"),
        ("delete", "/{org}/{app}/push/task/{id}"),
        ("post", "/{org}/{app}/push/report"),
        ("post", "/{org}/{app}/notifiers"),
        ("get", "/{org}/{app}/notifiers"),
        ("get", "/{org}/{app}/notifiers/{name}"),
        ("delete", "/{org}/{app}/notifiers/{name}"),
        (
            "get",
            "/{org}/{app}/push/data/offline-push/begin/{startTime}/end/{endTime}",
        ),
        (
            "get",
            "/{org}/{app}/push/data/daily/begin/{startTime}/end/{endTime}",
        ),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let mut count = 0;
    for ops in paths.values() {
        count += ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "put", "post", "delete"].contains(&k.as_str()))
            .count();
    }
    for (m, p) in expected {
        assert!(
            paths.get(p).and_then(|o| o.get(m)).is_some(),
            "{m} {p} missing from /openapi.json"
        );
    }
    assert_eq!(
        count,
        expected.len(),
        "every documented operation is listed above"
    );
    // And the in-process generator agrees with what is served.
    let generated = serde_json::to_value(openpush_api::openapi()).unwrap();
    assert_eq!(generated["paths"], doc["paths"]);
}

#[tokio::test]
async fn every_route_answers_with_json_and_never_500_on_garbage() {
    // Garbage bodies and paths on every endpoint: 4xx with the envelope, never 5xx.
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    let (_, doc) = s.call(Method::GET, "/openapi.json", None, None).await;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{org}/{app}", p.trim_start_matches('/'))
            .replace("{username}", "u1")
            .replace("{labelname}", "lab")
            .replace("{chattype}", "user")
            .replace("{key}", "u1")
            .replace("{target}", "u1")
            .replace("{id}", "12345")
            .replace("{name}", "n1");
        for m in ops.as_object().unwrap().keys() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            for body in [
                "{",
                "[1,2,3]",
                "\"str\"",
                "{\"a\":{\"b\":[null]}}",
                "\u{0}\u{1}",
            ] {
                let (st, b) = s
                    .call_raw(method.clone(), &concrete, Some(&t), Some(body), None)
                    .await;
                assert!(!st.is_server_error(), "{m} {concrete} {body:?}: {st} {b}");
            }
        }
    }
}
