//! A task survives a crash: the server is killed with SIGKILL in the middle of a list task
//! and started again; the task finishes with no target skipped and at most one page sent twice.

mod process;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Row;

const USERS: usize = 120;
const PAGE: usize = 1;

fn serve(data: &str) -> (Child, String) {
    process::serve(
        data,
        &[("OPENPUSH_LIMITS__TASK_PAGE_SIZE", &PAGE.to_string())],
    )
}

async fn task_state(c: &reqwest::Client, base: &str, token: &str, id: i64) -> Value {
    let v: Value = c
        .get(format!("{base}/o/a/push/task/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].clone()
}

#[tokio::test]
async fn a_list_task_resumes_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let creds = process::create_app(data);
    let (mut server, base) = serve(data);
    let c = reqwest::Client::new();
    let token = process::app_token(&c, &base, &creds).await;
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i:03}")).collect();
    for chunk in names.chunks(60) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|n| json!({"username": n, "password": "pw"}))
            .collect();
        let r = c
            .post(format!("{base}/o/a/users"))
            .bearer_auth(&token)
            .body(Value::Array(body).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Strategy 1: every delivery is a row in the offline queue, which we count afterwards.
    let r: Value = c
        .post(format!("{base}/o/a/push/list"))
        .bearer_auth(&token)
        .body(
            json!({"targets": names, "strategy": 1, "pushMessage": {"title": "t", "content": "c"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["data"]["taskId"].as_i64().expect("a task id");

    // Kill it once some, but not all, pages are done.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = task_state(&c, &base, &token, id).await;
        let done = t["statistics"]["success"].as_u64().unwrap_or(0);
        if done >= 10 {
            assert!(
                t["status"] == "running",
                "the task ended before the kill: {t}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the task made no progress: {t}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let (mut server, base) = serve(data);
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let t = task_state(&c, &base, &token, id).await;
        if t["status"] == "finished" {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the task did not finish after the restart: {t}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    server.wait().unwrap();

    // Every target got its copy; at most one page got two.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{data}/openpush.db"))
        .await
        .unwrap();
    let rows = sqlx::query("SELECT username, COUNT(*) AS n FROM pending GROUP BY username")
        .fetch_all(&pool)
        .await
        .unwrap();
    let counts: std::collections::HashMap<String, i64> = rows
        .iter()
        .map(|r| (r.get("username"), r.get("n")))
        .collect();
    for n in &names {
        assert!(counts.get(n).copied().unwrap_or(0) >= 1, "{n} was skipped");
    }
    let twice = counts.values().filter(|n| **n > 1).count();
    assert!(
        twice <= PAGE,
        "{twice} users got two copies; at most one page ({PAGE}) may"
    );
    assert!(
        finished["statistics"]["success"].as_u64().unwrap() >= USERS as u64,
        "{finished}"
    );
}
