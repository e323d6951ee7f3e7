//! The vivo Push stand-in: `POST /message/auth`, single send
//! (`/message/send`) and the list push (`/message/saveListPayload` then `/message/pushToList`).
//! Bodies are JSON; answers are HTTP 200 with `{"result": n, "desc": "…", …}` (scripted HTTP
//! errors aside).
//!
//! # Codes
//!
//! | result | meaning |
//! |---|---|
//! | 0 | 请求成功 |
//! | 10000 | 权限认证失败: `authToken` header missing, unknown or expired (**inferred**: the code vivo's public table gives for a failed token check; the SDKs re-authenticate on it) |
//! | 10050 | a required parameter is missing (**inferred** code) |
//! | 10051 | a parameter is invalid or out of its limits (**inferred** code) |
//! | 10070 | total send quota exceeded (the daily quota knob) |
//! | 10094 | the body's `appId` is not the token's app |
//! | 10200 | auth: `appId`/`appKey`/`timestamp`/`sign` missing, unknown app, or wrong `appKey` |
//! | 10206 | auth: sign wrong |
//! | 10207 | auth: timestamp illegal (not within ±10 min of the mock's clock) |
//! | 10302 | regId invalid (single send to a dead token) |
//!
//! # Checks, in order
//!
//! **Every call**: POST (axum answers 405 otherwise), `Content-Type: application/json` and a JSON
//! object body, else 10050 (auth: 10200).
//!
//! **`POST /message/auth`** `{"appId": int|string, "appKey", "timestamp": ms, "sign"}`: a field
//! missing, an unknown `appId` or an `appKey` that is not the app's 10200; `timestamp` not an
//! integer or farther than [`VivoMockConfig::timestamp_window`] from the clock 10207; `sign` not
//! the hex md5 (case not enforced) of `appId + appKey + timestamp + appSecret` (trimmed) 10206.
//! Answers `{"result":0,"desc":"请求成功","authToken":"…"}`; the token lives
//! [`VivoMockConfig::auth_token_lifetime`] (1 day) by the clock.
//!
//! **Other calls**: header `authToken` valid and unexpired, else 10000; a body `appId` (sent
//! since API v2.9.2; absent is tolerated) must be the token's app, else 10094.
//!
//! **Payload** (`/message/send` and `/message/saveListPayload`): `requestId` required (10050),
//! ≤ 64 characters (10051); a `requestId` the app already used answers the first answer again and
//! sends nothing (vivo deduplicates by it). `regId` required on `/message/send` only. `title`
//! required, ≤ [`VivoMockConfig::title_max`] (40) characters; `content` required, ≤
//! [`VivoMockConfig::content_max`] (100); `notifyType` required, 1..=4; `skipType` required,
//! 1..=4, with `skipContent` required for 2, 3 and 4 (≤ 1000 characters for a URL, else ≤ 1024);
//! `timeToLive` 60..=604800 s; `networkType` -1 or 1; `classification` 0 or 1; `category` one of
//! vivo's categories and of the `classification`'s kind when both are given (system: IM, ACCOUNT,
//! TODO, DEVICE_REMINDER, ORDER, SUBSCRIPTION; operational: NEWS, CONTENT, MARKETING, SOCIAL)
//! (inferred from the categories Easemob documents for its `vivo` block); `clientCustomMap` an
//! object of strings, at most [`VivoMockConfig::custom_map_max_pairs`] (10) pairs and
//! [`VivoMockConfig::custom_map_max_chars`] (1024) characters of keys and values together;
//! `extra.callback` ≤ 128, `extra["callback.param"]` ≤ 64; `notifyId` 1..=2147483647;
//! `pushMode` 0 or 1. Violations are 10050 (missing) or 10051.
//!
//! **`/message/saveListPayload`** answers `{"result":0,"desc":"请求成功","taskId":"…"}`.
//! **`/message/pushToList`** `{"regIds":[…], "taskId", "requestId", "pushMode"}`: `taskId` and
//! `requestId` required (10050); `taskId` saved by this app, 2..=[`VivoMockConfig::max_targets`]
//! (1000) non-empty `regIds` (10051). Answers
//! `{"result":0,"desc":"请求成功","invalidUsers":[{"status":n,"userid":"…"}]}`.
//!
//! **Test mode** (`pushMode: 1`): a token not added with [`VivoMock::add_test_device`] is not
//! delivered: `invalidUser(s)` status 4.
//!
//! **Quota**: [`VivoMockConfig::daily_quota`] accepted tokens per app per China (UTC+8) day;
//! a request whose tokens would pass it is refused whole with 10070.
//!
//! **Scripting** ([`VivoOutcome`]), only after every check passed: a queued or global outcome
//! answers the whole request (on a list push, the per-token kinds list every id with their
//! status); otherwise each token's own outcome: single send — [`VivoOutcome::InvalidRegId`] is
//! 10302, [`VivoOutcome::InvalidUser`] is result 0 with `invalidUser`; list push — those two put
//! the id in `invalidUsers` (status 1, or the given one), any other kind answers the whole request.

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet, VecDeque};
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
use md5::{Digest, Md5};
use openpush_core::Clock;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::script::{Recorder, Script};

pub const AUTH_PATH: &str = "/message/auth";
pub const SEND_PATH: &str = "/message/send";
pub const SAVE_LIST_PAYLOAD_PATH: &str = "/message/saveListPayload";
pub const PUSH_TO_LIST_PATH: &str = "/message/pushToList";

pub const RESULT_OK: i64 = 0;
pub const RESULT_AUTH_TOKEN_INVALID: i64 = 10000;
pub const RESULT_PARAM_MISSING: i64 = 10050;
pub const RESULT_PARAM_INVALID: i64 = 10051;
pub const RESULT_QUOTA_EXCEEDED: i64 = 10070;
pub const RESULT_APP_ID_MISMATCH: i64 = 10094;
pub const RESULT_AUTH_PARAMS: i64 = 10200;
pub const RESULT_SIGN_WRONG: i64 = 10206;
pub const RESULT_TIMESTAMP_ILLEGAL: i64 = 10207;
pub const RESULT_REG_ID_INVALID: i64 = 10302;

const OK_DESC: &str = "请求成功";
const SYSTEM_CATEGORIES: &[&str] = &[
    "IM",
    "ACCOUNT",
    "TODO",
    "DEVICE_REMINDER",
    "ORDER",
    "SUBSCRIPTION",
];
const OPERATIONAL_CATEGORIES: &[&str] = &["NEWS", "CONTENT", "MARKETING", "SOCIAL"];

/// One vivo app the mock knows. `Debug` never prints the secret.
#[derive(Clone)]
pub struct VivoApp {
    /// Digits, sent as a JSON number or string.
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
}

impl fmt::Debug for VivoApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VivoApp")
            .field("app_id", &self.app_id)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

/// What the vivo mock accepts.
#[derive(Debug, Clone)]
pub struct VivoMockConfig {
    pub apps: Vec<VivoApp>,
    /// Life of an `authToken` (vivo: 1 day).
    pub auth_token_lifetime: Duration,
    /// How far the auth `timestamp` may be from the mock's clock (vivo: ±10 min).
    pub timestamp_window: Duration,
    /// Longest `title`, in characters (40).
    pub title_max: usize,
    /// Longest `content`, in characters (100).
    pub content_max: usize,
    /// Most `clientCustomMap` pairs (10).
    pub custom_map_max_pairs: usize,
    /// Longest `clientCustomMap`, keys and values together, in characters (1024).
    pub custom_map_max_chars: usize,
    /// Most `regIds` in one `pushToList` (1000).
    pub max_targets: usize,
    /// Accepted tokens per app per day; `None` = unlimited.
    pub daily_quota: Option<u64>,
    /// How many accepted pushes are kept for [`VivoMock::pushes`] (all are counted).
    pub max_recorded: usize,
    /// How many list payloads and `requestId` answers are remembered (the newest).
    pub max_saved: usize,
}

impl VivoMockConfig {
    /// One test app with a random numeric app id, app key and app secret; vivo's limits.
    pub fn for_tests() -> Self {
        let mut rng = rand::thread_rng();
        Self {
            apps: vec![VivoApp {
                app_id: rng.gen_range(100_000_000u64..999_999_999).to_string(),
                app_key: random_hex(32),
                app_secret: random_hex(32),
            }],
            auth_token_lifetime: Duration::from_secs(24 * 3600),
            timestamp_window: Duration::from_secs(600),
            title_max: 40,
            content_max: 100,
            custom_map_max_pairs: 10,
            custom_map_max_chars: 1024,
            max_targets: 1000,
            daily_quota: None,
            max_recorded: 100_000,
            max_saved: 100_000,
        }
    }

    /// The first app's credentials as a notifier stores them (`VendorKind::Vivo` fields).
    pub fn notifier_credentials(&self) -> Value {
        let app = &self.apps[0];
        json!({"app_id": app.app_id, "app_key": app.app_key, "app_secret": app.app_secret})
    }
}

/// A scripted answer for a push that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VivoOutcome {
    /// A dead regId: 10302 on single send, `invalidUsers` status 1 on a list push.
    InvalidRegId,
    /// Not delivered, reported as `invalidUser(s)` with this status (1 not found, 2 uninstalled
    /// or notifications off, 3 offline > 90 days, 4 not a test user).
    InvalidUser { status: u8 },
    /// Any other result code (whole request).
    Refused { result: i64, desc: String },
    /// An HTTP error status (e.g. 503), `Retry-After` if given (whole request).
    Http {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Result 10000 although the token is valid (whole request).
    AuthTokenExpired,
    /// Result 10070 (whole request).
    QuotaExceeded,
}

impl VivoOutcome {
    fn list_status(&self) -> Option<u8> {
        match self {
            Self::InvalidRegId => Some(1),
            Self::InvalidUser { status } => Some(*status),
            _ => None,
        }
    }
}

/// Which call delivered a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VivoSendKind {
    Single,
    List,
}

/// A push the mock accepted (one per token).
#[derive(Debug, Clone)]
pub struct VivoPush {
    pub app_id: String,
    pub token: String,
    pub title: String,
    pub body: String,
    /// The payload as sent (`/message/send` body, or the saved list payload).
    pub payload: Value,
    pub kind: VivoSendKind,
    pub task_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone)]
struct AuthToken {
    app_id: String,
    expires_at_ms: i64,
}

/// A bounded map remembering the newest entries.
#[derive(Debug)]
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V: Clone> Bounded<V> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, k: String, v: V, cap: usize) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.order.len() > cap.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    fn get(&self, k: &str) -> Option<V> {
        self.map.get(k).cloned()
    }
}

#[derive(Debug)]
struct VivoState {
    config: VivoMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<VivoOutcome>,
    auth_tokens: Mutex<HashMap<String, AuthToken>>,
    /// `{app}:{taskId}` → saved list payload.
    payloads: Mutex<Bounded<Value>>,
    /// `{app}:{requestId}` → the answer given.
    requests_seen: Mutex<Bounded<Value>>,
    test_devices: Mutex<HashSet<String>>,
    quota: Mutex<HashMap<String, (i64, u64)>>,
    pushes: Recorder<VivoPush>,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

/// A handle on a vivo mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct VivoMock {
    state: Arc<VivoState>,
}

impl VivoMock {
    pub fn new(config: VivoMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(VivoState {
                config,
                clock,
                script: Script::new(),
                auth_tokens: Mutex::new(HashMap::new()),
                payloads: Mutex::new(Bounded::new()),
                requests_seen: Mutex::new(Bounded::new()),
                test_devices: Mutex::new(HashSet::new()),
                quota: Mutex::new(HashMap::new()),
                pushes: Recorder::new(max_recorded),
                tokens_issued: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// The routes of `api-push.vivo.com.cn` this mock serves.
    pub fn router(&self) -> Router {
        Router::new()
            .route(AUTH_PATH, post(auth))
            .route(SEND_PATH, post(send))
            .route(SAVE_LIST_PAYLOAD_PATH, post(save_list_payload))
            .route(PUSH_TO_LIST_PATH, post(push_to_list))
            .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &VivoMockConfig {
        &self.state.config
    }

    /// The first app's credentials as a notifier stores them.
    pub fn notifier_credentials(&self) -> Value {
        self.state.config.notifier_credentials()
    }

    /// Accepted pushes kept so far (the newest `max_recorded`), in arrival order.
    pub fn pushes(&self) -> Vec<VivoPush> {
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

    /// `authToken`s issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::Relaxed)
    }

    /// Makes every issued `authToken` invalid (the next call with one is 10000).
    pub fn expire_auth_tokens(&self) {
        self.state.auth_tokens.lock().clear();
    }

    /// Lets `token` receive test-mode (`pushMode: 1`) pushes.
    pub fn add_test_device(&self, token: &str) {
        self.state.test_devices.lock().insert(token.to_owned());
    }

    /// Makes `token` dead (10302 / `invalidUsers` status 1).
    pub fn unregister(&self, token: &str) {
        self.set_token_outcome(token, VivoOutcome::InvalidRegId);
    }

    pub fn set_token_outcome(&self, token: &str, outcome: VivoOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    pub fn fail_next(&self, n: usize, outcome: VivoOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    pub fn fail_all(&self, outcome: Option<VivoOutcome>) {
        self.state.script.fail_all(outcome);
    }

    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, latency, recorded pushes, counters and quota (auth tokens, saved
    /// payloads and test devices stay).
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

fn answer(result: i64, desc: &str) -> Value {
    json!({"result": result, "desc": desc})
}

fn reply(result: i64, desc: &str) -> Response {
    Json(answer(result, desc)).into_response()
}

fn missing(what: &str) -> Response {
    reply(RESULT_PARAM_MISSING, &format!("{what}不能为空"))
}

fn invalid(what: &str) -> Response {
    reply(RESULT_PARAM_INVALID, &format!("{what}不合法"))
}

/// The JSON object body, or `code` when the body is not JSON.
fn json_body(headers: &HeaderMap, body: &[u8], code: i64) -> Result<Map<String, Value>, Response> {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(reply(code, "Content-Type must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(reply(code, "the body must be a JSON object")),
    }
}

/// A scalar as text: strings as they are, numbers in decimal.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn auth(State(st): State<Arc<VivoState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let b = match json_body(&headers, &body, RESULT_AUTH_PARAMS) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |k: &str| {
        b.get(k)
            .and_then(text)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let (Some(app_id), Some(app_key), Some(timestamp), Some(signature)) = (
        field("appId"),
        field("appKey"),
        field("timestamp"),
        field("sign"),
    ) else {
        return reply(
            RESULT_AUTH_PARAMS,
            "appId, appKey, timestamp and sign are required",
        );
    };
    let Some(app) = st.config.apps.iter().find(|a| a.app_id == app_id) else {
        return reply(RESULT_AUTH_PARAMS, "appId does not exist.");
    };
    if app.app_key != app_key {
        return reply(RESULT_AUTH_PARAMS, "appKey is illegal.");
    }
    let now = st.clock.now_ms();
    match timestamp.parse::<i64>() {
        Ok(ts) if (ts - now).abs() <= st.config.timestamp_window.as_millis() as i64 => {}
        _ => return reply(RESULT_TIMESTAMP_ILLEGAL, "timestamp is illegal."),
    }
    let expected = md5_hex(format!("{app_id}{app_key}{timestamp}{}", app.app_secret).trim());
    if !expected.eq_ignore_ascii_case(&signature) {
        return reply(RESULT_SIGN_WRONG, "sign is wrong.");
    }
    let token = format!("{}-{}", random_hex(8), uuid::Uuid::new_v4().simple());
    st.auth_tokens.lock().insert(
        token.clone(),
        AuthToken {
            app_id: app.app_id.clone(),
            expires_at_ms: now + st.config.auth_token_lifetime.as_millis() as i64,
        },
    );
    st.tokens_issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({"result": RESULT_OK, "desc": OK_DESC, "authToken": token})).into_response()
}

/// The app of a valid `authToken` header (10000 otherwise) and the JSON body, whose `appId`, if
/// any, must be that app (10094).
fn authenticate(
    st: &VivoState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Map<String, Value>), Response> {
    let token = headers
        .get("authToken")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let now = st.clock.now_ms();
    let app = token.and_then(|t| {
        st.auth_tokens
            .lock()
            .get(t)
            .filter(|a| a.expires_at_ms > now)
            .map(|a| a.app_id.clone())
    });
    let Some(app) = app else {
        return Err(reply(RESULT_AUTH_TOKEN_INVALID, "权限认证失败"));
    };
    let b = json_body(headers, body, RESULT_PARAM_MISSING)?;
    if let Some(id) = b.get("appId").filter(|v| !v.is_null()) {
        if text(id).as_deref().map(str::trim) != Some(app.as_str()) {
            return Err(reply(RESULT_APP_ID_MISMATCH, "appId与authToken不匹配"));
        }
    }
    Ok((app, b))
}

fn required_text(b: &Map<String, Value>, k: &str) -> Result<String, Response> {
    b.get(k)
        .and_then(text)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing(k))
}

/// The payload checks of the module docs (without `regId`).
fn check_payload(cfg: &VivoMockConfig, b: &Map<String, Value>) -> Result<(), Response> {
    let get = |k: &str| b.get(k).filter(|v| !v.is_null());
    let chars_max = |k: &str, v: &Value, max: usize| -> Result<(), Response> {
        match v.as_str() {
            Some(s) if s.chars().count() <= max => Ok(()),
            _ => Err(invalid(k)),
        }
    };
    let int_in = |k: &str, lo: i64, hi: i64, req: bool| -> Result<Option<i64>, Response> {
        match get(k) {
            None if req => Err(missing(k)),
            None => Ok(None),
            Some(v) => match int(v) {
                Some(i) if (lo..=hi).contains(&i) => Ok(Some(i)),
                _ => Err(invalid(k)),
            },
        }
    };
    let request_id = required_text(b, "requestId")?;
    if request_id.chars().count() > 64 {
        return Err(invalid("requestId"));
    }
    for (k, max) in [("title", cfg.title_max), ("content", cfg.content_max)] {
        let v = required_text(b, k)?;
        chars_max(k, &Value::String(v), max)?;
    }
    int_in("notifyType", 1, 4, true)?;
    let skip = int_in("skipType", 1, 4, true)?;
    if let Some(s @ 2..=4) = skip {
        let content = required_text(b, "skipContent")?;
        chars_max(
            "skipContent",
            &Value::String(content),
            if s == 2 { 1000 } else { 1024 },
        )?;
    }
    int_in("timeToLive", 60, 604_800, false)?;
    if let Some(v) = get("networkType") {
        if !matches!(int(v), Some(-1 | 1)) {
            return Err(invalid("networkType"));
        }
    }
    let classification = int_in("classification", 0, 1, false)?;
    if let Some(c) = get("category") {
        let c = c.as_str().unwrap_or_default();
        let kind = if SYSTEM_CATEGORIES.contains(&c) {
            1
        } else if OPERATIONAL_CATEGORIES.contains(&c) {
            0
        } else {
            return Err(invalid("category"));
        };
        if classification.is_some_and(|cl| cl != kind) {
            return Err(invalid("category与classification不匹配, category"));
        }
    }
    if let Some(m) = get("clientCustomMap") {
        let Some(m) = m.as_object() else {
            return Err(invalid("clientCustomMap"));
        };
        if m.len() > cfg.custom_map_max_pairs {
            return Err(invalid("clientCustomMap个数超限, clientCustomMap"));
        }
        let mut chars = 0;
        for (k, v) in m {
            let Some(v) = v.as_str() else {
                return Err(invalid("clientCustomMap"));
            };
            chars += k.chars().count() + v.chars().count();
        }
        if chars > cfg.custom_map_max_chars {
            return Err(invalid("clientCustomMap长度超限, clientCustomMap"));
        }
    }
    if let Some(e) = get("extra") {
        let Some(e) = e.as_object() else {
            return Err(invalid("extra"));
        };
        if let Some(v) = e.get("callback") {
            chars_max("extra.callback", v, 128)?;
        }
        if let Some(v) = e.get("callback.param") {
            chars_max("extra.callback.param", v, 64)?;
        }
    }
    int_in("notifyId", 1, i64::from(i32::MAX), false)?;
    int_in("pushMode", 0, 1, false)?;
    Ok(())
}

fn day(ms: i64) -> i64 {
    (ms + 8 * 3_600_000).div_euclid(86_400_000)
}

fn take_quota(st: &VivoState, app: &str, n: u64, now: i64) -> Result<(), Response> {
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
        return Err(reply(RESULT_QUOTA_EXCEEDED, "发送总量超限"));
    }
    *used += n;
    Ok(())
}

fn request_outcome(o: &VivoOutcome, token: Option<&str>) -> Response {
    match o {
        VivoOutcome::InvalidRegId => reply(RESULT_REG_ID_INVALID, "regId不合法"),
        VivoOutcome::InvalidUser { status } => Json(json!({
            "result": RESULT_OK, "desc": OK_DESC,
            "invalidUser": {"status": status, "userid": token.unwrap_or_default()}
        }))
        .into_response(),
        VivoOutcome::Refused { result, desc } => reply(*result, desc),
        VivoOutcome::Http {
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
        VivoOutcome::AuthTokenExpired => reply(RESULT_AUTH_TOKEN_INVALID, "权限认证失败"),
        VivoOutcome::QuotaExceeded => reply(RESULT_QUOTA_EXCEEDED, "发送总量超限"),
    }
}

fn is_test_mode(b: &Map<String, Value>) -> bool {
    b.get("pushMode").and_then(int) == Some(1)
}

async fn send(State(st): State<Arc<VivoState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let (app, b) = match authenticate(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let token = match required_text(&b, "regId") {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Err(r) = check_payload(&st.config, &b) {
        return r;
    }
    let seen_key = format!("{app}:{}", b["requestId"].as_str().unwrap_or_default());
    if let Some(first) = st.requests_seen.lock().get(&seen_key) {
        return Json(first).into_response();
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
        return request_outcome(&o, Some(&token));
    }
    let task_id = format!("{now}{}", rand::thread_rng().gen_range(100_000..999_999));
    let mut ans = answer(RESULT_OK, OK_DESC);
    ans["taskId"] = json!(task_id);
    if is_test_mode(&b) && !st.test_devices.lock().contains(&token) {
        ans["invalidUser"] = json!({"status": 4, "userid": token});
    } else {
        st.pushes.record(VivoPush {
            app_id: app,
            title: b["title"].as_str().unwrap_or_default().to_owned(),
            body: b["content"].as_str().unwrap_or_default().to_owned(),
            token,
            payload: Value::Object(b),
            kind: VivoSendKind::Single,
            task_id,
            received_at_ms: now,
        });
    }
    st.requests_seen
        .lock()
        .insert(seen_key, ans.clone(), st.config.max_saved);
    Json(ans).into_response()
}

async fn save_list_payload(
    State(st): State<Arc<VivoState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let (app, b) = match authenticate(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = check_payload(&st.config, &b) {
        return r;
    }
    let seen_key = format!("{app}:{}", b["requestId"].as_str().unwrap_or_default());
    if let Some(first) = st.requests_seen.lock().get(&seen_key) {
        return Json(first).into_response();
    }
    let task_id = format!(
        "{}{}",
        st.clock.now_ms(),
        rand::thread_rng().gen_range(100_000..999_999)
    );
    st.payloads.lock().insert(
        format!("{app}:{task_id}"),
        Value::Object(b),
        st.config.max_saved,
    );
    let mut ans = answer(RESULT_OK, OK_DESC);
    ans["taskId"] = json!(task_id);
    st.requests_seen
        .lock()
        .insert(seen_key, ans.clone(), st.config.max_saved);
    Json(ans).into_response()
}

async fn push_to_list(
    State(st): State<Arc<VivoState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let (app, b) = match authenticate(&st, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (task_id, request_id) = match (required_text(&b, "taskId"), required_text(&b, "requestId"))
    {
        (Ok(t), Ok(r)) => (t, r),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if request_id.chars().count() > 64 {
        return invalid("requestId");
    }
    if b.get("pushMode")
        .is_some_and(|v| !matches!(int(v), Some(0 | 1)))
    {
        return invalid("pushMode");
    }
    let Some(Value::Array(ids)) = b.get("regIds") else {
        return missing("regIds");
    };
    let tokens: Vec<String> = ids
        .iter()
        .filter_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
        .map(str::to_owned)
        .collect();
    if tokens.len() != ids.len() || !(2..=st.config.max_targets).contains(&tokens.len()) {
        return invalid(&format!(
            "regIds必须为2到{}个, regIds",
            st.config.max_targets
        ));
    }
    let Some(payload) = st.payloads.lock().get(&format!("{app}:{task_id}")) else {
        return invalid("taskId");
    };
    let seen_key = format!("{app}:{request_id}");
    if let Some(first) = st.requests_seen.lock().get(&seen_key) {
        return Json(first).into_response();
    }
    let now = st.clock.now_ms();
    if let Err(r) = take_quota(&st, &app, tokens.len() as u64, now) {
        return r;
    }
    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut invalid_users = Vec::new();
    let mut accepted = Vec::new();
    if let Some(o) = st.script.outcome(None) {
        let Some(status) = o.list_status() else {
            return request_outcome(&o, None);
        };
        for t in &tokens {
            invalid_users.push(json!({"status": status, "userid": t}));
        }
    } else {
        let test_mode = is_test_mode(&b);
        let test_devices = st.test_devices.lock().clone();
        for t in &tokens {
            match st.script.outcome(Some(t)) {
                Some(o) => match o.list_status() {
                    Some(status) => invalid_users.push(json!({"status": status, "userid": t})),
                    None => return request_outcome(&o, None),
                },
                None if test_mode && !test_devices.contains(t) => {
                    invalid_users.push(json!({"status": 4, "userid": t}))
                }
                None => accepted.push(t),
            }
        }
    }
    let title = payload["title"].as_str().unwrap_or_default().to_owned();
    let content = payload["content"].as_str().unwrap_or_default().to_owned();
    for t in accepted {
        st.pushes.record(VivoPush {
            app_id: app.clone(),
            token: t.clone(),
            title: title.clone(),
            body: content.clone(),
            payload: payload.clone(),
            kind: VivoSendKind::List,
            task_id: task_id.clone(),
            received_at_ms: now,
        });
    }
    let mut ans = answer(RESULT_OK, OK_DESC);
    ans["invalidUsers"] = Value::Array(invalid_users);
    st.requests_seen
        .lock()
        .insert(seen_key, ans.clone(), st.config.max_saved);
    Json(ans).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_lowercase_hex() {
        assert_eq!(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn bounded_keeps_the_newest() {
        let mut b = Bounded::new();
        for i in 0..5 {
            b.insert(i.to_string(), i, 2);
        }
        assert_eq!(
            (b.get("2"), b.get("3"), b.get("4")),
            (None, Some(3), Some(4))
        );
    }
}
