//! The one error type of the HTTP layer. It renders the Easemob error envelope: `error`,
//! `exception`, `error_description`, `timestamp`, `duration`. A 5xx never carries internal text;
//! the cause goes to the log.
//!
//! Descriptions often echo what the caller sent (a username, a label name, a field's value).
//! Every `ApiError` is built through [`ApiError::new`], which clips a long description (see
//! [`clip_description`]), so a 10 KB input is never sent back whole. A 429 names, in
//! `Retry-After`, when to try again.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openpush_core::{Clock, InvalidValue, SystemClock};
use openpush_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub exception: &'static str,
    pub description: String,
    /// Seconds for the `Retry-After` header. A 429 without one is sent with 1.
    pub retry_after: Option<u64>,
}

/// Characters kept from the start of a long error description.
pub const DESCRIPTION_HEAD_CHARS: usize = 200;
/// Characters kept from the end of a long error description (its last words often say what
/// was expected).
pub const DESCRIPTION_TAIL_CHARS: usize = 60;

/// A description of at most `DESCRIPTION_HEAD_CHARS + DESCRIPTION_TAIL_CHARS` characters is
/// kept as it is. A longer one (it echoes some long input) keeps its first 200 and last 60
/// characters around an ellipsis, so at most 261 characters go back to the caller.
pub fn clip_description(s: String) -> String {
    let head = DESCRIPTION_HEAD_CHARS;
    let tail = DESCRIPTION_TAIL_CHARS;
    // A cheap bound first: fewer bytes than the limit means fewer characters too.
    if s.len() <= head + tail {
        return s;
    }
    let count = s.chars().count();
    if count <= head + tail {
        return s;
    }
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(count - tail));
    out
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a str,
    exception: &'a str,
    timestamp: i64,
    duration: i64,
    error_description: &'a str,
}

impl ApiError {
    /// An error of any status and kind; the description is clipped ([`clip_description`]).
    pub fn new(
        status: StatusCode,
        error: &'static str,
        exception: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            exception,
            description: clip_description(description.into()),
            retry_after: None,
        }
    }

    /// Sets the `Retry-After` header, in whole seconds (at least 1).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// 400 `IllegalArgumentException`: a bad parameter.
    pub fn illegal_argument(msg: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "illegal_argument",
            "IllegalArgumentException",
            msg,
        )
    }

    /// 400 `MessageException`: a bad pushMessage; the text names the field.
    pub fn message(msg: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "MessageException",
            msg,
        )
    }

    /// 400 on the token endpoint: a credential does not match.
    pub fn invalid_grant(msg: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "InvalidGrantException",
            msg,
        )
    }

    /// 404 for `/users/{u}` when the user does not exist, as Easemob answers it.
    pub fn user_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "service_resource_not_found",
            "UserNotFoundException",
            "Service resource not found",
        )
    }

    /// 400 for the push-settings endpoints when the user does not exist.
    pub fn user_required(username: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "required_property_not_found",
            "RequiredPropertyNotFoundException",
            format!(
                "Entity user requires a property named username: user {username} does not exist"
            ),
        )
    }

    /// 400 `ResourceNotFoundException` for an unknown label.
    pub fn label_not_found(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "resource_not_found",
            "ResourceNotFoundException",
            format!("push label not exists of {name}"),
        )
    }

    /// 400 for an unknown notification id (our choice; Easemob does not document this case).
    pub fn message_not_found(id: i64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "resource_not_found",
            "ResourceNotFoundException",
            format!("push message not exists of {id}"),
        )
    }

    /// 400 for an unknown task id.
    pub fn task_not_found(id: i64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "resource_not_found",
            "ResourceNotFoundException",
            format!("push task not exists of {id}"),
        )
    }

    /// 403 `LimitException`.
    pub fn limit(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "limit_request",
            "LimitException",
            format!("limit request: {detail}"),
        )
    }

    pub fn duplicate_user(app_key: &str, username: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "duplicate_unique_property_exists",
            "DuplicateUniquePropertyExistsException",
            format!(
                "Application {app_key} Entity user requires that property named username be unique, value of {username} exists"
            ),
        )
    }

    pub fn app_not_found(org: &str, app: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "organization_application_not_found",
            "ApplicationNotFoundException",
            format!(
                "Could not find application for {org}/{app} from URI: {}",
                path.trim_start_matches('/')
            ),
        )
    }

    pub fn url_invalid() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "NotFoundException",
            "url is invalid",
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "MethodNotAllowedException",
            format!("method {method} is not allowed on this url"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            "RequestEntityTooLargeException",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 429: the app is over its rate for the endpoint group; `wait` is until the next token.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "reach_limit",
            "TooManyRequestsException",
            "This request has reached api limit",
        )
        .with_retry_after(retry_secs(wait))
    }

    /// 429: too many failed or unauthenticated requests from the caller's address.
    pub fn source_limited(wait: std::time::Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "reach_limit",
            "TooManyRequestsException",
            "too many failed or unauthenticated requests from this address; try again later",
        )
        .with_retry_after(retry_secs(wait))
    }

    /// 429: every password-hashing slot is busy and the queue for them is full.
    pub fn hashing_busy() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "reach_limit",
            "TooManyRequestsException",
            "the server is busy checking passwords; try again later",
        )
        .with_retry_after(1)
    }

    /// 401 with one of Easemob's authentication texts.
    pub fn unauthorized(kind: Unauthorized) -> Self {
        let (error, msg) = match kind {
            Unauthorized::Missing => ("unauthorized", "Unable to authenticate (OAuth)"),
            Unauthorized::Expired => (
                "unauthorized",
                "Unable to authenticate due to expired access token",
            ),
            Unauthorized::Corrupt => (
                "auth_bad_access_token",
                "Unable to authenticate due to corrupt access token",
            ),
            Unauthorized::NotIssuedHere => ("auth_bad_access_token", "Unable to authenticate"),
            Unauthorized::Revoked => (
                "auth_bad_access_token",
                "Unable to authenticate due to revoked access token",
            ),
        };
        Self::new(
            StatusCode::UNAUTHORIZED,
            error,
            "org.apache.usergrid.rest.exceptions.SecurityException",
            msg,
        )
    }

    /// 500. The cause is logged here and never shown to the caller.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut src = cause.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "InternalServerErrorException",
            "internal server error",
        )
    }
}

/// Which 401 text applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    /// No usable `Authorization` header, or the wrong kind of token for the call.
    Missing,
    Expired,
    /// Not a token of ours at all (bad encoding or length).
    Corrupt,
    /// Well-formed, but not signed by this server or not for this app.
    NotIssuedHere,
    /// Signed here, but issued before its app's client secret was rotated or before its
    /// user's password changed or tokens were revoked.
    Revoked,
}

impl From<InvalidValue> for ApiError {
    fn from(e: InvalidValue) -> Self {
        Self::illegal_argument(e.0)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Limit(m) => Self::limit(m),
            StoreError::Conflict(m) => Self::illegal_argument(format!("already exists: {m}")),
            StoreError::NotFound(m) => Self::illegal_argument(format!("not found: {m}")),
            StoreError::Backend { .. } => Self::internal(&e),
        }
    }
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_secs(wait: std::time::Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: self.error,
            exception: self.exception,
            timestamp: SystemClock.now_ms(),
            duration: 0,
            error_description: &self.description,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        let retry = match (self.retry_after, self.status) {
            (Some(s), _) => Some(s),
            (None, StatusCode::TOO_MANY_REQUESTS) => Some(1),
            (None, _) => None,
        };
        if let Some(s) = retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_are_clipped_at_construction() {
        let input = "u".repeat(10 * 1024);
        let e = ApiError::illegal_argument(format!("username {input} is not valid; use letters"));
        let chars = e.description.chars().count();
        assert_eq!(chars, DESCRIPTION_HEAD_CHARS + 1 + DESCRIPTION_TAIL_CHARS);
        assert!(
            e.description.starts_with("username uuu"),
            "{}",
            e.description
        );
        assert!(e.description.contains('…'));
        assert!(e.description.ends_with("is not valid; use letters"));
        // Short descriptions, and one exactly at the limit, are kept whole.
        let exact = "x".repeat(DESCRIPTION_HEAD_CHARS + DESCRIPTION_TAIL_CHARS);
        assert_eq!(clip_description(exact.clone()), exact);
        assert_eq!(
            ApiError::label_not_found("a").description,
            "push label not exists of a"
        );
        // Characters, not bytes: a multi-byte input is cut on character boundaries.
        let wide = clip_description("名".repeat(1000));
        assert_eq!(wide.chars().count(), 261);
    }

    #[test]
    fn every_429_names_when_to_retry() {
        let res = ApiError::rate_limited(std::time::Duration::from_millis(2100)).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "3");
        let bare = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "reach_limit", "X", "busy");
        assert_eq!(bare.into_response().headers()[header::RETRY_AFTER], "1");
        let other = ApiError::illegal_argument("bad").into_response();
        assert!(other.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(retry_secs(std::time::Duration::ZERO), 1);
        assert_eq!(retry_secs(std::time::Duration::from_secs(4)), 4);
    }
}
