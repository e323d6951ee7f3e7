//! Server configuration. Defaults → TOML file → `OPENPUSH_*` environment (the binary layers
//! them). Every field documents its default; `openpush default-config` prints
//! [`DEFAULT_CONFIG_TOML`], which a test keeps equal to [`Config::default`].

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on. Default: "127.0.0.1:8099". Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory of the embedded SQLite store. Default: "./openpush-data".
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes; a bigger one gets 413. Default: 1048576.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM / Ctrl-C. Default: 30.
    pub shutdown_grace_secs: u64,
    pub http: HttpConfig,
    pub token: TokenConfig,
    pub limits: Limits,
    pub rate_limits: RateLimits,
    pub gateway: openpush_gateway::GatewayConfig,
    pub send_queue: SendQueueConfig,
    pub vendors: VendorsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8099)),
            data_dir: PathBuf::from("./openpush-data"),
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            http: HttpConfig::default(),
            token: TokenConfig::default(),
            limits: Limits::default(),
            rate_limits: RateLimits::default(),
            gateway: openpush_gateway::GatewayConfig::default(),
            send_queue: SendQueueConfig::default(),
            vendors: VendorsConfig::default(),
        }
    }
}

/// The send queue: vendor legs answered for before they are sent (`/push/async`,
/// `/push/single`, task pages), drained by a worker per (app, notifier).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendQueueConfig {
    /// Attempts before a leg whose vendor never answered (down, timing out) ends as failed.
    /// Default: 20.
    pub max_attempts: u32,
    /// Wait after the first failed attempt, in milliseconds; it doubles per attempt (with
    /// jitter). Default: 1000.
    pub backoff_base_ms: u64,
    /// Longest wait between attempts, in seconds. Default: 600.
    pub backoff_max_secs: u64,
    /// How long a claimed leg is leased, in seconds; one still unanswered after that is claimed
    /// again. Default: 120.
    pub lease_secs: u64,
    /// Queued batches a worker claims at once (a batch: up to 500 legs of one message).
    /// Default: 8.
    pub claim_batch: u32,
    /// Claims a worker keeps in flight at once. Default: 8.
    pub claims_in_flight: usize,
}

impl Default for SendQueueConfig {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            backoff_base_ms: 1000,
            backoff_max_secs: 600,
            lease_secs: 120,
            claim_batch: 8,
            claims_in_flight: 8,
        }
    }
}

impl SendQueueConfig {
    /// The engine's settings for this node.
    pub fn outbox(&self, node: i64) -> openpush_engine::OutboxConfig {
        let lease = std::time::Duration::from_secs(self.lease_secs.max(2));
        openpush_engine::OutboxConfig {
            node,
            claim_batch: self.claim_batch.max(1),
            claims_in_flight: self.claims_in_flight.max(1),
            lease,
            // A vendor call gives up before its lease ends, so no other claim overlaps it.
            send_timeout: lease.mul_f64(0.75),
            max_attempts: self.max_attempts.max(1),
            backoff_base: std::time::Duration::from_millis(self.backoff_base_ms),
            backoff_max: std::time::Duration::from_secs(self.backoff_max_secs),
            ..openpush_engine::OutboxConfig::default()
        }
    }
}

/// HTTP connections: timeouts against clients that hold connections open without using them,
/// and caps on how many are open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Milliseconds a client has to send a request's whole header: the first request's from
    /// when the connection is accepted, later ones' from their first byte. Late: the
    /// connection is closed. Default: 10000.
    pub header_read_timeout_ms: u64,
    /// Milliseconds a connection may stay open with no request in flight; then it is closed
    /// (gracefully; dropped if it has not closed after as long again). Device WebSockets are
    /// kept alive by their heartbeats instead. Default: 60000.
    pub keep_alive_timeout_ms: u64,
    /// Connections open at once, HTTP and device WebSockets together; over it a new connection
    /// is closed at once. 0 = as many as the open-file limit allows; a larger value is lowered
    /// to that, with a warning at start (the limit less a reserve of an eighth of it, 64 to
    /// 1024 descriptors, for the store and the vendor clients). Default: 0.
    pub max_connections: usize,
    /// Connections open at once from one source address (an IPv4 address or an IPv6 /64); over
    /// it a new connection from that source is closed at once. Devices behind one carrier NAT
    /// share an address: raise it for such fleets. 0 = no cap per source; more than half of
    /// the total cap is lowered to that half, with a warning at start. Default: 1000.
    pub max_connections_per_source: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            keep_alive_timeout_ms: 60_000,
            max_connections: 0,
            max_connections_per_source: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Lifetime of a token when the request has no `ttl`, in seconds. Default: 5184000 (60 days).
    pub default_ttl_secs: u64,
    /// Longest lifetime a token can get, in seconds: a larger requested `ttl` (and `ttl: 0`,
    /// never expires) is lowered to it. 0 = no maximum (`ttl: 0` then never expires). Default: 0.
    pub max_ttl_secs: u64,
    /// The key tokens are signed with: base64 of 32 bytes (`OPENPUSH_TOKEN__SIGNING_KEY`).
    /// Empty = `signing_key_file`, or else the key kept in the store. Default: "".
    pub signing_key: SecretString,
    /// A file holding the signing key as base64 of 32 bytes, kept outside the data directory.
    /// Empty = none. Default: "".
    pub signing_key_file: PathBuf,
    /// The key tokens were signed with before the current one: tokens it signed are still
    /// accepted (new ones are signed with the current key), for a grace period after a key
    /// rotation. Empty = none. Default: "".
    pub previous_signing_key: SecretString,
    /// A file holding the previous key. Empty = none. Default: "".
    pub previous_signing_key_file: PathBuf,
    /// Seconds a running server trusts its cached copy of an app (its client secret, the time
    /// before which its tokens are refused, its settings) before reading it again, so an
    /// `openpush app rotate-secret` run beside it takes effect within this time (at once for
    /// `/token`, which reads the app every time). Default: 5.
    pub app_cache_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            default_ttl_secs: 60 * 24 * 3600,
            max_ttl_secs: 0,
            signing_key: SecretString::default(),
            signing_key_file: PathBuf::new(),
            previous_signing_key: SecretString::default(),
            previous_signing_key_file: PathBuf::new(),
            app_cache_secs: 5,
        }
    }
}

impl TokenConfig {
    /// The configured signing key, if any (`None`: use the store's).
    pub fn signing_key(&self) -> Result<Option<[u8; 32]>, String> {
        key_setting(
            "token.signing_key",
            &self.signing_key,
            "token.signing_key_file",
            &self.signing_key_file,
        )
    }

    /// The configured previous key, if any.
    pub fn previous_signing_key(&self) -> Result<Option<[u8; 32]>, String> {
        key_setting(
            "token.previous_signing_key",
            &self.previous_signing_key,
            "token.previous_signing_key_file",
            &self.previous_signing_key_file,
        )
    }

    /// The lifetime a token gets for a requested `ttl` (0 = never expires), after
    /// `max_ttl_secs`.
    pub fn clamp_ttl(&self, ttl: u64) -> u64 {
        match self.max_ttl_secs {
            0 => ttl,
            max if ttl == 0 || ttl > max => max,
            _ => ttl,
        }
    }
}

fn key_setting(
    inline_name: &str,
    inline: &SecretString,
    file_name: &str,
    file: &std::path::Path,
) -> Result<Option<[u8; 32]>, String> {
    let from_file = !file.as_os_str().is_empty();
    match (inline.is_empty(), from_file) {
        (true, false) => Ok(None),
        (false, true) => Err(format!("set {inline_name} or {file_name}, not both")),
        (false, false) => crate::auth::parse_signing_key(inline.expose())
            .map(Some)
            .map_err(|e| format!("{inline_name} must be base64 of 32 bytes: {e}")),
        (true, true) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("reading {file_name} {}: {e}", file.display()))?;
            crate::auth::parse_signing_key(&text)
                .map(Some)
                .map_err(|e| {
                    format!(
                        "{file_name} {} must hold base64 of 32 bytes: {e}",
                        file.display()
                    )
                })
        }
    }
}

/// A secret setting: `Debug` shows only whether it is set.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

/// Size limits of the API (Easemob's label and user limits by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Users per `POST /users` batch. Default: 60.
    pub users_per_batch: usize,
    /// Page size of `GET /users` when `limit` is absent. Default: 10.
    pub users_page_default: u32,
    /// Largest `limit` of `GET /users`. Default: 100.
    pub users_page_max: u32,
    /// Longest nickname / push nickname, in characters. Default: 100.
    pub nickname_max_chars: usize,
    /// Items per `PUT /push/nickname` call. Default: 50.
    pub nicknames_per_batch: usize,
    /// Labels per app. Default: 100.
    pub labels_per_app: u32,
    /// Longest label description, in characters. Default: 255.
    pub label_description_max_chars: usize,
    /// Usernames per label add/remove call. Default: 100.
    pub label_users_per_call: usize,
    /// Members per label. Default: 20000.
    pub users_per_label: u32,
    /// Largest `limit` of the label lists (default page size too). Default: 100.
    pub label_page_max: u32,
    /// Users per `POST /push/single`. Default: 100.
    pub push_targets_max: usize,
    /// Users per list task (`POST /push/list`). Default: 1000.
    pub list_targets_max: usize,
    /// Labels per label task (their intersection is pushed). Default: 3.
    pub labels_per_task: usize,
    /// Tasks running at once per app (Easemob's task limits). Default: 3.
    pub tasks_running_max: u32,
    /// Tasks counted per creation window per app (Easemob's task limits). Default: 3.
    pub tasks_per_window: u32,
    /// The creation window, in seconds. Default: 300.
    pub task_window_secs: u64,
    /// Targets a task pushes per page (and checkpoints after). Default: 500.
    pub task_page_size: u32,
    /// How far ahead a `startDate` must be, in seconds (Easemob: one hour). Default: 3600. Lowered
    /// only by the benchmark harness to measure scheduled starts without waiting an hour.
    pub schedule_min_lead_secs: u64,
    /// Password hashes (Argon2, about 19 MiB each) computed at once, for `POST /users` and the
    /// `password` grant together; 0 = twice the CPU cores. Default: 0.
    pub password_hash_concurrency: usize,
    /// Password hashes waiting for a slot; work that would not fit gets 429. Default: 256.
    pub password_hash_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            users_per_batch: 60,
            users_page_default: 10,
            users_page_max: 100,
            nickname_max_chars: 100,
            nicknames_per_batch: 50,
            labels_per_app: 100,
            label_description_max_chars: 255,
            label_users_per_call: 100,
            users_per_label: 20_000,
            label_page_max: 100,
            push_targets_max: 100,
            list_targets_max: 1000,
            labels_per_task: 3,
            tasks_running_max: 3,
            tasks_per_window: 3,
            task_window_secs: 300,
            task_page_size: 500,
            schedule_min_lead_secs: 3600,
            password_hash_concurrency: 0,
            password_hash_queue: 256,
        }
    }
}

/// Requests per second per app key, per endpoint group (Easemob's rates by default). A group
/// allows a burst of one second's worth. Over the limit: 429.
/// Requests per second per app key, per endpoint group. A group allows a burst of one second's
/// worth. Over the limit: 429 with `Retry-After`. Only requests that authenticated (a valid
/// token of the app, or a `/token` grant with correct credentials) spend an app's budget;
/// failed and unauthenticated requests are limited per source address instead
/// (`failed_per_source`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Turns every rate limit on or off. Default: true.
    pub enabled: bool,
    /// `POST /token`. Default: 300.
    pub token: u32,
    /// `/users` CRUD and every other IM endpoint. Default: 100.
    pub users: u32,
    /// `PUT`/`GET /users/{u}/push/binding`, combined. Default: 100.
    pub binding: u32,
    /// `/users/{u}/notification/...`, `/push/nickname`, language. Default: 100.
    pub user_settings: u32,
    /// `/push/label` create, get, list, delete. Default: 10.
    pub label: u32,
    /// `/push/label/{name}/user` add, get, list, remove. Default: 30.
    pub label_user: u32,
    /// `POST /push/sync/{user}`. Default: 1.
    pub push_sync: u32,
    /// `POST /push/async/{user}`. Default: 200.
    pub push_async: u32,
    /// `POST /push/single`. Default: 10.
    pub push_single: u32,
    /// `POST /push/task`, `/push/task/broadcast`, `/push/message`, `/push/message/{id}`, each. Default: 1.
    pub push_task: u32,
    /// `POST /push/list`. Default: 10.
    pub push_list: u32,
    /// `POST /push/list/label`. Default: 10.
    pub push_list_label: u32,
    /// `GET /push/tasks`, `GET /push/task/{id}` and `DELETE /push/task/{id}` (task queries and
    /// cancel). Default: 50.
    pub tasks: u32,
    /// `/notifiers` (push certificates: add, list, get, remove). Default: 10.
    pub notifiers: u32,
    /// `GET /push/data/...` (statistics). Default: 1 (Easemob: 10 per 10 s).
    pub stats: u32,
    /// Failed or unauthenticated requests per second per source address (an IPv4 address or
    /// an IPv6 /64), whatever app they name; over it: 429 with `Retry-After`. Requests that
    /// authenticate are never counted or refused by it. 0 = not limited. Default: 5.
    pub failed_per_source: u32,
    /// How many failed or unauthenticated requests a source may send at once before
    /// `failed_per_source` applies. Default: 50.
    pub failed_burst_per_source: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            token: 300,
            users: 100,
            binding: 100,
            user_settings: 100,
            label: 10,
            label_user: 30,
            push_sync: 1,
            push_async: 200,
            push_single: 10,
            push_task: 1,
            push_list: 10,
            push_list_label: 10,
            tasks: 50,
            notifiers: 10,
            stats: 1,
            failed_per_source: 5,
            failed_burst_per_source: 50,
        }
    }
}

/// Which hosts a notifier's `base_url` may name. The server sends the app's vendor credentials
/// to that URL, so by default it must not point into the server's own network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VendorsConfig {
    /// Accept base URLs whose host is a literal private (10/8, 172.16/12, 192.168/16),
    /// link-local (169.254/16, fe80::/10), unique-local (fc00::/7) or unspecified address.
    /// Default: false.
    pub allow_private_base_url: bool,
    /// Accept base URLs on loopback (127/8, ::1, localhost), where the vendor stand-ins of
    /// `openpush mock-vendors` and the tests run. Default: true.
    pub allow_loopback_base_url: bool,
}

impl Default for VendorsConfig {
    fn default() -> Self {
        Self {
            allow_private_base_url: false,
            allow_loopback_base_url: true,
        }
    }
}

impl VendorsConfig {
    /// The base URL policy these settings make.
    pub fn base_url_policy(&self) -> openpush_core::notifier::BaseUrlPolicy {
        openpush_core::notifier::BaseUrlPolicy {
            allow_private: self.allow_private_base_url,
            allow_loopback: self.allow_loopback_base_url,
        }
    }
}

/// The documented configuration file, every setting at its default.
pub const DEFAULT_CONFIG_TOML: &str = r#"# OpenPush configuration. Every setting is shown at its default.
# Precedence: defaults < this file (--config FILE) < OPENPUSH_* environment variables
# (nested keys use a double underscore: OPENPUSH_RATE_LIMITS__LABEL=50) < --listen / --data-dir.

# Address the HTTP server listens on. Port 0 picks a free port.
listen = "127.0.0.1:8099"
# Directory of the embedded SQLite store (WAL mode).
data_dir = "./openpush-data"
# Largest request body accepted, in bytes; a bigger one gets 413.
max_body_bytes = 1048576
# Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
shutdown_grace_secs = 30

[http]
# HTTP connections. Milliseconds a client has to send a request's whole header: the first
# request's from when the connection is accepted, later ones' from their first byte; late: closed.
header_read_timeout_ms = 10000
# Milliseconds a connection may stay open with no request in flight; then it is closed. Device
# WebSockets are kept alive by their heartbeats instead.
keep_alive_timeout_ms = 60000
# Connections open at once (HTTP and device WebSockets); over it a new one is closed at once.
# 0 = as many as the open-file limit allows (less a reserve for the store and vendor clients); a
# larger value is lowered to that, with a warning at start.
max_connections = 0
# Connections open at once from one source address (IPv4 address or IPv6 /64); 0 = no cap; more
# than half of the total cap is lowered to that half. Devices behind one carrier NAT share an
# address: raise it for such fleets.
max_connections_per_source = 1000

[token]
# Lifetime of a token when the request has no `ttl`, in seconds (60 days). ttl = 0 never expires.
default_ttl_secs = 5184000
# Longest lifetime a token can get, in seconds: a larger ttl, and ttl = 0, are lowered to it.
# 0 = no maximum (ttl = 0 then never expires).
max_ttl_secs = 0
# The key tokens are signed with, base64 of 32 bytes (or OPENPUSH_TOKEN__SIGNING_KEY). Empty:
# signing_key_file, or else the key kept in the store.
signing_key = ""
# A file holding the signing key as base64 of 32 bytes, outside the data directory. Empty: none.
signing_key_file = ""
# The key before the current one: tokens it signed are still accepted (a grace period after a
# key rotation); new tokens are signed with the current key. Empty: none.
previous_signing_key = ""
# A file holding the previous key. Empty: none.
previous_signing_key_file = ""
# Seconds a running server trusts its cached copy of an app (client secret, token revocation,
# settings) before reading it again: `openpush app rotate-secret` takes effect within this time
# (at once for /token, which always reads the app).
app_cache_secs = 5

[limits]
# Users per POST /users batch.
users_per_batch = 60
# Page size of GET /users when `limit` is absent.
users_page_default = 10
# Largest `limit` of GET /users.
users_page_max = 100
# Longest nickname / push nickname, in characters.
nickname_max_chars = 100
# Items per PUT /push/nickname call.
nicknames_per_batch = 50
# Labels per app.
labels_per_app = 100
# Longest label description, in characters.
label_description_max_chars = 255
# Usernames per label add/remove call.
label_users_per_call = 100
# Members per label.
users_per_label = 20000
# Largest `limit` of the label lists (also their default page size).
label_page_max = 100
# Users per POST /push/single.
push_targets_max = 100
# Users per list task (POST /push/list).
list_targets_max = 1000
# Labels per label task (their intersection is pushed).
labels_per_task = 3
# Tasks running at once per app.
tasks_running_max = 3
# Tasks counted per creation window per app: a broadcast counts until it is older than the
# window, a list or label task until it ends or is older than the window, whichever is first.
tasks_per_window = 3
# The creation window, in seconds.
task_window_secs = 300
# Targets a task pushes per page (and checkpoints after).
task_page_size = 500
# How far ahead a startDate must be, in seconds (Easemob: one hour).
schedule_min_lead_secs = 3600
# Password hashes (Argon2, about 19 MiB each) computed at once, for POST /users and the password
# grant together; 0 = twice the CPU cores.
password_hash_concurrency = 0
# Password hashes waiting for a slot; work that would not fit is refused with 429 + Retry-After.
password_hash_queue = 256

[rate_limits]
# Requests per second per app key and endpoint group; a burst of one second's worth. Over: 429
# with Retry-After. A rate of 0 leaves that group unlimited. Only requests that authenticated (a
# valid token of the app, or a /token grant with correct credentials) spend an app's budget.
# Turns every rate limit on or off.
enabled = true
# POST /token.
token = 300
# /users CRUD and every other IM endpoint.
users = 100
# PUT/GET /users/{u}/push/binding, combined.
binding = 100
# /users/{u}/notification/..., /push/nickname, language.
user_settings = 100
# /push/label create, get, list, delete.
label = 10
# /push/label/{name}/user add, get, list, remove.
label_user = 30
# POST /push/sync/{user}.
push_sync = 1
# POST /push/async/{user}.
push_async = 200
# POST /push/single.
push_single = 10
# POST /push/task, /push/task/broadcast, /push/message, /push/message/{id}: each.
push_task = 1
# POST /push/list.
push_list = 10
# POST /push/list/label.
push_list_label = 10
# GET /push/tasks, GET and DELETE /push/task/{id}.
tasks = 50
# /notifiers: add, list, get, remove push certificates.
notifiers = 10
# GET /push/data/... (statistics; Easemob: 10 per 10 s).
stats = 1
# Failed or unauthenticated requests per second per source address (IPv4 address or IPv6 /64),
# whatever app they name; over: 429 with Retry-After. Requests that authenticate are never counted
# or refused by it (an app server behind the same address as an attacker keeps working). 0 = off.
failed_per_source = 5
# Failed or unauthenticated requests a source may send at once before failed_per_source applies.
failed_burst_per_source = 50

[gateway]
# The Easemob channel (device WebSocket at /{org}/{app}/push/connect).
# Seconds between the heartbeats a device is told to send; silent for three of them: closed.
heartbeat_secs = 30
# Notifications queued per connection before it counts as too slow (closed with 4008).
send_queue = 256
# Queued notifications read from the store per replay page.
replay_page = 256
# How long the offline queue keeps a notification unless the app sets its own (7 days).
offline_retention_secs = 604800
# Connection-table shards.
hub_shards = 64
# Largest frame a device may send, in bytes (at least 1024); a larger one ends its connection
# (close 1009).
max_frame_bytes = 16384
# Most delivery ids one ack frame may carry (devices are told in `welcome`); a frame with more
# closes the connection (1008).
max_ids_per_frame = 256
# Deliveries a connection remembers having sent (the newest; about 50 bytes each): an ack of an
# online-only delivery, and a click, count only for one of these, once. 0 remembers none.
remembered_deliveries = 1024
# Devices a user may have, known (a stored push writes a copy per known device) and connected at
# once. A new device over the cap: the user's least recently seen one is forgotten with its queued
# copies, and its least recently heard-from connection is closed with 4010. At least 1.
max_devices_per_user = 20
# Seconds between runs of the background upkeep: the expiry purge, and the sweep that forgets
# known devices unseen for their app's offline retention (at most 1000 a run).
upkeep_interval_secs = 60

[send_queue]
# Vendor legs answered for before they are sent (/push/async, /push/single, task pages) are
# committed to the store first and drained by a worker per (app, push certificate).
# Attempts before a leg whose vendor never answered (down, timing out) ends as failed.
max_attempts = 20
# Wait after the first failed attempt, in milliseconds; it doubles per attempt (with jitter).
backoff_base_ms = 1000
# Longest wait between attempts, in seconds.
backoff_max_secs = 600
# How long a claimed leg is leased, in seconds; one still unanswered after that is claimed again.
lease_secs = 120
# Queued batches a worker claims at once (a batch: up to 500 legs of one message).
claim_batch = 8
# Claims a worker keeps in flight at once.
claims_in_flight = 8

[vendors]
# Which hosts a notifier's base_url may name (the server sends the app's vendor credentials there).
# Accept literal private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10),
# unique-local (fc00::/7) and unspecified addresses. Host names are not resolved for this check.
allow_private_base_url = false
# Accept loopback (127/8, ::1, localhost): where `openpush mock-vendors` and the tests run.
allow_loopback_base_url = true
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_clamps_to_the_maximum_and_keys_parse() {
        let mut t = TokenConfig::default();
        assert_eq!((t.clamp_ttl(0), t.clamp_ttl(99)), (0, 99));
        t.max_ttl_secs = 60;
        assert_eq!(
            (t.clamp_ttl(0), t.clamp_ttl(99), t.clamp_ttl(30)),
            (60, 60, 30)
        );
        assert_eq!(t.signing_key(), Ok(None));
        t.signing_key = SecretString::new("A".repeat(43));
        assert_eq!(t.signing_key(), Ok(Some([0; 32])));
        assert!(!format!("{t:?}").contains("AAAA"), "{t:?}");
        t.signing_key_file = "/nonexistent".into();
        assert!(t.signing_key().unwrap_err().contains("not both"));
        t.signing_key = SecretString::default();
        assert!(t.signing_key().unwrap_err().contains("/nonexistent"));
        t.previous_signing_key = SecretString::new("short");
        assert!(t
            .previous_signing_key()
            .unwrap_err()
            .contains("previous_signing_key"));
    }

    #[test]
    fn documented_file_is_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn documented_file_names_every_setting() {
        // Every key of the serialised default appears in the documented file, so a new
        // setting cannot be added without documenting it.
        let value = serde_json::to_value(Config::default()).unwrap();
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            if let Some(map) = v.as_object() {
                for (k, v) in map {
                    if v.is_object() {
                        walk(k, v, out);
                    } else {
                        out.push(format!("{prefix}.{k}"));
                    }
                }
            }
        }
        let mut keys = Vec::new();
        walk("", &value, &mut keys);
        let doc: toml::Value = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        for key in keys {
            let (section, name) = key.split_once('.').unwrap();
            let found = if section.is_empty() {
                doc.get(name)
            } else {
                doc.get(section).and_then(|s| s.get(name))
            };
            assert!(
                found.is_some(),
                "setting {key} is missing from DEFAULT_CONFIG_TOML"
            );
        }
    }
}
