-- The durable send queue: vendor legs that were answered for before they were sent
-- (/push/async, /push/single, task pages), drained by a worker per (app, notifier). The
-- notification body is the channel_messages row the legs refer to, shared with the Easemob
-- channel (strategies 0 and 3 fall back to it).
--
-- A row is a batch: up to 500 legs of one message for one notifier. A worker leases a batch
-- (lease_until), sends it, and in one transaction deletes it, or keeps only its legs to try
-- again (due again at due_at). A few rows carry many legs: the queue costs a handful of row
-- writes per batch, not per leg.
CREATE TABLE send_queue (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL,
    notifier    TEXT    NOT NULL,
    message_id  INTEGER NOT NULL REFERENCES channel_messages (id) ON DELETE CASCADE,
    task_id     INTEGER,
    leg_count   INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,
    lease_until INTEGER NOT NULL DEFAULT 0,
    lease_owner INTEGER NOT NULL DEFAULT 0,
    reason      TEXT
);
CREATE INDEX send_queue_due ON send_queue (app_id, notifier, due_at);
CREATE INDEX send_queue_by_message ON send_queue (message_id);
CREATE INDEX send_queue_by_task ON send_queue (task_id) WHERE task_id IS NOT NULL;

-- A batch's legs, kept apart from its lease and schedule so that a claim rewrites a small row:
-- a JSON array of [leg id, user, device id, device token, flags] (flags: 1 = fall back to the
-- Easemob channel if none of the user's legs is sent, 2 = the user has several legs of this
-- message).
CREATE TABLE send_legs (
    batch_id INTEGER PRIMARY KEY REFERENCES send_queue (id) ON DELETE CASCADE,
    legs     TEXT    NOT NULL
);

-- Users with several legs of one message (several bindings): the user's result is decided
-- when the last of them ends.
CREATE TABLE send_groups (
    message_id INTEGER NOT NULL,
    username   TEXT    NOT NULL,
    pending    INTEGER NOT NULL,
    sent       INTEGER NOT NULL DEFAULT 0,
    unanswered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, username)
);

-- Legs that ended failed, with the reason, kept until their message would have expired.
CREATE TABLE send_failures (
    id         INTEGER PRIMARY KEY,
    app_id     INTEGER NOT NULL,
    notifier   TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    device_id  TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    task_id    INTEGER,
    unanswered INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    failed_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX send_failures_by_app ON send_failures (app_id, failed_at);
CREATE INDEX send_failures_expiry ON send_failures (expires_at);

-- Task counters also hold the send results of legs that ended in the send queue, per channel;
-- channel '' holds the per-target totals.
ALTER TABLE task_counters ADD COLUMN success INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_counters ADD COLUMN fail INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_counters ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
