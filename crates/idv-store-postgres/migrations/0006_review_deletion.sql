-- Review, deletion and retention.

-- Status and legal-hold changes, oldest first, as a JSON array (jsonb like the other session
-- documents): written in the same compare-and-swap as the change itself. A session under legal
-- hold is never deleted, neither by a caller nor by retention.
ALTER TABLE sessions
    ADD COLUMN history jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN legal_hold boolean NOT NULL DEFAULT false;
-- Retention takes the least recently updated sessions that are not held, walking
-- `sessions_by_updated (updated_at, id)` from migration 0005 (holds are rare).

-- What remains of a deleted session: written in the transaction that deletes the session row,
-- its file rows and its jobs. It answers 410 Gone for the id and accounts for the deletion;
-- it holds nothing of the person's data. deleted_by_kind is user, apikey or retention.
CREATE TABLE session_tombstones (
    id              text PRIMARY KEY,
    workflow_id     text NOT NULL,
    status          bigint NOT NULL,
    owner_id        text,
    deleted_at      bigint NOT NULL,
    deleted_by_id   text,
    deleted_by_name text NOT NULL,
    deleted_by_kind text NOT NULL,
    reason          text
);
