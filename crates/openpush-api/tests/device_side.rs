//! The device side of the Easemob channel against an end user who holds a user token and a
//! WebSocket and does not play by the rules: each test makes the attack against a real server
//! and checks that it no longer hurts other users, other tenants or the server.
//!
//! Some devices here are raw WebSocket clients (tokio-tungstenite) rather than
//! `openpush-client`, so that they can do what a well-behaved device never does: stop reading,
//! send frames the server did not ask for, or flood it.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use openpush_client::login;
use openpush_core::{Clock, DeviceId, Username};
use openpush_store::{ChannelMessage, Enqueue, PendingRow};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const ORG: &str = "o";
const APP: &str = "a";
const PING: &str = r#"{"type":"ping"}"#;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn setup(s: &TestServer, users: &[&str]) -> (String, String) {
    let (p, t) = s.app_with_token(ORG, APP).await;
    s.users(&p, &t, users).await;
    (p, t)
}

async fn app_id(s: &TestServer, org: &str, app: &str) -> i64 {
    s.store.app_by_name(org, app).await.unwrap().unwrap().id
}

/// A raw WebSocket connection as `user` on `device`, its `welcome` read.
async fn raw_connect(s: &TestServer, org: &str, app: &str, user: &str, device: &str) -> Ws {
    let token = login(&s.base, org, app, user, "pw").await.unwrap();
    let url = format!(
        "{}/{org}/{app}/push/connect?device_id={device}",
        s.base.replacen("http://", "ws://", 1)
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let welcome = next_text(&mut ws).await.expect("welcome");
    assert!(welcome.contains(r#""type":"welcome""#), "{welcome}");
    ws
}

/// The next text frame, `None` once the connection closed (the close code is then returned
/// by [`close_code`] of the frame seen).
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.as_str().to_owned()),
            Ok(Some(Ok(Message::Close(f)))) => {
                panic!("closed by the server: {f:?}")
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("socket failed: {e}"),
            Ok(None) => return None,
            Err(_) => panic!("nothing from the server for 10 s"),
        }
    }
}

/// A notification as large as the message rules allow (about 7 kB).
fn big(title: &str) -> Value {
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

/// Writes `n` copies of one large stored message for (user, device) straight into the offline
/// queue; returns their delivery ids, oldest first.
async fn queue_copies(s: &TestServer, app: i64, user: &str, device: &str, n: usize) -> Vec<i64> {
    let now = s.clock.now_ms();
    let base = now * 1000;
    let body = json!({"title": "queued", "content": "c", "ext": {"pad": "q".repeat(60_000)}});
    let rows: Vec<PendingRow> = (0..n)
        .map(|i| PendingRow {
            id: base + 1 + i as i64,
            username: Username::parse(user).unwrap(),
            device_id: device.to_owned(),
        })
        .collect();
    let ids = rows.iter().map(|r| r.id).collect();
    s.store
        .enqueue(&[Enqueue {
            message: ChannelMessage {
                id: base,
                app_id: app,
                task_id: None,
                push_msg_id: None,
                body: body.to_string(),
                sent_at: now,
                expires_at: now + 3_600_000,
            },
            rows,
            sends: Vec::new(),
        }])
        .await
        .unwrap();
    ids
}

async fn queued_for(s: &TestServer, app: i64, user: &str, device: &str) -> usize {
    s.store
        .pending_for(
            app,
            &Username::parse(user).unwrap(),
            &DeviceId::parse(device).unwrap(),
            None,
            s.clock.now_ms(),
            100_000,
        )
        .await
        .unwrap()
        .len()
}

// ---- shutdown: a device that never reads cannot hold the server -----------------------------

const GRACE: u64 = 3;

#[tokio::test]
async fn shutdown_ends_within_the_grace_while_a_device_pings_and_never_reads() {
    let mut s = TestServer::start_with(|c| {
        c.shutdown_grace_secs = GRACE;
        c.gateway.send_queue = 4096;
    })
    .await;
    let (p, t) = setup(&s, &["u"]).await;
    let ws = raw_connect(&s, ORG, APP, "u", "d1").await;
    // The device reads nothing from here on: `rx` is kept, never polled.
    let (mut tx, rx) = ws.split();
    // Large notifications go out to it…
    for i in 0..20 {
        let (st, b) = s
            .post(
                &format!("{p}/push/single"),
                &t,
                json!({"targets": ["u"], "strategy": 4, "async": false, "pushMessage": big(&format!("n{i}"))}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["data"][0]["pushStatus"], "SUCCESS", "{b}");
    }
    // …and it pings as fast as it can, never reading a pong, until its socket is full both
    // ways (the server stopped reading it) or for five seconds.
    let flood = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(5);
        let mut sent = 0u64;
        while Instant::now() < until {
            let batch = async {
                for _ in 0..500 {
                    tx.feed(Message::text(PING)).await?;
                }
                tx.flush().await
            };
            match tokio::time::timeout(Duration::from_secs(1), batch).await {
                Ok(Ok(())) => sent += 500,
                _ => break,
            }
        }
        (tx, sent)
    });
    let (tx, sent) = flood.await.unwrap();
    assert!(sent > 0);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(GRACE + 30), s.shutdown())
        .await
        .expect("the server did not shut down while the device held its socket");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(GRACE),
        "shutdown took {took:?}, more than the grace of {GRACE} s"
    );
    drop((tx, rx));
}

// ---- replay: acks and pings are read while it runs --------------------------------------------

#[tokio::test]
async fn a_replay_longer_than_three_heartbeats_is_not_cut_while_the_device_acks_and_pings() {
    let s = TestServer::start_with(|c| {
        c.gateway.heartbeat_secs = 1;
        c.gateway.replay_page = 16;
    })
    .await;
    let (_p, _t) = setup(&s, &["u"]).await;
    let app = app_id(&s, ORG, APP).await;
    // 400 copies of 60 kB: far more than the socket buffers hold, so the replay waits on a
    // device that reads slowly.
    let ids = queue_copies(&s, app, "u", "d1", 400).await;
    let mut ws = raw_connect(&s, ORG, APP, "u", "d1").await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let f: Value = serde_json::from_str(&next_text(&mut ws).await.unwrap()).unwrap();
        got.push(f["id"].as_str().unwrap().to_owned());
    }
    // The device stops reading, acks what it read, and keeps its heartbeat while the clock
    // moves past three heartbeats (the idle limit) since the replay began.
    let ack = json!({"type": "ack", "ids": got}).to_string();
    ws.send(Message::text(ack)).await.unwrap();
    for _ in 0..5 {
        s.clock.advance_ms(1_000);
        ws.send(Message::text(PING)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The idle sweeper runs every second: give it two runs.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    // The rest of the replay arrives on this connection, then the answers to the pings; the
    // connection was not closed as idle.
    let mut pongs = 0;
    while got.len() < ids.len() || pongs == 0 {
        let text = next_text(&mut ws).await.expect("the connection ended");
        let f: Value = serde_json::from_str(&text).unwrap();
        match f["type"].as_str() {
            Some("push") => got.push(f["id"].as_str().unwrap().to_owned()),
            Some("pong") => pongs += 1,
            other => panic!("{other:?}: {text}"),
        }
    }
    let want: Vec<String> = ids.iter().map(i64::to_string).collect();
    assert_eq!(got, want, "every copy once, oldest first");
    // The ack sent during the replay was written.
    assert_eq!(queued_for(&s, app, "u", "d1").await, ids.len() - 3);
}
