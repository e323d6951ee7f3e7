//! The Huawei Push Kit stand-in, HMS Core v1 server API: the OAuth2 token
//! endpoint `POST /oauth2/v3/token` and `POST /v1/{appId}/messages:send`, on one router (the real
//! service splits them over `oauth-login.cloud.huawei.com` and `push-api.cloud.huawei.com`; a
//! client pointed at the mock with one base URL posts both here).
//!
//! # Codes
//!
//! Business answers are HTTP 200 `{"code":"<8 digits>","msg":"…","requestId":"…"}` (code a
//! *string*):
//!
//! | code | meaning |
//! |---|---|
//! | 80000000 | success |
//! | 80100000 | partial success; `msg` is a JSON **string** `{"success":n,"failure":m,"illegal_tokens":[…]}` |
//! | 80100001 | parameter error |
//! | 80100003 | illegal message structure |
//! | 80100013 | illegal `collapse_key` |
//! | 80200001 | OAuth authentication error (HTTP 401 when the bearer is missing or unknown) |
//! | 80200003 | OAuth token expired |
//! | 80300002 | app forbidden to send (scripted only) |
//! | 80300007 | all tokens invalid |
//! | 80300008 | message body over 4096 bytes |
//! | 80300010 | token count not in 1..=1000, or `message` malformed |
//! | 81000001 | internal error (HTTP 500, scripted only) |
//!
//! HTTP 503 (traffic control) is scripted only, with `Retry-After` if given.
//!
//! # Checks, in order
//!
//! **`POST /oauth2/v3/token`**: body `application/x-www-form-urlencoded` with
//! `grant_type=client_credentials`, `client_id`, `client_secret`. Any failure is HTTP 400
//! `{"error":1101,"sub_error":…,"error_description":…}` as Huawei answers: wrong content type or
//! missing field `invalid request` (sub_error 20001, inferred), another grant type
//! `unsupported grant_type` (inferred), unknown `client_id` `invalid client_id` (sub_error
//! 12302, inferred), wrong secret `invalid client_secret` (sub_error 12304). Success:
//! `{"access_token","expires_in":3600,"token_type":"Bearer"}`; the token expires by the mock's
//! clock after [`HuaweiMockConfig::access_token_lifetime`].
//!
//! **`POST /v1/{appId}/messages:send`**:
//! 1. `Authorization: Bearer <token>`: missing, malformed or unknown → HTTP 401 `80200001`;
//!    expired (by the clock) → `80200003`; issued to another app than `{appId}` → `80200001`.
//! 2. `Content-Type: application/json` (inferred) and a JSON object body, else HTTP 400
//!    `80100001`.
//! 3. `validate_only` a boolean if present, else `80100001`; `message` an object, else
//!    `80300010`.
//! 4. `message.token` an array of 1..=[`HuaweiMockConfig::max_tokens_per_request`] (1000)
//!    strings, else `80300010`; `topic`/`condition` targets are not modelled (`80100001`).
//! 5. The `message` object without `token`, as compact JSON, at most
//!    [`HuaweiMockConfig::max_message_bytes`] (4096) bytes, else `80300008`.
//! 6. Structure (`80100003` unless noted): `message.data` and `android.data` strings;
//!    `notification` an object of strings; `android.collapse_key` an integer in -1..=100
//!    (`80100013`); `android.urgency` `HIGH`/`NORMAL`; `android.ttl` matching
//!    `\d+|\d+[sS]|\d+.\d{1,9}|\d+.\d{1,9}[sS]`; `fast_app_target` 1|2; `target_user_type` 0|1.
//!    `android.notification` (snake_case, as Huawei names it): `click_action` required with
//!    `type` 1 (needs `intent` or `action`), 2 (needs an `https://` `url`) or 3; `style` 0|1|3;
//!    `importance` `LOW`/`NORMAL`/`HIGH`; `visibility` one of Huawei's four; `badge.add_num`
//!    1..=99, `badge.set_num` 0..=99, `badge.class` required; at most 3 `buttons` with `name`
//!    ≤ 40 characters; at most 5 `inbox_content` lines. A message with a notification part
//!    needs a title and a body (in `notification` or `android.notification`); a message without
//!    one needs `data` (inferred).
//! 7. Scripted outcome for the request ([`HuaweiMock::fail_next`], [`HuaweiMock::fail_all`]),
//!    then latency ([`HuaweiMock::set_latency`]).
//! 8. Per token: unregistered ([`HuaweiMock::unregister`]), scripted
//!    [`HuaweiOutcome::InvalidToken`], or not 1..=512 printable ASCII characters (inferred) →
//!    illegal. A token scripted with a request-level outcome (503, 500, expired auth, …) makes
//!    the whole request answer that. All illegal → `80300007`; some → `80100000` with the
//!    `illegal_tokens`; none → `80000000` `Success`.
//! 9. `validate_only: true` answers as a send would but records nothing.

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use openpush_core::Clock;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::script::{Recorder, Script};

pub const TOKEN_PATH: &str = "/oauth2/v3/token";
pub const SEND_PATH: &str = "/v1/{app_id}/messages:send";

pub const CODE_SUCCESS: &str = "80000000";
pub const CODE_PARTIAL_SUCCESS: &str = "80100000";
pub const CODE_PARAMETER_ERROR: &str = "80100001";
pub const CODE_ILLEGAL_MESSAGE: &str = "80100003";
pub const CODE_ILLEGAL_COLLAPSE_KEY: &str = "80100013";
pub const CODE_AUTH_ERROR: &str = "80200001";
pub const CODE_AUTH_TOKEN_EXPIRED: &str = "80200003";
pub const CODE_APP_FORBIDDEN: &str = "80300002";
pub const CODE_ALL_TOKENS_INVALID: &str = "80300007";
pub const CODE_MESSAGE_TOO_BIG: &str = "80300008";
pub const CODE_BAD_TOKEN_COUNT: &str = "80300010";
pub const CODE_INTERNAL_ERROR: &str = "81000001";

/// One Huawei app the mock knows. `Debug` never prints the secret.
#[derive(Clone)]
pub struct HuaweiApp {
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for HuaweiApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiApp")
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl HuaweiApp {
    /// A test app with a random numeric App ID and client ID and a random 64-hex secret.
    pub fn random() -> Self {
        Self {
            app_id: random_digits(9),
            client_id: random_digits(9),
            client_secret: random_hex(64),
        }
    }
}

/// What the Huawei mock accepts.
#[derive(Debug, Clone)]
pub struct HuaweiMockConfig {
    pub apps: Vec<HuaweiApp>,
    /// `expires_in` of issued access tokens (Huawei: 3600 s).
    pub access_token_lifetime: Duration,
    /// Most tokens per send (Huawei: 1000).
    pub max_tokens_per_request: usize,
    /// Largest `message` without its tokens, in bytes (Huawei: 4096).
    pub max_message_bytes: usize,
    /// How many accepted pushes are kept for [`HuaweiMock::pushes`] (the newest; all are counted).
    pub max_recorded: usize,
}

impl HuaweiMockConfig {
    /// One random test app with Huawei's limits.
    pub fn for_tests() -> Self {
        Self {
            apps: vec![HuaweiApp::random()],
            access_token_lifetime: Duration::from_secs(3600),
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
pub enum HuaweiOutcome {
    /// The token is illegal: listed in `illegal_tokens` (`80100000`), or `80300007` when every
    /// token of the request is (as a request-level script: every token).
    InvalidToken,
    /// HTTP 503 traffic control, with `Retry-After` if given.
    TrafficControl { retry_after_secs: Option<u64> },
    /// HTTP 500 with code `81000001`.
    InternalError,
    /// `80200003`: the access token expired (as if the clock had passed its expiry).
    AuthTokenExpired,
    /// `80300002`: the app may not send.
    AppForbidden,
    /// `80100003`: Huawei refused the message (e.g. content review).
    IllegalMessage,
}

/// One token of a send the mock accepted.
#[derive(Debug, Clone)]
pub struct HuaweiPush {
    pub app_id: String,
    pub token: String,
    /// `android.notification.title`, else `notification.title`.
    pub title: Option<String>,
    /// `android.notification.body`, else `notification.body`.
    pub body: Option<String>,
    /// `message.data` as sent (a string).
    pub data: Option<String>,
    /// The `message` object as sent, without its `token` list.
    pub message: Value,
    pub request_id: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) app_id: String,
    pub(crate) expires_at_ms: i64,
}

#[derive(Debug)]
struct HuaweiState {
    config: HuaweiMockConfig,
    clock: Arc<dyn Clock>,
    script: Script<HuaweiOutcome>,
    token_outcomes: Mutex<HashMap<String, HuaweiOutcome>>,
    dead: Mutex<HashSet<String>>,
    access_tokens: Mutex<HashMap<String, AccessToken>>,
    pushes: Recorder<HuaweiPush>,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

/// A handle on a Huawei mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HuaweiMock {
    state: Arc<HuaweiState>,
}

impl HuaweiMock {
    pub fn new(config: HuaweiMockConfig, clock: Arc<dyn Clock>) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(HuaweiState {
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

    /// The token endpoint and the send endpoint, at Huawei's paths.
    pub fn router(&self) -> Router {
        Router::new()
            .route(TOKEN_PATH, post(token))
            .route(SEND_PATH, post(send))
            .fallback(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"code": "404", "msg": "Not Found"})),
                )
            })
            .with_state(self.state.clone())
    }

    pub fn config(&self) -> &HuaweiMockConfig {
        &self.state.config
    }

    /// See [`HuaweiMockConfig::notifier_credentials`].
    pub fn notifier_credentials(&self) -> Value {
        self.state.config.notifier_credentials()
    }

    /// The accepted pushes kept so far (the newest `max_recorded`), one per token.
    pub fn pushes(&self) -> Vec<HuaweiPush> {
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

    /// `token` becomes dead: listed in `illegal_tokens` from now on.
    pub fn unregister(&self, token: &str) {
        self.state.dead.lock().insert(token.to_owned());
    }

    pub fn set_token_outcome(&self, token: &str, outcome: HuaweiOutcome) {
        self.state
            .token_outcomes
            .lock()
            .insert(token.to_owned(), outcome);
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.token_outcomes.lock().remove(token);
    }

    /// The next `n` requests that pass every check answer `outcome`.
    pub fn fail_next(&self, n: usize, outcome: HuaweiOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    /// Every request that passes every check answers `outcome` (`None` stops it).
    pub fn fail_all(&self, outcome: Option<HuaweiOutcome>) {
        self.state.script.fail_all(outcome);
    }

    /// Latency added to every send answer.
    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    /// Clears scripts, dead tokens, latency and recorded pushes (access tokens stay valid).
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.token_outcomes.lock().clear();
        self.state.dead.lock().clear();
        self.state.pushes.clear();
        self.state.requests.store(0, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the Honor mock.

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|i| char::from(b'0' + rng.gen_range(if i == 0 { 1 } else { 0 }..10u8)))
        .collect()
}

pub(crate) fn random_hex(n: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| HEX[rng.gen_range(0..16)] as char).collect()
}

pub(crate) fn random_token(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

pub(crate) fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The bearer token of `Authorization: Bearer <token>` (the scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `\d+|\d+[sS]|\d+.\d{1,9}|\d+.\d{1,9}[sS]` (the HMS SDK's TTL check).
pub(crate) fn valid_ttl(s: &str) -> bool {
    let body = s.strip_suffix(['s', 'S']).unwrap_or(s);
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && frac.is_none_or(|f| digits(f) && f.len() <= 9)
}

/// A device token the vendor could have issued: 1..=512 printable ASCII characters (inferred).
pub(crate) fn plausible_token(t: &str) -> bool {
    (1..=512).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic())
}

pub(crate) fn request_id(now_ms: i64) -> String {
    format!("{now_ms}{}", random_digits(10))
}

pub(crate) fn retry_after_header(resp: &mut Response, secs: Option<u64>) {
    if let Some(s) = secs {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(s));
    }
}

/// Issues an access token for `app_id`.
pub(crate) fn issue_token(
    tokens: &Mutex<HashMap<String, AccessToken>>,
    app_id: &str,
    now_ms: i64,
    lifetime: Duration,
) -> String {
    let t = format!("DgEAAN{}", random_token(64));
    tokens.lock().insert(
        t.clone(),
        AccessToken {
            app_id: app_id.to_owned(),
            expires_at_ms: now_ms + lifetime.as_millis() as i64,
        },
    );
    t
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

fn oauth_error(sub_error: Option<u32>, description: &str) -> Response {
    let mut body = json!({"error": 1101, "error_description": description});
    if let Some(s) = sub_error {
        body["sub_error"] = json!(s);
    }
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn token(State(st): State<Arc<HuaweiState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !has_content_type(&headers, "application/x-www-form-urlencoded") {
        return oauth_error(Some(20001), "invalid request");
    }
    let f = form(&body);
    match f.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(None, "unsupported grant_type"),
        None => return oauth_error(Some(20001), "invalid request"),
    }
    let (Some(id), Some(secret)) = (f.get("client_id"), f.get("client_secret")) else {
        return oauth_error(Some(20001), "invalid request");
    };
    let Some(app) = st.config.apps.iter().find(|a| &a.client_id == id) else {
        return oauth_error(Some(12302), "invalid client_id");
    };
    if &app.client_secret != secret {
        return oauth_error(Some(12304), "invalid client_secret");
    }
    let lifetime = st.config.access_token_lifetime;
    let t = issue_token(&st.access_tokens, &app.app_id, st.clock.now_ms(), lifetime);
    st.tokens_issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({"access_token": t, "expires_in": lifetime.as_secs(), "token_type": "Bearer"}))
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// messages:send

fn answer(status: StatusCode, code: &str, msg: &str, request_id: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "msg": msg, "requestId": request_id})),
    )
        .into_response()
}

fn scripted(outcome: &HuaweiOutcome, request_id: &str) -> Response {
    use HuaweiOutcome::*;
    match outcome {
        InvalidToken => answer(
            StatusCode::OK,
            CODE_ALL_TOKENS_INVALID,
            "All the tokens are invalid",
            request_id,
        ),
        TrafficControl { retry_after_secs } => {
            let mut r = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({"code": "503", "msg": "traffic control, please try again later",
                            "requestId": request_id}),
                ),
            )
                .into_response();
            retry_after_header(&mut r, *retry_after_secs);
            r
        }
        InternalError => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            CODE_INTERNAL_ERROR,
            "Internal error",
            request_id,
        ),
        AuthTokenExpired => answer(
            StatusCode::OK,
            CODE_AUTH_TOKEN_EXPIRED,
            "Oauth Token expired",
            request_id,
        ),
        AppForbidden => answer(
            StatusCode::OK,
            CODE_APP_FORBIDDEN,
            "The app is forbidden to send messages",
            request_id,
        ),
        IllegalMessage => answer(
            StatusCode::OK,
            CODE_ILLEGAL_MESSAGE,
            "Illegal payload",
            request_id,
        ),
    }
}

async fn send(
    State(st): State<Arc<HuaweiState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let now_ms = st.clock.now_ms();
    let rid = request_id(now_ms);

    // 1. Auth.
    let token = bearer(&headers).and_then(|b| st.access_tokens.lock().get(b).cloned());
    let Some(token) = token else {
        return answer(
            StatusCode::UNAUTHORIZED,
            CODE_AUTH_ERROR,
            "Oauth authentication error",
            &rid,
        );
    };
    if token.expires_at_ms <= now_ms {
        return answer(
            StatusCode::OK,
            CODE_AUTH_TOKEN_EXPIRED,
            "Oauth Token expired",
            &rid,
        );
    }
    if token.app_id != app_id {
        return answer(
            StatusCode::OK,
            CODE_AUTH_ERROR,
            "Oauth authentication error: the access token belongs to another app",
            &rid,
        );
    }

    // 2. Body.
    if !has_content_type(&headers, "application/json") {
        return answer(
            StatusCode::BAD_REQUEST,
            CODE_PARAMETER_ERROR,
            "Parameter error: Content-Type must be application/json",
            &rid,
        );
    }
    let request: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => o,
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                CODE_PARAMETER_ERROR,
                "Parameter error: the body is not a JSON object",
                &rid,
            )
        }
    };
    let (message, tokens, validate_only) = match validate(&st.config, &request) {
        Ok(ok) => ok,
        Err((code, msg)) => return answer(StatusCode::OK, code, &msg, &rid),
    };

    // 7. Scripts and latency.
    let latency = st.script.latency(None);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(o) = st.script.outcome(None) {
        return scripted(&o, &rid);
    }

    // 8. Per token.
    let mut illegal = Vec::new();
    {
        let outcomes = st.token_outcomes.lock();
        let dead = st.dead.lock();
        for t in &tokens {
            match outcomes.get(t) {
                Some(HuaweiOutcome::InvalidToken) => illegal.push(t.clone()),
                Some(other) => return scripted(other, &rid),
                None if dead.contains(t) || !plausible_token(t) => illegal.push(t.clone()),
                None => {}
            }
        }
    }
    if illegal.len() == tokens.len() {
        return answer(
            StatusCode::OK,
            CODE_ALL_TOKENS_INVALID,
            "All the tokens are invalid",
            &rid,
        );
    }
    if !validate_only {
        let android_n = &message["android"]["notification"];
        let text = |k: &str| {
            android_n[k]
                .as_str()
                .or_else(|| message["notification"][k].as_str())
                .map(str::to_owned)
        };
        let (title, body_text) = (text("title"), text("body"));
        let data = message["data"].as_str().map(str::to_owned);
        let skip: HashSet<&String> = illegal.iter().collect();
        for t in tokens.iter().filter(|t| !skip.contains(t)) {
            st.pushes.record(HuaweiPush {
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
    }
    if illegal.is_empty() {
        return answer(StatusCode::OK, CODE_SUCCESS, "Success", &rid);
    }
    let msg = json!({"success": tokens.len() - illegal.len(), "failure": illegal.len(),
                     "illegal_tokens": illegal})
    .to_string();
    answer(StatusCode::OK, CODE_PARTIAL_SUCCESS, &msg, &rid)
}

type Refusal = (&'static str, String);

fn illegal(msg: impl Into<String>) -> Refusal {
    (CODE_ILLEGAL_MESSAGE, msg.into())
}

/// Steps 3–6: returns the message without `token`, the tokens and `validate_only`.
fn validate(
    config: &HuaweiMockConfig,
    request: &Map<String, Value>,
) -> Result<(Value, Vec<String>, bool), Refusal> {
    let validate_only = match request.get("validate_only") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err((
                CODE_PARAMETER_ERROR,
                "validate_only must be a boolean".into(),
            ))
        }
    };
    let Some(Value::Object(message)) = request.get("message") else {
        return Err((
            CODE_BAD_TOKEN_COUNT,
            "message is missing or not an object".into(),
        ));
    };
    if message.contains_key("topic") || message.contains_key("condition") {
        return Err((
            CODE_PARAMETER_ERROR,
            "topic and condition messages are not supported by this mock".into(),
        ));
    }
    let tokens: Vec<String> = match message.get("token") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or((
                CODE_BAD_TOKEN_COUNT,
                "token must be a list of strings".into(),
            ))?,
        _ => {
            return Err((
                CODE_BAD_TOKEN_COUNT,
                "token must be a list of strings".into(),
            ))
        }
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
    let mut without = message.clone();
    without.remove("token");
    let size = Value::Object(without.clone()).to_string().len();
    if size > config.max_message_bytes {
        return Err((
            CODE_MESSAGE_TOO_BIG,
            format!(
                "message body size {size} exceeds the limit of {} bytes",
                config.max_message_bytes
            ),
        ));
    }
    check_message(&without)?;
    Ok((Value::Object(without), tokens, validate_only))
}

fn opt_str<'a>(o: &'a Map<String, Value>, k: &str, at: &str) -> Result<Option<&'a str>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(illegal(format!("{at}.{k} must be a string"))),
    }
}

fn opt_obj<'a>(
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

fn opt_int(o: &Map<String, Value>, k: &str, at: &str) -> Result<Option<i64>, Refusal> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| illegal(format!("{at}.{k} must be an integer"))),
    }
}

fn int_in(o: &Map<String, Value>, k: &str, at: &str, ok: &[i64]) -> Result<(), Refusal> {
    match opt_int(o, k, at)? {
        Some(v) if !ok.contains(&v) => Err(illegal(format!("{at}.{k} must be one of {ok:?}"))),
        _ => Ok(()),
    }
}

fn str_in(o: &Map<String, Value>, k: &str, at: &str, ok: &[&str]) -> Result<(), Refusal> {
    match opt_str(o, k, at)? {
        Some(v) if !ok.contains(&v) => Err(illegal(format!("{at}.{k} must be one of {ok:?}"))),
        _ => Ok(()),
    }
}

fn check_message(m: &Map<String, Value>) -> Result<(), Refusal> {
    opt_str(m, "data", "message")?;
    let n = opt_obj(m, "notification", "message")?;
    if let Some(n) = n {
        for k in ["title", "body", "image"] {
            opt_str(n, k, "message.notification")?;
        }
    }
    let android = opt_obj(m, "android", "message")?;
    let mut an = None;
    if let Some(a) = android {
        const AT: &str = "message.android";
        opt_str(a, "data", AT)?;
        if let Some(ck) = opt_int(a, "collapse_key", AT)? {
            if !(-1..=100).contains(&ck) {
                return Err((
                    CODE_ILLEGAL_COLLAPSE_KEY,
                    "collapse_key must be -1 to 100".into(),
                ));
            }
        }
        str_in(a, "urgency", AT, &["HIGH", "NORMAL"])?;
        if let Some(ttl) = opt_str(a, "ttl", AT)? {
            if !valid_ttl(ttl) {
                return Err(illegal(format!("{AT}.ttl is invalid: {ttl:?}")));
            }
        }
        int_in(a, "fast_app_target", AT, &[1, 2])?;
        int_in(a, "target_user_type", AT, &[0, 1])?;
        an = opt_obj(a, "notification", AT)?;
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
    } else if m
        .get("data")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(illegal("a message needs a notification or data"));
    }
    Ok(())
}

fn check_android_notification(an: &Map<String, Value>) -> Result<(), Refusal> {
    const AT: &str = "message.android.notification";
    for k in [
        "title",
        "body",
        "icon",
        "color",
        "sound",
        "tag",
        "channel_id",
        "image",
        "big_title",
        "big_body",
        "group",
        "when",
    ] {
        opt_str(an, k, AT)?;
    }
    let Some(ca) = opt_obj(an, "click_action", AT)? else {
        return Err(illegal(format!("{AT}.click_action is required")));
    };
    match opt_int(ca, "type", "click_action")? {
        Some(1) => {
            let has = |k: &str| {
                ca.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            };
            if !has("intent") && !has("action") {
                return Err(illegal("click_action type 1 needs an intent or an action"));
            }
        }
        Some(2) => {
            let url = ca.get("url").and_then(Value::as_str).unwrap_or_default();
            if !url.starts_with("https://") {
                return Err(illegal("click_action type 2 needs an https url"));
            }
        }
        Some(3) => {}
        _ => return Err(illegal("click_action.type must be 1, 2 or 3")),
    }
    int_in(an, "style", AT, &[0, 1, 3])?;
    str_in(an, "importance", AT, &["LOW", "NORMAL", "HIGH"])?;
    str_in(
        an,
        "visibility",
        AT,
        &["VISIBILITY_UNSPECIFIED", "PUBLIC", "SECRET", "PRIVATE"],
    )?;
    if let Some(b) = opt_obj(an, "badge", AT)? {
        const BAT: &str = "message.android.notification.badge";
        if opt_int(b, "add_num", BAT)?.is_some_and(|n| !(1..=99).contains(&n)) {
            return Err(illegal("badge.add_num must be 1 to 99"));
        }
        if opt_int(b, "set_num", BAT)?.is_some_and(|n| !(0..=99).contains(&n)) {
            return Err(illegal("badge.set_num must be 0 to 99"));
        }
        if opt_str(b, "class", BAT)?.is_none_or(str::is_empty) {
            return Err(illegal("badge.class is required"));
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
        }
    }
    if let Some(lines) = an.get("inbox_content") {
        if lines.as_array().is_none_or(|l| l.len() > 5) {
            return Err(illegal("inbox_content must be at most 5 lines"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_and_tokens() {
        for ok in ["86400", "86400s", "1.5", "1.123456789S"] {
            assert!(valid_ttl(ok), "{ok}");
        }
        for bad in ["", "s", "1.", "1.1234567890", "-1", "abc"] {
            assert!(!valid_ttl(bad), "{bad}");
        }
        assert!(plausible_token("AFcSAHhhnxdrMCYBxth2QOG9IgY"));
        assert!(!plausible_token("has space"));
        assert!(!plausible_token(""));
    }

    #[test]
    fn app_debug_hides_the_secret() {
        let app = HuaweiApp::random();
        assert!(!format!("{app:?}").contains(&app.client_secret));
    }
}
