//! The strategy router.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use openpush_core::message::PushMessage;
use openpush_core::notifier::VendorKind;
use openpush_core::{Clock, IdGenerator, Strategy, Username};
use openpush_gateway::batch::Batcher;
use openpush_gateway::frames::PushFrame;
use openpush_gateway::stats::Counts;
use openpush_gateway::{Bus, Gateway, SendOutcome};
use openpush_store::{
    App, Binding, ChannelMessage, Enqueue, PendingRow, SendRow, Store, StoreError,
};
use openpush_vendors::{vendor_request_id, VendorDispatch, VendorOutcome};

use crate::outbox::OutboxConfig;
use serde_json::{json, Value};

/// Whether the caller waits for the outcome of every channel (`/push/sync`) or only for the
/// push to be safely accepted (`/push/async`, `/push/single`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Wait,
    Accept,
}

/// A vendor leg's `data` in the shape Easemob's `/push/sync` answers: `code`, `message`, and
/// `data` with `sendResult`, `expireTokens` (dead, now unbound), `failTokens` (refused),
/// `requestId` (the notifier name and the vendor's id) and `msgCode`; the vendor's own answer is
/// kept under `data.vendor`.
fn vendor_result(b: &Binding, vendor: Option<VendorKind>, o: &VendorOutcome, raw: &Value) -> Value {
    let (sent, expire, fail, message) = match o {
        VendorOutcome::Sent { .. } => (true, vec![], vec![], "Success".to_owned()),
        VendorOutcome::TokenDead { .. } => (
            false,
            vec![b.device_token.clone()],
            vec![],
            "bad device token".to_owned(),
        ),
        VendorOutcome::Rejected { reason, .. } => {
            (false, vec![], vec![b.device_token.clone()], reason.clone())
        }
        VendorOutcome::Error { reason } => (false, vec![], vec![], reason.clone()),
    };
    let vendor_id = vendor
        .and_then(|v| vendor_request_id(v, raw))
        .unwrap_or_default();
    let code = if sent { 200 } else { 400 };
    json!({
        "code": code,
        "message": message,
        "data": {
            "sendResult": sent,
            "expireTokens": expire,
            "failTokens": fail,
            "requestId": format!("{}-{}", b.notifier_name, vendor_id),
            "msgCode": code,
            "vendor": raw,
        },
    })
}

/// Where a push comes from: a task and/or a stored notification. Devices see both ids in the
/// `push` frame, for reports and statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    pub task_id: Option<i64>,
    pub push_msg_id: Option<i64>,
}

/// Easemob's per-target status, as `/push/sync` and `/push/single` answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStatus {
    Success,
    Fail,
    Error,
    AsyncSuccess,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
            Self::AsyncSuccess => "ASYNC_SUCCESS",
        }
    }
}

/// The outcome for one user: one entry per channel leg that ran (`/push/sync` answers an array).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    pub username: Username,
    pub legs: Vec<Leg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Leg {
    /// `easemob`, the vendor's name (`apns`, `fcm`, `huawei`, …), or `vendor` when the binding's
    /// notifier could not be used (or, for an async push, before the vendor answered).
    pub channel: &'static str,
    pub status: TargetStatus,
    pub desc: String,
    pub data: Value,
    /// In the send queue: its vendor has not answered yet. It is counted (in the app's daily
    /// statistics and its task's counters) when it ends there.
    pub queued: bool,
}

impl TargetResult {
    /// The status that sums the legs up: success if any leg succeeded.
    pub fn status(&self) -> TargetStatus {
        let s: Vec<_> = self.legs.iter().map(|l| l.status).collect();
        for want in [
            TargetStatus::AsyncSuccess,
            TargetStatus::Success,
            TargetStatus::Error,
        ] {
            if s.contains(&want) {
                return want;
            }
        }
        TargetStatus::Fail
    }

    pub fn desc(&self) -> &str {
        let st = self.status();
        self.legs
            .iter()
            .find(|l| l.status == st)
            .map_or("", |l| l.desc.as_str())
    }
}

/// The channel of a vendor leg whose vendor is not known.
pub const UNKNOWN_VENDOR: &str = "vendor";
const EASEMOB: &str = "easemob";

fn leg(channel: &'static str, status: TargetStatus, desc: impl Into<String>, data: Value) -> Leg {
    Leg {
        channel,
        status,
        desc: desc.into(),
        data,
        queued: false,
    }
}

fn easemob_leg(status: TargetStatus, c: &ChannelLeg) -> Leg {
    leg(
        EASEMOB,
        status,
        "success",
        json!({"channel": "easemob", "online": c.online, "stored": c.stored}),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the offline queue or a target lookup failed: {0}")]
    Queue(Arc<str>),
}

#[derive(Debug)]
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub gateway: Arc<Gateway>,
    pub vendors: Arc<dyn VendorDispatch>,
    pub clock: Arc<dyn Clock>,
    pub ids: IdGenerator,
    /// Offline-queue writes of concurrent pushes, committed together.
    enqueue: Batcher<Enqueue>,
    /// Target lookups of concurrent pushes, read together.
    resolver: Batcher<Lookup, Resolved>,
    /// The send queue's workers, one per (app, notifier) with queued legs.
    pub(crate) outbox: crate::outbox::Outbox,
}

/// Which users exist, and (if asked) their known Easemob-channel devices.
type Lookup = (i64, Vec<Username>, bool);
type Resolved = (Arc<HashSet<Username>>, Arc<HashMap<Username, Vec<String>>>);

/// Pushes whose target lookups share one pair of queries, at most.
const RESOLVE_BATCH: usize = 64;

/// One pair of queries (users, devices) per app for a whole batch of lookups. A user's known
/// devices are its `max_devices` most recently seen (the store keeps no more; this also holds
/// for users known before the cap existed).
async fn resolve_batch(
    store: &dyn Store,
    items: Vec<Lookup>,
    max_devices: usize,
) -> Result<Vec<Resolved>, Arc<str>> {
    let err = |e: StoreError| Arc::<str>::from(e.to_string());
    let mut apps: HashMap<i64, (Vec<Username>, bool)> = HashMap::new();
    for (app, users, devices) in &items {
        let e = apps.entry(*app).or_default();
        e.0.extend(users.iter().cloned());
        e.1 |= *devices;
    }
    let mut found: HashMap<i64, Resolved> = HashMap::new();
    for (app, (mut users, want_devices)) in apps {
        users.sort();
        users.dedup();
        let existing: HashSet<Username> = store
            .existing_users(app, &users)
            .await
            .map_err(err)?
            .into_iter()
            .collect();
        let mut devices: HashMap<Username, Vec<String>> = HashMap::new();
        if want_devices {
            for (u, d) in store.devices_of(app, &users).await.map_err(err)? {
                let known = devices.entry(u).or_default();
                if known.len() < max_devices {
                    known.push(d);
                }
            }
        }
        found.insert(app, (Arc::new(existing), Arc::new(devices)));
    }
    // Each caller sees the whole app's answer; it only looks up its own targets in it.
    Ok(items.iter().map(|(app, _, _)| found[app].clone()).collect())
}

/// Pushes whose offline-queue writes share one transaction, at most.
const ENQUEUE_BATCH: usize = 64;

/// Easemob-channel copies planned for some users: the rows to store, and the copies that go
/// out at once to a connected device (user, connection, delivery id).
struct PlannedChannel {
    users: Vec<Username>,
    rows: Vec<PendingRow>,
    live: Vec<(Username, Arc<str>, i64)>,
}

/// What the Easemob channel did for one user.
struct ChannelLeg {
    online: usize,
    stored: usize,
}

/// One prepared message for the Easemob channel: its JSON once, its times.
struct Prepared {
    json: String,
    sent_at: i64,
    expires_at: i64,
    task_id: Option<i64>,
    push_msg_id: Option<i64>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        gateway: Arc<Gateway>,
        vendors: Arc<dyn VendorDispatch>,
        clock: Arc<dyn Clock>,
        ids: IdGenerator,
        outbox: OutboxConfig,
    ) -> Self {
        let writer = store.clone();
        let enqueue = Batcher::start(
            ENQUEUE_BATCH,
            gateway.shutdown.clone(),
            move |batch: Vec<Enqueue>| {
                let store = writer.clone();
                async move {
                    store.enqueue(&batch).await.map_err(|e| {
                        tracing::error!(error = %e, "writing the offline queue failed");
                        Arc::<str>::from(e.to_string())
                    })
                }
            },
        );
        let reader = store.clone();
        let max_devices = usize::try_from(gateway.config.max_devices()).unwrap_or(usize::MAX);
        let resolver = Batcher::start_with(
            RESOLVE_BATCH,
            gateway.shutdown.clone(),
            move |items: Vec<Lookup>| {
                let store = reader.clone();
                async move { resolve_batch(&*store, items, max_devices).await }
            },
        );
        Self {
            store,
            bus,
            gateway,
            vendors,
            clock,
            ids,
            enqueue,
            resolver,
            outbox: crate::outbox::Outbox::new(outbox),
        }
    }

    /// Resolves once the offline-queue writer has written everything and stopped (after the
    /// gateway's shutdown).
    pub async fn stopped(&self) {
        self.enqueue.stopped().await;
    }

    /// Pushes `message` to `targets` (already validated, at most a page) by `strategy`.
    /// Returns one result per target, in order; unknown users get `FAIL appUser not exists`.
    pub async fn push_users(
        self: &Arc<Self>,
        app: &App,
        targets: &[Username],
        strategy: Strategy,
        message: &PushMessage,
        mode: Mode,
        origin: Origin,
    ) -> Result<Vec<TargetResult>, EngineError> {
        // Strategies that may use the Easemob channel's queue need the known devices too.
        let needs_devices = !matches!(strategy, Strategy::Vendor | Strategy::OnlineOnly);
        let (existing, devices) = self
            .resolver
            .submit((app.id, targets.to_vec(), needs_devices))
            .await
            .map_err(EngineError::Queue)?;
        let mut users: Vec<Username> = Vec::new();
        let mut seen = HashSet::new();
        for t in targets {
            if existing.contains(t) && seen.insert(t) {
                users.push(t.clone());
            }
        }
        let mut results: HashMap<Username, Vec<Leg>> = HashMap::new();
        let prepared = self.prepare(app, message, origin.task_id, origin.push_msg_id);

        let online: HashMap<Username, Vec<Arc<str>>> = users
            .iter()
            .cloned()
            .zip(self.bus.online(app.id, &users).await)
            .collect();

        // Who goes where first.
        let mut channel_users = Vec::new(); // stored + online (strategy 1)
        let mut online_only = Vec::new(); // online now, never stored (4, online leg of 3)
        let mut vendor_users = Vec::new();
        for u in &users {
            let is_online = online.get(u).is_some_and(|d| !d.is_empty());
            match strategy {
                Strategy::Easemob => channel_users.push(u.clone()),
                Strategy::OnlineOnly => online_only.push(u.clone()),
                Strategy::OnlineEasemobElseVendor if is_online => online_only.push(u.clone()),
                _ => vendor_users.push(u.clone()),
            }
        }

        for u in &online_only {
            let devices = online.get(u).cloned().unwrap_or_default();
            let sent = self
                .send_online(app, u, &devices, &prepared, false, |_| self.next_id())
                .await;
            if sent == 0 && strategy == Strategy::OnlineEasemobElseVendor {
                // Counted online, but every device left before the send reached it: the user
                // is offline after all, so strategy 3 goes on to the vendor (and its fallback).
                vendor_users.push(u.clone());
                continue;
            }
            let l = if sent > 0 {
                leg(
                    EASEMOB,
                    TargetStatus::Success,
                    "success",
                    json!({"channel": "easemob", "online": sent, "stored": 0}),
                )
            } else {
                leg(
                    EASEMOB,
                    TargetStatus::Fail,
                    "user offline",
                    json!({"channel": "easemob", "online": 0, "stored": 0}),
                )
            };
            results.entry(u.clone()).or_default().push(l);
        }

        let status_ok = if mode == Mode::Wait {
            TargetStatus::Success
        } else {
            TargetStatus::AsyncSuccess
        };
        let bindings = if vendor_users.is_empty() {
            Vec::new()
        } else {
            self.store.bindings_of(app.id, &vendor_users).await?
        };
        match mode {
            Mode::Wait => {
                if !channel_users.is_empty() {
                    let planned = self.plan_channel(&channel_users, &online, &devices);
                    let legs = self
                        .write_channel(app, &prepared, planned, Vec::new())
                        .await?;
                    for (u, c) in channel_users.iter().zip(legs) {
                        results
                            .entry(u.clone())
                            .or_default()
                            .push(easemob_leg(status_ok, &c));
                    }
                }
                if !vendor_users.is_empty() {
                    let legs = self
                        .vendor_legs(
                            app,
                            strategy,
                            &vendor_users,
                            bindings,
                            message,
                            &online,
                            &devices,
                            &prepared,
                        )
                        .await?;
                    for (u, l) in legs {
                        results.entry(u).or_default().extend(l);
                    }
                }
            }
            Mode::Accept => {
                // Vendor legs go to the send queue, committed with the Easemob channel's copies
                // in one transaction before the answer. A user with no binding is answered now:
                // `no push binding`, and for strategies 0 and 3 the Easemob channel instead.
                let fallback = matches!(
                    strategy,
                    Strategy::VendorThenEasemob | Strategy::OnlineEasemobElseVendor
                );
                let bound: HashSet<&Username> = bindings.iter().map(|b| &b.username).collect();
                let mut to_channel = channel_users.clone();
                for u in &vendor_users {
                    if bound.contains(u) {
                        let mut l = leg(
                            UNKNOWN_VENDOR,
                            TargetStatus::AsyncSuccess,
                            "success",
                            Value::String(String::new()),
                        );
                        l.queued = true;
                        results.entry(u.clone()).or_default().push(l);
                    } else {
                        results.entry(u.clone()).or_default().push(leg(
                            UNKNOWN_VENDOR,
                            TargetStatus::Fail,
                            "no push binding",
                            Value::Null,
                        ));
                        if fallback {
                            to_channel.push(u.clone());
                        }
                    }
                }
                let sends: Vec<SendRow> = bindings
                    .into_iter()
                    .map(|b| SendRow {
                        id: self.next_id(),
                        username: b.username,
                        device_id: b.device_id,
                        notifier: b.notifier_name,
                        device_token: b.device_token,
                        fallback,
                    })
                    .collect();
                let mut notifiers: Vec<String> = sends.iter().map(|r| r.notifier.clone()).collect();
                let planned = self.plan_channel(&to_channel, &online, &devices);
                let legs = self.write_channel(app, &prepared, planned, sends).await?;
                for (u, c) in to_channel.iter().zip(legs) {
                    results
                        .entry(u.clone())
                        .or_default()
                        .push(easemob_leg(status_ok, &c));
                }
                notifiers.sort_unstable();
                notifiers.dedup();
                for n in notifiers {
                    self.wake_sender(app.id, &n);
                }
            }
        }

        // Legs in the send queue are counted when they end there.
        self.tally(app.id, results.values().flatten().filter(|l| !l.queued));
        Ok(targets
            .iter()
            .map(|t| TargetResult {
                username: t.clone(),
                legs: results.get(t).cloned().unwrap_or_else(|| {
                    vec![leg(
                        EASEMOB,
                        TargetStatus::Fail,
                        "appUser not exists",
                        Value::Null,
                    )]
                }),
            })
            .collect())
    }

    /// Adds legs to the app's daily counters, per channel.
    pub(crate) fn tally<'a>(&self, app_id: i64, legs: impl Iterator<Item = &'a Leg>) {
        let mut per: HashMap<&'static str, Counts> = HashMap::new();
        for l in legs {
            let c = per.entry(l.channel).or_default();
            match l.status {
                TargetStatus::Success | TargetStatus::AsyncSuccess => c.success += 1,
                TargetStatus::Fail => c.fail += 1,
                TargetStatus::Error => c.unknown += 1,
            }
        }
        self.gateway.stats.add_many(app_id, per);
    }

    pub(crate) fn next_id(&self) -> i64 {
        self.ids.next(&*self.clock)
    }

    fn prepare(
        &self,
        app: &App,
        message: &PushMessage,
        task_id: Option<i64>,
        push_msg_id: Option<i64>,
    ) -> Prepared {
        let now = self.clock.now_ms();
        let mut expires_at =
            now.saturating_add(self.gateway.retention_ms(app.offline_retention_secs));
        if let Some(t) = message.expires_time_ms() {
            expires_at = expires_at.min(t);
        }
        Prepared {
            json: message.to_value().to_string(),
            sent_at: now,
            expires_at,
            task_id,
            push_msg_id,
        }
    }

    /// Sends to the given online devices; returns how many frames were queued.
    async fn send_online(
        &self,
        app: &App,
        user: &Username,
        devices: &[Arc<str>],
        p: &Prepared,
        stored: bool,
        mut id_for: impl FnMut(&str) -> i64,
    ) -> usize {
        let mut sent = 0;
        for d in devices {
            let id = id_for(d);
            let frame = PushFrame {
                id,
                stored,
                task_id: p.task_id,
                push_msg_id: p.push_msg_id,
                message_json: &p.json,
                sent_at: p.sent_at,
                expires_at: p.expires_at,
            }
            .outbound();
            if self.bus.send(app.id, user, d, frame).await == SendOutcome::Queued {
                sent += 1;
            }
        }
        sent
    }

    /// Strategy 1 for a set of users: a stored copy per known device (or one kept for the
    /// user's first device), and which of them go out at once to a connected device.
    fn plan_channel(
        &self,
        users: &[Username],
        online: &HashMap<Username, Vec<Arc<str>>>,
        known: &HashMap<Username, Vec<String>>,
    ) -> PlannedChannel {
        let mut rows = Vec::new();
        let mut live: Vec<(Username, Arc<str>, i64)> = Vec::new();
        for u in users {
            let on = online.get(u).map(Vec::as_slice).unwrap_or(&[]);
            let mut devices: Vec<String> = known.get(u).cloned().unwrap_or_default();
            for d in on {
                // Connected devices are always known (the store records them on connect);
                // this covers the moment between connect and that write.
                if !devices.iter().any(|k| k.as_str() == &**d) {
                    devices.push(d.to_string());
                }
            }
            if devices.is_empty() {
                rows.push(PendingRow {
                    id: self.next_id(),
                    username: u.clone(),
                    device_id: String::new(),
                });
                continue;
            }
            for d in devices {
                let id = self.next_id();
                if let Some(conn) = on.iter().find(|o| &***o == d.as_str()) {
                    live.push((u.clone(), conn.clone(), id));
                }
                rows.push(PendingRow {
                    id,
                    username: u.clone(),
                    device_id: d,
                });
            }
        }
        PlannedChannel {
            users: users.to_vec(),
            rows,
            live,
        }
    }

    /// Commits the planned copies and `sends` (vendor legs for the send queue) with their
    /// message in one transaction (shared with concurrent pushes), then sends the copies for
    /// connected devices. Returns what the Easemob channel did for each planned user.
    async fn write_channel(
        &self,
        app: &App,
        p: &Prepared,
        planned: PlannedChannel,
        sends: Vec<SendRow>,
    ) -> Result<Vec<ChannelLeg>, EngineError> {
        let PlannedChannel { users, rows, live } = planned;
        if rows.is_empty() && sends.is_empty() {
            return Ok(Vec::new());
        }
        let stored_per_user: HashMap<&Username, usize> =
            rows.iter().fold(HashMap::new(), |mut m, r| {
                *m.entry(&r.username).or_default() += 1;
                m
            });
        let legs_stored: Vec<usize> = users
            .iter()
            .map(|u| stored_per_user.get(u).copied().unwrap_or(0))
            .collect();
        // Copies not sent at once: their device was not connected when the push looked.
        let sent_now: HashSet<i64> = live.iter().map(|(_, _, id)| *id).collect();
        let not_sent: Vec<(Username, String, i64)> = rows
            .iter()
            .filter(|r| !sent_now.contains(&r.id))
            .map(|r| (r.username.clone(), r.device_id.clone(), r.id))
            .collect();
        self.enqueue
            .submit(Enqueue {
                message: ChannelMessage {
                    // A task's pages share one message (its id is the task's, unique among
                    // ids from the same generator), so the send queue can send a task's legs
                    // for one vendor together across pages.
                    id: p.task_id.unwrap_or_else(|| self.next_id()),
                    app_id: app.id,
                    task_id: p.task_id,
                    push_msg_id: p.push_msg_id,
                    body: p.json.clone(),
                    sent_at: p.sent_at,
                    expires_at: p.expires_at,
                },
                rows,
                sends,
            })
            .await
            .map_err(EngineError::Queue)?;
        let mut online_count: HashMap<Username, usize> = HashMap::new();
        let connected_since = self.connected_since(app, not_sent).await;
        for (u, d, id) in live.into_iter().chain(connected_since) {
            let n = self
                .send_online(app, &u, std::slice::from_ref(&d), p, true, |_| id)
                .await;
            *online_count.entry(u).or_default() += n;
        }
        Ok(users
            .iter()
            .zip(legs_stored)
            .map(|(u, stored)| ChannelLeg {
                online: online_count.get(u).copied().unwrap_or(0),
                stored,
            })
            .collect())
    }

    /// Of the copies just committed that were not sent at once, those whose device is
    /// connected now: a device that connected while the push was under way may have read its
    /// queue (its replay) before the commit, and must still get them on that connection. A copy
    /// kept for the user's first device goes to a connected device of the user, which adopts it
    /// in the store first (so that its ack removes it). One presence lookup for all of them; a
    /// store call only when such a first-device copy found a connected device.
    async fn connected_since(
        &self,
        app: &App,
        not_sent: Vec<(Username, String, i64)>,
    ) -> Vec<(Username, Arc<str>, i64)> {
        if not_sent.is_empty() {
            return Vec::new();
        }
        let mut users: Vec<Username> = not_sent.iter().map(|(u, _, _)| u.clone()).collect();
        users.sort_unstable();
        users.dedup();
        let online: HashMap<Username, Vec<Arc<str>>> = users
            .iter()
            .cloned()
            .zip(self.bus.online(app.id, &users).await)
            .filter(|(_, d)| !d.is_empty())
            .collect();
        let mut out = Vec::new();
        let mut adopt = Vec::new();
        for (u, device, id) in not_sent {
            let Some(conns) = online.get(&u) else {
                continue;
            };
            if device.is_empty() {
                adopt.push((id, u, conns[0].to_string()));
            } else if let Some(c) = conns.iter().find(|c| ***c == *device) {
                out.push((u, c.clone(), id));
            }
        }
        if !adopt.is_empty() {
            match self.store.adopt_copies(app.id, &adopt).await {
                Ok(given) => {
                    let given: HashSet<i64> = given.into_iter().collect();
                    for (id, u, device) in adopt {
                        if given.contains(&id) {
                            out.push((u, Arc::from(device.as_str()), id));
                        }
                    }
                }
                // The copy stays for the next device that connects.
                Err(e) => {
                    tracing::warn!(error = %e, "giving a first-device copy to a connected device failed")
                }
            }
        }
        out
    }

    /// The vendor leg of strategies 0, 2 and 3 and their fallbacks to the Easemob channel.
    #[allow(clippy::too_many_arguments)]
    async fn vendor_legs(
        &self,
        app: &App,
        strategy: Strategy,
        users: &[Username],
        bindings: Vec<Binding>,
        message: &PushMessage,
        online: &HashMap<Username, Vec<Arc<str>>>,
        known: &HashMap<Username, Vec<String>>,
        p: &Prepared,
    ) -> Result<Vec<(Username, Vec<Leg>)>, EngineError> {
        let outcomes = if bindings.is_empty() {
            Vec::new()
        } else {
            self.vendors.send(app, &bindings, message, p.task_id).await
        };
        let mut per_user: HashMap<&Username, Vec<Leg>> = HashMap::new();
        let mut succeeded: HashSet<&Username> = HashSet::new();
        for (b, d) in bindings.iter().zip(&outcomes) {
            let ch = d.vendor.map_or(UNKNOWN_VENDOR, VendorKind::as_str);
            let o = &d.outcome;
            let l = match o {
                VendorOutcome::Sent { raw } => {
                    succeeded.insert(&b.username);
                    leg(
                        ch,
                        TargetStatus::Success,
                        "success",
                        vendor_result(b, d.vendor, o, raw),
                    )
                }
                VendorOutcome::TokenDead { raw } => leg(
                    ch,
                    TargetStatus::Fail,
                    "bad device token",
                    vendor_result(b, d.vendor, o, raw),
                ),
                VendorOutcome::Rejected { raw, reason } => leg(
                    ch,
                    TargetStatus::Fail,
                    reason.clone(),
                    vendor_result(b, d.vendor, o, raw),
                ),
                VendorOutcome::Error { reason } => {
                    leg(ch, TargetStatus::Error, reason.clone(), Value::Null)
                }
            };
            per_user.entry(&b.username).or_default().push(l);
        }
        // Strategies 0 and 3 keep what the vendors could not deliver for the Easemob channel.
        let fallback: Vec<Username> = match strategy {
            Strategy::VendorThenEasemob | Strategy::OnlineEasemobElseVendor => users
                .iter()
                .filter(|u| !succeeded.contains(u))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let mut out: Vec<(Username, Vec<Leg>)> = users
            .iter()
            .map(|u| {
                let legs = per_user.remove(u).unwrap_or_else(|| {
                    vec![leg(
                        UNKNOWN_VENDOR,
                        TargetStatus::Fail,
                        "no push binding",
                        Value::Null,
                    )]
                });
                (u.clone(), legs)
            })
            .collect();
        if !fallback.is_empty() {
            let planned = self.plan_channel(&fallback, online, known);
            let legs = self.write_channel(app, p, planned, Vec::new()).await?;
            for (u, c) in fallback.iter().zip(legs) {
                if let Some((_, l)) = out.iter_mut().find(|(x, _)| x == u) {
                    l.push(easemob_leg(TargetStatus::Success, &c));
                }
            }
        }
        Ok(out)
    }
}
