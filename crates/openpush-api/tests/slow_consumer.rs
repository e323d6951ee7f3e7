//! The slow-consumer rule end to end: a device whose send queue is full
//! is disconnected with 4008, what it had not acked stays queued, and it can reconnect.
//!
//! The device here connects and then stops reading. Pushes go through the server's send queue
//! (`gateway.send_queue = 4`) into the socket; once the kernel's socket buffers are full the
//! session's write blocks, the queue fills, and the next push finds it full. The push response
//! says so (strategy 4: `FAIL user offline`; strategy 1: `online: 0`), which is how the loop
//! knows when to stop: no sleeps, no guessing at buffer sizes. Each notification is made as
//! large as the message rules allow (ext at its 1024-character limit, Huawei inbox lines) so
//! that a few hundred pushes fill the buffers; the loop is bounded all the same.
//!
//! The device's events are read only after the loop: the session is blocked writing to the
//! full socket, so the 4008 close frame goes out once the device reads again, after the
//! notifications that were already in the socket.

mod common;

use common::TestServer;
use openpush_client::{login, Device, Event, Notification};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ORG: &str = "o";
const APP: &str = "a";
const SEND_QUEUE: usize = 4;
/// No socket buffer on any sane machine holds this many notifications of this size (~7 kB).
const MAX_PUSHES: usize = 20_000;
const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

async fn server() -> (TestServer, String, String) {
    let s = TestServer::start_with(|c| c.gateway.send_queue = SEND_QUEUE).await;
    let (p, t) = s.app_with_token(ORG, APP).await;
    s.users(&p, &t, &["slow"]).await;
    (s, p, t)
}

async fn device(s: &TestServer) -> Device {
    let token = login(&s.base, ORG, APP, "slow", "pw").await.unwrap();
    Device::connect(&s.base, ORG, APP, &token, "d1")
        .await
        .unwrap()
}

/// A notification as large as the rules allow.
fn big(title: &str) -> Value {
    // {"pad":"…"} is 10 characters of JSON around the padding.
    let pad = "x".repeat(1024 - 10);
    let line = "y".repeat(1024);
    json!({
        "title": title,
        "content": "c".repeat(100),
        "ext": {"pad": pad},
        "huawei": {"message": {"android": {"notification": {
            "inboxContent": [line, line, line, line, line]
        }}}}
    })
}

/// A synchronous `/push/single` to "slow"; returns its (only) result.
async fn push(s: &TestServer, p: &str, t: &str, strategy: i64, title: &str) -> Value {
    let (st, b) = s
        .post(
            &format!("{p}/push/single"),
            t,
            json!({"targets": ["slow"], "strategy": strategy, "async": false,
                   "pushMessage": big(title)}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["data"][0].clone()
}

/// Whether the push reached the device's send queue.
fn queued(strategy: i64, r: &Value) -> bool {
    match strategy {
        4 => r["pushStatus"] == "SUCCESS",
        1 => {
            assert_eq!(r["pushStatus"], "SUCCESS", "{r}");
            assert_eq!(r["data"][0]["data"]["stored"], 1, "{r}");
            r["data"][0]["data"]["online"] == 1
        }
        _ => unreachable!(),
    }
}

/// Pushes `prefix-N` until one is not queued; returns how many were. Panics past MAX_PUSHES.
async fn fill(s: &TestServer, p: &str, t: &str, strategy: i64, prefix: &str) -> usize {
    for i in 0..MAX_PUSHES {
        let r = push(s, p, t, strategy, &format!("{prefix}-{i}")).await;
        if !queued(strategy, &r) {
            if strategy == 4 {
                assert_eq!(r["desc"], "user offline", "{r}");
            }
            return i;
        }
    }
    panic!("a device that never reads was still taking pushes after {MAX_PUSHES} of them");
}

/// Reads what the device was sent until the server closes it; returns the titles and the code.
async fn drain(d: &mut Device) -> (Vec<String>, u16) {
    let mut titles = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, d.next()).await {
            Ok(Ok(Event::Push(n))) => titles.push(title(&n)),
            Ok(Ok(Event::Pong)) => {}
            Ok(Ok(Event::Closed { code, .. })) => return (titles, code),
            Ok(Err(e)) => panic!("socket error after {} pushes: {e}", titles.len()),
            Err(_) => panic!("not closed within {WAIT:?} ({} pushes read)", titles.len()),
        }
    }
}

fn title(n: &Notification) -> String {
    n.message["title"].as_str().unwrap().to_owned()
}

async fn next_push(d: &mut Device) -> Notification {
    match tokio::time::timeout(WAIT, d.next()).await {
        Ok(Ok(Event::Push(n))) => n,
        other => panic!("expected a push, got {other:?}"),
    }
}

#[tokio::test]
async fn a_device_that_stops_reading_is_closed_with_4008_and_can_reconnect() {
    let (s, p, t) = server().await;
    let mut d = device(&s).await;
    let accepted = fill(&s, &p, &t, 4, "s4").await;
    assert!(accepted > SEND_QUEUE, "only {accepted} pushes were taken");
    // Once too slow, it takes nothing more.
    let r = push(&s, &p, &t, 4, "refused").await;
    assert_eq!(r["pushStatus"], "FAIL", "{r}");

    // Now read: what made it into the socket, then the close.
    let (titles, code) = drain(&mut d).await;
    assert_eq!(code, 4008, "after {} pushes", titles.len());
    // In order, nothing twice, nothing refused: a prefix of what was taken. What still sat in
    // the send queue when it closed (at most its size) is dropped, as strategy 4 allows.
    let expected: Vec<String> = (0..titles.len()).map(|i| format!("s4-{i}")).collect();
    assert_eq!(titles, expected);
    assert!(
        titles.len() <= accepted && titles.len() + SEND_QUEUE >= accepted,
        "read {} of {accepted} taken (queue {SEND_QUEUE})",
        titles.len()
    );
    drop(d);

    // The same device reconnects and is served again; strategy 4 stored nothing to replay.
    let mut d = device(&s).await;
    let r = push(&s, &p, &t, 4, "welcome-back").await;
    assert_eq!(r["pushStatus"], "SUCCESS", "{r}");
    assert_eq!(title(&next_push(&mut d).await), "welcome-back");
}

#[tokio::test]
async fn strategy_1_pushes_made_while_too_slow_replay_after_reconnect() {
    let (s, p, t) = server().await;
    let mut d = device(&s).await;
    let accepted = fill(&s, &p, &t, 1, "s1").await;
    // These come while the device is too slow: stored, not sent.
    let late: Vec<String> = (0..3).map(|i| format!("late-{i}")).collect();
    for title in &late {
        let r = push(&s, &p, &t, 1, title).await;
        assert!(!queued(1, &r), "{r}");
    }

    let (titles, code) = drain(&mut d).await;
    assert_eq!(code, 4008);
    assert!(titles.len() <= accepted, "{} > {accepted}", titles.len());
    assert!(
        !titles.iter().any(|t| t.starts_with("late-")),
        "nothing pushed while too slow goes on the old connection"
    );
    drop(d);

    // Nothing was acked, so the reconnect replays every push in order, the late ones last:
    // the one that found the queue full ("s1-{accepted}") and the three after it included.
    let mut all: Vec<String> = (0..=accepted).map(|i| format!("s1-{i}")).collect();
    all.extend(late.iter().cloned());
    let mut d = device(&s).await;
    let mut replayed = Vec::new();
    for _ in 0..all.len() {
        replayed.push(title(&next_push(&mut d).await));
    }
    assert_eq!(replayed, all);
    // And the connection is healthy: live pushes follow the replay.
    let r = push(&s, &p, &t, 1, "live").await;
    assert!(queued(1, &r), "{r}");
    assert_eq!(title(&next_push(&mut d).await), "live");
}
