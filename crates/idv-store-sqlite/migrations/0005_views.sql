-- Saved views (session list definitions) and session search.

-- A view is keyed by (namespace, key); value is the JSON object clients read back. group_ids
-- and user_ids (JSON arrays) repeat value's groupIds/userIds so visibility is filtered in SQL.
CREATE TABLE views (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL, -- JSON object, in the author's key order
    group_ids  TEXT NOT NULL, -- JSON array of strings
    user_ids   TEXT NOT NULL, -- JSON array of strings
    owner_id   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT;

-- Search pages by (updated_at, id) when sorted by updatedAt; the other orders and the
-- status + workflow + time-range filters use the indexes of 0001 (sessions_by_workflow_status,
-- sessions_by_status, sessions_by_created, sessions_by_owner).
CREATE INDEX sessions_by_updated ON sessions (updated_at, id);
-- Own-only searches (session:read) of one workflow and status.
CREATE INDEX sessions_by_owner_workflow_status
    ON sessions (owner_id, workflow_id, status, created_at, id);
