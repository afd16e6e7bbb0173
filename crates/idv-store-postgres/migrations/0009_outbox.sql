-- The outbox: events written in the same transaction as the session change that caused them,
-- webhook endpoints, one delivery row per (event, endpoint) and every delivery attempt.

-- One event counter per session, bumped in the transaction that writes the events (the row
-- lock orders them), so later changes of a session carry larger sequence numbers.
ALTER TABLE sessions ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;

-- The feed's cursor is (tx, pos): `pos` comes from a sequence, handed out at insert, not at
-- commit, so a reader ordering by it alone could pass an event whose transaction commits later.
-- `tx` is the writing transaction's id; a reader takes only rows with `tx` below the oldest
-- transaction still running (pg_snapshot_xmin), and no transaction that commits later can
-- have an id below that, so following the cursor misses nothing.
CREATE TABLE events (
    pos         bigserial PRIMARY KEY,
    tx          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id          text NOT NULL UNIQUE,
    kind        text NOT NULL,
    session_id  text,
    workflow_id text,
    owner_id    text,
    sequence    bigint NOT NULL,
    created_at  bigint NOT NULL,
    body        text NOT NULL,
    feed        boolean NOT NULL
);
CREATE UNIQUE INDEX events_by_session ON events (session_id, sequence) WHERE session_id IS NOT NULL;
CREATE INDEX events_by_tx ON events (tx, pos);
CREATE INDEX events_by_owner ON events (owner_id, tx, pos);
CREATE INDEX events_by_created ON events (created_at);

-- `events` and `workflow_ids` are comma-wrapped lists (`,session.created,session.completed,`;
-- `,*,` for every type; '' for every workflow) so one statement can match them on both
-- databases.
CREATE TABLE webhooks (
    id                    text PRIMARY KEY,
    url                   text NOT NULL,
    events                text NOT NULL,
    enabled               boolean NOT NULL,
    description           text,
    headers               jsonb NOT NULL,
    workflow_ids          text NOT NULL,
    secret                text NOT NULL,
    previous_secret       text,
    previous_secret_until bigint,
    ed25519               boolean NOT NULL,
    owner_id              text,
    created_at            bigint NOT NULL,
    updated_at            bigint NOT NULL,
    failing_since         bigint,
    disabled_reason       text,
    disabled_at           bigint
);

CREATE TABLE webhook_deliveries (
    id           bigserial PRIMARY KEY,
    webhook_id   text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id     text NOT NULL,
    event_kind   text NOT NULL,
    session_id   text,
    sequence     bigint NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     bigint NOT NULL,
    next_at      bigint NOT NULL,
    locked_until bigint,
    created_at   bigint NOT NULL,
    deadline     bigint NOT NULL,
    last_status  integer,
    last_error   text
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
-- The first pending delivery of an (endpoint, session) goes before the rest.
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (webhook_id, session_id, sequence)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id  text NOT NULL,
    at          bigint NOT NULL,
    status_code integer,
    latency_ms  bigint NOT NULL,
    response    text,
    error       text
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
