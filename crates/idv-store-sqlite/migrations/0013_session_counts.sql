-- Counters for the portal's dashboard, kept by triggers on `sessions` in the same transaction
-- as every session write (create, update, import, delete), so reading them costs a few rows
-- whatever the number of sessions.
--
-- session_day_counts: sessions by the UTC day they were created (days since 1970-01-01),
-- workflow and current status.
CREATE TABLE session_day_counts (
    day         INTEGER NOT NULL,
    workflow_id TEXT NOT NULL,
    status      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, workflow_id, status)
) STRICT, WITHOUT ROWID;

-- session_step_counts: per workflow and step, the sessions that reached the step (it is among
-- their completed steps or is their current step) and the sessions whose current step it is.
CREATE TABLE session_step_counts (
    workflow_id TEXT NOT NULL,
    step        TEXT NOT NULL,
    reached     INTEGER NOT NULL,
    here        INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, step)
) STRICT, WITHOUT ROWID;

-- Each trigger adds the session's new contribution (+1) and takes away its old one (-1),
-- summed per key so that a write that moves nothing touches no counter row. The steps a
-- session reached: the distinct text `id`s of the objects in its `steps` array, and its
-- current step.
CREATE TRIGGER session_counts_insert AFTER INSERT ON sessions
BEGIN
    INSERT INTO session_day_counts (day, workflow_id, status, n)
    SELECT NEW.created_at / 86400000, NEW.workflow_id, NEW.status, 1 WHERE true
    ON CONFLICT (day, workflow_id, status) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_step_counts (workflow_id, step, reached, here)
    SELECT NEW.workflow_id, step, 1, step IS NEW.current_step
    FROM (SELECT json_extract(value, '$.id') AS step FROM json_each(NEW.steps)
          WHERE type = 'object' AND json_type(value, '$.id') = 'text'
          UNION SELECT NEW.current_step WHERE NEW.current_step IS NOT NULL)
    WHERE true
    ON CONFLICT (workflow_id, step) DO UPDATE
        SET reached = reached + excluded.reached, here = here + excluded.here;
END;

CREATE TRIGGER session_counts_update AFTER UPDATE ON sessions
WHEN OLD.status IS NOT NEW.status OR OLD.workflow_id IS NOT NEW.workflow_id
    OR OLD.created_at / 86400000 IS NOT NEW.created_at / 86400000
    OR OLD.current_step IS NOT NEW.current_step OR OLD.steps IS NOT NEW.steps
BEGIN
    INSERT INTO session_day_counts (day, workflow_id, status, n)
    SELECT day, workflow_id, status, SUM(d)
    FROM (SELECT OLD.created_at / 86400000 AS day, OLD.workflow_id AS workflow_id,
                 OLD.status AS status, -1 AS d
          UNION ALL SELECT NEW.created_at / 86400000, NEW.workflow_id, NEW.status, 1)
    WHERE true
    GROUP BY day, workflow_id, status HAVING SUM(d) <> 0
    ON CONFLICT (day, workflow_id, status) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_step_counts (workflow_id, step, reached, here)
    SELECT workflow_id, step, SUM(r), SUM(h)
    FROM (SELECT OLD.workflow_id AS workflow_id, step, -1 AS r, 0 AS h
          FROM (SELECT json_extract(value, '$.id') AS step FROM json_each(OLD.steps)
                WHERE type = 'object' AND json_type(value, '$.id') = 'text'
                UNION SELECT OLD.current_step WHERE OLD.current_step IS NOT NULL)
          UNION ALL
          SELECT NEW.workflow_id, step, 1, 0
          FROM (SELECT json_extract(value, '$.id') AS step FROM json_each(NEW.steps)
                WHERE type = 'object' AND json_type(value, '$.id') = 'text'
                UNION SELECT NEW.current_step WHERE NEW.current_step IS NOT NULL)
          UNION ALL
          SELECT OLD.workflow_id, OLD.current_step, 0, -1 WHERE OLD.current_step IS NOT NULL
          UNION ALL
          SELECT NEW.workflow_id, NEW.current_step, 0, 1 WHERE NEW.current_step IS NOT NULL)
    WHERE true
    GROUP BY workflow_id, step HAVING SUM(r) <> 0 OR SUM(h) <> 0
    ON CONFLICT (workflow_id, step) DO UPDATE
        SET reached = reached + excluded.reached, here = here + excluded.here;
END;

CREATE TRIGGER session_counts_delete AFTER DELETE ON sessions
BEGIN
    UPDATE session_day_counts SET n = n - 1
    WHERE day = OLD.created_at / 86400000 AND workflow_id = OLD.workflow_id
        AND status = OLD.status;
    UPDATE session_step_counts
    SET reached = reached - 1, here = here - (step IS OLD.current_step)
    WHERE workflow_id = OLD.workflow_id
        AND step IN (SELECT json_extract(value, '$.id') FROM json_each(OLD.steps)
                     WHERE type = 'object' AND json_type(value, '$.id') = 'text'
                     UNION SELECT OLD.current_step WHERE OLD.current_step IS NOT NULL);
END;

-- Once: the counts of the sessions already stored.
INSERT INTO session_day_counts (day, workflow_id, status, n)
SELECT created_at / 86400000, workflow_id, status, COUNT(*) FROM sessions
GROUP BY created_at / 86400000, workflow_id, status;
INSERT INTO session_step_counts (workflow_id, step, reached, here)
SELECT workflow_id, step, COUNT(*), SUM(here)
FROM (SELECT id, workflow_id, step, MAX(here) AS here
      FROM (SELECT s.id, s.workflow_id, json_extract(j.value, '$.id') AS step, 0 AS here
            FROM sessions s, json_each(s.steps) j
            WHERE j.type = 'object' AND json_type(j.value, '$.id') = 'text'
            UNION ALL
            SELECT id, workflow_id, current_step, 1 FROM sessions WHERE current_step IS NOT NULL)
      GROUP BY id, workflow_id, step)
GROUP BY workflow_id, step;
