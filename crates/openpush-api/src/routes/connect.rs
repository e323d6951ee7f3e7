//! `GET /{org}/{app}/push/connect`: the Easemob channel's WebSocket upgrade
//! (docs/device-protocol.md). A user token in `Authorization: Bearer` or `?access_token=`.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use openpush_core::{DeviceId, Username};
use openpush_gateway::SessionInfo;

use crate::auth::Subject;
use crate::error::{ApiError, ApiResult, Unauthorized};
use crate::extract::{bearer, QueryMap};
use crate::source_limit::Attempt;
use crate::state::AppState;

/// Checks a user token for the app in the URL: signed here, not expired, a user token, issued
/// for this app, its user still the one it was issued to (not deleted, not re-created), and
/// issued after the user's last password change or token revocation. The user is read from
/// the store every time, so a revocation holds at once.
pub(crate) async fn authenticate_user(
    state: &AppState,
    org: &str,
    name: &str,
    token: &str,
) -> ApiResult<(std::sync::Arc<openpush_store::App>, Username)> {
    let claims = state
        .signer
        .verify(token, state.now_ms())
        .map_err(ApiError::unauthorized)?;
    let Subject::User { uuid, username } = claims.subject else {
        return Err(ApiError::unauthorized(Unauthorized::Missing));
    };
    let app = state
        .app(org, name)
        .await?
        .filter(|a| a.id == claims.app_id)
        .ok_or(ApiError::unauthorized(Unauthorized::NotIssuedHere))?;
    let username =
        Username::parse(&username).map_err(|_| ApiError::unauthorized(Unauthorized::Corrupt))?;
    let user = state.store.user(app.id, &username).await?;
    let Some(user) =
        user.filter(|u| uuid::Uuid::parse_str(&u.uuid).is_ok_and(|x| *x.as_bytes() == uuid))
    else {
        return Err(ApiError::unauthorized(Unauthorized::NotIssuedHere));
    };
    if claims.issued_ms < user.tokens_valid_from {
        return Err(ApiError::unauthorized(Unauthorized::Revoked));
    }
    Ok((app, username))
}

/// The smallest frame limit used, whatever `gateway.max_frame_bytes` says: every frame of the
/// protocol but a long ack fits.
const MIN_FRAME_BYTES: usize = 1024;

#[utoipa::path(
    get,
    path = "/{org}/{app}/push/connect",
    tag = "push",
    params(("org" = String, Path), ("app" = String, Path),
           ("device_id" = String, Query, description = "1–64 of [A-Za-z0-9_.:-], stable across reconnects"),
           ("access_token" = Option<String>, Query, description = "the user token, when the Authorization header cannot be set")),
    responses((status = 101, description = "WebSocket: the frames of docs/device-protocol.md"),
               (status = 401, description = "missing, bad or expired user token"),
               (status = 400, description = "bad device_id"))
)]
pub async fn connect(
    State(state): State<AppState>,
    Attempt(attempt): Attempt,
    Path((org, name)): Path<(String, String)>,
    q: QueryMap,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let token = bearer(&headers)
        .or_else(|| q.get("access_token"))
        .ok_or(ApiError::unauthorized(Unauthorized::Missing))?;
    let (app, username) = authenticate_user(&state, &org, &name, token).await?;
    attempt.authenticated();
    let device = DeviceId::parse(q.get("device_id").unwrap_or(""))?;
    let info = SessionInfo {
        app_id: app.id,
        username,
        device,
    };
    // Credentials are checked first, so a plain GET learns nothing it should not.
    let ws = ws
        .map_err(|r| ApiError::illegal_argument(format!("a WebSocket upgrade is required: {r}")))?;
    let gateway = state.gateway.clone();
    // The largest frame a device may send (an ack of `max_ids_per_frame` ids fits easily).
    let max_frame = gateway.config.max_frame_bytes.max(MIN_FRAME_BYTES);
    Ok(ws
        .read_buffer_size(512)
        .write_buffer_size(8 * 1024)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| gateway.serve(socket, info)))
}
