-- Review, deletion and retention.

-- Status and legal-hold changes, oldest first, as a JSON array: written in the same
-- compare-and-swap as the change itself.
ALTER TABLE sessions ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
-- A session under legal hold is never deleted, neither by a caller nor by retention.
ALTER TABLE sessions ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1));
-- Retention takes the least recently updated sessions that are not held, walking
-- `sessions_by_updated (updated_at, id)` from migration 0005 (holds are rare).

-- What remains of a deleted session: written in the transaction that deletes the session row,
-- its file rows and its jobs. It answers 410 Gone for the id and accounts for the deletion;
-- it holds nothing of the person's data. deleted_by_kind is user, apikey or retention.
CREATE TABLE session_tombstones (
    id              TEXT PRIMARY KEY,
    workflow_id     TEXT NOT NULL,
    status          INTEGER NOT NULL,
    owner_id        TEXT,
    deleted_at      INTEGER NOT NULL,
    deleted_by_id   TEXT,
    deleted_by_name TEXT NOT NULL,
    deleted_by_kind TEXT NOT NULL,
    reason          TEXT
) STRICT;
