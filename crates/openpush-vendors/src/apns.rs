//! Apple Push Notification service client: `POST {base}/3/device/{token}` over
//! one HTTP/2 connection with many concurrent streams, ES256 provider-token auth.
//!
//! * Transport: reqwest with HTTP/2 only. An `https://` base URL uses TLS (rustls, webpki roots,
//!   ALPN `h2`); an `http://` base URL uses h2c with prior knowledge (the local mock). The
//!   connection pool keeps one connection per host; concurrent sends are multiplexed on it.
//! * Provider token: signed once and reused for at most [`ApnsOptions::token_ttl`] (default
//!   50 minutes, inside Apple's 20–60 minute window), then re-signed. The cache sits behind a
//!   `parking_lot` mutex that is only held to read or replace it, never across an `.await`.
//! * Classification: 200 → `Sent`; 410 and 400 `BadDeviceToken` /
//!   `DeviceTokenNotForTopic` → `TokenDead`; other 4xx payload/header problems → `Rejected`;
//!   403 → re-sign the provider token once and retry, then `Error` (auth); 429
//!   `TooManyProviderTokenUpdates` → `Error` at once; 429 `TooManyRequests`, 500, 503 and network
//!   errors → retried with backoff and jitter, honouring `Retry-After`, then `Error`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openpush_core::message::{ApnsPriority, ApnsPushType, InterruptionLevel, PushMessage};
use p256::pkcs8::DecodePrivateKey;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

pub use crate::error::ClientError;
use crate::h2pool::H2Pool;
use crate::jwt;
use crate::retry::{retry_after, RetryPolicy};
use crate::VendorOutcome;

/// `https://api.push.apple.com`.
pub const PRODUCTION_URL: &str = "https://api.push.apple.com";
/// `https://api.sandbox.push.apple.com`.
pub const SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";
/// Payload limit (VoIP pushes, which we do not send, allow 5120).
pub const MAX_PAYLOAD: usize = 4096;

/// An app's APNs token-auth credentials. `Debug` never prints the key.
#[derive(Clone)]
pub struct ApnsCredentials {
    /// The `.p8` file's contents (PKCS#8 PEM, P-256).
    pub key_p8_pem: String,
    pub key_id: String,
    pub team_id: String,
    /// The app's bundle id: the `apns-topic`.
    pub bundle_id: String,
    /// `api.push.apple.com` when true, `api.sandbox.push.apple.com` otherwise.
    pub production: bool,
    /// Overrides the host chosen by `production` (e.g. `http://127.0.0.1:port` for the mock).
    pub base_url: Option<String>,
}

impl fmt::Debug for ApnsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsCredentials")
            .field("key_p8_pem", &"<redacted>")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("bundle_id", &self.bundle_id)
            .field("production", &self.production)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Tuning for an [`ApnsClient`].
#[derive(Debug, Clone)]
pub struct ApnsOptions {
    /// Most sends in flight at once, over every connection.
    pub max_concurrency: usize,
    /// Most HTTP/2 connections to APNs; the next is opened only when every open one has
    /// `streams_per_connection` requests in flight (Apple allows several per provider).
    pub connections: usize,
    /// Requests in flight on one connection before the next is opened (APNs announces
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` 1,000).
    pub streams_per_connection: usize,
    pub retry: RetryPolicy,
    /// How long one provider token is reused (Apple: refresh between 20 and 60 minutes).
    pub token_ttl: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// An extra trusted root (PEM) for `https://` base URLs, e.g. the TLS mock's certificate.
    pub extra_root_pem: Option<String>,
}

impl Default for ApnsOptions {
    fn default() -> Self {
        Self {
            max_concurrency: 4000,
            connections: 4,
            streams_per_connection: 1000,
            retry: RetryPolicy::default(),
            token_ttl: Duration::from_secs(50 * 60),
            request_timeout: Duration::from_secs(30),
            extra_root_pem: None,
        }
    }
}

#[derive(Debug)]
struct CachedJwt {
    token: Arc<str>,
    generation: u64,
    signed_at: Instant,
}

struct Inner {
    creds: ApnsCredentials,
    opts: ApnsOptions,
    base: String,
    pool: H2Pool,
    key: p256::ecdsa::SigningKey,
    jwt: Mutex<Option<CachedJwt>>,
    tokens_signed: AtomicU64,
    sem: Semaphore,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsClient")
            .field("creds", &self.creds)
            .field("base", &self.base)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A client for one APNs key and bundle id. Cheap to clone (shares the connection and token).
#[derive(Debug, Clone)]
pub struct ApnsClient {
    inner: Arc<Inner>,
}

/// An APNs request built from a message, reusable for many device tokens.
#[derive(Debug, Clone)]
pub struct ApnsRequest {
    pub payload: Value,
    /// The serialised payload (shared by every send of this request).
    pub body: bytes::Bytes,
    pub topic: String,
    pub push_type: &'static str,
    pub priority: u8,
    pub expiration: Option<u64>,
    pub collapse_id: Option<String>,
    pub apns_id: Option<String>,
}

impl ApnsClient {
    pub fn new(creds: ApnsCredentials) -> Result<Self, ClientError> {
        Self::with_options(creds, ApnsOptions::default())
    }

    pub fn with_options(creds: ApnsCredentials, opts: ApnsOptions) -> Result<Self, ClientError> {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&creds.key_p8_pem)
            .map_err(|e| ClientError::Credentials(format!("APNs .p8 key: {e}")))?;
        if creds.key_id.is_empty() || creds.team_id.is_empty() || creds.bundle_id.is_empty() {
            return Err(ClientError::Credentials(
                "key_id, team_id and bundle_id are required".into(),
            ));
        }
        let base = creds
            .base_url
            .clone()
            .unwrap_or_else(|| {
                if creds.production {
                    PRODUCTION_URL
                } else {
                    SANDBOX_URL
                }
                .to_owned()
            })
            .trim_end_matches('/')
            .to_owned();
        let build = || {
            let mut b = reqwest::Client::builder()
                .http2_prior_knowledge()
                .redirect(reqwest::redirect::Policy::none())
                .http2_adaptive_window(true)
                .http2_keep_alive_interval(Duration::from_secs(60))
                .http2_keep_alive_timeout(Duration::from_secs(20))
                .http2_keep_alive_while_idle(true)
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(None)
                .connect_timeout(Duration::from_secs(10))
                .timeout(opts.request_timeout)
                .user_agent(concat!("openpush/", env!("CARGO_PKG_VERSION")));
            if base.starts_with("https://") {
                b = b.use_rustls_tls();
                if let Some(pem) = &opts.extra_root_pem {
                    let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                        .map_err(|e| ClientError::Http(e.to_string()))?;
                    b = b.add_root_certificate(cert);
                }
            }
            b.build().map_err(|e| ClientError::Http(e.to_string()))
        };
        let pool = H2Pool::new(opts.connections, opts.streams_per_connection, build)?;
        let permits = opts.max_concurrency.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                creds,
                base,
                pool,
                key,
                jwt: Mutex::new(None),
                tokens_signed: AtomicU64::new(0),
                sem: Semaphore::new(permits),
                opts,
            }),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// How many HTTP/2 connections have carried a request.
    pub fn connections_used(&self) -> usize {
        self.inner.pool.connections_used()
    }

    /// How many provider tokens this client has signed (1 for the first hour of sends).
    pub fn provider_tokens_signed(&self) -> u64 {
        self.inner.tokens_signed.load(Ordering::Relaxed)
    }

    /// The provider token to send now and its generation: the cached one while younger than
    /// `token_ttl`, else a freshly signed one. The lock is held only for this check.
    fn provider_token(&self) -> (Arc<str>, u64) {
        let mut g = self.inner.jwt.lock();
        if let Some(c) = g.as_ref() {
            if c.signed_at.elapsed() < self.inner.opts.token_ttl {
                return (c.token.clone(), c.generation);
            }
        }
        self.sign_locked(&mut g)
    }

    /// Re-signs after an auth error, unless another send already replaced generation `stale`.
    fn refresh_provider_token(&self, stale: u64) -> (Arc<str>, u64) {
        let mut g = self.inner.jwt.lock();
        if let Some(c) = g.as_ref() {
            if c.generation != stale {
                return (c.token.clone(), c.generation);
            }
        }
        self.sign_locked(&mut g)
    }

    fn sign_locked(&self, slot: &mut Option<CachedJwt>) -> (Arc<str>, u64) {
        let c = &self.inner.creds;
        let token: Arc<str> = jwt::sign_es256(
            &json!({"alg": "ES256", "kid": c.key_id}),
            &json!({"iss": c.team_id, "iat": jwt::now_secs()}),
            &self.inner.key,
        )
        .into();
        let generation = self.inner.tokens_signed.fetch_add(1, Ordering::Relaxed) + 1;
        *slot = Some(CachedJwt {
            token: token.clone(),
            generation,
            signed_at: Instant::now(),
        });
        (token, generation)
    }

    /// Maps `message` (and its `apns` block) to the APNs request. `task_id` adds the `EPush`
    /// report key.
    pub fn build_request(&self, message: &PushMessage, task_id: Option<i64>) -> ApnsRequest {
        build_request(&self.inner.creds.bundle_id, message, task_id)
    }

    /// Sends `message` to one device token.
    pub async fn send(
        &self,
        token: &str,
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> VendorOutcome {
        let req = self.build_request(message, task_id);
        self.send_request(token, &req).await
    }

    /// Sends `message` to every token concurrently (bounded by `max_concurrency`); one outcome
    /// per token, in order.
    pub async fn send_many<T: AsRef<str>>(
        &self,
        tokens: &[T],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        let req = self.build_request(message, task_id);
        let req = &req;
        // Collected first so the returned future is `Send` (a closure in the stream type would
        // trip the higher-ranked lifetime check).
        let sends: Vec<_> = tokens
            .iter()
            .map(|t| self.send_request(t.as_ref(), req))
            .collect();
        futures_util::stream::iter(sends)
            .buffered(self.inner.opts.max_concurrency.max(1))
            .collect()
            .await
    }

    /// Sends a prepared request to one device token, with retries and classification.
    pub async fn send_request(&self, token: &str, req: &ApnsRequest) -> VendorOutcome {
        if req.body.len() > MAX_PAYLOAD {
            return VendorOutcome::Rejected {
                raw: json!({"reason": "PayloadTooLarge", "size": req.body.len()}),
                reason: format!(
                    "APNs payload is {} bytes, over {MAX_PAYLOAD}",
                    req.body.len()
                ),
            };
        }
        let Ok(_permit) = self.inner.sem.acquire().await else {
            return VendorOutcome::Error {
                reason: "APNs client closed".into(),
            };
        };
        let url = format!("{}/3/device/{}", self.inner.base, token);
        let mut attempt = 0u32;
        let mut refreshed = false;
        let (mut jwt, mut generation) = self.provider_token();
        loop {
            attempt += 1;
            let resp = self.post(&url, req, &jwt).await;
            let (status, headers, body) = match resp {
                Ok(r) => r,
                Err(e) => {
                    let reason = format!("APNs request failed: {e}");
                    match self.inner.opts.retry.delay(attempt, None) {
                        Some(d) => {
                            tracing::debug!(%reason, ?d, "APNs: retrying");
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return VendorOutcome::Error { reason },
                    }
                }
            };
            let apns_id = headers
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if status == 200 {
                let mut raw = json!({"apns-id": apns_id});
                if let Some(u) = headers.get("apns-unique-id").and_then(|v| v.to_str().ok()) {
                    raw["apns-unique-id"] = json!(u);
                }
                return VendorOutcome::Sent { raw };
            }
            let mut raw = serde_json::from_slice::<Value>(&body)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            raw["status"] = json!(status);
            if let Some(id) = &apns_id {
                raw["apns-id"] = json!(id);
            }
            let reason = raw["reason"].as_str().unwrap_or("").to_owned();
            match classify(status, &reason) {
                Class::Dead => return VendorOutcome::TokenDead { raw },
                Class::Rejected => {
                    return VendorOutcome::Rejected {
                        raw,
                        reason: format!("APNs {status} {reason}"),
                    }
                }
                Class::Auth => {
                    if !refreshed {
                        refreshed = true;
                        (jwt, generation) = self.refresh_provider_token(generation);
                        continue;
                    }
                    return VendorOutcome::Error {
                        reason: format!("APNs auth: {status} {reason}"),
                    };
                }
                Class::Fatal => {
                    return VendorOutcome::Error {
                        reason: format!("APNs {status} {reason}"),
                    }
                }
                Class::Retry => match self.inner.opts.retry.delay(attempt, retry_after(&headers)) {
                    Some(d) => {
                        tracing::debug!(status, %reason, ?d, "APNs: retrying");
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return VendorOutcome::Error {
                            reason: format!(
                                "APNs {status} {reason} (gave up after {attempt} attempts)"
                            ),
                        }
                    }
                },
            }
        }
    }

    async fn post(
        &self,
        url: &str,
        req: &ApnsRequest,
        jwt: &str,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), reqwest::Error> {
        let stream = self.inner.pool.stream();
        let mut r = stream
            .http()
            .post(url)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &req.topic)
            .header("apns-push-type", req.push_type)
            .header("apns-priority", req.priority.to_string())
            .header("content-type", "application/json")
            .body(req.body.clone());
        if let Some(e) = req.expiration {
            r = r.header("apns-expiration", e.to_string());
        }
        if let Some(c) = &req.collapse_id {
            r = r.header("apns-collapse-id", c);
        }
        if let Some(id) = &req.apns_id {
            r = r.header("apns-id", id);
        }
        let resp = r.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = crate::body::read_capped(resp).await?.to_vec();
        Ok((status, headers, body))
    }
}

enum Class {
    Dead,
    Rejected,
    Auth,
    Fatal,
    Retry,
}

fn classify(status: u16, reason: &str) -> Class {
    match (status, reason) {
        (410, _) => Class::Dead,
        (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => Class::Dead,
        (403, _) => Class::Auth,
        (429, "TooManyProviderTokenUpdates") => Class::Fatal,
        (429 | 500 | 502 | 503 | 504, _) => Class::Retry,
        (400..=499, _) => Class::Rejected,
        _ => Class::Fatal,
    }
}

fn interruption_level(l: InterruptionLevel) -> &'static str {
    match l {
        InterruptionLevel::Active => "active",
        InterruptionLevel::Critical => "critical",
        InterruptionLevel::Passive => "passive",
        InterruptionLevel::TimeSensitive => "time-sensitive",
    }
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok() && s.len() == 36
}

/// The `EPush` key: `{"provider":"APNS","report":{"task_id":…}}`, Easemob's custom key that
/// lets the device report a task push's arrival and click.
pub(crate) fn epush(provider: &str, task_id: i64) -> Value {
    json!({"provider": provider, "report": {"task_id": task_id}})
}

/// Maps a message to the APNs request (headers + payload) for `bundle_id`.
///
/// * `aps.alert`: `title`/`subtitle`/`body` from the `apns` block's `title`/`subTitle`/`content`,
///   else the top-level fields; loc keys and args; `launch-image`.
/// * `badge` (`apns.badge`, else `config.badge.setNum`), `sound`, `category`, `thread-id`,
///   `mutable-content: 1`, `content-available: 1`, `interruption-level`.
/// * `pushType: background`: no alert/sound/badge, `content-available: 1`, priority 5.
/// * Live Activity fields when `liveActivityEvent` is set (push type `liveactivity`, topic
///   `{bundle}.push-type.liveactivity`).
/// * Custom keys: the top-level `ext` pairs, then `apns.ext` pairs (which win), at the top level
///   of the payload beside `aps`; then `EPush` when a task id is given.
/// * Headers: `apns-priority` from `apns.priority` (default 10, 5 for background),
///   `apns-expiration` from `apns.invalidationTime` (ms: an epoch time if it looks like one,
///   else a lifetime from now) or `config.timeToLive` (s), `apns-collapse-id`, `apns-id` (when
///   a UUID).
pub fn build_request(bundle_id: &str, message: &PushMessage, task_id: Option<i64>) -> ApnsRequest {
    let a = message.apns();
    let background = a.and_then(|a| a.push_type) == Some(ApnsPushType::Background);
    let live = a.and_then(|a| a.live_activity_event);

    let mut aps = Map::new();
    if !background {
        let mut alert = Map::new();
        let title = a
            .and_then(|a| a.title.as_deref())
            .unwrap_or(message.title());
        alert.insert("title".into(), json!(title));
        if let Some(s) = a
            .and_then(|a| a.sub_title.as_deref())
            .or(message.sub_title())
        {
            alert.insert("subtitle".into(), json!(s));
        }
        let body = a
            .and_then(|a| a.content.as_deref())
            .unwrap_or(message.content());
        alert.insert("body".into(), json!(body));
        if let Some(a) = a {
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    alert.insert(k.into(), v);
                }
            };
            put("title-loc-key", a.title_loc_key.as_ref().map(|v| json!(v)));
            put(
                "title-loc-args",
                a.title_loc_args.as_ref().map(|v| json!(v)),
            );
            put(
                "subtitle-loc-key",
                a.sub_title_loc_key.as_ref().map(|v| json!(v)),
            );
            put(
                "subtitle-loc-args",
                a.sub_title_loc_args.as_ref().map(|v| json!(v)),
            );
            put("loc-key", a.body_loc_key.as_ref().map(|v| json!(v)));
            put("loc-args", a.body_loc_args.as_ref().map(|v| json!(v)));
            put("launch-image", a.launch_image.as_ref().map(|v| json!(v)));
        }
        aps.insert("alert".into(), Value::Object(alert));
        let badge = a.and_then(|a| a.badge).or_else(|| {
            message
                .config()
                .and_then(|c| c.badge.as_ref())
                .and_then(|b| b.set_num)
        });
        if let Some(b) = badge {
            aps.insert("badge".into(), json!(b));
        }
        if let Some(s) = a.and_then(|a| a.sound.as_deref()) {
            aps.insert("sound".into(), json!(s));
        }
        if a.and_then(|a| a.mutable_content) == Some(true) {
            aps.insert("mutable-content".into(), json!(1));
        }
        if let Some(l) = a.and_then(|a| a.interruption_level) {
            aps.insert("interruption-level".into(), json!(interruption_level(l)));
        }
    }
    if background || a.and_then(|a| a.content_available) == Some(true) {
        aps.insert("content-available".into(), json!(1));
    }
    if let Some(a) = a {
        if let Some(c) = &a.category_name {
            aps.insert("category".into(), json!(c));
        }
        if let Some(t) = &a.thread_id {
            aps.insert("thread-id".into(), json!(t));
        }
        if let Some(ev) = live {
            aps.insert("event".into(), json!(ev.as_str().to_ascii_lowercase()));
            let ts = a.timestamp.unwrap_or_else(jwt::now_secs);
            aps.insert("timestamp".into(), json!(ts));
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    aps.insert(k.into(), v);
                }
            };
            put("dismissal-date", a.dismissal_date.map(|v| json!(v)));
            put("stale-date", a.stale_date.map(|v| json!(v)));
            put(
                "attributes-type",
                a.attributes_type.as_ref().map(|v| json!(v)),
            );
            put("attributes", a.attributes.clone().map(Value::Object));
            put("content-state", a.content_state.clone().map(Value::Object));
        }
    }

    let mut payload = Map::new();
    payload.insert("aps".into(), Value::Object(aps));
    for ext in [message.ext(), a.and_then(|a| a.ext.as_ref())]
        .into_iter()
        .flatten()
    {
        for (k, v) in ext {
            if k != "aps" {
                payload.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(id) = task_id {
        payload.insert("EPush".into(), epush("APNS", id));
    }
    let payload = Value::Object(payload);
    let body = bytes::Bytes::from(payload.to_string());

    let (push_type, topic) = if live.is_some() {
        (
            "liveactivity",
            format!("{bundle_id}.push-type.liveactivity"),
        )
    } else if background {
        ("background", bundle_id.to_owned())
    } else {
        ("alert", bundle_id.to_owned())
    };
    let priority = match a.and_then(|a| a.priority) {
        _ if background => 5,
        Some(ApnsPriority::PowerAware) => 5,
        Some(ApnsPriority::Immediate) | None => 10,
    };
    let now = jwt::now_secs().max(0) as u64;
    let expiration = a
        .and_then(|a| a.invalidation_time)
        .filter(|ms| *ms >= 0)
        .map(|ms| {
            let ms = ms as u64;
            // An epoch time in ms (after 2001) or a lifetime in ms.
            if ms >= 1_000_000_000_000 {
                ms / 1000
            } else {
                now + ms / 1000
            }
        })
        .or_else(|| {
            message
                .config()
                .and_then(|c| c.time_to_live)
                .filter(|s| *s >= 0)
                .map(|s| now + s as u64)
        });
    ApnsRequest {
        payload,
        body,
        topic,
        push_type,
        priority,
        expiration,
        collapse_id: a.and_then(|a| a.collapse_id.clone()),
        apns_id: a.and_then(|a| a.apns_id.clone()).filter(|id| is_uuid(id)),
    }
}
