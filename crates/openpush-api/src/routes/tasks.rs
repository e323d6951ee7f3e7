//! Notifications and push tasks: create and query a
//! notification, broadcast / list / label tasks (now or at `startDate`), list and read tasks,
//! cancel one.

use axum::extract::{Path, State};
use axum::response::Response;
use openpush_core::message::PushMessage;
use openpush_core::{LabelName, Username};
use openpush_store::{
    ReportAction, StoreError, StoredMessage, Task, TaskKind, TaskLimits, TaskStatus,
};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::lenient_i64;
use super::push::{message_of, strategy_of};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody, JsonValue, QueryMap};
use crate::state::AppState;

/// A task request. Legacy fields (`type`, `pushFunc` other than `LABEL`, `async`) are accepted.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskRequest {
    /// User ids (`/push/list`) or label names (`/push/list/label`, or `pushFunc: "LABEL"`).
    pub targets: Option<Vec<String>>,
    #[schema(value_type = Option<i32>)]
    pub strategy: Option<Value>,
    /// `yyyy-MM-dd HH:mm:ss` in the server's time zone, 1 hour to 30 days ahead.
    #[serde(rename = "startDate")]
    pub start_date: Option<String>,
    #[serde(rename = "pushMessage")]
    #[schema(value_type = Option<Object>)]
    pub push_message: Option<Value>,
    /// A notification created with `POST /push/message` (number or numeric string).
    #[serde(rename = "pushMsgId")]
    #[schema(value_type = Option<i64>)]
    pub push_msg_id: Option<Value>,
    #[serde(rename = "pushFunc")]
    pub push_func: Option<String>,
    /// 定速推送: notifications per second to spread the task over (1–100000).
    #[schema(value_type = Option<i64>)]
    pub rate: Option<Value>,
}

const HOUR_MS: i64 = 3_600_000;

/// `startDate` → epoch ms, checked against Easemob's window: at least `schedule_min_lead_secs`
/// (one hour) and at most 30 days ahead.
fn start_at(state: &AppState, start_date: Option<&str>) -> ApiResult<i64> {
    let now = state.now_ms();
    let Some(s) = start_date.filter(|s| !s.trim().is_empty()) else {
        return Ok(now);
    };
    let naive =
        chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").map_err(|_| {
            ApiError::illegal_argument(format!(
                "startDate must look like 2024-01-01 12:00:00, got {s:?}"
            ))
        })?;
    use chrono::TimeZone;
    let at = chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| {
            ApiError::illegal_argument(format!(
                "startDate {s:?} does not exist in the server's time zone"
            ))
        })?
        .timestamp_millis();
    let lead_secs = state.config.limits.schedule_min_lead_secs;
    if at < now + (lead_secs as i64).saturating_mul(1000) {
        let lead = if lead_secs == 3600 {
            "1 hour".to_owned()
        } else {
            format!("{lead_secs} seconds")
        };
        return Err(ApiError::illegal_argument(format!(
            "startDate {s:?} must be at least {lead} from now"
        )));
    }
    if at > now + 30 * 24 * HOUR_MS {
        return Err(ApiError::illegal_argument(format!(
            "startDate {s:?} must be at most 30 days from now"
        )));
    }
    Ok(at)
}

/// The message of a task: inline, or a stored notification by id.
async fn task_message(
    state: &AppState,
    ctx: &AppCtx,
    req: &mut TaskRequest,
) -> ApiResult<(String, Option<i64>)> {
    if let Some(v) = req.push_msg_id.take() {
        let id = lenient_i64("pushMsgId", &v)?;
        let m = state
            .store
            .message(ctx.app.id, id)
            .await?
            .ok_or_else(|| ApiError::message_not_found(id))?;
        return Ok((m.body, Some(id)));
    }
    let message = message_of(req.push_message.take())?;
    Ok((message.to_value().to_string(), None))
}

async fn create(
    state: &AppState,
    ctx: &AppCtx,
    kind: TaskKind,
    mut req: TaskRequest,
) -> ApiResult<i64> {
    let limits = &state.config.limits;
    let targets: Vec<String> = match kind {
        TaskKind::Broadcast => Vec::new(),
        TaskKind::List => {
            let t = req
                .targets
                .take()
                .ok_or_else(|| ApiError::illegal_argument("targets must be provided"))?;
            if t.is_empty() || t.len() > limits.list_targets_max {
                return Err(ApiError::illegal_argument(format!(
                    "targets must hold 1 to {} user ids, got {}",
                    limits.list_targets_max,
                    t.len()
                )));
            }
            let mut users: Vec<String> = Vec::with_capacity(t.len());
            for raw in &t {
                let u = Username::parse(raw)
                    .map_err(|e| ApiError::illegal_argument(format!("targets: {e}")))?
                    .into_string();
                if !users.contains(&u) {
                    users.push(u);
                }
            }
            users
        }
        TaskKind::Label => {
            let t = req
                .targets
                .take()
                .ok_or_else(|| ApiError::illegal_argument("targets must be provided"))?;
            if t.is_empty() || t.len() > limits.labels_per_task {
                return Err(ApiError::illegal_argument(format!(
                    "targets must hold 1 to {} label names, got {}",
                    limits.labels_per_task,
                    t.len()
                )));
            }
            for raw in &t {
                let name = LabelName::parse(raw).map_err(|_| ApiError::label_not_found(raw))?;
                if state.store.label(ctx.app.id, &name).await?.is_none() {
                    return Err(ApiError::label_not_found(raw));
                }
            }
            t
        }
    };
    let strategy = strategy_of(req.strategy.as_ref())?;
    let start_at = start_at(state, req.start_date.as_deref())?;
    let rate = match req.rate.as_ref().filter(|v| !v.is_null()) {
        None => None,
        Some(v) => {
            let r = lenient_i64("rate", v)?;
            if !(1..=100_000).contains(&r) {
                return Err(ApiError::illegal_argument(format!(
                    "rate must be 1 to 100000 notifications per second, got {r}"
                )));
            }
            Some(r)
        }
    };
    let (message, push_msg_id) = task_message(state, ctx, &mut req).await?;
    let now = state.now_ms();
    let task = Task {
        id: state.engine.ids.next(&*state.clock),
        app_id: ctx.app.id,
        kind,
        push_msg_id,
        message,
        strategy: strategy.code(),
        targets,
        status: TaskStatus::Scheduled,
        start_at,
        created: now,
        started: None,
        finished: None,
        cursor: None,
        rate,
        stats: json!({}),
    };
    let task_limits = TaskLimits {
        max_running: ctx
            .app
            .tasks_running_max
            .unwrap_or(limits.tasks_running_max),
        max_in_window: ctx.app.tasks_per_window.unwrap_or(limits.tasks_per_window),
        window_ms: i64::try_from(limits.task_window_secs).unwrap_or(i64::MAX / 1000) * 1000,
    };
    state
        .store
        .create_task(&task, task_limits, now)
        .await
        .map_err(|e| match e {
            StoreError::Limit(m) => ApiError::limit(m),
            e => e.into(),
        })?;
    state.runner.wake();
    Ok(task.id)
}

#[utoipa::path(post, path = "/{org}/{app}/push/message", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body(content = Object, description = "the bare pushMessage, not wrapped"),
    responses((status = 200, description = "`data`: the notification id (a number)"),
               (status = 400, description = "MessageException")))]
pub async fn create_message(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonValue(body): JsonValue,
) -> ApiResult<Response> {
    let message = PushMessage::parse(body).map_err(|e| ApiError::message(e.to_string()))?;
    let now = state.now_ms();
    let m = StoredMessage {
        id: state.engine.ids.next(&*state.clock),
        app_id: ctx.app.id,
        body: message.to_value().to_string(),
        created: now,
    };
    state.store.create_message(&m).await?;
    Ok(envelope::push(&ctx, now, json!(m.id), &[]))
}

#[utoipa::path(get, path = "/{org}/{app}/push/message/{id}", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "`data`: the notification plus `appkey` and `timestamp` (created)"),
               (status = 400, description = "no such notification")))]
pub async fn get_message(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    message_answer(&state, &ctx, &id).await
}

/// The same query by POST (Easemob's doc says POST in its heading, GET in its example); the
/// body may be absent, empty or `{}`, as SDKs send it, and is ignored.
#[utoipa::path(post, path = "/{org}/{app}/push/message/{id}", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "as GET")))]
pub async fn post_message(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    message_answer(&state, &ctx, &id).await
}

async fn message_answer(state: &AppState, ctx: &AppCtx, id: &str) -> ApiResult<Response> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::illegal_argument(format!("message id must be a number, got {id:?}"))
    })?;
    let m = state
        .store
        .message(ctx.app.id, id)
        .await?
        .ok_or_else(|| ApiError::message_not_found(id))?;
    let mut data: Value = serde_json::from_str(&m.body).map_err(|e| ApiError::internal(&e))?;
    let mut out = serde_json::Map::new();
    out.insert("appkey".into(), ctx.app.app_key().into());
    out.insert("timestamp".into(), m.created.into());
    if let Some(obj) = data.as_object_mut() {
        out.append(obj);
    }
    Ok(envelope::push(ctx, state.now_ms(), Value::Object(out), &[]))
}

#[utoipa::path(post, path = "/{org}/{app}/push/task", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = TaskRequest,
    responses((status = 200, description = "`data`: the task id (a bare number)"),
               (status = 403, description = "LimitException: the app's task limits")))]
pub async fn create_broadcast(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<TaskRequest>,
) -> ApiResult<Response> {
    let id = create(&state, &ctx, TaskKind::Broadcast, req).await?;
    Ok(envelope::push(&ctx, state.now_ms(), json!(id), &[]))
}

#[utoipa::path(post, path = "/{org}/{app}/push/task/broadcast", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = TaskRequest,
    responses((status = 200, description = "`data`: the task id (a bare number)"),
               (status = 400, description = "pushMsgId missing or unknown")))]
pub async fn create_broadcast_from_message(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<TaskRequest>,
) -> ApiResult<Response> {
    if req.push_msg_id.is_none() {
        return Err(ApiError::illegal_argument("pushMsgId must be provided"));
    }
    let id = create(&state, &ctx, TaskKind::Broadcast, req).await?;
    Ok(envelope::push(&ctx, state.now_ms(), json!(id), &[]))
}

#[utoipa::path(post, path = "/{org}/{app}/push/list", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = TaskRequest,
    responses((status = 200, description = "`data`: {taskId}"),
               (status = 403, description = "LimitException")))]
pub async fn create_list(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<TaskRequest>,
) -> ApiResult<Response> {
    let kind = if req
        .push_func
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("LABEL"))
    {
        TaskKind::Label
    } else {
        TaskKind::List
    };
    let id = create(&state, &ctx, kind, req).await?;
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        json!({"taskId": id}),
        &[],
    ))
}

#[utoipa::path(post, path = "/{org}/{app}/push/list/label", tag = "tasks", operation_id = "create_label_task",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = TaskRequest,
    responses((status = 200, description = "`data`: {taskId}; the push goes to the intersection of the labels"),
               (status = 400, description = "ResourceNotFoundException: unknown label")))]
pub async fn create_label(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<TaskRequest>,
) -> ApiResult<Response> {
    let id = create(&state, &ctx, TaskKind::Label, req).await?;
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        json!({"taskId": id}),
        &[],
    ))
}

/// The task as answered, its counters merged in: the runner's counts (targets and legs decided
/// when their page went out) plus the send queue's (vendor legs, and their users, counted when
/// they ended there), and arrivals and clicks (from device acks, clicks and reports), per
/// channel and in total.
async fn task_answer(state: &AppState, t: &Task) -> ApiResult<Value> {
    let mut v = task_json(t);
    let stats = &mut v["statistics"];
    if !stats.is_object() {
        *stats = json!({});
    }
    let add = |v: &mut Value, key: &str, n: i64| {
        if n != 0 || v.get(key).is_none() && matches!(key, "arrived" | "clicked") {
            v[key] = json!(v.get(key).and_then(Value::as_i64).unwrap_or(0) + n);
        }
    };
    for c in state.store.task_counters(t.id).await? {
        if c.channel.is_empty() {
            add(stats, "success", c.success);
            add(stats, "fail", c.fail);
            add(stats, "unknown", c.unknown);
            continue;
        }
        if !stats["channels"].is_object() {
            stats["channels"] = json!({});
        }
        let ch = &mut stats["channels"][&c.channel];
        if !ch.is_object() {
            *ch = json!({});
        }
        add(ch, "success", c.success);
        add(ch, "fail", c.fail);
        add(ch, "unknown", c.unknown);
        add(ch, "arrived", c.arrived);
        add(ch, "clicked", c.clicked);
        add(stats, "arrived", c.arrived);
        add(stats, "clicked", c.clicked);
    }
    add(stats, "arrived", 0);
    add(stats, "clicked", 0);
    Ok(v)
}

fn task_json(t: &Task) -> Value {
    json!({
        "taskId": t.id,
        "type": t.kind.as_str(),
        "status": t.status.as_str(),
        "strategy": t.strategy,
        "pushMsgId": t.push_msg_id,
        "targets": t.targets,
        "rate": t.rate,
        "startAt": t.start_at,
        "createdAt": t.created,
        "startedAt": t.started,
        "finishedAt": t.finished,
        "statistics": t.stats,
    })
}

#[utoipa::path(get, path = "/{org}/{app}/push/tasks", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path),
           ("page" = Option<u32>, Query, description = "from 0"), ("size" = Option<u32>, Query, description = "1–100, default 10")),
    responses((status = 200, description = "`data`: tasks, newest first")))]
pub async fn list_tasks(
    State(state): State<AppState>,
    ctx: AppCtx,
    q: QueryMap,
) -> ApiResult<Response> {
    // An empty value is not a number: refused like any other.
    let num = |k: &str, default: u32| -> ApiResult<u32> {
        match q.0.get(k).map(String::as_str) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ApiError::illegal_argument(format!("{k} must be a number, got {v:?}"))
            }),
        }
    };
    let page = num("page", 0)?;
    let size = num("size", 10)?;
    if !(1..=100).contains(&size) {
        return Err(ApiError::illegal_argument(format!(
            "size must be 1 to 100, got {size}"
        )));
    }
    let tasks = state
        .store
        .list_tasks(ctx.app.id, page.saturating_mul(size), size)
        .await?;
    Ok(envelope::push(
        &ctx,
        state.now_ms(),
        Value::Array(tasks.iter().map(task_json).collect()),
        &[],
    ))
}

async fn task_of(state: &AppState, ctx: &AppCtx, id: &str) -> ApiResult<Task> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::illegal_argument(format!("task id must be a number, got {id:?}")))?;
    state
        .store
        .task(ctx.app.id, id)
        .await?
        .ok_or_else(|| ApiError::task_not_found(id))
}

#[utoipa::path(get, path = "/{org}/{app}/push/task/{id}", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "`data`: the task: type, status, timing, statistics"),
               (status = 400, description = "no such task")))]
pub async fn get_task(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let t = task_of(&state, &ctx, &id).await?;
    let data = task_answer(&state, &t).await?;
    Ok(envelope::push(&ctx, state.now_ms(), data, &[]))
}

#[utoipa::path(delete, path = "/{org}/{app}/push/task/{id}", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "`data`: the cancelled task; a running task stops at its next page"),
               (status = 400, description = "no such task, or it has already ended")))]
pub async fn cancel_task(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let t = task_of(&state, &ctx, &id).await?;
    if !state
        .store
        .end_task(ctx.app.id, t.id, TaskStatus::Cancelled, state.now_ms())
        .await?
    {
        return Err(ApiError::illegal_argument(format!(
            "task {} has already ended ({})",
            t.id,
            t.status.as_str()
        )));
    }
    state.runner.wake();
    let t = task_of(&state, &ctx, &id).await?;
    let data = task_answer(&state, &t).await?;
    Ok(envelope::push(&ctx, state.now_ms(), data, &[]))
}

/// A device's report on a vendor-channel notification: it arrived, or the user clicked it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// From the notification's `EPush.report.task_id` (number or numeric string).
    #[schema(value_type = i64)]
    pub task_id: Option<Value>,
    pub device_id: Option<String>,
    /// `ARRIVE` or `CLICK`.
    pub action: Option<String>,
    /// The channel that delivered it: APNS, FCM, HUAWEI, HONOR, XIAOMI, OPPO, VIVO, MEIZU, HARMONY
    /// (or EASEMOB).
    pub provider: Option<String>,
}

const PROVIDERS: &[&str] = &[
    "APNS", "FCM", "HUAWEI", "HONOR", "XIAOMI", "OPPO", "VIVO", "MEIZU", "HARMONY", "EASEMOB",
];

#[utoipa::path(post, path = "/{org}/{app}/push/report", tag = "tasks",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = ReportRequest,
    responses((status = 200, description = "`data` \"success\"; counted as arrived or clicked for the task and channel, once per task, user and action"),
               (status = 401, description = "needs the device's user token"),
               (status = 400, description = "unknown task, bad action or provider")))]
pub async fn report(
    State(state): State<AppState>,
    crate::source_limit::Attempt(attempt): crate::source_limit::Attempt,
    Path((org, name)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    JsonBody(req): JsonBody<ReportRequest>,
) -> ApiResult<Response> {
    let started = std::time::Instant::now();
    let token = crate::extract::bearer(&headers)
        .ok_or(ApiError::unauthorized(crate::error::Unauthorized::Missing))?;
    // A user token works for its own app only: a task of another app is not found here.
    let (app, user) = super::connect::authenticate_user(&state, &org, &name, token).await?;
    attempt.authenticated();
    let task_id = lenient_i64(
        "task_id",
        req.task_id
            .as_ref()
            .ok_or_else(|| ApiError::illegal_argument("task_id must be provided"))?,
    )?;
    openpush_core::DeviceId::parse(req.device_id.as_deref().unwrap_or(""))?;
    let (action, arrived, clicked) = match req.action.as_deref() {
        Some("ARRIVE") => (ReportAction::Arrived, 1, 0),
        Some("CLICK") => (ReportAction::Clicked, 0, 1),
        other => {
            return Err(ApiError::illegal_argument(format!(
                "action must be ARRIVE or CLICK, got {other:?}"
            )))
        }
    };
    let provider = req.provider.as_deref().unwrap_or("").to_ascii_uppercase();
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(ApiError::illegal_argument(format!(
            "provider must be one of {}, got {:?}",
            PROVIDERS.join(", "),
            req.provider.unwrap_or_default()
        )));
    }
    let task = state
        .store
        .task(app.id, task_id)
        .await?
        .ok_or_else(|| ApiError::task_not_found(task_id))?;
    // Only a task that has pushed, to this user as far as the task says, can be reported.
    if task.started.is_none() {
        return Err(ApiError::illegal_argument(format!(
            "push task {task_id} has not started"
        )));
    }
    if task.kind == TaskKind::List && !task.targets.iter().any(|t| t == user.as_str()) {
        return Err(ApiError::illegal_argument(format!(
            "push task {task_id} was not pushed to this user"
        )));
    }
    // Once per task, user and action, whichever vendor channel reports it; remembered for the
    // app's offline retention.
    let keep_until = state
        .now_ms()
        .saturating_add(state.gateway.retention_ms(app.offline_retention_secs));
    let counted = state
        .store
        .record_report(
            task_id,
            &user,
            action,
            &provider.to_ascii_lowercase(),
            keep_until,
        )
        .await?;
    if counted {
        state.gateway.stats.add(
            app.id,
            openpush_gateway::stats::channel_name(&provider),
            openpush_gateway::stats::Counts {
                arrived,
                clicked,
                ..Default::default()
            },
        );
    }
    let body = json!({"timestamp": state.now_ms(), "data": "success", "duration": started.elapsed().as_millis() as i64});
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        body,
    )))
}
