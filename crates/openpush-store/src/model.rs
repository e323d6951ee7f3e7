//! Rows as the rest of OpenPush sees them.

use openpush_core::{Nickname, Username};
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq)]
pub struct App {
    pub id: i64,
    pub uuid: String,
    pub org: String,
    pub name: String,
    pub client_id: String,
    /// SHA-256 of the client secret; the secret itself is never stored.
    pub secret_hash: Vec<u8>,
    pub created: i64,
    /// Offline retention of the Easemob channel for this app, in seconds; `None` = the
    /// server's default.
    pub offline_retention_secs: Option<i64>,
    /// Tasks running at once for this app; `None` = the server's setting.
    pub tasks_running_max: Option<u32>,
    /// Tasks per creation window for this app; `None` = the server's setting.
    pub tasks_per_window: Option<u32>,
    /// App tokens issued before this time (epoch ms) are refused: set when the client secret
    /// is rotated. 0 refuses none.
    pub app_tokens_valid_from: i64,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl App {
    /// `org#app`, as Easemob writes app keys.
    pub fn app_key(&self) -> String {
        format!("{}#{}", self.org, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub uuid: String,
    pub org: String,
    pub name: String,
    pub client_id: String,
    pub secret_hash: Vec<u8>,
    pub created: i64,
}

/// Legacy do-not-disturb fields of `PUT /users/{u}`, which SDKs still send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyDnd {
    pub enabled: bool,
    pub start_hour: Option<u8>,
    pub end_hour: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Paging key: increasing in creation order.
    pub key: i64,
    pub username: Username,
    pub uuid: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub nickname: String,
    pub display_style: i32,
    pub language: String,
    pub legacy_dnd: Option<LegacyDnd>,
    pub activated: bool,
    pub created: i64,
    pub modified: i64,
    /// The user's tokens issued before this time (epoch ms) are refused: set when its
    /// password changes or its tokens are revoked. 0 refuses none.
    pub tokens_valid_from: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub uuid: String,
    pub password_hash: String,
    pub nickname: String,
    pub created: i64,
}

#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub nickname: Option<Nickname>,
    pub display_style: Option<i32>,
    pub language: Option<String>,
    pub legacy_dnd: Option<LegacyDnd>,
}

#[derive(Debug, Clone, Default)]
pub struct CreatedUsers {
    pub created: Vec<User>,
    pub existing: Vec<Username>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub username: Username,
    pub device_id: String,
    pub notifier_name: String,
    pub device_token: String,
    pub updated: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: i64,
    pub name: String,
    pub description: String,
    pub count: i64,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMember {
    pub key: i64,
    pub username: Username,
    pub created: i64,
}

/// Why one user of an add/remove call was not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFailure {
    UserNotFound,
    LabelFull,
    NotMember,
}

impl MemberFailure {
    pub fn reason(self) -> &'static str {
        match self {
            Self::UserNotFound => "user not exists",
            Self::LabelFull => "label users exceed the limit",
            Self::NotMember => "user not in label",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChange {
    pub success: Vec<Username>,
    pub fail: Vec<(Username, MemberFailure)>,
}

/// A notification body for the Easemob channel, stored once per send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMessage {
    pub id: i64,
    pub app_id: i64,
    pub task_id: Option<i64>,
    pub push_msg_id: Option<i64>,
    /// The pushMessage as stored (JSON text).
    pub body: String,
    pub sent_at: i64,
    pub expires_at: i64,
}

/// One queued copy of a message for one device (`device_id` empty: the user has no known
/// device yet; the first device to connect adopts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    pub id: i64,
    pub username: Username,
    pub device_id: String,
}

/// One vendor leg to send later through the send queue: a user's binding to a notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRow {
    pub id: i64,
    pub username: Username,
    pub device_id: String,
    pub notifier: String,
    pub device_token: String,
    /// Strategies 0 and 3: if no leg of this user's group is sent, the Easemob channel keeps
    /// a copy for the user.
    pub fallback: bool,
}

/// A message, its queued Easemob-channel copies and its queued vendor legs, written in one
/// transaction.
#[derive(Debug, Clone)]
pub struct Enqueue {
    pub message: ChannelMessage,
    pub rows: Vec<PendingRow>,
    pub sends: Vec<SendRow>,
}

/// A vendor leg claimed from the send queue: the worker holds its batch's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedSend {
    pub id: i64,
    /// The queued batch the leg came in (legs of one message and notifier).
    pub batch: i64,
    pub app_id: i64,
    pub username: Username,
    pub device_id: String,
    pub notifier: String,
    pub device_token: String,
    /// Claims of its batch so far, this one included.
    pub attempts: u32,
    /// Shared by the legs of one message.
    pub message: std::sync::Arc<ChannelMessage>,
}

/// How a claimed vendor leg ended, or when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEnd {
    /// The vendor accepted it.
    Sent,
    /// Final: refused, token dead, retries exhausted or expired. Counted as `fail`, or as
    /// `unknown` when no vendor answer said why (it could not be reached).
    Failed { reason: String, unknown: bool },
    /// Not yet: back in the queue, due again at `due_at` (ms).
    Retry { due_at: i64, reason: String },
}

/// The end of one claimed leg. `channel` is what statistics count it under: the vendor's name,
/// or `vendor` when the notifier could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCompletion {
    pub id: i64,
    pub batch: i64,
    pub channel: String,
    pub end: SendEnd,
}

/// What a batch of completions led to: the user groups that ended (once each), and the
/// Easemob-channel copies written for those that fell back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendsCompleted {
    pub groups: Vec<GroupEnd>,
    /// Copies now in the offline queue: (user, device id or `""`, delivery id, message).
    pub fallbacks: Vec<(Username, String, i64, ChannelMessage)>,
}

/// A user's legs of one message have all ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEnd {
    pub app_id: i64,
    pub task_id: Option<i64>,
    pub username: Username,
    /// At least one leg was sent.
    pub sent: bool,
    /// None was sent and the Easemob channel took a copy.
    pub fell_back: bool,
    /// None was sent, no fallback, and at least one leg ended without a vendor's answer.
    pub unknown: bool,
}

/// A known device of the Easemob channel, as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub app_id: i64,
    pub username: Username,
    pub device_id: String,
    pub last_seen: i64,
}

/// What one bounded purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired deliveries removed from the offline queue.
    pub deliveries: u64,
    /// Some kind of row reached the call's limit: there may be more to remove.
    pub more: bool,
}

/// A queued delivery as replayed to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub id: i64,
    pub message: ChannelMessage,
}

/// A device's acknowledgement of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub app_id: i64,
    pub username: Username,
    pub device_id: String,
    pub id: i64,
}

/// A delivery an ack removed from the offline queue, with the task its message belongs to (as
/// stored, whatever the device said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    pub id: i64,
    pub task_id: Option<i64>,
}

/// What a device reports of a vendor-channel notification of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAction {
    Arrived,
    Clicked,
}

/// Counters to add to a task's for one channel: arrivals and clicks reported by devices, and
/// the send results of legs that ended in the send queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCounter {
    pub task_id: i64,
    /// `easemob`, or the vendor's name (lower case); `""` for per-target totals.
    pub channel: String,
    pub arrived: i64,
    pub clicked: i64,
    /// Send results of legs that ended in the send queue.
    pub success: i64,
    pub fail: i64,
    pub unknown: i64,
}

/// One app's counters for one day (UTC, `yyyy-MM-dd`) and channel (`easemob`, a vendor's name,
/// or `vendor` when the binding's notifier could not be used). Adding rows adds their counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyStat {
    pub app_id: i64,
    pub day: String,
    pub channel: String,
    pub success: i64,
    pub fail: i64,
    pub unknown: i64,
    pub arrived: i64,
    pub clicked: i64,
}

/// What a task pushes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Every user of the app.
    Broadcast,
    /// The listed users.
    List,
    /// The users in every one of the listed labels.
    Label,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Broadcast => "broadcast",
            Self::List => "list",
            Self::Label => "label",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "broadcast" => Some(Self::Broadcast),
            "list" => Some(Self::List),
            "label" => Some(Self::Label),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for its start time (or for a free running slot).
    Scheduled,
    Running,
    Finished,
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Self::Scheduled),
            "running" => Some(Self::Running),
            "finished" => Some(Self::Finished),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub app_id: i64,
    pub kind: TaskKind,
    pub push_msg_id: Option<i64>,
    /// The pushMessage as stored (JSON text).
    pub message: String,
    pub strategy: i64,
    pub targets: Vec<String>,
    pub status: TaskStatus,
    pub start_at: i64,
    pub created: i64,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub cursor: Option<String>,
    /// Notifications per second to spread the task over; `None` = as fast as possible.
    pub rate: Option<i64>,
    /// Counters as JSON (see the engine's task statistics).
    pub stats: serde_json::Value,
}

/// Easemob's task-creation limits, checked in the creating transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    /// Tasks running at once per app.
    pub max_running: u32,
    /// Tasks counted in the creation window per app.
    pub max_in_window: u32,
    /// The window, in ms.
    pub window_ms: i64,
}

/// A stored notification (`POST /push/message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: i64,
    pub app_id: i64,
    pub body: String,
    pub created: i64,
}

/// A push certificate. `credentials` holds secrets; `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Notifier {
    pub app_id: i64,
    pub name: String,
    pub vendor: String,
    pub environment: String,
    pub credentials: serde_json::Value,
    pub base_url: Option<String>,
    pub created: i64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("vendor", &self.vendor)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}
