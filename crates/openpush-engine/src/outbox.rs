//! The send queue's workers: vendor legs answered for before they were sent (`/push/async`,
//! `/push/single`, task pages) are committed to the store's send queue with the push, and one
//! worker per (app, notifier) drains them at that vendor's pace.
//!
//! A worker claims due legs with a lease, keeps a few claims in flight (so a slow vendor answer
//! does not idle the pipe), sends each claim's legs through the vendor dispatch, and ends them
//! in one store transaction per claim: sent, failed (refused, token dead, retries exhausted,
//! expired), or back in the queue with exponential backoff and jitter. When a user's last leg of
//! a message ends with nothing sent under strategy 0 or 3, the same transaction stores the
//! Easemob channel's copies; the worker then sends them to devices that are connected.
//!
//! A vendor that throttles or is down slows only its own worker. Nothing is lost on a crash:
//! a leg leaves the queue only in the transaction that records how it ended, so a leg in flight
//! at a crash is sent again after its lease (at least once). A restarted node gives its own
//! leases back first, so it resumes at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openpush_core::message::PushMessage;
use openpush_core::notifier::VendorKind;
use openpush_core::Username;
use openpush_gateway::frames::PushFrame;
use openpush_gateway::stats::Counts;
use openpush_gateway::SendOutcome;
use openpush_store::{
    App, Binding, ChannelMessage, QueuedSend, SendCompletion, SendEnd, SendsCompleted,
};
use openpush_vendors::{Delivery, VendorOutcome};
use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::router::{Engine, UNKNOWN_VENDOR};

/// How the send queue is drained.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxConfig {
    /// This node's number: the owner of the leases it takes.
    pub node: i64,
    /// Queued batches (up to 500 legs of one message each) claimed at once by a worker.
    pub claim_batch: u32,
    /// Claims a worker keeps in flight at once.
    pub claims_in_flight: usize,
    /// Messages of one claim sent at once (their vendor calls overlap).
    pub messages_in_flight: usize,
    /// How long a claim is leased; a leg still unanswered after it is claimed again.
    pub lease: Duration,
    /// How long one vendor call may take before its legs are tried again (below the lease).
    pub send_timeout: Duration,
    /// Attempts before a leg the vendor never answered for ends as failed.
    pub max_attempts: u32,
    /// Backoff after the first failed attempt; it doubles per attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A worker with nothing queued stops after this long.
    pub idle_exit: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            node: 0,
            claim_batch: 8,
            claims_in_flight: 8,
            messages_in_flight: 64,
            lease: Duration::from_secs(120),
            send_timeout: Duration::from_secs(90),
            max_attempts: 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            idle_exit: Duration::from_secs(60),
        }
    }
}

/// The workers of one node, and what they are owned by.
#[derive(Debug)]
pub(crate) struct Outbox {
    config: OutboxConfig,
    workers: Mutex<HashMap<(i64, String), Arc<Signal>>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

/// Tells a worker there is new work.
#[derive(Debug, Default)]
struct Signal {
    wake: Notify,
    /// Set by a wake; a worker about to stop for lack of work looks at it under the map's
    /// lock, so no wake is lost between its last claim and its exit.
    dirty: AtomicBool,
}

impl Outbox {
    pub(crate) fn new(config: OutboxConfig) -> Self {
        Self {
            config,
            workers: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }
}

/// The delay before attempt `attempts + 1`: the base doubled per attempt, capped, with ±20 %
/// jitter so that legs failed together do not return together.
pub fn backoff(config: &OutboxConfig, attempts: u32) -> Duration {
    let doubled = config
        .backoff_base
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(30)));
    let capped = doubled.min(config.backoff_max);
    capped.mul_f64(rand::thread_rng().gen_range(0.8..=1.2))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How a leg's delivery ends, or when it is tried again.
fn classify(config: &OutboxConfig, leg: &QueuedSend, outcome: &VendorOutcome, now: i64) -> SendEnd {
    match outcome {
        VendorOutcome::Sent { .. } => SendEnd::Sent,
        VendorOutcome::TokenDead { .. } => SendEnd::Failed {
            reason: "bad device token".into(),
            unknown: false,
        },
        VendorOutcome::Rejected { reason, .. } => SendEnd::Failed {
            reason: reason.clone(),
            unknown: false,
        },
        VendorOutcome::Error { reason } => retry_or_give_up(config, leg, reason, now),
    }
}

fn retry_or_give_up(config: &OutboxConfig, leg: &QueuedSend, reason: &str, now: i64) -> SendEnd {
    let due_at = now.saturating_add(ms(backoff(config, leg.attempts)));
    if leg.attempts >= config.max_attempts || due_at >= leg.message.expires_at {
        SendEnd::Failed {
            reason: format!("{reason} (gave up after {} attempts)", leg.attempts),
            unknown: true,
        }
    } else {
        SendEnd::Retry {
            due_at,
            reason: reason.to_owned(),
        }
    }
}

impl Engine {
    /// Starts the send queue: gives this node's leases back (a restart resumes at once) and
    /// starts a worker for every (app, notifier) with queued legs.
    pub async fn start_outbox(self: &Arc<Self>) -> Result<(), openpush_store::StoreError> {
        let released = self
            .store
            .release_send_leases(self.outbox.config.node)
            .await?;
        if released > 0 {
            tracing::info!(
                legs = released,
                "vendor legs in flight at the last stop are queued again"
            );
        }
        for (app_id, notifier) in self.store.send_queues().await? {
            self.wake_sender(app_id, &notifier);
        }
        Ok(())
    }

    /// Stops the workers: no new claims; vendor calls under way finish and their ends are
    /// written (a call still running after `grace` is dropped; its legs are sent again after
    /// the next start). Returns once every worker has stopped.
    pub async fn stop_outbox(&self, grace: Duration) {
        self.outbox.stop.cancel();
        self.outbox.tasks.close();
        if tokio::time::timeout(grace, self.outbox.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "vendor sends still under way after {grace:?}; they resume at the next start"
            );
        }
    }

    /// Makes sure a worker drains (app, notifier), and tells it there is work.
    pub(crate) fn wake_sender(self: &Arc<Self>, app_id: i64, notifier: &str) {
        let mut workers = self.outbox.workers.lock();
        let key = (app_id, notifier.to_owned());
        if let Some(signal) = workers.get(&key) {
            signal.dirty.store(true, Ordering::SeqCst);
            signal.wake.notify_one();
            return;
        }
        if self.outbox.stop.is_cancelled() {
            return; // stopping: the legs stay queued for the next start
        }
        let signal = Arc::new(Signal::default());
        workers.insert(key, signal.clone());
        self.outbox
            .tasks
            .spawn(self.clone().drain(app_id, notifier.to_owned(), signal));
    }

    /// One (app, notifier)'s worker.
    async fn drain(self: Arc<Self>, app_id: i64, notifier: String, signal: Arc<Signal>) {
        let config = self.outbox.config.clone();
        let stop = self.outbox.stop.clone();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut app: Option<Arc<App>> = None;
        let mut failures: u32 = 0;
        loop {
            signal.dirty.store(false, Ordering::SeqCst);
            let mut wait = config.idle_exit;
            while in_flight.len() < config.claims_in_flight && !stop.is_cancelled() {
                let app = match &app {
                    Some(a) => a.clone(),
                    None => match self.store.app_by_id(app_id).await {
                        Ok(Some(a)) => app.insert(Arc::new(a)).clone(),
                        Ok(None) => {
                            tracing::error!(app = app_id, %notifier, "queued vendor legs of an app that does not exist");
                            self.forget_worker(app_id, &notifier);
                            return;
                        }
                        Err(e) => {
                            failures += 1;
                            tracing::warn!(app = app_id, %notifier, error = %e, "reading the app failed");
                            wait = backoff(&config, failures);
                            break;
                        }
                    },
                };
                let now = self.clock.now_ms();
                let claimed = self
                    .store
                    .claim_sends(
                        app_id,
                        &notifier,
                        now,
                        now.saturating_add(ms(config.lease)),
                        config.node,
                        config.claim_batch,
                    )
                    .await;
                match claimed {
                    Ok(legs) if legs.is_empty() => {
                        if in_flight.is_empty() {
                            match self.store.next_send_due(app_id, &notifier).await {
                                Ok(Some(due)) => {
                                    let until = u64::try_from(due.saturating_sub(now)).unwrap_or(0);
                                    wait = Duration::from_millis(until.clamp(20, 60_000));
                                }
                                Ok(None) => wait = config.idle_exit,
                                Err(e) => {
                                    tracing::warn!(app = app_id, %notifier, error = %e, "reading the send queue failed");
                                    wait = Duration::from_secs(1);
                                }
                            }
                        }
                        break;
                    }
                    Ok(legs) => {
                        failures = 0;
                        let mut batches: Vec<i64> = legs.iter().map(|l| l.batch).collect();
                        batches.dedup();
                        let drained = batches.len() < config.claim_batch as usize;
                        in_flight.spawn(self.clone().send_claim(app, legs));
                        if drained {
                            // Fewer batches were due than asked for: nothing more is due now.
                            break;
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(app = app_id, %notifier, error = %e, "claiming vendor legs failed");
                        wait = backoff(&config, failures);
                        break;
                    }
                }
            }
            let idle = in_flight.is_empty();
            tokio::select! {
                Some(_) = in_flight.join_next(), if !idle => {}
                () = signal.wake.notified() => {}
                () = tokio::time::sleep(wait) => {
                    if idle && wait >= config.idle_exit && self.try_retire(app_id, &notifier, &signal) {
                        return;
                    }
                }
                () = stop.cancelled() => {}
            }
            if stop.is_cancelled() {
                // Claims under way finish and record how they ended.
                while in_flight.join_next().await.is_some() {}
                self.forget_worker(app_id, &notifier);
                return;
            }
        }
    }

    /// A worker with nothing to do stops, unless it was woken in the meantime.
    fn try_retire(&self, app_id: i64, notifier: &str, signal: &Signal) -> bool {
        let mut workers = self.outbox.workers.lock();
        if signal.dirty.load(Ordering::SeqCst) {
            return false;
        }
        workers.remove(&(app_id, notifier.to_owned()));
        true
    }

    fn forget_worker(&self, app_id: i64, notifier: &str) {
        self.outbox
            .workers
            .lock()
            .remove(&(app_id, notifier.to_owned()));
    }

    /// Sends one claim's legs (its messages at once, up to `messages_in_flight`), then records
    /// how each ended.
    async fn send_claim(self: Arc<Self>, app: Arc<App>, legs: Vec<QueuedSend>) {
        let config = &self.outbox.config;
        let now = self.clock.now_ms();
        let mut done: Vec<SendCompletion> = Vec::with_capacity(legs.len());
        let mut by_message: HashMap<i64, Vec<QueuedSend>> = HashMap::new();
        for leg in legs {
            if leg.message.expires_at <= now {
                done.push(SendCompletion {
                    id: leg.id,
                    batch: leg.batch,
                    channel: UNKNOWN_VENDOR.into(),
                    end: SendEnd::Failed {
                        reason: "expired before the vendor accepted it".into(),
                        unknown: true,
                    },
                });
            } else {
                by_message.entry(leg.message.id).or_default().push(leg);
            }
        }
        let sends = by_message
            .into_values()
            .map(|legs| self.send_message(&app, legs));
        let mut sent =
            futures_util::stream::iter(sends).buffer_unordered(config.messages_in_flight.max(1));
        while let Some(ends) = sent.next().await {
            done.extend(ends);
        }
        drop(sent);
        self.record(&app, done).await;
    }

    /// One message's legs through the vendor dispatch.
    async fn send_message(&self, app: &App, legs: Vec<QueuedSend>) -> Vec<SendCompletion> {
        let config = &self.outbox.config;
        let message = &legs[0].message;
        let parsed = serde_json::from_str(&message.body)
            .map_err(|e| e.to_string())
            .and_then(|v| PushMessage::parse(v).map_err(|e| e.to_string()));
        let outcomes: Vec<Delivery> = match parsed {
            // A stored message that no longer parses can never be sent.
            Err(e) => legs
                .iter()
                .map(|_| Delivery {
                    vendor: None,
                    outcome: VendorOutcome::Rejected {
                        raw: serde_json::Value::Null,
                        reason: format!("the stored message cannot be read: {e}"),
                    },
                })
                .collect(),
            Ok(push) => {
                let bindings: Vec<Binding> = legs
                    .iter()
                    .map(|l| Binding {
                        username: l.username.clone(),
                        device_id: l.device_id.clone(),
                        notifier_name: l.notifier.clone(),
                        device_token: l.device_token.clone(),
                        updated: 0,
                    })
                    .collect();
                match tokio::time::timeout(
                    config.send_timeout,
                    self.vendors.send(app, &bindings, &push, message.task_id),
                )
                .await
                {
                    Ok(d) if d.len() == legs.len() => d,
                    Ok(d) => {
                        tracing::error!(
                            expected = legs.len(),
                            got = d.len(),
                            "the vendor dispatch answered for the wrong number of legs"
                        );
                        error_for_all(&legs, "the vendor dispatch answered incompletely")
                    }
                    Err(_) => error_for_all(&legs, "the vendor did not answer in time"),
                }
            }
        };
        let now = self.clock.now_ms();
        legs.iter()
            .zip(outcomes)
            .map(|(leg, d)| SendCompletion {
                id: leg.id,
                batch: leg.batch,
                channel: d
                    .vendor
                    .map_or(UNKNOWN_VENDOR, VendorKind::as_str)
                    .to_owned(),
                end: classify(config, leg, &d.outcome, now),
            })
            .collect()
    }

    /// Writes how a claim's legs ended (retrying the write a few times: until it lands the legs
    /// stay leased, and after the lease they would be sent again), counts them, and sends the
    /// Easemob channel's fallback copies to connected devices.
    async fn record(&self, app: &App, done: Vec<SendCompletion>) {
        let next_id = || self.next_id();
        let mut written: Option<SendsCompleted> = None;
        for attempt in 1..=5u32 {
            match self
                .store
                .complete_sends(&done, self.clock.now_ms(), &next_id)
                .await
            {
                Ok(r) => {
                    written = Some(r);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, "recording vendor results failed");
                    tokio::time::sleep(Duration::from_millis(200) * attempt).await;
                }
            }
        }
        let Some(r) = written else {
            tracing::error!(
                legs = done.len(),
                "vendor results not recorded; the legs are sent again after their lease"
            );
            return;
        };
        let mut per: HashMap<&str, Counts> = HashMap::new();
        for c in &done {
            let n = per.entry(c.channel.as_str()).or_default();
            match &c.end {
                SendEnd::Sent => n.success += 1,
                SendEnd::Failed { unknown: false, .. } => n.fail += 1,
                SendEnd::Failed { unknown: true, .. } => n.unknown += 1,
                SendEnd::Retry { .. } => {}
            }
        }
        let fell_back = r.groups.iter().filter(|g| g.fell_back).count() as i64;
        if fell_back > 0 {
            per.entry("easemob").or_default().success += fell_back;
        }
        let per: HashMap<&'static str, Counts> = per
            .into_iter()
            .map(|(k, v)| (openpush_gateway::stats::channel_name(k), v))
            .collect();
        self.gateway.stats.add_many(app.id, per);
        self.send_fallbacks(app, &r.fallbacks).await;
    }

    /// Sends the fallback copies whose device is connected (the others are replayed when it
    /// connects), with one presence lookup for all their users.
    async fn send_fallbacks(&self, app: &App, copies: &[(Username, String, i64, ChannelMessage)]) {
        let mut users: Vec<Username> = copies
            .iter()
            .filter(|(_, d, _, _)| !d.is_empty())
            .map(|(u, _, _, _)| u.clone())
            .collect();
        if users.is_empty() {
            return;
        }
        users.sort();
        users.dedup();
        let online: HashMap<Username, Vec<Arc<str>>> = users
            .iter()
            .cloned()
            .zip(self.bus.online(app.id, &users).await)
            .collect();
        for (user, device, id, m) in copies {
            let Some(conn) = online
                .get(user)
                .and_then(|ds| ds.iter().find(|d| &***d == device.as_str()))
            else {
                continue;
            };
            let frame = PushFrame {
                id: *id,
                stored: true,
                task_id: m.task_id,
                push_msg_id: m.push_msg_id,
                message_json: &m.body,
                sent_at: m.sent_at,
                expires_at: m.expires_at,
            }
            .outbound();
            if self.bus.send(app.id, user, conn, frame).await != SendOutcome::Queued {
                tracing::debug!(%device, "fallback copy kept for replay");
            }
        }
    }
}

fn error_for_all(legs: &[QueuedSend], reason: &str) -> Vec<Delivery> {
    legs.iter()
        .map(|_| Delivery {
            vendor: None,
            outcome: VendorOutcome::Error {
                reason: reason.to_owned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let c = OutboxConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..OutboxConfig::default()
        };
        for (attempts, want) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (6, 32.0),
            (7, 60.0),
            (40, 60.0),
        ] {
            let got = backoff(&c, attempts).as_secs_f64();
            assert!(
                (want * 0.8..=want * 1.2).contains(&got),
                "attempt {attempts}: {got}s, want about {want}s"
            );
        }
    }
}
