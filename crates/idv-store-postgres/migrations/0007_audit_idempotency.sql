-- The audit log: append-only and hash-chained. hash = SHA-256(prev_hash || canonical JSON of the
-- entry); details hold canonical JSON text. Retention deletes from the start of the chain only.
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    at          bigint NOT NULL,
    actor_id    text,
    actor_kind  text NOT NULL,
    actor_name  text,
    action      text NOT NULL,
    target      text,
    outcome     integer NOT NULL,
    ip          text,
    request_id  text,
    details     text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- The chain's one head row: the last entry written, and the anchor (the last entry retention
-- removed), from which verification starts.
CREATE TABLE audit_chain (
    id          integer PRIMARY KEY CHECK (id = 1),
    head_seq    bigint NOT NULL,
    head_hash   text NOT NULL,
    anchor_seq  bigint NOT NULL,
    anchor_hash text NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
     0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Idempotency keys: the first successful answer to a creating request, per caller and key.
-- status is NULL while the first request runs (until locked_until).
CREATE TABLE idempotency_keys (
    owner         text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    status        integer,
    content_type  text,
    body          bytea,
    locked_until  bigint NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
