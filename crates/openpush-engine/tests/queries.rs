//! The engine resolves a page of targets with a fixed number of store queries, whatever the number
//! of targets: which users exist, their bindings, their known devices — one query each — and one
//! transaction for what the offline queue keeps. Never one query per target.
//!
//! A `CountingStore` wraps the SQLite store and counts every call per method. The same push is
//! made to 1 target and to 100, for every strategy, with everyone offline or everyone online,
//! with vendors failing or succeeding; the calls each makes must be the same.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use openpush_core::message::PushMessage;
use openpush_core::notifier::VendorKind;
use openpush_core::settings::{ChatType, NotificationPatch, NotificationSetting};
use openpush_core::{
    Clock, DeviceId, DeviceToken, IdGenerator, LabelName, ManualClock, Nickname, NotifierName,
    Strategy, Username,
};
use openpush_engine::{Engine, Mode, Origin, TargetStatus};
use openpush_gateway::{Bus, Gateway, GatewayConfig, Outbound, SendOutcome};
use openpush_store::sqlite::SqliteStore;
use openpush_store::*;
use openpush_vendors::{Delivery, VendorDispatch, VendorOutcome};
use serde_json::{json, Value};

/// Generates `CountingStore`'s `Store` impl: every method counts itself, then delegates.
macro_rules! counting_store {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)* ) $(-> $ret:ty)?; )*) => {
        /// Every `Store` method, for the counters.
        const METHODS: &[&str] = &[$(stringify!($name)),*];

        #[async_trait]
        impl Store for CountingStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
                    self.hit(stringify!($name));
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

counting_store! {
    fn meta_get_or_insert(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;
    fn create_app(&self, app: NewApp) -> Result<App>;
    fn app_by_name(&self, org: &str, name: &str) -> Result<Option<App>>;
    fn app_by_id(&self, id: i64) -> Result<Option<App>>;
    fn list_apps(&self) -> Result<Vec<App>>;
    fn create_users(&self, app_id: i64, users: Vec<NewUser>) -> Result<CreatedUsers>;
    fn user(&self, app_id: i64, username: &Username) -> Result<Option<User>>;
    fn existing_users(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Username>>;
    fn list_users(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<User>>;
    fn update_user(
        &self,
        app_id: i64,
        username: &Username,
        update: UserUpdate,
        now_ms: i64
    ) -> Result<Option<User>>;
    fn set_nicknames(&self, app_id: i64, items: &[(Username, Nickname)], now_ms: i64) -> Result<()>;
    fn delete_user(&self, app_id: i64, username: &Username) -> Result<Option<User>>;
    fn rotate_app_secret(
        &self,
        app_id: i64,
        secret_hash: &[u8],
        tokens_valid_from: i64
    ) -> Result<Option<App>>;
    fn revoke_user_tokens(
        &self,
        app_id: i64,
        username: &Username,
        tokens_valid_from: i64,
        password_hash: Option<&str>
    ) -> Result<Option<User>>;
    fn bind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: &NotifierName,
        token: &DeviceToken,
        now_ms: i64
    ) -> Result<Vec<Binding>>;
    fn unbind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: Option<&NotifierName>
    ) -> Result<Vec<Binding>>;
    fn unbind_token(&self, app_id: i64, notifier: &str, token: &str) -> Result<u64>;
    fn bindings_of(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Binding>>;
    fn notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str
    ) -> Result<Option<NotificationSetting>>;
    fn update_notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str,
        patch: &NotificationPatch,
        default: NotificationSetting
    ) -> Result<NotificationSetting>;
    fn create_label(
        &self,
        app_id: i64,
        name: &LabelName,
        description: &str,
        now_ms: i64,
        max_labels: u32
    ) -> Result<Label>;
    fn label(&self, app_id: i64, name: &LabelName) -> Result<Option<Label>>;
    fn list_labels(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<Label>>;
    fn delete_label(&self, app_id: i64, name: &LabelName) -> Result<bool>;
    fn add_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username],
        now_ms: i64,
        max_members: u32
    ) -> Result<MemberChange>;
    fn remove_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username]
    ) -> Result<MemberChange>;
    fn list_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        after: Option<i64>,
        limit: u32
    ) -> Result<Vec<LabelMember>>;
    fn label_user(
        &self,
        app_id: i64,
        name: &LabelName,
        username: &Username
    ) -> Result<Option<LabelMember>>;
    fn set_offline_retention(&self, app_id: i64, secs: Option<i64>) -> Result<()>;
    fn touch_device(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        now_ms: i64,
        max_devices: u32
    ) -> Result<bool>;
    fn adopt_copies(&self, app_id: i64, copies: &[(i64, Username, String)]) -> Result<Vec<i64>>;
    fn stale_devices(
        &self,
        now_ms: i64,
        default_retention_secs: i64,
        limit: u32
    ) -> Result<Vec<KnownDevice>>;
    fn forget_devices(
        &self,
        forget: &[KnownDevice],
        seen: &[KnownDevice],
        now_ms: i64
    ) -> Result<u64>;
    fn devices_of(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<(Username, String)>>;
    fn enqueue(&self, batch: &[Enqueue]) -> Result<()>;
    fn pending_for(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        after: Option<i64>,
        now_ms: i64,
        limit: u32
    ) -> Result<Vec<PendingDelivery>>;
    fn ack(&self, acks: &[Ack]) -> Result<Vec<Acked>>;
    fn purge_expired(&self, now_ms: i64, limit: u32) -> Result<Purged>;
    fn claim_sends(
        &self,
        app_id: i64,
        notifier: &str,
        now_ms: i64,
        lease_until: i64,
        owner: i64,
        limit: u32
    ) -> Result<Vec<QueuedSend>>;
    fn complete_sends(
        &self,
        done: &[SendCompletion],
        now_ms: i64,
        next_id: &(dyn Fn() -> i64 + Send + Sync)
    ) -> Result<SendsCompleted>;
    fn send_queues(&self) -> Result<Vec<(i64, String)>>;
    fn next_send_due(&self, app_id: i64, notifier: &str) -> Result<Option<i64>>;
    fn release_send_leases(&self, owner: i64) -> Result<u64>;
    fn queued_sends_of_task(&self, task_id: i64) -> Result<u64>;
    fn create_message(&self, message: &StoredMessage) -> Result<()>;
    fn message(&self, app_id: i64, id: i64) -> Result<Option<StoredMessage>>;
    fn create_task(&self, task: &Task, limits: TaskLimits, now_ms: i64) -> Result<()>;
    fn task(&self, app_id: i64, id: i64) -> Result<Option<Task>>;
    fn list_tasks(&self, app_id: i64, offset: u32, limit: u32) -> Result<Vec<Task>>;
    fn start_due_tasks(&self, now_ms: i64, max_running: u32) -> Result<Vec<Task>>;
    fn running_tasks(&self) -> Result<Vec<Task>>;
    fn checkpoint_task(&self, id: i64, cursor: Option<&str>, stats: &Value) -> Result<()>;
    fn end_task(&self, app_id: i64, id: i64, status: TaskStatus, now_ms: i64) -> Result<bool>;
    fn record_report(
        &self,
        task_id: i64,
        username: &Username,
        action: ReportAction,
        channel: &str,
        keep_until: i64
    ) -> Result<bool>;
    fn add_task_counters(&self, counters: &[TaskCounter]) -> Result<()>;
    fn task_counters(&self, task_id: i64) -> Result<Vec<TaskCounter>>;
    fn add_daily_stats(&self, rows: &[DailyStat]) -> Result<()>;
    fn daily_stats(&self, app_id: i64, first: &str, last: &str) -> Result<Vec<DailyStat>>;
    fn set_task_limits(&self, app_id: i64, running_max: Option<u32>, per_window: Option<u32>) -> Result<()>;
    fn put_notifier(&self, notifier: &Notifier) -> Result<bool>;
    fn notifier(&self, app_id: i64, name: &str) -> Result<Option<Notifier>>;
    fn notifiers(&self, app_id: i64) -> Result<Vec<Notifier>>;
    fn delete_notifier(&self, app_id: i64, name: &str) -> Result<bool>;
    fn user_page(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<(i64, Username)>>;
    fn label_intersection_page(
        &self,
        app_id: i64,
        labels: &[LabelName],
        after: Option<i64>,
        limit: u32
    ) -> Result<Vec<(i64, Username)>>;
    fn close(&self);
}

/// The gateway's expiry purge and known-device sweep call these on a timer, whatever is pushed;
/// they are not part of resolving targets and may land in any measurement, so they are left out
/// of the comparison.
const BACKGROUND: &[&str] = &["purge_expired", "stale_devices", "forget_devices"];

/// A `Store` that counts calls per method and delegates to SQLite.
#[derive(Debug)]
struct CountingStore {
    inner: SqliteStore,
    calls: HashMap<&'static str, AtomicU64>,
}

impl CountingStore {
    fn new(inner: SqliteStore) -> Self {
        Self {
            inner,
            calls: METHODS.iter().map(|m| (*m, AtomicU64::new(0))).collect(),
        }
    }

    fn hit(&self, method: &str) {
        self.calls[method].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls so far per method, background work left out.
    fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.calls
            .iter()
            .filter(|(m, _)| !BACKGROUND.contains(m))
            .map(|(m, n)| (*m, n.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The calls made between two snapshots (methods not called are left out).
fn delta(
    before: &BTreeMap<&'static str, u64>,
    after: &BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    after
        .iter()
        .map(|(m, n)| (*m, n - before[m]))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Presence: every user online with one device "d-<user>", or nobody. Counts presence lookups
/// (one per push, whatever the number of users) and sends.
#[derive(Debug, Default)]
struct FakeBus {
    everyone_online: bool,
    /// Presence still lists the devices, but they left before the send reached them.
    devices_gone: bool,
    online_calls: AtomicU64,
    sends: AtomicU64,
}

#[async_trait]
impl Bus for FakeBus {
    async fn online(&self, _app_id: i64, users: &[Username]) -> Vec<Vec<Arc<str>>> {
        self.online_calls.fetch_add(1, Ordering::Relaxed);
        users
            .iter()
            .map(|u| {
                if self.everyone_online {
                    vec![Arc::from(device_of(u).as_str())]
                } else {
                    Vec::new()
                }
            })
            .collect()
    }

    async fn send(&self, _: i64, _: &Username, _: &str, _: Outbound) -> SendOutcome {
        self.sends.fetch_add(1, Ordering::Relaxed);
        if self.devices_gone {
            SendOutcome::Offline
        } else {
            SendOutcome::Queued
        }
    }
}

/// Vendors that all accept or all refuse.
#[derive(Debug)]
struct FakeVendors {
    accept: bool,
}

#[async_trait]
impl VendorDispatch for FakeVendors {
    async fn send(
        &self,
        _: &App,
        bindings: &[Binding],
        _: &PushMessage,
        _: Option<i64>,
    ) -> Vec<Delivery> {
        bindings
            .iter()
            .map(|_| Delivery {
                vendor: Some(VendorKind::Huawei),
                outcome: if self.accept {
                    VendorOutcome::Sent {
                        raw: json!({"ok": true}),
                    }
                } else {
                    VendorOutcome::Rejected {
                        raw: Value::Null,
                        reason: "refused".into(),
                    }
                },
            })
            .collect()
    }
}

fn device_of(u: &Username) -> String {
    format!("d-{u}")
}

const USERS: usize = 100;

struct World {
    store: Arc<CountingStore>,
    app: App,
    users: Vec<Username>,
    _dir: tempfile::TempDir,
}

/// An app with 100 users, each with a known Easemob-channel device and a vendor binding.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore::new(
        SqliteStore::open(dir.path()).await.unwrap(),
    ));
    let app = store
        .create_app(NewApp {
            uuid: "00000000-0000-0000-0000-000000000001".into(),
            org: "o".into(),
            name: "a".into(),
            client_id: "YXA6counting".into(),
            secret_hash: vec![0; 32],
            created: 1,
        })
        .await
        .unwrap();
    let users: Vec<Username> = (0..USERS)
        .map(|i| Username::parse(&format!("user{i:03}")).unwrap())
        .collect();
    let created = store
        .create_users(
            app.id,
            users
                .iter()
                .enumerate()
                .map(|(i, u)| NewUser {
                    username: u.clone(),
                    uuid: format!("00000000-0000-0000-0001-{i:012}"),
                    password_hash: "not-a-real-hash".into(),
                    nickname: String::new(),
                    created: 1,
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(created.created.len(), USERS);
    let notifier = NotifierName::parse("fcm-main").unwrap();
    for (i, u) in users.iter().enumerate() {
        let device = DeviceId::parse(&device_of(u)).unwrap();
        store.touch_device(app.id, u, &device, 1, 20).await.unwrap();
        let token = DeviceToken::parse(&format!("token-{i:020}")).unwrap();
        store
            .bind(app.id, u, &device, &notifier, &token, 1)
            .await
            .unwrap();
    }
    World {
        store,
        app,
        users,
        _dir: dir,
    }
}

/// An engine on the counting store. `node` keeps ids apart between the engines of one test, as
/// node numbers do between the nodes of a cluster.
fn engine(w: &World, node: u16, bus: Arc<FakeBus>, vendors_accept: bool) -> Arc<Engine> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let store: Arc<dyn Store> = w.store.clone();
    let gateway = Gateway::start(store.clone(), clock.clone(), GatewayConfig::default());
    Arc::new(Engine::new(
        store,
        bus,
        gateway,
        Arc::new(FakeVendors {
            accept: vendors_accept,
        }),
        clock,
        IdGenerator::new(node),
        openpush_engine::OutboxConfig::default(),
    ))
}

const STRATEGIES: [Strategy; 5] = [
    Strategy::VendorThenEasemob,
    Strategy::Easemob,
    Strategy::Vendor,
    Strategy::OnlineEasemobElseVendor,
    Strategy::OnlineOnly,
];

/// The store calls (per method) and presence lookups of one push to `targets`.
async fn cost(
    w: &World,
    e: &Arc<Engine>,
    bus: &FakeBus,
    targets: &[Username],
    strategy: Strategy,
) -> (BTreeMap<&'static str, u64>, u64) {
    let message =
        PushMessage::parse(json!({"title": "t", "content": "c", "ext": {"k": "v"}})).unwrap();
    let presence_before = bus.online_calls.load(Ordering::Relaxed);
    let before = w.store.snapshot();
    // `Wait`, so the vendor legs and their fallbacks run inside the call being measured.
    let results = e
        .push_users(
            &w.app,
            targets,
            strategy,
            &message,
            Mode::Wait,
            Origin::default(),
        )
        .await
        .unwrap();
    let mut calls = delta(&before, &w.store.snapshot());
    // The daily statistics are written once a second in the background, not per push.
    calls.remove("add_daily_stats");
    let presence = bus.online_calls.load(Ordering::Relaxed) - presence_before;
    assert_eq!(results.len(), targets.len());
    assert!(
        results
            .iter()
            .all(|r| r.status() != TargetStatus::Error && !r.legs.is_empty()),
        "{strategy:?}: {results:?}"
    );
    (calls, presence)
}

#[tokio::test]
async fn one_target_and_a_hundred_cost_the_same_store_queries() {
    let w = world().await;
    let one = &w.users[..1];
    let hundred = &w.users[..];
    let mut report = Vec::new();
    let mut node = 0;
    for everyone_online in [false, true] {
        for vendors_accept in [false, true] {
            let bus = Arc::new(FakeBus {
                everyone_online,
                ..FakeBus::default()
            });
            node += 1;
            let e = engine(&w, node, bus.clone(), vendors_accept);
            for strategy in STRATEGIES {
                let case = format!(
                    "{strategy:?}, online={everyone_online}, vendors accept={vendors_accept}"
                );
                let (c1, p1) = cost(&w, &e, &bus, one, strategy).await;
                let (c100, p100) = cost(&w, &e, &bus, hundred, strategy).await;
                assert_eq!(c1, c100, "{case}: 1 target vs {USERS}");
                // One lookup to plan, and one after the offline queue's commit for copies
                // that were not sent at once (their device may have connected meanwhile).
                assert_eq!(p1, p100, "{case}: presence lookups, 1 target vs {USERS}");
                assert!(
                    (1..=2).contains(&p100),
                    "{case}: {p100} presence lookups for one push"
                );
                let total: u64 = c100.values().sum();
                // existing_users, bindings_of, devices_of, enqueue at most.
                assert!((1..=4).contains(&total), "{case}: {c100:?}");
                assert_eq!(c100.get("existing_users"), Some(&1), "{case}: {c100:?}");
                report.push((case, c100));
            }
            e.gateway.shutdown(std::time::Duration::from_secs(5)).await;
            e.stopped().await;
        }
    }
    // The paths differ, so the measurements are not vacuous: the Easemob channel writes one
    // transaction, vendor-only strategies never touch the offline queue.
    let find = |s: &str| {
        report
            .iter()
            .find(|(c, _)| c.starts_with(s))
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    let easemob = find("Easemob, online=false");
    assert_eq!(easemob.get("enqueue"), Some(&1), "{easemob:?}");
    assert_eq!(easemob.get("devices_of"), Some(&1), "{easemob:?}");
    let vendor = find("Vendor, online=false");
    assert_eq!(vendor.get("bindings_of"), Some(&1), "{vendor:?}");
    assert_eq!(vendor.get("enqueue"), None, "{vendor:?}");
    let online_only = find("OnlineOnly, online=true");
    assert_eq!(
        online_only.keys().copied().collect::<Vec<_>>(),
        ["existing_users"]
    );
}

#[tokio::test]
async fn the_counting_store_counts_per_method() {
    // The wrapper itself: a per-user loop shows up as one call per user.
    let w = world().await;
    let before = w.store.snapshot();
    for u in &w.users[..3] {
        w.store.user(w.app.id, u).await.unwrap();
    }
    w.store.existing_users(w.app.id, &w.users).await.unwrap();
    let d = delta(&before, &w.store.snapshot());
    assert_eq!(
        d.into_iter().collect::<Vec<_>>(),
        [("existing_users", 1), ("user", 3)]
    );
}

/// Strategy 3 edge: a user counted online whose Easemob-channel send reaches no device (every
/// device disconnected between the presence lookup and the send) is offline after all, so it
/// goes on to its vendor bindings; if the vendor refuses, the Easemob channel keeps a copy.
#[tokio::test]
async fn strategy_3_online_user_whose_send_reaches_no_device_goes_to_its_vendor() {
    let w = world().await;
    let message = PushMessage::parse(json!({"title": "t", "content": "c"})).unwrap();
    for (node, vendors_accept) in [(1, true), (2, false)] {
        let bus = Arc::new(FakeBus {
            everyone_online: true,
            devices_gone: true,
            ..FakeBus::default()
        });
        let e = engine(&w, node, bus.clone(), vendors_accept);
        let target = &w.users[node as usize..node as usize + 1];
        let r = e
            .push_users(
                &w.app,
                target,
                Strategy::OnlineEasemobElseVendor,
                &message,
                Mode::Wait,
                Origin::default(),
            )
            .await
            .unwrap();
        let legs: Vec<(&str, TargetStatus)> =
            r[0].legs.iter().map(|l| (l.channel, l.status)).collect();
        if vendors_accept {
            assert_eq!(legs, [("huawei", TargetStatus::Success)], "{r:?}");
        } else {
            // The vendor refused: the fallback stores a copy for the user's device.
            assert_eq!(
                legs,
                [
                    ("huawei", TargetStatus::Fail),
                    ("easemob", TargetStatus::Success)
                ],
                "{r:?}"
            );
            assert_eq!(r[0].legs[1].data["stored"], 1, "{r:?}");
        }
        assert!(bus.sends.load(Ordering::Relaxed) >= 1, "the send was tried");
        e.gateway.shutdown(std::time::Duration::from_secs(5)).await;
        e.stopped().await;
    }
}
