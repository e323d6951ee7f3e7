//! Calls replayed as Easemob's documents and SDKs make them, where OpenPush once answered
//! differently: conversation do-not-disturb windows, updates of unknown users, the text of an
//! accepted `/push/single` target, task counts that age out of the window, and the rate-limit
//! groups of the task and certificate endpoints.

mod common;

use common::{assert_error, TestServer};
use openpush_client::{login, Device};
use openpush_core::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OK: StatusCode = StatusCode::OK;

/// The IM SDK's `push().offlineSetting(...)` sends a daily window with `type: NONE` on a peer
/// or group conversation, with no Content-Type; Easemob accepts it on every chat type, stores it
/// and returns it. `DEFAULT` is accepted at the app level too.
#[tokio::test]
async fn ignore_interval_on_a_conversation_is_accepted_stored_and_returned() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1", "peer"]).await;
    let body = r#"{"type":"NONE","ignoreInterval":"08:30-10:00","ignoreDuration":120000}"#;
    for (chattype, key) in [("user", "peer"), ("chatgroup", "g-100"), ("user", "u1")] {
        let path = format!("{p}/users/u1/notification/{chattype}/{key}");
        let now = s.clock.now_ms();
        let (st, b) = s
            .call_raw(Method::PUT, &path, Some(&t), Some(body), None)
            .await;
        assert_eq!(st, OK, "{chattype}/{key}: {b}");
        let want = json!({"type": "NONE", "ignoreInterval": "08:30-10:00", "ignoreDuration": now + 120_000});
        assert_eq!(b["data"], want, "{chattype}/{key}");
        let (st, b) = s.get(&path, &t).await;
        assert_eq!(st, OK, "{b}");
        assert_eq!(b["data"], want, "{chattype}/{key} read back");
        // "" clears the window.
        let (_, b) = s.put(&path, &t, json!({"ignoreInterval": ""})).await;
        assert_eq!(b["data"]["ignoreInterval"], "", "{b}");
    }
    // DEFAULT at the app level is stored as given.
    let app_level = format!("{p}/users/u1/notification/user/u1");
    let (st, b) = s.put(&app_level, &t, json!({"type": "DEFAULT"})).await;
    assert_eq!(st, OK, "{b}");
    assert_eq!(s.get(&app_level, &t).await.1["data"]["type"], "DEFAULT");
    // A malformed window is still refused.
    assert_error(
        &s.put(
            &format!("{p}/users/u1/notification/user/peer"),
            &t,
            json!({"ignoreInterval": "25:00-26:00"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "ignoreInterval",
    );
}

/// Nickname, display-style and legacy do-not-disturb updates of a user that does not exist
/// answer 400 RequiredPropertyNotFoundException; GET and DELETE keep their 404.
#[tokio::test]
async fn put_unknown_user_answers_required_property_not_found() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    for body in [
        json!({"nickname": "x"}),
        json!({"notification_display_style": "1"}),
        json!({"notification_no_disturbing": true, "notification_no_disturbing_start": "8", "notification_no_disturbing_end": "18"}),
    ] {
        let got = s.put(&format!("{p}/users/ghost"), &t, body).await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Entity user requires a property named username",
        );
        assert_eq!(got.1["exception"], "RequiredPropertyNotFoundException");
        assert_eq!(got.1["error"], "required_property_not_found");
    }
    for m in [Method::GET, Method::DELETE] {
        let got = s.call(m, &format!("{p}/users/ghost"), Some(&t), None).await;
        assert_error(&got, StatusCode::NOT_FOUND, "Service resource not found");
    }
    // The user exists after registration, and then the update goes through.
    s.users(&p, &t, &["ghost"]).await;
    let (st, b) = s
        .put(&format!("{p}/users/ghost"), &t, json!({"nickname": "x"}))
        .await;
    assert_eq!(st, OK, "{b}");
}

/// `/push/single` answers an accepted target as Easemob's example does:
/// `{"id":…,"pushStatus":"ASYNC_SUCCESS","desc":"async success."}`. `/push/async/{user}` keeps
/// its own example's `"success"`. Online-only legs (strategy 4) are done before the answer and
/// say what happened: `SUCCESS` or `FAIL user offline`; so does a vendor strategy for a user
/// with no push binding: `FAIL no push binding`.
#[tokio::test]
async fn push_single_desc_is_easemobs_async_success_text() {
    let s = TestServer::start().await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["on", "off"]).await;
    let token = login(&s.base, "o", "a", "on", "pw").await.unwrap();
    let _on = Device::connect(&s.base, "o", "a", &token, "phone")
        .await
        .unwrap();
    // "off" has a push binding (its vendor is unreachable; the leg waits in the send queue).
    let (st, b) = s
        .put(
            &format!("{p}/users/off/push/binding"),
            &t,
            json!({"device_id": "off-phone", "notifier_name": "n", "device_token": "token-0123456789"}),
        )
        .await;
    assert_eq!(st, OK, "{b}");
    let msg = json!({"title": "t", "content": "c"});
    for strategy in [0, 1, 2, 3] {
        let (st, b) = s
            .post(
                &format!("{p}/push/single"),
                &t,
                json!({"targets": ["off", "nobody"], "strategy": strategy, "pushMessage": msg}),
            )
            .await;
        assert_eq!(st, OK, "{b}");
        assert_eq!(
            b["data"],
            json!([
                {"id": "off", "pushStatus": "ASYNC_SUCCESS", "desc": "async success."},
                {"id": "nobody", "pushStatus": "FAIL", "desc": "appUser not exists"},
            ]),
            "strategy {strategy}"
        );
    }
    let (_, b) = s
        .post(
            &format!("{p}/push/async/off"),
            &t,
            json!({"strategy": 1, "pushMessage": msg}),
        )
        .await;
    assert_eq!(
        (&b["data"][0]["pushStatus"], &b["data"][0]["desc"]),
        (&json!("ASYNC_SUCCESS"), &json!("success")),
        "{b}"
    );
    let (_, b) = s
        .post(
            &format!("{p}/push/single"),
            &t,
            json!({"targets": ["on"], "strategy": 2, "pushMessage": msg}),
        )
        .await;
    assert_eq!(
        b["data"],
        json!([{"id": "on", "pushStatus": "FAIL", "desc": "no push binding"}])
    );
    let (_, b) = s
        .post(
            &format!("{p}/push/single"),
            &t,
            json!({"targets": ["on", "off"], "strategy": 4, "pushMessage": msg}),
        )
        .await;
    assert_eq!(
        b["data"],
        json!([
            {"id": "on", "pushStatus": "SUCCESS", "desc": "success"},
            {"id": "off", "pushStatus": "FAIL", "desc": "user offline"},
        ])
    );
}

/// Every task count ages out of the creation window: a list task scheduled days ahead counts
/// from its creation until it ends or is older than the window, whichever comes first, so it
/// no longer blocks creation once the window has passed.
#[tokio::test]
async fn task_limits_every_count_ages_out_of_the_window() {
    let s = TestServer::start_with(|c| {
        c.limits.task_window_secs = 60;
        c.limits.tasks_per_window = 2;
    })
    .await;
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["u1"]).await;
    let start = {
        use chrono::TimeZone;
        chrono::Local
            .timestamp_millis_opt(s.clock.now_ms() + 3 * 24 * 3_600_000)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let scheduled = json!({"targets": ["u1"], "startDate": start, "pushMessage": {"title": "later", "content": "c"}});
    for _ in 0..2 {
        let (st, b) = s
            .post(&format!("{p}/push/list"), &t, scheduled.clone())
            .await;
        assert_eq!(st, OK, "{b}");
    }
    // Two scheduled list tasks fill the window: a broadcast and a label task are refused.
    for path in ["/push/task", "/push/list"] {
        let body = if path == "/push/task" {
            json!({"strategy": 4, "pushMessage": {"title": "b", "content": "c"}})
        } else {
            scheduled.clone()
        };
        let got = s.post(&format!("{p}{path}"), &t, body).await;
        assert_error(&got, StatusCode::FORBIDDEN, "limit request");
    }
    // Once they are older than the window they no longer count, though they have not run.
    s.clock.advance_ms(60_001);
    let (st, b) = s
        .post(
            &format!("{p}/push/task"),
            &t,
            json!({"strategy": 4, "pushMessage": {"title": "b", "content": "c"}}),
        )
        .await;
    assert_eq!(st, OK, "{b}");
    let (st, b) = s
        .post(&format!("{p}/push/list"), &t, scheduled.clone())
        .await;
    assert_eq!(st, OK, "{b}");
    // The window is full again (the broadcast and the new list task).
    let got = s.post(&format!("{p}/push/list"), &t, scheduled).await;
    assert_error(&got, StatusCode::FORBIDDEN, "limit request");
}

/// Sends `n` requests; returns how many were refused with 429.
async fn limited(
    s: &TestServer,
    method: Method,
    path: &str,
    t: &str,
    body: Option<Value>,
    n: usize,
) -> usize {
    let mut refused = 0;
    for _ in 0..n {
        let got = s.call(method.clone(), path, Some(t), body.clone()).await;
        if got.0 == StatusCode::TOO_MANY_REQUESTS {
            assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "reached api limit");
            refused += 1;
        }
    }
    refused
}

/// `/push/list` and `/push/list/label` each have their own rate; the task queries and the push
/// certificates have groups of their own and do not spend the `/users` budget.
#[tokio::test]
async fn rate_limit_groups_of_list_label_tasks_and_notifiers() {
    let s = TestServer::start_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.token = 1_000;
        c.rate_limits.users = 1;
        c.rate_limits.push_list = 1;
        c.rate_limits.push_list_label = 1;
        c.rate_limits.tasks = 1;
        c.rate_limits.notifiers = 1;
    })
    .await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    // Spend the /users budget.
    assert!(limited(&s, Method::GET, &format!("{p}/users"), &t, None, 3).await >= 1);
    // The task queries and the certificates still answer, each on its own budget.
    assert_eq!(s.get(&format!("{p}/push/tasks"), &t).await.0, OK);
    assert_eq!(s.get(&format!("{p}/notifiers"), &t).await.0, OK);
    assert!(limited(&s, Method::GET, &format!("{p}/push/tasks"), &t, None, 3).await >= 1);
    assert!(limited(&s, Method::GET, &format!("{p}/notifiers"), &t, None, 3).await >= 1);
    // A list task and a label task are two endpoints: spending one leaves the other.
    let bad = json!({"targets": []});
    assert!(
        limited(
            &s,
            Method::POST,
            &format!("{p}/push/list"),
            &t,
            Some(bad.clone()),
            3
        )
        .await
            >= 1
    );
    let got = s.post(&format!("{p}/push/list/label"), &t, bad).await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
}
