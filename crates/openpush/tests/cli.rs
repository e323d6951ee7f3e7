//! The binary itself: `app create/list`, `default-config`, `serve` with flags and env, and a
//! clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openpush"));
    c.env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENPUSH_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let out = bin().args(args).current_dir(dir).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Starts `openpush serve` and waits for its "listening" line; returns the child and address.
fn serve(dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = bin();
    cmd.arg("serve")
        .args(extra)
        .current_dir(dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited").unwrap();
        if let Some(i) = line.find("addr=") {
            break line[i + 5..].split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn default_config_prints_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = run(&["default-config"], dir.path());
    assert!(ok);
    assert!(out.contains("listen = \"127.0.0.1:8099\""));
    assert!(out.contains("data_dir = \"./openpush-data\""));
    assert!(out.contains("labels_per_app = 100"));
    let parsed: toml::Value = toml::from_str(&out).unwrap();
    assert!(parsed.get("rate_limits").is_some());
}

#[test]
fn app_create_and_list_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(&["app", "create", "demo", "shop"], dir.path());
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["org"], "demo");
    assert_eq!(v["app"], "shop");
    let secret = v["client_secret"].as_str().unwrap().to_owned();
    assert!(v["client_id"].as_str().unwrap().starts_with("YXA6"));
    assert!(dir.path().join("openpush-data/openpush.db").exists());
    // Creating it again fails and says why.
    let (ok, _, err) = run(&["app", "create", "demo", "shop"], dir.path());
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    let (ok, _, err) = run(&["app", "create", "bad org", "x"], dir.path());
    assert!(!ok);
    assert!(err.contains("org"), "{err}");
    // Per-app offline retention.
    let (ok, out, err) = run(&["app", "retention", "demo", "shop", "3600"], dir.path());
    assert!(ok, "{err}");
    assert!(out.contains("\"offline_retention_secs\":3600"), "{out}");
    for bad in [
        ["app", "retention", "demo", "shop", "-5"],
        ["app", "retention", "demo", "nope", "60"],
    ] {
        let (ok, _, err) = run(&bad, dir.path());
        assert!(!ok);
        assert!(
            err.contains("retention") || err.contains("does not exist"),
            "{err}"
        );
    }
    // Notifiers from the command line; the credentials never come back.
    let creds = dir.path().join("hw.json");
    std::fs::write(
        &creds,
        r#"{"app_id":"1","client_id":"c","client_secret":"cli-secret"}"#,
    )
    .unwrap();
    let c = creds.to_str().unwrap();
    let (ok, out, err) = run(
        &[
            "notifier",
            "add",
            "demo",
            "shop",
            "hw",
            "--vendor",
            "huawei",
            "--credentials",
            c,
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("\"vendor\":\"huawei\"") && !out.contains("cli-secret"),
        "{out}"
    );
    let (ok, _, err) = run(
        &[
            "notifier",
            "add",
            "demo",
            "shop",
            "bad",
            "--vendor",
            "vivo",
            "--credentials",
            c,
        ],
        dir.path(),
    );
    assert!(!ok && err.contains("credentials.app_key"), "{err}");
    let (ok, out, _) = run(&["notifier", "list", "demo", "shop"], dir.path());
    assert!(
        ok && out.contains("\"hw\"") && !out.contains("cli-secret"),
        "{out}"
    );
    let (ok, _, _) = run(&["notifier", "remove", "demo", "shop", "hw"], dir.path());
    assert!(ok);
    let (ok, _, err) = run(&["notifier", "remove", "demo", "shop", "hw"], dir.path());
    assert!(!ok && err.contains("does not exist"), "{err}");
    // Per-app task limits.
    let (ok, out, err) = run(
        &[
            "app",
            "task-limits",
            "demo",
            "shop",
            "--running",
            "1",
            "--per-window",
            "10",
        ],
        dir.path(),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("\"tasks_running_max\":1") && out.contains("\"tasks_per_window\":10"),
        "{out}"
    );
    let (ok, out, _) = run(
        &[
            "app",
            "task-limits",
            "demo",
            "shop",
            "--per-window",
            "default",
        ],
        dir.path(),
    );
    assert!(ok);
    assert!(
        out.contains("\"tasks_running_max\":1") && out.contains("\"tasks_per_window\":null"),
        "{out}"
    );
    let (ok, _, err) = run(
        &["app", "task-limits", "demo", "shop", "--running", "0"],
        dir.path(),
    );
    assert!(!ok && err.contains("--running"), "{err}");
    let (ok, out, _) = run(&["app", "list"], dir.path());
    assert!(ok);
    assert!(out.contains("\"shop\""));
    assert!(out.contains("\"offline_retention_secs\":3600"), "{out}");
    assert!(!out.contains(&secret), "app list must never show secrets");
    assert!(!err.contains(&secret));
}

#[tokio::test]
async fn serve_honours_flags_and_env_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let data_s = data.to_str().unwrap();
    let (ok, out, _) = run(
        &["--data-dir", data_s, "app", "create", "o", "a"],
        dir.path(),
    );
    assert!(ok);
    let creds: Value = serde_json::from_str(out.trim()).unwrap();

    // Env sets the listen address and a limit; the flag wins over env for the data dir.
    let (mut child, addr) = serve(
        dir.path(),
        &["--data-dir", data_s],
        &[
            ("OPENPUSH_LISTEN", "127.0.0.1:0"),
            ("OPENPUSH_DATA_DIR", "/nonexistent/ignored"),
            ("OPENPUSH_LIMITS__LABELS_PER_APP", "1"),
        ],
    );
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let tok: Value = client
        .post(format!("{base}/o/a/token"))
        .body(json!({"grant_type": "client_credentials", "client_id": creds["client_id"], "client_secret": creds["client_secret"]}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = tok["access_token"].as_str().unwrap().to_owned();
    let first = client
        .post(format!("{base}/o/a/push/label"))
        .bearer_auth(&t)
        .body(r#"{"name":"one"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = client
        .post(format!("{base}/o/a/push/label"))
        .bearer_auth(&t)
        .body(r#"{"name":"two"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.status(),
        403,
        "OPENPUSH_LIMITS__LABELS_PER_APP=1 applies"
    );

    // An app created by the CLI while the server runs is usable at once.
    let (ok, out, _) = run(
        &["--data-dir", data_s, "app", "create", "o", "late"],
        dir.path(),
    );
    assert!(ok);
    let late: Value = serde_json::from_str(out.trim()).unwrap();
    let res = client
        .post(format!("{base}/o/late/token"))
        .body(json!({"grant_type": "client_credentials", "client_id": late["client_id"], "client_secret": late["client_secret"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    sigterm(&child);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    // The WAL was folded back on close.
    let wal = data.join("openpush.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);

    // And it starts again on the same state, with the same token.
    let (child2, addr2) = serve(
        dir.path(),
        &["--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
    );
    let res = client
        .get(format!("http://{addr2}/o/a/push/label/one"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    sigterm(&child2);
    let mut child2 = child2;
    assert!(child2.wait().unwrap().success());
}

#[test]
fn unknown_config_keys_warn_and_bad_values_fail() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "listen = \"not an address\"\n").unwrap();
    let (ok, _, err) = run(&["--config", cfg.to_str().unwrap(), "serve"], dir.path());
    assert!(!ok);
    assert!(
        err.contains("listen") || err.contains("configuration"),
        "{err}"
    );
    let (ok, _, err) = run(&["--config", "/no/such/file.toml", "serve"], dir.path());
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn mock_vendors_runs_the_eight_stand_ins_and_registers_them_as_notifiers() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&["app", "create", "o", "a"], dir.path());
    assert!(ok, "{err}");
    let mut child = bin()
        .args(["mock-vendors", "--register", "o", "a"])
        .current_dir(dir.path())
        // No stdin, as under `&` or a service manager: it keeps running (the requests below
        // reach it) until a signal stops it.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut mocks = Vec::new();
    for _ in 0..8 {
        let line = out.next().expect("a line per vendor").unwrap();
        mocks.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let vendors: Vec<&str> = mocks
        .iter()
        .map(|m| m["vendor"].as_str().unwrap())
        .collect();
    assert_eq!(
        vendors,
        ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu"]
    );
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "notifiers were not stored");
        let line = err_lines.next().expect("mock-vendors exited").unwrap();
        if line.contains("notifier mock-meizu stored") {
            break;
        }
    }
    let (ok, listed, err) = run(&["notifier", "list", "o", "a"], dir.path());
    assert!(ok, "{err}");
    let names: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names.len(), 8, "{listed}");
    assert!(names.contains(&"mock-huawei".to_owned()), "{listed}");
    assert!(
        !listed.contains("client_secret"),
        "credentials are never listed"
    );

    // The Huawei stand-in answers its OAuth endpoint with the credentials it printed, and
    // refuses a wrong secret as Huawei does.
    let hw = &mocks[2];
    let http = reqwest::Client::new();
    let token = |secret: &str| {
        http.post(format!(
            "{}/oauth2/v3/token",
            hw["base_url"].as_str().unwrap()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={secret}",
            hw["credentials"]["client_id"].as_str().unwrap()
        ))
        .send()
    };
    let good: Value = token(hw["credentials"]["client_secret"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(good["access_token"].is_string(), "{good}");
    let bad = token("wrong").await.unwrap();
    assert!(!bad.status().is_success());

    // SIGTERM stops it: it reports what it accepted and exits 0, promptly.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped_by = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < stopped_by,
            "mock-vendors did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let rest: Vec<String> = err_lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"accepted\"")), "{rest:?}");
}

async fn grant(client: &reqwest::Client, base: &str, id: &Value, secret: &Value) -> (u16, Value) {
    let res = client
        .post(format!("{base}/o/a/token"))
        .body(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "ttl": 0}).to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn users_status(client: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    let res = client
        .get(format!("{base}/o/a/users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn app_rotate_secret_beside_a_running_server_ends_the_apps_earlier_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(&["app", "create", "o", "a"], dir.path());
    assert!(ok, "{err}");
    let creds: Value = serde_json::from_str(out.trim()).unwrap();
    let (mut child, addr) = serve(dir.path(), &["--listen", "127.0.0.1:0"], &[]);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let (st, tok) = grant(&client, &base, &creds["client_id"], &creds["client_secret"]).await;
    assert_eq!(st, 200, "{tok}");
    let old = tok["access_token"].as_str().unwrap().to_owned();
    assert_eq!(users_status(&client, &base, &old).await.0, 200);

    let (ok, out, err) = run(&["app", "rotate-secret", "o", "a"], dir.path());
    assert!(ok, "{err}");
    let rotated: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rotated["client_id"], creds["client_id"]);
    assert_ne!(rotated["client_secret"], creds["client_secret"]);
    assert!(rotated["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("YXA6"));
    let (st, body) = grant(&client, &base, &creds["client_id"], &creds["client_secret"]).await;
    assert_eq!(st, 400, "{body}");
    let (st, tok) = grant(
        &client,
        &base,
        &rotated["client_id"],
        &rotated["client_secret"],
    )
    .await;
    assert_eq!(st, 200, "{tok}");
    let (st, body) = users_status(&client, &base, &old).await;
    assert_eq!(st, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    let new = tok["access_token"].as_str().unwrap();
    assert_eq!(users_status(&client, &base, new).await.0, 200);

    let (ok, _, err) = run(&["app", "rotate-secret", "o", "nope"], dir.path());
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
    // The new secret is shown by the rotation only.
    let (_, list, _) = run(&["app", "list"], dir.path());
    assert!(!list.contains(rotated["client_secret"].as_str().unwrap()));
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn the_signing_key_can_come_from_the_environment() {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD.encode([0x5a; 32]);
    let mut tokens = Vec::new();
    // Two servers on two data directories with the key from the environment: a token of one
    // works on the other, so the key is not the one in either data file.
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (ok, out, err) = run(&["app", "create", "o", "a"], dir.path());
        assert!(ok, "{err}");
        let creds: Value = serde_json::from_str(out.trim()).unwrap();
        let (mut child, addr) = serve(
            dir.path(),
            &["--listen", "127.0.0.1:0"],
            &[("OPENPUSH_TOKEN__SIGNING_KEY", key.as_str())],
        );
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();
        let (st, tok) = grant(&client, &base, &creds["client_id"], &creds["client_secret"]).await;
        assert_eq!(st, 200, "{tok}");
        tokens.push(tok["access_token"].as_str().unwrap().to_owned());
        for t in &tokens {
            assert_eq!(users_status(&client, &base, t).await.0, 200);
        }
        sigterm(&child);
        assert!(child.wait().unwrap().success());
    }
    // A key that is not 32 bytes stops the start with a message that does not show it.
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("OPENPUSH_TOKEN__SIGNING_KEY", "c2VjcmV0LWJ1dC1zaG9ydA")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signing_key") && err.contains("not 32"),
        "{err}"
    );
    assert!(!err.contains("c2VjcmV0"), "{err}");
}
