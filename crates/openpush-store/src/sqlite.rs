//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so every write transaction is
//! serialised: check-then-insert sequences (label limits, member limits) are atomic without
//! `BEGIN IMMEDIATE` gymnastics, and readers never see `SQLITE_BUSY` from a writer upgrade.
//! Reads use a separate pool and see the last committed state.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use openpush_core::settings::{ChatType, NotificationPatch, NotificationSetting, NotifyType};
use openpush_core::{DeviceId, DeviceToken, LabelName, Nickname, NotifierName, Username};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{
    Ack, Acked, App, Binding, ChannelMessage, CreatedUsers, Enqueue, KnownDevice, Label,
    LabelMember, MemberChange, MemberFailure, NewApp, NewUser, PendingDelivery, Purged, Result,
    Store, StoreError, StoredMessage, Task, TaskKind, TaskLimits, TaskStatus, User, UserUpdate,
};
use crate::{
    DailyStat, GroupEnd, Notifier, QueuedSend, ReportAction, SendCompletion, SendEnd, SendRow,
    SendsCompleted, TaskCounter,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

fn backend(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Backend {
        context,
        source: Box::new(e),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `openpush.db` in `dir` and applies migrations.
    pub async fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend {
            context: "creating the data directory",
            source: Box::new(e),
        })?;
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend("building SQLite options"))?
            .filename(dir.join("openpush.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(opts.clone())
            .await
            .map_err(backend("opening the SQLite database"))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend {
                context: "applying SQLite migrations",
                source: Box::new(e),
            })?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await
            .map_err(backend("opening SQLite readers"))?;
        Ok(Self { writer, reader })
    }
}

fn app_from_row(r: &SqliteRow) -> App {
    App {
        id: r.get("id"),
        uuid: r.get("uuid"),
        org: r.get("org"),
        name: r.get("name"),
        client_id: r.get("client_id"),
        secret_hash: r.get("secret_hash"),
        created: r.get("created"),
        offline_retention_secs: r.get("offline_retention_secs"),
        tasks_running_max: r
            .get::<Option<i64>, _>("tasks_running_max")
            .and_then(|n| u32::try_from(n).ok()),
        tasks_per_window: r
            .get::<Option<i64>, _>("tasks_per_window")
            .and_then(|n| u32::try_from(n).ok()),
        app_tokens_valid_from: r.get("app_tokens_valid_from"),
    }
}

/// Rows come only from our own writes, so a value that fails to parse means corruption; we
/// surface it as a backend error instead of panicking.
fn stored_username(s: String) -> Result<Username> {
    Username::parse(&s).map_err(|e| StoreError::Backend {
        context: "reading a stored username",
        source: Box::new(e),
    })
}

fn user_from_row(r: &SqliteRow) -> Result<User> {
    let legacy: Option<String> = r.get("legacy_dnd");
    Ok(User {
        key: r.get("id"),
        username: stored_username(r.get("username"))?,
        uuid: r.get("uuid"),
        password_hash: r.get("password_hash"),
        nickname: r.get("nickname"),
        display_style: r.get("display_style"),
        language: r.get("language"),
        legacy_dnd: legacy.and_then(|s| serde_json::from_str(&s).ok()),
        activated: r.get::<i64, _>("activated") != 0,
        created: r.get("created"),
        modified: r.get("modified"),
        tokens_valid_from: r.get("tokens_valid_from"),
    })
}

fn binding_from_row(r: &SqliteRow) -> Result<Binding> {
    Ok(Binding {
        username: stored_username(r.get("username"))?,
        device_id: r.get("device_id"),
        notifier_name: r.get("notifier_name"),
        device_token: r.get("device_token"),
        updated: r.get("updated"),
    })
}

fn label_from_row(r: &SqliteRow) -> Label {
    Label {
        key: r.get("id"),
        name: r.get("name"),
        description: r.get("description"),
        count: r.get("member_count"),
        created: r.get("created"),
    }
}

fn member_from_row(r: &SqliteRow) -> Result<LabelMember> {
    Ok(LabelMember {
        key: r.get("id"),
        username: stored_username(r.get("username"))?,
        created: r.get("created"),
    })
}

const USER_COLS: &str = "id, username, uuid, password_hash, nickname, display_style, language, \
                         legacy_dnd, activated, created, modified, tokens_valid_from";

async fn device_bindings(
    conn: &mut sqlx::SqliteConnection,
    app_id: i64,
    username: &Username,
    device: &DeviceId,
) -> Result<Vec<Binding>> {
    let rows = sqlx::query(
        "SELECT username, device_id, notifier_name, device_token, updated FROM bindings \
         WHERE app_id = ? AND username = ? AND device_id = ? ORDER BY notifier_name",
    )
    .bind(app_id)
    .bind(username.as_str())
    .bind(device.as_str())
    .fetch_all(conn)
    .await
    .map_err(backend("reading a device's bindings"))?;
    rows.iter().map(binding_from_row).collect()
}

async fn user_exists(
    conn: &mut sqlx::SqliteConnection,
    app_id: i64,
    username: &Username,
) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM users WHERE app_id = ? AND username = ?")
        .bind(app_id)
        .bind(username.as_str())
        .fetch_optional(conn)
        .await
        .map_err(backend("checking a user"))?;
    Ok(row.is_some())
}

fn notifier_from_row(r: &SqliteRow) -> Result<Notifier> {
    let creds: String = r.get("credentials");
    Ok(Notifier {
        app_id: r.get("app_id"),
        name: r.get("name"),
        vendor: r.get("vendor"),
        environment: r.get("environment"),
        credentials: serde_json::from_str(&creds).map_err(|e| StoreError::Backend {
            context: "reading a notifier's credentials",
            source: Box::new(e),
        })?,
        base_url: r.get("base_url"),
        created: r.get("created"),
    })
}

fn task_from_row(r: &SqliteRow) -> Result<Task> {
    let corrupt = |what: &'static str| StoreError::Backend {
        context: what,
        source: "unreadable stored value".into(),
    };
    let kind: String = r.get("kind");
    let status: String = r.get("status");
    let targets: String = r.get("targets");
    let stats: String = r.get("stats");
    Ok(Task {
        id: r.get("id"),
        app_id: r.get("app_id"),
        kind: TaskKind::parse(&kind).ok_or_else(|| corrupt("reading a task's kind"))?,
        push_msg_id: r.get("push_msg_id"),
        message: r.get("message"),
        strategy: r.get("strategy"),
        targets: serde_json::from_str(&targets).map_err(|_| corrupt("reading a task's targets"))?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("reading a task's status"))?,
        start_at: r.get("start_at"),
        created: r.get("created"),
        started: r.get("started"),
        finished: r.get("finished"),
        cursor: r.get("cursor"),
        rate: r.get("rate"),
        stats: serde_json::from_str(&stats).unwrap_or_default(),
    })
}

/// Appends ` AND username IN (?, ?, …)` for `usernames` (callers check it is not empty).
fn push_username_list<'a>(q: &mut QueryBuilder<'a, Sqlite>, usernames: &'a [Username]) {
    q.push(" AND username IN (");
    let mut sep = q.separated(", ");
    for u in usernames {
        sep.push_bind(u.as_str());
    }
    q.push(")");
}

async fn read_setting(
    conn: &mut sqlx::SqliteConnection,
    app_id: i64,
    username: &Username,
    chattype: ChatType,
    key: &str,
) -> Result<Option<NotificationSetting>> {
    let row = sqlx::query(
        "SELECT notify_type, ignore_interval, ignore_until FROM notification_settings \
         WHERE app_id = ? AND username = ? AND chattype = ? AND conv_key = ?",
    )
    .bind(app_id)
    .bind(username.as_str())
    .bind(chattype.as_str())
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(backend("reading a notification setting"))?;
    row.map(|r| {
        let t: String = r.get("notify_type");
        Ok(NotificationSetting {
            notify_type: NotifyType::parse(&t).map_err(|e| StoreError::Backend {
                context: "reading a stored notification type",
                source: Box::new(e),
            })?,
            ignore_interval: r.get("ignore_interval"),
            ignore_until_ms: r.get("ignore_until"),
        })
    })
    .transpose()
}

async fn label_id(conn: &mut sqlx::SqliteConnection, app_id: i64, name: &LabelName) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM labels WHERE app_id = ? AND name = ?")
        .bind(app_id)
        .bind(name.as_str())
        .fetch_optional(conn)
        .await
        .map_err(backend("finding a label"))?
        .ok_or_else(|| StoreError::NotFound(format!("label {name}")))
}

async fn add_task_counters(
    conn: &mut sqlx::SqliteConnection,
    counters: &[TaskCounter],
) -> Result<()> {
    for c in counters {
        sqlx::query(
            "INSERT INTO task_counters (task_id, channel, arrived, clicked, success, fail, unknown) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_id, channel) DO UPDATE SET \
             arrived = arrived + excluded.arrived, clicked = clicked + excluded.clicked, \
             success = success + excluded.success, fail = fail + excluded.fail, \
             unknown = unknown + excluded.unknown",
        )
        .bind(c.task_id)
        .bind(&c.channel)
        .bind(c.arrived)
        .bind(c.clicked)
        .bind(c.success)
        .bind(c.fail)
        .bind(c.unknown)
        .execute(&mut *conn)
        .await
        .map_err(backend("adding task counters"))?;
    }
    Ok(())
}

/// Legs per queued batch.
const SEND_BATCH: usize = 500;
/// Leg flags: fall back to the Easemob channel if none of the user's legs is sent; the user has
/// several legs of this message.
const LEG_FALLBACK: u8 = 1;
const LEG_MULTI: u8 = 2;

/// One queued leg as stored in its batch: id, user, device id, device token, flags.
type StoredLeg = (i64, String, String, String, u8);

/// Writes a message's vendor legs as batches (per notifier, up to [`SEND_BATCH`] legs each),
/// and the group rows of users with several legs.
async fn queue_sends(
    conn: &mut sqlx::SqliteConnection,
    m: &ChannelMessage,
    sends: &[SendRow],
) -> Result<()> {
    let mut legs_of: HashMap<&str, u32> = HashMap::new();
    for r in sends {
        *legs_of.entry(r.username.as_str()).or_default() += 1;
    }
    let multi: Vec<(&str, u32)> = legs_of.into_iter().filter(|(_, n)| *n > 1).collect();
    for chunk in multi.chunks(400) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO send_groups (message_id, username, pending) ");
        q.push_values(chunk, |mut b, (u, n)| {
            b.push_bind(m.id).push_bind(*u).push_bind(i64::from(*n));
        });
        // A user listed on two pages of one task adds to its group.
        q.push(" ON CONFLICT (message_id, username) DO UPDATE SET pending = pending + excluded.pending");
        q.build()
            .execute(&mut *conn)
            .await
            .map_err(backend("queueing vendor legs"))?;
    }
    let is_multi: std::collections::HashSet<&str> = multi.iter().map(|(u, _)| *u).collect();
    let mut by_notifier: Vec<(&str, Vec<StoredLeg>)> = Vec::new();
    for r in sends {
        let flags = if r.fallback { LEG_FALLBACK } else { 0 }
            | if is_multi.contains(r.username.as_str()) {
                LEG_MULTI
            } else {
                0
            };
        let leg = (
            r.id,
            r.username.as_str().to_owned(),
            r.device_id.clone(),
            r.device_token.clone(),
            flags,
        );
        match by_notifier.iter_mut().find(|(n, _)| *n == r.notifier) {
            Some((_, legs)) => legs.push(leg),
            None => by_notifier.push((r.notifier.as_str(), vec![leg])),
        }
    }
    for (notifier, legs) in by_notifier {
        for batch in legs.chunks(SEND_BATCH) {
            sqlx::query(
                "INSERT INTO send_queue (id, app_id, notifier, message_id, task_id, leg_count, due_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(batch[0].0)
            .bind(m.app_id)
            .bind(notifier)
            .bind(m.id)
            .bind(m.task_id)
            .bind(batch.len() as i64)
            .bind(m.sent_at)
            .execute(&mut *conn)
            .await
            .map_err(backend("queueing vendor legs"))?;
            sqlx::query("INSERT INTO send_legs (batch_id, legs) VALUES (?, ?)")
                .bind(batch[0].0)
                .bind(serde_json::to_string(batch).unwrap_or_else(|_| "[]".into()))
                .execute(&mut *conn)
                .await
                .map_err(backend("queueing vendor legs"))?;
        }
    }
    Ok(())
}

fn stored_legs(raw: &str) -> Result<Vec<StoredLeg>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Backend {
        context: "reading a queued batch of vendor legs",
        source: Box::new(e),
    })
}

fn channel_message_from_row(r: &SqliteRow) -> ChannelMessage {
    ChannelMessage {
        id: r.get("id"),
        app_id: r.get("app_id"),
        task_id: r.get("task_id"),
        push_msg_id: r.get("push_msg_id"),
        body: r.get("body"),
        sent_at: r.get("sent_at"),
        expires_at: r.get("expires_at"),
    }
}

async fn channel_messages_by_id(
    conn: &mut sqlx::SqliteConnection,
    ids: &[i64],
) -> Result<HashMap<i64, ChannelMessage>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, app_id, task_id, push_msg_id, body, sent_at, expires_at \
             FROM channel_messages WHERE id IN ",
        );
        q.push_tuples(chunk, |mut b, id| {
            b.push_bind(*id);
        });
        for r in q
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(backend("reading queued messages"))?
        {
            let m = channel_message_from_row(&r);
            out.insert(m.id, m);
        }
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    async fn meta_get_or_insert(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(backend("writing metadata"))?;
        let v: Vec<u8> = sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("reading metadata"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(v)
    }

    async fn create_app(&self, app: NewApp) -> Result<App> {
        let row = sqlx::query(
            "INSERT INTO apps (uuid, org, name, client_id, secret_hash, created) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(&app.uuid)
        .bind(&app.org)
        .bind(&app.name)
        .bind(&app.client_id)
        .bind(&app.secret_hash)
        .bind(app.created)
        .fetch_one(&self.writer)
        .await;
        match row {
            Ok(r) => Ok(app_from_row(&r)),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "app {}#{}",
                app.org, app.name
            ))),
            Err(e) => Err(backend("creating an app")(e)),
        }
    }

    async fn app_by_name(&self, org: &str, name: &str) -> Result<Option<App>> {
        let row = sqlx::query("SELECT * FROM apps WHERE org = ? AND name = ?")
            .bind(org)
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend("reading an app"))?;
        Ok(row.as_ref().map(app_from_row))
    }

    async fn app_by_id(&self, id: i64) -> Result<Option<App>> {
        let row = sqlx::query("SELECT * FROM apps WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend("reading an app"))?;
        Ok(row.as_ref().map(app_from_row))
    }

    async fn list_apps(&self) -> Result<Vec<App>> {
        let rows = sqlx::query("SELECT * FROM apps ORDER BY org, name")
            .fetch_all(&self.reader)
            .await
            .map_err(backend("listing apps"))?;
        Ok(rows.iter().map(app_from_row).collect())
    }

    async fn create_users(&self, app_id: i64, users: Vec<NewUser>) -> Result<CreatedUsers> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut out = CreatedUsers::default();
        for u in users {
            let row = sqlx::query(&format!(
                "INSERT INTO users (app_id, username, uuid, password_hash, nickname, created, modified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, username) DO NOTHING \
                 RETURNING {USER_COLS}"
            ))
            .bind(app_id)
            .bind(u.username.as_str())
            .bind(&u.uuid)
            .bind(&u.password_hash)
            .bind(&u.nickname)
            .bind(u.created)
            .bind(u.created)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend("creating a user"))?;
            match row {
                Some(r) => out.created.push(user_from_row(&r)?),
                None => out.existing.push(u.username),
            }
        }
        if out.created.is_empty() && !out.existing.is_empty() {
            return Err(StoreError::Conflict(
                out.existing
                    .iter()
                    .map(Username::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ));
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(out)
    }

    async fn user(&self, app_id: i64, username: &Username) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE app_id = ? AND username = ?"
        ))
        .bind(app_id)
        .bind(username.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend("reading a user"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn existing_users(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Username>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT username FROM users WHERE app_id = ");
        q.push_bind(app_id);
        push_username_list(&mut q, usernames);
        let rows = q
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(backend("checking users"))?;
        rows.iter()
            .map(|r| stored_username(r.get("username")))
            .collect()
    }

    async fn list_users(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?"
        ))
        .bind(app_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend("listing users"))?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(
        &self,
        app_id: i64,
        username: &Username,
        update: UserUpdate,
        now_ms: i64,
    ) -> Result<Option<User>> {
        let legacy = update
            .legacy_dnd
            .as_ref()
            .map(|l| serde_json::to_string(l).unwrap_or_default());
        let row = sqlx::query(&format!(
            "UPDATE users SET nickname = COALESCE(?, nickname), \
             display_style = COALESCE(?, display_style), language = COALESCE(?, language), \
             legacy_dnd = COALESCE(?, legacy_dnd), modified = ? \
             WHERE app_id = ? AND username = ? RETURNING {USER_COLS}"
        ))
        .bind(update.nickname.as_ref().map(Nickname::as_str))
        .bind(update.display_style)
        .bind(update.language.as_deref())
        .bind(legacy)
        .bind(now_ms)
        .bind(app_id)
        .bind(username.as_str())
        .fetch_optional(&self.writer)
        .await
        .map_err(backend("updating a user"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_nicknames(
        &self,
        app_id: i64,
        items: &[(Username, Nickname)],
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut missing = Vec::new();
        for (user, nick) in items {
            let done = sqlx::query(
                "UPDATE users SET nickname = ?, modified = ? WHERE app_id = ? AND username = ?",
            )
            .bind(nick.as_str())
            .bind(now_ms)
            .bind(app_id)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend("setting a nickname"))?;
            if done.rows_affected() == 0 {
                missing.push(user.as_str());
            }
        }
        if !missing.is_empty() {
            // Dropping the transaction rolls back the nicknames already set.
            return Err(StoreError::NotFound(missing.join(",")));
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(())
    }

    async fn delete_user(&self, app_id: i64, username: &Username) -> Result<Option<User>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        for sql in [
            "DELETE FROM bindings WHERE app_id = ? AND username = ?",
            "DELETE FROM notification_settings WHERE app_id = ? AND username = ?",
            "DELETE FROM label_members WHERE app_id = ? AND username = ?",
            "DELETE FROM devices WHERE app_id = ? AND username = ?",
            "DELETE FROM pending WHERE app_id = ? AND username = ?",
        ] {
            sqlx::query(sql)
                .bind(app_id)
                .bind(username.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend("deleting a user's dependents"))?;
        }
        let row = sqlx::query(&format!(
            "DELETE FROM users WHERE app_id = ? AND username = ? RETURNING {USER_COLS}"
        ))
        .bind(app_id)
        .bind(username.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend("deleting a user"))?;
        let user = row.as_ref().map(user_from_row).transpose()?;
        if user.is_some() {
            tx.commit().await.map_err(backend("commit"))?;
        }
        Ok(user)
    }

    async fn bind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: &NotifierName,
        token: &DeviceToken,
        now_ms: i64,
    ) -> Result<Vec<Binding>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        if !user_exists(&mut tx, app_id, username).await? {
            return Err(StoreError::NotFound(format!("user {username}")));
        }
        sqlx::query(
            "DELETE FROM bindings WHERE app_id = ? AND notifier_name = ? AND device_token = ? \
             AND NOT (username = ? AND device_id = ?)",
        )
        .bind(app_id)
        .bind(notifier.as_str())
        .bind(token.as_str())
        .bind(username.as_str())
        .bind(device.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend("releasing a token bound elsewhere"))?;
        sqlx::query(
            "INSERT INTO bindings (app_id, username, device_id, notifier_name, device_token, updated) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, username, device_id, notifier_name) \
             DO UPDATE SET device_token = excluded.device_token, updated = excluded.updated",
        )
        .bind(app_id)
        .bind(username.as_str())
        .bind(device.as_str())
        .bind(notifier.as_str())
        .bind(token.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend("writing a binding"))?;
        let out = device_bindings(&mut tx, app_id, username, device).await?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(out)
    }

    async fn unbind(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        notifier: Option<&NotifierName>,
    ) -> Result<Vec<Binding>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        if !user_exists(&mut tx, app_id, username).await? {
            return Err(StoreError::NotFound(format!("user {username}")));
        }
        let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM bindings WHERE app_id = ");
        q.push_bind(app_id)
            .push(" AND username = ")
            .push_bind(username.as_str())
            .push(" AND device_id = ")
            .push_bind(device.as_str());
        if let Some(n) = notifier {
            q.push(" AND notifier_name = ").push_bind(n.as_str());
        }
        q.build()
            .execute(&mut *tx)
            .await
            .map_err(backend("removing bindings"))?;
        let out = device_bindings(&mut tx, app_id, username, device).await?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(out)
    }

    async fn unbind_token(&self, app_id: i64, notifier: &str, token: &str) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM bindings WHERE app_id = ? AND notifier_name = ? AND device_token = ?",
        )
        .bind(app_id)
        .bind(notifier)
        .bind(token)
        .execute(&self.writer)
        .await
        .map_err(backend("unbinding a dead token"))?;
        Ok(done.rows_affected())
    }

    async fn bindings_of(&self, app_id: i64, usernames: &[Username]) -> Result<Vec<Binding>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT username, device_id, notifier_name, device_token, updated FROM bindings \
             WHERE app_id = ",
        );
        q.push_bind(app_id);
        push_username_list(&mut q, usernames);
        q.push(" ORDER BY username, device_id, notifier_name");
        let rows = q
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(backend("reading bindings"))?;
        rows.iter().map(binding_from_row).collect()
    }

    async fn notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str,
    ) -> Result<Option<NotificationSetting>> {
        let mut conn = self.reader.acquire().await.map_err(backend("acquire"))?;
        read_setting(&mut conn, app_id, username, chattype, key).await
    }

    async fn update_notification_setting(
        &self,
        app_id: i64,
        username: &Username,
        chattype: ChatType,
        key: &str,
        patch: &NotificationPatch,
        default: NotificationSetting,
    ) -> Result<NotificationSetting> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        if !user_exists(&mut tx, app_id, username).await? {
            return Err(StoreError::NotFound(format!("user {username}")));
        }
        let mut setting = read_setting(&mut tx, app_id, username, chattype, key)
            .await?
            .unwrap_or(default);
        patch.apply(&mut setting);
        sqlx::query(
            "INSERT INTO notification_settings \
             (app_id, username, chattype, conv_key, notify_type, ignore_interval, ignore_until) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (app_id, username, chattype, conv_key) DO UPDATE SET \
             notify_type = excluded.notify_type, ignore_interval = excluded.ignore_interval, \
             ignore_until = excluded.ignore_until",
        )
        .bind(app_id)
        .bind(username.as_str())
        .bind(chattype.as_str())
        .bind(key)
        .bind(setting.notify_type.as_str())
        .bind(&setting.ignore_interval)
        .bind(setting.ignore_until_ms)
        .execute(&mut *tx)
        .await
        .map_err(backend("writing a notification setting"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(setting)
    }

    async fn create_label(
        &self,
        app_id: i64,
        name: &LabelName,
        description: &str,
        now_ms: i64,
        max_labels: u32,
    ) -> Result<Label> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM labels WHERE app_id = ?")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("counting labels"))?;
        let exists = sqlx::query("SELECT 1 FROM labels WHERE app_id = ? AND name = ?")
            .bind(app_id)
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend("checking a label"))?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!("label {name}")));
        }
        if n >= i64::from(max_labels) {
            return Err(StoreError::Limit(format!(
                "an app has at most {max_labels} labels"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO labels (app_id, name, description, created) VALUES (?, ?, ?, ?) \
             RETURNING id, name, description, member_count, created",
        )
        .bind(app_id)
        .bind(name.as_str())
        .bind(description)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend("creating a label"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(label_from_row(&row))
    }

    async fn label(&self, app_id: i64, name: &LabelName) -> Result<Option<Label>> {
        let row = sqlx::query(
            "SELECT id, name, description, member_count, created FROM labels \
             WHERE app_id = ? AND name = ?",
        )
        .bind(app_id)
        .bind(name.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend("reading a label"))?;
        Ok(row.as_ref().map(label_from_row))
    }

    async fn list_labels(&self, app_id: i64, after: Option<i64>, limit: u32) -> Result<Vec<Label>> {
        let rows = sqlx::query(
            "SELECT id, name, description, member_count, created FROM labels \
             WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(app_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend("listing labels"))?;
        Ok(rows.iter().map(label_from_row).collect())
    }

    async fn delete_label(&self, app_id: i64, name: &LabelName) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let id = match label_id(&mut tx, app_id, name).await {
            Ok(id) => id,
            Err(StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        sqlx::query("DELETE FROM label_members WHERE label_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend("deleting label members"))?;
        sqlx::query("DELETE FROM labels WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend("deleting a label"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(true)
    }

    async fn add_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username],
        now_ms: i64,
        max_members: u32,
    ) -> Result<MemberChange> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let id = label_id(&mut tx, app_id, name).await?;
        let mut count: i64 = sqlx::query_scalar("SELECT member_count FROM labels WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("counting label members"))?;
        let mut out = MemberChange::default();
        for u in usernames {
            if !user_exists(&mut tx, app_id, u).await? {
                out.fail.push((u.clone(), MemberFailure::UserNotFound));
                continue;
            }
            let already =
                sqlx::query("SELECT 1 FROM label_members WHERE label_id = ? AND username = ?")
                    .bind(id)
                    .bind(u.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend("checking a label member"))?;
            if already.is_some() {
                out.success.push(u.clone());
                continue;
            }
            if count >= i64::from(max_members) {
                out.fail.push((u.clone(), MemberFailure::LabelFull));
                continue;
            }
            sqlx::query(
                "INSERT INTO label_members (label_id, app_id, username, created) VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(app_id)
            .bind(u.as_str())
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend("adding a label member"))?;
            count += 1;
            out.success.push(u.clone());
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(out)
    }

    async fn remove_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        usernames: &[Username],
    ) -> Result<MemberChange> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let id = label_id(&mut tx, app_id, name).await?;
        let mut out = MemberChange::default();
        for u in usernames {
            let done = sqlx::query("DELETE FROM label_members WHERE label_id = ? AND username = ?")
                .bind(id)
                .bind(u.as_str())
                .execute(&mut *tx)
                .await
                .map_err(backend("removing a label member"))?;
            if done.rows_affected() > 0 {
                out.success.push(u.clone());
            } else if user_exists(&mut tx, app_id, u).await? {
                out.fail.push((u.clone(), MemberFailure::NotMember));
            } else {
                out.fail.push((u.clone(), MemberFailure::UserNotFound));
            }
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(out)
    }

    async fn list_label_users(
        &self,
        app_id: i64,
        name: &LabelName,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LabelMember>> {
        let mut conn = self.reader.acquire().await.map_err(backend("acquire"))?;
        let id = label_id(&mut conn, app_id, name).await?;
        let rows = sqlx::query(
            "SELECT id, username, created FROM label_members WHERE label_id = ? AND id > ? \
             ORDER BY id LIMIT ?",
        )
        .bind(id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend("listing label members"))?;
        rows.iter().map(member_from_row).collect()
    }

    async fn label_user(
        &self,
        app_id: i64,
        name: &LabelName,
        username: &Username,
    ) -> Result<Option<LabelMember>> {
        let mut conn = self.reader.acquire().await.map_err(backend("acquire"))?;
        let id = label_id(&mut conn, app_id, name).await?;
        let row = sqlx::query(
            "SELECT id, username, created FROM label_members WHERE label_id = ? AND username = ?",
        )
        .bind(id)
        .bind(username.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend("reading a label member"))?;
        row.as_ref().map(member_from_row).transpose()
    }

    async fn set_task_limits(
        &self,
        app_id: i64,
        running_max: Option<u32>,
        per_window: Option<u32>,
    ) -> Result<()> {
        sqlx::query("UPDATE apps SET tasks_running_max = ?, tasks_per_window = ? WHERE id = ?")
            .bind(running_max.map(i64::from))
            .bind(per_window.map(i64::from))
            .bind(app_id)
            .execute(&self.writer)
            .await
            .map_err(backend("setting task limits"))?;
        Ok(())
    }

    async fn rotate_app_secret(
        &self,
        app_id: i64,
        secret_hash: &[u8],
        tokens_valid_from: i64,
    ) -> Result<Option<App>> {
        let row = sqlx::query(
            "UPDATE apps SET secret_hash = ?, \
             app_tokens_valid_from = MAX(app_tokens_valid_from, ?) WHERE id = ? RETURNING *",
        )
        .bind(secret_hash)
        .bind(tokens_valid_from)
        .bind(app_id)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend("rotating an app secret"))?;
        Ok(row.as_ref().map(app_from_row))
    }

    async fn revoke_user_tokens(
        &self,
        app_id: i64,
        username: &Username,
        tokens_valid_from: i64,
        password_hash: Option<&str>,
    ) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "UPDATE users SET tokens_valid_from = MAX(tokens_valid_from, ?), \
             password_hash = COALESCE(?, password_hash) \
             WHERE app_id = ? AND username = ? RETURNING {USER_COLS}"
        ))
        .bind(tokens_valid_from)
        .bind(password_hash)
        .bind(app_id)
        .bind(username.as_str())
        .fetch_optional(&self.writer)
        .await
        .map_err(backend("revoking a user's tokens"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_offline_retention(&self, app_id: i64, secs: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE apps SET offline_retention_secs = ? WHERE id = ?")
            .bind(secs)
            .bind(app_id)
            .execute(&self.writer)
            .await
            .map_err(backend("setting offline retention"))?;
        Ok(())
    }

    async fn touch_device(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        now_ms: i64,
        max_devices: u32,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let updated = sqlx::query(
            "UPDATE devices SET last_seen = ? WHERE app_id = ? AND username = ? AND device_id = ?",
        )
        .bind(now_ms)
        .bind(app_id)
        .bind(username.as_str())
        .bind(device.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend("recording a device"))?;
        let new = updated.rows_affected() == 0;
        if new {
            sqlx::query(
                "INSERT INTO devices (app_id, username, device_id, first_seen, last_seen) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(app_id)
            .bind(username.as_str())
            .bind(device.as_str())
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(backend("recording a device"))?;
        }
        // Over the cap, the least recently seen others are forgotten with their copies.
        {
            let forgotten = sqlx::query(
                "DELETE FROM devices WHERE app_id = ? AND username = ? AND device_id IN \
                 (SELECT device_id FROM devices WHERE app_id = ? AND username = ? AND device_id != ? \
                  ORDER BY last_seen DESC, device_id LIMIT -1 OFFSET ?) RETURNING device_id",
            )
            .bind(app_id)
            .bind(username.as_str())
            .bind(app_id)
            .bind(username.as_str())
            .bind(device.as_str())
            .bind(i64::from(max_devices.max(1)) - 1)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend("forgetting devices over the cap"))?;
            for r in forgotten {
                sqlx::query(
                    "DELETE FROM pending WHERE app_id = ? AND username = ? AND device_id = ?",
                )
                .bind(app_id)
                .bind(username.as_str())
                .bind(r.get::<String, _>("device_id"))
                .execute(&mut *tx)
                .await
                .map_err(backend("forgetting devices over the cap"))?;
            }
        }
        // Copies kept while the user had no known device go to the device that connects.
        // Normally that is the first device; checking on every connect also catches a copy
        // written in the moment between a push reading the device list and a first device
        // connecting.
        sqlx::query(
            "UPDATE pending SET device_id = ? WHERE app_id = ? AND username = ? AND device_id = ''",
        )
        .bind(device.as_str())
        .bind(app_id)
        .bind(username.as_str())
        .execute(&mut *tx)
        .await
        .map_err(backend("adopting queued copies"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(new)
    }

    async fn devices_of(
        &self,
        app_id: i64,
        usernames: &[Username],
    ) -> Result<Vec<(Username, String)>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT username, device_id FROM devices WHERE app_id = ");
        q.push_bind(app_id);
        push_username_list(&mut q, usernames);
        q.push(" ORDER BY username, last_seen DESC, device_id");
        let rows = q
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(backend("reading devices"))?;
        rows.iter()
            .map(|r| Ok((stored_username(r.get("username"))?, r.get("device_id"))))
            .collect()
    }

    async fn adopt_copies(
        &self,
        app_id: i64,
        copies: &[(i64, Username, String)],
    ) -> Result<Vec<i64>> {
        if copies.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut adopted = Vec::new();
        for (id, username, device) in copies {
            let given = sqlx::query(
                "UPDATE pending SET device_id = ? \
                 WHERE id = ? AND app_id = ? AND username = ? AND device_id = ''",
            )
            .bind(device)
            .bind(id)
            .bind(app_id)
            .bind(username.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend("adopting queued copies"))?
            .rows_affected();
            if given == 1 {
                adopted.push(*id);
            }
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(adopted)
    }

    async fn stale_devices(
        &self,
        now_ms: i64,
        default_retention_secs: i64,
        limit: u32,
    ) -> Result<Vec<KnownDevice>> {
        // App by app along the (app_id, last_seen) index, stopping at the limit.
        let rows = sqlx::query(
            "SELECT d.app_id, d.username, d.device_id, d.last_seen FROM apps a \
             JOIN devices d ON d.app_id = a.id \
             AND d.last_seen < ? - COALESCE(a.offline_retention_secs, ?) * 1000 LIMIT ?",
        )
        .bind(now_ms)
        .bind(default_retention_secs)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend("reading stale devices"))?;
        rows.iter()
            .map(|r| {
                Ok(KnownDevice {
                    app_id: r.get("app_id"),
                    username: stored_username(r.get("username"))?,
                    device_id: r.get("device_id"),
                    last_seen: r.get("last_seen"),
                })
            })
            .collect()
    }

    async fn forget_devices(
        &self,
        forget: &[KnownDevice],
        seen: &[KnownDevice],
        now_ms: i64,
    ) -> Result<u64> {
        if forget.is_empty() && seen.is_empty() {
            return Ok(0);
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut forgotten = 0;
        for d in forget {
            let gone = sqlx::query(
                "DELETE FROM devices WHERE app_id = ? AND username = ? AND device_id = ? \
                 AND last_seen = ?",
            )
            .bind(d.app_id)
            .bind(d.username.as_str())
            .bind(&d.device_id)
            .bind(d.last_seen)
            .execute(&mut *tx)
            .await
            .map_err(backend("forgetting a device"))?
            .rows_affected();
            if gone == 0 {
                continue;
            }
            forgotten += 1;
            sqlx::query("DELETE FROM pending WHERE app_id = ? AND username = ? AND device_id = ?")
                .bind(d.app_id)
                .bind(d.username.as_str())
                .bind(&d.device_id)
                .execute(&mut *tx)
                .await
                .map_err(backend("forgetting a device's copies"))?;
        }
        for d in seen {
            sqlx::query(
                "UPDATE devices SET last_seen = MAX(last_seen, ?) \
                 WHERE app_id = ? AND username = ? AND device_id = ?",
            )
            .bind(now_ms)
            .bind(d.app_id)
            .bind(d.username.as_str())
            .bind(&d.device_id)
            .execute(&mut *tx)
            .await
            .map_err(backend("recording a device as seen"))?;
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(forgotten)
    }

    async fn enqueue(&self, batch: &[Enqueue]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        for e in batch {
            let m = &e.message;
            sqlx::query(
                // A task's pages share its message: the first page writes it.
                "INSERT OR IGNORE INTO channel_messages (id, app_id, task_id, push_msg_id, body, sent_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(m.id)
            .bind(m.app_id)
            .bind(m.task_id)
            .bind(m.push_msg_id)
            .bind(&m.body)
            .bind(m.sent_at)
            .bind(m.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(backend("storing a channel message"))?;
            // Multi-row inserts, chunked under SQLite's bound-parameter limit.
            for chunk in e.rows.chunks(1000) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO pending (id, app_id, username, device_id, message_id, expires_at) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(m.app_id)
                        .push_bind(r.username.as_str())
                        .push_bind(r.device_id.as_str())
                        .push_bind(m.id)
                        .push_bind(m.expires_at);
                });
                q.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(backend("queueing deliveries"))?;
            }
            if !e.sends.is_empty() {
                queue_sends(&mut tx, m, &e.sends).await?;
            }
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(())
    }

    async fn pending_for(
        &self,
        app_id: i64,
        username: &Username,
        device: &DeviceId,
        after: Option<i64>,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PendingDelivery>> {
        let rows = sqlx::query(
            "SELECT p.id AS pid, m.id, m.app_id, m.task_id, m.push_msg_id, m.body, m.sent_at, m.expires_at \
             FROM pending p JOIN channel_messages m ON m.id = p.message_id \
             WHERE p.app_id = ? AND p.username = ? AND p.device_id = ? AND p.id > ? AND p.expires_at > ? \
             ORDER BY p.id LIMIT ?",
        )
        .bind(app_id)
        .bind(username.as_str())
        .bind(device.as_str())
        .bind(after.unwrap_or(i64::MIN))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend("reading queued deliveries"))?;
        Ok(rows
            .iter()
            .map(|r| PendingDelivery {
                id: r.get("pid"),
                message: ChannelMessage {
                    id: r.get("id"),
                    app_id: r.get("app_id"),
                    task_id: r.get("task_id"),
                    push_msg_id: r.get("push_msg_id"),
                    body: r.get("body"),
                    sent_at: r.get("sent_at"),
                    expires_at: r.get("expires_at"),
                },
            })
            .collect())
    }

    async fn ack(&self, acks: &[Ack]) -> Result<Vec<Acked>> {
        if acks.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut removed: Vec<(i64, i64)> = Vec::new();
        for chunk in acks.chunks(200) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "DELETE FROM pending WHERE (id, app_id, username, device_id) IN (VALUES ",
            );
            let mut first = true;
            for a in chunk {
                if !first {
                    q.push(", ");
                }
                first = false;
                q.push("(")
                    .push_bind(a.id)
                    .push(", ")
                    .push_bind(a.app_id)
                    .push(", ")
                    .push_bind(a.username.as_str())
                    .push(", ")
                    .push_bind(a.device_id.as_str())
                    .push(")");
            }
            q.push(") RETURNING id, message_id");
            let rows = q
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(backend("removing acknowledged deliveries"))?;
            removed.extend(
                rows.iter()
                    .map(|r| (r.get::<i64, _>("id"), r.get::<i64, _>("message_id"))),
            );
        }
        // The task of each removed copy is its message's: what the device put in the id is
        // never trusted.
        let mut message_ids: Vec<i64> = removed.iter().map(|(_, m)| *m).collect();
        message_ids.sort_unstable();
        message_ids.dedup();
        let messages = channel_messages_by_id(&mut tx, &message_ids).await?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(removed
            .into_iter()
            .map(|(id, m)| Acked {
                id,
                task_id: messages.get(&m).and_then(|m| m.task_id),
            })
            .collect())
    }

    async fn purge_expired(&self, now_ms: i64, limit: u32) -> Result<Purged> {
        let limit = i64::from(limit.max(1));
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let deliveries = sqlx::query(
            "DELETE FROM pending WHERE id IN \
             (SELECT id FROM pending WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(now_ms)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(backend("purging expired deliveries"))?
        .rows_affected();
        // Legs still queued when their message expires are ended by their worker (counted as
        // failed); failed legs are kept with their reason until then.
        let failures = sqlx::query(
            "DELETE FROM send_failures WHERE id IN \
             (SELECT id FROM send_failures WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(now_ms)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(backend("purging failed vendor legs"))?
        .rows_affected();
        // A message goes once nothing refers to it: its copies (which expire with it) are
        // removed above first, in batches, never all at once by a cascade.
        let messages = sqlx::query(
            "DELETE FROM channel_messages WHERE id IN (SELECT m.id FROM channel_messages m WHERE \
             NOT EXISTS (SELECT 1 FROM send_queue s WHERE s.message_id = m.id) AND \
             NOT EXISTS (SELECT 1 FROM pending WHERE pending.message_id = m.id) LIMIT ?)",
        )
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(backend("purging finished messages"))?
        .rows_affected();
        let reports = sqlx::query(
            "DELETE FROM task_reports WHERE rowid IN \
             (SELECT rowid FROM task_reports WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(now_ms)
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(backend("purging counted reports"))?
        .rows_affected();
        // Groups of legs dropped with a cancelled task.
        let groups = sqlx::query(
            "DELETE FROM send_groups WHERE rowid IN (SELECT g.rowid FROM send_groups g WHERE \
             NOT EXISTS (SELECT 1 FROM send_queue s WHERE s.message_id = g.message_id) LIMIT ?)",
        )
        .bind(limit)
        .execute(&mut *tx)
        .await
        .map_err(backend("purging finished groups"))?
        .rows_affected();
        tx.commit().await.map_err(backend("commit"))?;
        let full = |n: u64| i64::try_from(n).unwrap_or(i64::MAX) >= limit;
        Ok(Purged {
            deliveries,
            more: full(deliveries)
                || full(failures)
                || full(messages)
                || full(reports)
                || full(groups),
        })
    }

    async fn claim_sends(
        &self,
        app_id: i64,
        notifier: &str,
        now_ms: i64,
        lease_until: i64,
        owner: i64,
        limit: u32,
    ) -> Result<Vec<QueuedSend>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let rows = sqlx::query(
            "UPDATE send_queue SET lease_until = ?, lease_owner = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM send_queue WHERE app_id = ? AND notifier = ? \
               AND due_at <= ? AND lease_until <= ? ORDER BY due_at, id LIMIT ?) \
             RETURNING id, app_id, notifier, message_id, attempts",
        )
        .bind(lease_until)
        .bind(owner)
        .bind(app_id)
        .bind(notifier)
        .bind(now_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend("claiming vendor legs"))?;
        let batch_ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
        let mut legs_of: HashMap<i64, String> = HashMap::new();
        for chunk in batch_ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT batch_id, legs FROM send_legs WHERE batch_id IN ",
            );
            q.push_tuples(chunk, |mut b, id| {
                b.push_bind(*id);
            });
            for r in q
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(backend("reading claimed vendor legs"))?
            {
                legs_of.insert(r.get("batch_id"), r.get("legs"));
            }
        }
        let mut ids: Vec<i64> = rows.iter().map(|r| r.get("message_id")).collect();
        ids.sort_unstable();
        ids.dedup();
        let messages: HashMap<i64, std::sync::Arc<ChannelMessage>> =
            channel_messages_by_id(&mut tx, &ids)
                .await?
                .into_iter()
                .map(|(id, m)| (id, std::sync::Arc::new(m)))
                .collect();
        tx.commit().await.map_err(backend("commit"))?;
        let mut out = Vec::new();
        for r in &rows {
            let batch: i64 = r.get("id");
            // The message is kept while a batch refers to it; a missing one is a damaged row.
            let Some(message) = messages.get(&r.get::<i64, _>("message_id")) else {
                tracing::error!(batch, "a queued batch of vendor legs lost its message");
                continue;
            };
            let attempts = u32::try_from(r.get::<i64, _>("attempts")).unwrap_or(u32::MAX);
            let legs = legs_of.get(&batch).map_or("[]", String::as_str);
            for (id, user, device_id, device_token, _) in stored_legs(legs)? {
                out.push(QueuedSend {
                    id,
                    batch,
                    app_id: r.get("app_id"),
                    username: stored_username(user)?,
                    device_id,
                    notifier: r.get("notifier"),
                    device_token,
                    attempts,
                    message: message.clone(),
                });
            }
        }
        Ok(out)
    }

    async fn complete_sends(
        &self,
        done: &[SendCompletion],
        now_ms: i64,
        next_id: &(dyn Fn() -> i64 + Send + Sync),
    ) -> Result<SendsCompleted> {
        let mut result = SendsCompleted::default();
        if done.is_empty() {
            return Ok(result);
        }
        let mut batches: Vec<i64> = done.iter().map(|c| c.batch).collect();
        batches.sort_unstable();
        batches.dedup();
        let ends: HashMap<i64, &SendCompletion> = done.iter().map(|c| (c.id, c)).collect();
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let mut counters: HashMap<(i64, String), TaskCounter> = HashMap::new();
        let mut bump = |task_id: i64, channel: &str, f: &dyn Fn(&mut TaskCounter)| {
            let c = counters
                .entry((task_id, channel.to_owned()))
                .or_insert_with(|| TaskCounter {
                    task_id,
                    channel: channel.to_owned(),
                    ..TaskCounter::default()
                });
            f(c);
        };
        let mut rows = Vec::new();
        for chunk in batches.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT s.id, s.app_id, s.notifier, s.message_id, s.task_id, l.legs \
                 FROM send_queue s JOIN send_legs l ON l.batch_id = s.id WHERE s.id IN ",
            );
            q.push_tuples(chunk, |mut b, id| {
                b.push_bind(*id);
            });
            rows.extend(
                q.build()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(backend("reading claimed vendor legs"))?,
            );
        }
        let mut message_ids: Vec<i64> = rows.iter().map(|r| r.get("message_id")).collect();
        message_ids.sort_unstable();
        message_ids.dedup();
        let messages = channel_messages_by_id(&mut tx, &message_ids).await?;
        // Users whose last leg of a message ended here: (message, user, sent, unanswered,
        // fallback).
        let mut ended: Vec<(i64, String, bool, bool, bool)> = Vec::new();
        for r in &rows {
            let batch: i64 = r.get("id");
            let message_id: i64 = r.get("message_id");
            let task_id: Option<i64> = r.get("task_id");
            let notifier: String = r.get("notifier");
            let expires_at = messages.get(&message_id).map_or(0, |m| m.expires_at);
            let mut keep: Vec<StoredLeg> = Vec::new();
            let mut retry_at: Option<i64> = None;
            let mut retry_reason: Option<&str> = None;
            for leg in stored_legs(r.get("legs"))? {
                // Only a leg still in its batch can end: one ended already (a completion
                // repeated, or its task cancelled) is skipped.
                let Some(c) = ends.get(&leg.0) else {
                    keep.push(leg);
                    continue;
                };
                let (sent, unanswered) = match &c.end {
                    SendEnd::Sent => (true, false),
                    SendEnd::Failed { reason, unknown } => {
                        sqlx::query(
                            "INSERT INTO send_failures (id, app_id, notifier, username, device_id, \
                             message_id, task_id, unanswered, reason, failed_at, expires_at) \
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        )
                        .bind(leg.0)
                        .bind(r.get::<i64, _>("app_id"))
                        .bind(&notifier)
                        .bind(&leg.1)
                        .bind(&leg.2)
                        .bind(message_id)
                        .bind(task_id)
                        .bind(*unknown)
                        .bind(reason)
                        .bind(now_ms)
                        .bind(expires_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend("keeping a failed vendor leg"))?;
                        (false, *unknown)
                    }
                    SendEnd::Retry { due_at, reason } => {
                        retry_at = Some(retry_at.map_or(*due_at, |t| t.min(*due_at)));
                        retry_reason = Some(reason);
                        keep.push(leg);
                        continue;
                    }
                };
                if let Some(task_id) = task_id {
                    bump(task_id, &c.channel, &|t| {
                        if sent {
                            t.success += 1
                        } else if unanswered {
                            t.unknown += 1
                        } else {
                            t.fail += 1
                        }
                    });
                }
                let fallback = leg.4 & LEG_FALLBACK != 0;
                if leg.4 & LEG_MULTI == 0 {
                    ended.push((message_id, leg.1, sent, unanswered, fallback));
                    continue;
                }
                let group = sqlx::query(
                    "UPDATE send_groups SET pending = pending - 1, sent = sent | ?, \
                     unanswered = unanswered | ? WHERE message_id = ? AND username = ? \
                     RETURNING pending, sent, unanswered",
                )
                .bind(sent)
                .bind(unanswered)
                .bind(message_id)
                .bind(&leg.1)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend("counting a user's vendor legs"))?;
                match group {
                    Some(g) if g.get::<i64, _>("pending") <= 0 => {
                        sqlx::query(
                            "DELETE FROM send_groups WHERE message_id = ? AND username = ?",
                        )
                        .bind(message_id)
                        .bind(&leg.1)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend("counting a user's vendor legs"))?;
                        ended.push((
                            message_id,
                            leg.1,
                            g.get("sent"),
                            g.get("unanswered"),
                            fallback,
                        ));
                    }
                    Some(_) => {} // another leg of this user is still under way; it decides
                    None => ended.push((message_id, leg.1, sent, unanswered, fallback)),
                }
            }
            if keep.is_empty() {
                sqlx::query("DELETE FROM send_queue WHERE id = ?")
                    .bind(batch)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend("removing a sent batch of vendor legs"))?;
            } else {
                sqlx::query("UPDATE send_legs SET legs = ? WHERE batch_id = ?")
                    .bind(serde_json::to_string(&keep).unwrap_or_else(|_| "[]".into()))
                    .bind(batch)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend("requeueing vendor legs"))?;
                sqlx::query(
                    "UPDATE send_queue SET leg_count = ?, due_at = COALESCE(?, due_at), \
                     reason = COALESCE(?, reason), lease_until = 0 WHERE id = ?",
                )
                .bind(keep.len() as i64)
                .bind(retry_at)
                .bind(retry_reason)
                .bind(batch)
                .execute(&mut *tx)
                .await
                .map_err(backend("requeueing vendor legs"))?;
            }
        }
        for (message_id, username, sent, unanswered, wants_fallback) in ended {
            let Some(message) = messages.get(&message_id) else {
                continue;
            };
            let user = stored_username(username.clone())?;
            let fell_back = !sent && wants_fallback;
            if fell_back {
                let devices: Vec<String> = sqlx::query_scalar(
                    "SELECT device_id FROM devices WHERE app_id = ? AND username = ?",
                )
                .bind(message.app_id)
                .bind(&username)
                .fetch_all(&mut *tx)
                .await
                .map_err(backend("reading a user's devices"))?;
                // No known device yet: one copy for the first device that connects.
                let devices = if devices.is_empty() {
                    vec![String::new()]
                } else {
                    devices
                };
                for d in devices {
                    let id = next_id();
                    sqlx::query(
                        "INSERT INTO pending (id, app_id, username, device_id, message_id, expires_at) \
                         VALUES (?, ?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(message.app_id)
                    .bind(&username)
                    .bind(&d)
                    .bind(message_id)
                    .bind(message.expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend("keeping a fallback copy"))?;
                    result
                        .fallbacks
                        .push((user.clone(), d, id, message.clone()));
                }
            }
            let unknown = !sent && !fell_back && unanswered;
            if let Some(task_id) = message.task_id {
                if fell_back {
                    bump(task_id, "easemob", &|t| t.success += 1);
                }
                bump(task_id, "", &|t| {
                    if sent || fell_back {
                        t.success += 1
                    } else if unknown {
                        t.unknown += 1
                    } else {
                        t.fail += 1
                    }
                });
            }
            result.groups.push(GroupEnd {
                app_id: message.app_id,
                task_id: message.task_id,
                username: user,
                sent,
                fell_back,
                unknown,
            });
        }
        let counters: Vec<TaskCounter> = counters.into_values().collect();
        add_task_counters(&mut tx, &counters).await?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(result)
    }

    async fn send_queues(&self) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT app_id, notifier FROM send_queue ORDER BY app_id, notifier",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend("listing send queues"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get("app_id"), r.get("notifier")))
            .collect())
    }

    async fn next_send_due(&self, app_id: i64, notifier: &str) -> Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MIN(MAX(due_at, lease_until)) FROM send_queue WHERE app_id = ? AND notifier = ?",
        )
        .bind(app_id)
        .bind(notifier)
        .fetch_one(&self.reader)
        .await
        .map_err(backend("reading when a send queue is due"))
    }

    async fn release_send_leases(&self, owner: i64) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE send_queue SET lease_until = 0 WHERE lease_owner = ? AND lease_until > 0",
        )
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(backend("releasing vendor leg leases"))?
        .rows_affected())
    }

    async fn queued_sends_of_task(&self, task_id: i64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(leg_count), 0) FROM send_queue WHERE task_id = ?",
        )
        .bind(task_id)
        .fetch_one(&self.reader)
        .await
        .map_err(backend("counting a task's queued vendor legs"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_message(&self, m: &StoredMessage) -> Result<()> {
        sqlx::query("INSERT INTO push_messages (id, app_id, body, created) VALUES (?, ?, ?, ?)")
            .bind(m.id)
            .bind(m.app_id)
            .bind(&m.body)
            .bind(m.created)
            .execute(&self.writer)
            .await
            .map_err(backend("storing a notification"))?;
        Ok(())
    }

    async fn message(&self, app_id: i64, id: i64) -> Result<Option<StoredMessage>> {
        let row = sqlx::query(
            "SELECT id, app_id, body, created FROM push_messages WHERE app_id = ? AND id = ?",
        )
        .bind(app_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend("reading a notification"))?;
        Ok(row.map(|r| StoredMessage {
            id: r.get("id"),
            app_id: r.get("app_id"),
            body: r.get("body"),
            created: r.get("created"),
        }))
    }

    async fn create_task(&self, task: &Task, limits: TaskLimits, now_ms: i64) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let running: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tasks WHERE app_id = ? AND status = 'running'",
        )
        .bind(task.app_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend("counting running tasks"))?;
        if running >= i64::from(limits.max_running) {
            return Err(StoreError::Limit(format!(
                "{running} tasks are running; at most {} run at once",
                limits.max_running
            )));
        }
        let counted: i64 = sqlx::query_scalar(
            // Every task counts while it is younger than the window; a list or label task
            // stops counting as soon as it ends (a broadcast only ages out).
            "SELECT COUNT(*) FROM tasks WHERE app_id = ? AND created > ? AND \
             (kind = 'broadcast' OR status IN ('scheduled', 'running'))",
        )
        .bind(task.app_id)
        .bind(now_ms - limits.window_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend("counting recent tasks"))?;
        if counted >= i64::from(limits.max_in_window) {
            return Err(StoreError::Limit(format!(
                "at most {} tasks per {} minutes",
                limits.max_in_window,
                limits.window_ms / 60_000
            )));
        }
        sqlx::query(
            "INSERT INTO tasks (id, app_id, kind, push_msg_id, message, strategy, targets, status, \
             start_at, created, stats, rate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(task.id)
        .bind(task.app_id)
        .bind(task.kind.as_str())
        .bind(task.push_msg_id)
        .bind(&task.message)
        .bind(task.strategy)
        .bind(serde_json::to_string(&task.targets).unwrap_or_else(|_| "[]".into()))
        .bind(task.status.as_str())
        .bind(task.start_at)
        .bind(task.created)
        .bind(task.stats.to_string())
        .bind(task.rate)
        .execute(&mut *tx)
        .await
        .map_err(backend("creating a task"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(())
    }

    async fn task(&self, app_id: i64, id: i64) -> Result<Option<Task>> {
        let row = sqlx::query("SELECT * FROM tasks WHERE app_id = ? AND id = ?")
            .bind(app_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend("reading a task"))?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn list_tasks(&self, app_id: i64, offset: u32, limit: u32) -> Result<Vec<Task>> {
        let rows =
            sqlx::query("SELECT * FROM tasks WHERE app_id = ? ORDER BY id DESC LIMIT ? OFFSET ?")
                .bind(app_id)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.reader)
                .await
                .map_err(backend("listing tasks"))?;
        rows.iter().map(task_from_row).collect()
    }

    async fn start_due_tasks(&self, now_ms: i64, max_running: u32) -> Result<Vec<Task>> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let due = sqlx::query("SELECT * FROM tasks WHERE status = 'scheduled' AND start_at <= ? ORDER BY start_at, id")
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend("reading due tasks"))?;
        let mut started = Vec::new();
        for r in &due {
            let mut t = task_from_row(r)?;
            let (running, max): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM tasks WHERE app_id = ? AND status = 'running'), \
                 COALESCE((SELECT tasks_running_max FROM apps WHERE id = ?), ?)",
            )
            .bind(t.app_id)
            .bind(t.app_id)
            .bind(i64::from(max_running))
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("counting running tasks"))?;
            if running >= max {
                continue;
            }
            sqlx::query("UPDATE tasks SET status = 'running', started = ? WHERE id = ?")
                .bind(now_ms)
                .bind(t.id)
                .execute(&mut *tx)
                .await
                .map_err(backend("starting a task"))?;
            t.status = TaskStatus::Running;
            t.started = Some(now_ms);
            started.push(t);
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(started)
    }

    async fn running_tasks(&self) -> Result<Vec<Task>> {
        let rows = sqlx::query("SELECT * FROM tasks WHERE status = 'running' ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend("reading running tasks"))?;
        rows.iter().map(task_from_row).collect()
    }

    async fn checkpoint_task(
        &self,
        id: i64,
        cursor: Option<&str>,
        stats: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE tasks SET cursor = ?, stats = ? WHERE id = ? AND status = 'running'")
            .bind(cursor)
            .bind(stats.to_string())
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend("checkpointing a task"))?;
        Ok(())
    }

    async fn end_task(
        &self,
        app_id: i64,
        id: i64,
        status: TaskStatus,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET status = ?, finished = ? WHERE app_id = ? AND id = ? \
             AND status IN ('scheduled', 'running')",
        )
        .bind(status.as_str())
        .bind(now_ms)
        .bind(app_id)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(backend("ending a task"))?;
        if status == TaskStatus::Cancelled && done.rows_affected() > 0 {
            // A cancelled task sends nothing more: its legs still waiting leave the queue.
            sqlx::query("DELETE FROM send_queue WHERE task_id = ? AND lease_until <= ?")
                .bind(id)
                .bind(now_ms)
                .execute(&self.writer)
                .await
                .map_err(backend("dropping a cancelled task's vendor legs"))?;
        }
        Ok(done.rows_affected() > 0)
    }

    async fn record_report(
        &self,
        task_id: i64,
        username: &Username,
        action: ReportAction,
        channel: &str,
        keep_until: i64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let (code, arrived, clicked) = match action {
            ReportAction::Arrived => (1, 1, 0),
            ReportAction::Clicked => (2, 0, 1),
        };
        let new = sqlx::query(
            "INSERT OR IGNORE INTO task_reports (task_id, username, action, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(task_id)
        .bind(username.as_str())
        .bind(code)
        .bind(keep_until)
        .execute(&mut *tx)
        .await
        .map_err(backend("recording a report"))?
        .rows_affected()
            == 1;
        if new {
            add_task_counters(
                &mut tx,
                &[TaskCounter {
                    task_id,
                    channel: channel.to_owned(),
                    arrived,
                    clicked,
                    ..TaskCounter::default()
                }],
            )
            .await?;
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(new)
    }

    async fn add_task_counters(&self, counters: &[TaskCounter]) -> Result<()> {
        if counters.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        add_task_counters(&mut tx, counters).await?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(())
    }

    async fn add_daily_stats(&self, rows: &[DailyStat]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        for r in rows {
            sqlx::query(
                "INSERT INTO daily_stats (app_id, day, channel, success, fail, unknown, arrived, clicked) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (app_id, day, channel) DO UPDATE SET \
                 success = success + excluded.success, fail = fail + excluded.fail, \
                 unknown = unknown + excluded.unknown, arrived = arrived + excluded.arrived, \
                 clicked = clicked + excluded.clicked",
            )
            .bind(r.app_id)
            .bind(&r.day)
            .bind(&r.channel)
            .bind(r.success)
            .bind(r.fail)
            .bind(r.unknown)
            .bind(r.arrived)
            .bind(r.clicked)
            .execute(&mut *tx)
            .await
            .map_err(backend("adding daily statistics"))?;
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(())
    }

    async fn daily_stats(&self, app_id: i64, first: &str, last: &str) -> Result<Vec<DailyStat>> {
        let rows = sqlx::query(
            "SELECT app_id, day, channel, success, fail, unknown, arrived, clicked FROM daily_stats \
             WHERE app_id = ? AND day >= ? AND day <= ? ORDER BY day, channel",
        )
        .bind(app_id)
        .bind(first)
        .bind(last)
        .fetch_all(&self.reader)
        .await
        .map_err(backend("reading daily statistics"))?;
        Ok(rows
            .iter()
            .map(|r| DailyStat {
                app_id: r.get("app_id"),
                day: r.get("day"),
                channel: r.get("channel"),
                success: r.get("success"),
                fail: r.get("fail"),
                unknown: r.get("unknown"),
                arrived: r.get("arrived"),
                clicked: r.get("clicked"),
            })
            .collect())
    }

    async fn task_counters(&self, task_id: i64) -> Result<Vec<TaskCounter>> {
        let rows = sqlx::query(
            "SELECT task_id, channel, arrived, clicked, success, fail, unknown FROM task_counters \
             WHERE task_id = ? ORDER BY channel",
        )
        .bind(task_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend("reading task counters"))?;
        Ok(rows
            .iter()
            .map(|r| TaskCounter {
                task_id: r.get("task_id"),
                channel: r.get("channel"),
                arrived: r.get("arrived"),
                clicked: r.get("clicked"),
                success: r.get("success"),
                fail: r.get("fail"),
                unknown: r.get("unknown"),
            })
            .collect())
    }

    async fn user_page(
        &self,
        app_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Username)>> {
        let rows = sqlx::query(
            "SELECT id, username FROM users WHERE app_id = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(app_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(backend("paging users"))?;
        rows.iter()
            .map(|r| Ok((r.get("id"), stored_username(r.get("username"))?)))
            .collect()
    }

    async fn label_intersection_page(
        &self,
        app_id: i64,
        labels: &[LabelName],
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, Username)>> {
        let mut conn = self.reader.acquire().await.map_err(backend("acquire"))?;
        let mut ids = Vec::with_capacity(labels.len());
        for l in labels {
            ids.push(label_id(&mut conn, app_id, l).await?);
        }
        let Some((first, others)) = ids.split_first() else {
            return Ok(Vec::new());
        };
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT m.id, m.username FROM label_members m WHERE m.label_id = ",
        );
        q.push_bind(*first)
            .push(" AND m.id > ")
            .push_bind(after.unwrap_or(0));
        for other in others {
            q.push(" AND EXISTS (SELECT 1 FROM label_members o WHERE o.label_id = ")
                .push_bind(*other)
                .push(" AND o.username = m.username)");
        }
        q.push(" ORDER BY m.id LIMIT ").push_bind(i64::from(limit));
        let rows = q
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(backend("paging a label intersection"))?;
        rows.iter()
            .map(|r| Ok((r.get("id"), stored_username(r.get("username"))?)))
            .collect()
    }

    async fn put_notifier(&self, n: &Notifier) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(backend("begin"))?;
        let existed = sqlx::query("SELECT 1 FROM notifiers WHERE app_id = ? AND name = ?")
            .bind(n.app_id)
            .bind(&n.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend("checking a notifier"))?
            .is_some();
        sqlx::query(
            "INSERT INTO notifiers (app_id, name, vendor, environment, credentials, base_url, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, name) DO UPDATE SET \
             vendor = excluded.vendor, environment = excluded.environment, \
             credentials = excluded.credentials, base_url = excluded.base_url",
        )
        .bind(n.app_id)
        .bind(&n.name)
        .bind(&n.vendor)
        .bind(&n.environment)
        .bind(n.credentials.to_string())
        .bind(&n.base_url)
        .bind(n.created)
        .execute(&mut *tx)
        .await
        .map_err(backend("writing a notifier"))?;
        tx.commit().await.map_err(backend("commit"))?;
        Ok(existed)
    }

    async fn notifier(&self, app_id: i64, name: &str) -> Result<Option<Notifier>> {
        let row = sqlx::query("SELECT * FROM notifiers WHERE app_id = ? AND name = ?")
            .bind(app_id)
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend("reading a notifier"))?;
        row.as_ref().map(notifier_from_row).transpose()
    }

    async fn notifiers(&self, app_id: i64) -> Result<Vec<Notifier>> {
        let rows = sqlx::query("SELECT * FROM notifiers WHERE app_id = ? ORDER BY name")
            .bind(app_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend("listing notifiers"))?;
        rows.iter().map(notifier_from_row).collect()
    }

    async fn delete_notifier(&self, app_id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM notifiers WHERE app_id = ? AND name = ?")
            .bind(app_id)
            .bind(name)
            .execute(&self.writer)
            .await
            .map_err(backend("deleting a notifier"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn close(&self) {
        self.reader.close().await;
        // A final checkpoint folds the WAL back into the main file.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        self.writer.close().await;
    }
}
