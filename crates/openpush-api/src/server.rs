//! Router assembly and the server lifecycle: `Server::bind` binds (port 0 works) and reports
//! its address; `run` serves until the shutdown future completes, then drains in-flight
//! requests and closes the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use openpush_core::{Clock, IdGenerator, SystemClock};
use openpush_engine::{Engine, RunnerConfig, TaskRunner};
use openpush_gateway::{Gateway, LocalBus};
use openpush_store::sqlite::SqliteStore;
use openpush_store::Store;
use openpush_vendors::NotifierDispatch;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::TokenSigner;
use crate::config::Config;
use crate::conn::{
    self, effective_max_connections, effective_max_per_source, open_file_limit, ConnTable, Timeouts,
};
use crate::error::ApiError;
use crate::ratelimit::RateGroup;
use crate::routes::{
    binding, connect, labels, notifiers, push, settings, stats, tasks, token, users,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenPush",
        description = "Self-hosted instant push with the Easemob (环信) Instant Push REST API. \
                       App-level calls take `Authorization: Bearer <app token>` from `POST /{org}/{app}/token`."
    ),
    tags(
        (name = "auth", description = "tokens"),
        (name = "users", description = "IM users"),
        (name = "push settings", description = "bindings, nicknames, do-not-disturb, language"),
        (name = "labels", description = "push labels and their members"),
        (name = "push", description = "pushes to users and the device connection"),
        (name = "tasks", description = "notifications, push tasks, statistics"),
        (name = "notifiers", description = "push certificates (an OpenPush addition)"),
        (name = "statistics", description = "per app and day: Easemob's offline-push results and every channel's counters"),
    )
)]
struct ApiDoc;

/// Every error axum produces on its own (a path it could not decode, say) gets the Easemob
/// envelope too. Responses that are already JSON pass untouched, except that a 429 without
/// `Retry-After` gets one.
async fn envelope_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let mut res = next.run(req).await;
    let status = res.status();
    if status == StatusCode::TOO_MANY_REQUESTS && !res.headers().contains_key(header::RETRY_AFTER) {
        // Every 429 says when to come back (ApiError's own 429s already do).
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(1u64));
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::method_not_allowed(method.as_str()).into_response()
        }
        StatusCode::NOT_FOUND => ApiError::url_invalid().into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "request_entity_too_large",
            "RequestEntityTooLargeException",
            "request body is too large",
        )
        .into_response(),
        s if s.is_server_error() => {
            tracing::error!(%status, "unexpected error response");
            internal_error().into_response()
        }
        _ => ApiError::illegal_argument(status.canonical_reason().unwrap_or("bad request"))
            .into_response(),
    }
}

fn internal_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_server_error",
        "InternalServerErrorException",
        "internal server error",
    )
}

/// The endpoints, grouped by the rate limit that applies to them.
fn api_groups() -> Vec<(RateGroup, OpenApiRouter<AppState>)> {
    let auth = OpenApiRouter::new().routes(routes!(token::token));
    let users = OpenApiRouter::new()
        .routes(routes!(users::create_users, users::list_users))
        .routes(routes!(
            users::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(users::set_password))
        .routes(routes!(users::revoke_tokens));
    let binding = OpenApiRouter::new().routes(routes!(binding::put_binding, binding::get_binding));
    let user_settings = OpenApiRouter::new()
        .routes(routes!(settings::put_push_nickname))
        .routes(routes!(
            settings::put_notification,
            settings::get_notification
        ))
        .routes(routes!(settings::put_language, settings::get_language));
    let label = OpenApiRouter::new()
        .routes(routes!(labels::create_label, labels::list_labels))
        .routes(routes!(labels::get_label, labels::delete_label));
    let label_user = OpenApiRouter::new()
        .routes(routes!(
            labels::add_label_users,
            labels::remove_label_users,
            labels::list_label_users
        ))
        .routes(routes!(labels::get_label_user));
    let push_sync = OpenApiRouter::new().routes(routes!(push::push_sync));
    let push_async = OpenApiRouter::new().routes(routes!(push::push_async));
    let push_single = OpenApiRouter::new().routes(routes!(push::push_single));
    let push_task = OpenApiRouter::new().routes(routes!(tasks::create_broadcast));
    let push_task_broadcast =
        OpenApiRouter::new().routes(routes!(tasks::create_broadcast_from_message));
    let push_message = OpenApiRouter::new().routes(routes!(tasks::create_message));
    let push_message_query =
        OpenApiRouter::new().routes(routes!(tasks::get_message, tasks::post_message));
    let push_list = OpenApiRouter::new().routes(routes!(tasks::create_list));
    let push_list_label = OpenApiRouter::new().routes(routes!(tasks::create_label));
    let notifier_routes = OpenApiRouter::new()
        .routes(routes!(notifiers::put_notifier, notifiers::list_notifiers))
        .routes(routes!(notifiers::get_notifier, notifiers::delete_notifier));
    let task_queries = OpenApiRouter::new()
        .routes(routes!(tasks::list_tasks))
        .routes(routes!(tasks::get_task, tasks::cancel_task));
    let statistics = OpenApiRouter::new()
        .routes(routes!(stats::offline_push))
        .routes(routes!(stats::daily));
    // The device connection is limited by authentication and the connection itself.
    let channel = OpenApiRouter::new()
        .routes(routes!(connect::connect))
        .routes(routes!(tasks::report));
    vec![
        (RateGroup::Token, auth),
        (RateGroup::PushSync, push_sync),
        (RateGroup::PushAsync, push_async),
        (RateGroup::PushSingle, push_single),
        (RateGroup::PushTask, push_task),
        (RateGroup::PushTaskBroadcast, push_task_broadcast),
        (RateGroup::PushMessage, push_message),
        (RateGroup::PushMessageQuery, push_message_query),
        (RateGroup::PushList, push_list),
        (RateGroup::PushListLabel, push_list_label),
        (RateGroup::Tasks, task_queries),
        (RateGroup::Notifiers, notifier_routes),
        (RateGroup::Stats, statistics),
        (RateGroup::Unlimited, channel),
        (RateGroup::Users, users),
        (RateGroup::Binding, binding),
        (RateGroup::UserSettings, user_settings),
        (RateGroup::Label, label),
        (RateGroup::LabelUser, label_user),
    ]
}

/// The OpenAPI document of every endpoint, as served at `/openapi.json`: generated from the
/// handlers' annotations and finished by [`crate::apidoc`].
pub fn openapi() -> serde_json::Value {
    let generated = api_groups()
        .into_iter()
        .fold(
            OpenApiRouter::with_openapi(ApiDoc::openapi()),
            |acc, (_, r)| acc.merge(r),
        )
        .split_for_parts()
        .1;
    crate::apidoc::finish(generated, &crate::config::Limits::default())
}

pub fn router(state: AppState) -> Router {
    let (router, doc) = api_groups()
        .into_iter()
        .fold(
            OpenApiRouter::with_openapi(ApiDoc::openapi()),
            // The group rides in the request's extensions; whatever authenticates the request
            // (AppCtx, the token grant) spends the app's rate for it then.
            |acc, (group, r)| acc.merge(r.route_layer(axum::Extension(group))),
        )
        .split_for_parts();
    let doc = Arc::new(crate::apidoc::finish(doc, &state.config.limits));
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::url_invalid() })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::method_not_allowed(method.as_str())
        })
        .layer(middleware::from_fn(envelope_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::source_limit::limit_failures,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            internal_error().into_response()
        }))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A bound, not yet serving, OpenPush server.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    store: Arc<dyn Store>,
    conns: Arc<ConnTable>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("opening the store")]
    Store(#[from] openpush_store::StoreError),
    #[error("the token signing key: {0}")]
    SigningKey(String),
    #[error("binding {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl Server {
    /// Opens the store, loads (or creates) the token key, and binds the listener.
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        Self::bind_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Server::bind`], with a clock of the caller's (tests use a manual one).
    pub async fn bind_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        // A key the operator configured is checked before anything is opened.
        let configured = config
            .token
            .signing_key()
            .map_err(ServerError::SigningKey)?;
        let previous = config
            .token
            .previous_signing_key()
            .map_err(ServerError::SigningKey)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir).await?);
        let key = match configured {
            Some(key) => key,
            None => store
                .meta_get_or_insert("token_signing_key", &TokenSigner::random_key())
                .await?
                .try_into()
                .map_err(|_| {
                    ServerError::SigningKey("the stored key is damaged (expected 32 bytes)".into())
                })?,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let gateway = Gateway::start(store.clone(), clock.clone(), config.gateway.clone());
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::new(LocalBus(gateway.hub.clone())),
            gateway,
            Arc::new(NotifierDispatch::new(store.clone())),
            clock.clone(),
            IdGenerator::new(0),
            config.send_queue.outbox(0),
        ));
        engine.start_outbox().await?;
        let runner = TaskRunner::start(
            engine.clone(),
            RunnerConfig {
                max_running: config.limits.tasks_running_max,
                page_size: config.limits.task_page_size,
                poll: Duration::from_millis(500),
            },
        );
        let max_connections =
            effective_max_connections(config.http.max_connections, open_file_limit());
        let per_source =
            effective_max_per_source(config.http.max_connections_per_source, max_connections);
        let conns = ConnTable::new(max_connections, per_source);
        let state = AppState::new(
            store.clone(),
            engine,
            runner,
            config,
            TokenSigner::with_previous(key, previous),
            clock,
        );
        Ok(Self {
            listener,
            state,
            store,
            conns,
        })
    }

    /// The store the server runs on (tests and admin tools use it beside the server).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The cap on open connections in use: `http.max_connections`, or what the open-file
    /// limit allows if that is less (or if it is 0).
    pub fn max_connections(&self) -> usize {
        self.conns.max_total()
    }

    /// Serves until `shutdown` completes; then stops accepting, tells devices to reconnect
    /// elsewhere, gives in-flight requests, running tasks and vendor calls what is left of
    /// `shutdown_grace_secs` to finish (connections still open then are dropped), and closes
    /// the store. Connections are served by
    /// [`crate::conn`]: header and keep-alive timeouts, caps per source and in total.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = &self.state.config;
        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let timeouts = Timeouts {
            header_read: Duration::from_millis(config.http.header_read_timeout_ms),
            keep_alive: Duration::from_millis(config.http.keep_alive_timeout_ms),
        };
        let app = router(self.state.clone());
        // Every connection task is tracked here and awaited before the store closes.
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let force = CancellationToken::new();
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => match self.conns.admit(peer.ip()) {
                    Some(permit) => {
                        tracker.spawn(conn::serve_connection(
                            stream,
                            peer,
                            permit,
                            app.clone(),
                            timeouts,
                            stop.clone(),
                            force.clone(),
                        ));
                    }
                    None => {
                        // Over a cap: closed at once, so the listen queue keeps moving.
                        tracing::debug!(%peer, open = self.conns.open(), "connection refused: over the connection cap");
                        drop(stream);
                    }
                },
                Err(e) if conn::is_connection_error(&e) => {}
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        drop(self.listener);
        // Everything below shares one grace period, so the whole stop takes at most about
        // `shutdown_grace_secs`.
        let deadline = tokio::time::Instant::now() + grace;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        // Devices are told to reconnect elsewhere (1001) while HTTP requests drain.
        self.state
            .gateway
            .hub
            .close_all(openpush_gateway::frames::CLOSE_GOING_AWAY);
        stop.cancel();
        tracker.close();
        if tokio::time::timeout(left(), tracker.wait()).await.is_err() {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing");
            force.cancel();
            tracker.wait().await;
        }
        // Then the background work, in what is left of the grace period: tasks stop at their
        // next page (checkpointed) while vendor calls under way finish and are recorded; then
        // the device connections close and the last writes land before the store closes.
        tokio::join!(
            self.state.runner.stop(left()),
            self.state.engine.stop_outbox(left())
        );
        self.state.gateway.shutdown(left()).await;
        self.state.engine.stopped().await;
        self.store.close().await;
        tracing::info!("store closed");
        Ok(())
    }
}
