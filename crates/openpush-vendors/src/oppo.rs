//! OPPO Push (OPUSH) client.
//!
//! * Auth: `POST {base}/server/v1/auth`, form `app_key`, `timestamp` (ms),
//!   `sign = lowercase_hex(sha256(app_key + timestamp + master_secret))`. The `auth_token` lives
//!   24 h; it is cached in a [`TokenCache`] (one auth request however many sends need it) and
//!   replaced [`OppoOptions::refresh_margin`] before it expires. Every push call carries it as the
//!   `auth_token` **form field**.
//! * One token: `POST /server/v1/message/notification/unicast` with `message` = JSON text
//!   `{"target_type":2,"target_value":<id>,"notification":{…}}`.
//! * Two or more: the two-step broadcast: `save_message_content` once (the notification fields as
//!   form fields) → `message_id`, then `broadcast` per chunk of at most 1000 ids
//!   (`target_type=2`, `target_value` joined by `;`), the chunks concurrently. The answer's
//!   error-code-keyed lists split it back into per-token outcomes.
//! * Classification: code 0 → `Sent`; unicast 10000 and ids in broadcast `data["10000"]` →
//!   `TokenDead`; ids under another code → `Rejected`; code 11 (invalid `auth_token`) → a new
//!   token once, then `Error`; code 33 (daily quota, inferred code) → `Error`; codes -1/-2
//!   (unavailable, flow control; inferred codes), HTTP 429/5xx and network errors → backoff with
//!   jitter honouring `Retry-After`, bounded by [`RetryPolicy`], then `Error`; auth failures
//!   (bad key, signature, timestamp) → `Error` naming OPPO; any other code → `Rejected` for every
//!   token of the request.
//! * Local checks (refused without a request): empty title or content, title over 50 characters,
//!   content over 200, `action_parameters` over 4000 characters.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use openpush_core::message::PushMessage;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::retry::{retry_after, RetryPolicy};
use crate::token_cache::TokenCache;
use crate::VendorOutcome;

/// OPPO's production push host (China).
pub const OPPO_URL: &str = "https://api.push.oppomobile.com";
pub const AUTH_PATH: &str = "/server/v1/auth";
pub const UNICAST_PATH: &str = "/server/v1/message/notification/unicast";
pub const SAVE_MESSAGE_PATH: &str = "/server/v1/message/notification/save_message_content";
pub const BROADCAST_PATH: &str = "/server/v1/message/notification/broadcast";
/// Most registration ids in one broadcast.
pub const MAX_BROADCAST_TARGETS: usize = 1000;
/// Longest title OPPO accepts, in characters.
pub const TITLE_MAX: usize = 50;
/// Longest content (standard style), in characters.
pub const CONTENT_MAX: usize = 200;
/// Longest `action_parameters` JSON text, in characters.
pub const ACTION_PARAMETERS_MAX: usize = 4000;
/// Longest `off_line_ttl`: 10 days.
pub const MAX_OFF_LINE_TTL_SECS: i64 = 864_000;

const CODE_OK: i64 = 0;
const CODE_INVALID_AUTH_TOKEN: i64 = 11;
const CODE_MESSAGE_COUNT_LIMITED: i64 = 33;
const CODE_INVALID_REGISTRATION_ID: i64 = 10000;
/// -1 Service Currently Unavailable, -2 Service in Flow Control (inferred codes).
const RETRY_CODES: [i64; 2] = [-1, -2];

/// An OPPO app's server credentials. `Debug` never prints the master secret.
#[derive(Clone)]
pub struct OppoCredentials {
    pub app_key: String,
    /// The MasterSecret (not the AppSecret) signs the auth request.
    pub master_secret: String,
    /// Overrides `https://api.push.oppomobile.com`.
    pub base_url: Option<String>,
}

impl fmt::Debug for OppoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OppoCredentials")
            .field("app_key", &self.app_key)
            .field("master_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Tuning for an [`OppoClient`].
#[derive(Debug, Clone)]
pub struct OppoOptions {
    /// Requests in flight at once for this client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Life of an `auth_token` (OPPO: 24 h).
    pub auth_token_lifetime: Duration,
    /// A cached `auth_token` is replaced this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for OppoOptions {
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
    app_key: String,
    master_secret: String,
    base: String,
    opts: OppoOptions,
    http: reqwest::Client,
    tokens: TokenCache,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OppoClient")
            .field("app_key", &self.app_key)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A client for one OPPO app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OppoClient {
    inner: Arc<Inner>,
}

/// What one push call came to, after retries and the token refresh.
enum Reply {
    /// Code 0: the whole answer.
    Ok(Value),
    /// Another code.
    Code {
        code: i64,
        message: String,
        raw: Value,
    },
    /// Not answered usefully (auth failed, retries exhausted, HTTP error): the reason.
    Failed(String),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `lowercase_hex(sha256(app_key + timestamp + master_secret))`.
pub fn auth_sign(app_key: &str, timestamp: &str, master_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_key.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(master_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl OppoClient {
    pub fn new(creds: OppoCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, OppoOptions::default())
    }

    pub fn with_options(creds: OppoCredentials, opts: OppoOptions) -> Result<Self, ClientError> {
        if creds.app_key.trim().is_empty() || creds.master_secret.trim().is_empty() {
            return Err(ClientError::Credentials(
                "OPPO needs a non-empty app_key and master_secret".into(),
            ));
        }
        let base = creds
            .base_url
            .clone()
            .unwrap_or_else(|| OPPO_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let http = crate::http_client(opts.request_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                app_key: creds.app_key.trim().to_owned(),
                master_secret: creds.master_secret.trim().to_owned(),
                base,
                tokens: TokenCache::new(opts.refresh_margin),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
                http,
            }),
        })
    }

    /// Builds a client from a notifier's credentials (`app_key`, `master_secret`; strings).
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
                    ClientError::Credentials(format!("OPPO credentials: missing `{name}`"))
                })
        };
        Self::new(OppoCredentials {
            app_key: field("app_key")?,
            master_secret: field("master_secret")?,
            base_url,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// `auth_token`s fetched from OPPO so far.
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
        let notification = match build_notification(message, task_id) {
            Ok(n) => n,
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
        if let [token] = tokens.as_slice() {
            return vec![self.unicast(token, &notification).await];
        }
        let message_id = match self.save_message_content(&notification).await {
            Ok(id) => id,
            Err(outcome) => return vec![outcome; tokens.len()],
        };
        let message_id = &message_id;
        // Collected first so the returned future is `Send` (see `FcmClient::send_many`).
        let sends: Vec<_> = tokens
            .chunks(MAX_BROADCAST_TARGETS)
            .map(|chunk| self.broadcast(message_id, chunk))
            .collect();
        futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect::<Vec<Vec<VendorOutcome>>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn unicast(&self, token: &str, notification: &Map<String, Value>) -> VendorOutcome {
        let message = json!({
            "target_type": 2,
            "target_value": token,
            "notification": notification,
        });
        let fields = vec![("message".to_owned(), message.to_string())];
        match self.call(UNICAST_PATH, &fields).await {
            Reply::Ok(raw) => VendorOutcome::Sent { raw },
            Reply::Code { code, message, raw } => classify_code(code, &message, raw),
            Reply::Failed(reason) => VendorOutcome::Error { reason },
        }
    }

    /// Step one of a broadcast: the `message_id`, or the outcome of every token.
    async fn save_message_content(
        &self,
        notification: &Map<String, Value>,
    ) -> Result<String, VendorOutcome> {
        let fields: Vec<(String, String)> = notification
            .iter()
            .map(|(k, v)| (k.clone(), form_value(v)))
            .collect();
        match self.call(SAVE_MESSAGE_PATH, &fields).await {
            Reply::Ok(raw) => match raw["data"]["message_id"].as_str() {
                Some(id) if !id.is_empty() => Ok(id.to_owned()),
                _ => Err(VendorOutcome::Error {
                    reason: format!("OPPO save_message_content: no message_id in {raw}"),
                }),
            },
            Reply::Code { code, message, raw } => Err(match code {
                CODE_INVALID_REGISTRATION_ID => VendorOutcome::Rejected {
                    reason: format!("OPPO save_message_content: code {code} {message}"),
                    raw,
                },
                _ => classify_code(code, &message, raw),
            }),
            Reply::Failed(reason) => Err(VendorOutcome::Error { reason }),
        }
    }

    /// Step two: one broadcast to `tokens` (at most 1000), split into per-token outcomes.
    async fn broadcast(&self, message_id: &str, tokens: &[String]) -> Vec<VendorOutcome> {
        let fields = vec![
            ("message_id".to_owned(), message_id.to_owned()),
            ("target_type".to_owned(), "2".to_owned()),
            ("target_value".to_owned(), tokens.join(";")),
        ];
        match self.call(BROADCAST_PATH, &fields).await {
            Reply::Ok(raw) => split_broadcast(tokens, raw),
            Reply::Code { code, message, raw } => {
                let o = match code {
                    // A request-level 10000 names no id: it cannot mean every id is dead.
                    CODE_INVALID_REGISTRATION_ID => VendorOutcome::Rejected {
                        reason: format!("OPPO broadcast: code {code} {message}"),
                        raw,
                    },
                    _ => classify_code(code, &message, raw),
                };
                vec![o; tokens.len()]
            }
            Reply::Failed(reason) => vec![VendorOutcome::Error { reason }; tokens.len()],
        }
    }

    async fn auth_token(&self, stale: Option<&Arc<str>>) -> Result<Arc<str>, String> {
        self.inner
            .tokens
            .get(stale, || self.fetch_auth_token())
            .await
    }

    /// `POST /server/v1/auth`, retrying network errors and HTTP 429/5xx.
    async fn fetch_auth_token(&self) -> Result<(String, Duration), String> {
        let i = &self.inner;
        let url = format!("{}{AUTH_PATH}", i.base);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let timestamp = now_ms().to_string();
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("app_key", &i.app_key)
                .append_pair("timestamp", &timestamp)
                .append_pair("sign", &auth_sign(&i.app_key, &timestamp, &i.master_secret))
                .finish();
            let (reason, ra) = match i
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
            {
                Err(e) => (format!("OPPO auth request failed: {e}"), None),
                Ok(resp) if resp.status().is_server_error() || resp.status().as_u16() == 429 => (
                    format!("OPPO auth: HTTP {}", resp.status()),
                    retry_after(resp.headers()),
                ),
                Ok(resp) => {
                    let status = resp.status();
                    let v: Value = crate::body::json_capped(resp)
                        .await
                        .map_err(|e| format!("OPPO auth: HTTP {status}, unreadable answer: {e}"))?;
                    return match (v["code"].as_i64(), v["data"]["auth_token"].as_str()) {
                        (Some(CODE_OK), Some(t)) if !t.is_empty() => {
                            Ok((t.to_owned(), i.opts.auth_token_lifetime))
                        }
                        (Some(code), _) => Err(format!(
                            "OPPO auth failed: code {code} {} (check app_key and master_secret)",
                            v["message"].as_str().unwrap_or_default()
                        )),
                        _ => Err(format!("OPPO auth: HTTP {status}, unexpected answer {v}")),
                    };
                }
            };
            match i.opts.retry.delay(attempt, ra) {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(format!("{reason} (gave up after {attempt} attempts)")),
            }
        }
    }

    /// One push call (`auth_token` added), with retries and one token refresh.
    async fn call(&self, path: &str, fields: &[(String, String)]) -> Reply {
        let i = &self.inner;
        let Ok(_permit) = i.sem.acquire().await else {
            return Reply::Failed("OPPO client closed".into());
        };
        let url = format!("{}{path}", i.base);
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Arc<str>> = None;
        loop {
            let token = match self.auth_token(stale.take().as_ref()).await {
                Ok(t) => t,
                Err(reason) => return Reply::Failed(reason),
            };
            attempt += 1;
            // Built in its own scope: the serializer is not `Send` and must not live across
            // the await.
            let body = {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("auth_token", &token);
                for (k, v) in fields {
                    form.append_pair(k, v);
                }
                form.finish()
            };
            let resp = i
                .http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            let (reason, ra) = match resp {
                Err(e) => (format!("OPPO request failed: {e}"), None),
                Ok(resp) => {
                    let status = resp.status();
                    let ra = retry_after(resp.headers());
                    if status.is_server_error() || status.as_u16() == 429 {
                        (format!("OPPO HTTP {status}"), ra)
                    } else if !status.is_success() {
                        let text = crate::body::text_capped(resp).await;
                        return Reply::Failed(format!("OPPO HTTP {status}: {text}"));
                    } else {
                        let raw: Value = match crate::body::json_capped(resp).await {
                            Ok(v) => v,
                            Err(e) => {
                                return Reply::Failed(format!("OPPO: unreadable answer: {e}"))
                            }
                        };
                        let code = raw["code"].as_i64().unwrap_or(i64::MIN);
                        let message = raw["message"].as_str().unwrap_or_default().to_owned();
                        match code {
                            CODE_OK => return Reply::Ok(raw),
                            CODE_INVALID_AUTH_TOKEN if !refreshed => {
                                refreshed = true;
                                stale = Some(token);
                                // A refused token is not a failed attempt.
                                attempt -= 1;
                                continue;
                            }
                            CODE_INVALID_AUTH_TOKEN => {
                                return Reply::Failed(format!(
                                    "OPPO auth: code {code} {message} after a new auth_token"
                                ))
                            }
                            c if RETRY_CODES.contains(&c) => {
                                (format!("OPPO code {c} {message}"), None)
                            }
                            _ => return Reply::Code { code, message, raw },
                        }
                    }
                }
            };
            match i.opts.retry.delay(attempt, ra) {
                Some(d) => {
                    tracing::debug!(%reason, ?d, "OPPO: retrying");
                    tokio::time::sleep(d).await;
                }
                None => {
                    return Reply::Failed(format!("{reason} (gave up after {attempt} attempts)"))
                }
            }
        }
    }
}

/// The outcome of a request-level code other than 0 and 11.
fn classify_code(code: i64, message: &str, raw: Value) -> VendorOutcome {
    match code {
        CODE_INVALID_REGISTRATION_ID => VendorOutcome::TokenDead { raw },
        CODE_MESSAGE_COUNT_LIMITED => VendorOutcome::Error {
            reason: format!("OPPO daily quota exceeded: code {code} {message}"),
        },
        _ => VendorOutcome::Rejected {
            reason: format!("OPPO refused the message: code {code} {message}"),
            raw,
        },
    }
}

/// Splits a broadcast answer: ids under `data["10000"]` are dead, ids under another numeric key
/// failed with that code, the rest were sent.
fn split_broadcast(tokens: &[String], raw: Value) -> Vec<VendorOutcome> {
    let mut failed: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    if let Some(data) = raw["data"].as_object() {
        for (k, v) in data {
            let (Ok(code), Some(ids)) = (k.parse::<i64>(), v.as_array()) else {
                continue;
            };
            for id in ids.iter().filter_map(Value::as_str) {
                failed.insert(id, code);
            }
        }
    }
    tokens
        .iter()
        .map(|t| match failed.get(t.as_str()) {
            None => VendorOutcome::Sent { raw: raw.clone() },
            Some(&CODE_INVALID_REGISTRATION_ID) => VendorOutcome::TokenDead { raw: raw.clone() },
            Some(code) => VendorOutcome::Rejected {
                raw: raw.clone(),
                reason: format!("OPPO broadcast: code {code} for this registration id"),
            },
        })
        .collect()
}

/// A notification field as a form value: strings as they are, booleans `true`/`false`, numbers
/// in decimal.
fn form_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A custom-data value for `action_parameters`: strings as they are, anything else as JSON text.
fn param_string(v: &Value) -> String {
    form_value(v)
}

/// Maps a message and its `oppo` block to OPPO's notification fields (snake_case, JSON types;
/// the unicast `notification` object, and the `save_message_content` form fields as text).
///
/// * `title`, `sub_title`, `content`: the `oppo` block's, else the top-level ones.
/// * `style`, `channel_id`, `app_message_id`, `notify_id`, `category`, `notify_level`,
///   `time_zone`, `show_ttl`, `off_line`, `call_back_url`, `call_back_parameter`: from the block.
/// * Click: `click_action_type`, `click_action_activity`, `click_action_url` from the block; when
///   it sets no type, `config.clickAction`: `url` → 2 (web) + `click_action_url`, `action` → 1
///   (intent action) + `click_action_activity`, `activity` → 4 + `click_action_activity`;
///   nothing → OPPO's default (launch the app).
/// * `action_parameters` (custom data, a JSON object as text): `oppo.actionParameters`, then the
///   top-level `ext`, then `EPush` when a task id is given; values as strings (non-strings as
///   compact JSON).
/// * `off_line_ttl`: `oppo.offLineTtl`, else `config.timeToLive`, capped at 10 days.
///
/// Fails (the message is refused without a request) on an empty title or content, a title over
/// 50 characters, content over 200, or `action_parameters` over 4000 characters.
pub fn build_notification(
    message: &PushMessage,
    task_id: Option<i64>,
) -> Result<Map<String, Value>, String> {
    let o = message.oppo();
    let mut n = Map::new();
    let title = o
        .and_then(|o| o.title.as_deref())
        .unwrap_or(message.title());
    let content = o
        .and_then(|o| o.content.as_deref())
        .unwrap_or(message.content());
    if title.trim().is_empty() || content.trim().is_empty() {
        return Err("OPPO needs a non-empty title and content".into());
    }
    if title.chars().count() > TITLE_MAX {
        return Err(format!("OPPO title is longer than {TITLE_MAX} characters"));
    }
    if content.chars().count() > CONTENT_MAX {
        return Err(format!(
            "OPPO content is longer than {CONTENT_MAX} characters"
        ));
    }
    n.insert("title".into(), json!(title));
    if let Some(s) = o
        .and_then(|o| o.sub_title.as_deref())
        .or(message.sub_title())
    {
        n.insert("sub_title".into(), json!(s));
    }
    n.insert("content".into(), json!(content));

    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            n.insert(k.into(), v);
        }
    };
    if let Some(o) = o {
        put("style", o.style.map(|v| json!(v)));
        put("channel_id", o.channel_id.as_ref().map(|v| json!(v)));
        put(
            "app_message_id",
            o.app_message_id.as_ref().map(|v| json!(v)),
        );
        put("notify_id", o.notify_id.map(|v| json!(v)));
        put("category", o.category.as_ref().map(|v| json!(v)));
        put("notify_level", o.notify_level.map(|v| json!(v)));
        put("time_zone", o.time_zone.as_ref().map(|v| json!(v)));
        put("show_ttl", o.show_ttl.map(|v| json!(v)));
        put("off_line", o.off_line.map(|v| json!(v)));
        put("call_back_url", o.call_back_url.as_ref().map(|v| json!(v)));
        put(
            "call_back_parameter",
            o.call_back_parameter.as_ref().map(|v| json!(v)),
        );
        put("click_action_type", o.click_action_type.map(|v| json!(v)));
        put(
            "click_action_activity",
            o.click_action_activity.as_ref().map(|v| json!(v)),
        );
        put(
            "click_action_url",
            o.click_action_url.as_ref().map(|v| json!(v)),
        );
    }
    if o.and_then(|o| o.click_action_type).is_none() {
        if let Some(ca) = message.config().and_then(|c| c.click_action.as_ref()) {
            if let Some(url) = &ca.url {
                put("click_action_type", Some(json!(2)));
                put("click_action_url", Some(json!(url)));
            } else if let Some(action) = &ca.action {
                put("click_action_type", Some(json!(1)));
                put("click_action_activity", Some(json!(action)));
            } else if let Some(activity) = &ca.activity {
                put("click_action_type", Some(json!(4)));
                put("click_action_activity", Some(json!(activity)));
            }
        }
    }
    let ttl = o
        .and_then(|o| o.off_line_ttl)
        .or_else(|| message.config().and_then(|c| c.time_to_live))
        .filter(|t| *t >= 0)
        .map(|t| t.min(MAX_OFF_LINE_TTL_SECS));
    put("off_line_ttl", ttl.map(|t| json!(t)));

    let mut params = Map::new();
    for src in [o.and_then(|o| o.action_parameters.as_ref()), message.ext()]
        .into_iter()
        .flatten()
    {
        for (k, v) in src {
            params.insert(k.clone(), json!(param_string(v)));
        }
    }
    if let Some(id) = task_id {
        params.insert(
            "EPush".into(),
            json!(crate::apns::epush("OPPO", id).to_string()),
        );
    }
    if !params.is_empty() {
        let text = Value::Object(params).to_string();
        if text.chars().count() > ACTION_PARAMETERS_MAX {
            return Err(format!(
                "OPPO action_parameters (custom data) is longer than {ACTION_PARAMETERS_MAX} characters"
            ));
        }
        n.insert("action_parameters".into(), json!(text));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> PushMessage {
        PushMessage::parse(v).unwrap()
    }

    #[test]
    fn sign_is_lowercase_hex_sha256() {
        assert_eq!(
            auth_sign("a", "b", "c"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn maps_the_oppo_block() {
        let m = msg(json!({
            "title": "Generic", "content": "Body", "ext": {"k": "v", "n": 3},
            "config": {"clickAction": {"url": "https://ignored.example"}, "timeToLive": 99999999},
            "oppo": {"title": "OPPO title", "channelId": "chat", "style": 2,
                     "clickActionType": 4, "clickActionActivity": "com.x.Main",
                     "actionParameters": {"a": "b"}, "offLine": true, "notifyLevel": 16,
                     "callBackUrl": "https://cb.example", "appMessageId": "m1"}
        }));
        let n = build_notification(&m, Some(9)).unwrap();
        assert_eq!(
            Value::Object(n),
            json!({
                "title": "OPPO title", "content": "Body", "style": 2, "channel_id": "chat",
                "app_message_id": "m1", "notify_level": 16, "off_line": true,
                "call_back_url": "https://cb.example", "click_action_type": 4,
                "click_action_activity": "com.x.Main", "off_line_ttl": 864000,
                "action_parameters": "{\"a\":\"b\",\"k\":\"v\",\"n\":\"3\",\"EPush\":\"{\\\"provider\\\":\\\"OPPO\\\",\\\"report\\\":{\\\"task_id\\\":9}}\"}"
            })
        );
    }

    #[test]
    fn click_action_from_config_and_plain_message() {
        let n = build_notification(
            &msg(json!({"title": "t", "content": "c", "config": {"clickAction": {"action": "OPEN"}}})),
            None,
        )
        .unwrap();
        assert_eq!(
            Value::Object(n),
            json!({"title": "t", "content": "c", "click_action_type": 1, "click_action_activity": "OPEN"})
        );
    }

    #[test]
    fn refuses_what_oppo_would() {
        let big: Map<String, Value> = (0..10)
            .map(|i| (format!("k{i}"), json!("v".repeat(90))))
            .collect();
        let mut ap = Map::new();
        for i in 0..50 {
            ap.insert(format!("p{i}"), json!("y".repeat(90)));
        }
        let e = build_notification(
            &msg(
                json!({"title": "t", "content": "c", "ext": big, "oppo": {"actionParameters": ap}}),
            ),
            None,
        )
        .unwrap_err();
        assert!(e.contains("action_parameters"), "{e}");
    }

    #[test]
    fn broadcast_answers_split_per_token() {
        let tokens: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let raw = json!({"code": 0, "data": {"message_id": "m", "task_id": "t", "10000": ["b"], "10001": ["c"]}});
        let out = split_broadcast(&tokens, raw);
        assert!(matches!(out[0], VendorOutcome::Sent { .. }));
        assert!(matches!(out[1], VendorOutcome::TokenDead { .. }));
        assert!(
            matches!(&out[2], VendorOutcome::Rejected { reason, .. } if reason.contains("10001"))
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = OppoCredentials {
            app_key: "key".into(),
            master_secret: "very-secret".into(),
            base_url: None,
        };
        assert!(!format!("{c:?}").contains("very-secret"));
        let client = OppoClient::new(c).unwrap();
        assert!(!format!("{client:?}").contains("very-secret"));
    }
}
