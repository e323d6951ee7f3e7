//! Push certificates ("notifiers"), an OpenPush addition: Easemob manages them in its
//! console. `POST`/`GET`/`DELETE /{org}/{app}/notifiers[/{name}]`. Credentials go in and are
//! never returned or logged.

use axum::extract::{Path, State};
use axum::response::Response;
use openpush_core::notifier::{
    check_base_url, check_credentials, BaseUrlPolicy, Environment, VendorKind,
};
use openpush_core::NotifierName;
use openpush_store::Notifier;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppCtx, JsonBody};
use crate::state::AppState;

/// A notifier to add (or replace, by name). `Debug` never shows the credentials.
#[derive(Deserialize, ToSchema)]
pub struct NotifierRequest {
    /// The `notifier_name` bindings use.
    pub name: Option<String>,
    /// apns, fcm, huawei, honor, xiaomi, oppo, vivo or meizu.
    pub vendor: Option<String>,
    /// production (default) or sandbox.
    pub environment: Option<String>,
    /// apns: key_p8, key_id, team_id, bundle_id; fcm: service_account (the JSON object);
    /// huawei/honor: app_id, client_id, client_secret; xiaomi: app_secret, package; oppo:
    /// app_key, master_secret; vivo: app_id, app_key, app_secret; meizu: app_id, app_secret.
    #[schema(value_type = Object)]
    pub credentials: Option<Value>,
    /// The vendor's base URL, to point at a stand-in or a proxy.
    pub base_url: Option<String>,
}

impl std::fmt::Debug for NotifierRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierRequest")
            .field("name", &self.name)
            .field("vendor", &self.vendor)
            .field("environment", &self.environment)
            .field("credentials", &super::token::redacted(&self.credentials))
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// What the API shows of a notifier: never its credentials.
fn notifier_json(n: &Notifier) -> Value {
    json!({
        "name": n.name,
        "vendor": n.vendor,
        "environment": n.environment,
        "base_url": n.base_url,
        "createdAt": n.created,
    })
}

/// Validates and builds a notifier (shared with `openpush notifier add`); `policy` says which
/// base URL hosts are accepted (the server's `vendors` settings).
pub fn build_notifier(
    app_id: i64,
    req: NotifierRequest,
    now_ms: i64,
    policy: BaseUrlPolicy,
) -> ApiResult<Notifier> {
    let name = NotifierName::parse(req.name.as_deref().unwrap_or(""))?;
    let vendor = VendorKind::parse(req.vendor.as_deref().unwrap_or(""))?;
    let environment = Environment::parse(req.environment.as_deref().unwrap_or("production"))?;
    let credentials = req
        .credentials
        .ok_or_else(|| ApiError::illegal_argument("credentials must be provided"))?;
    check_credentials(vendor, &credentials)?;
    if let Some(u) = &req.base_url {
        check_base_url(u, policy)?;
    }
    Ok(Notifier {
        app_id,
        name: name.into_string(),
        vendor: vendor.as_str().to_owned(),
        environment: environment.as_str().to_owned(),
        credentials,
        base_url: req.base_url,
        created: now_ms,
    })
}

#[utoipa::path(post, path = "/{org}/{app}/notifiers", tag = "notifiers",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = NotifierRequest,
    responses((status = 200, description = "`data`: {name, vendor, environment, base_url, createdAt, replaced}"),
               (status = 400, description = "unknown vendor, missing credential field, bad URL")))]
pub async fn put_notifier(
    State(state): State<AppState>,
    ctx: AppCtx,
    JsonBody(req): JsonBody<NotifierRequest>,
) -> ApiResult<Response> {
    let policy = state.config.vendors.base_url_policy();
    let n = build_notifier(ctx.app.id, req, state.now_ms(), policy)?;
    let replaced = state.store.put_notifier(&n).await?;
    tracing::info!(app = ctx.app.id, notifier = %n.name, vendor = %n.vendor, replaced, "notifier saved");
    let mut data = notifier_json(&n);
    data["replaced"] = json!(replaced);
    Ok(envelope::push(&ctx, state.now_ms(), data, &[]))
}

#[utoipa::path(get, path = "/{org}/{app}/notifiers", tag = "notifiers",
    params(("org" = String, Path), ("app" = String, Path)),
    responses((status = 200, description = "`data`: the app's notifiers, without credentials")))]
pub async fn list_notifiers(State(state): State<AppState>, ctx: AppCtx) -> ApiResult<Response> {
    let all = state.store.notifiers(ctx.app.id).await?;
    let data = Value::Array(all.iter().map(notifier_json).collect());
    Ok(envelope::push(&ctx, state.now_ms(), data, &[]))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "resource_not_found",
        "ResourceNotFoundException",
        format!("notifier not exists of {name}"),
    )
}

#[utoipa::path(get, path = "/{org}/{app}/notifiers/{name}", tag = "notifiers",
    params(("org" = String, Path), ("app" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`data`: the notifier, without credentials"),
               (status = 400, description = "no such notifier")))]
pub async fn get_notifier(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let n = state
        .store
        .notifier(ctx.app.id, &name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(envelope::push(&ctx, state.now_ms(), notifier_json(&n), &[]))
}

#[utoipa::path(delete, path = "/{org}/{app}/notifiers/{name}", tag = "notifiers",
    params(("org" = String, Path), ("app" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "`data` \"success\""),
               (status = 400, description = "no such notifier")))]
pub async fn delete_notifier(
    State(state): State<AppState>,
    ctx: AppCtx,
    Path((_org, _app, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    if !state.store.delete_notifier(ctx.app.id, &name).await? {
        return Err(not_found(&name));
    }
    Ok(envelope::push(&ctx, state.now_ms(), json!("success"), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_credentials() {
        let req = NotifierRequest {
            name: Some("hw".into()),
            vendor: Some("huawei".into()),
            environment: None,
            credentials: Some(
                json!({"app_id": "1", "client_id": "c", "client_secret": "hw-secret-value"}),
            ),
            base_url: Some("https://push-api.cloud.huawei.com".into()),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("hw-secret-value"), "{shown}");
        assert!(!shown.contains("client_secret"), "{shown}");
        assert!(
            shown.contains("huawei") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
