//! vivo Push client.
//!
//! * Auth: `POST {base}/message/auth` JSON `{"appId","appKey","timestamp","sign"}` with
//!   `sign = lowercase_hex(md5(appId + appKey + timestamp + appSecret))`; `appId` goes as a JSON
//!   number when it is all digits (as vivo issues it), else as a string. The `authToken` lives one
//!   day; it is cached in a [`TokenCache`] and replaced [`VivoOptions::refresh_margin`] early.
//!   Every other call sends it in the `authToken` header, and carries `appId` in its body (API
//!   v2.9.2).
//! * One token: `POST /message/send` (the payload with `regId` and a unique `requestId`).
//! * Two or more: `POST /message/saveListPayload` once (the payload without `regId`) → `taskId`,
//!   then `POST /message/pushToList {"regIds","taskId","requestId","pushMode"}` per chunk. Chunks
//!   hold 2..=1000 ids (n tokens are cut into ⌈n/1000⌉ near-equal chunks, so no chunk has a single
//!   id) and run concurrently.
//! * Classification: result 0 → `Sent`, except the ids in `invalidUser(s)`: status 1 (not found)
//!   and 3 (offline > 90 days) → `TokenDead`, 2 (uninstalled / notifications off) and 4 (not a
//!   test device) → `Rejected`; result 10302 on a single send → `TokenDead` (on a list push it
//!   names no id and is `Rejected`); result 10000 (authToken invalid or expired, **inferred**
//!   code) → a new token once, then `Error`; 10070/10252/10254 (quotas) → `Error`; auth and
//!   config errors (10200, 10206, 10207, 10250, 10094) → `Error` naming vivo; HTTP 429/5xx and
//!   network errors → backoff with jitter honouring `Retry-After`, then `Error`; any other
//!   result → `Rejected` for every token of the request. Retries resend the same `requestId`, so
//!   vivo's deduplication keeps a retry after a lost answer from sending twice.
//! * Local checks (refused without a request): empty title or content, title over 40
//!   characters, content over 100, `clientCustomMap` over 10 pairs or 1024 characters.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use md5::{Digest, Md5};
use openpush_core::message::PushMessage;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::retry::{retry_after, RetryPolicy};
use crate::token_cache::TokenCache;
use crate::VendorOutcome;

/// vivo's production push host.
pub const VIVO_URL: &str = "https://api-push.vivo.com.cn";
pub const AUTH_PATH: &str = "/message/auth";
pub const SEND_PATH: &str = "/message/send";
pub const SAVE_LIST_PAYLOAD_PATH: &str = "/message/saveListPayload";
pub const PUSH_TO_LIST_PATH: &str = "/message/pushToList";
/// Most `regIds` in one `pushToList` (and at least 2).
pub const MAX_LIST_TARGETS: usize = 1000;
/// Longest title, in characters.
pub const TITLE_MAX: usize = 40;
/// Longest content, in characters.
pub const CONTENT_MAX: usize = 100;
/// Most `clientCustomMap` pairs.
pub const CUSTOM_MAP_MAX_PAIRS: usize = 10;
/// Longest `clientCustomMap`, keys and values together, in characters.
pub const CUSTOM_MAP_MAX_CHARS: usize = 1024;

const RESULT_OK: i64 = 0;
const RESULT_AUTH_TOKEN_INVALID: i64 = 10000;
const RESULT_REG_ID_INVALID: i64 = 10302;
const QUOTA_RESULTS: [i64; 3] = [10070, 10252, 10254];
/// Longest `requestId` vivo takes: 64 characters, as Easemob documents for its `vivo` block.
const REQUEST_ID_MAX: usize = 64;
const CONFIG_RESULTS: [i64; 5] = [10094, 10200, 10206, 10207, 10250];

/// A vivo app's server credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct VivoCredentials {
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    /// Overrides `https://api-push.vivo.com.cn`.
    pub base_url: Option<String>,
}

impl fmt::Debug for VivoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VivoCredentials")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Tuning for a [`VivoClient`].
#[derive(Debug, Clone)]
pub struct VivoOptions {
    /// Requests in flight at once for this client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Life of an `authToken` (vivo: 1 day).
    pub auth_token_lifetime: Duration,
    /// A cached `authToken` is replaced this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for VivoOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 64,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            auth_token_lifetime: Duration::from_secs(24 * 3600),
            refresh_margin: Duration::from_secs(3600),
        }
    }
}

struct Inner {
    app_id: Value,
    app_key: String,
    app_secret: String,
    base: String,
    opts: VivoOptions,
    http: reqwest::Client,
    tokens: TokenCache,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VivoClient")
            .field("app_id", &self.app_id)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A client for one vivo app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct VivoClient {
    inner: Arc<Inner>,
}

enum Reply {
    Ok(Value),
    Code {
        result: i64,
        desc: String,
        raw: Value,
    },
    Failed(String),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `lowercase_hex(md5(appId + appKey + timestamp + appSecret))` (trimmed).
pub fn auth_sign(app_id: &str, app_key: &str, timestamp: i64, app_secret: &str) -> String {
    Md5::digest(
        format!("{app_id}{app_key}{timestamp}{app_secret}")
            .trim()
            .as_bytes(),
    )
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect()
}

/// Splits `n` ids into ⌈n/1000⌉ near-equal chunks (each of 2..=1000 ids when n ≥ 2).
fn chunk_sizes(n: usize) -> Vec<usize> {
    let chunks = n.div_ceil(MAX_LIST_TARGETS).max(1);
    (0..chunks)
        .map(|i| n / chunks + usize::from(i < n % chunks))
        .collect()
}

impl VivoClient {
    pub fn new(creds: VivoCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, VivoOptions::default())
    }

    pub fn with_options(creds: VivoCredentials, opts: VivoOptions) -> Result<Self, ClientError> {
        let app_id = creds.app_id.trim();
        if app_id.is_empty()
            || creds.app_key.trim().is_empty()
            || creds.app_secret.trim().is_empty()
        {
            return Err(ClientError::Credentials(
                "vivo needs a non-empty app_id, app_key and app_secret".into(),
            ));
        }
        let app_id = match app_id.parse::<u64>() {
            Ok(n) => json!(n),
            Err(_) => json!(app_id),
        };
        let base = creds
            .base_url
            .clone()
            .unwrap_or_else(|| VIVO_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let http = crate::http_client(opts.request_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                app_id,
                app_key: creds.app_key.trim().to_owned(),
                app_secret: creds.app_secret.trim().to_owned(),
                base,
                tokens: TokenCache::new(opts.refresh_margin),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
                http,
            }),
        })
    }

    /// Builds a client from a notifier's credentials (`app_id`, `app_key`, `app_secret`;
    /// strings).
    pub fn from_notifier(
        credentials: &Value,
        base_url: Option<String>,
    ) -> Result<Self, ClientError> {
        let field = |name: &str| {
            credentials
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ClientError::Credentials(format!("vivo credentials: missing `{name}`"))
                })
        };
        Self::new(VivoCredentials {
            app_id: field("app_id")?,
            app_key: field("app_key")?,
            app_secret: field("app_secret")?,
            base_url,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// `authToken`s fetched from vivo so far.
    pub fn auth_tokens_fetched(&self) -> u64 {
        self.inner.tokens.fetched()
    }

    /// Sends `message` to every token; one outcome per token, in order.
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        let tokens: Vec<String> = tokens.iter().map(|t| t.as_ref().to_owned()).collect();
        if tokens.is_empty() {
            return Vec::new();
        }
        let mut payload = match build_payload(message, task_id) {
            Ok(p) => p,
            Err(reason) => {
                return tokens
                    .iter()
                    .map(|_| VendorOutcome::Rejected {
                        raw: Value::Null,
                        reason: reason.clone(),
                    })
                    .collect()
            }
        };
        // vivo drops a request whose `requestId` it has seen. A task sends one message in many
        // calls (pages), so the message's own `requestId` is made unique per call: suffixed
        // with a digest of the call's tokens, which stays the same if the call is repeated.
        let given_request_id = message
            .vivo()
            .and_then(|v| v.request_id.clone())
            .filter(|r| !r.is_empty())
            .map(|given| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for t in &tokens {
                    t.hash(&mut h);
                }
                let head: String = given.chars().take(REQUEST_ID_MAX - 17).collect();
                format!("{head}-{:016x}", h.finish())
            });
        payload.insert(
            "requestId".into(),
            json!(given_request_id.unwrap_or_else(request_id)),
        );
        payload.insert("appId".into(), self.inner.app_id.clone());

        if let [token] = tokens.as_slice() {
            payload.insert("regId".into(), json!(token));
            return vec![self.single(&payload, token).await];
        }
        let push_mode = payload.get("pushMode").cloned().unwrap_or(json!(0));
        let task = match self.save_list_payload(&payload).await {
            Ok(t) => t,
            Err(outcome) => return vec![outcome; tokens.len()],
        };
        let (task, push_mode) = (&task, &push_mode);
        let mut rest = tokens.as_slice();
        let mut chunks = Vec::new();
        for size in chunk_sizes(tokens.len()) {
            let (head, tail) = rest.split_at(size);
            chunks.push(head);
            rest = tail;
        }
        // Collected first so the returned future is `Send` (see `FcmClient::send_many`).
        let sends: Vec<_> = chunks
            .into_iter()
            .map(|chunk| self.push_to_list(task, push_mode, chunk))
            .collect();
        futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect::<Vec<Vec<VendorOutcome>>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn single(&self, payload: &Map<String, Value>, token: &str) -> VendorOutcome {
        match self.call(SEND_PATH, payload).await {
            Reply::Ok(raw) => match raw.get("invalidUser").filter(|u| u.is_object()) {
                Some(u) => invalid_user(u["status"].as_i64().unwrap_or(0), raw.clone()),
                None => VendorOutcome::Sent { raw },
            },
            Reply::Code {
                result: RESULT_REG_ID_INVALID,
                raw,
                ..
            } => VendorOutcome::TokenDead { raw },
            Reply::Code { result, desc, raw } => classify(result, &desc, raw),
            Reply::Failed(reason) => {
                tracing::debug!(token, %reason, "vivo: send failed");
                VendorOutcome::Error { reason }
            }
        }
    }

    async fn save_list_payload(
        &self,
        payload: &Map<String, Value>,
    ) -> Result<String, VendorOutcome> {
        match self.call(SAVE_LIST_PAYLOAD_PATH, payload).await {
            Reply::Ok(raw) => match raw.get("taskId").and_then(|t| match t {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }) {
                Some(t) => Ok(t),
                None => Err(VendorOutcome::Error {
                    reason: format!("vivo saveListPayload: no taskId in {raw}"),
                }),
            },
            Reply::Code { result, desc, raw } => Err(list_level(result, &desc, raw)),
            Reply::Failed(reason) => Err(VendorOutcome::Error { reason }),
        }
    }

    async fn push_to_list(
        &self,
        task: &str,
        push_mode: &Value,
        tokens: &[String],
    ) -> Vec<VendorOutcome> {
        let mut body = Map::new();
        body.insert("appId".into(), self.inner.app_id.clone());
        body.insert("regIds".into(), json!(tokens));
        body.insert("taskId".into(), json!(task));
        body.insert("requestId".into(), json!(request_id()));
        body.insert("pushMode".into(), push_mode.clone());
        match self.call(PUSH_TO_LIST_PATH, &body).await {
            Reply::Ok(raw) => split_list(tokens, raw),
            Reply::Code { result, desc, raw } => vec![list_level(result, &desc, raw); tokens.len()],
            Reply::Failed(reason) => vec![VendorOutcome::Error { reason }; tokens.len()],
        }
    }

    /// `POST /message/auth`, retrying network errors and HTTP 429/5xx.
    async fn fetch_auth_token(&self) -> Result<(String, Duration), String> {
        let i = &self.inner;
        let url = format!("{}{AUTH_PATH}", i.base);
        let app_id_text = match &i.app_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let timestamp = now_ms();
            let body = json!({
                "appId": i.app_id,
                "appKey": i.app_key,
                "timestamp": timestamp,
                "sign": auth_sign(&app_id_text, &i.app_key, timestamp, &i.app_secret),
            });
            let (reason, ra) = match i.http.post(&url).json(&body).send().await {
                Err(e) => (format!("vivo auth request failed: {e}"), None),
                Ok(resp) if resp.status().is_server_error() || resp.status().as_u16() == 429 => (
                    format!("vivo auth: HTTP {}", resp.status()),
                    retry_after(resp.headers()),
                ),
                Ok(resp) => {
                    let status = resp.status();
                    let v: Value = crate::body::json_capped(resp)
                        .await
                        .map_err(|e| format!("vivo auth: HTTP {status}, unreadable answer: {e}"))?;
                    return match (v["result"].as_i64(), v["authToken"].as_str()) {
                        (Some(RESULT_OK), Some(t)) if !t.is_empty() => {
                            Ok((t.to_owned(), i.opts.auth_token_lifetime))
                        }
                        (Some(code), _) => Err(format!(
                            "vivo auth failed: result {code} {} (check app_id, app_key and app_secret)",
                            v["desc"].as_str().unwrap_or_default()
                        )),
                        _ => Err(format!("vivo auth: HTTP {status}, unexpected answer {v}")),
                    };
                }
            };
            match i.opts.retry.delay(attempt, ra) {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(format!("{reason} (gave up after {attempt} attempts)")),
            }
        }
    }

    /// One call with the `authToken` header, with retries and one token refresh.
    async fn call(&self, path: &str, body: &Map<String, Value>) -> Reply {
        let i = &self.inner;
        let Ok(_permit) = i.sem.acquire().await else {
            return Reply::Failed("vivo client closed".into());
        };
        let url = format!("{}{path}", i.base);
        let body = bytes::Bytes::from(Value::Object(body.clone()).to_string());
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Arc<str>> = None;
        loop {
            let token = match i
                .tokens
                .get(stale.take().as_ref(), || self.fetch_auth_token())
                .await
            {
                Ok(t) => t,
                Err(reason) => return Reply::Failed(reason),
            };
            attempt += 1;
            let resp = i
                .http
                .post(&url)
                .header("authToken", &*token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let (reason, ra) = match resp {
                Err(e) => (format!("vivo request failed: {e}"), None),
                Ok(resp) => {
                    let status = resp.status();
                    let ra = retry_after(resp.headers());
                    if status.is_server_error() || status.as_u16() == 429 {
                        (format!("vivo HTTP {status}"), ra)
                    } else if !status.is_success() {
                        let text = crate::body::text_capped(resp).await;
                        return Reply::Failed(format!("vivo HTTP {status}: {text}"));
                    } else {
                        let raw: Value = match crate::body::json_capped(resp).await {
                            Ok(v) => v,
                            Err(e) => {
                                return Reply::Failed(format!("vivo: unreadable answer: {e}"))
                            }
                        };
                        let result = raw["result"].as_i64().unwrap_or(i64::MIN);
                        let desc = raw["desc"].as_str().unwrap_or_default().to_owned();
                        match result {
                            RESULT_OK => return Reply::Ok(raw),
                            RESULT_AUTH_TOKEN_INVALID if !refreshed => {
                                refreshed = true;
                                stale = Some(token);
                                // A refused token is not a failed attempt.
                                attempt -= 1;
                                continue;
                            }
                            RESULT_AUTH_TOKEN_INVALID => {
                                return Reply::Failed(format!(
                                    "vivo auth: result {result} {desc} after a new authToken"
                                ))
                            }
                            _ => return Reply::Code { result, desc, raw },
                        }
                    }
                }
            };
            match i.opts.retry.delay(attempt, ra) {
                Some(d) => {
                    tracing::debug!(%reason, ?d, "vivo: retrying");
                    tokio::time::sleep(d).await;
                }
                None => {
                    return Reply::Failed(format!("{reason} (gave up after {attempt} attempts)"))
                }
            }
        }
    }
}

/// A request-level result other than 0 and 10000.
fn classify(result: i64, desc: &str, raw: Value) -> VendorOutcome {
    if QUOTA_RESULTS.contains(&result) {
        VendorOutcome::Error {
            reason: format!("vivo quota exceeded: result {result} {desc}"),
        }
    } else if CONFIG_RESULTS.contains(&result) {
        VendorOutcome::Error {
            reason: format!("vivo configuration error: result {result} {desc}"),
        }
    } else {
        VendorOutcome::Rejected {
            reason: format!("vivo refused the message: result {result} {desc}"),
            raw,
        }
    }
}

/// A list-level result: 10302 names no id, so it is not a dead token.
fn list_level(result: i64, desc: &str, raw: Value) -> VendorOutcome {
    if result == RESULT_REG_ID_INVALID {
        VendorOutcome::Rejected {
            reason: format!("vivo refused the list: result {result} {desc}"),
            raw,
        }
    } else {
        classify(result, desc, raw)
    }
}

fn invalid_user(status: i64, raw: Value) -> VendorOutcome {
    match status {
        1 | 3 => VendorOutcome::TokenDead { raw },
        2 => VendorOutcome::Rejected {
            raw,
            reason: "vivo: app uninstalled or notifications switched off (invalidUser status 2)"
                .into(),
        },
        4 => VendorOutcome::Rejected {
            raw,
            reason: "vivo: not a test device in test push mode (invalidUser status 4)".into(),
        },
        s => VendorOutcome::Rejected {
            raw,
            reason: format!("vivo: invalidUser status {s}"),
        },
    }
}

/// Splits a `pushToList` answer by its `invalidUsers`.
fn split_list(tokens: &[String], raw: Value) -> Vec<VendorOutcome> {
    let invalid: std::collections::HashMap<String, i64> = raw["invalidUsers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| {
                    Some((
                        u["userid"].as_str()?.to_owned(),
                        u["status"].as_i64().unwrap_or(0),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    tokens
        .iter()
        .map(|t| match invalid.get(t) {
            Some(&s) => invalid_user(s, raw.clone()),
            None => VendorOutcome::Sent { raw: raw.clone() },
        })
        .collect()
}

/// A custom-data value: strings as they are, anything else as compact JSON.
fn data_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Maps a message and its `vivo` block to vivo's payload (without `regId`, `requestId` and
/// `appId`, which the sender adds).
///
/// * `title`, `content`: the block's, else the top-level ones.
/// * `notifyType`: the block's, else 4 (ring and vibrate).
/// * `timeToLive`: the block's, else `config.timeToLive`; clamped to 60..=604800 s.
/// * `skipType`/`skipContent`: the block's; when it sets no type, `config.clickAction`: `url` →
///   2 (URL); `action` or `activity` → 4 (in-app page, the value as `skipContent`); nothing → 1
///   (open the app).
/// * `networkType`, `classification`, `category`, `notifyId`, `profileId`, `sendOnline`: from the
///   block; `pushMode`: the block's, else 0 (production).
/// * `extra`: `{"callback", "callback.param"}` from `vivo.extra`.
/// * `clientCustomMap` (custom data): `vivo.clientCustomMap`, then the top-level `ext`, then
///   `EPush` when a task id is given; values as strings.
///
/// Fails on an empty title or content, a title over 40 characters, content over 100, or a
/// `clientCustomMap` over 10 pairs or 1024 characters.
pub fn build_payload(
    message: &PushMessage,
    task_id: Option<i64>,
) -> Result<Map<String, Value>, String> {
    let v = message.vivo();
    let title = v
        .and_then(|v| v.title.as_deref())
        .unwrap_or(message.title());
    let content = v
        .and_then(|v| v.content.as_deref())
        .unwrap_or(message.content());
    if title.trim().is_empty() || content.trim().is_empty() {
        return Err("vivo needs a non-empty title and content".into());
    }
    if title.chars().count() > TITLE_MAX {
        return Err(format!("vivo title is longer than {TITLE_MAX} characters"));
    }
    if content.chars().count() > CONTENT_MAX {
        return Err(format!(
            "vivo content is longer than {CONTENT_MAX} characters"
        ));
    }
    let mut p = Map::new();
    p.insert("title".into(), json!(title));
    p.insert("content".into(), json!(content));
    p.insert(
        "notifyType".into(),
        json!(v.and_then(|v| v.notify_type).unwrap_or(4)),
    );
    let ttl = v
        .and_then(|v| v.time_to_live)
        .or_else(|| message.config().and_then(|c| c.time_to_live));
    if let Some(t) = ttl {
        p.insert("timeToLive".into(), json!(t.clamp(60, 604_800)));
    }
    let (skip_type, skip_content) = match v.and_then(|v| v.skip_type) {
        Some(t) => (t, v.and_then(|v| v.skip_content.clone())),
        None => match message.config().and_then(|c| c.click_action.as_ref()) {
            Some(ca) if ca.url.is_some() => (2, ca.url.clone()),
            Some(ca) if ca.action.is_some() => (4, ca.action.clone()),
            Some(ca) if ca.activity.is_some() => (4, ca.activity.clone()),
            _ => (1, None),
        },
    };
    p.insert("skipType".into(), json!(skip_type));
    if let Some(c) = skip_content {
        p.insert("skipContent".into(), json!(c));
    }
    if let Some(v) = v {
        let mut put = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                p.insert(k.into(), val);
            }
        };
        put("networkType", v.network_type.map(|x| json!(x)));
        put("classification", v.classification.map(|x| json!(x)));
        put("category", v.category.as_ref().map(|x| json!(x)));
        put("notifyId", v.notify_id.map(|x| json!(x)));
        put("profileId", v.profile_id.as_ref().map(|x| json!(x)));
        put("sendOnline", v.send_online.map(|x| json!(x)));
        if let Some(e) = &v.extra {
            let mut extra = Map::new();
            if let Some(c) = &e.callback {
                extra.insert("callback".into(), json!(c));
            }
            if let Some(c) = &e.callback_param {
                extra.insert("callback.param".into(), json!(c));
            }
            if !extra.is_empty() {
                p.insert("extra".into(), Value::Object(extra));
            }
        }
    }
    p.insert(
        "pushMode".into(),
        json!(v.and_then(|v| v.push_mode).unwrap_or(0)),
    );

    let mut custom = Map::new();
    for src in [v.and_then(|v| v.client_custom_map.as_ref()), message.ext()]
        .into_iter()
        .flatten()
    {
        for (k, val) in src {
            custom.insert(k.clone(), json!(data_string(val)));
        }
    }
    if let Some(id) = task_id {
        custom.insert(
            "EPush".into(),
            json!(crate::apns::epush("VIVO", id).to_string()),
        );
    }
    if !custom.is_empty() {
        if custom.len() > CUSTOM_MAP_MAX_PAIRS {
            return Err(format!(
                "vivo clientCustomMap (custom data{}) has {} pairs, at most {CUSTOM_MAP_MAX_PAIRS} allowed",
                if task_id.is_some() { " with EPush" } else { "" },
                custom.len()
            ));
        }
        let chars: usize = custom
            .iter()
            .map(|(k, v)| k.chars().count() + v.as_str().map_or(0, |s| s.chars().count()))
            .sum();
        if chars > CUSTOM_MAP_MAX_CHARS {
            return Err(format!(
                "vivo clientCustomMap (custom data) has {chars} characters, at most {CUSTOM_MAP_MAX_CHARS} allowed"
            ));
        }
        p.insert("clientCustomMap".into(), Value::Object(custom));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> PushMessage {
        PushMessage::parse(v).unwrap()
    }

    #[test]
    fn sign_is_lowercase_hex_md5() {
        // md5("1k2s") computed independently.
        assert_eq!(
            auth_sign("1", "k", 2, "s"),
            format!("{:x}", Md5::digest(b"1k2s"))
        );
        assert_eq!(auth_sign("a", "b", 1, "c").len(), 32);
    }

    #[test]
    fn chunks_never_hold_one_id() {
        assert_eq!(chunk_sizes(2), vec![2]);
        assert_eq!(chunk_sizes(1000), vec![1000]);
        assert_eq!(chunk_sizes(1001), vec![501, 500]);
        assert_eq!(chunk_sizes(2500), vec![834, 833, 833]);
        assert_eq!(chunk_sizes(3000).iter().sum::<usize>(), 3000);
    }

    #[test]
    fn maps_the_vivo_block() {
        let m = msg(json!({
            "title": "Generic", "content": "Body", "ext": {"k": "v", "n": 1},
            "config": {"clickAction": {"url": "https://x.example"}, "timeToLive": 10},
            "vivo": {"title": "vivo title", "notifyType": 2, "classification": 1,
                     "category": "IM", "clientCustomMap": {"c": "d"}, "pushMode": 1,
                     "extra": {"callback": "https://cb.example", "callbackParam": "p"},
                     "networkType": -1, "notifyId": 7}
        }));
        let p = build_payload(&m, Some(3)).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({
                "title": "vivo title", "content": "Body", "notifyType": 2, "timeToLive": 60,
                "skipType": 2, "skipContent": "https://x.example", "networkType": -1,
                "classification": 1, "category": "IM", "notifyId": 7,
                "extra": {"callback": "https://cb.example", "callback.param": "p"},
                "pushMode": 1,
                "clientCustomMap": {"c": "d", "k": "v", "n": "1",
                    "EPush": "{\"provider\":\"VIVO\",\"report\":{\"task_id\":3}}"}
            })
        );
    }

    #[test]
    fn plain_message_defaults() {
        let p = build_payload(&msg(json!({"title": "t", "content": "c"})), None).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"title": "t", "content": "c", "notifyType": 4, "skipType": 1, "pushMode": 0})
        );
    }

    #[test]
    fn custom_map_over_ten_pairs_is_refused_locally() {
        let ext: Map<String, Value> = (0..10).map(|i| (format!("k{i}"), json!("v"))).collect();
        let m = msg(json!({"title": "t", "content": "c", "ext": ext}));
        assert!(build_payload(&m, None).is_ok());
        let e = build_payload(&m, Some(1)).unwrap_err();
        assert!(e.contains("11 pairs"), "{e}");
    }

    #[test]
    fn list_answers_split_per_token() {
        let tokens: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let raw = json!({"result": 0, "invalidUsers": [
            {"status": 1, "userid": "b"}, {"status": 2, "userid": "c"},
            {"status": 3, "userid": "d"}, {"status": 4, "userid": "e"}]});
        let out = split_list(&tokens, raw);
        assert!(matches!(out[0], VendorOutcome::Sent { .. }));
        assert!(matches!(out[1], VendorOutcome::TokenDead { .. }));
        assert!(matches!(out[2], VendorOutcome::Rejected { .. }));
        assert!(matches!(out[3], VendorOutcome::TokenDead { .. }));
        assert!(
            matches!(&out[4], VendorOutcome::Rejected { reason, .. } if reason.contains("test"))
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = VivoCredentials {
            app_id: "123".into(),
            app_key: "key".into(),
            app_secret: "very-secret".into(),
            base_url: None,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
        assert!(!format!("{:?}", VivoClient::new(c).unwrap()).contains("very-secret"));
    }
}
