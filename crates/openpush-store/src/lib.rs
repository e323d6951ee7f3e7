//! Persistence for OpenPush.
//!
//! Everything above this crate talks to [`Store`]; nothing above it knows whether SQLite
//! (single node, the default) or PostgreSQL (cluster) is underneath. Both implementations run
//! the one contract suite in [`contract`].

use async_trait::async_trait;
use openpush_core::settings::{ChatType, NotificationPatch, NotificationSetting};
use openpush_core::{DeviceId, DeviceToken, LabelName, Nickname, NotifierName, Username};

mod model;
pub mod sqlite;

#[cfg(any(test, feature = "contract"))]
pub mod contract;

pub use model::*;

/// What can go wrong in a store call. `Backend` carries the cause for the log; callers turn it
/// into a 500 without showing its text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint: the thing already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A configured limit would be exceeded.
    #[error("limit reached: {0}")]
    Limit(String),
    /// A row the call depends on does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database failed.
    #[error("{context}")]
    Backend {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The repositories OpenPush keeps. Every method is one transaction: a call either happens
/// whole or not at all. Lists are keyset-paged on an opaque, increasing `i64` key.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    // ---- node-wide metadata -------------------------------------------------------------
    /// Stores `value` under `key` unless a value is there already; returns the value kept.
    /// Used for the token signing key, so every node and every restart agrees on it.
    async fn meta_get_or_insert(&self, key: &str, value: &[u8]) -> Result<Vec<u8>>;

    // ---- apps ---------------------------------------------------------------------------
    async fn create_app(&self, app: NewApp) -> Result<App>;
    async fn app_by_name(&self, org: &str, name: &str) -> Result<Option<App>>;
    async fn app_by_id(&self, id: i64) -> Result<Option<App>>;
    async fn list_apps(&self) -> Result<Vec<App>>;

    // ---- users --------------------------------------------------------------------------
    /// Creates the users in one transaction. A user that exists already is reported in the
    /// result instead of failing the others; `Conflict` only if all of them exist.
    async fn create_users(&self, app_id: i64, users: Vec<NewUser>) -> Result<CreatedUsers>;
    async fn user(&self, app_id: i64, username: &Username) -> Result<Option<User>>;
    /// Which of the given users exist, in one query.
    async fn existing_users(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Username>>;
    /// Users with `key > after`, in key order.
    async fn list_users(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<User>>;
    /// Applies the changes that are `Some`; `None` if the user does not exist.
    async fn update_user(
        &self,
        app_id: i64,
        username: &Username,
        update: UserUpdate,
        now_ms: i64,
    ) -> Result<Option<User>>;
    /// Sets several nicknames at once. If any user is missing, nothing changes and the
    /// missing ones are returned in `NotFound`.
    async fn set_nicknames(
        &self,
        app_id: i64,
        items: &[(Username, Nickname)],
        now_ms: i64,
    ) -> Result<()>;
    /// Deletes the user with its bindings, settings and label memberships.
    async fn delete_user(&self, app_id: i64, username: &Username) -> Result<Option<User>>;

    // ---- push bindings ------------------------------------------------------------------
    /// Binds (user, device, notifier) to `token`. The same (notifier, token) bound elsewhere
    /// in the app is released first: a token belongs to one install, and that install to
    /// the user who bound it last. Returns this device's bindings after the change.
    async fn bind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: &NotifierName,
        token: &DeviceToken,
        now_ms: i64,
    ) -> Result<Vec<Binding>>;
    /// Removes (user, device, notifier), or every binding of the device when `notifier` is
    /// `None`. Returns the device's bindings after the change.
    async fn unbind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: Option<&NotifierName>,
    ) -> Result<Vec<Binding>>;
    /// Removes every binding of (notifier, token) in the app (a token the vendor declared
    /// dead); returns how many.
    async fn unbind_token(&self, app_id: i64, notifier: &str, token: &str) -> Result<u64>;
    /// Every binding of the given users, in one query.
    async fn bindings_of(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Binding>>;

    // ---- per-user notification settings -------------------------------------------------
    async fn notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str,
    ) -> Result<Option<NotificationSetting>>;
    /// Applies `patch` to the stored setting (or to `default` if there is none) in one
    /// transaction, so concurrent changes to different fields are not lost. Returns the result.
    async fn update_notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str,
        patch: &NotificationPatch,
        default: NotificationSetting,
    ) -> Result<NotificationSetting>;

    // ---- labels -------------------------------------------------------------------------
    /// Creates a label unless the app already has `max_labels` of them.
    async fn create_label(
        &self,
        app_id: i64,
        name: &LabelName,
        description: &str,
        now_ms: i64,
        max_labels: u32,
    ) -> Result<Label>;
    async fn label(&self, app_id: i64, name: &LabelName) -> Result<Option<Label>>;
    async fn list_labels(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<Label>>;
    /// Deletes the label and its memberships; `false` if it did not exist.
    async fn delete_label(&self, app_id: i64, name: &LabelName) -> Result<bool>;
    /// Adds users, never taking the label past `max_members`. `NotFound` if the label is missing.
    async fn add_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username],
        now_ms: i64,
        max_members: u32,
    ) -> Result<MemberChange>;
    async fn remove_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username],
    ) -> Result<MemberChange>;
    async fn list_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LabelMember>>;
    async fn label_user(
        &self,
        app_id: i64,
        name: &LabelName,
        username: &Username,
    ) -> Result<Option<LabelMember>>;

    /// Sets an app's task limits (`None`: the server's setting).
    async fn set_task_limits(
        &self,
        app_id: i64,
        running_max: Option<u32>,
        per_window: Option<u32>,
    ) -> Result<()>;

    /// Replaces an app's client secret (its hash) and refuses from then on the app tokens
    /// issued before `tokens_valid_from` (epoch ms; a later time already set is kept).
    /// `None` if the app does not exist.
    async fn rotate_app_secret(
        &self,
        app_id: i64,
        secret_hash: &[u8],
        tokens_valid_from: i64,
    ) -> Result<Option<App>>;

    /// Refuses from then on the user's tokens issued before `tokens_valid_from` (epoch ms; a
    /// later time already set is kept), and with `password_hash` sets a new password in the
    /// same write. `None` if the user does not exist.
    async fn revoke_user_tokens(
        &self,
        app_id: i64,
        username: &Username,
        tokens_valid_from: i64,
        password_hash: Option<&str>,
    ) -> Result<Option<User>>;

    /// Sets an app's offline retention (`None`: the server default).
    async fn set_offline_retention(&self, app_id: i64, secs: Option<i64>) -> Result<()>;

    // ---- the Easemob channel: devices and the offline queue ------------------------------
    /// Records that a device connected; it adopts any copies kept for the user while no
    /// device was known. The user keeps at most `max_devices` known devices (at least one):
    /// beyond that, the least recently seen others are forgotten with their queued copies.
    /// Returns whether the device was new.
    async fn touch_device(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        now_ms: i64,
        max_devices: u32,
    ) -> Result<bool>;
    /// The known Easemob-channel devices of the given users, in one query: by user, each
    /// user's most recently seen first.
    async fn devices_of(
        &self,
        app_id: i64,
        usernames: &[Username],
    ) -> Result<Vec<(Username, String)>>;
    /// Gives copies kept for a user's first device (no device yet) to a device of that user
    /// that is connected: each `(id, user, device)` only if copy `id` of that user still has
    /// no device. One transaction; returns the ids given.
    async fn adopt_copies(
        &self,
        app_id: i64,
        copies: &[(i64, Username, String)],
    ) -> Result<Vec<i64>>;
    /// Known devices not seen for their app's offline retention (the app's own, else
    /// `default_retention_secs`) at `now_ms`: at most `limit` of them, in no particular order.
    async fn stale_devices(
        &self,
        now_ms: i64,
        default_retention_secs: i64,
        limit: u32,
    ) -> Result<Vec<KnownDevice>>;
    /// In one transaction: forgets the devices of `forget` with their queued copies, each only
    /// if it has not been seen since it was read (its `last_seen` unchanged), and records the
    /// devices of `seen` as seen at `now_ms`. Returns how many were forgotten.
    async fn forget_devices(
        &self,
        forget: &[KnownDevice],
        seen: &[KnownDevice],
        now_ms: i64,
    ) -> Result<u64>;
    /// Writes messages, their queued copies and their queued vendor legs, all in one
    /// transaction. A message whose id is stored already (a task's later pages) is kept as it
    /// is, and the copies and legs refer to it.
    async fn enqueue(&self, batch: &[Enqueue]) -> Result<()>;
    /// A device's queued, unexpired deliveries with `id > after`, oldest first.
    async fn pending_for(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        after: Option<i64>,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PendingDelivery>>;
    /// Removes acknowledged deliveries, each only if it belongs to the device that acked it
    /// (same app, user and device); one transaction for the whole batch. Returns the deliveries
    /// actually removed (an id acked twice is removed once), each with its message's task.
    async fn ack(&self, acks: &[Ack]) -> Result<Vec<Acked>>;
    /// Removes expired deliveries, expired records of failed vendor legs and of counted
    /// reports, and messages nothing refers to any more: at most `limit` rows of each kind, so one call is one bounded
    /// transaction. `more` says a limit was reached; the caller calls again (after letting
    /// other writers in) until it is not.
    async fn purge_expired(&self, now_ms: i64, limit: u32) -> Result<Purged>;

    // ---- the send queue: vendor legs answered for before they were sent ------------------
    /// Claims up to `limit` batches of one (app, notifier) for `owner` until `lease_until`:
    /// batches due by `now_ms` and not leased, oldest due first; returns their legs. Each claim
    /// of a batch is an attempt of its legs.
    #[allow(clippy::too_many_arguments)]
    async fn claim_sends(
        &self,
        app_id: i64,
        notifier: &str,
        now_ms: i64,
        lease_until: i64,
        owner: i64,
        limit: u32,
    ) -> Result<Vec<QueuedSend>>;
    /// Ends or reschedules claimed legs, in one transaction: a batch whose legs all ended
    /// leaves the queue; one with legs to retry keeps only those, due again at the earliest
    /// retry time. Failed legs are kept with their reason until their message expires. When a
    /// user's last leg of a message ends, the user is counted once in its task's counters and,
    /// if it asked for a fallback and no leg was sent, the Easemob channel keeps a copy for
    /// each of the user's known devices (delivery ids from `next_id`). Legs no longer queued
    /// (ended already, or dropped with a cancelled task) are skipped.
    async fn complete_sends(
        &self,
        done: &[SendCompletion],
        now_ms: i64,
        next_id: &(dyn Fn() -> i64 + Send + Sync),
    ) -> Result<SendsCompleted>;
    /// Every (app, notifier) with queued legs.
    async fn send_queues(&self) -> Result<Vec<(i64, String)>>;
    /// When the next queued leg of (app, notifier) can be claimed (due and its lease over);
    /// `None` if nothing is queued.
    async fn next_send_due(&self, app_id: i64, notifier: &str) -> Result<Option<i64>>;
    /// Gives up the leases `owner` holds, so a restarted node takes its legs back at once.
    async fn release_send_leases(&self, owner: i64) -> Result<u64>;
    /// How many of a task's legs are still queued.
    async fn queued_sends_of_task(&self, task_id: i64) -> Result<u64>;

    // ---- notifications and tasks ---------------------------------------------------------
    async fn create_message(&self, message: &StoredMessage) -> Result<()>;
    async fn message(&self, app_id: i64, id: i64) -> Result<Option<StoredMessage>>;
    /// Creates a task if the app's task limits allow it, in one transaction: fewer than
    /// `max_running` running, and fewer than `max_in_window` counted, where a broadcast counts
    /// while it is younger than the window and a list or label task counts until it ends.
    /// Over a limit: `Limit`.
    async fn create_task(&self, task: &Task, limits: TaskLimits, now_ms: i64) -> Result<()>;
    async fn task(&self, app_id: i64, id: i64) -> Result<Option<Task>>;
    /// Tasks of an app, newest first, `offset`/`limit` paged.
    async fn list_tasks(&self, app_id: i64, offset: u32, limit: u32) -> Result<Vec<Task>>;
    /// Moves scheduled tasks whose start time has come to running, at most the app's
    /// `tasks_running_max` (else `max_running`) running per app; returns those it started.
    async fn start_due_tasks(&self, now_ms: i64, max_running: u32) -> Result<Vec<Task>>;
    /// Tasks left running (by a crash): they resume from their cursor.
    async fn running_tasks(&self) -> Result<Vec<Task>>;
    /// Saves a running task's progress: its cursor and counters, in one write.
    async fn checkpoint_task(
        &self,
        id: i64,
        cursor: Option<&str>,
        stats: &serde_json::Value,
    ) -> Result<()>;
    /// Ends a task (finished or cancelled); `false` if it had already ended. A cancelled
    /// task's legs still waiting in the send queue are dropped.
    async fn end_task(&self, app_id: i64, id: i64, status: TaskStatus, now_ms: i64)
        -> Result<bool>;
    /// Counts a user's report of a task's vendor-channel notification under `channel`, once
    /// per task, user and action: the first report is added to the task's counters and
    /// remembered until `keep_until`; a repeat changes nothing. Returns whether it counted.
    async fn record_report(
        &self,
        task_id: i64,
        username: &Username,
        action: ReportAction,
        channel: &str,
        keep_until: i64,
    ) -> Result<bool>;
    /// Adds arrivals and clicks to task counters, in one transaction.
    async fn add_task_counters(&self, counters: &[TaskCounter]) -> Result<()>;
    /// A task's arrival and click counters, per channel.
    async fn task_counters(&self, task_id: i64) -> Result<Vec<TaskCounter>>;
    /// Adds to per-app daily counters (rows with the same app, day and channel add up), in one
    /// transaction.
    async fn add_daily_stats(&self, rows: &[DailyStat]) -> Result<()>;
    /// An app's daily counters for the days `first..=last` (`yyyy-MM-dd`), by day then channel.
    async fn daily_stats(&self, app_id: i64, first: &str, last: &str) -> Result<Vec<DailyStat>>;
    /// A page of the app's users with `key > after`, in key order (the broadcast's targets).
    async fn user_page(
        &self,
        app_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Username)>>;
    /// A page of the users in every one of `labels`, by their membership in the first label,
    /// with key `> after`. `NotFound` names a missing label.
    async fn label_intersection_page(
        &self,
        app_id: i64,
        labels: &[LabelName],
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Username)>>;

    // ---- push certificates ---------------------------------------------------------------
    /// Adds a notifier, or replaces the one of that name (a new key or secret). Returns
    /// whether it replaced one.
    async fn put_notifier(&self, notifier: &Notifier) -> Result<bool>;
    async fn notifier(&self, app_id: i64, name: &str) -> Result<Option<Notifier>>;
    async fn notifiers(&self, app_id: i64) -> Result<Vec<Notifier>>;
    /// Removes a notifier; `false` if there was none.
    async fn delete_notifier(&self, app_id: i64, name: &str) -> Result<bool>;

    /// Closes connections cleanly (checkpointing the SQLite WAL).
    async fn close(&self);
}

#[cfg(test)]
mod sqlite_contract {
    use std::sync::Arc;

    use crate::sqlite::SqliteStore;
    use crate::Store;

    crate::store_contract_tests!(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        (Arc::new(store) as Arc<dyn Store>, dir)
    });
}
