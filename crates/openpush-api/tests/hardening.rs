//! Attacks on the HTTP side, each against a real server, and what now stops them.

mod common;

use common::{assert_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The most characters an error description sends back (`ApiError` clips longer ones).
const MAX_DESCRIPTION_CHARS: usize = 261;

#[tokio::test]
async fn error_descriptions_never_echo_a_10_kb_input_whole() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    let big = "x".repeat(10 * 1024);
    let push = |strategy: Value| {
        json!({"targets": ["u1"], "strategy": strategy,
               "pushMessage": {"title": "t", "content": "c"}})
    };
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        // A label name in the path.
        (
            Method::GET,
            format!("{p}/push/label/{big}"),
            None,
            StatusCode::BAD_REQUEST,
            "push label not exists of xxx",
        ),
        // A field's value.
        (
            Method::POST,
            format!("{p}/push/single"),
            Some(push(json!(big))),
            StatusCode::BAD_REQUEST,
            "strategy must be an integer",
        ),
        (
            Method::PUT,
            format!("{p}/users/u1"),
            Some(json!({"notification_display_style": big})),
            StatusCode::BAD_REQUEST,
            "notification_display_style must be an integer",
        ),
        (
            Method::POST,
            format!("{p}/token"),
            Some(json!({"grant_type": big})),
            StatusCode::BAD_REQUEST,
            "grant_type \"xxx",
        ),
        (
            Method::POST,
            format!("{p}/notifiers"),
            Some(json!({"name": "x", "vendor": big, "credentials": {}})),
            StatusCode::BAD_REQUEST,
            "vendor must be one of",
        ),
        // A query parameter, and an org name in the path.
        (
            Method::GET,
            format!("{p}/users?limit={big}"),
            None,
            StatusCode::BAD_REQUEST,
            "limit must be a number",
        ),
        (
            Method::POST,
            format!("/{big}/a/token"),
            Some(json!({"grant_type": "password"})),
            StatusCode::NOT_FOUND,
            "Could not find application for xxx",
        ),
    ];
    for (method, path, body, status, text) in cases {
        let got = s.call(method, &path, Some(&t), body).await;
        assert_error(&got, status, text);
        let desc = got.1["error_description"].as_str().unwrap();
        assert!(
            desc.chars().count() <= MAX_DESCRIPTION_CHARS,
            "{} characters: {desc:.80}",
            desc.chars().count()
        );
        assert!(desc.contains('…'), "no ellipsis in {desc:.80}");
    }
    // A short input is still echoed whole.
    let got = s.get(&format!("{p}/push/label/nolabel"), &t).await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "push label not exists of nolabel",
    );
}
