//! Honor Push client, sending the pushMessage with its `honor` block. Honor's server API is
//! derived from Huawei's, with camelCase JSON.
//!
//! * Auth: OAuth2 client credentials, `POST https://iam.developer.honor.com/auth/token` (form
//!   `grant_type=client_credentials&client_id&client_secret`) → `{"access_token","expires_in"}`,
//!   cached in a [`TokenCache`] (single-flight refresh, one minute of margin). The token URL is
//!   the credentials' `token_url` if given (Honor also documents
//!   `/auth/realms/developer/protocol/openid-connect/token`), else `{base_url}/auth/token` with a
//!   `base_url` override, else the production IAM host.
//! * Send: `POST {base}/api/v1/{appId}/sendMessage` with `Authorization: Bearer <token>`,
//!   `timestamp: <epoch ms>` and `Content-Type: application/json; charset=UTF-8`; body
//!   `{"notification", "data", "android", "token": […]}` with at most
//!   [`MAX_TOKENS_PER_REQUEST`] tokens (Honor documents no limit; Huawei's 1000 is assumed
//!   (inferred)). A message over [`MAX_MESSAGE_BYTES`] without its tokens is refused
//!   locally (`Rejected`, no request; the 4 KB limit is Huawei's, assumed for Honor (inferred)).
//! * Classification, by the numeric `code` of the answer, else the HTTP status:
//!   - `200` and `80100000` (partial) → tokens in `data.expireTokens` are `TokenDead`, tokens in
//!     `data.failTokens` `Rejected`, the rest `Sent`; `80300007` (all tokens invalid) → the same
//!     split, and every token when the lists are empty `TokenDead`;
//!   - `80200001`, `80200003` or HTTP 401 → a new access token, the request sent once more;
//!     a second refusal is `Error` (the 401 case is inferred: Honor does not document it);
//!   - `81000001`, HTTP 429 and 5xx and network errors → backoff with jitter honouring
//!     `Retry-After`, bounded, then `Error`;
//!   - `80300002`, HTTP 403/404 and token-endpoint refusals (bad client secret) → `Error`;
//!   - parameter/payload codes (`80100001`, `80100003`, `80100004`, `80300008`, `80300010`)
//!     and other HTTP 4xx → `Rejected` for every token of the request.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use openpush_core::message::PushMessage;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::huawei::{
    client_credentials_token, code_of, custom_data, default_click_action, default_ttl, endpoints,
    error_all, notifier_fields, read_body, reject_all,
};
use crate::retry::{retry_after, RetryPolicy};
use crate::token_cache::TokenCache;
use crate::VendorOutcome;

/// Honor's push host.
pub const HONOR_PUSH_URL: &str = "https://push-api.cloud.honor.com";
/// Honor's IAM token endpoint.
pub const HONOR_TOKEN_URL: &str = "https://iam.developer.honor.com/auth/token";
/// The token endpoint's path, appended to a `base_url` override.
pub const TOKEN_PATH: &str = "/auth/token";
/// Most tokens in one send request (Huawei's limit, assumed for Honor (inferred)).
pub const MAX_TOKENS_PER_REQUEST: usize = 1000;
/// Largest message without its `token` list, in bytes of compact JSON (inferred, as Huawei).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A Honor app's credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct HonorCredentials {
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Replaces `https://push-api.cloud.honor.com` (and, unless `token_url` is given, the IAM
    /// host: the token endpoint becomes `{base_url}/auth/token`).
    pub base_url: Option<String>,
    /// The OAuth2 token endpoint; default [`HONOR_TOKEN_URL`].
    pub token_url: Option<String>,
}

impl fmt::Debug for HonorCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HonorCredentials")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// Tuning for a [`HonorClient`].
#[derive(Debug, Clone)]
pub struct HonorOptions {
    /// Send requests in flight at once per client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// A cached access token is replaced this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for HonorOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 16,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(60),
        }
    }
}

struct Inner {
    app_id: String,
    client_id: String,
    client_secret: String,
    send_url: String,
    token_url: String,
    opts: HonorOptions,
    http: reqwest::Client,
    tokens: TokenCache,
    sem: Semaphore,
}

/// A client for one Honor app. Cheap to clone.
#[derive(Clone)]
pub struct HonorClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HonorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HonorClient")
            .field("app_id", &self.inner.app_id)
            .field("client_id", &self.inner.client_id)
            .field("send_url", &self.inner.send_url)
            .field("token_url", &self.inner.token_url)
            .finish_non_exhaustive()
    }
}

impl HonorClient {
    pub fn new(creds: HonorCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, HonorOptions::default())
    }

    pub fn with_options(creds: HonorCredentials, opts: HonorOptions) -> Result<Self, ClientError> {
        for (name, v) in [
            ("app_id", &creds.app_id),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
        ] {
            if v.trim().is_empty() {
                return Err(ClientError::Credentials(format!(
                    "Honor: `{name}` is empty"
                )));
            }
        }
        let (base, token_url) = endpoints(
            creds.base_url.as_deref(),
            creds.token_url.as_deref(),
            HONOR_PUSH_URL,
            HONOR_TOKEN_URL,
            TOKEN_PATH,
        );
        let app_id = creds.app_id.trim().to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                send_url: format!("{base}/api/v1/{app_id}/sendMessage"),
                app_id,
                client_id: creds.client_id.trim().to_owned(),
                client_secret: creds.client_secret,
                token_url,
                http: crate::http_client(opts.request_timeout)?,
                tokens: TokenCache::new(opts.refresh_margin),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
            }),
        })
    }

    /// A client from a notifier's stored credentials (`app_id`, `client_id`, `client_secret`,
    /// all strings; optional `token_url`). `base_url` replaces the production hosts.
    pub fn from_notifier(
        credentials: &Value,
        base_url: Option<String>,
    ) -> Result<Self, ClientError> {
        Self::from_notifier_with_options(credentials, base_url, HonorOptions::default())
    }

    pub fn from_notifier_with_options(
        credentials: &Value,
        base_url: Option<String>,
        opts: HonorOptions,
    ) -> Result<Self, ClientError> {
        let (app_id, client_id, client_secret, token_url) = notifier_fields("Honor", credentials)?;
        Self::with_options(
            HonorCredentials {
                app_id,
                client_id,
                client_secret,
                base_url,
                token_url,
            },
            opts,
        )
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// Access tokens fetched from the token endpoint so far.
    pub fn access_tokens_fetched(&self) -> u64 {
        self.inner.tokens.fetched()
    }

    /// Sends `message` to every token: one request per 1000 tokens, requests concurrent
    /// (bounded by `max_concurrency`); one outcome per token, in order.
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        if tokens.is_empty() {
            return Vec::new();
        }
        let payload = build_payload(message, task_id);
        let size = payload.to_string().len();
        if size > MAX_MESSAGE_BYTES {
            let reason = format!(
                "Honor: the message is {size} bytes, more than the {MAX_MESSAGE_BYTES} accepted (not sent)"
            );
            return reject_all(tokens.len(), &reason);
        }
        let payload = &payload;
        // Collected first so the returned future is `Send` (see `FcmClient::send_many`).
        let sends: Vec<_> = tokens
            .chunks(MAX_TOKENS_PER_REQUEST)
            .map(|chunk| async move {
                let list: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
                let mut body = payload.clone();
                body["token"] = json!(list);
                self.send_request(&list, &body).await
            })
            .collect();
        futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn access_token(&self, stale: Option<&Arc<str>>) -> Result<Arc<str>, String> {
        let i = &self.inner;
        i.tokens
            .get(stale, || {
                client_credentials_token(
                    &i.http,
                    &i.token_url,
                    &i.client_id,
                    &i.client_secret,
                    "Honor",
                    &i.opts.retry,
                )
            })
            .await
    }

    async fn send_request(&self, tokens: &[&str], body: &Value) -> Vec<VendorOutcome> {
        let n = tokens.len();
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return error_all(n, "Honor client closed");
        };
        let body = bytes::Bytes::from(body.to_string());
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Arc<str>> = None;
        loop {
            attempt += 1;
            let token = match self.access_token(stale.take().as_ref()).await {
                Ok(t) => t,
                Err(reason) => return error_all(n, &format!("Honor auth: {reason}")),
            };
            let resp = self
                .inner
                .http
                .post(&self.inner.send_url)
                .bearer_auth(&token)
                .header("timestamp", now_ms().to_string())
                .header("content-type", "application/json; charset=UTF-8")
                .body(body.clone())
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => match self.inner.opts.retry.delay(attempt, None) {
                    Some(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => {
                        return error_all(
                            n,
                            &format!("Honor request failed after {attempt} attempts: {e}"),
                        )
                    }
                },
            };
            let status = resp.status().as_u16();
            let ra = retry_after(resp.headers());
            let raw = read_body(resp, status).await;
            let code = code_of(&raw);
            let message = raw["message"].as_str().unwrap_or_default().to_owned();
            let what = || {
                format!(
                    "HTTP {status} code {} {message}",
                    code.as_deref().unwrap_or("-")
                )
            };
            match classify(status, code.as_deref()) {
                Class::Split { all_dead } => return split(tokens, &raw, all_dead),
                Class::Auth if !refreshed => {
                    refreshed = true;
                    stale = Some(token);
                }
                Class::Auth => {
                    return error_all(
                        n,
                        &format!("Honor auth: {} (after a new access token)", what()),
                    )
                }
                Class::Retry => match self.inner.opts.retry.delay(attempt, ra) {
                    Some(d) => {
                        tracing::debug!(status, code = ?code, ?d, "Honor: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return error_all(
                            n,
                            &format!("Honor {} (gave up after {attempt} attempts)", what()),
                        )
                    }
                },
                Class::Rejected => {
                    let reason = format!("Honor refused the message: {}", what());
                    return (0..n)
                        .map(|_| VendorOutcome::Rejected {
                            raw: raw.clone(),
                            reason: reason.clone(),
                        })
                        .collect();
                }
                Class::Fatal => return error_all(n, &format!("Honor {}", what())),
            }
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

enum Class {
    /// Accepted, wholly or in part: split by `data.failTokens` / `data.expireTokens`.
    Split {
        all_dead: bool,
    },
    Auth,
    Retry,
    Rejected,
    Fatal,
}

fn classify(status: u16, code: Option<&str>) -> Class {
    match code {
        Some("200") if status == 200 => Class::Split { all_dead: false },
        Some("80100000") => Class::Split { all_dead: false },
        Some("80300007") => Class::Split { all_dead: true },
        Some("80200001" | "80200003") => Class::Auth,
        Some("81000001") => Class::Retry,
        Some("80300002") => Class::Fatal,
        Some("80100001" | "80100003" | "80100004" | "80300008" | "80300010") => Class::Rejected,
        _ => match status {
            401 => Class::Auth,
            429 | 500..=599 => Class::Retry,
            403 | 404 => Class::Fatal,
            400..=499 => Class::Rejected,
            _ => Class::Fatal,
        },
    }
}

fn token_set(v: &Value) -> HashSet<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Per-token outcomes of an accepted request: `expireTokens` → `TokenDead`, `failTokens` →
/// `Rejected`, the rest `Sent` (or, for "all tokens invalid" with no lists, `TokenDead`).
fn split(tokens: &[&str], raw: &Value, all_dead: bool) -> Vec<VendorOutcome> {
    let expired = token_set(&raw["data"]["expireTokens"]);
    let failed = token_set(&raw["data"]["failTokens"]);
    let all_dead = all_dead && expired.is_empty() && failed.is_empty();
    tokens
        .iter()
        .map(|t| {
            if all_dead || expired.contains(t) {
                VendorOutcome::TokenDead { raw: raw.clone() }
            } else if failed.contains(t) {
                VendorOutcome::Rejected {
                    raw: raw.clone(),
                    reason: "Honor refused the token (failTokens)".into(),
                }
            } else {
                VendorOutcome::Sent { raw: raw.clone() }
            }
        })
        .collect()
}

/// Maps a message and its `honor` block to Honor's request body, without `token`.
///
/// * `notification {title, body, image}`: `androidConfig.androidNotification.title/body/image`
///   over the top-level `title` and `content`.
/// * `data` (a string): `honor.data` (an object) with the top-level `ext` pairs added where it
///   has no such key, and `EPush` (`{"provider":"HONOR","report":{"task_id"}}`) with a task id.
/// * `android`: `honor.androidConfig` (`ttl`, `biTag`, `data`, other keys as sent, camelCase as
///   Honor wants); `ttl` defaults to `config.timeToLive` (`"<secs>s"`).
/// * `android.notification`: `androidConfig.androidNotification` (`title`, `body` defaulted as
///   above, `image`, `style`, `bigTitle`, `bigBody`, `importance`, `when`, `notifyId`,
///   `buttons`), `badgeNotification` renamed `badge`, `clickAction` the block's or from
///   `config.clickAction` (`url` → type 2, `action` → type 1, else type 3 open the app); without
///   a block badge, `config.badge` (`addNum`, `setNum`, `activity` → `badgeClass`) when it names
///   the entry activity.
pub fn build_payload(message: &PushMessage, task_id: Option<i64>) -> Value {
    let honor = message.honor();
    let ac = honor.and_then(|h| h.android_config.as_ref());
    let an = ac.and_then(|a| a.android_notification.as_ref());

    let mut body = Map::new();
    let mut notif = Map::new();
    notif.insert(
        "title".into(),
        json!(an
            .and_then(|n| n.title.as_deref())
            .unwrap_or(message.title())),
    );
    notif.insert(
        "body".into(),
        json!(an
            .and_then(|n| n.body.as_deref())
            .unwrap_or(message.content())),
    );
    if let Some(img) = an.and_then(|n| n.image.as_deref()) {
        notif.insert("image".into(), json!(img));
    }
    body.insert("notification".into(), Value::Object(notif.clone()));

    let given = honor.and_then(|h| h.data.clone()).map(Value::Object);
    if let Some(d) = custom_data(given.as_ref(), message.ext(), "HONOR", task_id) {
        body.insert("data".into(), json!(d));
    }

    let mut android = match ac.map(|a| serde_json::to_value(a).unwrap_or_default()) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    android.remove("androidNotification");
    if !android.contains_key("ttl") {
        if let Some(ttl) = default_ttl(message) {
            android.insert("ttl".into(), json!(ttl));
        }
    }
    let mut n = match an.map(|n| serde_json::to_value(n).unwrap_or_default()) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    for (k, v) in notif {
        n.entry(k).or_insert(v);
    }
    if let Some(b) = n.remove("badgeNotification") {
        n.insert("badge".into(), b);
    }
    n.entry("clickAction")
        .or_insert_with(|| default_click_action(message));
    if !n.contains_key("badge") {
        if let Some(b) = message.config().and_then(|c| c.badge.as_ref()) {
            if let Some(class) = b.activity.as_deref() {
                let mut badge = Map::new();
                if let Some(add) = b.add_num {
                    badge.insert("addNum".into(), json!(add));
                }
                badge.insert("badgeClass".into(), json!(class));
                if let Some(set) = b.set_num {
                    badge.insert("setNum".into(), json!(set));
                }
                n.insert("badge".into(), Value::Object(badge));
            }
        }
    }
    android.insert("notification".into(), Value::Object(n));
    body.insert("android".into(), Value::Object(android));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> PushMessage {
        PushMessage::parse(v).unwrap()
    }

    #[test]
    fn plain_message() {
        let p = build_payload(&msg(json!({"title": "T", "content": "C"})), None);
        assert_eq!(
            p,
            json!({
                "notification": {"title": "T", "body": "C"},
                "android": {"notification": {"title": "T", "body": "C",
                                             "clickAction": {"type": 3}}}
            })
        );
    }

    #[test]
    fn honor_block_mapping() {
        let m = msg(json!({
            "title": "T", "content": "C", "ext": {"k": "v", "d": "ext"},
            "config": {"timeToLive": 60, "clickAction": {"url": "https://x.example"}},
            "honor": {
                "data": {"d": "block"},
                "androidConfig": {"biTag": "tag", "data": "raw",
                    "androidNotification": {"title": "HT", "style": 1, "bigTitle": "BT",
                        "bigBody": "BB", "importance": "LOW", "notifyId": 5,
                        "badgeNotification": {"addNum": 1, "badgeClass": "com.x.Main"}}}
            }
        }));
        let p = build_payload(&m, Some(3));
        assert_eq!(p["notification"], json!({"title": "HT", "body": "C"}));
        let data: Value = serde_json::from_str(p["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            data,
            json!({"d": "block", "k": "v",
                   "EPush": {"provider": "HONOR", "report": {"task_id": 3}}})
        );
        let a = &p["android"];
        assert_eq!(a["biTag"], "tag");
        assert_eq!(a["data"], "raw");
        assert_eq!(a["ttl"], "60s");
        assert_eq!(
            a["notification"],
            json!({"title": "HT", "body": "C", "style": 1, "bigTitle": "BT", "bigBody": "BB",
                   "importance": "LOW", "notifyId": 5,
                   "badge": {"addNum": 1, "badgeClass": "com.x.Main"},
                   "clickAction": {"type": 2, "url": "https://x.example"}})
        );
    }

    #[test]
    fn split_and_classify() {
        let raw = json!({"code": 80100000, "message": "partial",
            "data": {"sendResult": true, "failTokens": ["b"], "expireTokens": ["c"]}});
        let out = split(&["a", "b", "c"], &raw, false);
        assert!(out[0].is_success());
        assert!(matches!(out[1], VendorOutcome::Rejected { .. }));
        assert!(matches!(out[2], VendorOutcome::TokenDead { .. }));
        let all = split(&["a"], &json!({"code": 80300007}), true);
        assert!(matches!(all[0], VendorOutcome::TokenDead { .. }));
        assert!(matches!(classify(200, Some("200")), Class::Split { .. }));
        assert!(matches!(classify(401, Some("80200003")), Class::Auth));
        assert!(matches!(classify(503, None), Class::Retry));
        assert!(matches!(classify(200, Some("80300008")), Class::Rejected));
        assert!(matches!(classify(200, Some("80300002")), Class::Fatal));
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let c = HonorCredentials {
            app_id: "1".into(),
            client_id: "2".into(),
            client_secret: "s3cr3t".into(),
            base_url: None,
            token_url: None,
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", HonorClient::new(c).unwrap()).contains("s3cr3t"));
    }
}
