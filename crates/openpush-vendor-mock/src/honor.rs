//! The Honor Push stand-in: the IAM token endpoint and
//! `POST /api/v1/{appId}/sendMessage`, on one router (the real service splits them over
//! `iam.developer.honor.com` and `push-api.cloud.honor.com`).
//!
//! Honor's API is derived from Huawei's: the same 8-digit codes, but as JSON *numbers*, success
//! `200`, and camelCase bodies. Answers are `{"code": n, "message": "…", "data": …}`.
//!
//! # Checks, in order
//!
//! **`POST /auth/token`** and **`POST /auth/realms/developer/protocol/openid-connect/token`**
//! (both paths are in use): body `application/x-www-form-urlencoded` with
//! `grant_type=client_credentials`, `client_id`, `client_secret`. The IAM service is Keycloak
//! (its path shows it), so errors are Keycloak's (inferred): wrong content type or missing
//! field 400 `invalid_request`; another grant 400 `unsupported_grant_type`; unknown client 401
//! `invalid_client`; wrong secret 401 `unauthorized_client` "Invalid client secret". Success:
//! `{"access_token","expires_in":3600,"token_type":"Bearer"}`; the token expires by the mock's
//! clock after [`HonorMockConfig::access_token_lifetime`].
//!
//! **`POST /api/v1/{appId}/sendMessage`**:
//! 1. `Authorization: Bearer <token>`: missing, unknown or issued to another app → HTTP 401
//!    code `80200001`; expired by the clock → HTTP 401 code `80200003` (the HTTP status is
//!    inferred; the codes are Huawei's, which Honor reuses).
//! 2. `timestamp` header: epoch milliseconds, within [`HonorMockConfig::timestamp_window`]
//!    (±10 min, inferred) of the mock's clock, else HTTP 400 code `80100001`.
//! 3. `Content-Type: application/json` (charset allowed) and a JSON object body, else HTTP 400
//!    `80100001`.
//! 4. `token` an array of 1..=[`HonorMockConfig::max_tokens_per_request`] strings (1000,
//!    inferred from Huawei), else `80300010`.
//! 5. The body without `token`, as compact JSON, at most
//!    [`HonorMockConfig::max_message_bytes`] (4096, inferred from Huawei), else `80300008`.
//! 6. Structure (`80100003`): `data` and `android.data` strings; `notification` an object of
//!    strings; `android.ttl` seconds as Huawei writes them (`"86400"`, `"3.5s"`);
//!    `android.notification`: `clickAction.type` 1 (needs `intent` or `action`), 2 (needs a
//!    `url`) or 3; `style` 0|1, and `bigTitle` and `bigBody` when it is 1; `importance`
//!    `LOW`/`NORMAL`; `badge.badgeClass` required, `badge.addNum` 1..=99, `badge.setNum`
//!    0..=99; at most 3 `buttons`, `name` 1..=40 characters, `actionType` 0..=2. A message with a
//!    notification part needs a title and body (in `notification` or `android.notification`);
//!    one without needs `data` (inferred).
//! 7. Scripted request outcome ([`HonorMock::fail_next`], [`HonorMock::fail_all`]), latency.
//! 8. Per token: unregistered ([`HonorMock::unregister`]) or scripted
//!    [`HonorOutcome::TokenExpired`] → `data.expireTokens`; scripted
//!    [`HonorOutcome::InvalidToken`] or not 1..=512 printable ASCII characters (inferred) →
//!    `data.failTokens`; a token scripted with a request-level outcome makes the request answer
//!    it. Every token failing → code `80300007` (`sendResult: false`); some → `80100000`; none →
//!    `{"code":200,"message":"Success","data":{"sendResult":true,"requestId","failTokens":[],"expireTokens":[]}}`.

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use openpush_core::Clock;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use crate::huawei::{
    bearer, form, has_content_type, issue_token, plausible_token, random_digits, random_hex,
    request_id, retry_after_header, valid_ttl, AccessToken,
};
use crate::script::{Recorder, Script};

pub const TOKEN_PATH: &str = "/auth/token";
pub const KEYCLOAK_TOKEN_PATH: &str = "/auth/realms/developer/protocol/openid-connect/token";
pub const SEND_PATH: &str = "/api/v1/{app_id}/sendMessage";

pub const CODE_SUCCESS: i64 = 200;
pub const CODE_PARTIAL_SUCCESS: i64 = 80100000;
pub const CODE_PARAMETER_ERROR: i64 = 80100001;
pub const CODE_ILLEGAL_MESSAGE: i64 = 80100003;
pub const CODE_AUTH_ERROR: i64 = 80200001;
pub const CODE_AUTH_TOKEN_EXPIRED: i64 = 80200003;
pub const CODE_APP_FORBIDDEN: i64 = 80300002;
pub const CODE_ALL_TOKENS_INVALID: i64 = 80300007;
pub const CODE_MESSAGE_TOO_BIG: i64 = 80300008;
pub const CODE_BAD_TOKEN_COUNT: i64 = 80300010;
pub const CODE_INTERNAL_ERROR: i64 = 81000001;

/// One Honor app the mock knows. `Debug` never prints the secret.
#[derive(Clone)]
pub struct HonorApp {
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for HonorApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HonorApp")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl HonorApp {
    /// A test app with a random numeric App ID and client ID and a random 32-hex secret.
    pub fn random() -> Self {
        Self {
            app_id: random_digits(9),
            client_id: random_digits(10),
            client_secret: random_hex(32),
        }
    }
}

/// What the Honor mock accepts.
#[derive(Debug, Clone)]
pub struct HonorMockConfig {
    pub apps: Vec<HonorApp>,
    /// `expires_in` of issued access tokens (3600 s, inferred).
    pub access_token_lifetime: Duration,
    /// How far the `timestamp` header may be from the mock's clock (±10 min, inferred).
    pub timestamp_window: Duration,
    /// Most tokens per send (1000, inferred).
    pub max_tokens_per_request: usize,
    /// Largest body without its tokens, in bytes (4096, inferred).
    pub max_message_bytes: usize,
    /// How many accepted pushes are kept for [`HonorMock::pushes`] (the newest; all are counted).
    pub max_recorded: usize,
}

impl HonorMockConfig {
    /// One random test app with the limits above.
    pub fn for_tests() -> Self {
        Self {
            apps: vec![HonorApp::random()],
            access_token_lifetime: Duration::from_secs(3600),
            timestamp_window: Duration::from_secs(600),
            max_tokens_per_request: 1000,
            max_message_bytes: 4096,
            max_recorded: 100_000,
        }
    }

    /// The notifier credentials of the first app: `{"app_id","client_id","client_secret"}`.
    pub fn notifier_credentials(&self) -> Value {
        let app = &self.apps[0];
        json!({"app_id": app.app_id, "client_id": app.client_id,
               "client_secret": app.client_secret})
    }
}

/// A scripted answer for a send that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HonorOutcome {
    /// The token is no longer valid: listed in `data.expireTokens`.
    TokenExpired,
    /// The token is invalid: listed in `data.failTokens`.
    InvalidToken,
    /// HTTP 503 with `Retry-After` if given.
    ServiceUnavailable { retry_after_secs: Option<u64> },
    /// HTTP 500 with code `81000001`.
    InternalError,
    /// HTTP 401 code `80200003`: the access token expired.
    AuthTokenExpired,
    /// Code `80300002`: the app may not send.
    AppForbidden,
    /// Code `80100003`: Honor refused the message.
    IllegalMessage,
}

/// One token of a send the mock accepted.
#[derive(Debug, Clone)]
pub struct HonorPush {
    pub app_id: String,
    pub token: String,
    /// `android.notification.title`, else `notification.title`.
    pub title: Option<String>,
    /// `android.notification.body`, else `notification.body`.
    pub body: Option<String>,
    /// `data` as sent (a string).
    pub data: Option<String>,
    /// The request body as sent, without its `token` list.
    pub message: Value,
    pub request_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug)]
struct HonorState {
    config: HonorMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<HonorOutcome>,
    token_outcomes: Mutex<HashMap<String, HonorOutcome>>,
    dead: Mutex<HashSet<String>>,
    access_tokens: Mutex<HashMap<String, AccessToken>>,
    pushes: Recorder<HonorPush>,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

/// A handle on a Honor mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HonorMock {
    state: Arc<HonorState>,
}

impl HonorMock {
    pub fn new(config: HonorMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(HonorState {
                config,
                clock,
                script: Script::new(),
                token_outcomes: Mutex::new(HashMap::new()),
                dead: Mutex::new(HashSet::new()),
                access_tokens: Mutex::new(HashMap::new()),
                pushes: Recorder::new(max_recorded),
                tokens_issued: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// Both token paths and the send endpoint, at Honor's paths.
    pub fn router(&self) -> Router {
        Router::new()
            .route(TOKEN_PATH, post(token))
            .route(KEYCLOAK_TOKEN_PATH, post(token))
            .route(SEND_PATH, post(send))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": 404, "message": "Not Found"})),
                )
            })
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &HonorMockConfig {
        &self.state.config
    }

    /// See [`HonorMockConfig::notifier_credentials`].
    pub fn notifier_credentials(&self) -> Value {
        self.state.config.notifier_credentials()
    }

    /// The accepted pushes kept so far (the newest `max_recorded`), one per token.
    pub fn pushes(&self) -> Vec<HonorPush> {
        self.state.pushes.snapshot()
    }

    /// Tokens accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn push_count(&self) -> u64 {
        self.state.pushes.accepted()
    }

    /// Send requests received, accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Access tokens issued by the token endpoint.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::Relaxed)
    }

    /// Makes every issued access token expired (the next send with one is `80200003`).
    pub fn expire_access_tokens(&self) {
        for t in self.state.access_tokens.lock().values_mut() {
            t.expires_at_ms = i64::MIN;
        }
    }

    /// `token` becomes dead: listed in `expireTokens` from now on.
    pub fn unregister(&self, token: &str) {
        self.state.dead.lock().insert(token.to_owned());
    }

    pub fn set_token_outcome(&self, token: &str, outcome: HonorOutcome) {
        self.state
            .token_outcomes
            .lock()
            .insert(token.to_owned(), outcome);
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.token_outcomes.lock().remove(token);
    }

    /// The next `n` requests that pass every check answer `outcome`.
    pub fn fail_next(&self, n: usize, outcome: HonorOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    /// Every request that passes every check answers `outcome` (`None` stops it).
    pub fn fail_all(&self, outcome: Option<HonorOutcome>) {
        self.state.script.fail_all(outcome);
    }

    /// Latency added to every send answer.
    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, dead tokens, latency, recorded pushes and counters (access tokens stay
    /// valid).
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.token_outcomes.lock().clear();
        self.state.dead.lock().clear();
        self.state.pushes.clear();
        self.state.requests.store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Token endpoint (Keycloak's client-credentials answers)

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(st): State<Arc<HonorState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !has_content_type(&headers, "application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        );
    }
    let f = form(&body);
    match f.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            )
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing form parameter: grant_type",
            )
        }
    }
    let Some(app) = f
        .get("client_id")
        .and_then(|id| st.config.apps.iter().find(|a| &a.client_id == id))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    };
    if f.get("client_secret") != Some(&app.client_secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Invalid client secret",
        );
    }
    let lifetime = st.config.access_token_lifetime;
    let t = issue_token(&st.access_tokens, &app.app_id, st.clock.now_ms(), lifetime);
    st.tokens_issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({"access_token": t, "expires_in": lifetime.as_secs(), "token_type": "Bearer"}))
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// sendMessage

fn answer(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "data": null})),
    )
        .into_response()
}

fn scripted(outcome: &HonorOutcome, rid: &str, tokens: &[String]) -> Response {
    use HonorOutcome::*;
    match outcome {
        TokenExpired => all_failed(rid, &[], tokens),
        InvalidToken => all_failed(rid, tokens, &[]),
        ServiceUnavailable { retry_after_secs } => {
            let mut r = answer(StatusCode::SERVICE_UNAVAILABLE, 503, "Service Unavailable");
            retry_after_header(&mut r, *retry_after_secs);
            r
        }
        InternalError => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            CODE_INTERNAL_ERROR,
            "Internal error",
        ),
        AuthTokenExpired => answer(
            StatusCode::UNAUTHORIZED,
            CODE_AUTH_TOKEN_EXPIRED,
            "Oauth Token expired",
        ),
        AppForbidden => answer(
            StatusCode::OK,
            CODE_APP_FORBIDDEN,
            "The app is forbidden to send messages",
        ),
        IllegalMessage => answer(StatusCode::OK, CODE_ILLEGAL_MESSAGE, "Illegal payload"),
    }
}

fn all_failed(rid: &str, fail: &[String], expire: &[String]) -> Response {
    Json(
        json!({"code": CODE_ALL_TOKENS_INVALID, "message": "All the tokens are invalid",
        "data": {"sendResult": false, "requestId": rid, "failTokens": fail,
                 "expireTokens": expire}}),
    )
    .into_response()
}

async fn send(
    State(st): State<Arc<HonorState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let now_ms = st.clock.now_ms();

    // 1. Auth.
    let token = bearer(&headers).and_then(|b| st.access_tokens.lock().get(b).cloned());
    let Some(token) = token.filter(|t| t.app_id == app_id) else {
        return answer(
            StatusCode::UNAUTHORIZED,
            CODE_AUTH_ERROR,
            "Oauth authentication error",
        );
    };
    if token.expires_at_ms <= now_ms {
        return answer(
            StatusCode::UNAUTHORIZED,
            CODE_AUTH_TOKEN_EXPIRED,
            "Oauth Token expired",
        );
    }

    // 2. timestamp.
    let ts = headers
        .get("timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let window = st.config.timestamp_window.as_millis() as i64;
    match ts {
        None => {
            return answer(
                StatusCode::BAD_REQUEST,
                CODE_PARAMETER_ERROR,
                "Parameter error: the timestamp header is missing or not epoch milliseconds",
            )
        }
        Some(ts) if (now_ms - ts).abs() > window => {
            return answer(
                StatusCode::BAD_REQUEST,
                CODE_PARAMETER_ERROR,
                "Parameter error: the timestamp header is too far from the server time",
            )
        }
        Some(_) => {}
    }

    // 3. Body.
    if !has_content_type(&headers, "application/json") {
        return answer(
            StatusCode::BAD_REQUEST,
            CODE_PARAMETER_ERROR,
            "Parameter error: Content-Type must be application/json",
        );
    }
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => o,
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                CODE_PARAMETER_ERROR,
                "Parameter error: the body is not a JSON object",
            )
        }
    };
    let (message, tokens) = match validate(&st.config, request) {
        Ok(ok) => ok,
        Err((code, msg)) => return answer(StatusCode::OK, code, &msg),
    };
    let rid = request_id(now_ms);

    // 7. Scripts and latency.
    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(o) = st.script.outcome(None) {
        return scripted(&o, &rid, &tokens);
    }

    // 8. Per token.
    let mut fail = Vec::new();
    let mut expire = Vec::new();
    {
        let outcomes = st.token_outcomes.lock();
        let dead = st.dead.lock();
        for t in &tokens {
            match outcomes.get(t) {
                Some(HonorOutcome::TokenExpired) => expire.push(t.clone()),
                Some(HonorOutcome::InvalidToken) => fail.push(t.clone()),
                Some(other) => return scripted(other, &rid, &tokens),
                None if dead.contains(t) => expire.push(t.clone()),
                None if !plausible_token(t) => fail.push(t.clone()),
                None => {}
            }
        }
    }
    if fail.len() + expire.len() == tokens.len() {
        return all_failed(&rid, &fail, &expire);
    }
    let android_n = &message["android"]["notification"];
    let text = |k: &str| {
        android_n[k]
            .as_str()
            .or_else(|| message["notification"][k].as_str())
            .map(str::to_owned)
    };
    let (title, body_text) = (text("title"), text("body"));
    let data = message["data"].as_str().map(str::to_owned);
    let skip: HashSet<&String> = fail.iter().chain(&expire).collect();
    for t in tokens.iter().filter(|t| !skip.contains(t)) {
        st.pushes.record(HonorPush {
            app_id: app_id.clone(),
            token: t.clone(),
            title: title.clone(),
            body: body_text.clone(),
            data: data.clone(),
            message: message.clone(),
            request_id: rid.clone(),
            received_at_ms: now_ms,
        });
    }
    let (code, text) = if skip.is_empty() {
        (CODE_SUCCESS, "Success")
    } else {
        (CODE_PARTIAL_SUCCESS, "Some tokens failed")
    };
    Json(json!({"code": code, "message": text,
        "data": {"sendResult": true, "requestId": rid, "failTokens": fail,
                 "expireTokens": expire}}))
    .into_response()
}

type Refusal = (i64, String);

fn illegal(msg: impl Into<String>) -> Refusal {
    (CODE_ILLEGAL_MESSAGE, msg.into())
}

/// Steps 4–6: the body without `token`, and the tokens.
fn validate(
    config: &HonorMockConfig,
    mut body: Map<String, Value>,
) -> Result<(Value, Vec<String>), Refusal> {
    let tokens: Option<Vec<String>> = match body.remove("token") {
        Some(Value::Array(list)) => list
            .into_iter()
            .map(|t| match t {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    let Some(tokens) = tokens else {
        return Err((
            CODE_BAD_TOKEN_COUNT,
            "token must be a list of strings".into(),
        ));
    };
    if tokens.is_empty() || tokens.len() > config.max_tokens_per_request {
        return Err((
            CODE_BAD_TOKEN_COUNT,
            format!(
                "the number of tokens must be 1 to {}, got {}",
                config.max_tokens_per_request,
                tokens.len()
            ),
        ));
    }
    let size = Value::Object(body.clone()).to_string().len();
    if size > config.max_message_bytes {
        return Err((
            CODE_MESSAGE_TOO_BIG,
            format!(
                "message body size {size} exceeds the limit of {} bytes",
                config.max_message_bytes
            ),
        ));
    }
    check_body(&body)?;
    Ok((Value::Object(body), tokens))
}

fn get_str<'a>(o: &'a Map<String, Value>, k: &str, at: &str) -> Result<Option<&'a str>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(illegal(format!("{at}.{k} must be a string"))),
    }
}

fn get_obj<'a>(
    o: &'a Map<String, Value>,
    k: &str,
    at: &str,
) -> Result<Option<&'a Map<String, Value>>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(illegal(format!("{at}.{k} must be an object"))),
    }
}

fn get_int(o: &Map<String, Value>, k: &str, at: &str) -> Result<Option<i64>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| illegal(format!("{at}.{k} must be an integer"))),
    }
}

fn check_body(b: &Map<String, Value>) -> Result<(), Refusal> {
    get_str(b, "data", "body")?;
    let n = get_obj(b, "notification", "body")?;
    if let Some(n) = n {
        for k in ["title", "body", "image"] {
            get_str(n, k, "notification")?;
        }
    }
    let mut an = None;
    if let Some(a) = get_obj(b, "android", "body")? {
        get_str(a, "data", "android")?;
        get_str(a, "biTag", "android")?;
        if let Some(ttl) = get_str(a, "ttl", "android")? {
            if !valid_ttl(ttl) {
                return Err(illegal(format!("android.ttl is invalid: {ttl:?}")));
            }
        }
        an = get_obj(a, "notification", "android")?;
        if let Some(an) = an {
            check_android_notification(an)?;
        }
    }
    if n.is_some() || an.is_some() {
        let text = |k: &str| {
            an.and_then(|an| an.get(k))
                .or_else(|| n.and_then(|n| n.get(k)))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !text("title") || !text("body") {
            return Err(illegal("a notification message needs a title and a body"));
        }
    } else if b
        .get("data")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(illegal("a message needs a notification or data"));
    }
    Ok(())
}

fn check_android_notification(an: &Map<String, Value>) -> Result<(), Refusal> {
    const AT: &str = "android.notification";
    for k in [
        "title", "body", "image", "bigTitle", "bigBody", "when", "tag", "group",
    ] {
        get_str(an, k, AT)?;
    }
    get_int(an, "notifyId", AT)?;
    if let Some(ca) = get_obj(an, "clickAction", AT)? {
        let has = |k: &str| {
            ca.get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        match get_int(ca, "type", "clickAction")? {
            Some(1) if !has("intent") && !has("action") => {
                return Err(illegal("clickAction type 1 needs an intent or an action"))
            }
            Some(2) if !has("url") => return Err(illegal("clickAction type 2 needs a url")),
            Some(1..=3) => {}
            _ => return Err(illegal("clickAction.type must be 1, 2 or 3")),
        }
    }
    match get_int(an, "style", AT)? {
        None | Some(0) => {}
        Some(1) => {
            for k in ["bigTitle", "bigBody"] {
                if get_str(an, k, AT)?.is_none_or(str::is_empty) {
                    return Err(illegal(format!("{AT}.{k} is required when style is 1")));
                }
            }
        }
        Some(_) => return Err(illegal(format!("{AT}.style must be 0 or 1"))),
    }
    match get_str(an, "importance", AT)? {
        None | Some("LOW" | "NORMAL") => {}
        Some(_) => return Err(illegal(format!("{AT}.importance must be LOW or NORMAL"))),
    }
    if let Some(badge) = get_obj(an, "badge", AT)? {
        const BAT: &str = "android.notification.badge";
        if get_str(badge, "badgeClass", BAT)?.is_none_or(str::is_empty) {
            return Err(illegal("badge.badgeClass is required"));
        }
        if get_int(badge, "addNum", BAT)?.is_some_and(|n| !(1..=99).contains(&n)) {
            return Err(illegal("badge.addNum must be 1 to 99"));
        }
        if get_int(badge, "setNum", BAT)?.is_some_and(|n| !(0..=99).contains(&n)) {
            return Err(illegal("badge.setNum must be 0 to 99"));
        }
    }
    if let Some(buttons) = an.get("buttons") {
        let list = buttons
            .as_array()
            .ok_or_else(|| illegal("buttons must be a list"))?;
        if list.len() > 3 {
            return Err(illegal("at most 3 buttons"));
        }
        for b in list {
            let name = b["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.chars().count() > 40 {
                return Err(illegal("a button name must be 1 to 40 characters"));
            }
            if b.get("actionType")
                .is_some_and(|t| t.as_i64().is_none_or(|t| !(0..=2).contains(&t)))
            {
                return Err(illegal("a button actionType must be 0 to 2"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_debug_hides_the_secret() {
        let app = HonorApp::random();
        assert!(!format!("{app:?}").contains(&app.client_secret));
    }

    #[test]
    fn body_checks() {
        let ok = json!({"notification": {"title": "t", "body": "b"}});
        assert!(check_body(ok.as_object().unwrap()).is_ok());
        let style = json!({"android": {"notification": {"title": "t", "body": "b", "style": 1}}});
        assert_eq!(
            check_body(style.as_object().unwrap()).unwrap_err().0,
            CODE_ILLEGAL_MESSAGE
        );
        let empty = json!({});
        assert!(check_body(empty.as_object().unwrap()).is_err());
        let data_only = json!({"data": "{}"});
        assert!(check_body(data_only.as_object().unwrap()).is_ok());
    }
}
