-- Counters for the portal's dashboard, kept by a trigger on `sessions` in the same transaction
-- as every session write (create, update, import, delete), so reading them costs a few rows
-- whatever the number of sessions.
--
-- Each count is split over 16 rows (`shard`, from the session id, so a session always counts in
-- the same one): sessions created at the same time in the same workflow would otherwise all wait
-- for one row's lock until the previous writer commits. Readers add the shards up.
--
-- session_day_counts: sessions by the UTC day they were created (days since 1970-01-01),
-- workflow and current status.
CREATE TABLE session_day_counts (
    day         bigint NOT NULL,
    workflow_id text NOT NULL,
    status      bigint NOT NULL,
    shard       smallint NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (day, workflow_id, status, shard)
);

-- session_step_counts: per workflow and step, the sessions that reached the step (it is among
-- their completed steps or is their current step) and the sessions whose current step it is.
CREATE TABLE session_step_counts (
    workflow_id text NOT NULL,
    step        text NOT NULL,
    shard       smallint NOT NULL,
    reached     bigint NOT NULL,
    here        bigint NOT NULL,
    PRIMARY KEY (workflow_id, step, shard)
);

-- The shard of a session id.
CREATE FUNCTION session_count_shard(id text) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$ SELECT (hashtext(id) & 15)::smallint $$;

-- The steps a session reached: the distinct text `id`s of the objects in its `steps` array,
-- and its current step.
CREATE FUNCTION session_reached_steps(steps jsonb, current_step text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT e->>'id'
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(steps) = 'array' THEN steps
                                   ELSE '[]'::jsonb END) AS e
    WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'id') = 'string'
    UNION SELECT current_step WHERE current_step IS NOT NULL
$$;

-- Adds the session's new contribution (+1) and takes away its old one (-1), summed per key so
-- that a write that moves nothing touches no counter row; the keys are written in order, so
-- two writers never wait for each other in opposite orders.
CREATE FUNCTION session_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sess_shard smallint := session_count_shard(CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.status = NEW.status AND OLD.workflow_id = NEW.workflow_id
        AND OLD.created_at / 86400000 = NEW.created_at / 86400000
        AND OLD.current_step IS NOT DISTINCT FROM NEW.current_step
        AND OLD.steps = NEW.steps THEN
        RETURN NULL;
    END IF;
    INSERT INTO session_day_counts AS c (day, workflow_id, status, shard, n)
    SELECT x.day, x.workflow_id, x.status, sess_shard, SUM(x.d)
    FROM (SELECT OLD.created_at / 86400000 AS day, OLD.workflow_id AS workflow_id,
                 OLD.status AS status, -1 AS d WHERE TG_OP <> 'INSERT'
          UNION ALL
          SELECT NEW.created_at / 86400000, NEW.workflow_id, NEW.status, 1
          WHERE TG_OP <> 'DELETE') AS x
    GROUP BY x.day, x.workflow_id, x.status HAVING SUM(x.d) <> 0
    ORDER BY x.day, x.workflow_id, x.status
    ON CONFLICT (day, workflow_id, status, shard) DO UPDATE SET n = c.n + excluded.n;
    INSERT INTO session_step_counts AS c (workflow_id, step, shard, reached, here)
    SELECT x.workflow_id, x.step, sess_shard, SUM(x.r), SUM(x.h)
    FROM (SELECT OLD.workflow_id AS workflow_id, s AS step, -1 AS r, 0 AS h
          FROM session_reached_steps(OLD.steps, OLD.current_step) AS s WHERE TG_OP <> 'INSERT'
          UNION ALL
          SELECT NEW.workflow_id, s, 1, 0
          FROM session_reached_steps(NEW.steps, NEW.current_step) AS s WHERE TG_OP <> 'DELETE'
          UNION ALL
          SELECT OLD.workflow_id, OLD.current_step, 0, -1
          WHERE TG_OP <> 'INSERT' AND OLD.current_step IS NOT NULL
          UNION ALL
          SELECT NEW.workflow_id, NEW.current_step, 0, 1
          WHERE TG_OP <> 'DELETE' AND NEW.current_step IS NOT NULL) AS x
    GROUP BY x.workflow_id, x.step HAVING SUM(x.r) <> 0 OR SUM(x.h) <> 0
    ORDER BY x.workflow_id, x.step
    ON CONFLICT (workflow_id, step, shard) DO UPDATE
        SET reached = c.reached + excluded.reached, here = c.here + excluded.here;
    RETURN NULL;
END
$$;

CREATE TRIGGER session_counts AFTER INSERT OR UPDATE OR DELETE ON sessions
FOR EACH ROW EXECUTE FUNCTION session_counts();

-- Once: the counts of the sessions already stored.
INSERT INTO session_day_counts (day, workflow_id, status, shard, n)
SELECT created_at / 86400000, workflow_id, status, session_count_shard(id), COUNT(*) FROM sessions
GROUP BY created_at / 86400000, workflow_id, status, session_count_shard(id);
INSERT INTO session_step_counts (workflow_id, step, shard, reached, here)
SELECT s.workflow_id, r.step, session_count_shard(s.id), COUNT(*),
       COUNT(*) FILTER (WHERE r.step = s.current_step)
FROM sessions AS s CROSS JOIN LATERAL session_reached_steps(s.steps, s.current_step) AS r(step)
GROUP BY s.workflow_id, r.step, session_count_shard(s.id);
