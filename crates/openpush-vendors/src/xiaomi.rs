//! Xiaomi MiPush client, sending the pushMessage with its `xiaomi` block.
//!
//! * Auth: `Authorization: key=<AppSecret>` on every request (`key` in lower case). The
//!   AppSecret never expires, so there is no token endpoint and nothing to refresh.
//! * Send: `POST {base}/v3/message/regid`, `application/x-www-form-urlencoded`, the message
//!   fields of [`build_form`] plus `registration_id`: a comma list of at most
//!   [`MAX_REGIDS`] ids per request (inferred: Xiaomi does not publish the limit; the SDKs send
//!   anything from 100 to "no cap", and our mock accepts 1000). More tokens are split into
//!   several requests, sent concurrently (bounded by [`XiaomiOptions::max_concurrency`]).
//! * Local checks (no request made, every token `Rejected`): title over 50 or description over
//!   128 characters, a blank title or description on a notification, a payload over
//!   [`MAX_PAYLOAD_BYTES`]. A token that is empty or contains a comma is `Rejected` alone.
//! * Classification (answers are HTTP 200 JSON `{"result","code","description","reason",
//!   "trace_id","data":{"id","bad_regids"}}`): code 0 → `Sent`, except the ids listed in
//!   `data.bad_regids` → `TokenDead`. Codes 1, 10001, 10002 (busy), HTTP 429/5xx and network
//!   errors → retried with backoff and jitter (honouring `Retry-After`), then `Error`.
//!   21301/21302 (AppSecret refused), 21303, 22000, 10031 → `Error` (configuration, not
//!   refreshable: the secret does not expire). 22022 (package name refused) → `Error` when the
//!   package came from the notifier, `Rejected` when the message's `restrictedPackageNames`
//!   chose it. 10027 (too frequent), 10034 (daily quota), 26004 → `Error` (throttle: Xiaomi
//!   gives no `Retry-After`). 20301 (send failed), 65009 (message too long), parameter errors
//!   (10008, 10016, 10017, 65014, 65015) → `Rejected` for every token of the request. Any other
//!   code → `Error`. `raw` is always Xiaomi's JSON answer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openpush_core::message::PushMessage;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::retry::{retry_after, RetryPolicy};
use crate::VendorOutcome;

/// The production host (mainland China).
pub const XIAOMI_URL: &str = "https://api.xmpush.xiaomi.com";
/// The send path (multi-package variant of `/v2/message/regid`).
pub const SEND_PATH: &str = "/v3/message/regid";
/// Most registration ids per request (inferred; see the module docs).
pub const MAX_REGIDS: usize = 1000;
/// Longest notification title, in characters (CJK counting 1).
pub const TITLE_MAX: usize = 50;
/// Longest notification description, in characters.
pub const DESCRIPTION_MAX: usize = 128;
/// Largest `payload`, in UTF-8 bytes before URL encoding (inferred: 4 KB, answered with code
/// 65009 "message too long").
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// A Xiaomi app's server credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct XiaomiCredentials {
    /// The AppSecret from the Xiaomi developer console.
    pub app_secret: String,
    /// The app's package name (`restricted_package_name` unless the message names others).
    pub package: String,
    /// Overrides `https://api.xmpush.xiaomi.com` (e.g. a regional host or the mock).
    pub base_url: Option<String>,
}

impl fmt::Debug for XiaomiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XiaomiCredentials")
            .field("app_secret", &"<redacted>")
            .field("package", &self.package)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Tuning for a [`XiaomiClient`].
#[derive(Debug, Clone)]
pub struct XiaomiOptions {
    /// Requests in flight at once for this client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Registration ids per request (1..=[`MAX_REGIDS`]).
    pub max_regids_per_request: usize,
}

impl Default for XiaomiOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 16,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            max_regids_per_request: MAX_REGIDS,
        }
    }
}

struct Inner {
    auth_header: String,
    package: String,
    send_url: String,
    opts: XiaomiOptions,
    http: reqwest::Client,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XiaomiClient")
            .field("package", &self.package)
            .field("send_url", &self.send_url)
            .finish_non_exhaustive()
    }
}

/// A client for one Xiaomi app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct XiaomiClient {
    inner: Arc<Inner>,
}

impl XiaomiClient {
    pub fn new(creds: XiaomiCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, XiaomiOptions::default())
    }

    pub fn with_options(
        creds: XiaomiCredentials,
        opts: XiaomiOptions,
    ) -> Result<Self, ClientError> {
        let secret = creds.app_secret.trim();
        if secret.is_empty() {
            return Err(ClientError::Credentials(
                "Xiaomi: app_secret is empty".into(),
            ));
        }
        if secret.chars().any(|c| c.is_control()) {
            return Err(ClientError::Credentials(
                "Xiaomi: app_secret contains control characters".into(),
            ));
        }
        let package = creds.package.trim();
        if package.is_empty() || package.contains(',') {
            return Err(ClientError::Credentials(
                "Xiaomi: package must be one non-empty package name".into(),
            ));
        }
        let base = creds
            .base_url
            .as_deref()
            .unwrap_or(XIAOMI_URL)
            .trim_end_matches('/')
            .to_owned();
        let http = crate::http_client(opts.request_timeout)?;
        let mut opts = opts;
        opts.max_regids_per_request = opts.max_regids_per_request.clamp(1, MAX_REGIDS);
        Ok(Self {
            inner: Arc::new(Inner {
                auth_header: format!("key={secret}"),
                package: package.to_owned(),
                send_url: format!("{base}{SEND_PATH}"),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
                http,
            }),
        })
    }

    /// A client from a notifier's stored credentials (`app_secret`, `package`; see
    /// `VendorKind::required_fields`).
    pub fn from_notifier(
        credentials: &Value,
        base_url: Option<String>,
    ) -> Result<Self, ClientError> {
        let field = |name: &str| {
            credentials
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ClientError::Credentials(format!("Xiaomi: missing `{name}`")))
        };
        Self::new(XiaomiCredentials {
            app_secret: field("app_secret")?,
            package: field("package")?,
            base_url,
        })
    }

    pub fn package(&self) -> &str {
        &self.inner.package
    }

    /// The form fields for `message` (see [`build_form`]), without `registration_id`.
    pub fn build_form(&self, message: &PushMessage, task_id: Option<i64>) -> Vec<(String, String)> {
        build_form(message, &self.inner.package, task_id)
    }

    /// Sends `message` to every token: one outcome per token, in order. Tokens go in batches of
    /// `max_regids_per_request`, sent concurrently (bounded by `max_concurrency`).
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        let form = build_form(message, &self.inner.package, task_id);
        if let Err(reason) = check_form(&form) {
            return tokens
                .iter()
                .map(|_| VendorOutcome::Rejected {
                    raw: Value::Null,
                    reason: reason.clone(),
                })
                .collect();
        }
        let package_from_message = message
            .xiaomi()
            .and_then(|x| x.restricted_package_names.as_ref())
            .is_some_and(|p| !p.items().is_empty());

        let mut out: Vec<Option<VendorOutcome>> = vec![None; tokens.len()];
        let mut valid: Vec<(usize, &str)> = Vec::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            let t = t.as_ref();
            if t.trim().is_empty() || t.contains(',') {
                out[i] = Some(VendorOutcome::Rejected {
                    raw: Value::Null,
                    reason: format!("Xiaomi: invalid registration id {t:?}"),
                });
            } else {
                valid.push((i, t));
            }
        }
        let form = &form;
        // Collected first so the returned future is `Send` (see `ApnsClient::send_many`).
        let sends: Vec<_> = valid
            .chunks(self.inner.opts.max_regids_per_request)
            .map(|chunk| async move {
                let ids: Vec<&str> = chunk.iter().map(|(_, t)| *t).collect();
                let outs = self.send_batch(&ids, form, package_from_message).await;
                (chunk, outs)
            })
            .collect();
        let results: Vec<_> = futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect()
            .await;
        for (chunk, outs) in results {
            for ((i, _), o) in chunk.iter().zip(outs) {
                out[*i] = Some(o);
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or_else(|| VendorOutcome::Error {
                    reason: "Xiaomi: no answer for this token".into(),
                })
            })
            .collect()
    }

    /// One request for at most `max_regids_per_request` ids, with retries; one outcome per id.
    async fn send_batch(
        &self,
        ids: &[&str],
        form: &[(String, String)],
        package_from_message: bool,
    ) -> Vec<VendorOutcome> {
        let all = |o: VendorOutcome| vec![o; ids.len()];
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return all(VendorOutcome::Error {
                reason: "Xiaomi client closed".into(),
            });
        };
        let body = {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                s.append_pair(k, v);
            }
            s.append_pair("registration_id", &ids.join(","));
            bytes::Bytes::from(s.finish())
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let resp = self
                .inner
                .http
                .post(&self.inner.send_url)
                .header("authorization", &self.inner.auth_header)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await;
            let (status, ra, raw) = match resp {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let ra = retry_after(r.headers());
                    let raw = match crate::body::read_capped(r).await {
                        Ok(b) => serde_json::from_slice::<Value>(&b).unwrap_or_else(|_| {
                            json!({"result": "error", "http_status": status,
                                   "body": String::from_utf8_lossy(&b)})
                        }),
                        Err(e) => json!({"result": "error", "http_status": status,
                                         "body": e.to_string()}),
                    };
                    (status, ra, raw)
                }
                Err(e) => {
                    let reason = format!("Xiaomi request failed: {e}");
                    match self.inner.opts.retry.delay(attempt, None) {
                        Some(d) => {
                            tracing::debug!(?d, error = %e, "Xiaomi: retrying");
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return all(VendorOutcome::Error { reason }),
                    }
                }
            };
            let code = code_of(&raw);
            match classify(status, code, package_from_message) {
                Class::Ok => return split(ids, &raw),
                Class::Retry => match self.inner.opts.retry.delay(attempt, ra) {
                    Some(d) => {
                        tracing::debug!(status, ?code, ?d, "Xiaomi: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return all(VendorOutcome::Error {
                            reason: format!(
                                "Xiaomi {} (gave up after {attempt} attempts)",
                                describe(status, &raw)
                            ),
                        })
                    }
                },
                Class::Rejected => {
                    return all(VendorOutcome::Rejected {
                        reason: format!("Xiaomi {}", describe(status, &raw)),
                        raw,
                    })
                }
                Class::Config => {
                    return all(VendorOutcome::Error {
                        reason: format!(
                            "Xiaomi configuration refused (check app_secret and package): {}",
                            describe(status, &raw)
                        ),
                    })
                }
                Class::Throttled => {
                    return all(VendorOutcome::Error {
                        reason: format!("Xiaomi quota or rate limit: {}", describe(status, &raw)),
                    })
                }
                Class::Fatal => {
                    return all(VendorOutcome::Error {
                        reason: format!("Xiaomi {}", describe(status, &raw)),
                    })
                }
            }
        }
    }
}

/// Xiaomi's `code`, a number (sometimes sent as a string).
fn code_of(raw: &Value) -> Option<i64> {
    match &raw["code"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn describe(status: u16, raw: &Value) -> String {
    match code_of(raw) {
        Some(code) => {
            let text = [&raw["reason"], &raw["description"]]
                .into_iter()
                .filter_map(Value::as_str)
                .find(|s| !s.is_empty())
                .unwrap_or("");
            format!("code {code}: {text}")
        }
        None => format!("HTTP {status}"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Ok,
    Retry,
    Rejected,
    Config,
    Throttled,
    Fatal,
}

fn classify(status: u16, code: Option<i64>, package_from_message: bool) -> Class {
    match (status, code) {
        (200, Some(0)) => Class::Ok,
        (_, Some(1 | 10001 | 10002)) => Class::Retry,
        (_, Some(21301 | 21302 | 21303 | 22000 | 10031)) => Class::Config,
        (_, Some(22022)) if package_from_message => Class::Rejected,
        (_, Some(22022)) => Class::Config,
        (_, Some(10027 | 10034 | 26004)) => Class::Throttled,
        (_, Some(20301 | 65009 | 10008 | 10016 | 10017 | 65014 | 65015)) => Class::Rejected,
        (429 | 500 | 502 | 503 | 504, _) => Class::Retry,
        (401 | 403, None) => Class::Config,
        _ => Class::Fatal,
    }
}

/// Splits a code-0 answer: ids in `data.bad_regids` are dead, the others sent.
fn split(ids: &[&str], raw: &Value) -> Vec<VendorOutcome> {
    let bad: std::collections::HashSet<&str> = raw["data"]["bad_regids"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    ids.iter()
        .map(|id| {
            if bad.contains(id) {
                VendorOutcome::TokenDead { raw: raw.clone() }
            } else {
                VendorOutcome::Sent { raw: raw.clone() }
            }
        })
        .collect()
}

/// What Xiaomi would certainly refuse, checked before any request.
fn check_form(form: &[(String, String)]) -> Result<(), String> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let pass_through = get("pass_through") == Some("1");
    if !pass_through {
        for (field, max) in [("title", TITLE_MAX), ("description", DESCRIPTION_MAX)] {
            let v = get(field).unwrap_or("");
            if v.trim().is_empty() {
                return Err(format!("Xiaomi: {field} must not be blank"));
            }
            let n = v.chars().count();
            if n > max {
                return Err(format!(
                    "Xiaomi: {field} is {n} characters, at most {max} allowed"
                ));
            }
        }
    }
    if let Some(p) = get("payload") {
        let n = payload_bytes(p);
        if n > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "Xiaomi: payload is {n} bytes, at most {MAX_PAYLOAD_BYTES} allowed (code 65009)"
            ));
        }
    } else if pass_through {
        return Err("Xiaomi: a pass-through message needs a payload".into());
    }
    Ok(())
}

/// The size of a URL-encoded payload once decoded.
fn payload_bytes(encoded: &str) -> usize {
    form_urlencoded::parse(format!("p={encoded}").as_bytes())
        .next()
        .map_or(encoded.len(), |(_, v)| v.len())
}

fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A custom value as Xiaomi's string extras want it: strings as they are, others as JSON.
fn extra_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Maps a message and its `xiaomi` block to the `/v3/message/regid` form fields (everything
/// but `registration_id`). `package`: the notifier's package name. Field by field:
///
/// * `title` ← `xiaomi.title`, else the top-level `title`; `description` ← `xiaomi.description`,
///   else `content`.
/// * `restricted_package_name` ← `xiaomi.restrictedPackageNames` (comma-joined), else `package`.
/// * `pass_through` ← `xiaomi.passThrough`, else `1` when `easemob.needNotification` is false,
///   else `0`.
/// * `payload` ← `xiaomi.payload`, else the top-level `ext` as JSON, else (pass-through only)
///   `{"title","content"}` as JSON — URL-encoded once before the form encoding, as Xiaomi's
///   SDKs do (Xiaomi documents `payload` as URL-encoded).
/// * `notify_type`, `time_to_live` (ms; else `config.timeToLive` seconds × 1000),
///   `time_to_send`, `notify_id` ← the block's fields of the same meaning.
/// * `extra.sound_uri` ← `sound`, `extra.ticker`, `extra.notify_foreground`,
///   `extra.notify_effect` + `extra.intent_uri` / `extra.web_uri` (else derived from
///   `config.clickAction`: `url` → effect 3, `action` → effect 2 with an `intent:` URI,
///   `activity` → effect 2 with a component intent), `extra.flow_control`, `extra.jobkey`,
///   `extra.only_send_once`, `extra.callback` ← `callbackUrl`, `extra.callback.param`,
///   `extra.callback.type`, `extra.locale`, `extra.locale_not_in`, `extra.model`,
///   `extra.model_not_in`, `extra.app_version`, `extra.app_version_not_in`, `extra.connpt`,
///   `extra.channel_id`.
/// * Custom data: each top-level `ext` pair as `extra.<key>` (non-strings as JSON) and, with a
///   task id, `extra.EPush` = `{"provider":"XIAOMI","report":{"task_id":…}}`.
pub fn build_form(
    message: &PushMessage,
    package: &str,
    task_id: Option<i64>,
) -> Vec<(String, String)> {
    let x = message.xiaomi();
    let mut f: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| f.push((k.to_owned(), v));

    let packages = x
        .and_then(|x| x.restricted_package_names.as_ref())
        .map(|p| p.items().join(","))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| package.to_owned());
    put("restricted_package_name", packages);
    let pass_through = x
        .and_then(|x| x.pass_through)
        .unwrap_or(if message.needs_notification() { 0 } else { 1 });
    put("pass_through", pass_through.to_string());
    put(
        "title",
        x.and_then(|x| x.title.clone())
            .unwrap_or_else(|| message.title().to_owned()),
    );
    put(
        "description",
        x.and_then(|x| x.description.clone())
            .unwrap_or_else(|| message.content().to_owned()),
    );
    let payload = x.and_then(|x| x.payload.clone()).or_else(|| {
        message
            .ext()
            .map(|e| Value::Object(e.clone()).to_string())
            .or_else(|| {
                (pass_through == 1).then(|| {
                    json!({"title": message.title(), "content": message.content()}).to_string()
                })
            })
    });
    if let Some(p) = payload {
        put("payload", url_encode(&p));
    }
    if let Some(x) = x {
        if let Some(v) = x.notify_type {
            put("notify_type", v.to_string());
        }
    }
    let ttl = x.and_then(|x| x.time_to_live).or_else(|| {
        message
            .config()
            .and_then(|c| c.time_to_live)
            .filter(|s| *s >= 0)
            .map(|s| s.saturating_mul(1000))
    });
    if let Some(t) = ttl {
        put("time_to_live", t.to_string());
    }
    if let Some(x) = x {
        if let Some(v) = x.time_to_send {
            put("time_to_send", v.to_string());
        }
        if let Some(v) = x.notify_id {
            put("notify_id", v.to_string());
        }
        let strings: [(&str, &Option<String>); 17] = [
            ("extra.sound_uri", &x.sound),
            ("extra.ticker", &x.ticker),
            ("extra.notify_foreground", &x.notify_foreground),
            ("extra.notify_effect", &x.notify_effect),
            ("extra.intent_uri", &x.intent_uri),
            ("extra.web_uri", &x.web_uri),
            ("extra.jobkey", &x.jobkey),
            ("extra.only_send_once", &x.only_send_once),
            ("extra.callback", &x.callback_url),
            ("extra.callback.param", &x.callback_param),
            ("extra.locale", &x.locale),
            ("extra.locale_not_in", &x.locale_not_in),
            ("extra.model", &x.model),
            ("extra.model_not_in", &x.model_not_in),
            ("extra.app_version", &x.app_version),
            ("extra.app_version_not_in", &x.app_version_not_in),
            ("extra.connpt", &x.connpt),
        ];
        for (k, v) in strings {
            if let Some(v) = v {
                put(k, v.clone());
            }
        }
        if let Some(v) = x.callback_type {
            put("extra.callback.type", v.to_string());
        }
        if let Some(v) = x.flow_control {
            put("extra.flow_control", v.to_string());
        }
        if let Some(v) = &x.channel_id {
            put("extra.channel_id", v.clone());
        }
    }
    if x.and_then(|x| x.notify_effect.as_ref()).is_none() {
        if let Some(ca) = message.config().and_then(|c| c.click_action.as_ref()) {
            if let Some(url) = ca.url.as_deref().filter(|s| !s.is_empty()) {
                put("extra.notify_effect", "3".into());
                put("extra.web_uri", url.to_owned());
            } else if let Some(action) = ca.action.as_deref().filter(|s| !s.is_empty()) {
                put("extra.notify_effect", "2".into());
                put(
                    "extra.intent_uri",
                    format!("intent:#Intent;action={action};end"),
                );
            } else if let Some(activity) = ca.activity.as_deref().filter(|s| !s.is_empty()) {
                let component = if activity.contains('/') {
                    activity.to_owned()
                } else {
                    format!("{package}/{activity}")
                };
                put("extra.notify_effect", "2".into());
                put(
                    "extra.intent_uri",
                    format!("intent:#Intent;component={component};end"),
                );
            }
        }
    }
    if let Some(ext) = message.ext() {
        for (k, v) in ext {
            let key = format!("extra.{k}");
            if !f.iter().any(|(n, _)| *n == key) {
                f.push((key, extra_string(v)));
            }
        }
    }
    if let Some(id) = task_id {
        f.retain(|(n, _)| n != "extra.EPush");
        f.push((
            "extra.EPush".into(),
            crate::apns::epush("XIAOMI", id).to_string(),
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> PushMessage {
        PushMessage::parse(v).unwrap()
    }

    fn get<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
        f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn generic_fields_fill_in_for_the_block() {
        let m = msg(
            json!({"title": "T", "content": "C", "ext": {"a": "1", "n": 2},
                           "config": {"clickAction": {"url": "https://e.com"}, "timeToLive": 60}}),
        );
        let f = build_form(&m, "com.a", Some(9));
        assert_eq!(get(&f, "title"), Some("T"));
        assert_eq!(get(&f, "description"), Some("C"));
        assert_eq!(get(&f, "restricted_package_name"), Some("com.a"));
        assert_eq!(get(&f, "pass_through"), Some("0"));
        assert_eq!(get(&f, "time_to_live"), Some("60000"));
        assert_eq!(get(&f, "extra.notify_effect"), Some("3"));
        assert_eq!(get(&f, "extra.web_uri"), Some("https://e.com"));
        assert_eq!(get(&f, "extra.a"), Some("1"));
        assert_eq!(get(&f, "extra.n"), Some("2"));
        assert_eq!(
            get(&f, "payload"),
            Some(url_encode(r#"{"a":"1","n":2}"#).as_str())
        );
        assert_eq!(
            get(&f, "extra.EPush"),
            Some(r#"{"provider":"XIAOMI","report":{"task_id":9}}"#)
        );
        assert_eq!(check_form(&f), Ok(()));
    }

    #[test]
    fn block_overrides_and_limits() {
        let m = msg(json!({"title": "T", "content": "C", "xiaomi": {
            "title": "XT", "description": "XD", "passThrough": 1, "payload": "p q",
            "restrictedPackageNames": ["com.a", "com.b"], "notifyType": 2, "timeToLive": 5000,
            "notifyId": 7, "channelId": "chat", "callbackType": 3, "notifyEffect": "1"}}));
        let f = build_form(&m, "com.a", None);
        assert_eq!(get(&f, "title"), Some("XT"));
        assert_eq!(get(&f, "description"), Some("XD"));
        assert_eq!(get(&f, "pass_through"), Some("1"));
        assert_eq!(get(&f, "payload"), Some("p+q"));
        assert_eq!(get(&f, "restricted_package_name"), Some("com.a,com.b"));
        assert_eq!(get(&f, "notify_type"), Some("2"));
        assert_eq!(get(&f, "time_to_live"), Some("5000"));
        assert_eq!(get(&f, "notify_id"), Some("7"));
        assert_eq!(get(&f, "extra.channel_id"), Some("chat"));
        assert_eq!(get(&f, "extra.callback.type"), Some("3"));
        assert_eq!(get(&f, "extra.EPush"), None);

        let big = "x".repeat(MAX_PAYLOAD_BYTES + 1);
        let m = msg(json!({"title": "T", "content": "C", "xiaomi": {"payload": big}}));
        let err = check_form(&build_form(&m, "com.a", None)).unwrap_err();
        assert!(err.contains("65009"), "{err}");
        let m = msg(json!({"title": "T", "content": "C", "xiaomi": {"title": "  "}}));
        assert!(check_form(&build_form(&m, "com.a", None)).is_err());
    }

    #[test]
    fn classification() {
        assert_eq!(classify(200, Some(0), false), Class::Ok);
        assert_eq!(classify(200, Some(10002), false), Class::Retry);
        assert_eq!(classify(503, None, false), Class::Retry);
        assert_eq!(classify(200, Some(21301), false), Class::Config);
        assert_eq!(classify(200, Some(22022), true), Class::Rejected);
        assert_eq!(classify(200, Some(10034), false), Class::Throttled);
        assert_eq!(classify(200, Some(65009), false), Class::Rejected);
        assert_eq!(classify(200, Some(-1), false), Class::Fatal);
        let raw = json!({"code": 0, "data": {"bad_regids": "b,c"}});
        let outs = split(&["a", "b", "c"], &raw);
        assert!(outs[0].is_success());
        assert!(matches!(outs[1], VendorOutcome::TokenDead { .. }));
        assert!(matches!(outs[2], VendorOutcome::TokenDead { .. }));
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = XiaomiCredentials {
            app_secret: "s3cr3t-value".into(),
            package: "com.a".into(),
            base_url: None,
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let client = XiaomiClient::new(c).unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }
}
