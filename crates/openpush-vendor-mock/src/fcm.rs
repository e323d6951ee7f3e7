//! The FCM HTTP v1 stand-in: Google's OAuth2 token endpoint (JWT-bearer grant
//! with an RS256 service-account assertion) and `POST /v1/projects/{project}/messages:send`.
//! See the crate docs for the full list of checks.

// The validation helpers return the finished error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
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

use crate::creds::{FcmServiceAccount, CLOUD_PLATFORM_SCOPE, FCM_SCOPE, GOOGLE_TOKEN_URI};
use crate::jwt::ParsedJwt;
use crate::script::{Recorder, Script};

/// Data + notification payload limit for token and condition messages.
pub const MAX_PAYLOAD: usize = 4096;
/// Payload limit for topic messages.
pub const MAX_TOPIC_PAYLOAD: usize = 2048;
/// Longest `android.ttl`: 4 weeks.
pub const MAX_TTL_SECS: u64 = 2_419_200;
/// The grant type of the service-account flow.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A service account the token endpoint trusts (the public half of its key).
#[derive(Debug, Clone)]
pub struct FcmAccount {
    pub client_email: String,
    pub private_key_id: String,
    pub project_id: String,
    pub public_key: rsa::RsaPublicKey,
}

impl FcmAccount {
    pub fn from_service_account(sa: &FcmServiceAccount) -> Self {
        Self {
            client_email: sa.client_email.clone(),
            private_key_id: sa.private_key_id.clone(),
            project_id: sa.project_id.clone(),
            public_key: sa.public_key(),
        }
    }
}

/// What the FCM mock accepts.
#[derive(Debug, Clone)]
pub struct FcmMockConfig {
    pub accounts: Vec<FcmAccount>,
    /// `expires_in` of issued access tokens (Google: 3599 s).
    pub access_token_lifetime: Duration,
    /// Send requests per project per rolling minute (Google default: 600,000). Every
    /// authenticated send counts, rejected ones included, as at Google.
    pub quota_per_minute: u64,
    /// How many accepted messages are kept for [`FcmMock::messages`] (the newest; all are
    /// counted).
    pub max_recorded: usize,
}

impl FcmMockConfig {
    pub fn for_service_account(sa: &FcmServiceAccount) -> Self {
        Self {
            accounts: vec![FcmAccount::from_service_account(sa)],
            access_token_lifetime: Duration::from_secs(3599),
            quota_per_minute: 600_000,
            max_recorded: 100_000,
        }
    }
}

/// A scripted answer for a send that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcmOutcome {
    /// 404 NOT_FOUND, errorCode UNREGISTERED.
    Unregistered,
    /// 400 INVALID_ARGUMENT "The registration token is not a valid FCM registration token".
    InvalidToken,
    /// 403 PERMISSION_DENIED, errorCode SENDER_ID_MISMATCH.
    SenderIdMismatch,
    /// 429 RESOURCE_EXHAUSTED, errorCode QUOTA_EXCEEDED, with `Retry-After`.
    QuotaExceeded { retry_after_secs: u64 },
    /// 503 UNAVAILABLE, errorCode UNAVAILABLE, `Retry-After` if given.
    Unavailable { retry_after_secs: Option<u64> },
    /// 500 INTERNAL, errorCode INTERNAL.
    Internal,
    /// 401 UNAUTHENTICATED, errorCode THIRD_PARTY_AUTH_ERROR (APNs/web-push credential at Google).
    ThirdPartyAuthError,
}

/// The recipient of an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcmTarget {
    Token(String),
    Topic(String),
    Condition(String),
}

/// A message the mock accepted.
#[derive(Debug, Clone)]
pub struct FcmMessage {
    /// `projects/{p}/messages/{id}` as returned to the sender.
    pub name: String,
    pub project_id: String,
    pub target: FcmTarget,
    /// The `message` object as sent.
    pub message: Value,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone)]
struct AccessToken {
    project_id: String,
    scopes: Vec<String>,
    expires_at_ms: i64,
}

#[derive(Debug)]
pub(crate) struct FcmState {
    config: FcmMockConfig,
    clock: Arc<dyn Clock>,
    token_uri: String,
    script: Script<FcmOutcome>,
    access_tokens: Mutex<HashMap<String, AccessToken>>,
    quota: Mutex<HashMap<String, (i64, u64)>>,
    messages: Recorder<FcmMessage>,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

/// A handle on a running FCM mock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FcmMock {
    state: Arc<FcmState>,
}

impl FcmMock {
    /// `base_url` is where the mock listens (`http://127.0.0.1:port`); the token endpoint is
    /// `{base_url}/token`.
    pub(crate) fn new(config: FcmMockConfig, clock: Arc<dyn Clock>, base_url: &str) -> Self {
        let max_recorded = config.max_recorded;
        Self {
            state: Arc::new(FcmState {
                config,
                clock,
                token_uri: format!("{base_url}/token"),
                script: Script::new(),
                access_tokens: Mutex::new(HashMap::new()),
                quota: Mutex::new(HashMap::new()),
                messages: Recorder::new(max_recorded),
                tokens_issued: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/v1/projects/{project}/messages:send", post(send))
            .fallback(|| async {
                google_error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "Requested entity was not found.",
                    None,
                    None,
                    None,
                )
            })
            .with_state(self.state.clone())
    }

    /// The URL to put in the service account's `token_uri`.
    pub fn token_uri(&self) -> &str {
        &self.state.token_uri
    }

    /// The accepted messages kept so far (the newest `max_recorded`), in arrival order.
    pub fn messages(&self) -> Vec<FcmMessage> {
        self.state.messages.snapshot()
    }

    /// Returns and forgets the kept messages (the count is not reset).
    pub fn take_messages(&self) -> Vec<FcmMessage> {
        self.state.messages.take()
    }

    /// Messages accepted since start (or [`reset`](Self::reset)), kept or not.
    pub fn message_count(&self) -> usize {
        self.state.messages.accepted() as usize
    }

    /// Send requests received, accepted or not.
    pub fn request_count(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Access tokens issued by the token endpoint.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::Relaxed)
    }

    /// Revokes every issued access token (the next send with one is 401).
    pub fn revoke_access_tokens(&self) {
        self.state.access_tokens.lock().clear();
    }

    /// Marks `token` as unregistered: every later send to it is 404 UNREGISTERED.
    pub fn unregister(&self, token: &str) {
        self.set_token_outcome(token, FcmOutcome::Unregistered);
    }

    pub fn set_token_outcome(&self, token: &str, outcome: FcmOutcome) {
        self.state.script.set_token(token, Some(outcome));
    }

    pub fn clear_token_outcome(&self, token: &str) {
        self.state.script.set_token(token, None);
    }

    pub fn fail_next(&self, n: usize, outcome: FcmOutcome) {
        self.state.script.fail_next(n, outcome);
    }

    pub fn fail_all(&self, outcome: Option<FcmOutcome>) {
        self.state.script.fail_all(outcome);
    }

    pub fn set_latency(&self, d: Duration) {
        self.state.script.set_latency(d);
    }

    pub fn set_token_latency(&self, token: &str, d: Option<Duration>) {
        self.state.script.set_token_latency(token, d);
    }

    /// Clears scripts, latency, recorded messages and quota windows (tokens stay valid).
    pub fn reset(&self) {
        self.state.script.reset();
        self.state.messages.clear();
        self.state.quota.lock().clear();
    }
}

// ---------------------------------------------------------------------------------------------
// OAuth2 token endpoint

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

const BAD_TIME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

async fn token(State(st): State<Arc<FcmState>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error("invalid_request", "Bad Request");
    }
    let form: HashMap<String, String> = form_urlencoded_pairs(&body);
    match form.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER_GRANT) => {}
        Some(other) => {
            return oauth_error(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            )
        }
        None => return oauth_error("unsupported_grant_type", "Invalid grant_type: "),
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let Some(jwt) = ParsedJwt::parse(assertion) else {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    };
    if jwt.header_str("alg") != Some("RS256") {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    let Some(account) = jwt
        .claim_str("iss")
        .and_then(|iss| st.config.accounts.iter().find(|a| a.client_email == iss))
    else {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    };
    // Google picks the key by `kid` when present.
    if jwt
        .header_str("kid")
        .is_some_and(|kid| kid != account.private_key_id)
    {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    if !jwt.verify_rs256(&account.public_key) {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    let aud_ok = jwt
        .claim_str("aud")
        .is_some_and(|aud| aud == st.token_uri || aud == GOOGLE_TOKEN_URI);
    if !aud_ok {
        return oauth_error(
            "invalid_grant",
            &format!(
                "Invalid JWT: Failed audience check. The right audience is {}",
                st.token_uri
            ),
        );
    }
    let now = st.clock.now_ms().div_euclid(1000);
    let (Some(iat), Some(exp)) = (jwt.claim_secs("iat"), jwt.claim_secs("exp")) else {
        return oauth_error("invalid_grant", BAD_TIME);
    };
    // exp - iat ≤ 1 h, not expired, not issued in the future (a few minutes of skew allowed,
    // as Google does; the exact allowance is inferred).
    if exp - iat > 3600 || exp <= iat || exp < now || iat > now + 300 {
        return oauth_error("invalid_grant", BAD_TIME);
    }
    let scopes: Vec<String> = jwt
        .claim_str("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let lifetime = st.config.access_token_lifetime;
    let access_token = format!("ya29.mock.{}", random_token(48));
    st.access_tokens.lock().insert(
        access_token.clone(),
        AccessToken {
            project_id: account.project_id.clone(),
            scopes,
            expires_at_ms: st.clock.now_ms() + lifetime.as_millis() as i64,
        },
    );
    st.tokens_issued.fetch_add(1, Ordering::Relaxed);
    Json(json!({
        "access_token": access_token,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer"
    }))
    .into_response()
}

fn random_token(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Minimal `application/x-www-form-urlencoded` decoding (`+` is a space, `%XX` escapes).
fn form_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = |b: u8| (b as char).to_digit(16);
                    match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// messages:send

/// Google's error envelope. `fcm_code` adds the FcmError detail; `violation` a BadRequest detail.
fn google_error(
    status: StatusCode,
    canonical: &str,
    message: &str,
    fcm_code: Option<&str>,
    violation: Option<(&str, &str)>,
    retry_after: Option<u64>,
) -> Response {
    let mut details = Vec::new();
    if let Some(code) = fcm_code {
        details.push(json!({
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code
        }));
    }
    if let Some((field, description)) = violation {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": description}]
        }));
    }
    let mut error = json!({"code": status.as_u16(), "message": message, "status": canonical});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    let mut resp = (status, Json(json!({ "error": error }))).into_response();
    if let Some(s) = retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(s));
    }
    resp
}

fn invalid_argument(message: &str, field: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        message,
        Some("INVALID_ARGUMENT"),
        Some((field, message)),
        None,
    )
}

const NOT_A_TOKEN: &str = "The registration token is not a valid FCM registration token";

fn scripted(outcome: FcmOutcome) -> Response {
    use FcmOutcome::*;
    match outcome {
        Unregistered => google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
            None,
            None,
        ),
        InvalidToken => invalid_argument(NOT_A_TOKEN, "message.token"),
        SenderIdMismatch => google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "SenderId mismatch",
            Some("SENDER_ID_MISMATCH"),
            None,
            None,
        ),
        QuotaExceeded { retry_after_secs } => quota_exceeded(retry_after_secs),
        Unavailable { retry_after_secs } => google_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            Some("UNAVAILABLE"),
            None,
            retry_after_secs,
        ),
        Internal => google_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error encountered.",
            Some("INTERNAL"),
            None,
            None,
        ),
        ThirdPartyAuthError => google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Auth error from APNS or Web Push Service",
            Some("THIRD_PARTY_AUTH_ERROR"),
            None,
            None,
        ),
    }
}

fn quota_exceeded(retry_after_secs: u64) -> Response {
    google_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com'.",
        Some("QUOTA_EXCEEDED"),
        None,
        Some(retry_after_secs),
    )
}

async fn send(
    State(st): State<Arc<FcmState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);

    // Authentication.
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(bearer) = bearer else {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            None, None, None,
        );
    };
    let now_ms = st.clock.now_ms();
    let token = st.access_tokens.lock().get(bearer).cloned();
    let Some(token) = token.filter(|t| t.expires_at_ms > now_ms) else {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            None, None, None,
        );
    };
    if !token
        .scopes
        .iter()
        .any(|s| s == FCM_SCOPE || s == CLOUD_PLATFORM_SCOPE)
    {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            None,
            None,
            None,
        );
    }
    if token.project_id != project {
        return google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!("Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."),
            None, None, None,
        );
    }

    // Quota: a rolling minute from the first request of the window, not clock-aligned.
    {
        let mut q = st.quota.lock();
        let (start, count) = q.entry(project.clone()).or_insert((now_ms, 0));
        if now_ms - *start >= 60_000 {
            *start = now_ms;
            *count = 0;
        }
        *count += 1;
        if *count > st.config.quota_per_minute {
            let wait_ms = (*start + 60_000 - now_ms).max(1);
            return quota_exceeded((wait_ms as u64).div_ceil(1000));
        }
    }

    // Body.
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "Invalid JSON payload received. Unexpected token.",
                None,
                Some(("", "Invalid JSON payload received. Unexpected token.")),
                None,
            )
        }
    };
    let (message, validate_only, target) = match validate_request(&request) {
        Ok(ok) => ok,
        Err(resp) => return resp,
    };

    let token_str = match &target {
        FcmTarget::Token(t) => Some(t.as_str()),
        _ => None,
    };
    let latency = st.script.latency(token_str);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if validate_only {
        return Json(json!({"name": format!("projects/{project}/messages/fake_message_id")}))
            .into_response();
    }
    if let Some(outcome) = st.script.outcome(token_str) {
        return scripted(outcome);
    }
    let id = format!(
        "0:{}%{:016x}",
        now_ms * 1000 + rand::thread_rng().gen_range(0..1000),
        rand::thread_rng().gen::<u64>()
    );
    let name = format!("projects/{project}/messages/{id}");
    st.messages.record(FcmMessage {
        name: name.clone(),
        project_id: project,
        target,
        message,
        received_at_ms: now_ms,
    });
    Json(json!({ "name": name })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Message validation (proto3 JSON rules: snake_case or lowerCamelCase names, unknown names are
// errors, strings where the proto has strings).

const MESSAGE_FIELDS: &[&str] = &[
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "token",
    "topic",
    "condition",
];
const NOTIFICATION_FIELDS: &[&str] = &["title", "body", "image"];
const ANDROID_FIELDS: &[&str] = &[
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
    "bandwidth_constrained_ok",
    "restricted_satellite_ok",
];
const ANDROID_NOTIFICATION_FIELDS: &[&str] = &[
    "title",
    "body",
    "icon",
    "color",
    "sound",
    "tag",
    "click_action",
    "body_loc_key",
    "body_loc_args",
    "title_loc_key",
    "title_loc_args",
    "channel_id",
    "ticker",
    "sticky",
    "event_time",
    "local_only",
    "notification_priority",
    "default_sound",
    "default_vibrate_timings",
    "default_light_settings",
    "vibrate_timings",
    "visibility",
    "notification_count",
    "light_settings",
    "image",
    "bypass_proxy_notification",
    "proxy",
];
const ANDROID_NOTIFICATION_STRINGS: &[&str] = &[
    "title",
    "body",
    "icon",
    "color",
    "sound",
    "tag",
    "click_action",
    "body_loc_key",
    "title_loc_key",
    "channel_id",
    "ticker",
    "image",
];
const APNS_FIELDS: &[&str] = &["headers", "payload", "fcm_options", "live_activity_token"];
const WEBPUSH_FIELDS: &[&str] = &["headers", "data", "notification", "fcm_options"];
const FCM_OPTIONS_FIELDS: &[&str] = &["analytics_label"];
const ANDROID_FCM_OPTIONS_FIELDS: &[&str] = &["analytics_label"];
const APNS_FCM_OPTIONS_FIELDS: &[&str] = &["analytics_label", "image"];
const WEBPUSH_FCM_OPTIONS_FIELDS: &[&str] = &["link", "analytics_label"];

fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field by its proto name, written either way.
fn field<'a>(obj: &'a Map<String, Value>, snake: &str) -> Option<&'a Value> {
    obj.get(snake)
        .or_else(|| obj.get(&snake_to_camel(snake)))
        .filter(|v| !v.is_null())
}

fn check_known(obj: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), Response> {
    for key in obj.keys() {
        if !known.contains(&key.as_str()) && !known.contains(&camel_to_snake(key).as_str()) {
            let msg = format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field."
            );
            return Err(google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &msg,
                None,
                Some((at, &msg)),
                None,
            ));
        }
    }
    Ok(())
}

fn type_error(path: &str, ty: &str, v: &Value) -> Response {
    let msg = format!("Invalid value at '{path}' ({ty}), {v}");
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        &msg,
        None,
        Some((path, &msg)),
        None,
    )
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Response> {
    v.as_object()
        .ok_or_else(|| type_error(path, "type.googleapis.com/google.protobuf.Struct", v))
}

fn check_strings(obj: &Map<String, Value>, names: &[&str], at: &str) -> Result<(), Response> {
    for name in names {
        if let Some(v) = field(obj, name) {
            if !v.is_string() {
                return Err(type_error(&format!("{at}.{name}"), "TYPE_STRING", v));
            }
        }
    }
    Ok(())
}

/// A `map<string, string>`; returns the byte size of its keys and values.
fn string_map(v: &Value, path: &str) -> Result<usize, Response> {
    let obj = object(v, path)?;
    let mut size = 0;
    for (i, (k, val)) in obj.iter().enumerate() {
        let Some(s) = val.as_str() else {
            return Err(type_error(
                &format!("{path}[{i}].value"),
                "TYPE_STRING",
                val,
            ));
        };
        size += k.len() + s.len();
    }
    Ok(size)
}

fn is_reserved_data_key(k: &str) -> bool {
    k == "from"
        || k == "message_type"
        || k == "notification"
        || k.starts_with("google")
        || k.starts_with("gcm")
}

fn valid_ttl(s: &str) -> bool {
    let Some(num) = s.strip_suffix('s') else {
        return false;
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if num.contains('.')
        && (frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    int.parse::<u64>().is_ok_and(|secs| {
        secs < MAX_TTL_SECS || (secs == MAX_TTL_SECS && frac.bytes().all(|b| b == b'0'))
    })
}

fn valid_registration_token(t: &str) -> bool {
    (32..=4096).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'))
}

fn valid_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 900
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%'))
}

fn validate_request(request: &Value) -> Result<(Value, bool, FcmTarget), Response> {
    let top = object(request, "")?;
    check_known(top, &["validate_only", "message"], "")?;
    let validate_only = match field(top, "validate_only") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(type_error("validate_only", "TYPE_BOOL", v)),
    };
    let Some(message_v) = field(top, "message") else {
        return Err(invalid_argument(
            "Request contains an invalid argument.",
            "message",
        ));
    };
    let msg = object(message_v, "message")?;
    check_known(msg, MESSAGE_FIELDS, "message")?;
    check_strings(msg, &["name", "token", "topic", "condition"], "message")?;

    // Exactly one target.
    let targets: Vec<(&str, &str)> = ["token", "topic", "condition"]
        .iter()
        .filter_map(|k| field(msg, k).and_then(Value::as_str).map(|v| (*k, v)))
        .collect();
    let target = match targets.as_slice() {
        [] => {
            return Err(invalid_argument(
                "Recipient of the message is not set.",
                "message",
            ))
        }
        [("token", t)] => {
            if !valid_registration_token(t) {
                return Err(invalid_argument(NOT_A_TOKEN, "message.token"));
            }
            FcmTarget::Token((*t).to_owned())
        }
        [("topic", t)] => {
            if !valid_topic(t) {
                return Err(invalid_argument("Invalid topic name", "message.topic"));
            }
            FcmTarget::Topic((*t).to_owned())
        }
        [(_, c)] => {
            let topics = c.matches("in topics").count();
            if !(1..=5).contains(&topics) {
                return Err(invalid_argument(
                    "Invalid condition expression provided.",
                    "message.condition",
                ));
            }
            FcmTarget::Condition((*c).to_owned())
        }
        [(a, _), (b, _), ..] => {
            let m = format!(
                "Invalid JSON payload received. oneof field 'target' is already set. Cannot set '{b}' (already set '{a}')"
            );
            return Err(invalid_argument(&m, "message"));
        }
    };

    let mut size = 0usize;
    if let Some(data) = field(msg, "data") {
        size += string_map(data, "message.data")?;
        if let Some(k) = data
            .as_object()
            .and_then(|o| o.keys().find(|k| is_reserved_data_key(k)))
        {
            return Err(invalid_argument(
                &format!("Invalid data payload key: {k}"),
                "message.data",
            ));
        }
    }
    if let Some(n) = field(msg, "notification") {
        let n = object(n, "message.notification")?;
        check_known(n, NOTIFICATION_FIELDS, "message.notification")?;
        check_strings(n, NOTIFICATION_FIELDS, "message.notification")?;
        size += ["title", "body"]
            .iter()
            .filter_map(|k| field(n, k).and_then(Value::as_str))
            .map(str::len)
            .sum::<usize>();
    }
    if let Some(o) = field(msg, "fcm_options") {
        check_known(
            object(o, "message.fcm_options")?,
            FCM_OPTIONS_FIELDS,
            "message.fcm_options",
        )?;
    }
    if let Some(a) = field(msg, "android") {
        size += validate_android(object(a, "message.android")?)?;
    }
    if let Some(a) = field(msg, "apns") {
        let a = object(a, "message.apns")?;
        check_known(a, APNS_FIELDS, "message.apns")?;
        if let Some(h) = field(a, "headers") {
            string_map(h, "message.apns.headers")?;
        }
        if let Some(p) = field(a, "payload") {
            object(p, "message.apns.payload")?;
        }
        if let Some(o) = field(a, "fcm_options") {
            check_known(
                object(o, "message.apns.fcm_options")?,
                APNS_FCM_OPTIONS_FIELDS,
                "message.apns.fcm_options",
            )?;
        }
    }
    if let Some(w) = field(msg, "webpush") {
        let w = object(w, "message.webpush")?;
        check_known(w, WEBPUSH_FIELDS, "message.webpush")?;
        if let Some(h) = field(w, "headers") {
            string_map(h, "message.webpush.headers")?;
        }
        if let Some(d) = field(w, "data") {
            string_map(d, "message.webpush.data")?;
        }
        if let Some(o) = field(w, "fcm_options") {
            check_known(
                object(o, "message.webpush.fcm_options")?,
                WEBPUSH_FCM_OPTIONS_FIELDS,
                "message.webpush.fcm_options",
            )?;
        }
    }
    let limit = if matches!(target, FcmTarget::Topic(_)) {
        MAX_TOPIC_PAYLOAD
    } else {
        MAX_PAYLOAD
    };
    if size > limit {
        return Err(invalid_argument("Android message is too big", "message"));
    }
    Ok((message_v.clone(), validate_only, target))
}

/// Validates `message.android`; returns the bytes it adds to the payload size.
fn validate_android(a: &Map<String, Value>) -> Result<usize, Response> {
    const AT: &str = "message.android";
    check_known(a, ANDROID_FIELDS, AT)?;
    check_strings(a, &["collapse_key", "restricted_package_name", "ttl"], AT)?;
    if let Some(p) = field(a, "priority") {
        let ok = p
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("normal") || s.eq_ignore_ascii_case("high"));
        if !ok {
            return Err(type_error(
                "message.android.priority",
                "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority",
                p,
            ));
        }
    }
    if let Some(ttl) = field(a, "ttl").and_then(Value::as_str) {
        if !valid_ttl(ttl) {
            return Err(invalid_argument(
                &format!("Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format or value out of range: {ttl}"),
                "message.android.ttl",
            ));
        }
    }
    let mut size = 0;
    if let Some(d) = field(a, "data") {
        size += string_map(d, "message.android.data")?;
    }
    if let Some(o) = field(a, "fcm_options") {
        check_known(
            object(o, "message.android.fcm_options")?,
            ANDROID_FCM_OPTIONS_FIELDS,
            "message.android.fcm_options",
        )?;
    }
    if let Some(n) = field(a, "notification") {
        const NAT: &str = "message.android.notification";
        let n = object(n, NAT)?;
        check_known(n, ANDROID_NOTIFICATION_FIELDS, NAT)?;
        check_strings(n, ANDROID_NOTIFICATION_STRINGS, NAT)?;
        if let Some(c) = field(n, "color").and_then(Value::as_str) {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(invalid_argument(
                    "Invalid color format: must be #rrggbb",
                    "message.android.notification.color",
                ));
            }
        }
        if let Some(c) = field(n, "notification_count") {
            if c.as_i64().is_none_or(|c| c < 0) {
                return Err(type_error(
                    "message.android.notification.notification_count",
                    "TYPE_INT32",
                    c,
                ));
            }
        }
        size += ["title", "body"]
            .iter()
            .filter_map(|k| field(n, k).and_then(Value::as_str))
            .map(str::len)
            .sum::<usize>();
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_formats() {
        for ok in ["0s", "3600s", "3.5s", "2419200s", "1.000000001s"] {
            assert!(valid_ttl(ok), "{ok}");
        }
        for bad in [
            "3600",
            "s",
            "-1s",
            "2419201s",
            "1.s",
            "1.0000000001s",
            "abc",
        ] {
            assert!(!valid_ttl(bad), "{bad}");
        }
    }

    #[test]
    fn form_decoding() {
        let m = form_urlencoded_pairs(b"grant_type=urn%3Aietf%3Aparams&assertion=a.b+c&x");
        assert_eq!(m["grant_type"], "urn:ietf:params");
        assert_eq!(m["assertion"], "a.b c");
        assert_eq!(m["x"], "");
    }

    #[test]
    fn names_both_ways() {
        assert_eq!(
            camel_to_snake("restrictedPackageName"),
            "restricted_package_name"
        );
        assert_eq!(
            snake_to_camel("restricted_package_name"),
            "restrictedPackageName"
        );
    }
}
