-- Push certificates ("notifiers") per app. `credentials` holds secrets: never returned by the API.
CREATE TABLE notifiers (
    app_id      INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    vendor      TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    credentials TEXT    NOT NULL,
    base_url    TEXT,
    created     INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
);
