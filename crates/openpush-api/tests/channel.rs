//! The Easemob channel end to end: real WebSocket devices (openpush-client) against a server on
//! port 0, pushes through /push/sync, /push/async and /push/single.

mod common;

use common::{assert_error, TestServer};
use openpush_client::{login, Device, Event, Notification};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ORG: &str = "o";
const APP: &str = "a";

async fn setup(s: &TestServer, users: &[&str]) -> (String, String) {
    let (p, t) = s.app_with_token(ORG, APP).await;
    s.users(&p, &t, users).await;
    (p, t)
}

async fn device(s: &TestServer, user: &str, device_id: &str) -> Device {
    let token = login(&s.base, ORG, APP, user, "pw").await.unwrap();
    Device::connect(&s.base, ORG, APP, &token, device_id)
        .await
        .unwrap()
}

fn msg(title: &str) -> Value {
    json!({"title": title, "content": "hello", "ext": {"k": "v"}})
}

async fn push(
    s: &TestServer,
    p: &str,
    t: &str,
    targets: &[&str],
    strategy: i64,
    title: &str,
) -> Value {
    let (st, b) = s
        .post(
            &format!("{p}/push/single"),
            t,
            json!({"targets": targets, "strategy": strategy, "pushMessage": msg(title)}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b
}

async fn next_push(d: &mut Device) -> Notification {
    match tokio::time::timeout(std::time::Duration::from_secs(10), d.next()).await {
        Ok(Ok(Event::Push(n))) => n,
        other => panic!("expected a push, got {other:?}"),
    }
}

/// Acks, then pings: the pong comes after the acks are written.
async fn ack_sync(d: &mut Device, ids: &[&str]) {
    d.ack(ids).await.unwrap();
    d.ping().await.unwrap();
    loop {
        match d.next().await.unwrap() {
            Event::Pong => return,
            Event::Push(_) => continue,
            other => panic!("{other:?}"),
        }
    }
}

async fn expect_closed(d: &mut Device, code: u16) {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), d.next()).await {
            Ok(Ok(Event::Closed { code: c, .. })) => {
                assert_eq!(c, code);
                return;
            }
            Ok(Ok(Event::Push(_) | Event::Pong)) => continue,
            Ok(Err(_)) => panic!("socket error instead of close {code}"),
            Err(_) => panic!("no close {code} within 10 s"),
        }
    }
}

#[tokio::test]
async fn online_delivery_with_welcome_and_message_as_stored() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    let mut d = device(&s, "u1", "phone-1").await;
    assert_eq!(d.welcome.device_id, "phone-1");
    assert_eq!(d.welcome.heartbeat_s, s.config.gateway.heartbeat_secs);
    let b = push(&s, &p, &t, &["u1"], 1, "hi").await;
    assert_eq!(
        b["data"],
        json!([{"id": "u1", "pushStatus": "ASYNC_SUCCESS", "desc": "async success."}])
    );
    let n = next_push(&mut d).await;
    assert_eq!(n.message, msg("hi"));
    assert!(n.task_id.is_none());
    let retention = s.config.gateway.offline_retention_secs * 1000;
    assert_eq!(n.expires_at - n.sent_at, retention);
}

#[tokio::test]
async fn offline_then_reconnect_replays_in_order_and_acks_remove() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    // The device is known (it connected once), then goes away.
    device(&s, "u1", "d1").await.close().await.unwrap();
    for i in 0..5 {
        push(&s, &p, &t, &["u1"], 1, &format!("m{i}")).await;
    }
    let mut d = device(&s, "u1", "d1").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_push(&mut d).await);
    }
    let titles: Vec<_> = got
        .iter()
        .map(|n| n.message["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, ["m0", "m1", "m2", "m3", "m4"]);
    // Ack two; the other three replay on the next connect, still in order.
    ack_sync(&mut d, &[&got[0].id, &got[2].id]).await;
    d.close().await.unwrap();
    let mut d = device(&s, "u1", "d1").await;
    let mut again = Vec::new();
    for _ in 0..3 {
        again.push(next_push(&mut d).await.id);
    }
    assert_eq!(
        again,
        [got[1].id.clone(), got[3].id.clone(), got[4].id.clone()]
    );
    // A live push after the replay arrives after it, once.
    push(&s, &p, &t, &["u1"], 1, "live").await;
    let n = next_push(&mut d).await;
    assert_eq!(n.message["title"], "live");
}

#[tokio::test]
async fn expired_notifications_are_not_replayed() {
    let s = TestServer::start_with(|c| c.gateway.offline_retention_secs = 60).await;
    let (p, t) = setup(&s, &["u1"]).await;
    device(&s, "u1", "d1").await.close().await.unwrap();
    push(&s, &p, &t, &["u1"], 1, "old").await;
    s.clock.advance_ms(30_000);
    push(&s, &p, &t, &["u1"], 1, "young").await;
    s.clock.advance_ms(31_000);
    let mut d = device(&s, "u1", "d1").await;
    let n = next_push(&mut d).await;
    assert_eq!(
        n.message["title"], "young",
        "the first one expired after 60 s"
    );
    assert!(
        s.store
            .purge_expired(s.clock.now_ms(), 10_000)
            .await
            .unwrap()
            .deliveries
            >= 1
    );
}

#[tokio::test]
async fn every_device_of_a_user_gets_a_copy_and_a_new_user_keeps_one_for_its_first_device() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1", "fresh"]).await;
    let mut a = device(&s, "u1", "a").await;
    device(&s, "u1", "b").await.close().await.unwrap(); // known, offline
    let b = push(&s, &p, &t, &["u1", "fresh"], 1, "both").await;
    assert_eq!(b["data"][1]["pushStatus"], "ASYNC_SUCCESS");
    let na = next_push(&mut a).await;
    let mut bdev = device(&s, "u1", "b").await;
    let nb = next_push(&mut bdev).await;
    assert_eq!(na.message, nb.message);
    assert_ne!(na.id, nb.id, "each device has its own delivery");
    // "fresh" had no device at push time: its first device gets the copy.
    let mut f = device(&s, "fresh", "first").await;
    assert_eq!(next_push(&mut f).await.message["title"], "both");
}

#[tokio::test]
async fn a_second_connection_of_a_device_replaces_the_first() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    let mut old = device(&s, "u1", "d1").await;
    let mut new = device(&s, "u1", "d1").await;
    expect_closed(&mut old, 4009).await;
    push(&s, &p, &t, &["u1"], 4, "to-new").await;
    assert_eq!(next_push(&mut new).await.message["title"], "to-new");
}

#[tokio::test]
async fn pending_survives_a_restart() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    device(&s, "u1", "d1").await.close().await.unwrap();
    push(&s, &p, &t, &["u1"], 1, "kept").await;
    let s = s.restart().await;
    let mut d = device(&s, "u1", "d1").await;
    assert_eq!(next_push(&mut d).await.message["title"], "kept");
}

#[tokio::test]
async fn strategy_4_reaches_online_users_only_and_stores_nothing() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["on", "off"]).await;
    let mut on = device(&s, "on", "d").await;
    device(&s, "off", "d").await.close().await.unwrap();
    let (st, b) = s
        .post(
            &format!("{p}/push/sync/off"),
            &t,
            json!({"strategy": 4, "pushMessage": msg("x")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["data"][0]["pushStatus"], "FAIL");
    assert_eq!(b["data"][0]["desc"], "user offline");
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/on"),
            &t,
            json!({"strategy": 4, "pushMessage": msg("y")}),
        )
        .await;
    assert_eq!(b["data"][0]["pushStatus"], "SUCCESS", "{b}");
    assert_eq!(next_push(&mut on).await.message["title"], "y");
    // Nothing waits for "off".
    let mut off = device(&s, "off", "d").await;
    push(&s, &p, &t, &["off"], 4, "now-online").await;
    assert_eq!(next_push(&mut off).await.message["title"], "now-online");
}

#[tokio::test]
async fn push_single_with_unknown_online_and_offline_users() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["on", "off"]).await;
    let mut on = device(&s, "on", "d").await;
    device(&s, "off", "d").await.close().await.unwrap();
    let b = push(&s, &p, &t, &["on", "ghost", "off", "bad name!"], 1, "mix").await;
    let st: Vec<_> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["pushStatus"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        st,
        [
            ("on".to_owned(), "ASYNC_SUCCESS".to_owned()),
            ("ghost".to_owned(), "FAIL".to_owned()),
            ("off".to_owned(), "ASYNC_SUCCESS".to_owned()),
            ("bad name!".to_owned(), "FAIL".to_owned())
        ]
    );
    assert_eq!(b["data"][1]["desc"], "appUser not exists");
    assert_eq!(next_push(&mut on).await.message["title"], "mix");
    let mut off = device(&s, "off", "d").await;
    assert_eq!(next_push(&mut off).await.message["title"], "mix");
    // The legacy synchronous form returns the channel result.
    let (st, b) = s
        .post(
            &format!("{p}/push/single"),
            &t,
            json!({"targets": ["on"], "strategy": 1, "async": false, "pushMessage": msg("sync")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"][0]["pushStatus"], "SUCCESS");
    assert_eq!(b["data"][0]["data"][0]["data"]["online"], 1);
}

#[tokio::test]
async fn sync_and_async_single_user_shapes() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    let (st, b) = s
        .post(
            &format!("{p}/push/sync/ghost"),
            &t,
            json!({"pushMessage": msg("x")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        b["data"],
        json!([{"pushStatus": "FAIL", "desc": "appUser not exists"}])
    );
    // Default strategy 2 (vendor only) with no binding.
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/u1"),
            &t,
            json!({"pushMessage": msg("x")}),
        )
        .await;
    assert_eq!(b["data"][0]["pushStatus"], "FAIL");
    assert_eq!(b["data"][0]["desc"], "no push binding");
    // A binding whose vendor cannot be reached: the vendor leg errors and says why.
    s.put(
        &format!("{p}/users/u1/push/binding"),
        &t,
        json!({"device_id": "d1", "notifier_name": "fcm-x", "device_token": "token-0123456789"}),
    )
    .await;
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/u1"),
            &t,
            json!({"strategy": 2, "pushMessage": msg("x")}),
        )
        .await;
    assert_eq!(b["data"][0]["pushStatus"], "ERROR", "{b}");
    assert!(
        b["data"][0]["desc"].as_str().unwrap().contains("Huawei"),
        "{b}"
    );
    // Strategy 0 falls back to the Easemob channel.
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/u1"),
            &t,
            json!({"strategy": 0, "pushMessage": msg("x")}),
        )
        .await;
    let statuses: Vec<_> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["pushStatus"].clone())
        .collect();
    assert_eq!(statuses, [json!("ERROR"), json!("SUCCESS")], "{b}");
    assert_eq!(b["data"][1]["data"]["stored"], 1);
    // Async answers at once; the legacy async field is accepted.
    let (_, b) = s
        .post(
            &format!("{p}/push/async/u1"),
            &t,
            json!({"strategy": 1, "async": true, "pushMessage": msg("x")}),
        )
        .await;
    assert_eq!(
        b["data"],
        json!([{"pushStatus": "ASYNC_SUCCESS", "data": {"channel": "easemob", "online": 0, "stored": 1}, "desc": "success"}])
    );
}

#[tokio::test]
async fn bad_push_input() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let cases = [
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1"]}),
            "MessageException",
            "pushMessage",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1"], "pushMessage": {"content": "c"}}),
            "MessageException",
            "pushMessage.title",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1"], "pushMessage": {"title": "标".repeat(17), "content": "c"}}),
            "MessageException",
            "pushMessage.title",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1"], "pushMessage": {"title": "t", "content": "c", "apns": {"priority": 7}}}),
            "MessageException",
            "pushMessage.apns.priority",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": [], "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "1 to 100",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": many, "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "got 101",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": "u1", "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "targets",
        ),
        (
            format!("{p}/push/single"),
            json!({"pushMessage": msg("t")}),
            "IllegalArgumentException",
            "targets must be provided",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1"], "strategy": 7, "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "strategy",
        ),
        (
            format!("{p}/push/single"),
            json!({"targets": ["u1", "u2"], "async": false, "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "exactly 1",
        ),
        (
            format!("{p}/push/sync/u1"),
            json!({"strategy": "x", "pushMessage": msg("t")}),
            "IllegalArgumentException",
            "strategy",
        ),
        (
            format!("{p}/push/async/u1"),
            json!({"pushMessage": "hello"}),
            "MessageException",
            "pushMessage",
        ),
    ];
    for (path, body, exception, text) in cases {
        let got = s.post(&path, &t, body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, text);
        assert_eq!(got.1["exception"], exception, "{body}");
    }
    // None of that queued anything.
    let mut d = device(&s, "u1", "d1").await;
    push(&s, &p, &t, &["u1"], 1, "only").await;
    assert_eq!(next_push(&mut d).await.message["title"], "only");
}

#[tokio::test]
async fn connect_refuses_bad_tokens_and_device_ids() {
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &["u1"]).await;
    let user_token = login(&s.base, ORG, APP, "u1", "pw").await.unwrap();
    let url = |q: &str| format!("{p}/push/connect?{q}");
    // Plain HTTP GETs (no upgrade) still check credentials first.
    let cases = [
        (url("device_id=d1"), None, StatusCode::UNAUTHORIZED),
        (
            url("device_id=d1&access_token=garbage"),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            url("device_id=d1"),
            Some(t.as_str()),
            StatusCode::UNAUTHORIZED,
        ), // an app token
        (
            url("device_id=bad%20id"),
            Some(user_token.as_str()),
            StatusCode::BAD_REQUEST,
        ),
        (url(""), Some(user_token.as_str()), StatusCode::BAD_REQUEST),
    ];
    for (path, token, status) in cases {
        let got = s.call(Method::GET, &path, token, None).await;
        assert_eq!(got.0, status, "{path}: {}", got.1);
        assert!(got.1["error_description"].is_string());
    }
    // The query-string token works for a real connection.
    let d = Device::connect(&s.base, ORG, APP, &user_token, "d1").await;
    assert!(d.is_ok());
    // A deleted user's token no longer connects.
    s.delete(&format!("{p}/users/u1"), &t, None).await;
    assert!(Device::connect(&s.base, ORG, APP, &user_token, "d2")
        .await
        .is_err());
}

#[tokio::test]
async fn idle_connections_close_and_shutdown_says_1001() {
    let mut s = TestServer::start_with(|c| c.gateway.heartbeat_secs = 1).await;
    setup(&s, &["u1", "u2"]).await;
    let mut idle = device(&s, "u1", "d").await;
    let mut busy = device(&s, "u2", "d").await;
    s.clock.advance_ms(3_500);
    busy.ping().await.unwrap();
    expect_closed(&mut idle, 1000).await;
    s.shutdown().await;
    expect_closed(&mut busy, 1001).await;
}
