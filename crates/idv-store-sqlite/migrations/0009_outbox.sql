-- The outbox: events written in the same transaction as the session change that caused them,
-- webhook endpoints, one delivery row per (event, endpoint) and every delivery attempt.

-- One event counter per session, bumped in the transaction that writes the events, so later
-- changes of a session carry larger sequence numbers.
ALTER TABLE sessions ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;

-- `pos` is the feed's cursor: SQLite has one writer, so rowids are handed out in commit order.
-- Events outlive their session (the feed keeps `session.deleted`), so no foreign key.
CREATE TABLE events (
    pos         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    session_id  TEXT,
    workflow_id TEXT,
    owner_id    TEXT,
    sequence    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL,
    feed        INTEGER NOT NULL -- 1 for session events (the feed), 0 for webhook.test
) STRICT;
CREATE UNIQUE INDEX events_by_session ON events (session_id, sequence) WHERE session_id IS NOT NULL;
CREATE INDEX events_by_owner ON events (owner_id, pos);
CREATE INDEX events_by_created ON events (created_at);

-- `events` and `workflow_ids` are comma-wrapped lists (`,session.created,session.completed,`;
-- `,*,` for every type; '' for every workflow) so one statement can match them on both
-- databases.
CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    url                   TEXT NOT NULL,
    events                TEXT NOT NULL,
    enabled               INTEGER NOT NULL,
    description           TEXT,
    headers               TEXT NOT NULL, -- JSON object
    workflow_ids          TEXT NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    ed25519               INTEGER NOT NULL,
    owner_id              TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    failing_since         INTEGER,
    disabled_reason       TEXT,
    disabled_at           INTEGER
) STRICT;

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    event_kind   TEXT NOT NULL,
    session_id   TEXT,
    sequence     INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    locked_until INTEGER,
    created_at   INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    last_status  INTEGER,
    last_error   TEXT
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
-- The first pending delivery of an (endpoint, session) goes before the rest.
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (webhook_id, session_id, sequence)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    response    TEXT,
    error       TEXT
) STRICT;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
