-- Device tokens: ephemeral devices (POST /api/device/ephemeral), tokens bound to one session
-- (deeplinks, and what a one-time QR token is exchanged for) and one-time `tr-` QR tokens.
-- Only the keyed hash of a token's text is stored. A token bound to a session goes with it.
CREATE TABLE device_tokens (
    id           text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('ephemeral', 'session', 'short')),
    secret_hash  text NOT NULL UNIQUE,
    principal_id text NOT NULL,
    session_id   text REFERENCES sessions (id) ON DELETE CASCADE,
    workflow_ids text[] NOT NULL,
    created_by   text,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    used_at      bigint
);
CREATE INDEX device_tokens_by_expiry ON device_tokens (expires_at);
CREATE INDEX device_tokens_by_session ON device_tokens (session_id);
