-- idv schema for PostgreSQL. Times are bigint milliseconds since the Unix epoch; string lists
-- are text[]; session documents are jsonb (queryable and indexable later); the workflow
-- definition is json, which keeps the author's text and key order exactly (jsonb would sort
-- keys, and the definition is shown back to its author and sent to capture clients).
-- Rows listed "oldest first" / "newest first" break ties on created_at by `seq`, which grows
-- with insertion order. Columns that lists are sorted by use COLLATE "C" (byte order), so the
-- order is the same as SQLite's and does not depend on the server's locale.

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE users (
    id            text PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    name          text NOT NULL UNIQUE,
    email         text,
    password_hash text NOT NULL,
    roles         text[] NOT NULL,
    active        boolean NOT NULL,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL
);

CREATE TABLE roles (
    name        text COLLATE "C" PRIMARY KEY,
    description text,
    permissions text[] NOT NULL,
    created_at  bigint NOT NULL
);

-- owner_id is a user id or another key's id, so it has no foreign key.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    name         text NOT NULL,
    secret_hash  text NOT NULL,
    permissions  text[] NOT NULL,
    owner_id     text,
    ttl          bigint,
    created_at   bigint NOT NULL,
    expires_at   bigint,
    revoked_at   bigint,
    last_used_at bigint
);
CREATE INDEX api_keys_by_owner ON api_keys (owner_id, created_at, seq);
CREATE INDEX api_keys_by_created ON api_keys (created_at, seq);

-- Deleting a user deletes its tokens.
CREATE TABLE auth_tokens (
    hash       text PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('access', 'refresh')),
    family     text NOT NULL,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX auth_tokens_by_family ON auth_tokens (family);
CREATE INDEX auth_tokens_by_user ON auth_tokens (user_id);
CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);

-- One row per workflow id: the latest revision number (which is always the current one) and
-- whether the workflow is deleted. Every upload adds a row to workflow_revisions; revisions are
-- never removed, because sessions pin the revision they started on.
CREATE TABLE workflows (
    id               text COLLATE "C" PRIMARY KEY,
    current_revision bigint NOT NULL,
    deleted          boolean NOT NULL DEFAULT false
);

CREATE TABLE workflow_revisions (
    id             text COLLATE "C" NOT NULL REFERENCES workflows (id),
    revision       bigint NOT NULL,
    name           text COLLATE "C" NOT NULL,
    description    text,
    version        text,
    default_locale text,
    definition     json NOT NULL,
    owner_id       text,
    created_at     bigint NOT NULL,
    PRIMARY KEY (id, revision)
);

CREATE TABLE translations (
    key   text COLLATE "C" NOT NULL,
    code  text COLLATE "C" NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (key, code)
);
CREATE INDEX translations_by_code ON translations (code);

-- Sessions pin (workflow_id, workflow_revision) without a foreign key: the store keeps every
-- revision, and the engine owns the rule that a session starts on an existing one.
CREATE TABLE sessions (
    id                text PRIMARY KEY,
    workflow_id       text NOT NULL,
    workflow_revision bigint NOT NULL,
    workflow_name     text NOT NULL,
    workflow_version  text,
    status            bigint NOT NULL,
    locale            text NOT NULL,
    metadata          jsonb NOT NULL,
    properties        jsonb NOT NULL,
    current_step      text,
    steps             jsonb NOT NULL,
    ended             boolean NOT NULL,
    owner_id          text,
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    revision          bigint NOT NULL
);
-- Session search filters by workflow, status and a time range and pages by (created_at, id);
-- each index ends in (created_at, id) so a page is one index range scan in either direction.
CREATE INDEX sessions_by_workflow_status ON sessions (workflow_id, status, created_at, id);
CREATE INDEX sessions_by_status ON sessions (status, created_at, id);
CREATE INDEX sessions_by_created ON sessions (created_at, id);
CREATE INDEX sessions_by_owner ON sessions (owner_id, created_at, id);

-- File rows go with their session.
CREATE TABLE files (
    id           text PRIMARY KEY,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    name         text NOT NULL,
    step         text,
    property     text,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    object_key   text NOT NULL,
    created_at   bigint NOT NULL
);
CREATE INDEX files_by_session ON files (session_id, created_at, seq);
