//! Shared state of the HTTP layer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openpush_core::Clock;
use openpush_store::{App, Store};
use parking_lot::RwLock;

use crate::auth::TokenSigner;
use crate::config::Config;
use crate::error::ApiResult;
use crate::hashing::HashPool;
use crate::ratelimit::RateLimiter;
use crate::source_limit::SourceLimiter;

/// Cheap to clone; every handler gets one.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Arc<dyn Store>,
    pub engine: Arc<openpush_engine::Engine>,
    pub runner: Arc<openpush_engine::TaskRunner>,
    pub gateway: Arc<openpush_gateway::Gateway>,
    pub config: Config,
    pub signer: TokenSigner,
    pub clock: Arc<dyn Clock>,
    pub rate: RateLimiter,
    /// Failed and unauthenticated requests per source address.
    pub sources: Arc<SourceLimiter>,
    /// Every password hash and verification runs through it.
    pub hashing: HashPool,
    apps: RwLock<HashMap<(String, String), CachedApp>>,
}

/// An app and when it was read.
type CachedApp = (Arc<App>, Instant);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<openpush_engine::Engine>,
        runner: Arc<openpush_engine::TaskRunner>,
        config: Config,
        signer: TokenSigner,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let rate = RateLimiter::new(config.rate_limits.clone());
        let rl = &config.rate_limits;
        let sources = Arc::new(SourceLimiter::new(
            rl.enabled,
            rl.failed_per_source,
            rl.failed_burst_per_source,
        ));
        let hashing = HashPool::new(
            config.limits.password_hash_concurrency,
            config.limits.password_hash_queue,
        );
        Self(Arc::new(Inner {
            store,
            gateway: engine.gateway.clone(),
            engine,
            runner,
            config,
            signer,
            clock,
            rate,
            sources,
            hashing,
            apps: RwLock::new(HashMap::new()),
        }))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The app named in a URL. Apps are never deleted or renamed, so a found app is cached
    /// and read again after `token.app_cache_secs`: its client secret, the time before which
    /// its tokens are refused and its settings can change under a running server (`openpush
    /// app …` writes the store directly). A miss asks the store, so apps created by `openpush
    /// app create` while the server runs are found on first use.
    pub async fn app(&self, org: &str, name: &str) -> ApiResult<Option<Arc<App>>> {
        let ttl = Duration::from_secs(self.config.token.app_cache_secs);
        if let Some((app, at)) = self.apps.read().get(&(org.to_owned(), name.to_owned())) {
            if at.elapsed() < ttl {
                return Ok(Some(app.clone()));
            }
        }
        self.fresh_app(org, name).await
    }

    /// The app as the store has it now (the cache is refreshed with it). The token grant uses
    /// it, so a rotated client secret works, and the old tokens stop working, at once.
    pub async fn fresh_app(&self, org: &str, name: &str) -> ApiResult<Option<Arc<App>>> {
        let key = (org.to_owned(), name.to_owned());
        let Some(app) = self.store.app_by_name(org, name).await? else {
            self.apps.write().remove(&key);
            return Ok(None);
        };
        let app = Arc::new(app);
        self.apps.write().insert(key, (app.clone(), Instant::now()));
        Ok(Some(app))
    }
}
