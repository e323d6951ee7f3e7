//! The OPPO Push (OPUSH) stand-in: `POST /server/v1/auth`, unicast, and the
//! two-step broadcast (`save_message_content` then `broadcast`). Every call is
//! `application/x-www-form-urlencoded` and every answer is HTTP 200 with
//! `{"code": n, "message": "…", "data": …}` (scripted HTTP errors aside).
//!
//! # Codes
//!
//! Codes 0, 11 and 10000 are verified; the others are OPPO's public return-code table as
//! remembered, marked **(inferred)**:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | -1 | Service Currently Unavailable (inferred; scripted only) |
//! | -2 | Service in Flow Control (inferred; scripted only) |
//! | 11 | Invalid AuthToken: missing, unknown, expired, or another app's |
//! | 14 | Invalid App Key: unknown `app_key` (inferred) |
//! | 16 | Invalid Signature: `sign` ≠ sha256(app_key + timestamp + master_secret) (inferred) |
//! | 19 | Invalid Timestamp: not ms digits, or more than the window (±10 min, inferred) away (inferred) |
//! | 33 | Message Count Limited: the app's daily quota is used up (inferred) |
//! | 40 | Missing Required Arguments (inferred) |
//! | 41 | Invalid Arguments: a field out of its limits (inferred) |
//! | 10000 | Invalid RegistrationId (unicast code; broadcast `data["10000"]` list) |
//!
//! # Checks, in order
//!
//! **Every call**: body must be `application/x-www-form-urlencoded` (else 40, the fields cannot
//! be read); POST only (axum answers 405 otherwise); unknown paths 404.
//!
//! **`POST /server/v1/auth`** (`app_key`, `timestamp`, `sign`): any missing 40; unknown app 14;
//! `timestamp` not an integer or farther than [`OppoMockConfig::timestamp_window`] from the
//! mock's clock 19; `sign` not the lowercase (case is not enforced) hex sha256 of
//! `app_key + timestamp + master_secret` 16. Success:
//! `{"code":0,"message":"success","data":{"auth_token":"…","create_time":<ms>}}`; the token lives
//! [`OppoMockConfig::auth_token_lifetime`] (24 h) by the clock.
//!
//! **Push calls** first check the `auth_token` form field (missing, unknown, expired → 11).
//!
//! **`POST /server/v1/message/notification/unicast`** (`auth_token`, `message`): `message`
//! missing 40; not a JSON object 41; `target_type` must be 2 (registration id; alias targeting is
//! not modelled) 41; `target_value` one non-empty id without `;` or `,` 41; `notification` object
//! missing 40, then the notification checks below. Then the daily quota (33), latency, scripted
//! outcome, and success `{"code":0,"message":"Success","data":{"messageId":"…"}}`.
//!
//! **`POST /server/v1/message/notification/save_message_content`** (`auth_token` + the
//! notification fields as form fields): the notification checks; success
//! `{"code":0,"message":"Success","data":{"message_id":"…"}}`. The newest
//! [`OppoMockConfig::max_saved_messages`] contents are kept.
//!
//! **`POST /server/v1/message/notification/broadcast`** (`auth_token`, `message_id`,
//! `target_type`, `target_value`): any missing 40; `message_id` unknown or saved by another app
//! 41; `target_type` must be 2 41; `target_value` ids separated by `;`, each non-empty, at most
//! [`OppoMockConfig::max_targets`] (1000) 41. Then quota, latency, scripted outcomes, and
//! `{"code":0,"message":"Success","data":{"message_id","task_id", "<code>": [ids…]}}` where each
//! error code lists the ids that failed with it (dead tokens under `"10000"`).
//!
//! **Notification checks** (both forms; numbers may be JSON numbers or digit strings): `title`
//! required, 1..=[`OppoMockConfig::title_max`] (50) characters; `content` required,
//! 1..=[`OppoMockConfig::content_max`] (200) characters; `sub_title` ≤ 10; `style` ∈ {1, 2, 3};
//! `click_action_type` ∈ {0, 1, 2, 4, 5}, types 1 and 4 need `click_action_activity`, 2 and 5
//! need `click_action_url` (40); `click_action_url`/`click_action_activity` ≤ 500;
//! `action_parameters` a JSON object *as a string*, ≤ 4000 characters; `off_line` a boolean;
//! `off_line_ttl` 0..=864000 s (10 days); `call_back_url` ≤ 200, `call_back_parameter` ≤ 50.
//! All violations are 41 unless a required field is missing (40).
//!
//! **Quota**: [`OppoMockConfig::daily_quota`] accepted tokens per app per China (UTC+8) day; a
//! request whose tokens would pass it is refused whole with 33.
//!
//! **Scripting** ([`OppoOutcome`]), applied only to requests that passed every check: a queued
//! ([`OppoMock::fail_next`]) or global ([`OppoMock::fail_all`]) outcome answers the whole request
//! (a per-token kind applied to a broadcast lists every id under its code); otherwise each token's
//! own outcome: on unicast it is the answer, on broadcast per-token kinds list the id under their
//! code and request kinds (busy, HTTP error, expired token, quota) answer the whole request.

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use openpush_core::Clock;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::script::{Recorder, Script};

pub const AUTH_PATH: &str = "/server/v1/auth";
pub const UNICAST_PATH: &str = "/server/v1/message/notification/unicast";
pub const SAVE_MESSAGE_PATH: &str = "/server/v1/message/notification/save_message_content";
pub const BROADCAST_PATH: &str = "/server/v1/message/notification/broadcast";

pub const CODE_OK: i64 = 0;
pub const CODE_SERVICE_UNAVAILABLE: i64 = -1;
pub const CODE_FLOW_CONTROL: i64 = -2;
pub const CODE_INVALID_AUTH_TOKEN: i64 = 11;
pub const CODE_INVALID_APP_KEY: i64 = 14;
pub const CODE_INVALID_SIGNATURE: i64 = 16;
pub const CODE_INVALID_TIMESTAMP: i64 = 19;
pub const CODE_MESSAGE_COUNT_LIMITED: i64 = 33;
pub const CODE_MISSING_ARGUMENTS: i64 = 40;
pub const CODE_INVALID_ARGUMENTS: i64 = 41;
pub const CODE_INVALID_REGISTRATION_ID: i64 = 10000;

/// One OPPO app the mock knows. `Debug` never prints the master secret.
#[derive(Clone)]
pub struct OppoApp {
    pub app_key: String,
    pub master_secret: String,
}

impl fmt::Debug for OppoApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OppoApp")
            .field("app_key", &self.app_key)
            .field("master_secret", &"<redacted>")
            .finish()
    }
}

/// What the OPPO mock accepts.
#[derive(Debug, Clone)]
pub struct OppoMockConfig {
    pub apps: Vec<OppoApp>,
    /// Life of an `auth_token` (OPPO: 24 h).
    pub auth_token_lifetime: Duration,
    /// How far the auth `timestamp` may be from the mock's clock (inferred: ±10 min).
    pub timestamp_window: Duration,
    /// Longest `title`, in characters (OPPO: 50).
    pub title_max: usize,
    /// Longest `content`, in characters (OPPO: 200 for the standard style).
    pub content_max: usize,
    /// Most registration ids in one broadcast `target_value` (OPPO: 1000).
    pub max_targets: usize,
    /// Accepted tokens per app per day; `None` = unlimited.
    pub daily_quota: Option<u64>,
    /// How many accepted pushes are kept for [`OppoMock::pushes`] (all are counted).
    pub max_recorded: usize,
    /// How many saved message contents are kept for broadcasts (the newest).
    pub max_saved_messages: usize,
}

impl OppoMockConfig {
    /// One test app with a random app key and master secret, OPPO's limits.
    pub fn for_tests() -> Self {
        Self {
            apps: vec![OppoApp {
                app_key: random_hex(32),
                master_secret: random_hex(32),
            }],
            auth_token_lifetime: Duration::from_secs(24 * 3600),
            timestamp_window: Duration::from_secs(600),
            title_max: 50,
            content_max: 200,
            max_targets: 1000,
            daily_quota: None,
            max_recorded: 100_000,
            max_saved_messages: 100_000,
        }
    }

    /// The first app's credentials as a notifier stores them (`VendorKind::Oppo` fields).
    pub fn notifier_credentials(&self) -> Value {
        let app = &self.apps[0];
        json!({"app_key": app.app_key, "master_secret": app.master_secret})
    }
}

/// A scripted answer for a push that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OppoOutcome {
    /// Code 10000 Invalid RegistrationId (a dead token; broadcast: listed under `"10000"`).
    InvalidRegistrationId,
    /// Another per-token error code (broadcast: listed under `"<code>"`).
    Refused { code: i64, message: String },
    /// Code -2 Service in Flow Control (whole request).
    FlowControl,
    /// Code -1 Service Currently Unavailable (whole request).
    ServiceUnavailable,
    /// An HTTP error status (e.g. 503, 429), `Retry-After` if given (whole request).
    Http {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Code 11 Invalid AuthToken, although the token is valid (whole request).
    AuthTokenExpired,
    /// Code 33 Message Count Limited (whole request).
    QuotaExceeded,
}

impl OppoOutcome {
    fn per_token(&self) -> Option<(i64, String)> {
        match self {
            Self::InvalidRegistrationId => Some((
                CODE_INVALID_REGISTRATION_ID,
                "Invalid RegistrationId".into(),
            )),
            Self::Refused { code, message } => Some((*code, message.clone())),
            _ => None,
        }
    }
}

/// Which call delivered a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OppoSendKind {
    Unicast,
    Broadcast,
}

/// A push the mock accepted (one per token).
#[derive(Debug, Clone)]
pub struct OppoPush {
    pub app_key: String,
    pub token: String,
    pub title: String,
    pub body: String,
    /// Unicast: the `notification` object as sent. Broadcast: the saved content's form fields
    /// (strings, as sent).
    pub payload: Value,
    pub kind: OppoSendKind,
    /// Unicast: `messageId`; broadcast: the saved `message_id`.
    pub message_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone)]
struct AuthToken {
    app_key: String,
    expires_at_ms: i64,
}

#[derive(Debug, Clone)]
struct Saved {
    app_key: String,
    fields: Map<String, Value>,
}

#[derive(Debug, Default)]
struct SavedStore {
    by_id: HashMap<String, Saved>,
    order: VecDeque<String>,
}

#[derive(Debug)]
struct OppoState {
    config: OppoMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<OppoOutcome>,
    auth_tokens: Mutex<HashMap<String, AuthToken>>,
    saved: Mutex<SavedStore>,
    quota: Mutex<HashMap<String, (i64, u64)>>,
    pushes: Recorder<OppoPush>,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

/// A handle on an OPPO mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OppoMock {
    state: Arc<OppoState>,
}

impl OppoMock {
    pub fn new(config: OppoMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(OppoState {
                config,
                clock,
                script: Script::new(),
                auth_tokens: Mutex::new(HashMap::new()),
                saved: Mutex::new(SavedStore::default()),
                quota: Mutex::new(HashMap::new()),
                pushes: Recorder::new(max_recorded),
                tokens_issued: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// The routes of `api.push.oppomobile.com` this mock serves.
    pub fn router(&self) -> Router {
        Router::new()
            .route(AUTH_PATH, post(auth))
            .route(UNICAST_PATH, post(unicast))
            .route(SAVE_MESSAGE_PATH, post(save_message_content))
            .route(BROADCAST_PATH, post(broadcast))
            .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &OppoMockConfig {
        &self.state.config
    }

    /// The first app's credentials as a notifier stores them.
    pub fn notifier_credentials(&self) -> Value {
        self.state.config.notifier_credentials()
    }

    /// Accepted pushes kept so far (the newest `max_recorded`), in arrival order.
    pub fn pushes(&self) -> Vec<OppoPush> {
        self.state.pushes.snapshot()
    }

    /// Tokens accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn push_count(&self) -> u64 {
        self.state.pushes.accepted()
    }

    /// Requests received on every path (auth included), accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// `auth_token`s issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::Relaxed)
    }

    /// Makes every issued `auth_token` invalid (the next push with one is code 11).
    pub fn expire_auth_tokens(&self) {
        self.state.auth_tokens.lock().clear();
    }

    /// Makes `token` dead: every later push to it is code 10000.
    pub fn unregister(&self, token: &str) {
        self.set_token_outcome(token, OppoOutcome::InvalidRegistrationId);
    }

    pub fn set_token_outcome(&self, token: &str, outcome: OppoOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    pub fn fail_next(&self, n: usize, outcome: OppoOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    pub fn fail_all(&self, outcome: Option<OppoOutcome>) {
        self.state.script.fail_all(outcome);
    }

    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, latency, recorded pushes, counters and quota (auth tokens stay valid).
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.pushes.clear();
        self.state.quota.lock().clear();
        self.state.requests.store(0, Ordering::Relaxed);
        self.state.tokens_issued.store(0, Ordering::Relaxed);
    }
}

fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn reply(code: i64, message: &str, data: Option<Value>) -> Response {
    let mut body = json!({"code": code, "message": message});
    if let Some(d) = data {
        body["data"] = d;
    }
    Json(body).into_response()
}

fn missing(what: &str) -> Response {
    reply(
        CODE_MISSING_ARGUMENTS,
        &format!("Missing Required Arguments: {what}"),
        None,
    )
}

fn invalid(what: &str) -> Response {
    reply(
        CODE_INVALID_ARGUMENTS,
        &format!("Invalid Arguments: {what}"),
        None,
    )
}

/// The form fields of a request, or 40 when the body is not a form.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Response> {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(missing(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

fn required<'a>(f: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Response> {
    f.get(name)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| missing(name))
}

fn sign(app_key: &str, timestamp: &str, master_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(app_key.as_bytes());
    h.update(timestamp.as_bytes());
    h.update(master_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

async fn auth(State(st): State<Arc<OppoState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let f = match form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (app_key, timestamp, signature) = match (
        required(&f, "app_key"),
        required(&f, "timestamp"),
        required(&f, "sign"),
    ) {
        (Ok(a), Ok(t), Ok(s)) => (a, t, s),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let Some(app) = st.config.apps.iter().find(|a| a.app_key == app_key) else {
        return reply(CODE_INVALID_APP_KEY, "Invalid App Key", None);
    };
    let now = st.clock.now_ms();
    let window = st.config.timestamp_window.as_millis() as i64;
    match timestamp.parse::<i64>() {
        Ok(ts) if (ts - now).abs() <= window => {}
        _ => return reply(CODE_INVALID_TIMESTAMP, "Invalid Timestamp", None),
    }
    if !sign(app_key, timestamp, &app.master_secret).eq_ignore_ascii_case(signature) {
        return reply(CODE_INVALID_SIGNATURE, "Invalid Signature", None);
    }
    let token = random_hex(40);
    st.auth_tokens.lock().insert(
        token.clone(),
        AuthToken {
            app_key: app.app_key.clone(),
            expires_at_ms: now + st.config.auth_token_lifetime.as_millis() as i64,
        },
    );
    st.tokens_issued.fetch_add(1, Ordering::Relaxed);
    reply(
        CODE_OK,
        "success",
        Some(json!({"auth_token": token, "create_time": now})),
    )
}

/// The app of a valid `auth_token` field, or 11.
fn authenticate(st: &OppoState, f: &HashMap<String, String>) -> Result<String, Response> {
    let bad = || reply(CODE_INVALID_AUTH_TOKEN, "Invalid AuthToken", None);
    let token = f
        .get("auth_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(bad)?;
    let now = st.clock.now_ms();
    let tokens = st.auth_tokens.lock();
    match tokens.get(token) {
        Some(t) if t.expires_at_ms > now => Ok(t.app_key.clone()),
        _ => Err(bad()),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The notification checks (module docs); `n` holds JSON values or form strings.
fn check_notification(cfg: &OppoMockConfig, n: &Map<String, Value>) -> Result<(), Response> {
    let get = |k: &str| n.get(k).filter(|v| !v.is_null());
    let len_max = |k: &str, max: usize| -> Result<(), Response> {
        if let Some(v) = get(k) {
            let Some(s) = text(v) else {
                return Err(invalid(&format!("{k} must be a string")));
            };
            if s.chars().count() > max {
                return Err(invalid(&format!("{k} is longer than {max} characters")));
            }
        }
        Ok(())
    };
    let int_in = |k: &str, ok: &dyn Fn(i64) -> bool| -> Result<Option<i64>, Response> {
        match get(k) {
            None => Ok(None),
            Some(v) => match int(v) {
                Some(i) if ok(i) => Ok(Some(i)),
                _ => Err(invalid(&format!("{k} has an invalid value {v}"))),
            },
        }
    };
    for k in ["title", "content"] {
        if get(k).and_then(text).is_none_or(|s| s.trim().is_empty()) {
            return Err(missing(k));
        }
    }
    len_max("title", cfg.title_max)?;
    len_max("content", cfg.content_max)?;
    len_max("sub_title", 10)?;
    int_in("style", &|i| matches!(i, 1..=3))?;
    let click = int_in("click_action_type", &|i| matches!(i, 0 | 1 | 2 | 4 | 5))?;
    len_max("click_action_activity", 500)?;
    len_max("click_action_url", 500)?;
    let has = |k: &str| get(k).and_then(text).is_some_and(|s| !s.is_empty());
    match click {
        Some(1 | 4) if !has("click_action_activity") => {
            return Err(missing("click_action_activity"))
        }
        Some(2 | 5) if !has("click_action_url") => return Err(missing("click_action_url")),
        _ => {}
    }
    if let Some(p) = get("action_parameters") {
        let ok = p.as_str().is_some_and(|s| {
            s.chars().count() <= 4000
                && serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object())
        });
        if !ok {
            return Err(invalid(
                "action_parameters must be a JSON object as a string of at most 4000 characters",
            ));
        }
    }
    if let Some(v) = get("off_line") {
        let ok =
            matches!(v, Value::Bool(_)) || v.as_str().is_some_and(|s| s == "true" || s == "false");
        if !ok {
            return Err(invalid("off_line must be true or false"));
        }
    }
    int_in("off_line_ttl", &|i| (0..=864_000).contains(&i))?;
    len_max("call_back_url", 200)?;
    len_max("call_back_parameter", 50)?;
    Ok(())
}

/// China (UTC+8) day number of `ms`.
fn day(ms: i64) -> i64 {
    (ms + 8 * 3_600_000).div_euclid(86_400_000)
}

/// Takes `n` tokens from the app's daily quota, or answers 33.
fn take_quota(st: &OppoState, app: &str, n: u64, now: i64) -> Result<(), Response> {
    let Some(limit) = st.config.daily_quota else {
        return Ok(());
    };
    let mut q = st.quota.lock();
    let (d, used) = q.entry(app.to_owned()).or_insert((day(now), 0));
    if *d != day(now) {
        *d = day(now);
        *used = 0;
    }
    if *used + n > limit {
        return Err(reply(
            CODE_MESSAGE_COUNT_LIMITED,
            "Message Count Limited: the daily quota is used up",
            None,
        ));
    }
    *used += n;
    Ok(())
}

fn request_outcome(o: &OppoOutcome) -> Response {
    match o {
        OppoOutcome::InvalidRegistrationId => {
            reply(CODE_INVALID_REGISTRATION_ID, "Invalid RegistrationId", None)
        }
        OppoOutcome::Refused { code, message } => reply(*code, message, None),
        OppoOutcome::FlowControl => reply(CODE_FLOW_CONTROL, "Service in Flow Control", None),
        OppoOutcome::ServiceUnavailable => reply(
            CODE_SERVICE_UNAVAILABLE,
            "Service Currently Unavailable",
            None,
        ),
        OppoOutcome::Http {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (status, status.canonical_reason().unwrap_or("error")).into_response();
            if let Some(s) = retry_after_secs {
                r.headers_mut().insert("retry-after", HeaderValue::from(*s));
            }
            r
        }
        OppoOutcome::AuthTokenExpired => reply(CODE_INVALID_AUTH_TOKEN, "Invalid AuthToken", None),
        OppoOutcome::QuotaExceeded => reply(
            CODE_MESSAGE_COUNT_LIMITED,
            "Message Count Limited: the daily quota is used up",
            None,
        ),
    }
}

fn field_text(n: &Map<String, Value>, k: &str) -> String {
    n.get(k).and_then(text).unwrap_or_default()
}

async fn unicast(State(st): State<Arc<OppoState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let f = match form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let app = match authenticate(&st, &f) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let raw = match required(&f, "message") {
        Ok(m) => m,
        Err(r) => return r,
    };
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(raw) else {
        return invalid("message must be a JSON object");
    };
    if message.get("target_type").and_then(int) != Some(2) {
        return invalid("target_type must be 2 (registration_id)");
    }
    let token = match message.get("target_value").and_then(Value::as_str) {
        Some(t) if !t.trim().is_empty() && !t.contains([';', ',']) => t.to_owned(),
        _ => return invalid("target_value must be one registration id"),
    };
    let Some(Value::Object(notification)) = message.get("notification") else {
        return missing("notification");
    };
    if let Err(r) = check_notification(&st.config, notification) {
        return r;
    }
    let now = st.clock.now_ms();
    if let Err(r) = take_quota(&st, &app, 1, now) {
        return r;
    }
    let latency = st.script.latency(Some(&token));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(o) = st.script.outcome(Some(&token)) {
        return request_outcome(&o);
    }
    let message_id = format!("{}-{}", now, random_hex(16));
    st.pushes.record(OppoPush {
        app_key: app,
        token,
        title: field_text(notification, "title"),
        body: field_text(notification, "content"),
        payload: Value::Object(notification.clone()),
        kind: OppoSendKind::Unicast,
        message_id: message_id.clone(),
        received_at_ms: now,
    });
    reply(CODE_OK, "Success", Some(json!({"messageId": message_id})))
}

async fn save_message_content(
    State(st): State<Arc<OppoState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let f = match form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let app = match authenticate(&st, &f) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let fields: Map<String, Value> = f
        .into_iter()
        .filter(|(k, _)| k != "auth_token")
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if let Err(r) = check_notification(&st.config, &fields) {
        return r;
    }
    let message_id = format!("{}-{}", st.clock.now_ms(), random_hex(16));
    let mut saved = st.saved.lock();
    saved.by_id.insert(
        message_id.clone(),
        Saved {
            app_key: app,
            fields,
        },
    );
    saved.order.push_back(message_id.clone());
    while saved.order.len() > st.config.max_saved_messages.max(1) {
        if let Some(old) = saved.order.pop_front() {
            saved.by_id.remove(&old);
        }
    }
    drop(saved);
    reply(CODE_OK, "Success", Some(json!({"message_id": message_id})))
}

async fn broadcast(State(st): State<Arc<OppoState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let f = match form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let app = match authenticate(&st, &f) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (message_id, target_type, target_value) = match (
        required(&f, "message_id"),
        required(&f, "target_type"),
        required(&f, "target_value"),
    ) {
        (Ok(m), Ok(t), Ok(v)) => (m.to_owned(), t, v),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    let saved = st.saved.lock().by_id.get(&message_id).cloned();
    let Some(saved) = saved.filter(|s| s.app_key == app) else {
        return invalid("message_id does not exist");
    };
    if target_type.trim() != "2" {
        return invalid("target_type must be 2 (registration_id)");
    }
    let tokens: Vec<&str> = target_value.split(';').map(str::trim).collect();
    if tokens.iter().any(|t| t.is_empty()) {
        return invalid("target_value must be registration ids separated by ';'");
    }
    if tokens.len() > st.config.max_targets {
        return invalid(&format!(
            "target_value holds {} ids, at most {} allowed",
            tokens.len(),
            st.config.max_targets
        ));
    }
    let now = st.clock.now_ms();
    if let Err(r) = take_quota(&st, &app, tokens.len() as u64, now) {
        return r;
    }
    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut failed: Map<String, Value> = Map::new();
    let mut list = |code: i64, t: &str| {
        if let Value::Array(a) = failed
            .entry(code.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(json!(t));
        }
    };
    let mut accepted = Vec::new();
    if let Some(o) = st.script.outcome(None) {
        let Some((code, _)) = o.per_token() else {
            return request_outcome(&o);
        };
        for t in &tokens {
            list(code, t);
        }
    } else {
        for t in &tokens {
            match st.script.outcome(Some(t)) {
                None => accepted.push(*t),
                Some(o) => match o.per_token() {
                    Some((code, _)) => list(code, t),
                    None => return request_outcome(&o),
                },
            }
        }
    }
    let title = field_text(&saved.fields, "title");
    let content = field_text(&saved.fields, "content");
    let payload = Value::Object(saved.fields.clone());
    for t in accepted {
        st.pushes.record(OppoPush {
            app_key: app.clone(),
            token: t.to_owned(),
            title: title.clone(),
            body: content.clone(),
            payload: payload.clone(),
            kind: OppoSendKind::Broadcast,
            message_id: message_id.clone(),
            received_at_ms: now,
        });
    }
    let mut data = failed;
    data.insert("message_id".into(), json!(message_id));
    data.insert("task_id".into(), json!(format!("{now}{}", random_hex(8))));
    reply(CODE_OK, "Success", Some(Value::Object(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_lowercase_sha256_hex() {
        // sha256("abc") = ba7816bf…
        assert_eq!(
            sign("a", "b", "c"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn china_day_boundary() {
        // 2024-01-01T16:00:00Z is midnight in China.
        let midnight_cn = 1_704_124_800_000;
        assert_eq!(day(midnight_cn - 1) + 1, day(midnight_cn));
    }
}
