//! Nothing answered for is lost: a real `openpush serve` answers `ASYNC_SUCCESS` for vendor
//! pushes to a slow vendor stand-in (strategy 2) and to a vendor that is down (strategy 0), is
//! killed with SIGKILL at once, and is started again on the same data directory. Every strategy-2
//! push reaches the stand-in (at most twice: the legs in flight at the kill may be sent again),
//! and every strategy-0 push ends in its user's offline queue once the vendor has failed, from
//! where the user's device receives it.

mod process;

use std::process::Child;
use std::time::{Duration, Instant};

use openpush_client::{login, Device, Event};
use openpush_vendor_mock::MockVendors;
use serde_json::{json, Value};

const SLOW: Duration = Duration::from_secs(3);
const SINGLE_USERS: usize = 40;
const ASYNC_USERS: usize = 5;
const DOWN_USERS: usize = 5;

fn serve(data: &str) -> (Child, String) {
    process::serve(
        data,
        // A vendor that is down is given up on quickly, so its fallback shows within the test.
        &[
            ("OPENPUSH_SEND_QUEUE__MAX_ATTEMPTS", "2"),
            ("OPENPUSH_SEND_QUEUE__BACKOFF_BASE_MS", "100"),
        ],
    )
}

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let r = c
        .request(method, url)
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

fn user(kind: &str, i: usize) -> String {
    format!("{kind}{i:03}")
}

fn token_of(name: &str) -> String {
    format!("hw-token-{name}-0123456789")
}

#[tokio::test]
async fn accepted_vendor_pushes_survive_sigkill() {
    let mocks = MockVendors::start().await.unwrap();
    mocks.huawei().set_latency(SLOW);
    let hw = mocks
        .notifiers()
        .into_iter()
        .find(|n| n.vendor == "huawei")
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let creds = process::create_app(data);
    let (mut server, base) = serve(data);
    let c = reqwest::Client::new();
    let token = process::app_token(&c, &base, &creds).await;
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    for (name, url) in [
        ("hw", hw.base_url.clone()),
        ("down", "http://127.0.0.1:1".to_owned()),
    ] {
        call(&c, post.clone(), format!("{base}/o/a/notifiers"), &token,
            json!({"name": name, "vendor": "huawei", "base_url": url, "credentials": hw.credentials})).await;
    }
    let single: Vec<String> = (0..SINGLE_USERS).map(|i| user("s", i)).collect();
    let one_by_one: Vec<String> = (0..ASYNC_USERS).map(|i| user("a", i)).collect();
    let down: Vec<String> = (0..DOWN_USERS).map(|i| user("d", i)).collect();
    let everyone: Vec<&String> = single.iter().chain(&one_by_one).chain(&down).collect();
    let body: Vec<Value> = everyone
        .iter()
        .map(|n| json!({"username": n, "password": "pw"}))
        .collect();
    call(
        &c,
        post.clone(),
        format!("{base}/o/a/users"),
        &token,
        Value::Array(body),
    )
    .await;
    for n in &everyone {
        let notifier = if n.starts_with('d') { "down" } else { "hw" };
        call(&c, put.clone(), format!("{base}/o/a/users/{n}/push/binding"), &token,
            json!({"device_id": format!("{n}-phone"), "notifier_name": notifier, "device_token": token_of(n)})).await;
    }

    // Accepted: strategy 2 in one /push/single and in single /push/async calls, strategy 0 to
    // the vendor that is down.
    let msg = json!({"title": "kept", "content": "through a crash"});
    let r = call(
        &c,
        post.clone(),
        format!("{base}/o/a/push/single"),
        &token,
        json!({"targets": single, "pushMessage": msg}),
    )
    .await;
    assert!(
        r["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["pushStatus"] == "ASYNC_SUCCESS"),
        "{r}"
    );
    for n in &one_by_one {
        let r = call(
            &c,
            post.clone(),
            format!("{base}/o/a/push/async/{n}"),
            &token,
            json!({"pushMessage": msg}),
        )
        .await;
        assert_eq!(r["data"][0]["pushStatus"], "ASYNC_SUCCESS", "{r}");
    }
    let r = call(
        &c,
        post.clone(),
        format!("{base}/o/a/push/single"),
        &token,
        json!({"targets": down, "strategy": 0, "pushMessage": msg}),
    )
    .await;
    assert!(
        r["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["pushStatus"] == "ASYNC_SUCCESS"),
        "{r}"
    );
    // Killed before the slow vendor could answer anything.
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let before_restart = mocks.huawei().push_count();

    let (mut server, base) = serve(data);
    let deadline = Instant::now() + Duration::from_secs(60);
    let wanted: Vec<String> = single
        .iter()
        .chain(&one_by_one)
        .map(|n| token_of(n))
        .collect();
    loop {
        let got: Vec<String> = mocks
            .huawei()
            .pushes()
            .into_iter()
            .map(|p| p.token)
            .collect();
        let missing: Vec<&String> = wanted.iter().filter(|t| !got.contains(t)).collect();
        if missing.is_empty() {
            for t in &wanted {
                let n = got.iter().filter(|g| *g == t).count();
                assert!(n <= 2, "{t} was sent {n} times");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} pushes lost after the restart (accepted before the kill: {before_restart}): {missing:?}",
            missing.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The vendor that is down never got anything; each of its users finds the notification in
    // the offline queue.
    for n in &down {
        let t = login(&base, "o", "a", n, "pw").await.unwrap();
        let mut d = Device::connect(&base, "o", "a", &t, &format!("{n}-app"))
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(60), d.next()).await {
            Ok(Ok(Event::Push(p))) => assert_eq!(p.message["title"], "kept", "{n}"),
            other => panic!("{n}: expected the fallback copy, got {other:?}"),
        }
        d.close().await.unwrap();
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
