//! The Meizu (Flyme) push stand-in:
//! `POST /garcia/api/server/push/varnished/pushByPushId` (notification-bar messages by pushId),
//! served over HTTP/1.1 and h2c.
//!
//! Every answer is HTTP 200 with Meizu's JSON body `{"code":"<code>","message","value",
//! "redirect","msgId"}` (except a scripted HTTP fault). Checks, in this order:
//!
//! 1. `Content-Type: application/x-www-form-urlencoded` (any charset) → else **1005**
//!    "parameter error" (inferred: Meizu reads only form parameters).
//! 2. `appId`, `pushIds`, `messageJson`, `sign` present and non-empty → else **110004**
//!    "parameter must not be empty".
//! 3. `appId` one of [`MeizuMockConfig::apps`] → else **110000** "appId illegal".
//! 4. `sign` = lowercase hex MD5 of every other parameter sorted by name, concatenated as
//!    `k=v` with no separator over the decoded (raw) values, then the appSecret → else
//!    **1006** "sign failed".
//! 5. Rate: at most [`MeizuMockConfig::requests_per_second`] requests per app per clock second
//!    (signed requests count, accepted or not) → else top-level **110010** "push rate too
//!    fast" (`value` "").
//! 6. `pushIds`: a comma list of non-empty ids, at most [`MeizuMockConfig::max_push_ids`]
//!    (100; an older revision of Meizu's doc says 1000) → else **1005**.
//! 7. `messageJson` a JSON object → else 1005; `noticeBarInfo` required with `title` 1..=32
//!    and `content` 1..=100 characters, `noticeBarType` 0|2; `noticeExpandInfo.noticeExpandType`
//!    0|1 (1 needs `noticeExpandContent`); `clickTypeInfo.clickType` 0..=3 (1 needs
//!    `activity`, 2 `url`, 3 `customAttribute` ≤ 1000 bytes), `parameters` an object;
//!    `pushTimeInfo.offLine` 0|1, `validTime` 1..=72 (default 24); `advanceInfo` flags 0|1,
//!    `notifyKey` at most 8 of `[0-9A-Za-z_-]`; `extra.callback` required in `extra`, ≤ 128
//!    bytes, `callback.param` ≤ 64 bytes, `callback.type` 1..=3 → else **1005** with the
//!    field named in `message`. Integers may be JSON numbers or numeric strings.
//! 8. Daily limit ([`MeizuMockConfig::daily_limit`], pushes per app per Beijing-time day,
//!    counted per accepted pushId) → top-level **110019** "daily push count exceeded".
//! 9. Scripted outcome ([`MeizuOutcome`]): "next N" and "all" faults apply to the request; a
//!    token's own outcome either lists its id in the `value` map (110002, 110003, 110010, 520,
//!    501) or, for a top-level outcome, fails the whole request.
//! 10. Success: code "200", `msgId` a new 32-hex id, `value` maps each failure code to its ids
//!     (`{}` when none failed; [`MeizuMock::unregister`] makes an id 110002). Every other id is
//!     recorded as a [`MeizuPush`].

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
use md5::{Digest, Md5};
use openpush_core::Clock;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::script::{Recorder, Script};

/// Notification-bar push by pushId.
pub const SEND_PATH: &str = "/garcia/api/server/push/varnished/pushByPushId";
const DAY_MS: i64 = 86_400_000;
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// One app the mock knows.
#[derive(Clone)]
pub struct MeizuApp {
    pub app_id: String,
    pub app_secret: String,
}

impl std::fmt::Debug for MeizuApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeizuApp")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .finish()
    }
}

/// What the Meizu mock accepts.
#[derive(Debug, Clone)]
pub struct MeizuMockConfig {
    pub apps: Vec<MeizuApp>,
    /// Most pushIds per request (default 100).
    pub max_push_ids: usize,
    /// Requests per app per second (`None`: unlimited).
    pub requests_per_second: Option<u64>,
    /// Pushes per app per day (`None`: unlimited).
    pub daily_limit: Option<u64>,
    /// How many accepted pushes are kept for [`MeizuMock::pushes`] (all are counted).
    pub max_recorded: usize,
}

impl MeizuMockConfig {
    /// One test app with a random numeric appId and a random 32-hex appSecret.
    pub fn for_tests() -> Self {
        let mut rng = rand::thread_rng();
        Self {
            apps: vec![MeizuApp {
                app_id: rng.gen_range(100_000..999_999).to_string(),
                app_secret: format!("{:032x}", rng.gen::<u128>()),
            }],
            max_push_ids: 100,
            requests_per_second: None,
            daily_limit: None,
            max_recorded: 100_000,
        }
    }

    /// The notifier credentials of the first app: `{"app_id", "app_secret"}`.
    pub fn notifier_credentials(&self) -> Value {
        let app = &self.apps[0];
        json!({"app_id": app.app_id, "app_secret": app.app_secret})
    }
}

/// A scripted answer for a request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeizuOutcome {
    /// `value` 110002: pushId unsubscribed (dead).
    Unsubscribed,
    /// `value` 110003: pushId illegal (dead).
    IllegalPushId,
    /// `value` 110010: notifications switched off on the device.
    NotificationsOff,
    /// `value` 520: collapsed (too many messages to the device in a minute).
    Collapsed,
    /// `value` 501: push failed.
    SendFailed,
    /// Top-level 1001 "system error".
    SystemError,
    /// Top-level 1003 "server busy".
    Busy,
    /// Top-level 519 "service overloaded".
    Overload,
    /// Top-level 110010 "push rate too fast".
    RateTooFast,
    /// Top-level 110019 "daily push count exceeded".
    DailyLimit,
    /// Top-level 1006 "sign failed".
    SignFailed,
    /// A bare HTTP error from the front end (e.g. 502, 503), with `Retry-After` if given.
    Http {
        status: u16,
        retry_after_secs: Option<u64>,
    },
}

impl MeizuOutcome {
    /// The `value` map code of a per-pushId outcome; `None` for top-level outcomes.
    fn value_code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Unsubscribed => "110002",
            Self::IllegalPushId => "110003",
            Self::NotificationsOff => "110010",
            Self::Collapsed => "520",
            Self::SendFailed => "501",
            _ => return None,
        })
    }
}

/// One pushId of an accepted request.
#[derive(Debug, Clone)]
pub struct MeizuPush {
    /// The pushId.
    pub token: String,
    /// `noticeBarInfo.title`.
    pub title: String,
    /// `noticeBarInfo.content`.
    pub body: String,
    /// The parsed `messageJson`.
    pub message: Value,
    pub app_id: String,
    /// The `msgId` answered.
    pub msg_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug)]
struct MeizuState {
    config: MeizuMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<MeizuOutcome>,
    pushes: Recorder<MeizuPush>,
    /// app index → (second, requests in it).
    rate: Mutex<HashMap<usize, (i64, u64)>>,
    /// app index → (day, pushes accepted).
    daily: Mutex<HashMap<usize, (i64, u64)>>,
    requests: AtomicU64,
}

/// A handle on a Meizu mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MeizuMock {
    state: Arc<MeizuState>,
}

impl MeizuMock {
    pub fn new(config: MeizuMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(MeizuState {
                config,
                clock,
                script: Script::new(),
                pushes: Recorder::new(max_recorded),
                rate: Mutex::new(HashMap::new()),
                daily: Mutex::new(HashMap::new()),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// The route of the real service.
    pub fn router(&self) -> Router {
        Router::new()
            .route(SEND_PATH, post(send))
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &MeizuMockConfig {
        &self.state.config
    }

    /// The accepted pushes kept so far (the newest `max_recorded`), one per pushId, in order.
    pub fn pushes(&self) -> Vec<MeizuPush> {
        self.state.pushes.snapshot()
    }

    /// PushIds accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn push_count(&self) -> usize {
        self.state.pushes.accepted() as usize
    }

    /// Send requests received, accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// The pushId becomes unsubscribed: later sends list it under 110002.
    pub fn unregister(&self, token: &str) {
        self.set_token_outcome(token, MeizuOutcome::Unsubscribed);
    }

    pub fn set_token_outcome(&self, token: &str, outcome: MeizuOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    /// The next `n` requests that pass every check get `outcome`.
    pub fn fail_next(&self, n: usize, outcome: MeizuOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    /// Every request that passes every check gets `outcome` (`None` stops it).
    pub fn fail_all(&self, outcome: Option<MeizuOutcome>) {
        self.state.script.fail_all(outcome);
    }

    /// Added to every answer that passed the checks.
    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, latency, recorded pushes, counters, rate windows and daily counts.
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.pushes.clear();
        self.state.rate.lock().clear();
        self.state.daily.lock().clear();
        self.state.requests.store(0, Ordering::Relaxed);
    }
}

/// `md5(k1=v1k2=v2…secret)` over `params` sorted by name, lowercase hex.
pub fn sign(params: &BTreeMap<String, String>, app_secret: &str) -> String {
    let mut h = Md5::new();
    for (k, v) in params {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
    }
    h.update(app_secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A top-level error answer (HTTP 200).
fn error(code: &str, message: &str) -> Response {
    Json(json!({"code": code, "message": message, "value": "", "redirect": ""})).into_response()
}

fn param_error(message: &str) -> Response {
    error("1005", message)
}

fn scripted(outcome: &MeizuOutcome) -> Response {
    match outcome {
        MeizuOutcome::SystemError => error("1001", "系统错误"),
        MeizuOutcome::Busy => error("1003", "服务器忙"),
        MeizuOutcome::Overload => error("519", "推送消息失败服务过载"),
        MeizuOutcome::RateTooFast => rate_too_fast(),
        MeizuOutcome::DailyLimit => daily_limit(),
        MeizuOutcome::SignFailed => sign_failed(),
        MeizuOutcome::Http {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut resp = (
                status,
                format!("<html><body><center><h1>{status}</h1></center><hr><center>nginx</center></body></html>"),
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
        per_id => unreachable!("{per_id:?} is a per-pushId outcome"),
    }
}

fn rate_too_fast() -> Response {
    error("110010", "应用请求频率超过限制")
}

fn daily_limit() -> Response {
    error("110019", "超过当天推送次数限制")
}

fn sign_failed() -> Response {
    error("1006", "签名认证失败")
}

/// An integer field: a JSON number or a numeric string.
fn int_at(obj: &Value, key: &str) -> Result<Option<i64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} must be an integer")),
        Some(_) => Err(format!("{key} must be an integer")),
    }
}

fn str_at<'a>(obj: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn one_of(obj: &Value, at: &str, key: &str, allowed: &[i64]) -> Result<Option<i64>, String> {
    let v = int_at(obj, key).map_err(|e| format!("{at}.{e}"))?;
    match v {
        Some(n) if !allowed.contains(&n) => {
            Err(format!("{at}.{key} must be one of {allowed:?}, got {n}"))
        }
        other => Ok(other),
    }
}

/// Check 7: the notification `messageJson`.
fn check_message(m: &Value) -> Result<(), String> {
    if !m.is_object() {
        return Err("messageJson must be a JSON object".into());
    }
    let section = |name: &str| -> Result<Option<&Value>, String> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            Some(_) => Err(format!("{name} must be an object")),
        }
    };
    let Some(bar) = section("noticeBarInfo")? else {
        return Err("noticeBarInfo is required".into());
    };
    for (key, max) in [("title", 32), ("content", 100)] {
        let v = str_at(bar, key)
            .map_err(|e| format!("noticeBarInfo.{e}"))?
            .unwrap_or("");
        let n = v.chars().count();
        if n == 0 || n > max {
            return Err(format!(
                "noticeBarInfo.{key} must be 1 to {max} characters, got {n}"
            ));
        }
    }
    one_of(bar, "noticeBarInfo", "noticeBarType", &[0, 2])?;

    if let Some(ex) = section("noticeExpandInfo")? {
        if one_of(ex, "noticeExpandInfo", "noticeExpandType", &[0, 1])? == Some(1)
            && str_at(ex, "noticeExpandContent")
                .map_err(|e| format!("noticeExpandInfo.{e}"))?
                .is_none_or(str::is_empty)
        {
            return Err("noticeExpandInfo.noticeExpandContent is required for type 1".into());
        }
    }

    if let Some(click) = section("clickTypeInfo")? {
        let at = "clickTypeInfo";
        let needs = match one_of(click, at, "clickType", &[0, 1, 2, 3])? {
            Some(1) => Some("activity"),
            Some(2) => Some("url"),
            Some(3) => Some("customAttribute"),
            _ => None,
        };
        if let Some(key) = needs {
            let v = str_at(click, key).map_err(|e| format!("{at}.{e}"))?;
            if v.is_none_or(str::is_empty) {
                return Err(format!("{at}.{key} is required for this clickType"));
            }
        }
        if str_at(click, "customAttribute")
            .map_err(|e| format!("{at}.{e}"))?
            .is_some_and(|s| s.len() > 1000)
        {
            return Err(format!("{at}.customAttribute is over 1000 bytes"));
        }
        if click.get("parameters").is_some_and(|p| !p.is_object()) {
            return Err(format!("{at}.parameters must be a JSON object"));
        }
    }

    if let Some(time) = section("pushTimeInfo")? {
        one_of(time, "pushTimeInfo", "offLine", &[0, 1])?;
        if let Some(t) = int_at(time, "validTime").map_err(|e| format!("pushTimeInfo.{e}"))? {
            if !(1..=72).contains(&t) {
                return Err(format!("pushTimeInfo.validTime must be 1 to 72, got {t}"));
            }
        }
    }

    if let Some(adv) = section("advanceInfo")? {
        for key in ["suspend", "clearNoticeBar", "fixDisplay"] {
            one_of(adv, "advanceInfo", key, &[0, 1])?;
        }
        if let Some(nt) = adv.get("notificationType") {
            for key in ["vibrate", "lights", "sound"] {
                one_of(nt, "advanceInfo.notificationType", key, &[0, 1])?;
            }
        }
        if let Some(k) = str_at(adv, "notifyKey").map_err(|e| format!("advanceInfo.{e}"))? {
            if k.len() > 8
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err("advanceInfo.notifyKey must be at most 8 of [0-9A-Za-z_-]".into());
            }
        }
    }

    if let Some(extra) = section("extra")? {
        let cb = str_at(extra, "callback").map_err(|e| format!("extra.{e}"))?;
        match cb {
            None | Some("") => return Err("extra.callback is required".into()),
            Some(s) if s.len() > 128 => return Err("extra.callback is over 128 bytes".into()),
            _ => {}
        }
        if str_at(extra, "callback.param")
            .map_err(|e| format!("extra.{e}"))?
            .is_some_and(|s| s.len() > 64)
        {
            return Err("extra.callback.param is over 64 bytes".into());
        }
        one_of(extra, "extra", "callback.type", &[1, 2, 3])?;
    }
    Ok(())
}

async fn send(State(st): State<Arc<MeizuState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);

    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return param_error("Content-Type must be application/x-www-form-urlencoded");
    }
    let mut params: BTreeMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for key in ["appId", "pushIds", "messageJson", "sign"] {
        if params.get(key).is_none_or(|v| v.trim().is_empty()) {
            return error("110004", &format!("参数不能为空: {key}"));
        }
    }
    let given_sign = params.remove("sign").unwrap_or_default();
    let app_id = params["appId"].clone();
    let Some(app_idx) = st.config.apps.iter().position(|a| a.app_id == app_id) else {
        return error("110000", "appId不合法");
    };
    if given_sign != sign(&params, &st.config.apps[app_idx].app_secret) {
        return sign_failed();
    }

    let now_ms = st.clock.now_ms();
    if let Some(limit) = st.config.requests_per_second {
        let second = now_ms.div_euclid(1000);
        let mut r = st.rate.lock();
        let e = r.entry(app_idx).or_insert((second, 0));
        if e.0 != second {
            *e = (second, 0);
        }
        e.1 += 1;
        if e.1 > limit {
            return rate_too_fast();
        }
    }

    let ids: Vec<String> = params["pushIds"]
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect();
    if ids.iter().any(String::is_empty) {
        return param_error("pushIds contains an empty pushId");
    }
    if ids.len() > st.config.max_push_ids {
        return param_error(&format!(
            "pushIds has {} ids, at most {} allowed",
            ids.len(),
            st.config.max_push_ids
        ));
    }
    let message: Value = match serde_json::from_str(&params["messageJson"]) {
        Ok(v) => v,
        Err(e) => return param_error(&format!("messageJson is not JSON: {e}")),
    };
    if let Err(e) = check_message(&message) {
        return param_error(&format!("参数错误: {e}"));
    }

    let day = (now_ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS);
    if let Some(limit) = st.config.daily_limit {
        let d = st.daily.lock();
        let used = match d.get(&app_idx) {
            Some((dd, n)) if *dd == day => *n,
            _ => 0,
        };
        if used + ids.len() as u64 > limit {
            return daily_limit();
        }
    }

    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut failed: Map<String, Value> = Map::new();
    let mut fail = |code: &str, id: &str| {
        if let Value::Array(list) = failed
            .entry(code.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(json!(id));
        }
    };
    let mut failed_ids: Vec<&str> = Vec::new();
    match st.script.outcome(None) {
        Some(o) => match o.value_code() {
            // A request-level per-id outcome: every id of the request fails with it.
            Some(code) => {
                for id in &ids {
                    fail(code, id);
                    failed_ids.push(id);
                }
            }
            None => return scripted(&o),
        },
        None => {
            for id in &ids {
                if let Some(o) = st.script.outcome(Some(id)) {
                    match o.value_code() {
                        Some(code) => {
                            fail(code, id);
                            failed_ids.push(id);
                        }
                        None => return scripted(&o),
                    }
                }
            }
        }
    }

    let accepted = (ids.len() - failed_ids.len()) as u64;
    {
        let mut d = st.daily.lock();
        let e = d.entry(app_idx).or_insert((day, 0));
        if e.0 != day {
            *e = (day, 0);
        }
        e.1 += accepted;
    }
    let msg_id = uuid::Uuid::new_v4().simple().to_string();
    let title = message["noticeBarInfo"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let content = message["noticeBarInfo"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for id in ids.iter().filter(|id| !failed_ids.contains(&id.as_str())) {
        st.pushes.record(MeizuPush {
            token: id.clone(),
            title: title.clone(),
            body: content.clone(),
            message: message.clone(),
            app_id: app_id.clone(),
            msg_id: msg_id.clone(),
            received_at_ms: now_ms,
        });
    }
    Json(json!({
        "code": "200",
        "message": "",
        "value": failed,
        "redirect": "",
        "msgId": msg_id,
    }))
    .into_response()
}
