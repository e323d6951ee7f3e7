-- Per app, per UTC day, per channel (easemob, or a vendor's name): what was sent and how it went,
-- and what devices reported. Rows only grow (counters are added, never overwritten).
CREATE TABLE daily_stats (
    app_id  INTEGER NOT NULL,
    day     TEXT    NOT NULL, -- yyyy-MM-dd (UTC)
    channel TEXT    NOT NULL,
    success INTEGER NOT NULL DEFAULT 0,
    fail    INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0,
    arrived INTEGER NOT NULL DEFAULT 0,
    clicked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, day, channel)
);
