//! IM users: register, list, get, update, delete.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use openpush_core::{Nickname, Password, Username};
use openpush_store::{Binding, LegacyDnd, NewUser, StoreError, User, UserUpdate};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::binding::settings_user;
use super::{lenient_bool, lenient_i64};
use crate::auth;
use crate::cursor;
use crate::envelope::Im;
use crate::error::{ApiError, ApiResult};
use crate::extract::{from_value, AppCtx, JsonBody, JsonValue, QueryMap};
use crate::state::AppState;

/// The user entity: Easemob's fields plus `pushInfo` (note `device_Id`, spelled as SDKs read it).
pub fn user_entity(u: &User, bindings: &[Binding]) -> Value {
    let push_info: Vec<Value> = bindings
        .iter()
        .filter(|b| b.username == u.username)
        .map(|b| {
            json!({
                "device_Id": b.device_id,
                "device_token": b.device_token,
                "notifier_name": b.notifier_name,
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("uuid".into(), u.uuid.clone().into());
    m.insert("type".into(), "user".into());
    m.insert("created".into(), u.created.into());
    m.insert("modified".into(), u.modified.into());
    m.insert("username".into(), u.username.as_str().into());
    m.insert("activated".into(), u.activated.into());
    m.insert("nickname".into(), u.nickname.clone().into());
    m.insert("notification_display_style".into(), u.display_style.into());
    if let Some(d) = &u.legacy_dnd {
        m.insert("notification_no_disturbing".into(), d.enabled.into());
        if let Some(h) = d.start_hour {
            m.insert(
                "notification_no_disturbing_start".into(),
                h.to_string().into(),
            );
        }
        if let Some(h) = d.end_hour {
            m.insert(
                "notification_no_disturbing_end".into(),
                h.to_string().into(),
            );
        }
    }
    m.insert("pushInfo".into(), Value::Array(push_info));
    Value::Object(m)
}

/// One user to register. Unknown fields are ignored. `Debug` never shows the password.
#[derive(Deserialize, ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    pub password: String,
    pub nickname: Option<String>,
}

impl std::fmt::Debug for NewUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("nickname", &self.nickname)
            .finish()
    }
}

/// A path username that cannot be valid cannot exist either.
fn path_user(raw: &str) -> ApiResult<Username> {
    Username::parse(raw).map_err(|_| ApiError::user_not_found())
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/users",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body(content = Vec<NewUserRequest>, description = "one user object, or an array of up to 60"),
    responses((status = 200, description = "IM envelope; `entities` are the created users, `data` lists the ones that already existed"))
)]
pub async fn create_users(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonValue(body): JsonValue,
) -> ApiResult<Response> {
    let limits = &state.config.limits;
    let (items, single) = match body {
        Value::Array(a) => (a, false),
        v @ Value::Object(_) => (vec![v], true),
        _ => {
            return Err(ApiError::illegal_argument(
                "body must be a user object or an array of them",
            ))
        }
    };
    if items.is_empty() {
        return Err(ApiError::illegal_argument("no users given"));
    }
    if items.len() > limits.users_per_batch {
        return Err(ApiError::illegal_argument(format!(
            "at most {} users per request, got {}",
            limits.users_per_batch,
            items.len()
        )));
    }
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |field: &str| {
            if single {
                field.to_owned()
            } else {
                format!("[{i}].{field}")
            }
        };
        let what = if single {
            "user".to_owned()
        } else {
            format!("users[{i}]")
        };
        if !item.is_object() {
            return Err(ApiError::illegal_argument(format!(
                "invalid {what}: expected a JSON object"
            )));
        }
        let r: NewUserRequest = from_value(item, &what)?;
        let username = Username::parse(&r.username)
            .map_err(|e| ApiError::illegal_argument(format!("{}: {e}", at("username"))))?;
        let password = Password::parse(&r.password)
            .map_err(|e| ApiError::illegal_argument(format!("{}: {e}", at("password"))))?;
        let nickname = Nickname::parse(
            &at("nickname"),
            r.nickname.as_deref().unwrap_or(""),
            limits.nickname_max_chars,
        )?;
        parsed.push((username, password, nickname));
    }
    // Hash on the blocking pool through the server's bounded hashing slots (429 when they and
    // their queue are full): each hash takes tens of milliseconds of CPU and ~19 MiB.
    let now = state.now_ms();
    let jobs: Vec<_> = parsed
        .into_iter()
        .map(|(username, password, nickname)| {
            move || NewUser {
                password_hash: auth::hash_password(password.as_str()),
                username,
                uuid: uuid::Uuid::new_v4().to_string(),
                nickname: nickname.into_string(),
                created: now,
            }
        })
        .collect();
    let new_users = state.hashing.run(jobs).await?;
    let first = new_users[0].username.clone();
    let out = match state.store.create_users(ctx.app.id, new_users).await {
        Ok(out) => out,
        Err(StoreError::Conflict(_)) if single => {
            return Err(ApiError::duplicate_user(&ctx.app.app_key(), first.as_str()))
        }
        Err(StoreError::Conflict(names)) => openpush_store::CreatedUsers {
            created: vec![],
            existing: names
                .split(',')
                .filter_map(|n| Username::parse(n).ok())
                .collect(),
        },
        Err(e) => return Err(e.into()),
    };
    let entities = out.created.iter().map(|u| user_entity(u, &[])).collect();
    let im = Im {
        ctx: &ctx,
        now_ms: now,
        action: "post",
        path: "/users",
    };
    let failures: Vec<Value> = out
        .existing
        .iter()
        .map(|u| json!({"username": u.as_str(), "registerUserFailReason": format!("the user {u} already exists")}))
        .collect();
    if failures.is_empty() {
        Ok(im.entities(entities, &[]))
    } else {
        Ok(im.entities(entities, &[("data", Value::Array(failures))]))
    }
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/users",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path),
           ("limit" = Option<u32>, Query, description = "1–100, default 10"),
           ("cursor" = Option<String>, Query, description = "from the previous page")),
    responses((status = 200, description = "IM envelope with `entities`, `count`, and `cursor` while more pages exist"))
)]
pub async fn list_users(
    State(state): State<AppState>,
    ctx: AppCtx,
    q: QueryMap,
) -> ApiResult<Response> {
    let l = &state.config.limits;
    let limit = q.limit(l.users_page_default, l.users_page_max)?;
    let after = cursor::decode("user", q.get("cursor"))?;
    let mut users = state.store.list_users(ctx.app.id, after, limit + 1).await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let names: Vec<Username> = users.iter().map(|u| u.username.clone()).collect();
    let bindings = state.store.bindings_of(ctx.app.id, &names).await?;
    let entities: Vec<Value> = users.iter().map(|u| user_entity(u, &bindings)).collect();
    let count = entities.len();
    let mut extra = vec![
        ("count", json!(count)),
        ("params", json!({"limit": [limit.to_string()]})),
    ];
    if more {
        if let Some(last) = users.last() {
            extra.push(("cursor", json!(cursor::encode("user", last.key))));
        }
    }
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "get",
        path: "/users",
    };
    Ok(im.entities(entities, &extra))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/users/{username}",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "IM envelope with the user in `entities`"),
               (status = 404, description = "no such user"))
)]
pub async fn get_user(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let username = path_user(&username)?;
    let user = state
        .store
        .user(ctx.app.id, &username)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    let bindings = state
        .store
        .bindings_of(ctx.app.id, std::slice::from_ref(&username))
        .await?;
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "get",
        path: "/users",
    };
    Ok(im.entities(vec![user_entity(&user, &bindings)], &[("count", json!(1))]))
}

/// Fields of `PUT /users/{username}`. Numbers and strings interchange, as SDKs send either.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub nickname: Option<String>,
    /// 0 or 1, as a number or a string.
    #[schema(value_type = Option<i32>)]
    pub notification_display_style: Option<Value>,
    /// Legacy do-not-disturb switch: `true`/`false`, `1`/`0`.
    #[schema(value_type = Option<bool>)]
    pub notification_no_disturbing: Option<Value>,
    /// Legacy DND start hour 0–23, number or string.
    #[schema(value_type = Option<i32>)]
    pub notification_no_disturbing_start: Option<Value>,
    /// Legacy DND end hour 0–23, number or string.
    #[schema(value_type = Option<i32>)]
    pub notification_no_disturbing_end: Option<Value>,
}

fn hour(field: &str, v: &Option<Value>) -> ApiResult<Option<u8>> {
    let Some(v) = v else { return Ok(None) };
    let n = lenient_i64(field, v)?;
    u8::try_from(n)
        .ok()
        .filter(|h| *h <= 23)
        .map(Some)
        .ok_or_else(|| {
            ApiError::illegal_argument(format!("{field} must be an hour from 0 to 23, got {n}"))
        })
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/users/{username}",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, description = "IM envelope with the updated user"),
               (status = 400, description = "no such user (RequiredPropertyNotFoundException), or an invalid field"))
)]
pub async fn update_user(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<UpdateUserRequest>,
) -> ApiResult<Response> {
    // Easemob answers an update of a user that does not exist (nickname, display style,
    // do-not-disturb) with 400 RequiredPropertyNotFoundException, not 404.
    let username = settings_user(&username)?;
    let mut update = UserUpdate::default();
    if let Some(n) = &req.nickname {
        update.nickname = Some(Nickname::parse(
            "nickname",
            n,
            state.config.limits.nickname_max_chars,
        )?);
    }
    if let Some(v) = &req.notification_display_style {
        let s = lenient_i64("notification_display_style", v)?;
        if !(0..=1).contains(&s) {
            return Err(ApiError::illegal_argument(format!(
                "notification_display_style must be 0 or 1, got {s}"
            )));
        }
        update.display_style = Some(s as i32);
    }
    let start = hour(
        "notification_no_disturbing_start",
        &req.notification_no_disturbing_start,
    )?;
    let end = hour(
        "notification_no_disturbing_end",
        &req.notification_no_disturbing_end,
    )?;
    if let Some(v) = &req.notification_no_disturbing {
        let enabled = lenient_bool("notification_no_disturbing", v)?;
        update.legacy_dnd = Some(LegacyDnd {
            enabled,
            start_hour: start.filter(|_| enabled),
            end_hour: end.filter(|_| enabled),
        });
    } else if start.is_some() || end.is_some() {
        update.legacy_dnd = Some(LegacyDnd {
            enabled: true,
            start_hour: start,
            end_hour: end,
        });
    }
    let user = state
        .store
        .update_user(ctx.app.id, &username, update, state.now_ms())
        .await?
        .ok_or_else(|| ApiError::user_required(username.as_str()))?;
    let bindings = state
        .store
        .bindings_of(ctx.app.id, std::slice::from_ref(&username))
        .await?;
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "put",
        path: "/users",
    };
    Ok(im.entities(vec![user_entity(&user, &bindings)], &[]))
}

#[utoipa::path(
    delete,
    path = "/{org}/{app}/users/{username}",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "IM envelope with the deleted user; its bindings and label memberships are gone"),
               (status = 404, description = "no such user"))
)]
pub async fn delete_user(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let username = path_user(&username)?;
    let user = state
        .store
        .delete_user(ctx.app.id, &username)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    // Its tokens no longer authenticate (the user is gone); its open devices are closed too.
    close_devices(&state, &ctx, &username);
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "delete",
        path: "/users",
    };
    Ok(im.entities(vec![user_entity(&user, &[])], &[]))
}

/// Closes the user's open device connections on this node with 4001 (bad token): their
/// token was revoked, so they must log in again.
fn close_devices(state: &AppState, ctx: &AppCtx, username: &Username) {
    state.gateway.hub.close_user(
        ctx.app.id,
        username.as_str(),
        openpush_gateway::frames::CLOSE_BAD_TOKEN,
    );
}

/// Revokes every token of the user issued until now and closes its devices' connections.
/// With `password_hash`, sets the new password in the same write. `None`: no such user.
async fn revoke(
    state: &AppState,
    ctx: &AppCtx,
    username: &Username,
    password_hash: Option<&str>,
) -> ApiResult<Option<User>> {
    // Tokens issued in this same millisecond, before the revocation, are refused too; the
    // password grant never issues one older than this time.
    let valid_from = state.now_ms().saturating_add(1);
    let user = state
        .store
        .revoke_user_tokens(ctx.app.id, username, valid_from, password_hash)
        .await?;
    if user.is_some() {
        close_devices(state, ctx, username);
    }
    Ok(user)
}

/// `PUT /users/{username}/password`. `Debug` never shows the password.
#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// The new password: 1–64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub newpassword: String,
}

impl std::fmt::Debug for PasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordRequest { newpassword: <redacted> }")
    }
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/users/{username}/password",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    request_body = PasswordRequest,
    responses((status = 200, description = "`{action: \"set user password\", timestamp, duration}`; every token of the user issued before is refused from then on, and its open device connections are closed (4001)"),
               (status = 404, description = "no such user"))
)]
pub async fn set_password(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<PasswordRequest>,
) -> ApiResult<Response> {
    let username = path_user(&username)?;
    let password = Password::parse(&req.newpassword)
        .map_err(|e| ApiError::illegal_argument(format!("newpassword: {e}")))?;
    // Refuse an unknown user before paying for a hash.
    if state.store.user(ctx.app.id, &username).await?.is_none() {
        return Err(ApiError::user_not_found());
    }
    let hash = state
        .hashing
        .run_one(move || auth::hash_password(password.as_str()))
        .await?;
    revoke(&state, &ctx, &username, Some(&hash))
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    Ok(axum::Json(json!({
        "action": "set user password",
        "timestamp": state.now_ms(),
        "uri": ctx.uri,
        "duration": ctx.started.elapsed().as_millis() as i64,
    }))
    .into_response())
}

#[utoipa::path(
    post,
    path = "/{org}/{app}/users/{username}/tokens/revoke",
    tag = "users",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "An OpenPush addition. IM envelope with the user in `entities`; every token of the user issued before is refused from then on, and its open device connections are closed (4001)"),
               (status = 404, description = "no such user"))
)]
pub async fn revoke_tokens(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let username = path_user(&username)?;
    let user = revoke(&state, &ctx, &username, None)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    let bindings = state
        .store
        .bindings_of(ctx.app.id, std::slice::from_ref(&username))
        .await?;
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "post",
        path: "/users",
    };
    Ok(im.entities(vec![user_entity(&user, &bindings)], &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let req: NewUserRequest =
            serde_json::from_value(json!({"username": "alice", "password": "pw-alice-secret"}))
                .unwrap();
        let shown = format!("{req:?}");
        assert!(!shown.contains("pw-alice-secret"), "{shown}");
        assert!(
            shown.contains("alice") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
