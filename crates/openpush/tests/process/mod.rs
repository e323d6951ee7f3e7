//! `openpush serve` as a child process, for the tests that kill it: the binary with no
//! `OPENPUSH_*` or `RUST_LOG` from the environment, a server on a free port of a data
//! directory, an app and its token.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openpush"));
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENPUSH_") {
            c.env_remove(k);
        }
    }
    c
}

/// Starts `openpush serve` on a free port of `data` with rate limits off and `env`; returns
/// the child and its base URL once it listens.
pub fn serve(data: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = bin();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data])
        .env("OPENPUSH_RATE_LIMITS__ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(i) = line.find("addr=") {
            break line[i + 5..].split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

/// Creates app o/a in `data` with the CLI (no server needed); returns its credentials.
pub fn create_app(data: &str) -> Value {
    let out = bin()
        .args(["--data-dir", data, "app", "create", "o", "a"])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A never-expiring app token for o/a.
pub async fn app_token(c: &reqwest::Client, base: &str, creds: &Value) -> String {
    let tok: Value = c
        .post(format!("{base}/o/a/token"))
        .body(json!({"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"], "ttl": 0}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tok["access_token"].as_str().unwrap().to_owned()
}
