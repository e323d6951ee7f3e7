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

fn huawei_notifier(base_url: &str) -> Value {
    json!({"name": "hw-internal", "vendor": "huawei", "base_url": base_url,
           "credentials": {"app_id": "1", "client_id": "c", "client_secret": "s"}})
}

#[tokio::test]
async fn notifier_base_urls_into_private_ranges_are_refused() {
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    for (url, rule) in [
        ("http://10.1.2.3:8080", "private address (10.0.0.0/8)"),
        ("http://172.20.0.1", "private address (172.16.0.0/12)"),
        ("https://192.168.0.10", "private address (192.168.0.0/16)"),
        (
            "http://169.254.169.254/latest",
            "link-local address (169.254.0.0/16)",
        ),
        ("http://[fe80::1]:9000", "link-local address (fe80::/10)"),
        ("http://[fd00::5]", "unique-local address (fc00::/7)"),
        ("http://0.0.0.0:9000", "unspecified address"),
    ] {
        let got = s
            .post(&format!("{p}/notifiers"), &t, huawei_notifier(url))
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, rule);
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "vendors.allow_private_base_url",
        );
    }
    let (_, list) = s.get(&format!("{p}/notifiers"), &t).await;
    assert_eq!(list["data"], json!([]), "nothing was stored");
    // Loopback (the stand-ins) and public hosts are accepted.
    for url in ["http://127.0.0.1:9", "https://push-api.cloud.huawei.com"] {
        let (st, b) = s
            .post(&format!("{p}/notifiers"), &t, huawei_notifier(url))
            .await;
        assert_eq!(st, StatusCode::OK, "{url}: {b}");
    }
}

#[tokio::test]
async fn private_and_loopback_base_urls_follow_the_server_settings() {
    let s = TestServer::start_with(|c| {
        c.vendors.allow_private_base_url = true;
        c.vendors.allow_loopback_base_url = false;
    })
    .await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    let (st, b) = s
        .post(
            &format!("{p}/notifiers"),
            &t,
            huawei_notifier("http://10.1.2.3:8080"),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let got = s
        .post(
            &format!("{p}/notifiers"),
            &t,
            huawei_notifier("http://127.0.0.1:9"),
        )
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "loopback address (127.0.0.0/8)",
    );
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        "vendors.allow_loopback_base_url",
    );
}

#[tokio::test]
async fn password_hashing_is_bounded_and_the_overflow_gets_429() {
    // One hash at a time and one waiting: a burst of logins cannot all queue for the hashing
    // slots; what does not fit is refused at once with 429 and Retry-After.
    let s = TestServer::start_with(|c| {
        c.limits.password_hash_concurrency = 1;
        c.limits.password_hash_queue = 1;
    })
    .await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    s.users(&p, &t, &["dev"]).await;
    let login = json!({"grant_type": "password", "username": "dev", "password": "pw"});
    let mut refused = 0;
    let mut logged_in = 0;
    // Each verification takes tens of milliseconds, so twenty logins sent at once overlap;
    // a burst is repeated in the unlikely case that they arrive one after another.
    for _ in 0..5 {
        let burst: Vec<_> = (0..20)
            .map(|_| {
                let req = s.client.post(s.url(&format!("{p}/token"))).json(&login);
                tokio::spawn(async move { req.send().await.unwrap() })
            })
            .collect();
        for h in burst {
            let res = h.await.unwrap();
            match res.status() {
                StatusCode::OK => logged_in += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    refused += 1;
                    assert_eq!(res.headers()["retry-after"], "1");
                    let body: Value = res.json().await.unwrap();
                    assert_eq!(body["exception"], "TooManyRequestsException");
                    let desc = body["error_description"].as_str().unwrap();
                    assert!(desc.contains("busy checking passwords"), "{desc}");
                }
                other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(refused > 0, "no login of the bursts was refused");
    assert!(logged_in > 0, "every login was refused");
    // The pool is idle again: a full batch of 60 users (more than it holds) is hashed, alone.
    let batch: Vec<Value> = (0..60)
        .map(|i| json!({"username": format!("batch{i}"), "password": "pw"}))
        .collect();
    let (st, b) = s.post(&format!("{p}/users"), &t, Value::Array(batch)).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["entities"].as_array().unwrap().len(), 60);
    let (st, b) = s
        .call(Method::POST, &format!("{p}/token"), None, Some(login))
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}
