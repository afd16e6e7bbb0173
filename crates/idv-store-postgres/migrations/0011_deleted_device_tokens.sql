-- The device tokens of deleted sessions, only their keyed hash, kept until they would have
-- expired: a person who opens the link of a deleted session learns that it was deleted
-- instead of being told that the link does not work.
CREATE TABLE deleted_device_tokens (
    secret_hash TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX deleted_device_tokens_by_expiry ON deleted_device_tokens (expires_at);
