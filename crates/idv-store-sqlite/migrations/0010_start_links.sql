-- Shareable start links of workflows (POST /api/links): each opening of <baseUrl>/l/<code>
-- starts a fresh session. Only the SHA-256 of the code is stored.
CREATE TABLE start_links (
    id          TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    code_hash   TEXT NOT NULL UNIQUE,
    metadata    TEXT NOT NULL, -- JSON object
    locale      TEXT,
    max_uses    INTEGER,
    uses        INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER,
    revoked_at  INTEGER,
    created_by  TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX start_links_by_workflow ON start_links (workflow_id, created_at);
