//! `openpush device` against a real `openpush serve`: JSON lines on stdout, acks, replay of what
//! was pushed while the device was stopped, the exits it must make (Ctrl-C → 0, replaced or
//! refused → non-zero), and reconnecting when the server goes away and comes back.
//!
//! Every wait is on a line or an exit, with a timeout; nothing sleeps to synchronise.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openpush"));
    c.env_remove("RUST_LOG").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENPUSH_") {
            c.env_remove(k);
        }
    }
    c
}

/// Stderr lines of a child, read in the background so the child never blocks on the pipe.
struct Stderr {
    rx: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Stderr {
    fn capture(child: &mut Child) -> Self {
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it.
    async fn wait_for(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(l) = self.rx.recv().await {
                self.seen.push(l.clone());
                if l.contains(needle) {
                    return Some(l);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(l)) => l,
            Ok(None) => panic!("stderr ended without {needle:?}:\n{}", self.seen.join("\n")),
            Err(_) => panic!(
                "no {needle:?} on stderr in {WAIT:?}:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// Everything the child wrote to stderr until it closed it.
    async fn rest(&mut self) -> String {
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(l) = self.rx.recv().await {
                self.seen.push(l);
            }
        })
        .await;
        self.seen.join("\n")
    }
}

struct Server {
    child: Child,
    stderr: Stderr,
    addr: String,
}

/// Starts `openpush serve` on `listen` and waits for its address.
async fn serve(dir: &Path, data: &Path, listen: &str) -> Server {
    let mut child = bin()
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            listen,
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = Stderr::capture(&mut child);
    let line = stderr.wait_for("addr=").await;
    let i = line.find("addr=").unwrap();
    let addr = line[i + 5..].split_whitespace().next().unwrap().to_owned();
    Server {
        child,
        stderr,
        addr,
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn exit_of(child: &mut Child) -> ExitStatus {
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the process did not exit")
        .unwrap()
}

impl Server {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(mut self) {
        signal(&self.child, "-TERM");
        assert!(exit_of(&mut self.child).await.success());
        drop(self.stderr);
    }
}

/// An app made by `openpush app create`, an app token, and user "u1" (password "pw").
struct Setup {
    base: String,
    token: String,
    http: reqwest::Client,
}

async fn app_and_user(dir: &Path, data: &Path, server: &Server) -> Setup {
    let out = bin()
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "app",
            "create",
            "o",
            "a",
        ])
        .current_dir(dir)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let creds: Value = serde_json::from_slice(&out.stdout).unwrap();
    let http = reqwest::Client::new();
    let base = server.base();
    let tok: Value = http
        .post(format!("{base}/o/a/token"))
        .json(&json!({"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_owned();
    let res = http
        .post(format!("{base}/o/a/users"))
        .bearer_auth(&token)
        .json(&json!([{"username": "u1", "password": "pw"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    Setup { base, token, http }
}

impl Setup {
    /// `/push/single` to u1; returns u1's result.
    async fn push(&self, strategy: i64, title: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/o/a/push/single", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"targets": ["u1"], "strategy": strategy,
                          "pushMessage": {"title": title, "content": "body"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        body["data"][0].clone()
    }
}

struct DeviceProc {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Stderr,
}

/// Starts `openpush device` as u1.
fn device(base: &str, device_id: &str, password: &str) -> DeviceProc {
    let mut child = bin()
        .args([
            "device",
            "--org",
            "o",
            "--app",
            "a",
            "--user",
            "u1",
            "--password",
            password,
            "--device-id",
            device_id,
            "--server",
            base,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Stderr::capture(&mut child);
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    DeviceProc {
        child,
        stdout,
        stderr,
    }
}

impl DeviceProc {
    async fn connected(&mut self) {
        self.stderr.wait_for("connected").await;
    }

    /// The next JSON line on stdout.
    async fn next_line(&mut self) -> Value {
        let line = tokio::time::timeout(WAIT, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line on stdout in {WAIT:?}"))
            .unwrap()
            .expect("stdout closed");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Ctrl-C; the process must exit 0.
    async fn interrupt(mut self) {
        signal(&self.child, "-INT");
        let status = exit_of(&mut self.child).await;
        assert!(status.success(), "{status:?}: {}", self.stderr.rest().await);
    }
}

#[tokio::test]
async fn prints_json_lines_acks_and_replays_what_came_while_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &data, "127.0.0.1:0").await;
    let s = app_and_user(dir.path(), &data, &server).await;

    let mut d = device(&s.base, "cli-1", "pw");
    d.connected().await;
    assert_eq!(s.push(1, "hello").await["pushStatus"], "ASYNC_SUCCESS");
    let n = d.next_line().await;
    let keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "task_id",
            "push_msg_id",
            "message",
            "sent_at",
            "expires_at"
        ]
    );
    assert_eq!(n["message"]["title"], "hello");
    assert_eq!(n["message"]["content"], "body");
    let id = n["id"].as_str().unwrap();
    assert!(id.parse::<i64>().is_ok(), "delivery ids are decimal: {id}");
    assert!(n["task_id"].is_null());
    assert!(n["expires_at"].as_i64().unwrap() > n["sent_at"].as_i64().unwrap());
    d.interrupt().await;

    // The device is really gone: an online-only push finds nobody ...
    let r = s.push(4, "nobody-home").await;
    assert_eq!(r["pushStatus"], "FAIL", "{r}");
    // ... and a strategy-1 push is kept for it.
    assert_eq!(s.push(1, "while-away").await["pushStatus"], "ASYNC_SUCCESS");

    let mut d = device(&s.base, "cli-1", "pw");
    // The first line is the replay: "hello" was acked (and flushed on Ctrl-C) so it does not
    // come again, and the online-only push was never stored.
    let n = d.next_line().await;
    assert_eq!(n["message"]["title"], "while-away", "{n}");
    d.connected().await;
    s.push(1, "live").await;
    assert_eq!(d.next_line().await["message"]["title"], "live");
    d.interrupt().await;
    server.stop().await;
}

#[tokio::test]
async fn a_replaced_device_a_refused_login_and_a_refused_device_id_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &data, "127.0.0.1:0").await;
    let s = app_and_user(dir.path(), &data, &server).await;

    let mut first = device(&s.base, "same", "pw");
    first.connected().await;
    let mut second = device(&s.base, "same", "pw");
    second.connected().await;
    let status = exit_of(&mut first.child).await;
    let err = first.stderr.rest().await;
    assert!(!status.success(), "a replaced device must not exit 0");
    assert!(err.contains("replaced") && err.contains("4009"), "{err}");
    // The newer one keeps the connection (the old one did not come back to take it).
    s.push(1, "to-second").await;
    assert_eq!(second.next_line().await["message"]["title"], "to-second");
    second.interrupt().await;

    let mut wrong = device(&s.base, "other", "not-the-password");
    let status = exit_of(&mut wrong.child).await;
    let err = wrong.stderr.rest().await;
    assert!(!status.success());
    assert!(err.contains("login refused"), "{err}");

    // A device id the server refuses (400) will not become valid by retrying.
    let mut bad = device(&s.base, "bad/id", "pw");
    let status = exit_of(&mut bad.child).await;
    let err = bad.stderr.rest().await;
    assert!(!status.success());
    assert!(
        err.contains("refused the connection") && err.contains("400"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn reconnects_when_the_server_goes_away_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(dir.path(), &data, "127.0.0.1:0").await;
    let s = app_and_user(dir.path(), &data, &server).await;
    let addr = server.addr.clone();

    let mut d = device(&s.base, "cli-r", "pw");
    d.connected().await;
    // SIGTERM: the server closes the device with 1001 and stops.
    server.stop().await;
    let closed = d.stderr.wait_for("connection closed").await;
    assert!(closed.contains("1001"), "{closed}");
    // Same address again (the device was given one URL); the device finds it by itself.
    let server = serve(dir.path(), &data, &addr).await;
    d.connected().await;
    // The app token is signed with the stored key, so it still works after the restart.
    s.push(1, "after-restart").await;
    assert_eq!(d.next_line().await["message"]["title"], "after-restart");
    d.interrupt().await;
    server.stop().await;
}
