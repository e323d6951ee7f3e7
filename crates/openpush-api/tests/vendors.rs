//! Vendor channels end to end: notifiers pointing at the local APNs and FCM stand-ins, pushes
//! through /push/sync, dead tokens unbound, strategy 0 falling back to the Easemob channel.

mod common;

use common::TestServer;
use openpush_vendor_mock::{ApnsOutcome, MockVendors};
use reqwest::StatusCode;
use serde_json::{json, Value};

const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const DEAD_APNS_TOKEN: &str = "ffffc3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const FCM_TOKEN: &str = "dGVzdC10b2tlbi0x:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx-test-token-0001";

async fn setup(s: &TestServer, mocks: &MockVendors) -> (String, String) {
    let (p, t) = s.app_with_token("o", "a").await;
    s.users(&p, &t, &["ios", "android", "gone"]).await;
    let c = mocks.apns_credentials();
    let apns = json!({"name": "ios-prod", "vendor": "apns", "base_url": mocks.apns_url(), "credentials": {
        "key_p8": c.p8_pem(), "key_id": c.key_id, "team_id": c.team_id, "bundle_id": c.bundle_id}});
    let (st, b) = s.post(&format!("{p}/notifiers"), &t, apns).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let fcm = json!({"name": "fcm-prod", "vendor": "fcm", "base_url": mocks.fcm_url(), "credentials": {
        "service_account": mocks.fcm_service_account_json()}});
    let (st, b) = s.post(&format!("{p}/notifiers"), &t, fcm).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    for (user, notifier, token) in [
        ("ios", "ios-prod", APNS_TOKEN),
        ("android", "fcm-prod", FCM_TOKEN),
        ("gone", "ios-prod", DEAD_APNS_TOKEN),
    ] {
        let (st, b) = s
            .put(&format!("{p}/users/{user}/push/binding"), &t, json!({"device_id": format!("{user}-1"), "notifier_name": notifier, "device_token": token}))
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }
    (p, t)
}

fn message() -> Value {
    json!({"title": "Vendor", "content": "through the vendor", "ext": {"k": "v"}, "apns": {"sound": "default"}})
}

#[tokio::test]
async fn strategy_2_reaches_apns_and_fcm_and_unbinds_dead_tokens() {
    let mocks = MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &mocks).await;
    mocks.apns().unregister(DEAD_APNS_TOKEN);

    let (st, b) = s
        .post(
            &format!("{p}/push/sync/ios"),
            &t,
            json!({"strategy": 2, "pushMessage": message()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["data"][0]["pushStatus"], "SUCCESS", "{b}");
    let result = &b["data"][0]["data"];
    assert_eq!(
        (result["code"].clone(), result["message"].clone()),
        (json!(200), json!("Success")),
        "{b}"
    );
    assert_eq!(result["data"]["sendResult"], true);
    assert_eq!(
        (
            result["data"]["expireTokens"].clone(),
            result["data"]["failTokens"].clone()
        ),
        (json!([]), json!([]))
    );
    assert!(
        result["data"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("ios-prod-"),
        "{b}"
    );
    let pushes = mocks.apns().pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].device_token, APNS_TOKEN);
    assert_eq!(pushes[0].payload["aps"]["alert"]["title"], "Vendor");
    assert_eq!(pushes[0].payload["aps"]["sound"], "default");

    let (_, b) = s
        .post(
            &format!("{p}/push/sync/android"),
            &t,
            json!({"pushMessage": message()}),
        )
        .await;
    assert_eq!(b["data"][0]["pushStatus"], "SUCCESS", "{b}");
    let msgs = mocks.fcm().messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");

    // The dead token fails, and its binding is gone afterwards.
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/gone"),
            &t,
            json!({"strategy": 2, "pushMessage": message()}),
        )
        .await;
    assert_eq!(b["data"][0]["pushStatus"], "FAIL", "{b}");
    assert_eq!(b["data"][0]["desc"], "bad device token");
    assert_eq!(
        b["data"][0]["data"]["data"]["expireTokens"],
        json!([DEAD_APNS_TOKEN]),
        "{b}"
    );
    assert_eq!(b["data"][0]["data"]["data"]["sendResult"], false);
    let (_, binding) = s.get(&format!("{p}/users/gone/push/binding"), &t).await;
    assert_eq!(binding["entities"], json!([]), "the dead token was unbound");
    mocks.shutdown().await;
}

#[tokio::test]
async fn strategy_0_falls_back_to_the_easemob_channel_when_the_vendor_fails() {
    let mocks = MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &mocks).await;
    mocks
        .apns()
        .fail_all(Some(ApnsOutcome::InternalServerError));
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/ios"),
            &t,
            json!({"strategy": 0, "pushMessage": message()}),
        )
        .await;
    let legs: Vec<_> = b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["pushStatus"].clone())
        .collect();
    assert_eq!(legs, [json!("ERROR"), json!("SUCCESS")], "{b}");
    assert_eq!(
        b["data"][1]["data"]["stored"], 1,
        "kept for the user's first Easemob device: {b}"
    );
    // Strategy 2 has no fallback: the failure is final.
    let (_, b) = s
        .post(
            &format!("{p}/push/sync/ios"),
            &t,
            json!({"strategy": 2, "pushMessage": message()}),
        )
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["data"][0]["pushStatus"], "ERROR");
    mocks.shutdown().await;
}

/// Polls `path` until `ready` holds on the answer (statistics are written behind, within about a
/// second), for up to 5 s.
async fn eventually(s: &TestServer, path: &str, t: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (st, b) = s.get(path, t).await;
        assert_eq!(st, StatusCode::OK, "{b}");
        if ready(&b) || std::time::Instant::now() > deadline {
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn daily_statistics_count_every_channel_and_the_offline_push_call_reports_vendors() {
    let mocks = MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    let (p, t) = setup(&s, &mocks).await;
    mocks.apns().unregister(DEAD_APNS_TOKEN);
    s.users(&p, &t, &["plain"]).await;
    let (st, b) = s
        .post(
            &format!("{p}/push/single"),
            &t,
            json!({"targets": ["ios", "android", "gone"], "strategy": 2, "pushMessage": message()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b) = s
        .post(
            &format!("{p}/push/sync/plain"),
            &t,
            json!({"strategy": 1, "pushMessage": message()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");

    let today = openpush_core::clock::utc_day(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let daily = format!("{p}/push/data/daily/begin/{today}/end/{today}");
    let b = eventually(&s, &daily, &t, |b| {
        b["data"][0]["success"] == 3 && b["data"][0]["fail"] == 1
    })
    .await;
    let d = &b["data"][0];
    assert_eq!(d["day"], today.as_str(), "{b}");
    assert_eq!(
        (
            d["success"].clone(),
            d["fail"].clone(),
            d["unknown"].clone()
        ),
        (json!(3), json!(1), json!(0)),
        "{b}"
    );
    assert_eq!(d["channels"]["apns"]["success"], 1, "{b}");
    assert_eq!(d["channels"]["apns"]["fail"], 1, "the dead token: {b}");
    assert_eq!(d["channels"]["fcm"]["success"], 1, "{b}");
    assert_eq!(d["channels"]["easemob"]["success"], 1, "{b}");

    let offline = format!("{p}/push/data/offline-push/begin/{today}/end/{today}");
    let (st, b) = s.get(&offline, &t).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "OK", "{b}");
    assert!(
        b.get("timestamp").is_none(),
        "the offline-push statistics answer status, not timestamp: {b}"
    );
    assert_eq!(
        b["data"][&today],
        json!({"APNS": {"successCount": 1, "failCount": 1}, "ANDROID": {"successCount": 1, "failCount": 0}}),
        "{b}"
    );
    let (st, b) = s.get(&format!("{offline}?platform=huaweipush"), &t).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        b["data"][&today],
        json!({"HUAWEIPUSH": {"successCount": 0, "failCount": 0}})
    );
    // A range lists every day, empty ones included.
    let (st, b) = s
        .get(
            &format!("{p}/push/data/offline-push/begin/2024-02-28/end/2024-03-01"),
            &t,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(
        b["data"],
        json!({"2024-02-28": {}, "2024-02-29": {}, "2024-03-01": {}})
    );

    for (path, text) in [
        (
            format!("{p}/push/data/offline-push/begin/2024-02-30/end/2024-03-01"),
            "startTime must be a day",
        ),
        (
            format!("{p}/push/data/offline-push/begin/2024-03-02/end/2024-03-01"),
            "is before startTime",
        ),
        (
            format!("{p}/push/data/offline-push/begin/2023-01-01/end/2024-03-01"),
            "at most 366 days",
        ),
        (
            format!("{p}/push/data/offline-push/begin/{today}/end/{today}?platform=NOKIA"),
            "platform must be ALL or one of",
        ),
        (
            format!("{p}/push/data/daily/begin/20240101/end/2024-01-02"),
            "startTime must be a day",
        ),
    ] {
        let got = s.get(&path, &t).await;
        common::assert_error(&got, StatusCode::BAD_REQUEST, text);
    }
}

/// A device token each stand-in accepts.
fn token_for(vendor: &str, i: usize) -> String {
    match vendor {
        "apns" => format!("{i:064x}"),
        _ => format!("{vendor}Token{i:08}abcdefghijklmnopqrstuvwxyz0123456789"),
    }
}

#[tokio::test]
async fn every_vendor_delivers_through_its_stand_in_names_its_request_id_and_dead_tokens_are_unbound(
) {
    let mocks = MockVendors::start().await.unwrap();
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "all").await;
    let notifiers = mocks.notifiers();
    assert_eq!(notifiers.len(), 8);
    let mut users = Vec::new();
    for (i, n) in notifiers.iter().enumerate() {
        let name = format!("mock-{}", n.vendor);
        let (st, b) = s
            .post(
                &format!("{p}/notifiers"),
                &t,
                json!({"name": name, "vendor": n.vendor, "base_url": n.base_url, "credentials": n.credentials}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        for (suffix, k) in [("ok", i), ("dead", 100 + i)] {
            let user = format!("{}-{suffix}", n.vendor);
            s.users(&p, &t, &[user.as_str()]).await;
            let (st, b) = s
                .put(
                    &format!("{p}/users/{user}/push/binding"),
                    &t,
                    json!({"device_id": format!("{user}-phone"), "notifier_name": name, "device_token": token_for(n.vendor, k)}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
            users.push(user);
        }
    }
    // The "-dead" device of every vendor has been uninstalled.
    let dead = |v: &str| {
        token_for(
            v,
            100 + notifiers.iter().position(|n| n.vendor == v).unwrap(),
        )
    };
    mocks.apns().unregister(&dead("apns"));
    mocks.fcm().unregister(&dead("fcm"));
    mocks.huawei().unregister(&dead("huawei"));
    mocks.honor().unregister(&dead("honor"));
    mocks.xiaomi().unregister(&dead("xiaomi"));
    mocks.oppo().unregister(&dead("oppo"));
    mocks.vivo().unregister(&dead("vivo"));
    mocks.meizu().unregister(&dead("meizu"));

    for user in &users {
        let (st, b) = s
            .post(
                &format!("{p}/push/sync/{user}"),
                &t,
                json!({"strategy": 2, "pushMessage": {"title": "Hi", "content": "from every vendor"}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{user}: {b}");
        let r = &b["data"][0];
        if user.ends_with("-ok") {
            assert_eq!(r["pushStatus"], "SUCCESS", "{user}: {b}");
            assert_eq!(r["data"]["data"]["sendResult"], true, "{user}: {b}");
            // requestId: the notifier's name and the id the vendor gave this push.
            let vendor = user.trim_end_matches("-ok");
            let rid = r["data"]["data"]["requestId"].as_str().unwrap();
            let id = rid
                .strip_prefix(&format!("mock-{vendor}-"))
                .unwrap_or_else(|| panic!("{user}: {rid}"));
            assert!(id.len() >= 8, "{user}: the vendor's id in {rid}");
            assert!(
                r["data"]["data"]["vendor"].to_string().contains(id),
                "{user}: {id} is not in the vendor's answer: {b}"
            );
        } else {
            assert_eq!(r["pushStatus"], "FAIL", "{user}: {b}");
            let vendor = user.trim_end_matches("-dead");
            assert_eq!(
                r["data"]["data"]["expireTokens"],
                json!([dead(vendor)]),
                "{user}: {b}"
            );
            let (_, b) = s.get(&format!("{p}/users/{user}/push/binding"), &t).await;
            assert_eq!(
                b["entities"],
                json!([]),
                "{user}'s dead token is unbound: {b}"
            );
        }
    }
    for (vendor, n) in mocks.push_counts() {
        assert_eq!(n, 1, "{vendor} accepted the one good push");
    }
}

/// The send queue: one list task with users on a slow vendor (Huawei, 5 s per answer) and on a
/// fast one (Xiaomi). The fast vendor's legs are all delivered while the slow one has answered
/// nothing (a slow vendor backs up only its own queue); the task finishes once its last queued
/// leg has ended, counting each leg under its vendor and each user once, dead token included.
#[tokio::test]
async fn a_slow_vendor_backs_up_only_its_own_queue_and_the_task_counts_every_leg() {
    let mocks = MockVendors::start().await.unwrap();
    mocks
        .huawei()
        .set_latency(std::time::Duration::from_secs(5));
    let s = TestServer::start().await;
    let (p, t) = s.bare_app_with_token("o", "a").await;
    let mut users = Vec::new();
    for n in mocks.notifiers() {
        if n.vendor != "huawei" && n.vendor != "xiaomi" {
            continue;
        }
        let (st, b) = s
            .post(&format!("{p}/notifiers"), &t, json!({"name": n.vendor, "vendor": n.vendor, "base_url": n.base_url, "credentials": n.credentials}))
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let count = if n.vendor == "xiaomi" { 20 } else { 5 };
        for i in 0..count {
            let user = format!("{}{i}", n.vendor);
            s.users(&p, &t, &[user.as_str()]).await;
            let (st, b) = s
                .put(&format!("{p}/users/{user}/push/binding"), &t, json!({"device_id": "phone", "notifier_name": n.vendor, "device_token": token_for(n.vendor, i)}))
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
            users.push(user);
        }
    }
    mocks.huawei().unregister(&token_for("huawei", 4));
    let (st, b) = s
        .post(
            &format!("{p}/push/list"),
            &t,
            json!({"targets": users, "strategy": 2, "pushMessage": message()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let id = b["data"]["taskId"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while mocks.xiaomi().push_count() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "Xiaomi never got its 20 pushes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        mocks.huawei().push_count(),
        0,
        "Huawei has not answered yet"
    );
    let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
    assert_eq!(
        b["data"]["status"], "running",
        "the task waits for its Huawei legs: {b}"
    );
    let done = loop {
        let (_, b) = s.get(&format!("{p}/push/task/{id}"), &t).await;
        if b["data"]["status"] == "finished" {
            break b["data"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the task never finished: {b}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(mocks.huawei().push_count(), 4);
    let st = &done["statistics"];
    assert_eq!(
        (st["success"].clone(), st["fail"].clone()),
        (json!(24), json!(1)),
        "{done}"
    );
    assert_eq!(st["channels"]["xiaomi"]["success"], 20, "{done}");
    assert_eq!(st["channels"]["huawei"]["success"], 4, "{done}");
    assert_eq!(st["channels"]["huawei"]["fail"], 1, "{done}");
    // The dead token was unbound.
    let (_, b) = s.get(&format!("{p}/users/huawei4/push/binding"), &t).await;
    assert_eq!(b["entities"], json!([]), "{b}");
}
