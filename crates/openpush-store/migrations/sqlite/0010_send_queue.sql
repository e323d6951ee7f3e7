-- The durable send queue: vendor legs that were answered for before they were sent
-- (/push/async, /push/single, task pages). One row per binding, drained by a worker per
-- (app, notifier). The notification body is the channel_messages row it refers to, shared with
-- the Easemob channel (strategies 0 and 3 fall back to it).
--
-- state: 0 queued (waiting, or leased by a worker until lease_until), 1 sent, 2 failed (the
-- vendor refused it), 3 failed without a vendor's answer (retries exhausted, expired). Failed
-- legs are kept with their reason until their message expires. A user's legs of one message form a group:
-- when the last of them ends, the group is counted once and, for strategies 0 and 3 with no
-- leg sent, the Easemob channel gets its copy in the same transaction.
CREATE TABLE send_queue (
    id           INTEGER PRIMARY KEY,
    app_id       INTEGER NOT NULL,
    notifier     TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    device_id    TEXT    NOT NULL,
    device_token TEXT    NOT NULL,
    message_id   INTEGER NOT NULL REFERENCES channel_messages (id) ON DELETE CASCADE,
    task_id      INTEGER,
    fallback     INTEGER NOT NULL,
    state        INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    lease_owner  INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL,
    reason       TEXT
);
CREATE INDEX send_queue_due ON send_queue (app_id, notifier, state, due_at);
CREATE INDEX send_queue_group ON send_queue (message_id, username);
CREATE INDEX send_queue_by_task ON send_queue (task_id, state) WHERE task_id IS NOT NULL;
CREATE INDEX send_queue_expiry ON send_queue (expires_at);

-- Task counters also hold the send results of legs that ended in the send queue, per channel;
-- channel '' holds the per-target totals.
ALTER TABLE task_counters ADD COLUMN success INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_counters ADD COLUMN fail INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_counters ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0;
