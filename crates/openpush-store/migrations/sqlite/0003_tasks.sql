-- Notifications created with POST /push/message, and push tasks (broadcast, list, label).

CREATE TABLE push_messages (
    id      INTEGER PRIMARY KEY,
    app_id  INTEGER NOT NULL,
    body    TEXT    NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX push_messages_by_app ON push_messages (app_id, id);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    app_id      INTEGER NOT NULL,
    kind        TEXT    NOT NULL,             -- broadcast | list | label
    push_msg_id INTEGER,
    message     TEXT    NOT NULL,             -- the pushMessage as stored
    strategy    INTEGER NOT NULL,
    targets     TEXT    NOT NULL,             -- JSON array: user ids (list) or label names (label)
    status      TEXT    NOT NULL,             -- scheduled | running | finished | cancelled
    start_at    INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    started     INTEGER,
    finished    INTEGER,
    cursor      TEXT,                         -- where the runner resumes; NULL = from the start
    stats       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX tasks_by_app ON tasks (app_id, id);
CREATE INDEX tasks_due ON tasks (status, start_at);
