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

/// Status, `Retry-After` and body of a request.
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Value) {
    let res = req.send().await.unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, res.json().await.unwrap())
}

#[tokio::test]
async fn bad_credentials_never_spend_the_tenants_budget_and_their_flood_gets_429() {
    let s = TestServer::start_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.failed_per_source = 2;
        c.rate_limits.failed_burst_per_source = 10;
    })
    .await;
    assert_eq!(s.config.rate_limits.push_single, 10);
    let creds = s.create_app("o", "a").await;
    let t = s.app_token(&creds).await;
    let p = "/o/a";
    s.users(p, &t, &["u1"]).await;
    let push = json!({"targets": ["u1"], "strategy": 4,
                      "pushMessage": {"title": "t", "content": "c"}});
    let tenant_push = || {
        s.client
            .post(s.url(&format!("{p}/push/single")))
            .bearer_auth(&t)
            .json(&push)
    };
    let mut tenant_calls = 0;

    // 1. A flood of bad tokens at /push/single, the tenant pushing in between. Before, each
    //    bad call spent the app's 10/s and the tenant got 429.
    let mut flood = Vec::new();
    for i in 0..40 {
        let bad = if i % 2 == 0 {
            "not-a-token"
        } else {
            "AQEAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        };
        flood.push(
            send(
                s.client
                    .post(s.url(&format!("{p}/push/single")))
                    .bearer_auth(bad)
                    .json(&push),
            )
            .await,
        );
        if i % 10 == 9 {
            let (st, _, b) = send(tenant_push()).await;
            assert_eq!(st, StatusCode::OK, "the tenant was limited: {b}");
            tenant_calls += 1;
        }
    }
    let limited = check_flood(&flood, StatusCode::UNAUTHORIZED);
    assert!(
        limited >= 25,
        "only {limited} of 40 bad-token calls got 429"
    );

    // 2. A flood of wrong secrets at /token (the source is already over its budget): refused,
    //    while the app server's correct grant still gets its token.
    let mut flood = Vec::new();
    for i in 0..40 {
        let body = json!({"grant_type": "client_credentials", "client_id": creds.client_id,
                          "client_secret": format!("YXA6wrong{i}")});
        flood.push(send(s.client.post(s.url(&format!("{p}/token"))).json(&body)).await);
        if i % 10 == 9 {
            let fresh = s.app_token(&creds).await;
            assert!(!fresh.is_empty());
        }
    }
    let limited = check_flood(&flood, StatusCode::BAD_REQUEST);
    assert!(limited >= 35, "only {limited} of 40 wrong secrets got 429");

    // 3. Wrong passwords from the flooding address are refused before any hashing; a device
    //    logging in from another address is not affected.
    let login = |pw: &str| json!({"grant_type": "password", "username": "u1", "password": pw});
    let (st, retry, b) = send(
        s.client
            .post(s.url(&format!("{p}/token")))
            .json(&login("wrong")),
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(retry.is_some());
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let (st, _, b) = send(
        elsewhere
            .post(s.url(&format!("{p}/token")))
            .json(&login("pw")),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(b["access_token"].is_string());

    // 4. The tenant's authenticated calls went through all along; its own budget still holds.
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let (st, retry, b) = send(tenant_push()).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(b["error_description"], "This request has reached api limit");
            assert!(retry.is_some(), "a 429 without Retry-After");
        }
        statuses.push(st);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(
        ok + tenant_calls >= 10,
        "the tenant had less than its budget: {statuses:?}"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the app's own budget no longer limits it: {statuses:?}"
    );
}

/// Checks every answer of a flood: `failure` (the plain refusal) or 429 from the per-source
/// limiter with `Retry-After`; returns how many got 429.
fn check_flood(flood: &[(StatusCode, Option<String>, Value)], failure: StatusCode) -> usize {
    let mut limited = 0;
    for (st, retry, b) in flood {
        if *st == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            let secs: u64 = retry
                .as_deref()
                .expect("429 without Retry-After")
                .parse()
                .unwrap();
            // At 2 a second the next token is at most half a second away.
            assert_eq!(secs, 1, "Retry-After {secs}");
            assert_eq!(b["exception"], "TooManyRequestsException");
            let desc = b["error_description"].as_str().unwrap();
            assert!(
                desc.contains("failed or unauthenticated requests from this address"),
                "{desc}"
            );
        } else {
            assert_eq!(*st, failure, "{b}");
        }
    }
    limited
}
