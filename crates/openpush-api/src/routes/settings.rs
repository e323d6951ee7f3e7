//! Per-user push settings: batch push nickname, do-not-disturb, preferred language.

use axum::extract::{Path, State};
use axum::response::Response;
use openpush_core::settings::{
    ChatType, IgnoreInterval, NotificationPatch, NotificationSetting, NotifyType,
    MAX_IGNORE_DURATION_MS,
};
use openpush_core::{Nickname, Username};
use openpush_store::{StoreError, UserUpdate};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::binding::settings_user;
use super::lenient_i64;
use crate::envelope::Im;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody, JsonValue};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct PushNicknameItem {
    pub username: String,
    pub push_nickname: String,
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/push/nickname",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body(content = Vec<PushNicknameItem>, description = "at most 50 items"),
    responses((status = 200, description = "IM envelope, `entities` [{push_nickname, username}]"),
               (status = 400, description = "empty, too many, too long, or an unknown user (then nothing changes)"))
)]
pub async fn put_push_nickname(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonValue(body): JsonValue,
) -> ApiResult<Response> {
    let limits = &state.config.limits;
    let items: Vec<PushNicknameItem> = match body {
        Value::Array(a) if a.is_empty() => {
            return Err(ApiError::illegal_argument(
                "put user push nicknames illegal empty request body",
            ))
        }
        // A derived struct would also take an array of its fields; items are objects.
        Value::Array(a) if a.iter().any(|v| !v.is_object()) => {
            return Err(ApiError::illegal_argument(
                "invalid push nickname item: expected a JSON object {username, push_nickname}",
            ))
        }
        Value::Array(a) => serde_json::from_value(Value::Array(a))
            .map_err(|e| ApiError::illegal_argument(format!("invalid push nickname item: {e}")))?,
        _ => {
            return Err(ApiError::illegal_argument(
                "body must be an array of {username, push_nickname}",
            ))
        }
    };
    if items.len() > limits.nicknames_per_batch {
        return Err(ApiError::illegal_argument(format!(
            "put user push nicknames exceeds the limit of {}",
            limits.nicknames_per_batch
        )));
    }
    let mut parsed = Vec::with_capacity(items.len());
    for it in &items {
        let user = Username::parse(&it.username)?;
        // Only a length error has Easemob's text; other refusals keep their own.
        if it.push_nickname.chars().count() > limits.nickname_max_chars {
            return Err(ApiError::illegal_argument(format!(
                "{} push nickname length exceeds the limit",
                it.username
            )));
        }
        let nick = Nickname::parse(
            "push_nickname",
            &it.push_nickname,
            limits.nickname_max_chars,
        )?;
        parsed.push((user, nick));
    }
    match state
        .store
        .set_nicknames(ctx.app.id, &parsed, state.now_ms())
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound(missing)) => return Err(ApiError::user_required(&missing)),
        Err(e) => return Err(e.into()),
    }
    let entities = parsed
        .iter()
        .map(|(u, n)| json!({"push_nickname": n.as_str(), "username": u.as_str()}))
        .collect();
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "put",
        path: "/push",
    };
    Ok(im.entities(entities, &[]))
}

/// Do-not-disturb / notification mode. Fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NotificationRequest {
    /// `DEFAULT`, `ALL`, `AT` or `NONE`.
    #[serde(rename = "type")]
    pub notify_type: Option<String>,
    /// Daily do-not-disturb window `HH:MM-HH:MM` (24 h; an end before the start wraps past
    /// midnight); `""` clears it.
    #[serde(rename = "ignoreInterval")]
    pub ignore_interval: Option<String>,
    /// One-shot DND length in ms, 0..=604800000, number or string; 0 turns it off.
    #[serde(rename = "ignoreDuration")]
    #[schema(value_type = Option<i64>)]
    pub ignore_duration: Option<Value>,
}

fn setting_json(s: &NotificationSetting, now_ms: i64) -> Value {
    // A one-shot DND that has run out reads as off.
    let until = if s.ignore_until_ms > now_ms {
        s.ignore_until_ms
    } else {
        0
    };
    json!({"type": s.notify_type, "ignoreInterval": s.ignore_interval, "ignoreDuration": until})
}

/// Validates the path: the chat type and the conversation key (a user or group id).
fn conversation(user: &Username, chattype: &str, key: &str) -> ApiResult<(ChatType, String, bool)> {
    let chattype = ChatType::parse(chattype)?;
    let key = match chattype {
        ChatType::User => Username::parse(key)
            .map_err(|e| ApiError::illegal_argument(format!("parameters is invalid : key: {e}")))?
            .into_string(),
        ChatType::ChatGroup => openpush_core::LabelName::parse(key)
            .map_err(|_| {
                ApiError::illegal_argument(format!("parameters is invalid : group id {key:?}"))
            })?
            .into_string(),
    };
    let app_level = chattype == ChatType::User && key == user.as_str();
    Ok((chattype, key, app_level))
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/users/{username}/notification/{chattype}/{key}",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path),
           ("chattype" = String, Path, description = "`user` or `chatgroup`"),
           ("key" = String, Path, description = "peer user id or group id; the user's own id for the app-level setting")),
    request_body = NotificationRequest,
    responses((status = 200, description = "IM envelope, `data` {type, ignoreInterval, ignoreDuration (absolute end, ms)}"))
)]
pub async fn put_notification(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username, chattype, key)): Path<(String, String, String, String, String)>,
    JsonBody(req): JsonBody<NotificationRequest>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    let (chattype, key, app_level) = conversation(&user, &chattype, &key)?;
    let now = state.now_ms();
    let mut patch = NotificationPatch::default();
    // Every type and window is accepted on every conversation, as Easemob does: its IM SDK sets
    // a daily window on peer and group conversations, and `DEFAULT` at the app level reads as
    // "the app's default behaviour" (notify for every message).
    if let Some(t) = &req.notify_type {
        patch.notify_type = Some(NotifyType::parse(t)?);
    }
    if let Some(i) = &req.ignore_interval {
        patch.ignore_interval = Some(if i.is_empty() {
            String::new()
        } else {
            IgnoreInterval::parse(i)?.to_string()
        });
    }
    if let Some(v) = &req.ignore_duration {
        let d = lenient_i64("ignoreDuration", v)?;
        if !(0..=MAX_IGNORE_DURATION_MS).contains(&d) {
            return Err(ApiError::illegal_argument(format!(
                "ignoreDuration must be from 0 to {MAX_IGNORE_DURATION_MS} ms, got {d}"
            )));
        }
        patch.ignore_until_ms = Some(if d == 0 { 0 } else { now + d });
    }
    let default = NotificationSetting::default_for(app_level);
    let s = state
        .store
        .update_notification_setting(ctx.app.id, &user, chattype, &key, &patch, default)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::user_required(user.as_str()),
            e => e.into(),
        })?;
    let im = Im {
        ctx: &ctx,
        now_ms: now,
        action: "put",
        path: "/users",
    };
    Ok(im.data(setting_json(&s, now)))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/users/{username}/notification/{chattype}/{key}",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path),
           ("chattype" = String, Path), ("key" = String, Path)),
    responses((status = 200, description = "IM envelope, `data` {type, ignoreInterval, ignoreDuration}"))
)]
pub async fn get_notification(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username, chattype, key)): Path<(String, String, String, String, String)>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    let (chattype, key, app_level) = conversation(&user, &chattype, &key)?;
    if state.store.user(ctx.app.id, &user).await?.is_none() {
        return Err(ApiError::user_required(user.as_str()));
    }
    let s = state
        .store
        .notification_setting(ctx.app.id, &user, chattype, &key)
        .await?
        .unwrap_or_else(|| NotificationSetting::default_for(app_level));
    let now = state.now_ms();
    let im = Im {
        ctx: &ctx,
        now_ms: now,
        action: "get",
        path: "/users",
    };
    Ok(im.data(setting_json(&s, now)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LanguageRequest {
    /// A language code such as `EU` or `zh`; `""` means do not translate.
    #[serde(rename = "translationLanguage")]
    pub translation_language: Option<String>,
}

#[utoipa::path(
    put,
    path = "/{org}/{app}/users/{username}/notification/language",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    request_body = LanguageRequest,
    responses((status = 200, description = "IM envelope, `data` {language}"))
)]
pub async fn put_language(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<LanguageRequest>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    let lang = req.translation_language.ok_or_else(|| {
        ApiError::illegal_argument("parameters is invalid : translationLanguage must be provided")
    })?;
    if lang.len() > 16
        || !lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::illegal_argument(format!(
            "parameters is invalid : translationLanguage must be a language code of at most 16 letters, digits, '-' or '_', got {lang:?}"
        )));
    }
    let update = UserUpdate {
        language: Some(lang),
        ..Default::default()
    };
    let now = state.now_ms();
    let u = state
        .store
        .update_user(ctx.app.id, &user, update, now)
        .await?
        .ok_or_else(|| ApiError::user_required(user.as_str()))?;
    let im = Im {
        ctx: &ctx,
        now_ms: now,
        action: "put",
        path: "/users",
    };
    Ok(im.data(json!({"language": u.language})))
}

#[utoipa::path(
    get,
    path = "/{org}/{app}/users/{username}/notification/language",
    tag = "push settings",
    params(("org" = String, Path), ("app" = String, Path), ("username" = String, Path)),
    responses((status = 200, description = "IM envelope, `data` {language}"))
)]
pub async fn get_language(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, username)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let user = settings_user(&username)?;
    let u = state
        .store
        .user(ctx.app.id, &user)
        .await?
        .ok_or_else(|| ApiError::user_required(user.as_str()))?;
    let im = Im {
        ctx: &ctx,
        now_ms: state.now_ms(),
        action: "get",
        path: "/users",
    };
    Ok(im.data(json!({"language": u.language})))
}
