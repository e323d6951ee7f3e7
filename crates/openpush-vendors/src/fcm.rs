//! Firebase Cloud Messaging HTTP v1 client.
//!
//! * Auth: an OAuth2 access token from the service account's `token_uri` by the JWT-bearer grant
//!   (RS256 assertion with `iss`, `scope`, `aud`, `iat`, `exp`), cached until one minute before it
//!   expires. Refreshes are single-flight: one request to the token endpoint however many sends
//!   need a token at once.
//! * Send: `POST {base}/v1/projects/{project}/messages:send`, one request per token.
//! * Classification: 200 → `Sent {raw: {"name": …}}`; 404 / `UNREGISTERED` and 400
//!   "not a valid FCM registration token" → `TokenDead`; `SENDER_ID_MISMATCH` and other 400s →
//!   `Rejected`; 401 `UNAUTHENTICATED` → fetch a new access token once and retry, then `Error`;
//!   401 `THIRD_PARTY_AUTH_ERROR` (the APNs/web-push credential stored at Google) → `Error` without
//!   a refresh (a new access token cannot fix it); other 403 → `Error`; 429, 500, 503 and
//!   network errors → backoff with jitter honouring `Retry-After`, bounded, then `Error`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openpush_core::message::{AndroidPriority, FcmV1Type, PushMessage};
use parking_lot::Mutex;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::jwt;
use crate::retry::{retry_after, RetryPolicy};
use crate::VendorOutcome;

/// `https://fcm.googleapis.com`.
pub const FCM_URL: &str = "https://fcm.googleapis.com";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scope FCM HTTP v1 needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const NOT_A_TOKEN: &str = "not a valid FCM registration token";

/// An FCM service account. `Debug` never prints the key.
#[derive(Clone)]
pub struct FcmCredentials {
    /// The service-account JSON key file's contents.
    pub service_account_json: String,
    /// Overrides `https://fcm.googleapis.com`.
    pub base_url: Option<String>,
    /// Overrides the key file's `token_uri`.
    pub token_url: Option<String>,
}

impl fmt::Debug for FcmCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmCredentials")
            .field("service_account_json", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// Tuning for an [`FcmClient`].
#[derive(Debug, Clone)]
pub struct FcmOptions {
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// A cached access token is replaced this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for FcmOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 500,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
struct AccessToken {
    token: Arc<str>,
    refresh_at: Instant,
}

struct Inner {
    project_id: String,
    client_email: String,
    private_key_id: String,
    key: rsa::RsaPrivateKey,
    send_url: String,
    token_url: String,
    opts: FcmOptions,
    http: reqwest::Client,
    token: Mutex<Option<AccessToken>>,
    refresh: tokio::sync::Mutex<()>,
    tokens_fetched: AtomicU64,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmClient")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("send_url", &self.send_url)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// A client for one Firebase project. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FcmClient {
    inner: Arc<Inner>,
}

enum Fetch {
    Token(Arc<str>),
    Failed(String),
}

impl FcmClient {
    pub fn new(creds: FcmCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, FcmOptions::default())
    }

    pub fn with_options(creds: FcmCredentials, opts: FcmOptions) -> Result<Self, ClientError> {
        let sa: Value = serde_json::from_str(&creds.service_account_json)
            .map_err(|e| ClientError::Credentials(format!("service-account JSON: {e}")))?;
        let field = |name: &str| {
            sa.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ClientError::Credentials(format!("service-account JSON: missing `{name}`"))
                })
        };
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&field("private_key")?)
            .map_err(|e| ClientError::Credentials(format!("service-account private_key: {e}")))?;
        let project_id = field("project_id")?;
        let base = creds
            .base_url
            .clone()
            .unwrap_or_else(|| FCM_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let token_url = creds
            .token_url
            .clone()
            .or_else(|| field("token_uri").ok())
            .unwrap_or_else(|| GOOGLE_TOKEN_URL.to_owned());
        let http = crate::http_client(opts.request_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                send_url: format!("{base}/v1/projects/{project_id}/messages:send"),
                client_email: field("client_email")?,
                private_key_id: field("private_key_id").unwrap_or_default(),
                project_id,
                key,
                token_url,
                http,
                token: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
                tokens_fetched: AtomicU64::new(0),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
            }),
        })
    }

    pub fn project_id(&self) -> &str {
        &self.inner.project_id
    }

    /// Access tokens fetched from the token endpoint so far.
    pub fn access_tokens_fetched(&self) -> u64 {
        self.inner.tokens_fetched.load(Ordering::Relaxed)
    }

    fn cached_token(&self) -> Option<Arc<str>> {
        self.inner
            .token
            .lock()
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.token.clone())
    }

    /// A valid access token: the cached one, or one fetched by a single caller while the others
    /// wait. `stale`: a token the vendor refused, to be replaced even if not yet expired.
    async fn access_token(&self, stale: Option<&Arc<str>>) -> Fetch {
        if let Some(stale) = stale {
            let mut g = self.inner.token.lock();
            if g.as_ref().is_some_and(|t| Arc::ptr_eq(&t.token, stale)) {
                *g = None;
            }
        }
        if let Some(t) = self.cached_token() {
            return Fetch::Token(t);
        }
        let _flight = self.inner.refresh.lock().await;
        if let Some(t) = self.cached_token() {
            return Fetch::Token(t);
        }
        match self.fetch_token().await {
            Ok((token, expires_in)) => {
                let token: Arc<str> = token.into();
                let life = Duration::from_secs(expires_in)
                    .saturating_sub(self.inner.opts.refresh_margin)
                    .max(Duration::from_secs(1));
                *self.inner.token.lock() = Some(AccessToken {
                    token: token.clone(),
                    refresh_at: crate::body::refresh_deadline(Instant::now(), life),
                });
                Fetch::Token(token)
            }
            Err(e) => Fetch::Failed(e),
        }
    }

    async fn fetch_token(&self) -> Result<(String, u64), String> {
        let i = &self.inner;
        let iat = jwt::now_secs();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if !i.private_key_id.is_empty() {
            header["kid"] = json!(i.private_key_id);
        }
        let assertion = jwt::sign_rs256(
            &header,
            &json!({"iss": i.client_email, "scope": FCM_SCOPE, "aud": i.token_url,
                    "iat": iat, "exp": iat + 3600}),
            &i.key,
        );
        let body = format!("grant_type={}&assertion={assertion}", urlencode(JWT_BEARER));
        let resp = i
            .http
            .post(&i.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("FCM token endpoint: {e}"))?;
        let status = resp.status();
        let v: Value = crate::body::json_capped(resp)
            .await
            .map_err(|e| format!("FCM token endpoint ({status}): {e}"))?;
        i.tokens_fetched.fetch_add(1, Ordering::Relaxed);
        match v["access_token"].as_str() {
            Some(t) if status.is_success() => {
                Ok((t.to_owned(), v["expires_in"].as_u64().unwrap_or(3599)))
            }
            _ => Err(format!("FCM token endpoint {status}: {v}")),
        }
    }

    /// The `message` object for `token` (see [`build_message`]).
    pub fn build_message(&self, token: &str, message: &PushMessage, task_id: Option<i64>) -> Value {
        build_message(token, message, task_id)
    }

    pub async fn send(
        &self,
        token: &str,
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> VendorOutcome {
        let body = json!({ "message": build_message(token, message, task_id) });
        self.send_body(&body).await
    }

    /// Sends to every token concurrently (bounded by `max_concurrency`); outcomes in order.
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        let template = build_message("", message, task_id);
        let template = &template;
        // Collected first so the returned future is `Send` (see `ApnsClient::send_many`).
        let sends: Vec<_> = tokens
            .iter()
            .map(|t| async move {
                // Cloned lazily: only `max_concurrency` copies exist at once.
                let mut m = template.clone();
                m["token"] = json!(t.as_ref());
                self.send_body(&json!({ "message": m })).await
            })
            .collect();
        futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect()
            .await
    }

    /// Sends one `{"message": …}` request body, with retries and classification.
    pub async fn send_body(&self, body: &Value) -> VendorOutcome {
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return VendorOutcome::Error {
                reason: "FCM client closed".into(),
            };
        };
        let body = bytes::Bytes::from(body.to_string());
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Arc<str>> = None;
        loop {
            attempt += 1;
            let token = match self.access_token(stale.take().as_ref()).await {
                Fetch::Token(t) => t,
                Fetch::Failed(reason) => {
                    return VendorOutcome::Error {
                        reason: format!("FCM auth: {reason}"),
                    }
                }
            };
            let resp = self
                .inner
                .http
                .post(&self.inner.send_url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    let reason = format!("FCM request failed: {e}");
                    match self.inner.opts.retry.delay(attempt, None) {
                        Some(d) => {
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return VendorOutcome::Error { reason },
                    }
                }
            };
            let status = resp.status().as_u16();
            let ra = retry_after(resp.headers());
            let raw: Value = match crate::body::read_capped(resp).await {
                Ok(b) => serde_json::from_slice(&b).unwrap_or_else(
                    |_| json!({"error": {"code": status, "message": String::from_utf8_lossy(&b)}}),
                ),
                Err(e) => json!({"error": {"code": status, "message": e.to_string()}}),
            };
            if status == 200 {
                return VendorOutcome::Sent { raw };
            }
            let e = FcmError::from_body(&raw);
            match classify(status, &e) {
                Class::Dead => return VendorOutcome::TokenDead { raw },
                Class::Rejected => {
                    return VendorOutcome::Rejected {
                        reason: format!("FCM {status} {}: {}", e.code(), e.message),
                        raw,
                    }
                }
                Class::Auth if !refreshed => {
                    refreshed = true;
                    stale = Some(token);
                }
                Class::Auth => {
                    return VendorOutcome::Error {
                        reason: format!("FCM auth: {status} {}: {}", e.code(), e.message),
                    }
                }
                Class::Fatal => {
                    let auth = if matches!(status, 401 | 403) {
                        "auth: "
                    } else {
                        ""
                    };
                    return VendorOutcome::Error {
                        reason: format!("FCM {auth}{status} {}: {}", e.code(), e.message),
                    };
                }
                Class::Retry => match self.inner.opts.retry.delay(attempt, ra) {
                    Some(d) => {
                        tracing::debug!(status, code = e.code(), ?d, "FCM: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return VendorOutcome::Error {
                            reason: format!(
                                "FCM {status} {} (gave up after {attempt} attempts)",
                                e.code()
                            ),
                        }
                    }
                },
            }
        }
    }
}

/// The parts of Google's error envelope that decide what to do.
#[derive(Debug, Default)]
struct FcmError {
    status: String,
    fcm_code: Option<String>,
    message: String,
    token_violation: bool,
}

impl FcmError {
    fn from_body(v: &Value) -> Self {
        let e = &v["error"];
        let details = e["details"].as_array().cloned().unwrap_or_default();
        let fcm_code = details
            .iter()
            .find(|d| {
                d["@type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("fcm.v1.FcmError"))
            })
            .and_then(|d| d["errorCode"].as_str())
            .map(str::to_owned);
        let token_violation = details.iter().any(|d| {
            d["fieldViolations"].as_array().is_some_and(|vs| {
                vs.iter()
                    .any(|fv| fv["field"].as_str() == Some("message.token"))
            })
        });
        Self {
            status: e["status"].as_str().unwrap_or_default().to_owned(),
            fcm_code,
            message: e["message"].as_str().unwrap_or_default().to_owned(),
            token_violation,
        }
    }

    fn code(&self) -> &str {
        self.fcm_code.as_deref().unwrap_or(&self.status)
    }
}

enum Class {
    Dead,
    Rejected,
    Auth,
    Fatal,
    Retry,
}

fn classify(status: u16, e: &FcmError) -> Class {
    match (status, e.fcm_code.as_deref()) {
        (_, Some("UNREGISTERED")) | (404, _) => Class::Dead,
        (_, Some("SENDER_ID_MISMATCH")) => Class::Rejected,
        (_, Some("THIRD_PARTY_AUTH_ERROR" | "APNS_AUTH_ERROR")) => Class::Fatal,
        (400, _) if e.token_violation || e.message.contains(NOT_A_TOKEN) => Class::Dead,
        (401, _) => Class::Auth,
        (429 | 500 | 502 | 503 | 504, _) => Class::Retry,
        (403, _) => Class::Fatal,
        (400..=499, _) => Class::Rejected,
        _ => Class::Fatal,
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A data value as FCM wants it: strings as they are, anything else as compact JSON.
fn data_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// FCM TTL: seconds with an `s` suffix.
fn ttl(s: &str) -> String {
    let t = s.trim().trim_end_matches(['s', 'S']);
    format!("{t}s")
}

/// Maps a message and its `fcmV1` block to FCM's `message` object for `token`.
///
/// * `notification {title, body, image}`: `fcmV1.notification` over the top-level `title` and
///   `content`; left out when `fcmV1.type` is `DATA`.
/// * `data`: `fcmV1.data`, then the top-level `ext` pairs, then `EPush` (JSON text) when a task
///   id is given — all values as strings (non-strings as compact JSON); left out when
///   `fcmV1.type` is `NOTIFICATION` (except `EPush`, which reporting needs).
/// * `android`: `collapse_key`, `priority` (lower case), `ttl` (`"…s"`, else `config.timeToLive`),
///   `direct_boot_ok`, `notification` from `androidNotification` (snake_case field names).
/// * `apns` (`headers`, `payload`) and `webpush` (`headers`, `notification`) passed through;
///   `options.analyticsLabel` → `fcm_options.analytics_label`.
pub fn build_message(token: &str, message: &PushMessage, task_id: Option<i64>) -> Value {
    let v1 = message.fcm_v1();
    let kind = v1.and_then(|v| v.message_type).unwrap_or(FcmV1Type::Both);
    let mut m = Map::new();
    m.insert("token".into(), json!(token));

    if kind != FcmV1Type::Data {
        let n = v1.and_then(|v| v.notification.as_ref());
        let mut notif = Map::new();
        notif.insert(
            "title".into(),
            json!(n
                .and_then(|n| n.title.as_deref())
                .unwrap_or(message.title())),
        );
        notif.insert(
            "body".into(),
            json!(n
                .and_then(|n| n.body.as_deref())
                .unwrap_or(message.content())),
        );
        if let Some(img) = n.and_then(|n| n.image.as_deref()) {
            notif.insert("image".into(), json!(img));
        }
        m.insert("notification".into(), Value::Object(notif));
    }

    let mut data = Map::new();
    if kind != FcmV1Type::Notification {
        for src in [v1.and_then(|v| v.data.as_ref()), message.ext()]
            .into_iter()
            .flatten()
        {
            for (k, v) in src {
                data.insert(k.clone(), json!(data_string(v)));
            }
        }
    }
    if let Some(id) = task_id {
        data.insert(
            "EPush".into(),
            json!(crate::apns::epush("FCM", id).to_string()),
        );
    }
    if !data.is_empty() {
        m.insert("data".into(), Value::Object(data));
    }

    let ac = v1.and_then(|v| v.android_config.as_ref());
    let mut android = Map::new();
    if let Some(ac) = ac {
        if let Some(c) = &ac.collapse_key {
            android.insert("collapse_key".into(), json!(c));
        }
        if let Some(p) = ac.priority {
            let p = match p {
                AndroidPriority::High => "high",
                AndroidPriority::Normal => "normal",
            };
            android.insert("priority".into(), json!(p));
        }
        if let Some(b) = ac.direct_boot_ok {
            android.insert("direct_boot_ok".into(), json!(b));
        }
        if let Some(an) = &ac.android_notification {
            let mut n = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    n.insert(k.into(), v);
                }
            };
            let s = |v: &Option<String>| v.as_ref().map(|v| json!(v));
            put("title", s(&an.title));
            put("body", s(&an.body));
            put("icon", s(&an.icon));
            put("color", s(&an.color));
            put("sound", s(&an.sound));
            put("tag", s(&an.tag));
            put("image", s(&an.image));
            put("click_action", s(&an.click_action));
            put("body_loc_key", s(&an.body_loc_key));
            put("body_loc_args", an.body_loc_args.as_ref().map(|v| json!(v)));
            put("title_loc_key", s(&an.title_loc_key));
            put(
                "title_loc_args",
                an.title_loc_args.as_ref().map(|v| json!(v)),
            );
            put("channel_id", s(&an.channel_id));
            if !n.is_empty() && kind != FcmV1Type::Data {
                android.insert("notification".into(), Value::Object(n));
            }
        }
    }
    let ttl_v = ac.and_then(|ac| ac.ttl.as_deref()).map(ttl).or_else(|| {
        message
            .config()
            .and_then(|c| c.time_to_live)
            .filter(|s| *s >= 0)
            .map(|s| {
                format!(
                    "{}s",
                    (s as u64).min(openpush_core::message::FCM_MAX_TTL_SECS)
                )
            })
    });
    if let Some(t) = ttl_v {
        android.insert("ttl".into(), json!(t));
    }
    if !android.is_empty() {
        m.insert("android".into(), Value::Object(android));
    }

    if let Some(ac) = v1.and_then(|v| v.apns_config.as_ref()) {
        let mut apns = Map::new();
        if let Some(h) = &ac.headers {
            let h: Map<String, Value> = h
                .iter()
                .map(|(k, v)| (k.clone(), json!(data_string(v))))
                .collect();
            apns.insert("headers".into(), Value::Object(h));
        }
        if let Some(p) = &ac.payload {
            apns.insert("payload".into(), Value::Object(p.clone()));
        }
        if !apns.is_empty() {
            m.insert("apns".into(), Value::Object(apns));
        }
    }
    if let Some(wc) = v1.and_then(|v| v.web_push_config.as_ref()) {
        let mut w = Map::new();
        if let Some(h) = &wc.headers {
            let h: Map<String, Value> = h
                .iter()
                .map(|(k, v)| (k.clone(), json!(data_string(v))))
                .collect();
            w.insert("headers".into(), Value::Object(h));
        }
        if let Some(n) = &wc.notification {
            w.insert("notification".into(), Value::Object(n.clone()));
        }
        if !w.is_empty() {
            m.insert("webpush".into(), Value::Object(w));
        }
    }
    if let Some(label) = v1
        .and_then(|v| v.options.as_ref())
        .and_then(|o| o.get("analyticsLabel").or_else(|| o.get("analytics_label")))
        .and_then(Value::as_str)
    {
        m.insert("fcm_options".into(), json!({"analytics_label": label}));
    }
    Value::Object(m)
}
