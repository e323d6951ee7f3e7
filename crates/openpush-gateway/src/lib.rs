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
pub use frames::Outbound;
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
    /// Largest frame a device may send, in bytes (at least 1024); a larger one ends its
    /// connection (close 1009). Default: 16384.
    pub max_frame_bytes: usize,
    /// Most delivery ids one ack frame may carry, at least 1 (the device is told in
    /// `welcome`); a frame with more closes the connection (1008). Default: 256.
    pub max_ids_per_frame: usize,
    /// Deliveries a connection remembers having sent (the newest), with their task: an ack of
    /// an online-only delivery, and a click, count only for a delivery remembered here, once.
    /// About 50 bytes each, allocated as deliveries are sent; 0 remembers none (then such acks
    /// and clicks count nothing). Default: 1024.
    pub remembered_deliveries: usize,
    /// Devices a user may have, known (each stored push writes a copy per known device) and
    /// connected at once (per node). A new device over the cap makes the user's least recently
    /// seen one forgotten with its queued copies, and closes the least recently heard-from
    /// connection with 4010. At least 1. Default: 20.
    pub max_devices_per_user: u32,
    /// Seconds between runs of the background upkeep: the expiry purge, and the sweep that
    /// forgets known devices unseen for their app's offline retention (at most 1000 a run).
    /// Default: 60.
    pub upkeep_interval_secs: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            heartbeat_secs: 30,
            send_queue: 256,
            replay_page: 256,
            offline_retention_secs: 7 * 24 * 3600,
            hub_shards: 64,
            max_frame_bytes: 16 * 1024,
            max_ids_per_frame: 256,
            remembered_deliveries: 1024,
            max_devices_per_user: 20,
            upkeep_interval_secs: 60,
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
    /// The idle sweeper and the upkeep task, awaited at shutdown.
    background: TaskTracker,
}

impl Gateway {
    /// Starts the background work (ack batching, idle sweeping, expiry purging). It stops
    /// when [`Gateway::shutdown`] is called.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: GatewayConfig) -> Arc<Self> {
        let shutdown = CancellationToken::new();
        let hub = Arc::new(Hub::new(config.hub_shards, config.max_devices()));
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
            background: TaskTracker::new(),
        });
        gw.background.spawn(sweeper(gw.clone()));
        gw.background.spawn(upkeep(gw.clone()));
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
        self.background.close();
        self.background.wait().await;
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

/// Rows of each kind one purge transaction removes at most: a large backlog of expired
/// notifications is removed in many short transactions, with other writers (pushes, acks) let
/// in between, rather than in one that holds the store's writer for as long as it takes.
pub const PURGE_BATCH: u32 = 10_000;

/// Known devices one sweep looks at, at most.
pub const DEVICE_SWEEP_BATCH: u32 = 1000;

impl GatewayConfig {
    /// The cap on a user's devices, at least 1.
    pub fn max_devices(&self) -> u32 {
        self.max_devices_per_user.max(1)
    }
}

/// The background upkeep: the expiry purge, then a sweep of stale known devices, every
/// `upkeep_interval_secs`.
async fn upkeep(gw: Arc<Gateway>) {
    let mut tick =
        tokio::time::interval(Duration::from_secs(gw.config.upkeep_interval_secs.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match gw.purge_expired().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired notifications purged"),
                    Err(e) => tracing::warn!(error = %e, "purging expired notifications failed"),
                }
                match gw.sweep_devices().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(forgotten = n, "stale devices forgotten"),
                    Err(e) => tracing::warn!(error = %e, "sweeping stale devices failed"),
                }
            }
            () = gw.shutdown.cancelled() => return,
        }
    }
}

impl Gateway {
    /// Removes everything expired from the offline queue (see [`purge_all`]). Returns the
    /// deliveries removed.
    pub async fn purge_expired(&self) -> Result<u64, openpush_store::StoreError> {
        purge_all(&*self.store, &*self.clock, &self.shutdown).await
    }

    /// Forgets up to [`DEVICE_SWEEP_BATCH`] known devices unseen for their app's offline
    /// retention, with their queued copies; one connected to this node is recorded as seen
    /// instead (a connection can outlast the retention). Returns how many were forgotten.
    pub async fn sweep_devices(&self) -> Result<u64, openpush_store::StoreError> {
        let now = self.clock.now_ms();
        let stale = self
            .store
            .stale_devices(now, self.config.offline_retention_secs, DEVICE_SWEEP_BATCH)
            .await?;
        let (seen, forget): (Vec<_>, Vec<_>) = stale.into_iter().partition(|d| {
            self.hub
                .online_devices(d.app_id, d.username.as_str())
                .iter()
                .any(|o| **o == *d.device_id)
        });
        self.store.forget_devices(&forget, &seen, now).await
    }
}

/// Removes everything expired, [`PURGE_BATCH`] rows of a kind per transaction, yielding
/// between transactions; stops early once `stop` is cancelled. Returns the deliveries removed.
async fn purge_all(
    store: &dyn Store,
    clock: &dyn Clock,
    stop: &CancellationToken,
) -> Result<u64, openpush_store::StoreError> {
    let mut removed = 0;
    loop {
        let p = store.purge_expired(clock.now_ms(), PURGE_BATCH).await?;
        removed += p.deliveries;
        if !p.more || stop.is_cancelled() {
            return Ok(removed);
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use openpush_core::{DeviceId, ManualClock, Username};
    use openpush_store::sqlite::SqliteStore;
    use openpush_store::{ChannelMessage, Enqueue, NewApp, PendingRow};

    use super::*;

    #[tokio::test]
    async fn the_purge_removes_a_backlog_larger_than_a_batch_in_several_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let app = store
            .create_app(NewApp {
                uuid: "u".into(),
                org: "o".into(),
                name: "a".into(),
                client_id: "c".into(),
                secret_hash: Vec::new(),
                created: 0,
            })
            .await
            .unwrap();
        let user = Username::parse("u1").unwrap();
        let n = PURGE_BATCH as i64 * 2 + 500;
        let rows = (0..n)
            .map(|i| PendingRow {
                id: 1_000 + i,
                username: user.clone(),
                device_id: "d1".into(),
            })
            .collect();
        store
            .enqueue(&[Enqueue {
                message: ChannelMessage {
                    id: 1,
                    app_id: app.id,
                    task_id: None,
                    push_msg_id: None,
                    body: "{}".into(),
                    sent_at: 0,
                    expires_at: 100,
                },
                rows,
                sends: Vec::new(),
            }])
            .await
            .unwrap();
        let clock = ManualClock::new(1_000);
        let removed = purge_all(&*store, &clock, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(removed, n as u64);
        // Nothing expired is left for the next run.
        let left = store.purge_expired(1_000, PURGE_BATCH).await.unwrap();
        assert_eq!((left.deliveries, left.more), (0, false));
        let d1 = DeviceId::parse("d1").unwrap();
        assert!(store
            .pending_for(app.id, &user, &d1, None, 0, 10)
            .await
            .unwrap()
            .is_empty());
    }
}
