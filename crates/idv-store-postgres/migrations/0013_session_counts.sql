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

-- The steps a session reached, sorted: the distinct text `id`s of the objects in its `steps`
-- array, and its current step.
CREATE FUNCTION session_reached(steps jsonb, current_step text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(array_agg(DISTINCT x.s ORDER BY x.s), '{}')
    FROM (SELECT e->>'id' AS s
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(steps) = 'array' THEN steps
                                         ELSE '[]'::jsonb END) AS e
          WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'id') = 'string'
          UNION ALL SELECT current_step WHERE current_step IS NOT NULL) AS x
$$;

-- Takes the session's old contribution away and adds its new one. A write that changes none of
-- the counted columns returns at once; the usual writes (a new session, a status change, a
-- move to the next step) touch one to three counter rows, each with a one-row statement.
-- Within a table the rows are written in key order, so two writers never wait for each other
-- in opposite orders.
CREATE FUNCTION session_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sh smallint;
    o_set text[] := '{}';
    n_set text[] := '{}';
    k text;
    dr integer;
    dh integer;
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.status = NEW.status AND OLD.workflow_id = NEW.workflow_id
        AND OLD.created_at / 86400000 = NEW.created_at / 86400000
        AND OLD.current_step IS NOT DISTINCT FROM NEW.current_step
        AND OLD.steps = NEW.steps THEN
        RETURN NULL;
    END IF;
    sh := session_count_shard(CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);

    -- Per day and status.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_day_counts AS c
        VALUES (NEW.created_at / 86400000, NEW.workflow_id, NEW.status, sh, 1)
        ON CONFLICT (day, workflow_id, status, shard) DO UPDATE SET n = c.n + 1;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE session_day_counts SET n = n - 1
        WHERE day = OLD.created_at / 86400000 AND workflow_id = OLD.workflow_id
            AND status = OLD.status AND shard = sh;
    ELSIF (OLD.created_at / 86400000, OLD.workflow_id, OLD.status)
        IS DISTINCT FROM (NEW.created_at / 86400000, NEW.workflow_id, NEW.status) THEN
        IF (OLD.created_at / 86400000, OLD.workflow_id, OLD.status)
            < (NEW.created_at / 86400000, NEW.workflow_id, NEW.status) THEN
            UPDATE session_day_counts SET n = n - 1
            WHERE day = OLD.created_at / 86400000 AND workflow_id = OLD.workflow_id
                AND status = OLD.status AND shard = sh;
        END IF;
        INSERT INTO session_day_counts AS c
        VALUES (NEW.created_at / 86400000, NEW.workflow_id, NEW.status, sh, 1)
        ON CONFLICT (day, workflow_id, status, shard) DO UPDATE SET n = c.n + 1;
        IF (OLD.created_at / 86400000, OLD.workflow_id, OLD.status)
            > (NEW.created_at / 86400000, NEW.workflow_id, NEW.status) THEN
            UPDATE session_day_counts SET n = n - 1
            WHERE day = OLD.created_at / 86400000 AND workflow_id = OLD.workflow_id
                AND status = OLD.status AND shard = sh;
        END IF;
    END IF;

    -- Per step: the steps reached before and after.
    IF TG_OP = 'UPDATE' AND OLD.workflow_id = NEW.workflow_id
        AND OLD.current_step IS NOT DISTINCT FROM NEW.current_step AND OLD.steps = NEW.steps THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        o_set := CASE WHEN OLD.steps = '[]'::jsonb
                      THEN array_remove(ARRAY[OLD.current_step], NULL)
                      ELSE session_reached(OLD.steps, OLD.current_step) END;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_set := CASE WHEN NEW.steps = '[]'::jsonb
                      THEN array_remove(ARRAY[NEW.current_step], NULL)
                      ELSE session_reached(NEW.steps, NEW.current_step) END;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.workflow_id = NEW.workflow_id THEN
        FOR k IN SELECT DISTINCT u.s FROM unnest(o_set || n_set) AS u(s) ORDER BY u.s LOOP
            dr := (k = ANY (n_set))::integer - (k = ANY (o_set))::integer;
            dh := (k IS NOT DISTINCT FROM NEW.current_step)::integer
                - (k IS NOT DISTINCT FROM OLD.current_step)::integer;
            IF dr <> 0 OR dh <> 0 THEN
                INSERT INTO session_step_counts AS c VALUES (NEW.workflow_id, k, sh, dr, dh)
                ON CONFLICT (workflow_id, step, shard)
                DO UPDATE SET reached = c.reached + dr, here = c.here + dh;
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;
    -- A new session, a deleted one, or one moved to another workflow.
    FOREACH k IN ARRAY o_set LOOP
        UPDATE session_step_counts
        SET reached = reached - 1,
            here = here - (k IS NOT DISTINCT FROM OLD.current_step)::integer
        WHERE workflow_id = OLD.workflow_id AND step = k AND shard = sh;
    END LOOP;
    FOREACH k IN ARRAY n_set LOOP
        INSERT INTO session_step_counts AS c
        VALUES (NEW.workflow_id, k, sh, 1, (k IS NOT DISTINCT FROM NEW.current_step)::integer)
        ON CONFLICT (workflow_id, step, shard)
        DO UPDATE SET reached = c.reached + 1, here = c.here + excluded.here;
    END LOOP;
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
FROM sessions AS s CROSS JOIN LATERAL unnest(session_reached(s.steps, s.current_step)) AS r(step)
GROUP BY s.workflow_id, r.step, session_count_shard(s.id);
