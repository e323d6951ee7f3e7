//! Meizu (Flyme) push client, sending the pushMessage with its `meizu` block.
//!
//! * Send: `POST {base}/garcia/api/server/push/varnished/pushByPushId` (notification-bar
//!   messages), `application/x-www-form-urlencoded;charset=UTF-8`, fields `appId`, `pushIds`
//!   (comma list, at most [`MAX_PUSH_IDS`] per request), `messageJson` (see
//!   [`build_message_json`]) and `sign`.
//! * Signature ([`sign`]): the parameters sorted by name, concatenated as `k=v` with no
//!   separator over the raw (not URL-encoded) values, the appSecret appended, MD5 as 32
//!   lowercase hex digits. Nothing expires, so there is no token to cache or refresh.
//! * Local checks (no request, every token `Rejected`): title 1..=32 and content 1..=100
//!   characters, `validTime` 1..=72 hours, `notifyKey` at most 8 of `[0-9A-Za-z_-]`. A token
//!   that is empty or contains a comma is `Rejected` alone.
//! * Classification. Answers are HTTP 200 JSON `{"code":"200","message","value":{code:[ids]},
//!   "msgId"}`; `value` lists only failed ids: 110002 (unsubscribed) and 110003 (illegal) →
//!   `TokenDead`; 110010 (notifications switched off), 520 (collapsed), 201, 501, 513, 519,
//!   110011 and any other listed code → `Rejected` for that id; ids not listed → `Sent`.
//!   Top-level codes: 1001, 1003, 519, 500, HTTP 5xx/429 and network errors → retried with
//!   backoff and jitter; 110010 (push rate too fast, a per-second limit) → retried after the
//!   one-second window, then `Error`; 1006 (sign failed), 110000/110001 (bad appId/appKey),
//!   110009 (blacklisted) → `Error` (configuration); 110019 (daily limit), 110053 → `Error`
//!   (quota); 1005 (parameter error) and 110004 (empty parameter) → `Rejected` for every token
//!   of the request; any other code → `Error`. `raw` is always Meizu's JSON answer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use md5::{Digest, Md5};
use openpush_core::message::PushMessage;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::retry::{retry_after, RetryPolicy};
use crate::VendorOutcome;

/// The production host.
pub const MEIZU_URL: &str = "https://server-api-push.meizu.com";
/// Notification-bar push by pushId.
pub const SEND_PATH: &str = "/garcia/api/server/push/varnished/pushByPushId";
/// Most pushIds per request: 100, the safe figure (an older revision of Meizu's doc says 1000).
pub const MAX_PUSH_IDS: usize = 100;
/// Longest `noticeBarInfo.title`, in characters.
pub const TITLE_MAX: usize = 32;
/// Longest `noticeBarInfo.content`, in characters.
pub const CONTENT_MAX: usize = 100;
/// Longest `pushTimeInfo.validTime`, in hours.
pub const VALID_TIME_MAX: i64 = 72;

/// A Meizu app's server credentials. `Debug` never prints the secret.
#[derive(Clone)]
pub struct MeizuCredentials {
    pub app_id: String,
    pub app_secret: String,
    /// Overrides `https://server-api-push.meizu.com` (e.g. the mock).
    pub base_url: Option<String>,
}

impl fmt::Debug for MeizuCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeizuCredentials")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Tuning for a [`MeizuClient`].
#[derive(Debug, Clone)]
pub struct MeizuOptions {
    /// Requests in flight at once for this client.
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// PushIds per request (1..=[`MAX_PUSH_IDS`]).
    pub max_push_ids_per_request: usize,
    /// The pause before retrying a top-level 110010 ("push rate too fast"): Meizu limits
    /// requests per second and sends no `Retry-After`.
    pub throttle_pause: Duration,
}

impl Default for MeizuOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 16,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            max_push_ids_per_request: MAX_PUSH_IDS,
            throttle_pause: Duration::from_secs(1),
        }
    }
}

struct Inner {
    app_id: String,
    app_secret: String,
    send_url: String,
    opts: MeizuOptions,
    http: reqwest::Client,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeizuClient")
            .field("app_id", &self.app_id)
            .field("send_url", &self.send_url)
            .finish_non_exhaustive()
    }
}

/// A client for one Meizu app. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MeizuClient {
    inner: Arc<Inner>,
}

/// `md5(k1=v1k2=v2…secret)` over the parameters sorted by name, 32 lowercase hex digits.
pub fn sign(params: &[(&str, &str)], app_secret: &str) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Md5::new();
    for (k, v) in sorted {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
    }
    h.update(app_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl MeizuClient {
    pub fn new(creds: MeizuCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, MeizuOptions::default())
    }

    pub fn with_options(creds: MeizuCredentials, opts: MeizuOptions) -> Result<Self, ClientError> {
        let app_id = creds.app_id.trim();
        if app_id.is_empty() {
            return Err(ClientError::Credentials("Meizu: app_id is empty".into()));
        }
        let app_secret = creds.app_secret.trim();
        if app_secret.is_empty() {
            return Err(ClientError::Credentials(
                "Meizu: app_secret is empty".into(),
            ));
        }
        let base = creds
            .base_url
            .as_deref()
            .unwrap_or(MEIZU_URL)
            .trim_end_matches('/')
            .to_owned();
        let http = crate::http_client(opts.request_timeout)?;
        let mut opts = opts;
        opts.max_push_ids_per_request = opts.max_push_ids_per_request.clamp(1, MAX_PUSH_IDS);
        Ok(Self {
            inner: Arc::new(Inner {
                app_id: app_id.to_owned(),
                app_secret: app_secret.to_owned(),
                send_url: format!("{base}{SEND_PATH}"),
                sem: Semaphore::new(opts.max_concurrency.max(1)),
                opts,
                http,
            }),
        })
    }

    /// A client from a notifier's stored credentials (`app_id`, `app_secret`; see
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
                .ok_or_else(|| ClientError::Credentials(format!("Meizu: missing `{name}`")))
        };
        Self::new(MeizuCredentials {
            app_id: field("app_id")?,
            app_secret: field("app_secret")?,
            base_url,
        })
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// Sends `message` to every pushId: one outcome per token, in order. Tokens go in batches of
    /// `max_push_ids_per_request`, sent concurrently (bounded by `max_concurrency`).
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        let mj = build_message_json(message, task_id);
        if let Err(reason) = check_message_json(&mj) {
            return tokens
                .iter()
                .map(|_| VendorOutcome::Rejected {
                    raw: Value::Null,
                    reason: reason.clone(),
                })
                .collect();
        }
        let mj = mj.to_string();
        let mut out: Vec<Option<VendorOutcome>> = vec![None; tokens.len()];
        let mut valid: Vec<(usize, &str)> = Vec::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            let t = t.as_ref();
            if t.trim().is_empty() || t.contains(',') {
                out[i] = Some(VendorOutcome::Rejected {
                    raw: Value::Null,
                    reason: format!("Meizu: invalid pushId {t:?}"),
                });
            } else {
                valid.push((i, t));
            }
        }
        let mj = mj.as_str();
        // Collected first so the returned future is `Send` (see `ApnsClient::send_many`).
        let sends: Vec<_> = valid
            .chunks(self.inner.opts.max_push_ids_per_request)
            .map(|chunk| async move {
                let ids: Vec<&str> = chunk.iter().map(|(_, t)| *t).collect();
                let outs = self.send_batch(&ids, mj).await;
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
                    reason: "Meizu: no answer for this token".into(),
                })
            })
            .collect()
    }

    /// One request for at most `max_push_ids_per_request` ids, with retries.
    async fn send_batch(&self, ids: &[&str], message_json: &str) -> Vec<VendorOutcome> {
        let all = |o: VendorOutcome| vec![o; ids.len()];
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return all(VendorOutcome::Error {
                reason: "Meizu client closed".into(),
            });
        };
        let push_ids = ids.join(",");
        let params = [
            ("appId", self.inner.app_id.as_str()),
            ("messageJson", message_json),
            ("pushIds", push_ids.as_str()),
        ];
        let signature = sign(&params, &self.inner.app_secret);
        let body = {
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.extend_pairs(params);
            s.append_pair("sign", &signature);
            bytes::Bytes::from(s.finish())
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let resp = self
                .inner
                .http
                .post(&self.inner.send_url)
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded;charset=UTF-8",
                )
                .body(body.clone())
                .send()
                .await;
            let (status, ra, raw) = match resp {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let ra = retry_after(r.headers());
                    let raw = match crate::body::read_capped(r).await {
                        Ok(b) => serde_json::from_slice::<Value>(&b).unwrap_or_else(
                            |_| json!({"http_status": status, "body": String::from_utf8_lossy(&b)}),
                        ),
                        Err(e) => json!({"http_status": status, "body": e.to_string()}),
                    };
                    (status, ra, raw)
                }
                Err(e) => {
                    let reason = format!("Meizu request failed: {e}");
                    match self.inner.opts.retry.delay(attempt, None) {
                        Some(d) => {
                            tracing::debug!(?d, error = %e, "Meizu: retrying");
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return all(VendorOutcome::Error { reason }),
                    }
                }
            };
            let code = code_of(&raw);
            let class = classify(status, code.as_deref());
            let ra = match class {
                Class::Throttled => Some(ra.unwrap_or(self.inner.opts.throttle_pause)),
                _ => ra,
            };
            match class {
                Class::Ok => return split(ids, &raw),
                Class::Retry | Class::Throttled => match self.inner.opts.retry.delay(attempt, ra) {
                    Some(d) => {
                        tracing::debug!(status, ?code, ?d, "Meizu: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        let what = if class == Class::Throttled {
                            "Meizu rate limit: "
                        } else {
                            "Meizu "
                        };
                        return all(VendorOutcome::Error {
                            reason: format!(
                                "{what}{} (gave up after {attempt} attempts)",
                                describe(status, &raw)
                            ),
                        });
                    }
                },
                Class::Rejected => {
                    return all(VendorOutcome::Rejected {
                        reason: format!("Meizu {}", describe(status, &raw)),
                        raw,
                    })
                }
                Class::Config => {
                    return all(VendorOutcome::Error {
                        reason: format!(
                            "Meizu configuration refused (check app_id and app_secret): {}",
                            describe(status, &raw)
                        ),
                    })
                }
                Class::Quota => {
                    return all(VendorOutcome::Error {
                        reason: format!("Meizu quota: {}", describe(status, &raw)),
                    })
                }
                Class::Fatal => {
                    return all(VendorOutcome::Error {
                        reason: format!("Meizu {}", describe(status, &raw)),
                    })
                }
            }
        }
    }
}

/// Meizu's `code`, a string (sometimes a number).
fn code_of(raw: &Value) -> Option<String> {
    match &raw["code"] {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn describe(status: u16, raw: &Value) -> String {
    match code_of(raw) {
        Some(code) => format!(
            "code {code}: {}",
            raw["message"].as_str().unwrap_or_default()
        ),
        None => format!("HTTP {status}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ok,
    Retry,
    Throttled,
    Rejected,
    Config,
    Quota,
    Fatal,
}

fn classify(status: u16, code: Option<&str>) -> Class {
    match (status, code) {
        (200, Some("200")) => Class::Ok,
        (_, Some("500" | "1001" | "1003" | "519")) => Class::Retry,
        (_, Some("110010")) => Class::Throttled,
        (_, Some("1006" | "110000" | "110001" | "110009")) => Class::Config,
        (_, Some("110019" | "110053")) => Class::Quota,
        (_, Some("1005" | "110004")) => Class::Rejected,
        (429 | 500 | 502 | 503 | 504, _) => Class::Retry,
        _ => Class::Fatal,
    }
}

/// What a code in the `value` map means for its pushIds.
fn value_reason(code: &str) -> Option<&'static str> {
    Some(match code {
        "110002" | "110003" => return None,
        "110010" => "notifications switched off on the device",
        "520" => "collapsed: too many messages to this device in a minute",
        "201" => "no permission",
        "501" | "513" => "push failed",
        "519" => "push failed: service overloaded",
        "110005" => "alias invalid",
        "110011" => "daily public-message limit reached",
        _ => "refused",
    })
}

/// Splits a code-200 answer: ids listed under 110002/110003 are dead, ids under another code
/// rejected, the rest sent.
fn split(ids: &[&str], raw: &Value) -> Vec<VendorOutcome> {
    let mut failed: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    if let Some(map) = raw["value"].as_object() {
        for (code, list) in map {
            for id in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                failed.insert(id, code.as_str());
            }
        }
    }
    ids.iter()
        .map(|id| match failed.get(id) {
            None => VendorOutcome::Sent { raw: raw.clone() },
            Some(code) => match value_reason(code) {
                None => VendorOutcome::TokenDead { raw: raw.clone() },
                Some(why) => VendorOutcome::Rejected {
                    raw: raw.clone(),
                    reason: format!("Meizu {code}: {why}"),
                },
            },
        })
        .collect()
}

/// What Meizu would certainly refuse, checked before any request.
fn check_message_json(mj: &Value) -> Result<(), String> {
    for (field, max) in [("title", TITLE_MAX), ("content", CONTENT_MAX)] {
        let v = mj["noticeBarInfo"][field].as_str().unwrap_or("");
        let n = v.chars().count();
        if n == 0 || n > max {
            return Err(format!(
                "Meizu: noticeBarInfo.{field} is {n} characters, 1 to {max} allowed"
            ));
        }
    }
    if let Some(t) = mj["pushTimeInfo"]["validTime"].as_i64() {
        if !(1..=VALID_TIME_MAX).contains(&t) {
            return Err(format!(
                "Meizu: pushTimeInfo.validTime is {t} hours, 1 to {VALID_TIME_MAX} allowed"
            ));
        }
    }
    if let Some(k) = mj["advanceInfo"]["notifyKey"].as_str() {
        if k.len() > 8
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "Meizu: advanceInfo.notifyKey {k:?} must be at most 8 of [0-9A-Za-z_-]"
            ));
        }
    }
    Ok(())
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Maps a message and its `meizu` block to Meizu's notification `messageJson`. Field by field:
///
/// * `noticeBarInfo {noticeBarType: 0, title, content}` ← `meizu.title` / `meizu.content`,
///   else the top-level `title` / `content`.
/// * `noticeExpandInfo {noticeExpandType, noticeExpandContent}` ← the block's fields.
/// * `clickTypeInfo {clickType, url, activity, customAttribute, parameters}` ← the block's
///   fields; without `clickType`, derived from `config.clickAction` (`url` → 2 with `url`,
///   `activity` → 1 with `activity`), else 0 (open the app). `parameters` (the data the app
///   receives on click) ← `meizu.parameters`, then the top-level `ext` pairs, then, with a task
///   id, `EPush` = `{"provider":"MEIZU","report":{"task_id":…}}` (as a JSON object).
/// * `pushTimeInfo {offLine, validTime}` ← `isOffLine` (default 1) and `validTime` hours
///   (default: `config.timeToLive` rounded up to hours, else 24), sent only when offline.
/// * `advanceInfo {suspend, clearNoticeBar, fixDisplay, fixStartDisplayTime,
///   fixEndDisplayTime, notificationType {vibrate, lights, sound}, notifyKey}` ← `isSuspend`,
///   `isClearNoticeBar`, `isFixDisplay`, `fixStartDisplayDate`, `fixEndDisplayDate`, `vibrate`,
///   `lights`, `sound`, `notifyKey` (booleans as 0/1; absent ones left to Meizu's defaults).
/// * `extra {callback, callback.param, callback.type}` ← `callback`, `callbackParam`,
///   `callbackType` (only with a callback URL, which Meizu requires there).
pub fn build_message_json(message: &PushMessage, task_id: Option<i64>) -> Value {
    let mz = message.meizu();
    let mut root = Map::new();
    root.insert(
        "noticeBarInfo".into(),
        json!({
            "noticeBarType": 0,
            "title": mz.and_then(|m| m.title.as_deref()).unwrap_or(message.title()),
            "content": mz.and_then(|m| m.content.as_deref()).unwrap_or(message.content()),
        }),
    );
    if let Some(m) = mz {
        let mut ex = Map::new();
        if let Some(t) = m.notice_expand_type {
            ex.insert("noticeExpandType".into(), json!(t));
        }
        if let Some(c) = &m.notice_expand_content {
            ex.insert("noticeExpandContent".into(), json!(c));
        }
        if !ex.is_empty() {
            root.insert("noticeExpandInfo".into(), Value::Object(ex));
        }
    }

    let mut click = Map::new();
    let ca = message.config().and_then(|c| c.click_action.as_ref());
    match mz.and_then(|m| m.click_type) {
        Some(t) => {
            click.insert("clickType".into(), json!(t));
        }
        None => {
            if let Some(url) = ca.and_then(|c| c.url.as_deref()).filter(|s| !s.is_empty()) {
                click.insert("clickType".into(), json!(2));
                click.insert("url".into(), json!(url));
            } else if let Some(act) = ca
                .and_then(|c| c.activity.as_deref())
                .filter(|s| !s.is_empty())
            {
                click.insert("clickType".into(), json!(1));
                click.insert("activity".into(), json!(act));
            } else {
                click.insert("clickType".into(), json!(0));
            }
        }
    }
    if let Some(m) = mz {
        for (k, v) in [
            ("url", &m.url),
            ("activity", &m.activity),
            ("customAttribute", &m.custom_attribute),
        ] {
            if let Some(v) = v {
                click.insert(k.into(), json!(v));
            }
        }
    }
    let mut params = Map::new();
    if let Some(p) = mz.and_then(|m| m.parameters.as_ref()) {
        params.extend(p.clone());
    }
    if let Some(ext) = message.ext() {
        for (k, v) in ext {
            params.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(id) = task_id {
        params.insert("EPush".into(), crate::apns::epush("MEIZU", id));
    }
    if !params.is_empty() {
        click.insert("parameters".into(), Value::Object(params));
    }
    root.insert("clickTypeInfo".into(), Value::Object(click));

    let off_line = mz.and_then(|m| m.is_off_line).unwrap_or(true);
    let mut time = Map::new();
    time.insert("offLine".into(), json!(flag(off_line)));
    if off_line {
        let valid = mz
            .and_then(|m| m.valid_time)
            .map(i64::from)
            .or_else(|| {
                message
                    .config()
                    .and_then(|c| c.time_to_live)
                    .filter(|s| *s > 0)
                    .map(|s| ((s + 3599) / 3600).clamp(1, VALID_TIME_MAX))
            })
            .unwrap_or(24);
        time.insert("validTime".into(), json!(valid));
    }
    root.insert("pushTimeInfo".into(), Value::Object(time));

    if let Some(m) = mz {
        let mut adv = Map::new();
        for (k, v) in [
            ("suspend", m.is_suspend),
            ("clearNoticeBar", m.is_clear_notice_bar),
            ("fixDisplay", m.is_fix_display),
        ] {
            if let Some(b) = v {
                adv.insert(k.into(), json!(flag(b)));
            }
        }
        if let Some(s) = &m.fix_start_display_date {
            adv.insert("fixStartDisplayTime".into(), json!(s));
        }
        if let Some(s) = &m.fix_end_display_date {
            adv.insert("fixEndDisplayTime".into(), json!(s));
        }
        let mut nt = Map::new();
        for (k, v) in [
            ("vibrate", m.vibrate),
            ("lights", m.lights),
            ("sound", m.sound),
        ] {
            if let Some(b) = v {
                nt.insert(k.into(), json!(flag(b)));
            }
        }
        if !nt.is_empty() {
            adv.insert("notificationType".into(), Value::Object(nt));
        }
        if let Some(k) = &m.notify_key {
            adv.insert("notifyKey".into(), json!(k));
        }
        if !adv.is_empty() {
            root.insert("advanceInfo".into(), Value::Object(adv));
        }
        if let Some(cb) = m.callback.as_deref().filter(|s| !s.is_empty()) {
            let mut extra = Map::new();
            extra.insert("callback".into(), json!(cb));
            if let Some(p) = &m.callback_param {
                extra.insert("callback.param".into(), json!(p));
            }
            if let Some(t) = &m.callback_type {
                extra.insert("callback.type".into(), json!(t));
            }
            root.insert("extra".into(), Value::Object(extra));
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(v: Value) -> PushMessage {
        PushMessage::parse(v).unwrap()
    }

    #[test]
    fn sign_matches_the_documented_construction() {
        // md5("appId=10000messageJson={}pushIds=abcSECRET")
        let s = sign(
            &[
                ("pushIds", "abc"),
                ("appId", "10000"),
                ("messageJson", "{}"),
            ],
            "SECRET",
        );
        let mut h = Md5::new();
        h.update(b"appId=10000messageJson={}pushIds=abcSECRET");
        let want: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s, want);
        assert_eq!(s.len(), 32);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }

    #[test]
    fn maps_generic_fields_and_the_block() {
        let m = msg(json!({"title": "T", "content": "C", "ext": {"k": "v"},
            "config": {"clickAction": {"url": "https://e.com"}, "timeToLive": 7200}}));
        let j = build_message_json(&m, Some(3));
        assert_eq!(
            j,
            json!({
                "noticeBarInfo": {"noticeBarType": 0, "title": "T", "content": "C"},
                "clickTypeInfo": {"clickType": 2, "url": "https://e.com",
                                  "parameters": {"k": "v", "EPush": {"provider": "MEIZU",
                                                 "report": {"task_id": 3}}}},
                "pushTimeInfo": {"offLine": 1, "validTime": 2}
            })
        );
        let m = msg(json!({"title": "T", "content": "C", "meizu": {
            "title": "MT", "content": "MC", "clickType": 1, "activity": "com.a.Main",
            "isOffLine": false, "vibrate": true, "sound": false, "notifyKey": "k1",
            "isSuspend": true, "callback": "https://cb", "callbackType": "1"}}));
        let j = build_message_json(&m, None);
        assert_eq!(j["noticeBarInfo"]["title"], "MT");
        assert_eq!(
            j["clickTypeInfo"],
            json!({"clickType": 1, "activity": "com.a.Main"})
        );
        assert_eq!(j["pushTimeInfo"], json!({"offLine": 0}));
        assert_eq!(
            j["advanceInfo"],
            json!({"suspend": 1, "notificationType": {"vibrate": 1, "sound": 0},
                   "notifyKey": "k1"})
        );
        assert_eq!(
            j["extra"],
            json!({"callback": "https://cb", "callback.type": "1"})
        );
        assert_eq!(check_message_json(&j), Ok(()));
    }

    #[test]
    fn local_limits() {
        let m = msg(json!({"title": "T", "content": "C", "meizu": {"validTime": 73}}));
        assert!(check_message_json(&build_message_json(&m, None)).is_err());
        let m = msg(json!({"title": "T", "content": "C", "meizu": {"notifyKey": "123456789"}}));
        assert!(check_message_json(&build_message_json(&m, None)).is_err());
    }

    #[test]
    fn classification_and_split() {
        assert_eq!(classify(200, Some("200")), Class::Ok);
        assert_eq!(classify(200, Some("1003")), Class::Retry);
        assert_eq!(classify(200, Some("110010")), Class::Throttled);
        assert_eq!(classify(200, Some("1006")), Class::Config);
        assert_eq!(classify(200, Some("1005")), Class::Rejected);
        assert_eq!(classify(200, Some("110019")), Class::Quota);
        assert_eq!(classify(502, None), Class::Retry);
        let raw = json!({"code": "200", "value": {"110002": ["b"], "110003": ["c"],
                                                  "110010": ["d"]}});
        let o = split(&["a", "b", "c", "d"], &raw);
        assert!(o[0].is_success());
        assert!(matches!(o[1], VendorOutcome::TokenDead { .. }));
        assert!(matches!(o[2], VendorOutcome::TokenDead { .. }));
        assert!(
            matches!(&o[3], VendorOutcome::Rejected { reason, .. } if reason.contains("switched off"))
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = MeizuCredentials {
            app_id: "1".into(),
            app_secret: "s3cr3t-value".into(),
            base_url: None,
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", MeizuClient::new(c).unwrap()).contains("s3cr3t"));
    }
}
