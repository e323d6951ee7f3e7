//! Pushes to users: `/push/sync/{user}`,
//! `/push/async/{user}` and `/push/single`.

use axum::extract::{Path, State};
use axum::response::Response;
use openpush_core::message::PushMessage;
use openpush_core::{Strategy, Username};
use openpush_engine::{Mode, Origin, TargetResult, TargetStatus};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{lenient_bool, lenient_i64};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody};
use crate::state::AppState;

/// A push to users. Unknown and legacy fields (`async`, `type`, `pushFunc`) are accepted.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushRequest {
    /// User ids (1–100); `/push/single` only.
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// The push strategy, 0–4: 0 vendor then the Easemob channel, 1 the Easemob channel, 2 vendor
    /// only, 3 the Easemob channel if online else vendor, 4 online devices only; default 2.
    #[schema(value_type = Option<i32>)]
    pub strategy: Option<Value>,
    /// The notification (the pushMessage object).
    #[serde(rename = "pushMessage")]
    #[schema(value_type = Object)]
    pub push_message: Option<Value>,
    /// Legacy: `false` makes `/push/single` synchronous (exactly one target).
    #[serde(rename = "async")]
    #[schema(value_type = Option<bool>)]
    pub is_async: Option<Value>,
}

/// Parses the strategy and the message; shared with the task endpoints.
pub(crate) fn strategy_of(v: Option<&Value>) -> ApiResult<Strategy> {
    match v {
        None | Some(Value::Null) => Ok(Strategy::DEFAULT),
        Some(v) => Ok(Strategy::from_code(lenient_i64("strategy", v)?)?),
    }
}

pub(crate) fn message_of(v: Option<Value>) -> ApiResult<PushMessage> {
    let v = v.ok_or_else(|| ApiError::message("pushMessage must be provided"))?;
    PushMessage::parse(v).map_err(|e| ApiError::message(e.to_string()))
}

fn target_user(raw: &str) -> Option<Username> {
    Username::parse(raw).ok()
}

/// `[ {pushStatus, data, desc} ]` per leg, as Easemob's `/push/sync` example shows.
fn legs_json(r: &TargetResult) -> Value {
    Value::Array(
        r.legs
            .iter()
            .map(|l| {
                let mut o = json!({"pushStatus": l.status.as_str(), "desc": l.desc});
                if !l.data.is_null() {
                    o["data"] = l.data.clone();
                }
                o
            })
            .collect(),
    )
}

fn unknown_user() -> Value {
    json!([{"pushStatus": "FAIL", "desc": "appUser not exists"}])
}

async fn one(
    state: &AppState,
    ctx: &AppCtx,
    target: &str,
    req: PushRequest,
    mode: Mode,
) -> ApiResult<Response> {
    let strategy = strategy_of(req.strategy.as_ref())?;
    let message = message_of(req.push_message)?;
    let data = match target_user(target) {
        None => unknown_user(),
        Some(u) => {
            let r = state
                .engine
                .push_users(&ctx.app, &[u], strategy, &message, mode, Origin::default())
                .await
                .map_err(|e| ApiError::internal(&e))?;
            legs_json(&r[0])
        }
    };
    Ok(envelope::push(ctx, state.now_ms(), data, &[]))
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/push/sync/{target}",
    tag = "push",
    params(("org" = String, Path), ("app" = String, Path), ("target" = String, Path, description = "user id")),
    request_body = PushRequest,
    responses((status = 200, description = "`data`: one {pushStatus SUCCESS|FAIL|ERROR, data, desc} per channel leg, after the channel answered"),
               (status = 400, description = "MessageException (names the field) or a bad strategy"))
)]
pub async fn push_sync(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, target)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<Response> {
    one(&state, &ctx, &target, req, Mode::Wait).await
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/push/async/{target}",
    tag = "push",
    params(("org" = String, Path), ("app" = String, Path), ("target" = String, Path, description = "user id")),
    request_body = PushRequest,
    responses((status = 200, description = "`data`: [{pushStatus ASYNC_SUCCESS, data \"\", desc success}], or FAIL appUser not exists"),
               (status = 400, description = "MessageException (names the field) or a bad strategy"))
)]
pub async fn push_async(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, target)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<Response> {
    one(&state, &ctx, &target, req, Mode::Accept).await
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/push/single",
    tag = "push",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = PushRequest,
    responses((status = 200, description = "`data`: one {id, pushStatus, desc} per target (ASYNC_SUCCESS, or FAIL appUser not exists); with legacy `async: false`, SUCCESS/FAIL/ERROR and `data`"),
               (status = 400, description = "no targets, more than 100, a bad strategy, or MessageException"))
)]
pub async fn push_single(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<PushRequest>,
) -> ApiResult<Response> {
    let max = state.config.limits.push_targets_max;
    let targets = req
        .targets
        .as_ref()
        .ok_or_else(|| ApiError::illegal_argument("targets must be provided"))?;
    if targets.is_empty() || targets.len() > max {
        return Err(ApiError::illegal_argument(format!(
            "targets must hold 1 to {max} user ids, got {}",
            targets.len()
        )));
    }
    let sync = match &req.is_async {
        None | Some(Value::Null) => false,
        Some(v) => !lenient_bool("async", v)?,
    };
    if sync && targets.len() != 1 {
        return Err(ApiError::illegal_argument(format!(
            "a synchronous push (async: false) takes exactly 1 target, got {}",
            targets.len()
        )));
    }
    let strategy = strategy_of(req.strategy.as_ref())?;
    let message = message_of(req.push_message)?;
    let parsed: Vec<Option<Username>> = targets.iter().map(|t| target_user(t)).collect();
    let valid: Vec<Username> = parsed.iter().flatten().cloned().collect();
    let mode = if sync { Mode::Wait } else { Mode::Accept };
    let results = state
        .engine
        .push_users(
            &ctx.app,
            &valid,
            strategy,
            &message,
            mode,
            Origin::default(),
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut by_user = results.into_iter();
    let data: Vec<Value> = targets
        .iter()
        .zip(parsed)
        .map(|(raw, p)| match p.and_then(|_| by_user.next()) {
            None => json!({"id": raw, "pushStatus": "FAIL", "desc": "appUser not exists"}),
            Some(r) if sync => json!({"id": raw, "pushStatus": r.status().as_str(), "desc": r.desc(), "data": legs_json(&r)}),
            // Easemob's text for an accepted target of this call.
            Some(r) if r.status() == TargetStatus::AsyncSuccess => {
                json!({"id": raw, "pushStatus": "ASYNC_SUCCESS", "desc": "async success."})
            }
            Some(r) => json!({"id": raw, "pushStatus": r.status().as_str(), "desc": r.desc()}),
        })
        .collect();
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        Value::Array(data),
        &[],
    ))
}
