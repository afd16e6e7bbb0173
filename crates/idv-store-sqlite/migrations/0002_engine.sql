-- The workflow engine: its per-session state, session lifetimes and background jobs.

-- Engine state ({errors, normalized, actionFiles}) as a JSON object, kept verbatim.
ALTER TABLE sessions ADD COLUMN engine TEXT NOT NULL DEFAULT '{}';
-- When the session's lifetime ends (ms); NULL never.
ALTER TABLE sessions ADD COLUMN expires_at INTEGER;
-- The expiry scan reads only sessions that have not ended and can expire, earliest first; the
-- index holds just those rows, so ended sessions cost it nothing.
CREATE INDEX sessions_by_expiry ON sessions (expires_at, id)
    WHERE ended = 0 AND expires_at IS NOT NULL;

-- Background actions waiting to run, or running under a lease (locked_until). A row lives from
-- the session change that schedules it to the one that records its outcome, and goes with its
-- session.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step         TEXT NOT NULL,
    action       TEXT NOT NULL,
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL
) STRICT;
-- Claims take the due job with the smallest (run_at, id).
CREATE INDEX jobs_by_run_at ON jobs (run_at, id);
CREATE INDEX jobs_by_session ON jobs (session_id, run_at, id);
