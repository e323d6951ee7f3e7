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

mod slow_clients {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    use super::*;

    const HALF_HEADER: &[u8] = b"GET /openapi.json HTTP/1.1\r\nHost: openpush\r\nAccept: */*\r\n";

    fn addr(s: &TestServer) -> SocketAddr {
        s.base.trim_start_matches("http://").parse().unwrap()
    }

    /// A connection to the server from `source` (any 127.0.0.0/8 address works on loopback).
    async fn connect_from(s: &TestServer, source: &str) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        socket.connect(addr(s)).await.unwrap()
    }

    /// Reads until the server closes the connection: how long that took, or `None` if it was
    /// still open after `limit`. What the server sent is appended to `got`.
    async fn closed_within(
        c: &mut TcpStream,
        limit: Duration,
        got: &mut Vec<u8>,
    ) -> Option<Duration> {
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at((t0 + limit).into(), c.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(t0.elapsed()),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[tokio::test]
    async fn half_headers_and_silent_connections_are_closed_after_the_header_timeout() {
        let s = TestServer::start_with(|c| {
            c.http.header_read_timeout_ms = 300;
            c.http.keep_alive_timeout_ms = 10_000;
        })
        .await;
        let t0 = Instant::now();
        let mut conns = Vec::new();
        for i in 0..60 {
            let mut c = connect_from(&s, "127.0.0.1").await;
            // Most send half a header; some send nothing at all.
            if i % 6 != 0 {
                c.write_all(HALF_HEADER).await.unwrap();
            }
            conns.push(c);
        }
        // One more trickles a byte every 50 ms: it never finishes its header.
        let mut trickle = connect_from(&s, "127.0.0.1").await;
        let trickler = tokio::spawn(async move {
            for b in HALF_HEADER.iter().cycle().take(200) {
                if trickle.write_all(&[*b]).await.is_err() {
                    return Some(());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None
        });
        for (i, c) in conns.iter_mut().enumerate() {
            let mut got = Vec::new();
            let closed = closed_within(c, Duration::from_secs(5), &mut got).await;
            assert!(closed.is_some(), "connection {i} still open after 5 s");
            assert!(got.is_empty(), "connection {i} got an answer: {got:?}");
        }
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(290),
            "closed early: {elapsed:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), trickler)
                .await
                .unwrap()
                .unwrap(),
            Some(()),
            "the trickling connection was never closed"
        );
        // A client that sends its request in time is served.
        let (st, _) = s.call(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(st, StatusCode::OK);
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
        let s = TestServer::start_with(|c| {
            c.http.header_read_timeout_ms = 5_000;
            c.http.keep_alive_timeout_ms = 400;
        })
        .await;
        let mut c = connect_from(&s, "127.0.0.1").await;
        c.write_all(b"GET /nowhere HTTP/1.1\r\nHost: openpush\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let closed = closed_within(&mut c, Duration::from_secs(5), &mut got)
            .await
            .expect("the idle connection was never closed");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 404"), "{text}");
        assert!(
            closed >= Duration::from_millis(390),
            "closed early: {closed:?}"
        );
        // A connection in use is not idle: two requests 250 ms apart on one connection.
        let mut c = connect_from(&s, "127.0.0.1").await;
        for _ in 0..2 {
            c.write_all(b"GET /nowhere HTTP/1.1\r\nHost: openpush\r\n\r\n")
                .await
                .unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let n = c.read(&mut buf).await.unwrap();
            assert!(
                buf[..n].starts_with(b"HTTP/1.1 404"),
                "{:?}",
                String::from_utf8_lossy(&buf[..n])
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    #[tokio::test]
    async fn connections_over_the_per_source_cap_are_closed_while_others_are_served() {
        let s = TestServer::start_with(|c| {
            c.http.header_read_timeout_ms = 10_000;
            c.http.max_connections_per_source = 3;
        })
        .await;
        let mut held = Vec::new();
        for _ in 0..3 {
            let mut c = connect_from(&s, "127.0.0.2").await;
            c.write_all(HALF_HEADER).await.unwrap();
            held.push(c);
        }
        for c in &mut held {
            let open = closed_within(c, Duration::from_millis(200), &mut Vec::new()).await;
            assert_eq!(open, None, "a connection within the cap was closed");
        }
        for _ in 0..3 {
            let mut c = connect_from(&s, "127.0.0.2").await;
            let _ = c.write_all(HALF_HEADER).await;
            let closed = closed_within(&mut c, Duration::from_secs(2), &mut Vec::new()).await;
            assert!(
                closed.is_some(),
                "a fourth connection from one source stayed open"
            );
        }
        // Another source is served meanwhile.
        let (st, b) = s.call(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        // A place given back is taken again.
        drop(held.pop());
        let mut again = None;
        for _ in 0..100 {
            let mut c = connect_from(&s, "127.0.0.2").await;
            c.write_all(HALF_HEADER).await.unwrap();
            if closed_within(&mut c, Duration::from_millis(100), &mut Vec::new())
                .await
                .is_none()
            {
                again = Some(c);
                break;
            }
        }
        assert!(
            again.is_some(),
            "the freed place was never given to a new connection"
        );
    }

    #[tokio::test]
    async fn device_websockets_hold_their_place_under_the_cap() {
        let s = TestServer::start_with(|c| c.http.max_connections_per_source = 2).await;
        let (p, t) = s.bare_app_with_token("o", "a").await;
        s.users(&p, &t, &["u1"]).await;
        let (st, b) = s
            .call(
                Method::POST,
                &format!("{p}/token"),
                None,
                Some(json!({"grant_type": "password", "username": "u1", "password": "pw"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let user_token = b["access_token"].as_str().unwrap().to_owned();
        let mut sockets = Vec::new();
        for d in ["d1", "d2"] {
            let mut c = connect_from(&s, "127.0.0.2").await;
            let req = format!(
                "GET {p}/push/connect?device_id={d}&access_token={user_token} HTTP/1.1\r\n\
                 Host: openpush\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            );
            c.write_all(req.as_bytes()).await.unwrap();
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]);
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            sockets.push(c);
        }
        // Two devices hold the source's two places: a third connection is closed at once.
        let mut c = connect_from(&s, "127.0.0.2").await;
        let _ = c.write_all(HALF_HEADER).await;
        let closed = closed_within(&mut c, Duration::from_secs(2), &mut Vec::new()).await;
        assert!(closed.is_some(), "a connection over the cap stayed open");
        // A device leaving frees its place.
        drop(sockets.pop());
        let mut again = None;
        for _ in 0..100 {
            let mut c = connect_from(&s, "127.0.0.2").await;
            c.write_all(HALF_HEADER).await.unwrap();
            if closed_within(&mut c, Duration::from_millis(100), &mut Vec::new())
                .await
                .is_none()
            {
                again = Some(c);
                break;
            }
        }
        assert!(again.is_some(), "the device's place was never given back");
    }
}
