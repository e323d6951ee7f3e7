//! The one error type of the HTTP layer. It renders the Easemob error envelope: `error`,
//! `exception`, `error_description`, `timestamp`, `duration`. A 5xx never carries internal text;
//! the cause goes to the log.

use axum::http::StatusCode;
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
    fn new(
        status: StatusCode,
        error: &'static str,
        exception: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            exception,
            description: description.into(),
        }
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

    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "reach_limit",
            "TooManyRequestsException",
            "This request has reached api limit",
        )
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            error: self.error,
            exception: self.exception,
            timestamp: SystemClock.now_ms(),
            duration: 0,
            error_description: &self.description,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
