//! The APNs provider API stand-in: `POST /3/device/{token}` over HTTP/2 with
//! ES256 provider-token auth. See the crate docs for the full list of checks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use openpush_core::Clock;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::creds::ApnsCredentials;
use crate::jwt::ParsedJwt;
use crate::script::{Recorder, Script};

/// Payload limit for every push type but VoIP.
pub const MAX_PAYLOAD: usize = 4096;
/// Payload limit for `apns-push-type: voip`.
pub const MAX_PAYLOAD_VOIP: usize = 5120;
/// Longest `apns-collapse-id`, in bytes.
pub const MAX_COLLAPSE_ID: usize = 64;

/// A provider-token signing key the mock trusts.
#[derive(Debug, Clone)]
pub struct ApnsKey {
    pub key_id: String,
    pub team_id: String,
    pub public_key: p256::ecdsa::VerifyingKey,
}

impl ApnsKey {
    pub fn from_credentials(c: &ApnsCredentials) -> Self {
        Self {
            key_id: c.key_id.clone(),
            team_id: c.team_id.clone(),
            public_key: c.verifying_key(),
        }
    }

    /// From the public key in SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_public_pem(key_id: &str, team_id: &str, pem: &str) -> Option<Self> {
        use p256::pkcs8::DecodePublicKey;
        let pk = p256::PublicKey::from_public_key_pem(pem).ok()?;
        Some(Self {
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            public_key: pk.into(),
        })
    }
}

/// What the APNs mock accepts.
#[derive(Debug, Clone)]
pub struct ApnsMockConfig {
    /// Trusted signing keys (`kid` → team).
    pub keys: Vec<ApnsKey>,
    /// `(team_id, bundle_id)` pairs: a team may push to its own bundle ids (plus the push-type
    /// suffixes) only.
    pub topics: Vec<(String, String)>,
    /// Tokens whose `iat` is older than this are `ExpiredProviderToken` (Apple: 1 hour).
    pub max_token_age: Duration,
    /// A new provider token (new `iat`) for a key sooner than this after the previous new one is
    /// `429 TooManyProviderTokenUpdates` (Apple: 20 minutes). `Duration::ZERO` disables the rule.
    pub min_token_refresh: Duration,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (APNs has been seen at 500 and 1500).
    pub max_concurrent_streams: u32,
    /// Development environment: adds `apns-unique-id` to successful responses.
    pub sandbox: bool,
    /// How many accepted pushes are kept for [`ApnsMock::pushes`] (the newest; all are counted).
    pub max_recorded: usize,
}

impl ApnsMockConfig {
    /// Trusts `creds`' key and allows its bundle id.
    pub fn for_credentials(creds: &ApnsCredentials) -> Self {
        Self {
            keys: vec![ApnsKey::from_credentials(creds)],
            topics: vec![(creds.team_id.clone(), creds.bundle_id.clone())],
            max_token_age: Duration::from_secs(3600),
            min_token_refresh: Duration::from_secs(20 * 60),
            max_concurrent_streams: 1000,
            sandbox: false,
            max_recorded: 100_000,
        }
    }
}

/// A scripted answer for a request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApnsOutcome {
    /// 410 `Unregistered` with `timestamp` (ms since epoch) of when the token became invalid.
    Unregistered { timestamp_ms: i64 },
    /// 410 `ExpiredToken` with `timestamp`.
    ExpiredToken { timestamp_ms: i64 },
    /// 400 `BadDeviceToken` (e.g. a sandbox token sent to production).
    BadDeviceToken,
    /// 400 `DeviceTokenNotForTopic`.
    DeviceTokenNotForTopic,
    /// 429 `TooManyRequests` (same device too often). APNs documents no `Retry-After`; set one
    /// only to test a client's handling of it.
    TooManyRequests { retry_after_secs: Option<u64> },
    /// 500 `InternalServerError`.
    InternalServerError,
    /// 503 `ServiceUnavailable`.
    ServiceUnavailable { retry_after_secs: Option<u64> },
    /// 503 `Shutdown`.
    Shutdown,
}

/// A push the mock accepted (200).
#[derive(Debug, Clone)]
pub struct ApnsPush {
    pub apns_id: String,
    pub device_token: String,
    pub topic: String,
    pub push_type: String,
    pub priority: u8,
    pub expiration: Option<u64>,
    pub collapse_id: Option<String>,
    pub team_id: String,
    pub key_id: String,
    pub payload: Value,
    pub payload_len: usize,
    pub received_at_ms: i64,
}

#[derive(Debug, Default)]
struct KeyTokens {
    /// `(iat, adopted_at_ms)` of provider tokens in use for one key.
    adopted: Vec<(i64, i64)>,
}

#[derive(Debug)]
pub(crate) struct ApnsState {
    config: ApnsMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<ApnsOutcome>,
    pushes: Recorder<ApnsPush>,
    /// Provider tokens whose signature already checked out: `jwt → (team, kid, iat)`.
    verified: Mutex<HashMap<String, (String, String, i64)>>,
    tokens: Mutex<HashMap<String, KeyTokens>>,
    devices: Mutex<HashMap<String, String>>,
    requests: AtomicU64,
}

/// A handle on a running APNs mock: script it and inspect what it accepted. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApnsMock {
    state: Arc<ApnsState>,
}

impl ApnsMock {
    pub(crate) fn new(config: ApnsMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(ApnsState {
                config,
                clock,
                script: Script::new(),
                pushes: Recorder::new(max_recorded),
                verified: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                devices: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn router(&self) -> Router {
        Router::new()
            .fallback(handle)
            .with_state(self.state.clone())
    }

    pub(crate) fn max_concurrent_streams(&self) -> u32 {
        self.state.config.max_concurrent_streams
    }

    /// The accepted pushes kept so far (the newest `max_recorded`), in arrival order.
    pub fn pushes(&self) -> Vec<ApnsPush> {
        self.state.pushes.snapshot()
    }

    /// Returns and forgets the kept pushes (the count is not reset).
    pub fn take_pushes(&self) -> Vec<ApnsPush> {
        self.state.pushes.take()
    }

    /// Pushes accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn push_count(&self) -> usize {
        self.state.pushes.accepted() as usize
    }

    /// Requests received, accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Marks `token` as uninstalled now: every later push gets 410 `Unregistered`.
    pub fn unregister(&self, token: &str) {
        let timestamp_ms = self.state.clock.now_ms();
        self.set_token_outcome(token, ApnsOutcome::Unregistered { timestamp_ms });
    }

    /// Scripts the answer for one device token (until cleared).
    pub fn set_token_outcome(&self, token: &str, outcome: ApnsOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    /// The next `n` valid requests (any token) get `outcome`.
    pub fn fail_next(&self, n: usize, outcome: ApnsOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    /// Every valid request gets `outcome` until called with `None`.
    pub fn fail_all(&self, outcome: Option<ApnsOutcome>) {
        self.state.script.fail_all(outcome);
    }

    /// Added to every response (a round-trip time).
    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Added, on top of the global latency, to responses for one token.
    pub fn set_token_latency(&self, token: &str, d: Option<Duration>) {
        self.state.script.set_token_latency(token, d);
    }

    /// Binds a device token to one topic: a push for it under another topic is 400
    /// `DeviceTokenNotForTopic`. Unbound tokens are accepted for any allowed topic.
    pub fn register_device(&self, token: &str, topic: &str) {
        self.state
            .devices
            .lock()
            .insert(token.to_ascii_lowercase(), topic.to_owned());
    }

    /// Clears scripts, latency, recorded pushes and the provider-token history.
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.pushes.clear();
        self.state.tokens.lock().clear();
    }
}

fn reason(status: StatusCode, reason: &str, apns_id: Option<&HeaderValue>) -> Response {
    reason_body(status, json!({ "reason": reason }), apns_id, None)
}

fn reason_body(
    status: StatusCode,
    body: Value,
    apns_id: Option<&HeaderValue>,
    retry_after: Option<u64>,
) -> Response {
    let mut resp = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(id) = apns_id {
        resp.headers_mut().insert("apns-id", id.clone());
    }
    if let Some(s) = retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(s));
    }
    resp
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The topic suffix each push type requires (Apple's `apns-topic` rules).
fn topic_suffix(push_type: &str) -> Option<&'static str> {
    Some(match push_type {
        "alert" | "background" | "mdm" => "",
        "voip" => ".voip",
        "complication" => ".complication",
        "fileprovider" => ".pushkit.fileprovider",
        "location" => ".location-query",
        "liveactivity" => ".push-type.liveactivity",
        "pushtotalk" => ".voip-ptt",
        _ => return None,
    })
}

const ALL_SUFFIXES: [&str; 6] = [
    ".voip",
    ".complication",
    ".pushkit.fileprovider",
    ".location-query",
    ".push-type.liveactivity",
    ".voip-ptt",
];

const CHECKED_HEADERS: [&str; 7] = [
    "authorization",
    "apns-id",
    "apns-topic",
    "apns-push-type",
    "apns-priority",
    "apns-expiration",
    "apns-collapse-id",
];

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(State(st): State<Arc<ApnsState>>, req: Request) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let client_id = headers.get("apns-id");

    let path_token = parts.uri.path().strip_prefix("/3/device/");
    let latency = st.script.latency(path_token);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if parts.method != Method::POST {
        return reason(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            client_id,
        );
    }
    let Some(device_token) = path_token else {
        return reason(StatusCode::NOT_FOUND, "BadPath", client_id);
    };
    if device_token.is_empty() {
        return reason(StatusCode::BAD_REQUEST, "MissingDeviceToken", client_id);
    }
    if CHECKED_HEADERS
        .iter()
        .any(|h| headers.get_all(*h).iter().count() > 1)
    {
        return reason(StatusCode::BAD_REQUEST, "DuplicateHeaders", client_id);
    }
    if let Some(id) = client_id {
        if !id.to_str().is_ok_and(is_uuid) {
            return reason(StatusCode::BAD_REQUEST, "BadMessageId", None);
        }
    }

    // Provider token.
    let (team_id, key_id) = match check_provider_token(&st, headers) {
        Ok(ids) => ids,
        Err((status, r)) => return reason(status, r, client_id),
    };

    // Device token: hex, 32 bytes or more (production and sandbox tokens are 64 hex digits).
    if device_token.len() < 64
        || device_token.len() > 200
        || device_token.len() % 2 != 0
        || !device_token.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return reason(StatusCode::BAD_REQUEST, "BadDeviceToken", client_id);
    }

    // Push type and topic.
    let push_type = header_str(headers, "apns-push-type").unwrap_or("alert");
    let Some(suffix) = topic_suffix(push_type) else {
        return reason(StatusCode::BAD_REQUEST, "InvalidPushType", client_id);
    };
    let Some(topic) = header_str(headers, "apns-topic").filter(|t| !t.is_empty()) else {
        return reason(StatusCode::BAD_REQUEST, "MissingTopic", client_id);
    };
    let base = ALL_SUFFIXES
        .iter()
        .find_map(|s| topic.strip_suffix(s))
        .unwrap_or(topic);
    let team_owns = |bundle: &str| {
        st.config
            .topics
            .iter()
            .any(|(t, b)| *t == team_id && b == bundle)
    };
    if !team_owns(base) {
        return reason(StatusCode::BAD_REQUEST, "TopicDisallowed", client_id);
    }
    if topic != format!("{base}{suffix}") {
        return reason(StatusCode::BAD_REQUEST, "BadTopic", client_id);
    }

    let default_priority = if push_type == "background" { 5 } else { 10 };
    let priority = match header_str(headers, "apns-priority") {
        None => default_priority,
        Some(p) => match p.parse::<u8>() {
            Ok(p @ (1 | 5 | 10)) => p,
            _ => return reason(StatusCode::BAD_REQUEST, "BadPriority", client_id),
        },
    };
    if push_type == "background" && priority == 10 {
        return reason(StatusCode::BAD_REQUEST, "BadPriority", client_id);
    }
    let expiration = match headers.get("apns-expiration") {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|s| s.parse::<u64>().ok()) {
            Some(e) => Some(e),
            None => return reason(StatusCode::BAD_REQUEST, "BadExpirationDate", client_id),
        },
    };
    let collapse_id = match headers.get("apns-collapse-id") {
        None => None,
        Some(v) if v.len() > MAX_COLLAPSE_ID => {
            return reason(StatusCode::BAD_REQUEST, "BadCollapseId", client_id)
        }
        Some(v) => Some(String::from_utf8_lossy(v.as_bytes()).into_owned()),
    };

    // Payload.
    let limit = if push_type == "voip" {
        MAX_PAYLOAD_VOIP
    } else {
        MAX_PAYLOAD
    };
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), limit + 1).await else {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", client_id);
    };
    if bytes.len() > limit {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", client_id);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return reason(StatusCode::BAD_REQUEST, "PayloadEmpty", client_id);
    }
    let payload: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) if v.get("aps").is_some_and(Value::is_object) => v,
        // Apple lists no reason for a malformed payload; "BadPayload" is our choice (inferred).
        _ => return reason(StatusCode::BAD_REQUEST, "BadPayload", client_id),
    };

    let token_lc = device_token.to_ascii_lowercase();
    if let Some(bound) = st.devices.lock().get(&token_lc) {
        if bound != topic {
            return reason(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic", client_id);
        }
    }

    if let Some(outcome) = st.script.outcome(Some(device_token)) {
        return scripted(outcome, client_id);
    }

    let apns_id = match client_id {
        Some(v) => v.to_str().unwrap_or_default().to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    st.pushes.record(ApnsPush {
        apns_id: apns_id.clone(),
        device_token: device_token.to_owned(),
        topic: topic.to_owned(),
        push_type: push_type.to_owned(),
        priority,
        expiration,
        collapse_id,
        team_id,
        key_id,
        payload,
        payload_len: bytes.len(),
        received_at_ms: st.clock.now_ms(),
    });
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&apns_id) {
        resp.headers_mut().insert("apns-id", v);
    }
    if st.config.sandbox {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert("apns-unique-id", v);
        }
    }
    resp
}

fn scripted(outcome: ApnsOutcome, id: Option<&HeaderValue>) -> Response {
    use ApnsOutcome::*;
    match outcome {
        Unregistered { timestamp_ms } => reason_body(
            StatusCode::GONE,
            json!({"reason": "Unregistered", "timestamp": timestamp_ms}),
            id,
            None,
        ),
        ExpiredToken { timestamp_ms } => reason_body(
            StatusCode::GONE,
            json!({"reason": "ExpiredToken", "timestamp": timestamp_ms}),
            id,
            None,
        ),
        BadDeviceToken => reason(StatusCode::BAD_REQUEST, "BadDeviceToken", id),
        DeviceTokenNotForTopic => reason(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic", id),
        TooManyRequests { retry_after_secs } => reason_body(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"reason": "TooManyRequests"}),
            id,
            retry_after_secs,
        ),
        InternalServerError => reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", id),
        ServiceUnavailable { retry_after_secs } => reason_body(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"reason": "ServiceUnavailable"}),
            id,
            retry_after_secs,
        ),
        Shutdown => reason(StatusCode::SERVICE_UNAVAILABLE, "Shutdown", id),
    }
}

/// Checks `authorization: bearer <jwt>`; returns `(team_id, key_id)` or the 403/429 reason.
fn check_provider_token(
    st: &ApnsState,
    headers: &HeaderMap,
) -> Result<(String, String), (StatusCode, &'static str)> {
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    let Some(auth) = headers.get("authorization") else {
        return Err((FORBIDDEN, "MissingProviderToken"));
    };
    let auth = auth
        .to_str()
        .map_err(|_| (FORBIDDEN, "InvalidProviderToken"))?;
    let jwt = auth
        .strip_prefix("bearer ")
        .or_else(|| auth.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or((FORBIDDEN, "MissingProviderToken"))?;
    // Clients reuse one token for up to an hour: verify each signature once.
    let cached = st.verified.lock().get(jwt).cloned();
    let (team_id, key_id, iat) = match cached {
        Some(v) => v,
        None => {
            let v = verify_provider_token(st, jwt)?;
            let mut cache = st.verified.lock();
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(jwt.to_owned(), v.clone());
            v
        }
    };
    let kid = key_id.as_str();
    let now_ms = st.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let max_age = st.config.max_token_age.as_secs() as i64;
    if now - iat > max_age {
        return Err((FORBIDDEN, "ExpiredProviderToken"));
    }
    // A token issued in the future (beyond a minute of clock skew) is not valid (inferred).
    if iat - now > 60 {
        return Err((FORBIDDEN, "InvalidProviderToken"));
    }

    // Refresh rule: a new token (new iat) for a key no sooner than `min_token_refresh` after the
    // previous new one. Tokens already adopted stay usable until they expire, so several
    // connections may briefly overlap old and new tokens.
    let min_refresh = st.config.min_token_refresh.as_millis() as i64;
    if min_refresh > 0 {
        let mut tokens = st.tokens.lock();
        let entry = tokens.entry(kid.to_owned()).or_default();
        entry.adopted.retain(|(i, _)| now - i <= max_age);
        if !entry.adopted.iter().any(|(i, _)| *i == iat) {
            let last = entry.adopted.iter().map(|(_, at)| *at).max();
            if last.is_some_and(|at| now_ms - at < min_refresh) {
                return Err((StatusCode::TOO_MANY_REQUESTS, "TooManyProviderTokenUpdates"));
            }
            entry.adopted.push((iat, now_ms));
        }
    }
    Ok((team_id, key_id))
}

/// Parses and verifies a provider token; returns `(team_id, key_id, iat)`.
fn verify_provider_token(
    st: &ApnsState,
    jwt: &str,
) -> Result<(String, String, i64), (StatusCode, &'static str)> {
    const INVALID: (StatusCode, &str) = (StatusCode::FORBIDDEN, "InvalidProviderToken");
    let jwt = ParsedJwt::parse(jwt).ok_or(INVALID)?;
    if jwt.header_str("alg") != Some("ES256") {
        return Err(INVALID);
    }
    let kid = jwt.header_str("kid").ok_or(INVALID)?;
    let iss = jwt.claim_str("iss").ok_or(INVALID)?;
    let iat = jwt.claim_secs("iat").ok_or(INVALID)?;
    let key = st
        .config
        .keys
        .iter()
        .find(|k| k.key_id == kid)
        .ok_or(INVALID)?;
    if key.team_id != iss || !jwt.verify_es256(&key.public_key) {
        return Err(INVALID);
    }
    Ok((key.team_id.clone(), key.key_id.clone(), iat))
}
