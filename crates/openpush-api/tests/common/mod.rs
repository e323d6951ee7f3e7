//! A real OpenPush server on port 0 with a temporary data directory and a manual clock.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use openpush_api::{Config, Server};
use openpush_core::{Clock, ManualClock, SystemClock};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub base: String,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    pub config: Config,
    pub store: Arc<dyn openpush_store::Store>,
    dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

/// The push certificates every test app has (see `app_with_token`).
pub const STANDARD_NOTIFIERS: &[&str] = &[
    "n",
    "n1",
    "n2",
    "n3",
    "fcm",
    "fcm-x",
    "hw",
    "104410638",
    "0-fcm",
];

#[derive(Debug, Clone)]
pub struct Creds {
    pub org: String,
    pub app: String,
    pub client_id: String,
    pub client_secret: String,
}

/// A test config: port 0, rate limits off (tests that check them turn them on).
pub fn test_config(dir: PathBuf) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir,
        shutdown_grace_secs: 5,
        ..Config::default()
    };
    c.rate_limits.enabled = false;
    c
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = test_config(dir.path().to_path_buf());
        tweak(&mut config);
        let clock = ManualClock::new(SystemClock.now_ms());
        Self::boot(dir, config, clock).await
    }

    async fn boot(dir: Arc<TempDir>, config: Config, clock: ManualClock) -> Self {
        let server = Server::bind_with_clock(config.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let store = server.store();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            clock,
            client: reqwest::Client::new(),
            config,
            store,
            dir,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops the server (graceful shutdown, store closed) and starts a new one on the same
    /// data directory, as a process restart would.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        Self::boot(self.dir.clone(), config, self.clock.clone()).await
    }

    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn create_app(&self, org: &str, app: &str) -> Creds {
        let c = openpush_api::admin::create_app(&*self.store, &self.clock, org, app)
            .await
            .unwrap();
        Creds {
            org: org.into(),
            app: app.into(),
            client_id: c.app.client_id,
            client_secret: c.client_secret,
        }
    }

    pub async fn app_token(&self, c: &Creds) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/{}/{}/token", c.org, c.app),
                None,
                Some(json!({"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A new app with a token: (org/app path prefix, token). The app has the push
    /// certificates of [`STANDARD_NOTIFIERS`], so tests can bind devices to those names.
    pub async fn app_with_token(&self, org: &str, app: &str) -> (String, String) {
        let c = self.create_app(org, app).await;
        let t = self.app_token(&c).await;
        let prefix = format!("/{org}/{app}");
        for name in STANDARD_NOTIFIERS {
            self.notifier(&prefix, &t, name).await;
        }
        (prefix, t)
    }

    /// A new app with a token and no push certificates.
    pub async fn bare_app_with_token(&self, org: &str, app: &str) -> (String, String) {
        let c = self.create_app(org, app).await;
        let t = self.app_token(&c).await;
        (format!("/{org}/{app}"), t)
    }

    /// Adds a push certificate: a Huawei one whose base URL is a closed local port, so a push
    /// through it fails at once with an error (no test reaches a real vendor).
    pub async fn notifier(&self, prefix: &str, token: &str, name: &str) {
        let body = json!({"name": name, "vendor": "huawei", "base_url": "http://127.0.0.1:1",
            "credentials": {"app_id": "1", "client_id": "c", "client_secret": "s"}});
        let (st, b) = self.post(&format!("{prefix}/notifiers"), token, body).await;
        assert_eq!(st, StatusCode::OK, "{b}");
    }

    /// Sends JSON (or nothing) and returns the status and the parsed JSON body. Every
    /// response must be JSON; a non-JSON body fails the test.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let raw = body.map(|b| b.to_string());
        self.call_raw(
            method,
            path,
            token,
            raw.as_deref(),
            Some("application/json"),
        )
        .await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        content_type: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b.to_owned());
            if let Some(ct) = content_type {
                req = req.header("Content-Type", ct);
            }
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = res.text().await.unwrap();
        assert!(
            ct.starts_with("application/json"),
            "{status} {ct:?}: {text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(
        &self,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), body).await
    }

    /// Registers users with password "pw".
    pub async fn users(&self, prefix: &str, token: &str, names: &[&str]) {
        let body: Vec<Value> = names
            .iter()
            .map(|n| json!({"username": n, "password": "pw"}))
            .collect();
        let (s, b) = self
            .post(&format!("{prefix}/users"), token, Value::Array(body))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts an Easemob error envelope with this status and a description containing `text`.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, text: &str) {
    let (s, body) = got;
    assert_eq!(*s, status, "{body}");
    for key in [
        "error",
        "exception",
        "error_description",
        "timestamp",
        "duration",
    ] {
        assert!(body.get(key).is_some(), "missing {key} in {body}");
    }
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.contains(text), "{desc:?} does not contain {text:?}");
}
