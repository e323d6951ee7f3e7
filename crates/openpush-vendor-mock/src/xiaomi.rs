//! The Xiaomi MiPush stand-in: `POST /v3/message/regid` (multi-package)
//! and `POST /v2/message/regid`, served over HTTP/1.1 and h2c.
//!
//! Every answer is HTTP 200 with Xiaomi's JSON body `{"result":"ok"|"error","code",
//! "description","reason","info","trace_id","data"}` (except a scripted HTTP fault). Checks, in
//! this order:
//!
//! 1. `Authorization: key=<AppSecret>` — the word `key` in lower case, the secret one of
//!    [`XiaomiMockConfig::apps`]; missing, another scheme (`Key=`, `Bearer`) or an unknown
//!    secret → code **21301** "authentication failed".
//! 2. `Content-Type: application/x-www-form-urlencoded` → else **10017** "invalid parameter"
//!    (inferred code: Xiaomi reads only form parameters, so a JSON body is a request without
//!    parameters).
//! 3. `registration_id`: required (**10016** "missing parameter", inferred code), a comma list
//!    of non-empty ids, at most [`XiaomiMockConfig::max_regids`] (default 1000, inferred) →
//!    else **10017**.
//! 4. `restricted_package_name`: required (**10016**); every comma-separated name must be one
//!    of the app's packages → else **22022** "bad package name". `/v2` takes exactly one name.
//! 5. `pass_through` `0`|`1` (default 0) → else 10017. A notification (0) needs a non-blank
//!    `title` of at most [`XiaomiMockConfig::title_max`] characters (50) and a non-blank
//!    `description` of at most `description_max` (128), CJK counting 1 → else 10016 (missing)
//!    or 10017. A pass-through message (1) needs a `payload` (10016).
//! 6. `payload` — URL-encoded by the sender (as Xiaomi's SDKs do), decoded once more here — at
//!    most [`XiaomiMockConfig::max_payload_bytes`] (4096, inferred) UTF-8 bytes → else
//!    **65009** "message too long".
//! 7. Numbers: `notify_type` an integer in -1..=7, `time_to_live` and `notify_id`
//!    non-negative integers, `time_to_send` an epoch-ms integer at most 7 days ahead of the
//!    clock → else 10017. `extra.*` fields: at most 10 custom ones beyond Xiaomi's own
//!    (`extra.sound_uri`, `extra.notify_effect`, …) → else **65014** (inferred count).
//! 8. Daily quota ([`XiaomiMockConfig::daily_quota`], messages per app per Beijing-time day,
//!    counted per accepted regid): exceeding it → **10034** "daily quota exceeded".
//! 9. Scripted outcome ([`XiaomiOutcome`]; "next N" and "all" faults apply to the request, a
//!    token's own outcome to its id: `BadRegid` lists it in `data.bad_regids`, any other makes
//!    the whole request fail with that answer).
//! 10. Success: code 0, `data.id` a new message id, `data.bad_regids` the dead ids (comma list,
//!     only when there are some; [`XiaomiMock::unregister`] kills an id), `day_acked` /
//!     `day_quota`. Every other id is recorded as a [`XiaomiPush`].

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
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
use serde_json::{json, Value};

use crate::script::{Recorder, Script};

/// Multi-package send path.
pub const SEND_PATH_V3: &str = "/v3/message/regid";
/// Single-package send path.
pub const SEND_PATH_V2: &str = "/v2/message/regid";

/// Xiaomi's own `extra.*` keys (not counted as custom key/value pairs).
const KNOWN_EXTRAS: &[&str] = &[
    "extra.sound_uri",
    "extra.ticker",
    "extra.notify_foreground",
    "extra.notify_effect",
    "extra.intent_uri",
    "extra.web_uri",
    "extra.flow_control",
    "extra.jobkey",
    "extra.only_send_once",
    "extra.callback",
    "extra.callback.param",
    "extra.callback.type",
    "extra.locale",
    "extra.locale_not_in",
    "extra.model",
    "extra.model_not_in",
    "extra.app_version",
    "extra.app_version_not_in",
    "extra.connpt",
    "extra.channel_id",
];
/// Custom `extra.*` pairs allowed (inferred; 65014 "too many key-value pairs").
pub const MAX_CUSTOM_EXTRAS: usize = 10;
const DAY_MS: i64 = 86_400_000;
/// Beijing time, UTC+8: the quota day starts at midnight there.
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// One app the mock knows.
#[derive(Clone)]
pub struct XiaomiApp {
    pub app_secret: String,
    /// Package names the app may target (`restricted_package_name`).
    pub packages: Vec<String>,
}

impl std::fmt::Debug for XiaomiApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XiaomiApp")
            .field("app_secret", &"<redacted>")
            .field("packages", &self.packages)
            .finish()
    }
}

/// What the Xiaomi mock accepts.
#[derive(Debug, Clone)]
pub struct XiaomiMockConfig {
    pub apps: Vec<XiaomiApp>,
    /// Most ids in one `registration_id` (default 1000, inferred).
    pub max_regids: usize,
    /// Largest decoded `payload`, bytes (default 4096).
    pub max_payload_bytes: usize,
    /// Longest `title`, characters (default 50).
    pub title_max: usize,
    /// Longest `description`, characters (default 128).
    pub description_max: usize,
    /// Messages per app per day (`None`: unlimited).
    pub daily_quota: Option<u64>,
    /// How many accepted pushes are kept for [`XiaomiMock::pushes`] (all are counted).
    pub max_recorded: usize,
}

impl XiaomiMockConfig {
    /// One test app with a random AppSecret and the package `com.example.openpush`.
    pub fn for_tests() -> Self {
        let secret: String = {
            const CHARS: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut rng = rand::thread_rng();
            (0..24)
                .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
                .collect()
        };
        Self {
            apps: vec![XiaomiApp {
                app_secret: format!("{secret}=="),
                packages: vec!["com.example.openpush".into()],
            }],
            max_regids: 1000,
            max_payload_bytes: 4096,
            title_max: 50,
            description_max: 128,
            daily_quota: None,
            max_recorded: 100_000,
        }
    }

    /// The notifier credentials of the first app: `{"app_secret", "package"}`.
    pub fn notifier_credentials(&self) -> Value {
        let app = &self.apps[0];
        json!({"app_secret": app.app_secret, "package": app.packages[0]})
    }
}

/// A scripted answer for a request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XiaomiOutcome {
    /// The id is listed in `data.bad_regids` (the request itself succeeds).
    BadRegid,
    /// Code 10002 "system busy".
    Busy,
    /// Code 10001 "system error".
    SystemError,
    /// Code 10027 "API called too frequently".
    TooFrequent,
    /// Code 10034 "daily message quota exceeded".
    QuotaExceeded,
    /// Code 21301 "authentication failed".
    AuthFailed,
    /// Code 20301 "send failed".
    SendFailed,
    /// A bare HTTP error from the front end (e.g. 503, 502), with `Retry-After` if given.
    Http {
        status: u16,
        retry_after_secs: Option<u64>,
    },
}

/// One id of an accepted request.
#[derive(Debug, Clone)]
pub struct XiaomiPush {
    /// The registration id.
    pub token: String,
    pub title: String,
    /// `description`.
    pub body: String,
    pub pass_through: bool,
    /// `payload`, decoded (the sender's URL encoding removed).
    pub payload: Option<String>,
    /// `restricted_package_name` as sent.
    pub package: String,
    /// Every form field but `registration_id`, as decoded from the form.
    pub fields: BTreeMap<String, String>,
    /// The message id answered in `data.id`.
    pub message_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug)]
struct XiaomiState {
    config: XiaomiMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<XiaomiOutcome>,
    pushes: Recorder<XiaomiPush>,
    /// (app index) → (day, messages accepted that day).
    quota: Mutex<HashMap<usize, (i64, u64)>>,
    requests: AtomicU64,
}

/// A handle on a Xiaomi mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct XiaomiMock {
    state: Arc<XiaomiState>,
}

impl XiaomiMock {
    pub fn new(config: XiaomiMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(XiaomiState {
                config,
                clock,
                script: Script::new(),
                pushes: Recorder::new(max_recorded),
                quota: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// The routes of the real service (`/v3/message/regid`, `/v2/message/regid`).
    pub fn router(&self) -> Router {
        Router::new()
            .route(SEND_PATH_V3, post(send_v3))
            .route(SEND_PATH_V2, post(send_v2))
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &XiaomiMockConfig {
        &self.state.config
    }

    /// The accepted pushes kept so far (the newest `max_recorded`), one per id, in order.
    pub fn pushes(&self) -> Vec<XiaomiPush> {
        self.state.pushes.snapshot()
    }

    /// Ids accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn push_count(&self) -> usize {
        self.state.pushes.accepted() as usize
    }

    /// Send requests received, accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Messages counted against the first app's quota today.
    pub fn day_acked(&self) -> u64 {
        let day = quota_day(self.state.clock.now_ms());
        match self.state.quota.lock().get(&0) {
            Some((d, n)) if *d == day => *n,
            _ => 0,
        }
    }

    /// The id becomes invalid: later sends list it in `data.bad_regids`.
    pub fn unregister(&self, token: &str) {
        self.set_token_outcome(token, XiaomiOutcome::BadRegid);
    }

    pub fn set_token_outcome(&self, token: &str, outcome: XiaomiOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    /// The next `n` requests that pass every check get `outcome`.
    pub fn fail_next(&self, n: usize, outcome: XiaomiOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    /// Every request that passes every check gets `outcome` (`None` stops it).
    pub fn fail_all(&self, outcome: Option<XiaomiOutcome>) {
        self.state.script.fail_all(outcome);
    }

    /// Added to every answer.
    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, latency, recorded pushes, counters and quota use.
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.pushes.clear();
        self.state.quota.lock().clear();
        self.state.requests.store(0, Ordering::Relaxed);
    }
}

fn quota_day(now_ms: i64) -> i64 {
    (now_ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS)
}

fn trace_id() -> String {
    format!("Xcm{}", uuid::Uuid::new_v4().simple())
}

/// Xiaomi's error body (HTTP 200).
fn error(code: i64, description: &str, reason: &str) -> Response {
    Json(json!({
        "result": "error",
        "code": code,
        "description": description,
        "reason": reason,
        "trace_id": trace_id(),
    }))
    .into_response()
}

fn invalid(reason: &str) -> Response {
    error(10017, "invalid parameter", reason)
}

fn missing(name: &str) -> Response {
    error(
        10016,
        "missing parameter",
        &format!("Missing required parameter: {name}"),
    )
}

fn scripted(outcome: &XiaomiOutcome) -> Response {
    match outcome {
        XiaomiOutcome::BadRegid => unreachable!("token-level outcome"),
        XiaomiOutcome::Busy => error(10002, "system busy", "System is busy, please retry later"),
        XiaomiOutcome::SystemError => error(10001, "system error", "Internal system error"),
        XiaomiOutcome::TooFrequent => error(
            10027,
            "API called too frequently",
            "Too many requests, please slow down",
        ),
        XiaomiOutcome::QuotaExceeded => quota_exceeded(),
        XiaomiOutcome::AuthFailed => auth_failed(),
        XiaomiOutcome::SendFailed => error(20301, "send failed", "Failed to send the message"),
        XiaomiOutcome::Http {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut resp = (
                status,
                format!("<html><body><h1>{status}</h1></body></html>",),
            )
                .into_response();
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/html"));
            if let Some(s) = retry_after_secs {
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from(*s));
            }
            resp
        }
    }
}

fn auth_failed() -> Response {
    error(21301, "authentication failed", "Invalid authentication key")
}

fn quota_exceeded() -> Response {
    error(
        10034,
        "daily message quota exceeded",
        "Exceeded the daily message quota of this app",
    )
}

async fn send_v3(st: State<Arc<XiaomiState>>, headers: HeaderMap, body: Bytes) -> Response {
    send(st, headers, body, true).await
}

async fn send_v2(st: State<Arc<XiaomiState>>, headers: HeaderMap, body: Bytes) -> Response {
    send(st, headers, body, false).await
}

fn int(fields: &BTreeMap<String, String>, name: &str) -> Result<Option<i64>, Response> {
    match fields.get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| invalid(&format!("{name} must be an integer, got {v:?}"))),
    }
}

/// A request that passed checks 1–7.
struct Valid {
    /// Index of the app in the config.
    app_idx: usize,
    ids: Vec<String>,
    fields: BTreeMap<String, String>,
}

/// Validates a request (checks 1–7).
fn validate(
    st: &XiaomiState,
    headers: &HeaderMap,
    body: &[u8],
    v3: bool,
) -> Result<Valid, Response> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("key="));
    let Some(app_idx) = key.and_then(|k| {
        st.config
            .apps
            .iter()
            .position(|a| !a.app_secret.is_empty() && a.app_secret == k)
    }) else {
        return Err(auth_failed());
    };
    let app = &st.config.apps[app_idx];

    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(invalid(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let fields: BTreeMap<String, String> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();

    let Some(regids) = fields.get("registration_id").filter(|s| !s.is_empty()) else {
        return Err(missing("registration_id"));
    };
    let ids: Vec<String> = regids.split(',').map(|s| s.trim().to_owned()).collect();
    if ids.iter().any(String::is_empty) {
        return Err(invalid("registration_id contains an empty id"));
    }
    if ids.len() > st.config.max_regids {
        return Err(invalid(&format!(
            "registration_id has {} ids, at most {} allowed",
            ids.len(),
            st.config.max_regids
        )));
    }

    let Some(pkgs) = fields
        .get("restricted_package_name")
        .filter(|s| !s.trim().is_empty())
    else {
        return Err(missing("restricted_package_name"));
    };
    let names: Vec<&str> = pkgs.split(',').map(str::trim).collect();
    if (!v3 && names.len() != 1) || names.iter().any(|n| !app.packages.iter().any(|p| p == n)) {
        return Err(error(
            22022,
            "bad package name",
            &format!("restricted_package_name {pkgs:?} does not match the app"),
        ));
    }

    let pass_through = match fields.get("pass_through").map(String::as_str) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(invalid(&format!(
                "pass_through must be 0 or 1, got {other:?}"
            )))
        }
    };
    if !pass_through {
        for (name, max) in [
            ("title", st.config.title_max),
            ("description", st.config.description_max),
        ] {
            let Some(v) = fields.get(name) else {
                return Err(missing(name));
            };
            if v.trim().is_empty() {
                return Err(invalid(&format!("{name} must not be blank")));
            }
            let n = v.chars().count();
            if n > max {
                return Err(invalid(&format!(
                    "{name} is {n} characters, at most {max} allowed"
                )));
            }
        }
    }
    match fields.get("payload") {
        Some(p) => {
            let n = decode_payload(p).len();
            if n > st.config.max_payload_bytes {
                return Err(error(
                    65009,
                    "message too long",
                    &format!(
                        "payload is {n} bytes, at most {} allowed",
                        st.config.max_payload_bytes
                    ),
                ));
            }
        }
        None if pass_through => return Err(missing("payload")),
        None => {}
    }

    if let Some(t) = int(&fields, "notify_type")? {
        if !(-1..=7).contains(&t) {
            return Err(invalid(&format!("notify_type must be -1..7, got {t}")));
        }
    }
    for name in ["time_to_live", "notify_id"] {
        if int(&fields, name)?.is_some_and(|v| v < 0) {
            return Err(invalid(&format!("{name} must not be negative")));
        }
    }
    if let Some(t) = int(&fields, "time_to_send")? {
        if t > st.clock.now_ms() + 7 * DAY_MS {
            return Err(invalid("time_to_send is more than 7 days ahead"));
        }
    }
    let custom = fields
        .keys()
        .filter(|k| k.starts_with("extra.") && !KNOWN_EXTRAS.contains(&k.as_str()))
        .count();
    if custom > MAX_CUSTOM_EXTRAS {
        return Err(error(
            65014,
            "too many key-value pairs",
            &format!("{custom} custom extra fields, at most {MAX_CUSTOM_EXTRAS} allowed"),
        ));
    }
    Ok(Valid {
        app_idx,
        ids,
        fields,
    })
}

/// Removes the sender's URL encoding of `payload` (kept as is when it is not URL-encoded).
fn decode_payload(p: &str) -> String {
    form_urlencoded::parse(format!("p={}", p.replace('&', "%26").replace('=', "%3D")).as_bytes())
        .next()
        .map_or_else(|| p.to_owned(), |(_, v)| v.into_owned())
}

async fn send(
    State(st): State<Arc<XiaomiState>>,
    headers: HeaderMap,
    body: Bytes,
    v3: bool,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let Valid {
        app_idx,
        ids,
        mut fields,
    } = match validate(&st, &headers, &body, v3) {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };
    fields.remove("registration_id");
    let now_ms = st.clock.now_ms();
    let day = quota_day(now_ms);
    if let Some(quota) = st.config.daily_quota {
        let q = st.quota.lock();
        let used = match q.get(&app_idx) {
            Some((d, n)) if *d == day => *n,
            _ => 0,
        };
        if used + ids.len() as u64 > quota {
            return quota_exceeded();
        }
    }

    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut bad: Vec<&str> = Vec::new();
    match st.script.outcome(None) {
        // A request-level `BadRegid`: every id of the request is dead.
        Some(XiaomiOutcome::BadRegid) => bad.extend(ids.iter().map(String::as_str)),
        Some(other) => return scripted(&other),
        None => {
            for id in &ids {
                match st.script.outcome(Some(id)) {
                    None => {}
                    Some(XiaomiOutcome::BadRegid) => bad.push(id.as_str()),
                    Some(other) => return scripted(&other),
                }
            }
        }
    }

    let accepted = (ids.len() - bad.len()) as u64;
    let day_acked = {
        let mut q = st.quota.lock();
        let e = q.entry(app_idx).or_insert((day, 0));
        if e.0 != day {
            *e = (day, 0);
        }
        e.1 += accepted;
        e.1
    };
    let message_id = format!(
        "scm{:014}{:06}",
        now_ms,
        rand::thread_rng().gen_range(0..1_000_000)
    );
    let title = fields.get("title").cloned().unwrap_or_default();
    let description = fields.get("description").cloned().unwrap_or_default();
    let pass_through = fields.get("pass_through").is_some_and(|v| v == "1");
    let payload = fields.get("payload").map(|p| decode_payload(p));
    let package = fields
        .get("restricted_package_name")
        .cloned()
        .unwrap_or_default();
    for id in ids.iter().filter(|id| !bad.contains(&id.as_str())) {
        st.pushes.record(XiaomiPush {
            token: id.clone(),
            title: title.clone(),
            body: description.clone(),
            pass_through,
            payload: payload.clone(),
            package: package.clone(),
            fields: fields.clone(),
            message_id: message_id.clone(),
            received_at_ms: now_ms,
        });
    }
    let mut data = json!({"id": message_id, "day_acked": day_acked.to_string()});
    if let Some(q) = st.config.daily_quota {
        data["day_quota"] = json!(q.to_string());
    }
    if !bad.is_empty() {
        data["bad_regids"] = json!(bad.join(","));
    }
    Json(json!({
        "result": "ok",
        "code": 0,
        "description": "成功",
        "info": format!("Received push messages for {} REGID", ids.len()),
        "trace_id": trace_id(),
        "data": data,
    }))
    .into_response()
}
