//! `POST /{org}/{app}/token`: app tokens (`client_credentials`) and user tokens (`password`, for
//! devices on the Easemob channel).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openpush_core::{Password, Username};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::lenient_i64;
use crate::auth::{self, Claims, Subject};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::ratelimit::RateGroup;
use crate::routes::users::user_entity;
use crate::source_limit::{Attempt, SourceAttempt};
use crate::state::AppState;

/// Token request. `ttl` (seconds; 0 = never expires) may be a number or a numeric string.
/// `Debug` shows whether a secret was given, never the secret.
#[derive(Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub ttl: Option<Value>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// What `Debug` shows of an optional secret.
pub(crate) fn redacted<T>(secret: &Option<T>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

/// A grant whose credentials were correct: it authenticated (nothing is taken from its
/// source's budget of failed requests) and it spends one token of the app's `/token` rate.
fn granted(state: &AppState, attempt: &SourceAttempt, app_id: i64) -> ApiResult<()> {
    attempt.authenticated();
    state
        .rate
        .check(app_id, RateGroup::Token)
        .map_err(ApiError::rate_limited)
}

/// What `expires_in` says for a token that never expires: the largest value a signed 32-bit
/// reader takes (SDKs read it into a 32-bit int), about 68 years, so SDKs that refresh
/// "before expiry" do not refresh on every call.
pub const NEVER_EXPIRES_IN: i64 = i32::MAX as i64;

fn ttl_secs(state: &AppState, ttl: Option<&Value>) -> ApiResult<u64> {
    match ttl {
        None | Some(Value::Null) => Ok(state.config.token.default_ttl_secs),
        Some(v) => {
            let n = lenient_i64("ttl", v)?;
            u64::try_from(n).map_err(|_| {
                ApiError::illegal_argument(format!(
                    "ttl must be 0 or a positive number of seconds, got {n}"
                ))
            })
        }
    }
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/token",
    tag = "auth",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "`{access_token, expires_in, application}` or, for `password`, `{access_token, expires_in, user}`"),
        (status = 400, description = "missing or mismatched credentials"),
        (status = 404, description = "no such org/app"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    Attempt(attempt): Attempt,
    Path((org, name)): Path<(String, String)>,
    JsonBody(req): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    // Read fresh, not from the cache: a client secret rotated beside the running server works
    // (and the tokens issued before it stop working) from the first grant on.
    let app = state
        .fresh_app(&org, &name)
        .await?
        .ok_or_else(|| ApiError::app_not_found(&org, &name, &format!("{org}/{name}/token")))?;
    let ttl = state
        .config
        .token
        .clamp_ttl(ttl_secs(&state, req.ttl.as_ref())?);
    let now = state.now_ms();
    let (expires_ms, expires_in) = if ttl == 0 {
        (0, NEVER_EXPIRES_IN)
    } else {
        let ms = i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX);
        (
            now.saturating_add(ms),
            i64::try_from(ttl).unwrap_or(i64::MAX).min(NEVER_EXPIRES_IN),
        )
    };
    match req.grant_type.as_deref() {
        Some("client_credentials") => {
            let id = req
                .client_id
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::illegal_argument("client_id must be provided."))?;
            let secret = req
                .client_secret
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::illegal_argument("client_secret must be provided"))?;
            if !bool::from(id.as_bytes().ct_eq(app.client_id.as_bytes())) {
                return Err(ApiError::invalid_grant("client_id does not match"));
            }
            if !auth::client_secret_matches(&secret, &app.secret_hash) {
                return Err(ApiError::invalid_grant("client_secret does not match"));
            }
            granted(&state, &attempt, app.id)?;
            let token = state.signer.sign(&Claims {
                app_id: app.id,
                // Never before the app's revocation time (a rotation in this same millisecond
                // refuses the tokens issued before it, not this one).
                issued_ms: now.max(app.app_tokens_valid_from),
                expires_ms,
                subject: Subject::App,
            });
            Ok(Json(json!({
                "access_token": token,
                "expires_in": expires_in,
                "application": app.uuid,
            }))
            .into_response())
        }
        Some("password") => {
            let username = req
                .username
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::illegal_argument("username must be provided"))?;
            let password = req
                .password
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::illegal_argument("password must be provided"))?;
            // The check below is costly (Argon2): a source over its budget of failed requests
            // is refused before it, whatever the password.
            attempt.check_budget()?;
            // No stored password is longer (users are created through `Password`), so a longer
            // one fails without hashing; that says nothing about which users exist.
            if password.chars().count() > Password::MAX_CHARS {
                return Err(ApiError::invalid_grant("invalid username or password"));
            }
            let user = match Username::parse(&username) {
                Ok(u) => state.store.user(app.id, &u).await?,
                Err(_) => None,
            };
            let stored = user.as_ref().map(|u| u.password_hash.clone());
            let ok = state
                .hashing
                .run_one(move || auth::verify_password(&password, stored.as_deref()))
                .await?;
            let user = match (ok, user) {
                (true, Some(u)) => u,
                _ => return Err(ApiError::invalid_grant("invalid username or password")),
            };
            granted(&state, &attempt, app.id)?;
            let uuid = uuid::Uuid::parse_str(&user.uuid)
                .map(|u| *u.as_bytes())
                .map_err(|e| ApiError::internal(&e))?;
            let token = state.signer.sign(&Claims {
                app_id: app.id,
                issued_ms: now.max(user.tokens_valid_from),
                expires_ms,
                subject: Subject::User {
                    uuid,
                    username: user.username.as_str().to_owned(),
                },
            });
            Ok(Json(json!({
                "access_token": token,
                "expires_in": expires_in,
                "user": user_entity(&user, &[]),
            }))
            .into_response())
        }
        None => Err(ApiError::illegal_argument("grant_type must be provided.")),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "UnsupportedGrantTypeException",
            format!("grant_type {other:?} is not supported; use client_credentials or password"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret_or_the_password() {
        let req = TokenRequest {
            grant_type: Some("client_credentials".into()),
            client_id: Some("YXA6id".into()),
            client_secret: Some("YXA6-the-secret".into()),
            username: Some("alice".into()),
            password: Some("hunter2-password".into()),
            ttl: None,
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("the-secret"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("YXA6id") && shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
        let shown = format!("{:#?}", TokenRequest::default());
        assert!(shown.contains("client_secret: None"), "{shown}");
    }
}
