-- Saved views (session list definitions) and session search.

-- A view is keyed by (namespace, key); value is the JSON object clients read back (json keeps
-- the author's key order). group_ids and user_ids repeat value's groupIds/userIds so visibility
-- is filtered in SQL. Listed by key in byte order.
CREATE TABLE views (
    namespace  text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    value      json NOT NULL,
    group_ids  text[] NOT NULL,
    user_ids   text[] NOT NULL,
    owner_id   text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (namespace, key)
);

-- Search pages by (updated_at, id) when sorted by updatedAt; the other orders and the
-- status + workflow + time-range filters use the indexes of 0001 (sessions_by_workflow_status,
-- sessions_by_status, sessions_by_created, sessions_by_owner).
CREATE INDEX sessions_by_updated ON sessions (updated_at, id);
-- A view's own query: its workflows, newest first, with no status condition (the 0001 index
-- puts status before created_at, so it cannot give that order without sorting).
CREATE INDEX sessions_by_workflow_created ON sessions (workflow_id, created_at, id);
-- Own-only searches (session:read) of one workflow and status.
CREATE INDEX sessions_by_owner_workflow_status
    ON sessions (owner_id, workflow_id, status, created_at, id);
