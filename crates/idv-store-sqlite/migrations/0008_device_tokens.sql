-- Device tokens: ephemeral devices (POST /api/device/ephemeral), tokens bound to one session
-- (deeplinks, and what a one-time QR token is exchanged for) and one-time `tr-` QR tokens.
-- Only the keyed hash of a token's text is stored. A token bound to a session goes with it.
CREATE TABLE device_tokens (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('ephemeral', 'session', 'short')),
    secret_hash  TEXT NOT NULL UNIQUE,
    principal_id TEXT NOT NULL,
    session_id   TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    workflow_ids TEXT NOT NULL, -- JSON array of workflow ids
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) STRICT;
CREATE INDEX device_tokens_by_expiry ON device_tokens (expires_at);
CREATE INDEX device_tokens_by_session ON device_tokens (session_id);
