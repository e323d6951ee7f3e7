//! Push bindings: bind or unbind a device's token to a notifier, and list a user's bindings.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use openpush_core::{DeviceId, DeviceToken, NotifierName, Username};
use openpush_store::{Binding, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody};
use crate::state::AppState;

/// Bind or unbind. An empty `device_token` unbinds (user, device, notifier); an empty
/// `notifier_name` unbinds the device from every notifier.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BindingRequest {
    pub device_id: Option<String>,
    pub notifier_name: Option<String>,
    pub device_token: Option<String>,
}

fn binding_json(b: &Binding) -> Value {
    json!({
        "device_id": b.device_id,
        "device_token": b.device_token,
        "notifier_name": b.notifier_name,
    })
}

/// The binding endpoints answer with only `timestamp`, `entities`, `action` and `duration`,
/// as Easemob's do (its IM envelope, cut short).
fn respond(ctx: &AppCtx, now_ms: i64, action: &str, bindings: &[Binding]) -> Response {
    Json(json!({
        "timestamp": now_ms,
        "entities": bindings.iter().map(binding_json).collect::<Vec<_>>(),
        "action": action,
        "duration": ctx.started.elapsed().as_millis() as i64,
    }))
    .into_response()
}

pub(crate) fn settings_user(raw: &str) -> ApiResult<Username> {
    Username::parse(raw).map_err(|_| ApiError::user_required(raw))
}

fn required<'a>(field: &str, v: &'a Option<String>) -> ApiResult<&'a str> {
    v.as_deref().ok_or_else(|| {
        ApiError::illegal_argument(format!("parameters is invalid : {field} must be provided"))
    })
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/users/{username}/push/binding",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    request_body = BindingRequest,
    responses((status = 200, description = "`entities`: this device's bindings after the change"),
               (status = 400, description = "bad field, or no such user"))
)]
pub async fn put_binding(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<BindingRequest>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    let device = DeviceId::parse(required("device_id", &req.device_id)?)
        .map_err(|e| ApiError::illegal_argument(format!("parameters is invalid : {e}")))?;
    let notifier = required("notifier_name", &req.notifier_name)?;
    let token = required("device_token", &req.device_token)?;
    let invalid = |e: openpush_core::InvalidValue| {
        ApiError::illegal_argument(format!("parameters is invalid : {e}"))
    };
    let now = state.now_ms();
    let store = &state.store;
    let result = if notifier.is_empty() {
        store.unbind(ctx.app.id, &user, &device, None).await
    } else {
        let notifier = NotifierName::parse(notifier).map_err(invalid)?;
        if token.is_empty() {
            store
                .unbind(ctx.app.id, &user, &device, Some(&notifier))
                .await
        } else {
            let token = DeviceToken::parse(token).map_err(invalid)?;
            // Binding needs the push certificate to exist; unbinding does not.
            if store
                .notifier(ctx.app.id, notifier.as_str())
                .await?
                .is_none()
            {
                return Err(ApiError::illegal_argument(format!(
                    "parameters is invalid : notifier_name {notifier} is not a push certificate of this app; add it first (POST /notifiers)"
                )));
            }
            tracing::debug!(app = ctx.app.id, %user, token = %token.masked(), "binding device");
            store
                .bind(ctx.app.id, &user, &device, &notifier, &token, now)
                .await
        }
    };
    match result {
        Ok(bindings) => Ok(respond(&ctx, now, "put", &bindings)),
        Err(StoreError::NotFound(_)) => Err(ApiError::user_required(user.as_str())),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/users/{username}/push/binding",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "`entities`: every binding of every device of the user"),
               (status = 400, description = "no such user"))
)]
pub async fn get_binding(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    if state.store.user(ctx.app.id, &user).await?.is_none() {
        return Err(ApiError::user_required(user.as_str()));
    }
    let bindings = state
        .store
        .bindings_of(ctx.app.id, std::slice::from_ref(&user))
        .await?;
    Ok(respond(&ctx, state.now_ms(), "get", &bindings))
}
