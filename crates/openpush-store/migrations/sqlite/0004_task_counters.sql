-- Arrivals and clicks reported by devices, per task and channel (easemob, or a vendor's name).
CREATE TABLE task_counters (
    task_id INTEGER NOT NULL,
    channel TEXT    NOT NULL,
    arrived INTEGER NOT NULL DEFAULT 0,
    clicked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, channel)
);
