//! Push labels: the label CRUD and label membership, with Easemob's limits (label count,
//! members per label, names and descriptions). Push-service envelope (`{timestamp, data,
//! duration}`).

use axum::extract::{Path, State};
use axum::response::Response;
use openpush_core::{LabelName, Username};
use openpush_store::{Label, LabelMember, MemberChange, StoreError};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::cursor;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody, QueryMap};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateLabelRequest {
    /// 1–64 characters of `[a-zA-Z0-9_.-]`, case-sensitive.
    pub name: Option<String>,
    /// At most 255 characters.
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelUsersRequest {
    /// 1–100 user ids.
    pub usernames: Option<Vec<String>>,
}

fn label_json(l: &Label) -> Value {
    json!({"name": l.name, "description": l.description, "count": l.count, "createdAt": l.created})
}

fn member_json(m: &LabelMember) -> Value {
    json!({"username": m.username.as_str(), "created": m.created})
}

/// A path label name that cannot be valid cannot exist either.
fn path_label(raw: &str) -> ApiResult<LabelName> {
    LabelName::parse(raw).map_err(|_| ApiError::label_not_found(raw))
}

fn not_found_is_label(name: &LabelName) -> impl FnOnce(StoreError) -> ApiError + '_ {
    move |e| match e {
        StoreError::NotFound(_) => ApiError::label_not_found(name.as_str()),
        e => e.into(),
    }
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/push/label",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = CreateLabelRequest,
    responses((status = 200, description = "`data` {name, description, createdAt}"),
               (status = 400, description = "bad name or description, or the label exists"),
               (status = 403, description = "LimitException: the app has its maximum of labels"))
)]
pub async fn create_label(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<CreateLabelRequest>,
) -> ApiResult<Response> {
    let limits = &state.config.limits;
    let name = LabelName::parse(req.name.as_deref().unwrap_or(""))?;
    let description = req.description.unwrap_or_default();
    let n = description.chars().count();
    if n > limits.label_description_max_chars {
        return Err(ApiError::illegal_argument(format!(
            "description must be at most {} characters, got {n}",
            limits.label_description_max_chars
        )));
    }
    let now = state.now_ms();
    let label = state
        .store
        .create_label(ctx.app.id, &name, &description, now, limits.labels_per_app)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::illegal_argument(format!("push label already exists of {name}"))
            }
            e => e.into(),
        })?;
    let data =
        json!({"name": label.name, "description": label.description, "createdAt": label.created});
    Ok(envelope::push(&ctx, now, data, &[]))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/push/label/{labelname}",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path)),
    responses((status = 200, description = "`data` {name, description, count, createdAt}"),
               (status = 400, description = "ResourceNotFoundException: no such label"))
)]
pub async fn get_label(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    let label = state
        .store
        .label(ctx.app.id, &name)
        .await?
        .ok_or_else(|| ApiError::label_not_found(name.as_str()))?;
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        label_json(&label),
        &[],
    ))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/push/label",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path),
           ("limit" = Option<u32>, Query, description = "1–100, default 100"),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "`data` [{name, description, count, createdAt}], top-level `cursor` while more pages exist"))
)]
pub async fn list_labels(
    State(state): State<AppState>,
    ctx: AppCtx,
    q: QueryMap,
) -> ApiResult<Response> {
    let max = state.config.limits.label_page_max;
    let limit = q.limit(max, max)?;
    let after = cursor::decode("label", q.get("cursor"))?;
    let mut labels = state
        .store
        .list_labels(ctx.app.id, after, limit + 1)
        .await?;
    let more = labels.len() > limit as usize;
    labels.truncate(limit as usize);
    let data = Value::Array(labels.iter().map(label_json).collect());
    let extra: Vec<(&str, Value)> = match labels.last() {
        Some(last) if more => vec![("cursor", cursor::encode("label", last.key).into())],
        _ => vec![],
    };
    Ok(envelope::push(&ctx, state.now_ms(), data, &extra))
}

#[utoipa::path(
    delete,
    path = "/{org}/{app}/push/label/{labelname}",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path)),
    responses((status = 200, description = "`data` \"success\"; the label's memberships go with it"),
               (status = 400, description = "ResourceNotFoundException: no such label"))
)]
pub async fn delete_label(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    if !state.store.delete_label(ctx.app.id, &name).await? {
        return Err(ApiError::label_not_found(name.as_str()));
    }
    Ok(envelope::push(&ctx, state.now_ms(), json!("success"), &[]))
}

/// Checks the `usernames` list: 1..=limit entries. Names that are not valid user ids go to
/// `fail` straight away (they cannot be members); the rest are deduplicated in order.
fn member_list(
    state: &AppState,
    req: LabelUsersRequest,
) -> ApiResult<(Vec<Username>, Map<String, Value>)> {
    let max = state.config.limits.label_users_per_call;
    let names = req
        .usernames
        .ok_or_else(|| ApiError::illegal_argument("usernames must be provided"))?;
    if names.is_empty() || names.len() > max {
        return Err(ApiError::illegal_argument(format!(
            "usernames must hold 1 to {max} user ids, got {}",
            names.len()
        )));
    }
    let mut valid: Vec<Username> = Vec::with_capacity(names.len());
    let mut fail = Map::new();
    for raw in names {
        match Username::parse(&raw) {
            Ok(u) if !valid.contains(&u) => valid.push(u),
            Ok(_) => {}
            Err(e) => {
                fail.insert(raw, Value::String(e.0));
            }
        }
    }
    Ok((valid, fail))
}

fn change_json(change: MemberChange, mut fail: Map<String, Value>) -> Value {
    for (u, why) in change.fail {
        fail.insert(u.into_string(), why.reason().into());
    }
    let success: Vec<Value> = change
        .success
        .into_iter()
        .map(|u| u.into_string().into())
        .collect();
    json!({"success": success, "fail": fail})
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/push/label/{labelname}/user",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path)),
    request_body = LabelUsersRequest,
    responses((status = 200, description = "`data` {success: [ids], fail: {id: reason}}"),
               (status = 400, description = "no such label, or an empty / too long list"))
)]
pub async fn add_label_users(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<LabelUsersRequest>,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    let (users, fail) = member_list(&state, req)?;
    let now = state.now_ms();
    let change = state
        .store
        .add_label_users(
            ctx.app.id,
            &name,
            &users,
            now,
            state.config.limits.users_per_label,
        )
        .await
        .map_err(not_found_is_label(&name))?;
    Ok(envelope::push(&ctx, now, change_json(change, fail), &[]))
}

#[utoipa::path(
    delete,
    path = "/{org}/{app}/push/label/{labelname}/user",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path)),
    request_body(content = LabelUsersRequest, description = "sent as the body of the DELETE"),
    responses((status = 200, description = "`data` {success: [ids], fail: {id: reason}}"),
               (status = 400, description = "no such label, or an empty / too long list"))
)]
pub async fn remove_label_users(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<LabelUsersRequest>,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    let (users, fail) = member_list(&state, req)?;
    let change = state
        .store
        .remove_label_users(ctx.app.id, &name, &users)
        .await
        .map_err(not_found_is_label(&name))?;
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        change_json(change, fail),
        &[],
    ))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/push/label/{labelname}/user",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path),
           ("limit" = Option<u32>, Query, description = "1–100, default 100"),
           ("cursor" = Option<String>, Query)),
    responses((status = 200, description = "`data` [{username, created}], top-level `cursor` while more pages exist"),
               (status = 400, description = "no such label"))
)]
pub async fn list_label_users(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
    q: QueryMap,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    let max = state.config.limits.label_page_max;
    let limit = q.limit(max, max)?;
    let after = cursor::decode("member", q.get("cursor"))?;
    let mut members = state
        .store
        .list_label_users(ctx.app.id, &name, after, limit + 1)
        .await
        .map_err(not_found_is_label(&name))?;
    let more = members.len() > limit as usize;
    members.truncate(limit as usize);
    let data = Value::Array(members.iter().map(member_json).collect());
    let extra: Vec<(&str, Value)> = match members.last() {
        Some(last) if more => vec![("cursor", cursor::encode("member", last.key).into())],
        _ => vec![],
    };
    Ok(envelope::push(&ctx, state.now_ms(), data, &extra))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/push/label/{labelname}/user/{username}",
    tag = "labels",
    params(("org" = String, Path), ("app" = String, Path), ("labelname" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "`data` {username, created}, or null when the user is not a member"),
               (status = 400, description = "no such label"))
)]
pub async fn get_label_user(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name, username)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let name = path_label(&name)?;
    let member = match Username::parse(&username) {
        Ok(u) => state
            .store
            .label_user(ctx.app.id, &name, &u)
            .await
            .map_err(not_found_is_label(&name))?,
        // Not a valid user id: not a member, but the label must still exist.
        Err(_) => {
            state
                .store
                .label(ctx.app.id, &name)
                .await?
                .ok_or_else(|| ApiError::label_not_found(name.as_str()))?;
            None
        }
    };
    let data = member.as_ref().map(member_json).unwrap_or(Value::Null);
    Ok(envelope::push(&ctx, state.now_ms(), data, &[]))
}
