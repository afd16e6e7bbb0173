-- idv schema for SQLite. Times are INTEGER milliseconds since the Unix epoch; JSON documents
-- and string lists are TEXT holding JSON; booleans are INTEGER 0/1. Tables are STRICT so a
-- wrongly typed write fails instead of being stored as something else.
-- Rows listed "oldest first" / "newest first" break ties on created_at by rowid, which grows
-- with insertion order.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    roles         TEXT NOT NULL, -- JSON array of role names
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT,
    permissions TEXT NOT NULL, -- JSON array of `scope:operation`
    created_at  INTEGER NOT NULL
) STRICT;

-- owner_id is a user id or another key's id, so it has no foreign key.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    permissions  TEXT NOT NULL, -- JSON array of `scope:operation`
    owner_id     TEXT,
    ttl          INTEGER,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX api_keys_by_owner ON api_keys (owner_id, created_at);
CREATE INDEX api_keys_by_created ON api_keys (created_at);

-- Deleting a user deletes its tokens (foreign_keys=ON is set on every connection).
CREATE TABLE auth_tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_tokens_by_family ON auth_tokens (family);
CREATE INDEX auth_tokens_by_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);

-- One row per workflow id: the latest revision number (which is always the current one) and
-- whether the workflow is deleted. Every upload adds a row to workflow_revisions; revisions are
-- never removed, because sessions pin the revision they started on.
CREATE TABLE workflows (
    id               TEXT PRIMARY KEY,
    current_revision INTEGER NOT NULL,
    deleted          INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;

CREATE TABLE workflow_revisions (
    id             TEXT NOT NULL REFERENCES workflows (id),
    revision       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    version        TEXT,
    default_locale TEXT,
    definition     TEXT NOT NULL, -- the whole definition as JSON, in the author's key order
    owner_id       TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (id, revision)
) STRICT;

CREATE TABLE translations (
    key   TEXT NOT NULL,
    code  TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, code)
) STRICT;
CREATE INDEX translations_by_code ON translations (code);

-- Sessions pin (workflow_id, workflow_revision) without a foreign key: the store keeps every
-- revision, and the engine owns the rule that a session starts on an existing one.
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    workflow_id       TEXT NOT NULL,
    workflow_revision INTEGER NOT NULL,
    workflow_name     TEXT NOT NULL,
    workflow_version  TEXT,
    status            INTEGER NOT NULL,
    locale            TEXT NOT NULL,
    metadata          TEXT NOT NULL, -- JSON object
    properties        TEXT NOT NULL, -- JSON object
    current_step      TEXT,
    steps             TEXT NOT NULL, -- JSON array
    ended             INTEGER NOT NULL CHECK (ended IN (0, 1)),
    owner_id          TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    revision          INTEGER NOT NULL
) STRICT;
-- Session search filters by workflow, status and a time range and pages by (created_at, id);
-- each index ends in (created_at, id) so a page is one index range scan in either direction.
CREATE INDEX sessions_by_workflow_status ON sessions (workflow_id, status, created_at, id);
CREATE INDEX sessions_by_status ON sessions (status, created_at, id);
CREATE INDEX sessions_by_created ON sessions (created_at, id);
CREATE INDEX sessions_by_owner ON sessions (owner_id, created_at, id);

-- File rows go with their session.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    step         TEXT,
    property     TEXT,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX files_by_session ON files (session_id, created_at);
