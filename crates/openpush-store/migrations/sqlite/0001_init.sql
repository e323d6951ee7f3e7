-- OpenPush schema, SQLite flavour. The PostgreSQL flavour keeps the same tables and columns.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE apps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT    NOT NULL UNIQUE,
    org         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    client_id   TEXT    NOT NULL UNIQUE,
    secret_hash BLOB    NOT NULL,
    created     INTEGER NOT NULL,
    UNIQUE (org, name)
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id        INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    username      TEXT    NOT NULL,
    uuid          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    nickname      TEXT    NOT NULL DEFAULT '',
    display_style INTEGER NOT NULL DEFAULT 0,
    language      TEXT    NOT NULL DEFAULT '',
    legacy_dnd    TEXT,
    activated     INTEGER NOT NULL DEFAULT 1,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    UNIQUE (app_id, username)
);

CREATE TABLE bindings (
    app_id        INTEGER NOT NULL,
    username      TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    notifier_name TEXT    NOT NULL,
    device_token  TEXT    NOT NULL,
    updated       INTEGER NOT NULL,
    PRIMARY KEY (app_id, username, device_id, notifier_name),
    FOREIGN KEY (app_id, username) REFERENCES users (app_id, username) ON DELETE CASCADE
);
CREATE INDEX bindings_by_token ON bindings (app_id, notifier_name, device_token);

CREATE TABLE notification_settings (
    app_id          INTEGER NOT NULL,
    username        TEXT    NOT NULL,
    chattype        TEXT    NOT NULL,
    conv_key        TEXT    NOT NULL,
    notify_type     TEXT    NOT NULL,
    ignore_interval TEXT    NOT NULL,
    ignore_until    INTEGER NOT NULL,
    PRIMARY KEY (app_id, username, chattype, conv_key),
    FOREIGN KEY (app_id, username) REFERENCES users (app_id, username) ON DELETE CASCADE
);

CREATE TABLE labels (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    member_count INTEGER NOT NULL DEFAULT 0,
    created      INTEGER NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE label_members (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    label_id INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    app_id   INTEGER NOT NULL,
    username TEXT    NOT NULL,
    created  INTEGER NOT NULL,
    UNIQUE (label_id, username),
    FOREIGN KEY (app_id, username) REFERENCES users (app_id, username) ON DELETE CASCADE
);
CREATE INDEX label_members_by_user ON label_members (app_id, username);

-- member_count follows the rows, whatever removed them (explicit delete or a cascade).
CREATE TRIGGER label_members_ins AFTER INSERT ON label_members
BEGIN
    UPDATE labels SET member_count = member_count + 1 WHERE id = NEW.label_id;
END;
CREATE TRIGGER label_members_del AFTER DELETE ON label_members
BEGIN
    UPDATE labels SET member_count = member_count - 1 WHERE id = OLD.label_id;
END;
