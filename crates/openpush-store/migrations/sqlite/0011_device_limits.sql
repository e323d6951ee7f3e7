-- The device side's limits.

-- Known devices by when they were last seen: the sweep that forgets devices unseen for their
-- app's offline retention reads the oldest first, app by app.
CREATE INDEX devices_by_app_seen ON devices (app_id, last_seen);

-- Vendor-channel reports (POST /push/report) counted so far: one arrival and one click per task
-- and user at most. Kept until expires_at (the app's offline retention after the report), then
-- purged with the offline queue.
CREATE TABLE task_reports (
    task_id    INTEGER NOT NULL,
    username   TEXT    NOT NULL,
    action     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, username, action)
);
CREATE INDEX task_reports_expiry ON task_reports (expires_at);
