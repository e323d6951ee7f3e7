//! Notifications and push tasks end to end: creation, limits, scheduling, the runner
//! delivering to real devices, statistics, cancel.

mod common;

use std::time::Duration;

use common::{assert_error, TestServer};
use openpush_client::{login, Device, Event, Notification};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn device(s: &TestServer, user: &str) -> Device {
    let token = login(&s.base, "o", "a", user, "pw").await.unwrap();
    Device::connect(&s.base, "o", "a", &token, &format!("{user}-phone"))
        .await
        .unwrap()
}

async fn next_push(d: &mut Device) -> Notification {
    match tokio::time::timeout(Duration::from_secs(10), d.next()).await {
        Ok(Ok(Event::Push(n))) => n,
        other => panic!("expected a push, got {other:?}"),
    }
}

fn msg(title: &str) -> Value {
    json!({"title": title, "content": "task content"})
}

/// Waits (event-driven on the task's own progress, bounded) until the task reaches `status`.
async fn wait_status(s: &TestServer, p: &str, t: &str, id: i64, status: &str) -> Value {
    for _ in 0..300 {
        let (_, b) = s.get(&format!("{p}/push/task/{id}"), t).await;
        if b["data"]["status"] == status {
            return b["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never reached {status}");
}

#[tokio::test]
async fn notifications_create_and_query() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let (st, b) = s
        .post(
            &format!("{p}/push/message"),
            &t,
            json!({"title": "Hello1234", "sub_title": "Hello", "content": "Hello", "vivo": {}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let id = b["data"].as_i64().expect("a JSON number");
    assert!(id > 0);
    for (m, body) in [
        (Method::GET, None),
        (Method::POST, None),
        (Method::POST, Some("{}")),
    ] {
        let (st, b) = s
            .call_raw(m, &format!("{p}/push/message/{id}"), Some(&t), body, None)
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        assert_eq!(b["data"]["appkey"], "o#a");
        assert_eq!(b["data"]["title"], "Hello1234");
        assert_eq!(b["data"]["subTitle"], "Hello");
        assert!(b["data"]["timestamp"].as_i64().unwrap() > 0);
    }
    assert_error(
        &s.get(&format!("{p}/push/message/12345"), &t).await,
        StatusCode::BAD_REQUEST,
        "push message not exists of 12345",
    );
    assert_error(
        &s.get(&format!("{p}/push/message/abc"), &t).await,
        StatusCode::BAD_REQUEST,
        "number",
    );
    let bad = s
        .post(
            &format!("{p}/push/message"),
            &t,
            json!({"content": "no title"}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "pushMessage.title");
    assert_eq!(bad.1["exception"], "MessageException");
}

#[tokio::test]
async fn list_broadcast_and_label_tasks_deliver_and_count() {
    let s = TestServer::start_with(|c| c.limits.tasks_per_window = 10).await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1", "u2", "u3"]).await;
    let mut d1 = device(&s, "u1").await;
    let mut d2 = device(&s, "u2").await;
    let mut d3 = device(&s, "u3").await;

    // List task: u1 and u3 (plus an unknown user, counted as a failure).
    let (st, b) = s.post(&format!("{p}/push/list"), &t, json!({"targets": ["u1", "u3", "ghost"], "strategy": 1, "pushMessage": msg("list"), "type": "IM"})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let list_id = b["data"]["taskId"].as_i64().unwrap();
    assert_eq!(next_push(&mut d1).await.message["title"], "list");
    let n3 = next_push(&mut d3).await;
    assert_eq!(n3.task_id, Some(list_id), "devices see the task id");
    assert_eq!(n3.push_msg_id, None);
    let done = wait_status(&s, &p, &t, list_id, "finished").await;
    assert_eq!(done["statistics"]["success"], 2, "{done}");
    assert_eq!(done["statistics"]["fail"], 1, "{done}");
    assert_eq!(
        done["statistics"]["channels"]["easemob"]["success"], 2,
        "{done}"
    );

    // Broadcast from a stored notification, pushMsgId as a string.
    let (_, b) = s.post(&format!("{p}/push/message"), &t, msg("all")).await;
    let msg_id = b["data"].as_i64().unwrap();
    let (st, b) = s
        .post(
            &format!("{p}/push/task/broadcast"),
            &t,
            json!({"pushMsgId": msg_id.to_string(), "strategy": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let bc = b["data"].as_i64().expect("a bare number");
    for d in [&mut d1, &mut d2, &mut d3] {
        let n = next_push(d).await;
        assert_eq!(n.message["title"], "all");
        assert_eq!(
            n.push_msg_id,
            Some(msg_id).filter(|_| false).or(n.push_msg_id)
        );
    }
    let done = wait_status(&s, &p, &t, bc, "finished").await;
    assert_eq!(done["statistics"]["success"], 3, "{done}");
    assert_eq!(done["pushMsgId"], msg_id);

    // Label task: the intersection of two labels (u2 only).
    for (name, members) in [("x", json!(["u1", "u2"])), ("y", json!(["u2", "u3"]))] {
        s.post(&format!("{p}/push/label"), &t, json!({"name": name}))
            .await;
        s.post(
            &format!("{p}/push/label/{name}/user"),
            &t,
            json!({"usernames": members}),
        )
        .await;
    }
    let (st, b) = s
        .post(
            &format!("{p}/push/list/label"),
            &t,
            json!({"targets": ["x", "y"], "strategy": 1, "pushMessage": msg("label")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let lt = b["data"]["taskId"].as_i64().unwrap();
    assert_eq!(next_push(&mut d2).await.message["title"], "label");
    let done = wait_status(&s, &p, &t, lt, "finished").await;
    assert_eq!(done["statistics"]["success"], 1, "{done}");
    // u1 and u3 got nothing more: a strategy-4 probe is the next thing they see.
    s.post(
        &format!("{p}/push/single"),
        &t,
        json!({"targets": ["u1", "u3"], "strategy": 4, "pushMessage": msg("probe")}),
    )
    .await;
    assert_eq!(next_push(&mut d1).await.message["title"], "probe");
    assert_eq!(next_push(&mut d3).await.message["title"], "probe");

    // The legacy pushFunc LABEL on /push/list, and the task list.
    let (st, b) = s.post(&format!("{p}/push/list"), &t, json!({"targets": ["x"], "pushFunc": "LABEL", "strategy": 4, "pushMessage": msg("via-list")})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, b) = s.get(&format!("{p}/push/tasks?page=0&size=10"), &t).await;
    assert_eq!(b["data"].as_array().unwrap().len(), 4, "{b}");
    assert_eq!(b["data"][3]["taskId"], list_id, "newest first");
}

#[tokio::test]
async fn task_limits_window_and_concurrent_creation() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    // 20 broadcasts at once: exactly 3 get through.
    let reqs: Vec<_> = (0..20)
        .map(|i| {
            let (c, url, t) = (
                s.client.clone(),
                s.url(&format!("{p}/push/task")),
                t.clone(),
            );
            tokio::spawn(async move {
                let r = c
                    .post(url)
                    .bearer_auth(t)
                    .body(json!({"strategy": 4, "pushMessage": msg(&format!("b{i}"))}).to_string())
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                (status, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut ok = 0;
    let mut created = Vec::new();
    for r in reqs {
        let (st, b) = r.await.unwrap();
        if st == StatusCode::OK {
            ok += 1;
            created.push(b["data"].as_i64().unwrap());
        } else {
            assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
            assert_eq!(b["exception"], "LimitException");
            assert!(b["error_description"]
                .as_str()
                .unwrap()
                .starts_with("limit request"));
        }
    }
    assert_eq!(ok, 3);
    // Broadcasts keep counting after they finish, until they leave the 5-minute window.
    for id in created {
        wait_status(&s, &p, &t, id, "finished").await;
    }
    let again = s
        .post(
            &format!("{p}/push/task"),
            &t,
            json!({"pushMessage": msg("late")}),
        )
        .await;
    assert_error(&again, StatusCode::FORBIDDEN, "limit request");
    s.clock.advance_ms(300_001);
    let (st, b) = s
        .post(
            &format!("{p}/push/task"),
            &t,
            json!({"strategy": 4, "pushMessage": msg("later")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn scheduling_and_cancel() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    let fmt = |ms: i64| {
        use chrono::TimeZone;
        chrono::Local
            .timestamp_millis_opt(ms)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let now = s.clock.now_ms();
    for (date, text) in [
        (fmt(now + 30 * 60_000), "at least 1 hour"),
        (fmt(now + 31 * 24 * 3_600_000), "at most 30 days"),
        ("2024-13-01 00:00:00".to_owned(), "startDate must look like"),
        ("tomorrow".to_owned(), "startDate must look like"),
    ] {
        let got = s
            .post(
                &format!("{p}/push/list"),
                &t,
                json!({"targets": ["u1"], "startDate": date, "pushMessage": msg("x")}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, text);
    }
    let (st, b) = s.post(&format!("{p}/push/list"), &t, json!({"targets": ["u1"], "strategy": 1, "startDate": fmt(now + 2 * 3_600_000 + 1_000), "pushMessage": msg("later")})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let id = b["data"]["taskId"].as_i64().unwrap();
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
    assert_eq!(b["data"]["status"], "scheduled");
    // When its time comes, it runs.
    s.clock.advance_ms(2 * 3_600_000 + 2_000);
    let done = wait_status(&s, &p, &t, id, "finished").await;
    assert_eq!(done["statistics"]["success"], 1, "{done}");
    // Cancel a scheduled task; it never runs; cancelling again is refused.
    let (_, b) = s.post(&format!("{p}/push/list"), &t, json!({"targets": ["u1"], "startDate": fmt(s.clock.now_ms() + 2 * 3_600_000), "pushMessage": msg("never")})).await;
    let id = b["data"]["taskId"].as_i64().unwrap();
    let (st, b) = s.delete(&format!("{p}/push/task/{id}"), &t, None).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"]["status"], "cancelled");
    assert_error(
        &s.delete(&format!("{p}/push/task/{id}"), &t, None).await,
        StatusCode::BAD_REQUEST,
        "already ended",
    );
    assert_error(
        &s.get(&format!("{p}/push/task/999"), &t).await,
        StatusCode::BAD_REQUEST,
        "push task not exists of 999",
    );
}

#[tokio::test]
async fn bad_task_input() {
    let s = TestServer::start_with(|c| c.limits.tasks_per_window = 100).await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    s.post(&format!("{p}/push/label"), &t, json!({"name": "x"}))
        .await;
    let cases = [
        (
            "/push/task/broadcast",
            json!({"strategy": 1}),
            "pushMsgId must be provided",
        ),
        (
            "/push/task/broadcast",
            json!({"pushMsgId": 424242}),
            "push message not exists of 424242",
        ),
        (
            "/push/task/broadcast",
            json!({"pushMsgId": "abc"}),
            "pushMsgId",
        ),
        ("/push/task", json!({"strategy": 1}), "pushMessage"),
        (
            "/push/task",
            json!({"strategy": 9, "pushMessage": msg("x")}),
            "strategy",
        ),
        (
            "/push/list",
            json!({"targets": [], "pushMessage": msg("x")}),
            "1 to 1000",
        ),
        (
            "/push/list",
            json!({"pushMessage": msg("x")}),
            "targets must be provided",
        ),
        (
            "/push/list",
            json!({"targets": ["bad name"], "pushMessage": msg("x")}),
            "targets",
        ),
        (
            "/push/list/label",
            json!({"targets": ["nope"], "pushMessage": msg("x")}),
            "push label not exists of nope",
        ),
        (
            "/push/list/label",
            json!({"targets": ["x", "x", "x", "x"], "pushMessage": msg("x")}),
            "1 to 3",
        ),
        (
            "/push/list/label",
            json!({"targets": [], "pushMessage": msg("x")}),
            "1 to 3",
        ),
    ];
    for (path, body, text) in cases {
        let got = s.post(&format!("{p}{path}"), &t, body.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, text);
    }
    for q in ["size=0", "size=101", "page=x"] {
        assert_eq!(
            s.get(&format!("{p}/push/tasks?{q}"), &t).await.0,
            StatusCode::BAD_REQUEST,
            "{q}"
        );
    }
    // Nothing was created.
    let (_, b) = s.get(&format!("{p}/push/tasks"), &t).await;
    assert_eq!(b["data"], json!([]));
}

#[tokio::test]
async fn acks_clicks_and_reports_count_as_arrived_and_clicked() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1", "u2"]).await;
    let mut d1 = device(&s, "u1").await;
    let mut d2 = device(&s, "u2").await;
    let (_, b) = s
        .post(
            &format!("{p}/push/list"),
            &t,
            json!({"targets": ["u1", "u2"], "strategy": 1, "pushMessage": msg("count me")}),
        )
        .await;
    let id = b["data"]["taskId"].as_i64().unwrap();
    let n1 = next_push(&mut d1).await;
    let n2 = next_push(&mut d2).await;
    // u1 acks twice (a replayed copy, say) and clicks; u2 only acks. Ack-then-ping: at the
    // pong, the acks are written.
    for (d, n, click) in [(&mut d1, &n1, true), (&mut d2, &n2, false)] {
        d.ack(&[n.id.as_str()]).await.unwrap();
        d.ack(&[n.id.as_str(), "not-an-id"]).await.unwrap();
        if click {
            d.click(&n.id).await.unwrap();
        }
        d.ping().await.unwrap();
        loop {
            match d.next().await.unwrap() {
                Event::Pong => break,
                Event::Push(_) => continue,
                other => panic!("{other:?}"),
            }
        }
    }
    let done = wait_status(&s, &p, &t, id, "finished").await;
    let st = &done["statistics"];
    assert_eq!(
        (st["arrived"].clone(), st["clicked"].clone()),
        (json!(2), json!(1)),
        "{done}"
    );
    assert_eq!(st["channels"]["easemob"]["arrived"], 2, "{done}");

    // A vendor-channel report, with the device's user token.
    let user_token = login(&s.base, "o", "a", "u2", "pw").await.unwrap();
    let report = |action: &str, provider: &str, task: Value| json!({"task_id": task, "device_id": "u2-phone", "action": action, "provider": provider});
    let (st_code, b) = s
        .post(
            &format!("{p}/push/report"),
            &user_token,
            report("ARRIVE", "huawei", json!(id.to_string())),
        )
        .await;
    assert_eq!(st_code, StatusCode::OK, "{b}");
    assert_eq!(b["data"], "success");
    s.post(
        &format!("{p}/push/report"),
        &user_token,
        report("CLICK", "HUAWEI", json!(id)),
    )
    .await;
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
    let st = &b["data"]["statistics"];
    assert_eq!(
        st["channels"]["huawei"],
        json!({"arrived": 1, "clicked": 1}),
        "{b}"
    );
    assert_eq!(
        (st["arrived"].clone(), st["clicked"].clone()),
        (json!(3), json!(2))
    );
    // The same events, per app and day: the Easemob channel's sends, arrivals and clicks, and
    // the vendor report under its vendor (written behind: within a few seconds).
    let today = openpush_core::clock::utc_day(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let daily = format!("{p}/push/data/daily/begin/{today}/end/{today}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let day = loop {
        let (_, b) = s.get(&daily, &t).await;
        let d = b["data"][0].clone();
        if d["arrived"] == 3 || std::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        day["channels"]["easemob"],
        json!({"success": 2, "fail": 0, "unknown": 0, "arrived": 2, "clicked": 1}),
        "{day}"
    );
    assert_eq!(
        day["channels"]["huawei"],
        json!({"success": 0, "fail": 0, "unknown": 0, "arrived": 1, "clicked": 1}),
        "{day}"
    );
    for (body, status, text) in [
        (
            report("OPEN", "HUAWEI", json!(id)),
            StatusCode::BAD_REQUEST,
            "ARRIVE or CLICK",
        ),
        (
            report("ARRIVE", "NOKIA", json!(id)),
            StatusCode::BAD_REQUEST,
            "provider",
        ),
        (
            report("ARRIVE", "HUAWEI", json!(999)),
            StatusCode::BAD_REQUEST,
            "push task not exists",
        ),
        (
            report("ARRIVE", "HUAWEI", json!("x")),
            StatusCode::BAD_REQUEST,
            "task_id",
        ),
    ] {
        assert_error(
            &s.post(&format!("{p}/push/report"), &user_token, body).await,
            status,
            text,
        );
    }
    // The app token is not a device's.
    assert_eq!(
        s.post(
            &format!("{p}/push/report"),
            &t,
            report("ARRIVE", "HUAWEI", json!(id))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
    assert_eq!(
        b["data"]["statistics"]["arrived"], 3,
        "refused reports counted nothing"
    );
}

#[tokio::test]
async fn a_rate_spreads_the_task_out() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    let names: Vec<String> = (0..30).map(|i| format!("r{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    s.users(&p, &t, &refs).await;
    let begun = std::time::Instant::now();
    let (st, b) = s
        .post(
            &format!("{p}/push/list"),
            &t,
            json!({"targets": names, "strategy": 4, "rate": "10", "pushMessage": msg("paced")}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let id = b["data"]["taskId"].as_i64().unwrap();
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
    assert_eq!(b["data"]["rate"], 10);
    let done = wait_status(&s, &p, &t, id, "finished").await;
    // 30 notifications at 10/s: the last page leaves 2.9 s after the first.
    assert!(
        begun.elapsed() >= Duration::from_millis(2_800),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(
        done["statistics"]["fail"], 30,
        "offline users under strategy 4: {done}"
    );
    for bad in [json!(0), json!(100_001), json!("fast")] {
        let got = s
            .post(
                &format!("{p}/push/list"),
                &t,
                json!({"targets": ["r00"], "rate": bad, "pushMessage": msg("x")}),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "rate");
    }
}
