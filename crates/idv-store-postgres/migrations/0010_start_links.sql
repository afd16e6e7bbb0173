-- Shareable start links of workflows (POST /api/links): each opening of <baseUrl>/l/<code>
-- starts a fresh session. Only the SHA-256 of the code is stored.
CREATE TABLE start_links (
    id          text PRIMARY KEY,
    workflow_id text NOT NULL,
    code_hash   text NOT NULL UNIQUE,
    metadata    json NOT NULL,
    locale      text,
    max_uses    bigint,
    uses        bigint NOT NULL DEFAULT 0,
    expires_at  bigint,
    revoked_at  bigint,
    created_by  text,
    created_at  bigint NOT NULL
);
CREATE INDEX start_links_by_workflow ON start_links (workflow_id, created_at);
