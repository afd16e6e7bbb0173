-- The workflow engine: its per-session state, session lifetimes and background jobs.

-- Engine state ({errors, normalized, actionFiles}) as a JSON object; jsonb like the other
-- session documents.
ALTER TABLE sessions
    ADD COLUMN engine jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN expires_at bigint; -- when the session's lifetime ends (ms); NULL never
-- The expiry scan reads only sessions that have not ended and can expire, earliest first; the
-- index holds just those rows, so ended sessions cost it nothing.
CREATE INDEX sessions_by_expiry ON sessions (expires_at, id)
    WHERE NOT ended AND expires_at IS NOT NULL;

-- Background actions waiting to run, or running under a lease (locked_until). A row lives from
-- the session change that schedules it to the one that records its outcome, and goes with its
-- session. Ids sort in byte order, like SQLite's, for ties on run_at.
CREATE TABLE jobs (
    id           text COLLATE "C" PRIMARY KEY,
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step         text NOT NULL,
    action       text NOT NULL,
    run_at       bigint NOT NULL,
    attempts     bigint NOT NULL,
    locked_until bigint,
    last_error   text,
    created_at   bigint NOT NULL
);
-- Claims take the due job with the smallest (run_at, id), skipping rows another claimer holds.
CREATE INDEX jobs_by_run_at ON jobs (run_at, id);
CREATE INDEX jobs_by_session ON jobs (session_id, run_at, id);
