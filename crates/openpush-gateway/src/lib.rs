//! The Easemob channel (docs/device-protocol.md): WebSocket sessions, the sharded connection hub,
//! offline replay and acks, and the [`Bus`] that carries deliveries to the node holding a
//! device's connection.
//!
//! Delivery guarantee: at least once for what is stored in the offline queue (a copy stays
//! until its device acks it or it expires); at most once for online-only pushes (strategy 4
//! and the online leg of strategy 3), which are never stored.

mod acks;
pub mod batch;
mod bus;
pub mod frames;
mod hub;
mod session;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use openpush_core::Clock;
use openpush_store::Store;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use acks::AckBatcher;
pub use bus::{Bus, LocalBus, SendOutcome};
pub use hub::Hub;
pub use session::SessionInfo;

/// Settings of the Easemob channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// Seconds between the heartbeats a device is told to send; a connection silent for
    /// three of them is closed. Default: 30.
    pub heartbeat_secs: u64,
    /// Notifications queued per connection before it counts as too slow (closed with 4008).
    /// Default: 256.
    pub send_queue: usize,
    /// Queued notifications read from the store per replay page. Default: 256.
    pub replay_page: u32,
    /// How long the offline queue keeps a notification, unless an app sets its own. Default:
    /// 604800 (7 days).
    pub offline_retention_secs: i64,
    /// Connection-table shards; a power of two spreads best. Default: 64.
    pub hub_shards: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            heartbeat_secs: 30,
            send_queue: 256,
            replay_page: 256,
            offline_retention_secs: 7 * 24 * 3600,
            hub_shards: 64,
        }
    }
}

/// The channel's shared state: one per node.
#[derive(Debug)]
pub struct Gateway {
    pub hub: Arc<Hub>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: GatewayConfig,
    acks: AckBatcher,
    /// Per-app daily counters (sends, arrivals, clicks), written behind.
    pub stats: Arc<stats::DailyStats>,
    sessions: TaskTracker,
    /// Cancelled when shutdown's grace period is over: sessions still running are dropped.
    abort: CancellationToken,
    /// Cancelled once the sessions have ended; background writers drain and stop on it.
    pub shutdown: CancellationToken,
}

impl Gateway {
    /// Starts the background work (ack batching, idle sweeping, expiry purging). It stops
    /// when [`Gateway::shutdown`] is called.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: GatewayConfig) -> Arc<Self> {
        let shutdown = CancellationToken::new();
        let hub = Arc::new(Hub::new(config.hub_shards));
        let stats = stats::DailyStats::start(store.clone(), clock.clone(), shutdown.clone());
        let acks = AckBatcher::start(store.clone(), stats.clone(), shutdown.clone());
        let gw = Arc::new(Self {
            hub,
            store,
            clock,
            config,
            acks,
            stats,
            sessions: TaskTracker::new(),
            abort: CancellationToken::new(),
            shutdown,
        });
        tokio::spawn(sweeper(gw.clone()));
        tokio::spawn(purger(gw.clone()));
        gw
    }

    /// How long a notification for this app stays queued, in ms.
    pub fn retention_ms(&self, app_retention_secs: Option<i64>) -> i64 {
        app_retention_secs
            .unwrap_or(self.config.offline_retention_secs)
            .saturating_mul(1000)
    }

    /// Closes every connection with 1001 and waits until their sessions have ended and the
    /// last acks are written. A session has `grace` to end (a closing session gives its device
    /// a second to take the close frame); one still running then is dropped with its socket,
    /// whatever its device does.
    pub async fn shutdown(&self, grace: Duration) {
        self.hub.close_all(frames::CLOSE_GOING_AWAY);
        self.sessions.close();
        if tokio::time::timeout(grace, self.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                sessions = self.sessions.len(),
                "device sessions still running after {grace:?}; dropping them"
            );
            self.abort.cancel();
            self.sessions.wait().await;
        }
        self.shutdown.cancel();
        self.acks.flushed().await;
        self.stats.stopped().await;
    }

    /// Closes connections that have been silent for three heartbeats. Runs periodically; also
    /// callable directly.
    pub fn sweep_idle(&self) -> usize {
        let max_idle = i64::try_from(self.config.heartbeat_secs * 3 * 1000).unwrap_or(i64::MAX);
        self.hub.close_idle(self.clock.now_ms() - max_idle)
    }
}

async fn sweeper(gw: Arc<Gateway>) {
    let period = Duration::from_secs(gw.config.heartbeat_secs.clamp(1, 5));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => { gw.sweep_idle(); }
            () = gw.shutdown.cancelled() => return,
        }
    }
}

async fn purger(gw: Arc<Gateway>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match gw.store.purge_expired(gw.clock.now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired notifications purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired notifications failed"),
                }
            }
            () = gw.shutdown.cancelled() => return,
        }
    }
}
