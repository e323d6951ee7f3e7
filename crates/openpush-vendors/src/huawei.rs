//! Huawei Push Kit client, HMS Core v1 server API, sending the pushMessage with its `huawei`
//! block.
//!
//! * Auth: OAuth2 client credentials. `POST https://oauth-login.cloud.huawei.com/oauth2/v3/token`
//!   (form `grant_type=client_credentials&client_id&client_secret`) answers
//!   `{"access_token","expires_in","token_type"}` (1 h). The token is cached in a
//!   [`TokenCache`] until one minute before it expires; refreshes are single-flight. With a
//!   `base_url` override the token endpoint is `{base_url}/oauth2/v3/token` unless the
//!   credentials name a `token_url`.
//! * Send: `POST {base}/v1/{appId}/messages:send`, `Authorization: Bearer <token>`, body
//!   `{"validate_only": false, "message": {…, "token": […]}}` with at most
//!   [`MAX_TOKENS_PER_REQUEST`] tokens; `send_many` splits the tokens into as few requests as
//!   that allows and runs them concurrently (at most `max_concurrency` requests in flight per
//!   client). The message without its tokens must fit [`MAX_MESSAGE_BYTES`]; a bigger one is
//!   refused locally (`Rejected`, no request).
//! * Classification, by the `code` string of the answer, else the HTTP status:
//!   - `80000000` → every token `Sent`;
//!   - `80100000` (partial) → the tokens in `msg`'s `illegal_tokens` are `TokenDead`, the rest
//!     `Sent`; `80300007` (all tokens invalid) → every token `TokenDead`;
//!   - `80200001`, `80200003` or HTTP 401 → a new access token, the request sent once more;
//!     a second refusal is `Error`;
//!   - `81000001`, HTTP 429 and 5xx (503 is Huawei's traffic control) and network errors →
//!     exponential backoff with jitter honouring `Retry-After`, bounded by the
//!     [`RetryPolicy`], then `Error`;
//!   - `80300002` (app forbidden), HTTP 403/404 and token-endpoint refusals (bad client
//!     secret) → `Error` naming Huawei (no retry can fix the configuration);
//!   - parameter/payload codes (`80100001`, `80100003`, `80100004`, `80100013`, `80100016`,
//!     `80300008`, `80300010`) and other HTTP 4xx → `Rejected` for every token of the request.
//!
//! `raw` of every outcome is Huawei's JSON answer to the request that carried the token.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openpush_core::message::{Object, PushMessage};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::retry::{retry_after, RetryPolicy};
use crate::token_cache::TokenCache;
use crate::VendorOutcome;

/// Huawei's push host.
pub const HUAWEI_PUSH_URL: &str = "https://push-api.cloud.huawei.com";
/// Huawei's OAuth2 token endpoint.
pub const HUAWEI_TOKEN_URL: &str = "https://oauth-login.cloud.huawei.com/oauth2/v3/token";
/// The token endpoint's path, appended to a `base_url` override.
pub const TOKEN_PATH: &str = "/oauth2/v3/token";
/// Most tokens in one send request.
pub const MAX_TOKENS_PER_REQUEST: usize = 1000;
/// Largest `message` object, in bytes of compact JSON, not counting its `token` list.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A Huawei app's credentials (AppGallery Connect: App ID, client ID, client secret). `Debug`
/// never prints the secret.
#[derive(Clone)]
pub struct HuaweiCredentials {
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Replaces `https://push-api.cloud.huawei.com` (and, unless `token_url` is given, the token
    /// host: the token endpoint becomes `{base_url}/oauth2/v3/token`).
    pub base_url: Option<String>,
    /// The OAuth2 token endpoint; default [`HUAWEI_TOKEN_URL`].
    pub token_url: Option<String>,
}

impl fmt::Debug for HuaweiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiCredentials")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// Tuning for a [`HuaweiClient`].
#[derive(Debug, Clone)]
pub struct HuaweiOptions {
    /// Send requests in flight at once per client (each carries up to 1000 tokens).
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// A cached access token is replaced this long before it expires.
    pub refresh_margin: Duration,
}

impl Default for HuaweiOptions {
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
    opts: HuaweiOptions,
    http: reqwest::Client,
    tokens: TokenCache,
    sem: Semaphore,
}

/// A client for one Huawei app. Cheap to clone.
#[derive(Clone)]
pub struct HuaweiClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HuaweiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiClient")
            .field("app_id", &self.inner.app_id)
            .field("client_id", &self.inner.client_id)
            .field("send_url", &self.inner.send_url)
            .field("token_url", &self.inner.token_url)
            .finish_non_exhaustive()
    }
}

impl HuaweiClient {
    pub fn new(creds: HuaweiCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, HuaweiOptions::default())
    }

    pub fn with_options(
        creds: HuaweiCredentials,
        opts: HuaweiOptions,
    ) -> Result<Self, ClientError> {
        for (name, v) in [
            ("app_id", &creds.app_id),
            ("client_id", &creds.client_id),
            ("client_secret", &creds.client_secret),
        ] {
            if v.trim().is_empty() {
                return Err(ClientError::Credentials(format!(
                    "Huawei: `{name}` is empty"
                )));
            }
        }
        let (base, token_url) = endpoints(
            creds.base_url.as_deref(),
            creds.token_url.as_deref(),
            HUAWEI_PUSH_URL,
            HUAWEI_TOKEN_URL,
            TOKEN_PATH,
        );
        let app_id = creds.app_id.trim().to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                send_url: format!("{base}/v1/{app_id}/messages:send"),
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
        Self::from_notifier_with_options(credentials, base_url, HuaweiOptions::default())
    }

    pub fn from_notifier_with_options(
        credentials: &Value,
        base_url: Option<String>,
        opts: HuaweiOptions,
    ) -> Result<Self, ClientError> {
        let (app_id, client_id, client_secret, token_url) = notifier_fields("Huawei", credentials)?;
        Self::with_options(
            HuaweiCredentials {
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
                "Huawei: the message is {size} bytes, more than the {MAX_MESSAGE_BYTES} Huawei accepts (not sent)"
            );
            return reject_all(tokens.len(), &reason);
        }
        let validate_only = message
            .huawei()
            .and_then(|h| h.validate_only)
            .unwrap_or(false);
        let payload = &payload;
        // Collected first so the returned future is `Send` (see `FcmClient::send_many`).
        let sends: Vec<_> = tokens
            .chunks(MAX_TOKENS_PER_REQUEST)
            .map(|chunk| async move {
                let list: Vec<&str> = chunk.iter().map(AsRef::as_ref).collect();
                let mut m = payload.clone();
                m["token"] = json!(list);
                let body = json!({"validate_only": validate_only, "message": m});
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
                    "Huawei",
                    &i.opts.retry,
                )
            })
            .await
    }

    /// Sends one request body carrying `tokens`, with retries and classification.
    async fn send_request(&self, tokens: &[&str], body: &Value) -> Vec<VendorOutcome> {
        let n = tokens.len();
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return error_all(n, "Huawei client closed");
        };
        let body = bytes::Bytes::from(body.to_string());
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut stale: Option<Arc<str>> = None;
        loop {
            attempt += 1;
            let token = match self.access_token(stale.take().as_ref()).await {
                Ok(t) => t,
                Err(reason) => return error_all(n, &format!("Huawei auth: {reason}")),
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
                Err(e) => match self.inner.opts.retry.delay(attempt, None) {
                    Some(d) => {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => {
                        return error_all(
                            n,
                            &format!("Huawei request failed after {attempt} attempts: {e}"),
                        )
                    }
                },
            };
            let status = resp.status().as_u16();
            let ra = retry_after(resp.headers());
            let raw = read_body(resp, status).await;
            let code = code_of(&raw);
            let msg = raw["msg"].as_str().unwrap_or_default().to_owned();
            match classify(status, code.as_deref()) {
                Class::Ok => return sent_all(n, &raw),
                Class::Partial => return split_partial(tokens, raw),
                Class::AllDead => {
                    return (0..n)
                        .map(|_| VendorOutcome::TokenDead { raw: raw.clone() })
                        .collect()
                }
                Class::Auth if !refreshed => {
                    refreshed = true;
                    stale = Some(token);
                }
                Class::Auth => {
                    return error_all(
                        n,
                        &format!(
                            "Huawei auth: HTTP {status} code {} {msg} (after a new access token)",
                            code.as_deref().unwrap_or("-")
                        ),
                    )
                }
                Class::Retry => match self.inner.opts.retry.delay(attempt, ra) {
                    Some(d) => {
                        tracing::debug!(status, code = ?code, ?d, "Huawei: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return error_all(
                            n,
                            &format!(
                            "Huawei HTTP {status} code {} {msg} (gave up after {attempt} attempts)",
                            code.as_deref().unwrap_or("-")
                        ),
                        )
                    }
                },
                Class::Rejected => {
                    let reason = format!(
                        "Huawei refused the message: code {} {msg} (HTTP {status})",
                        code.as_deref().unwrap_or("-")
                    );
                    return (0..n)
                        .map(|_| VendorOutcome::Rejected {
                            raw: raw.clone(),
                            reason: reason.clone(),
                        })
                        .collect();
                }
                Class::Fatal => {
                    return error_all(
                        n,
                        &format!(
                            "Huawei HTTP {status} code {} {msg}",
                            code.as_deref().unwrap_or("-")
                        ),
                    )
                }
            }
        }
    }
}

enum Class {
    Ok,
    Partial,
    AllDead,
    Auth,
    Retry,
    Rejected,
    Fatal,
}

fn classify(status: u16, code: Option<&str>) -> Class {
    match code {
        Some("80000000") if status == 200 => Class::Ok,
        Some("80100000") => Class::Partial,
        Some("80300007") => Class::AllDead,
        Some("80200001" | "80200003") => Class::Auth,
        Some("81000001") => Class::Retry,
        Some("80300002") => Class::Fatal,
        Some(
            "80100001" | "80100003" | "80100004" | "80100013" | "80100016" | "80300008"
            | "80300010",
        ) => Class::Rejected,
        _ => match status {
            401 => Class::Auth,
            429 | 500..=599 => Class::Retry,
            403 | 404 => Class::Fatal,
            400..=499 => Class::Rejected,
            _ => Class::Fatal,
        },
    }
}

/// The `illegal_tokens` of an `80100000` answer: `msg` is a JSON *string*
/// `{"success":n,"failure":m,"illegal_tokens":[…]}` (v3-style `illegalTokens`, an object of
/// lists, is read too).
fn illegal_tokens(raw: &Value) -> Option<HashSet<String>> {
    let msg = match &raw["msg"] {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        v @ Value::Object(_) => v.clone(),
        _ => return None,
    };
    let mut out = HashSet::new();
    let mut add = |v: &Value| {
        for t in v.as_array().into_iter().flatten() {
            if let Some(t) = t.as_str() {
                out.insert(t.to_owned());
            }
        }
    };
    if let Some(list) = msg.get("illegal_tokens") {
        add(list);
    } else {
        match msg.get("illegalTokens") {
            Some(Value::Object(groups)) => groups.values().for_each(add),
            Some(list) => add(list),
            None => return None,
        }
    }
    Some(out)
}

fn split_partial(tokens: &[&str], raw: Value) -> Vec<VendorOutcome> {
    let Some(illegal) = illegal_tokens(&raw) else {
        return reject_all_raw(
            tokens.len(),
            &raw,
            "Huawei 80100000: partial success, but the failed tokens were not named",
        );
    };
    tokens
        .iter()
        .map(|t| {
            if illegal.contains(*t) {
                VendorOutcome::TokenDead { raw: raw.clone() }
            } else {
                VendorOutcome::Sent { raw: raw.clone() }
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the Honor client (same OAuth flow and batching).

/// `(push base, token URL)`: the production hosts, or `base_url` for both (token endpoint at
/// `{base_url}{token_path}`); an explicit `token_url` wins.
pub(crate) fn endpoints(
    base_url: Option<&str>,
    token_url: Option<&str>,
    push_default: &str,
    token_default: &str,
    token_path: &str,
) -> (String, String) {
    let base = base_url
        .map(|b| b.trim().trim_end_matches('/').to_owned())
        .filter(|b| !b.is_empty());
    let token = token_url
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| base.as_ref().map(|b| format!("{b}{token_path}")))
        .unwrap_or_else(|| token_default.to_owned());
    (base.unwrap_or_else(|| push_default.to_owned()), token)
}

/// `(app_id, client_id, client_secret, token_url)` from a notifier's credential object.
pub(crate) fn notifier_fields(
    vendor: &str,
    credentials: &Value,
) -> Result<(String, String, String, Option<String>), ClientError> {
    let field = |name: &str| {
        credentials
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                ClientError::Credentials(format!("{vendor}: `{name}` must be a non-empty string"))
            })
    };
    let token_url = credentials
        .get("token_url")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok((
        field("app_id")?,
        field("client_id")?,
        field("client_secret")?,
        token_url,
    ))
}

/// OAuth2 client-credentials grant: `(access_token, lifetime)`. Network errors, 429 and 5xx are
/// retried under `retry`; a refusal (bad client id or secret) is returned at once. The secret
/// never appears in the error.
pub(crate) async fn client_credentials_token(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    client_secret: &str,
    vendor: &str,
    retry: &RetryPolicy,
) -> Result<(String, Duration), String> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret)
        .finish();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let resp = http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await;
        let (status, ra, v) = match resp {
            Ok(r) => {
                let status = r.status().as_u16();
                let ra = retry_after(r.headers());
                (status, ra, read_body(r, status).await)
            }
            Err(e) => match retry.delay(attempt, None) {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    continue;
                }
                None => return Err(format!("{vendor} token endpoint unreachable: {e}")),
            },
        };
        if status == 200 {
            if let Some(t) = v["access_token"].as_str().filter(|t| !t.is_empty()) {
                let secs = match &v["expires_in"] {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .unwrap_or(3600);
                return Ok((t.to_owned(), Duration::from_secs(secs)));
            }
        }
        let detail = format!(
            "{} {}",
            value_text(&v["error"]),
            value_text(&v["error_description"])
        );
        if status == 429 || status >= 500 {
            match retry.delay(attempt, ra) {
                Some(d) => {
                    tokio::time::sleep(d).await;
                    continue;
                }
                None => {
                    return Err(format!(
                    "{vendor} token endpoint HTTP {status}: {} (gave up after {attempt} attempts)",
                    detail.trim()
                ))
                }
            }
        }
        return Err(format!(
            "{vendor} token endpoint refused the client credentials (HTTP {status}): {}",
            detail.trim()
        ));
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The answer as JSON; a non-JSON body becomes `{"httpStatus": …, "body": "…"}`.
pub(crate) async fn read_body(resp: reqwest::Response, status: u16) -> Value {
    match crate::body::read_capped(resp).await {
        Ok(b) => serde_json::from_slice(&b)
            .unwrap_or_else(|_| json!({"httpStatus": status, "body": String::from_utf8_lossy(&b)})),
        Err(e) => json!({"httpStatus": status, "body": e.to_string()}),
    }
}

/// The answer's `code`, a string (Huawei) or a number (Honor), as text.
pub(crate) fn code_of(raw: &Value) -> Option<String> {
    match &raw["code"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn sent_all(n: usize, raw: &Value) -> Vec<VendorOutcome> {
    (0..n)
        .map(|_| VendorOutcome::Sent { raw: raw.clone() })
        .collect()
}

pub(crate) fn error_all(n: usize, reason: &str) -> Vec<VendorOutcome> {
    (0..n)
        .map(|_| VendorOutcome::Error {
            reason: reason.to_owned(),
        })
        .collect()
}

pub(crate) fn reject_all(n: usize, reason: &str) -> Vec<VendorOutcome> {
    reject_all_raw(n, &Value::Null, reason)
}

fn reject_all_raw(n: usize, raw: &Value, reason: &str) -> Vec<VendorOutcome> {
    (0..n)
        .map(|_| VendorOutcome::Rejected {
            raw: raw.clone(),
            reason: reason.to_owned(),
        })
        .collect()
}

/// The custom data string both vendors carry: the vendor block's `data` (an object, or a string
/// holding a JSON object) with the message's `ext` pairs added where the block has no such key,
/// and `EPush` (`{"provider", "report": {"task_id"}}`, an object) when a task id is given.
/// A `data` string that is not a JSON object is sent verbatim (nothing can be merged into it).
/// `None` when there is nothing to send.
pub(crate) fn custom_data(
    given: Option<&Value>,
    ext: Option<&Object>,
    provider: &str,
    task_id: Option<i64>,
) -> Option<String> {
    let mut base = match given {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            _ => return Some(s.clone()),
        },
        Some(other) => return Some(other.to_string()),
    };
    for (k, v) in ext.into_iter().flatten() {
        base.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let Some(id) = task_id {
        base.insert("EPush".into(), crate::apns::epush(provider, id));
    }
    (!base.is_empty()).then(|| Value::Object(base).to_string())
}

/// A click action from `config.clickAction` in the Huawei/Honor shape: `url` → type 2 (open
/// the URL), `action` → type 1 (open the page of that intent action), otherwise type 3 (open
/// the app). `config.clickAction.activity` cannot be expressed (both vendors want an intent URI
/// or action), so it also opens the app.
pub(crate) fn default_click_action(message: &PushMessage) -> Value {
    let ca = message.config().and_then(|c| c.click_action.as_ref());
    if let Some(url) = ca.and_then(|c| c.url.as_deref()) {
        return json!({"type": 2, "url": url});
    }
    if let Some(action) = ca.and_then(|c| c.action.as_deref()) {
        return json!({"type": 1, "action": action});
    }
    json!({"type": 3})
}

/// `config.timeToLive` as `"<secs>s"`.
pub(crate) fn default_ttl(message: &PushMessage) -> Option<String> {
    message
        .config()
        .and_then(|c| c.time_to_live)
        .filter(|s| *s >= 0)
        .map(|s| format!("{s}s"))
}

/// `camelCase` → `snake_case`.
pub(crate) fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every key of `v` (recursively) to Huawei's snake_case; `badgeClass` is Huawei's
/// `class` and `fastAppTargetType` its `fast_app_target`. The contents of `multiLangKey`
/// (language codes chosen by the app) are kept as they are.
fn huawei_keys(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "badgeClass" => "class".to_owned(),
                        "fastAppTargetType" => "fast_app_target".to_owned(),
                        other => camel_to_snake(other),
                    };
                    let v = if key == "multi_lang_key" {
                        v
                    } else {
                        huawei_keys(v)
                    };
                    (key, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(huawei_keys).collect()),
        other => other,
    }
}

/// Maps a message and its `huawei` block to Huawei's `message` object, without `token`.
///
/// * `notification {title, body, image}`: `huawei.message.notification` over the top-level
///   `title` and `content`.
/// * `data` (a string): `huawei.message.data` (an object is serialised), with the top-level
///   `ext` pairs and `EPush` merged in when it is a JSON object (see the module docs).
/// * `android`: `huawei.message.android` with every key in Huawei's snake_case
///   (`collapseKey` → `collapse_key`, `biTag` → `bi_tag`, `fastAppTargetType` →
///   `fast_app_target`, `receiptId` → `receipt_id`, `targetUserType` → `target_user_type`,
///   `notification.clickAction` → `click_action`, `badge.badgeClass` → `badge.class`, …);
///   `ttl` defaults to `config.timeToLive` (`"<secs>s"`).
/// * `android.notification.click_action` (Huawei requires one): the block's, else from
///   `config.clickAction` (`url` → type 2, `action` → type 1, else type 3 open the app).
/// * `android.notification.badge`: the block's, else `config.badge` (`addNum` → `add_num`,
///   `setNum` → `set_num`, `activity` → `class`) when it names the entry activity, which
///   Huawei requires.
/// * `validateOnly` is the request's `validate_only` (see [`HuaweiClient::send_many`]);
///   `review` is not part of the v1 send API and is not sent.
pub fn build_payload(message: &PushMessage, task_id: Option<i64>) -> Value {
    let hm = message.huawei().and_then(|h| h.message.as_ref());
    let mut m = Map::new();

    let n = hm.and_then(|m| m.notification.as_ref());
    let mut notif = match n.map(|n| huawei_keys(serde_json::to_value(n).unwrap_or_default())) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    notif
        .entry("title")
        .or_insert_with(|| json!(message.title()));
    notif
        .entry("body")
        .or_insert_with(|| json!(message.content()));
    m.insert("notification".into(), Value::Object(notif));

    if let Some(d) = custom_data(
        hm.and_then(|m| m.data.as_ref()),
        message.ext(),
        "HUAWEI",
        task_id,
    ) {
        m.insert("data".into(), json!(d));
    }

    let mut android = match hm
        .and_then(|m| m.android.as_ref())
        .map(|a| huawei_keys(serde_json::to_value(a).unwrap_or_default()))
    {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    if !android.contains_key("ttl") {
        if let Some(ttl) = default_ttl(message) {
            android.insert("ttl".into(), json!(ttl));
        }
    }
    let an = android
        .entry("notification")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(an) = an {
        an.entry("click_action")
            .or_insert_with(|| default_click_action(message));
        if !an.contains_key("badge") {
            if let Some(b) = message.config().and_then(|c| c.badge.as_ref()) {
                if let Some(class) = b.activity.as_deref() {
                    let mut badge = Map::new();
                    badge.insert("class".into(), json!(class));
                    if let Some(add) = b.add_num {
                        badge.insert("add_num".into(), json!(add));
                    }
                    if let Some(set) = b.set_num {
                        badge.insert("set_num".into(), json!(set));
                    }
                    an.insert("badge".into(), Value::Object(badge));
                }
            }
        }
    }
    m.insert("android".into(), Value::Object(android));
    Value::Object(m)
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
                "android": {"notification": {"click_action": {"type": 3}}}
            })
        );
    }

    #[test]
    fn huawei_block_in_snake_case_with_ext_and_epush() {
        let m = msg(json!({
            "title": "T", "content": "C",
            "ext": {"k": "v", "shared": "ext"},
            "config": {"clickAction": {"url": "https://x.example"}, "timeToLive": 600,
                       "badge": {"addNum": 1, "activity": "com.x.Main"}},
            "huawei": {"message": {
                "data": {"shared": "block"},
                "notification": {"title": "HT", "image": "https://i.example/a.png"},
                "android": {
                    "collapseKey": 3, "urgency": "HIGH", "category": "IM", "biTag": "b",
                    "fastAppTargetType": 2, "receiptId": "r1",
                    "notification": {"channelId": "chat", "notifyId": 7,
                        "clickAction": {"type": 1, "intent": "intent://x"},
                        "badge": {"addNum": 2, "badgeClass": "com.x.Other"},
                        "multiLangKey": {"title_key": {"en": "Hi"}},
                        "lightSettings": {"color": {"red": 1}, "lightOnDuration": "1.5"}}
                }
            }}
        }));
        let p = build_payload(&m, Some(9));
        assert_eq!(
            p["notification"],
            json!({"title": "HT", "body": "C",
            "image": "https://i.example/a.png"})
        );
        let data: Value = serde_json::from_str(p["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            data,
            json!({"shared": "block", "k": "v",
                   "EPush": {"provider": "HUAWEI", "report": {"task_id": 9}}})
        );
        let a = &p["android"];
        assert_eq!(a["collapse_key"], 3);
        assert_eq!(a["bi_tag"], "b");
        assert_eq!(a["fast_app_target"], 2);
        assert_eq!(a["receipt_id"], "r1");
        assert_eq!(a["ttl"], "600s");
        let n = &a["notification"];
        assert_eq!(n["channel_id"], "chat");
        assert_eq!(n["notify_id"], 7);
        assert_eq!(
            n["click_action"],
            json!({"type": 1, "intent": "intent://x"})
        );
        assert_eq!(n["badge"], json!({"add_num": 2, "class": "com.x.Other"}));
        assert_eq!(n["multi_lang_key"], json!({"title_key": {"en": "Hi"}}));
        assert_eq!(n["light_settings"]["light_on_duration"], "1.5");
        assert_eq!(n["light_settings"]["color"]["red"], 1.0);
    }

    #[test]
    fn config_click_action_badge_and_verbatim_data() {
        let m = msg(json!({
            "title": "T", "content": "C", "ext": {"k": "v"},
            "config": {"clickAction": {"action": "com.x.OPEN"},
                       "badge": {"setNum": 4, "activity": "com.x.Main"}},
            "huawei": {"message": {"data": "plain text", "android": {"ttl": "86400"}}}
        }));
        let p = build_payload(&m, Some(1));
        assert_eq!(p["data"], "plain text");
        assert_eq!(p["android"]["ttl"], "86400");
        assert_eq!(
            p["android"]["notification"],
            json!({"click_action": {"type": 1, "action": "com.x.OPEN"},
                   "badge": {"class": "com.x.Main", "set_num": 4}})
        );
    }

    #[test]
    fn classification_and_partial_split() {
        assert!(matches!(classify(200, Some("80000000")), Class::Ok));
        assert!(matches!(classify(200, Some("80200003")), Class::Auth));
        assert!(matches!(classify(401, Some("80200001")), Class::Auth));
        assert!(matches!(classify(503, None), Class::Retry));
        assert!(matches!(classify(500, Some("81000001")), Class::Retry));
        assert!(matches!(classify(200, Some("80300008")), Class::Rejected));
        assert!(matches!(classify(200, Some("80300002")), Class::Fatal));
        assert!(matches!(classify(404, None), Class::Fatal));
        let raw = json!({"code": "80100000",
            "msg": "{\"success\":1,\"failure\":1,\"illegal_tokens\":[\"b\"]}"});
        let out = split_partial(&["a", "b"], raw);
        assert!(out[0].is_success());
        assert!(matches!(out[1], VendorOutcome::TokenDead { .. }));
        let v3 = json!({"msg": {"illegalTokens": {"noRight": ["x"]}, "failure": 1}});
        assert_eq!(illegal_tokens(&v3), Some(HashSet::from(["x".to_owned()])));
        assert!(matches!(
            split_partial(&["a"], json!({"code": "80100000", "msg": "?"}))[0],
            VendorOutcome::Rejected { .. }
        ));
    }

    #[test]
    fn endpoints_follow_the_overrides() {
        let (b, t) = endpoints(None, None, HUAWEI_PUSH_URL, HUAWEI_TOKEN_URL, TOKEN_PATH);
        assert_eq!(
            (b.as_str(), t.as_str()),
            (HUAWEI_PUSH_URL, HUAWEI_TOKEN_URL)
        );
        let (b, t) = endpoints(
            Some("http://127.0.0.1:9/"),
            None,
            HUAWEI_PUSH_URL,
            HUAWEI_TOKEN_URL,
            TOKEN_PATH,
        );
        assert_eq!(b, "http://127.0.0.1:9");
        assert_eq!(t, "http://127.0.0.1:9/oauth2/v3/token");
        let (_, t) = endpoints(
            Some("http://127.0.0.1:9"),
            Some("http://auth.example/t"),
            HUAWEI_PUSH_URL,
            HUAWEI_TOKEN_URL,
            TOKEN_PATH,
        );
        assert_eq!(t, "http://auth.example/t");
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let c = HuaweiCredentials {
            app_id: "1".into(),
            client_id: "2".into(),
            client_secret: "s3cr3t".into(),
            base_url: None,
            token_url: None,
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let client = HuaweiClient::new(c).unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
        assert!(
            HuaweiClient::from_notifier(&json!({"app_id": "1", "client_id": "2"}), None).is_err()
        );
    }
}
