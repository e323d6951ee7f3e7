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
use openpush_client::{login, Device, Event, Notification};
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
    queue_copies_for(s, app, user, device, n, 3_600_000).await
}

/// As [`queue_copies`], expiring `expires_in_ms` from now.
async fn queue_copies_for(
    s: &TestServer,
    app: i64,
    user: &str,
    device: &str,
    n: usize,
    expires_in_ms: i64,
) -> Vec<i64> {
    let now = s.clock.now_ms();
    // Ids above any the server hands out for a while, distinct per call (the clock moves on).
    let base = now * 1000 + expires_in_ms;
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
                expires_at: now + expires_in_ms,
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

/// The close code the server ends the connection with (after any frames before it).
async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(f)))) => return f.map_or(0, |f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => panic!("socket failed before a close frame: {e}"),
            Ok(None) => panic!("connection ended without a close frame"),
            Err(_) => panic!("not closed within 10 s"),
        }
    }
}

async fn device(s: &TestServer, org: &str, app: &str, user: &str, device: &str) -> Device {
    let token = login(&s.base, org, app, user, "pw").await.unwrap();
    Device::connect(&s.base, org, app, &token, device)
        .await
        .unwrap()
}

async fn next_push(d: &mut Device) -> Notification {
    match tokio::time::timeout(Duration::from_secs(10), d.next()).await {
        Ok(Ok(Event::Push(n))) => n,
        other => panic!("expected a push, got {other:?}"),
    }
}

/// Pings and waits for the pong: everything sent before it has been handled (acks written).
async fn sync(d: &mut Device) {
    d.ping().await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), d.next()).await {
            Ok(Ok(Event::Pong)) => return,
            Ok(Ok(Event::Push(_))) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

/// A list task of `targets` by `strategy`; returns its id once it has finished.
async fn list_task(s: &TestServer, p: &str, t: &str, targets: &[&str], strategy: i64) -> i64 {
    let (st, b) = s
        .post(
            &format!("{p}/push/list"),
            t,
            json!({"targets": targets, "strategy": strategy, "pushMessage": {"title": "task", "content": "c"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let id = b["data"]["taskId"].as_i64().unwrap();
    for _ in 0..300 {
        let (_, b) = s.get(&format!("{p}/push/task/{id}"), t).await;
        if b["data"]["status"] == "finished" {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never finished");
}

/// A task's (arrived, clicked).
async fn task_counts(s: &TestServer, p: &str, t: &str, id: i64) -> (Value, Value) {
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), t).await;
    let st = &b["data"]["statistics"];
    (st["arrived"].clone(), st["clicked"].clone())
}

// ---- forged statistics: acks and clicks count only deliveries made to that device ----------

#[tokio::test]
async fn acks_and_clicks_count_only_deliveries_made_to_the_device_once_each() {
    let s = TestServer::start().await;
    // App a: a finished task that reached its one user, who acked it.
    let (pa, ta) = setup(&s, &["v"]).await;
    let mut v = device(&s, ORG, APP, "v", "v1").await;
    let task_a = list_task(&s, &pa, &ta, &["v"], 1).await;
    let n = next_push(&mut v).await;
    v.ack(&[&n.id]).await.unwrap();
    sync(&mut v).await;
    assert_eq!(
        task_counts(&s, &pa, &ta, task_a).await,
        (json!(1), json!(0))
    );

    // App b: mallory gets a stored and an online-only delivery of two tasks of her own app.
    let (pb, tb) = s.app_with_token(ORG, "b").await;
    s.users(&pb, &tb, &["mallory"]).await;
    let mut m = device(&s, ORG, "b", "mallory", "m1").await;
    let stored = list_task(&s, &pb, &tb, &["mallory"], 1).await;
    let stored_n = next_push(&mut m).await;
    let online = list_task(&s, &pb, &tb, &["mallory"], 4).await;
    let online_n = next_push(&mut m).await;
    assert!(online_n.id.starts_with('o'), "{online_n:?}");
    // Each acked and clicked three times, in separate frames.
    for _ in 0..3 {
        m.ack(&[&stored_n.id, &online_n.id]).await.unwrap();
        m.click(&stored_n.id).await.unwrap();
        m.click(&online_n.id).await.unwrap();
    }
    // Ids naming app a's task: her own deliveries with its task put in, and invented ones.
    let num = |id: &str| {
        id.trim_start_matches('o')
            .split('t')
            .next()
            .unwrap()
            .to_owned()
    };
    let forged = [
        format!("{}t{task_a}", num(&stored_n.id)),
        format!("o{}t{task_a}", num(&online_n.id)),
        format!("1t{task_a}"),
        format!("o1t{task_a}"),
        format!("{}t{task_a}", num(&n.id)),
    ];
    for _ in 0..10 {
        let ids: Vec<&str> = forged.iter().map(String::as_str).collect();
        m.ack(&ids).await.unwrap();
        for id in &forged {
            m.click(id).await.unwrap();
        }
    }
    // Fifty full frames of invented ids with invented tasks.
    let invented = |i: i64| {
        if i % 2 == 0 {
            format!("o{}t{}", 1_000_000 + i, 2_000_000 + i)
        } else {
            format!("{}t{}", 1_000_000 + i, 2_000_000 + i)
        }
    };
    let max_ids = m.welcome.max_ids;
    assert_eq!(max_ids, s.config.gateway.max_ids_per_frame);
    for f in 0..50 {
        let ids: Vec<String> = (0..max_ids as i64)
            .map(|j| invented(f * 1_000 + j))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        m.ack(&refs).await.unwrap();
        m.click(&ids[0]).await.unwrap();
    }
    sync(&mut m).await;

    // App a's task is as it was; mallory's own count once each; invented tasks have nothing.
    assert_eq!(
        task_counts(&s, &pa, &ta, task_a).await,
        (json!(1), json!(0))
    );
    assert_eq!(
        task_counts(&s, &pb, &tb, stored).await,
        (json!(1), json!(1))
    );
    assert_eq!(
        task_counts(&s, &pb, &tb, online).await,
        (json!(1), json!(1))
    );
    for i in [0, 1, 49_255] {
        let c = s.store.task_counters(2_000_000 + i).await.unwrap();
        assert!(c.is_empty(), "invented task {}: {c:?}", 2_000_000 + i);
    }
    // The same holds for each app's daily statistics (written behind, within about a second).
    let day = openpush_core::clock::utc_day(s.clock.now_ms());
    for (p, t, arrived, clicked) in [(&pa, &ta, 1, 0), (&pb, &tb, 2, 2)] {
        let path = format!("{p}/push/data/daily/begin/{day}/end/{day}");
        let mut last = Value::Null;
        for _ in 0..50 {
            let (_, b) = s.get(&path, t).await;
            last = b["data"][0]["channels"]["easemob"].clone();
            if last["arrived"] == arrived && last["clicked"] == clicked {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            (last["arrived"].clone(), last["clicked"].clone()),
            (json!(arrived), json!(clicked)),
            "{p}: {last}"
        );
    }

    // Over the caps the connection ends: more ids than `max_ids` in one frame (1008), a frame
    // larger than the server reads (1009).
    let mut raw = raw_connect(&s, ORG, "b", "mallory", "m2").await;
    let ids: Vec<String> = (0..=max_ids as i64).map(invented).collect();
    let frame = json!({"type": "ack", "ids": ids}).to_string();
    assert!(frame.len() < s.config.gateway.max_frame_bytes);
    raw.send(Message::text(frame)).await.unwrap();
    assert_eq!(close_code(&mut raw).await, 1008);
    let mut raw = raw_connect(&s, ORG, "b", "mallory", "m3").await;
    let pad = "x".repeat(s.config.gateway.max_frame_bytes);
    raw.send(Message::text(
        json!({"type": "ping", "pad": pad}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(close_code(&mut raw).await, 1009);
}

// ---- vendor-channel reports: the caller's own app, once per task, user and action ----------

#[tokio::test]
async fn reports_name_only_the_callers_app_and_count_once_per_task_user_and_action() {
    let s = TestServer::start().await;
    let (pa, ta) = setup(&s, &["v"]).await;
    let task_a = list_task(&s, &pa, &ta, &["v"], 4).await;
    let (pb, tb) = s.app_with_token(ORG, "b").await;
    s.users(&pb, &tb, &["mallory", "other"]).await;
    let task_b = list_task(&s, &pb, &tb, &["mallory"], 4).await;
    let task_other = list_task(&s, &pb, &tb, &["other"], 4).await;
    let token = login(&s.base, ORG, "b", "mallory", "pw").await.unwrap();
    let report = |task: i64, action: &str| json!({"task_id": task, "device_id": "m1", "action": action, "provider": "HUAWEI"});
    // Another app's task, through her own app or through the other app's URL.
    let (st, b) = s
        .post(
            &format!("{pb}/push/report"),
            &token,
            report(task_a, "ARRIVE"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    let (st, b) = s
        .post(
            &format!("{pa}/push/report"),
            &token,
            report(task_a, "CLICK"),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{b}");
    // A list task of her app that was not pushed to her.
    let (st, b) = s
        .post(
            &format!("{pb}/push/report"),
            &token,
            report(task_other, "ARRIVE"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    // Her own task, a hundred times each way: one arrival, one click.
    for _ in 0..100 {
        for action in ["ARRIVE", "CLICK"] {
            let (st, b) = s
                .post(&format!("{pb}/push/report"), &token, report(task_b, action))
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
        }
    }
    assert_eq!(
        task_counts(&s, &pb, &tb, task_b).await,
        (json!(1), json!(1))
    );
    assert_eq!(
        task_counts(&s, &pb, &tb, task_other).await,
        (json!(0), json!(0))
    );
    assert_eq!(
        task_counts(&s, &pa, &ta, task_a).await,
        (json!(0), json!(0))
    );
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

// ---- many device ids: a user keeps a bounded number, and pushes to it stay bounded ----------

/// A synchronous strategy-`strategy` push to `user`; returns its Easemob leg's `data`.
async fn push_leg(s: &TestServer, p: &str, t: &str, user: &str, strategy: i64) -> Value {
    let (st, b) = s
        .post(
            &format!("{p}/push/single"),
            t,
            json!({"targets": [user], "strategy": strategy, "async": false,
                   "pushMessage": {"title": "t", "content": "c"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["data"][0]["data"][0]["data"].clone()
}

async fn known_devices(s: &TestServer, app: i64, user: &str) -> Vec<String> {
    s.store
        .devices_of(app, &[Username::parse(user).unwrap()])
        .await
        .unwrap()
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

#[tokio::test]
async fn a_user_keeps_at_most_max_devices_and_pushes_to_it_stay_bounded() {
    const CAP: usize = 5;
    let s = TestServer::start_with(|c| c.gateway.max_devices_per_user = CAP as u32).await;
    let (p, t) = setup(&s, &["m"]).await;
    let app = app_id(&s, ORG, APP).await;
    let token = login(&s.base, ORG, APP, "m", "pw").await.unwrap();
    // Forty device ids connect and leave, one after the other.
    for i in 0..40 {
        s.clock.advance_ms(1_000);
        Device::connect(&s.base, ORG, APP, &token, &format!("d{i:02}"))
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
    }
    assert_eq!(
        known_devices(&s, app, "m").await,
        ["d39", "d38", "d37", "d36", "d35"],
        "the newest {CAP}, most recently seen first"
    );
    // A stored push writes a copy per known device: five, not forty.
    assert_eq!(push_leg(&s, &p, &t, "m", 1).await["stored"], CAP);
    assert_eq!(queued_for(&s, app, "m", "d35").await, 1);
    // One more device: the least recently seen (d35) is forgotten with its queued copy.
    s.clock.advance_ms(1_000);
    Device::connect(&s.base, ORG, APP, &token, "d40")
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    assert_eq!(queued_for(&s, app, "m", "d35").await, 0);
    assert_eq!(queued_for(&s, app, "m", "d36").await, 1);
    assert_eq!(known_devices(&s, app, "m").await.len(), CAP);

    // Connected at once: the user has CAP connections; c0 is heard from again, so when one
    // more connects, c1 (heard from least recently) is closed with 4010.
    let mut open = Vec::new();
    for i in 0..CAP {
        s.clock.advance_ms(1_000);
        open.push(device(&s, ORG, APP, "m", &format!("c{i}")).await);
    }
    s.clock.advance_ms(1_000);
    sync(&mut open[0]).await;
    let mut newest = device(&s, ORG, APP, "m", "c5").await;
    match tokio::time::timeout(Duration::from_secs(10), open[1].next()).await {
        Ok(Ok(Event::Closed { code, reason })) => {
            assert_eq!((code, reason.as_str()), (4010, "too many devices"));
        }
        other => panic!("c1 was not closed with 4010: {other:?}"),
    }
    // An online-only push reaches the CAP connections left, no more.
    assert_eq!(push_leg(&s, &p, &t, "m", 4).await["online"], CAP);
    next_push(&mut newest).await;
    next_push(&mut open[0]).await;
}

#[tokio::test]
async fn devices_unseen_for_the_retention_are_forgotten_unless_connected() {
    let s = TestServer::start_with(|c| {
        c.gateway.upkeep_interval_secs = 1;
        // The connection below stays open while the clock moves two minutes.
        c.gateway.heartbeat_secs = 3_600;
    })
    .await;
    let (p, t) = setup(&s, &["m"]).await;
    let app = app_id(&s, ORG, APP).await;
    s.store.set_offline_retention(app, Some(60)).await.unwrap();
    device(&s, ORG, APP, "m", "old")
        .await
        .close()
        .await
        .unwrap();
    let mut live = device(&s, ORG, APP, "m", "live").await;
    assert_eq!(known_devices(&s, app, "m").await.len(), 2);
    s.clock.advance_ms(120_000);
    // The upkeep runs every second: within a few, "old" is forgotten; "live", as old but
    // connected, is kept and recorded as seen.
    let mut known = Vec::new();
    for _ in 0..100 {
        known = known_devices(&s, app, "m").await;
        if known.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(known, ["live"]);
    let stale = s
        .store
        .stale_devices(s.clock.now_ms(), 60, 100)
        .await
        .unwrap();
    assert!(stale.is_empty(), "{stale:?}");
    let leg = push_leg(&s, &p, &t, "m", 1).await;
    assert_eq!(
        (leg["stored"].clone(), leg["online"].clone()),
        (json!(1), json!(1))
    );
    next_push(&mut live).await;
}

// ---- what is stored for a device while it connects reaches it on that connection -----------

/// An APNs device token per user (a token bound to a second user moves to it).
const APNS_TOKENS: [&str; 2] = [
    "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
];

#[tokio::test]
async fn a_copy_stored_while_its_device_connects_reaches_it_on_that_connection() {
    let mocks = openpush_vendor_mock::MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    // "fresh" has no Easemob device yet (its copy waits for its first device); "known" has one.
    let (p, t) = setup(&s, &["fresh", "known"]).await;
    let app = app_id(&s, ORG, APP).await;
    let c = mocks.apns_credentials();
    let apns = json!({"name": "ios", "vendor": "apns", "base_url": mocks.apns_url(), "credentials": {
        "key_p8": c.p8_pem(), "key_id": c.key_id, "team_id": c.team_id, "bundle_id": c.bundle_id}});
    let (st, b) = s.post(&format!("{p}/notifiers"), &t, apns).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    for (user, token) in ["fresh", "known"].into_iter().zip(APNS_TOKENS) {
        let binding = json!({"device_id": "phone", "notifier_name": "ios", "device_token": token});
        let (st, b) = s
            .put(&format!("{p}/users/{user}/push/binding"), &t, binding)
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    device(&s, ORG, APP, "known", "k1")
        .await
        .close()
        .await
        .unwrap();
    // The vendor fails, slowly: strategy 0 then keeps the notification for the Easemob channel.
    mocks
        .apns()
        .fail_all(Some(openpush_vendor_mock::ApnsOutcome::InternalServerError));
    mocks.apns().set_latency(Duration::from_millis(1_500));

    for (user, dev) in [("fresh", "f1"), ("known", "k1")] {
        let requests = mocks.apns().request_count();
        let push = {
            let (client, url, t) = (
                s.client.clone(),
                s.url(&format!("{p}/push/sync/{user}")),
                t.clone(),
            );
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(t)
                    .json(&json!({"strategy": 0, "pushMessage": {"title": user, "content": "c"}}))
                    .send()
                    .await
                    .unwrap();
                res.json::<Value>().await.unwrap()
            })
        };
        // The push has read the user's devices (none online) and waits on the vendor…
        for _ in 0..500 {
            if mocks.apns().request_count() > requests {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if mocks.apns().request_count() <= requests {
            panic!("the vendor was never called: {}", push.await.unwrap());
        }
        // …while the device connects, and its replay (empty) is over.
        let mut d = device(&s, ORG, APP, user, dev).await;
        sync(&mut d).await;
        // Then the vendor fails, and the copy kept for the device reaches it on this connection.
        let b = push.await.unwrap();
        let legs: Vec<&Value> = b["data"].as_array().unwrap().iter().collect();
        assert_eq!(legs.last().unwrap()["data"]["stored"], 1, "{user}: {b}");
        let n = next_push(&mut d).await;
        assert_eq!(n.message["title"], user);
        // It is the device's own copy: its ack removes it.
        assert_eq!(queued_for(&s, app, user, dev).await, 1);
        d.ack(&[&n.id]).await.unwrap();
        sync(&mut d).await;
        assert_eq!(queued_for(&s, app, user, dev).await, 0, "{user}");
        d.close().await.unwrap();
    }
    mocks.shutdown().await;
}

// ---- the expiry purge: a large backlog goes in bounded transactions ------------------------

#[tokio::test]
async fn a_backlog_of_expired_copies_is_purged_in_batches_while_the_server_serves() {
    let s = TestServer::start_with(|c| c.gateway.upkeep_interval_secs = 1).await;
    let (p, t) = setup(&s, &["u"]).await;
    let app = app_id(&s, ORG, APP).await;
    // 25,000 copies that expire in a minute (more than two purge transactions' worth), and one
    // that is kept for a day.
    queue_copies_for(&s, app, "u", "d1", 25_000, 60_000).await;
    let kept = queue_copies_for(&s, app, "u", "d1", 1, 86_400_000).await;
    let all = |s: &TestServer| {
        let store = s.store.clone();
        async move {
            store
                .pending_for(
                    app,
                    &Username::parse("u").unwrap(),
                    &DeviceId::parse("d1").unwrap(),
                    None,
                    0,
                    100_000,
                )
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(all(&s).await, 25_001);
    s.clock.advance_ms(120_000);
    // The upkeep runs every second and removes the backlog, batch after batch; the server
    // answers meanwhile.
    let mut left = usize::MAX;
    for _ in 0..100 {
        let (st, _) = s.get(&format!("{p}/push/tasks"), &t).await;
        assert_eq!(st, StatusCode::OK);
        left = all(&s).await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 1, "the backlog was not purged");
    // The device gets the copy that was kept, and only that.
    let mut d = device(&s, ORG, APP, "u", "d1").await;
    assert_eq!(next_push(&mut d).await.id, kept[0].to_string());
    d.ping().await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), d.next()).await {
        Ok(Ok(Event::Pong)) => {}
        other => panic!("expected only the kept copy, then the pong: {other:?}"),
    }
}
