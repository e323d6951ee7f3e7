-- The Easemob channel: known devices and the offline queue.

-- Per-app offline retention in seconds; NULL = the server default (7 days).
ALTER TABLE apps ADD COLUMN offline_retention_secs INTEGER;

-- Devices that have connected over the Easemob channel.
CREATE TABLE devices (
    app_id     INTEGER NOT NULL,
    username   TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (app_id, username, device_id)
);

-- A notification body, stored once however many devices it goes to.
CREATE TABLE channel_messages (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL,
    task_id     INTEGER,
    push_msg_id INTEGER,
    body        TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX channel_messages_expiry ON channel_messages (expires_at);

-- The offline queue: one row per (delivery, device) until the device acks it or it expires.
-- No foreign key to users: a batch of many users' rows must not fail as a whole because one
-- user was deleted meanwhile; delete_user removes a user's rows, expiry removes strays.
-- device_id '' holds the copy of a user that has no known device yet.
CREATE TABLE pending (
    id         INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL,
    username   TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    message_id INTEGER NOT NULL REFERENCES channel_messages (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pending_by_device ON pending (app_id, username, device_id, id);
CREATE INDEX pending_expiry ON pending (expires_at);
CREATE INDEX pending_by_message ON pending (message_id);
