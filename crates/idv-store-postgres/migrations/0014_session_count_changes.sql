-- The dashboard's counters become a log of changes that readers add up.
--
-- Before, the trigger of 0013 added each session write to a counter row with an upsert: the rows
-- of one day, workflow and status (16 shards of them) took every session write, so concurrent
-- writers waited for each other's row locks until commit, and each upsert left a dead row
-- version behind. Now the trigger only appends rows (+1 for the new state, -1 for the old one)
-- that no other writer touches, and `session_counts_compact()` (run every few seconds by the
-- server's scheduler) replaces the rows of each key by their sum, in one statement, so the
-- tables stay about one row per key. Readers already add up every row of a key, so what they
-- see is exact at every moment, before and after a compaction.

ALTER TABLE session_day_counts DROP CONSTRAINT session_day_counts_pkey;
ALTER TABLE session_day_counts DROP COLUMN shard;
CREATE INDEX session_day_counts_by_day ON session_day_counts (day, workflow_id, status);

ALTER TABLE session_step_counts DROP CONSTRAINT session_step_counts_pkey;
ALTER TABLE session_step_counts DROP COLUMN shard;
CREATE INDEX session_step_counts_by_workflow ON session_step_counts (workflow_id, step);

DROP FUNCTION session_count_shard(text);

-- As before, but in PL/pgSQL: an SQL function with an aggregate is planned again at every
-- call from the trigger, this one once per connection.
CREATE OR REPLACE FUNCTION session_reached(steps jsonb, current_step text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (SELECT COALESCE(array_agg(DISTINCT x.s ORDER BY x.s), '{}')
            FROM (SELECT e->>'id' AS s
                  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(steps) = 'array' THEN steps
                                                 ELSE '[]'::jsonb END) AS e
                  WHERE jsonb_typeof(e) = 'object' AND jsonb_typeof(e->'id') = 'string'
                  UNION ALL SELECT current_step WHERE current_step IS NOT NULL) AS x);
END
$$;

-- Appends the session's change to the counters: its old contribution taken away (-1), its new
-- one added (+1). A write that changes none of the counted columns appends nothing, and a step
-- whose counts do not move gets no row.
CREATE OR REPLACE FUNCTION session_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o_day bigint;
    o_wf text;
    o_status bigint;
    o_cur text;
    o_set text[] := '{}';
    n_day bigint;
    n_wf text;
    n_status bigint;
    n_cur text;
    n_set text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o_day := OLD.created_at / 86400000;
        o_wf := OLD.workflow_id;
        o_status := OLD.status;
        o_cur := OLD.current_step;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_day := NEW.created_at / 86400000;
        n_wf := NEW.workflow_id;
        n_status := NEW.status;
        n_cur := NEW.current_step;
    END IF;
    IF TG_OP = 'UPDATE' AND o_status = n_status AND o_wf = n_wf AND o_day = n_day
        AND o_cur IS NOT DISTINCT FROM n_cur AND OLD.steps = NEW.steps THEN
        RETURN NULL;
    END IF;

    -- Per day and status.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO session_day_counts (day, workflow_id, status, n)
        VALUES (n_day, n_wf, n_status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO session_day_counts (day, workflow_id, status, n)
        VALUES (o_day, o_wf, o_status, -1);
    ELSIF (o_day, o_wf, o_status) IS DISTINCT FROM (n_day, n_wf, n_status) THEN
        INSERT INTO session_day_counts (day, workflow_id, status, n)
        VALUES (o_day, o_wf, o_status, -1), (n_day, n_wf, n_status, 1);
    END IF;

    -- Per step: the steps reached before and after.
    IF TG_OP = 'UPDATE' AND o_wf = n_wf
        AND o_cur IS NOT DISTINCT FROM n_cur AND OLD.steps = NEW.steps THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        o_set := CASE WHEN OLD.steps = '[]'::jsonb THEN array_remove(ARRAY[o_cur], NULL)
                      ELSE session_reached(OLD.steps, o_cur) END;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n_set := CASE WHEN NEW.steps = '[]'::jsonb THEN array_remove(ARRAY[n_cur], NULL)
                      ELSE session_reached(NEW.steps, n_cur) END;
    END IF;
    INSERT INTO session_step_counts (workflow_id, step, reached, here)
    SELECT c.wf, c.step, SUM(c.reached), SUM(c.here)
    FROM (SELECT o_wf AS wf, o.s AS step, -1 AS reached,
                 -((o.s IS NOT DISTINCT FROM o_cur)::integer) AS here
          FROM unnest(o_set) AS o(s)
          UNION ALL
          SELECT n_wf, n.s, 1, (n.s IS NOT DISTINCT FROM n_cur)::integer
          FROM unnest(n_set) AS n(s)) AS c
    GROUP BY c.wf, c.step
    HAVING SUM(c.reached) <> 0 OR SUM(c.here) <> 0;
    RETURN NULL;
END
$$;

-- Replaces the rows of every key that has more than one by their sum (none when it is zero),
-- as one statement per table in one transaction: a reader sees the rows before or after, never
-- between. Two compactions at once could lock the same rows in opposite orders, so a
-- transaction-level advisory lock lets one run and the other return at once (0). Returns how
-- many rows it replaced.
CREATE FUNCTION session_counts_compact() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    removed bigint := 0;
    k bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('idv.session_counts_compact')) THEN
        RETURN 0;
    END IF;
    WITH keys AS (SELECT day, workflow_id, status FROM session_day_counts
                  GROUP BY day, workflow_id, status HAVING COUNT(*) > 1),
         gone AS (DELETE FROM session_day_counts AS c USING keys
                  WHERE (c.day, c.workflow_id, c.status) = (keys.day, keys.workflow_id, keys.status)
                  RETURNING c.day, c.workflow_id, c.status, c.n),
         put AS (INSERT INTO session_day_counts (day, workflow_id, status, n)
                 SELECT day, workflow_id, status, SUM(n) FROM gone
                 GROUP BY day, workflow_id, status HAVING SUM(n) <> 0)
    SELECT COUNT(*) INTO k FROM gone;
    removed := removed + k;
    WITH keys AS (SELECT workflow_id, step FROM session_step_counts
                  GROUP BY workflow_id, step HAVING COUNT(*) > 1),
         gone AS (DELETE FROM session_step_counts AS c USING keys
                  WHERE (c.workflow_id, c.step) = (keys.workflow_id, keys.step)
                  RETURNING c.workflow_id, c.step, c.reached, c.here),
         put AS (INSERT INTO session_step_counts (workflow_id, step, reached, here)
                 SELECT workflow_id, step, SUM(reached), SUM(here) FROM gone
                 GROUP BY workflow_id, step HAVING SUM(reached) <> 0 OR SUM(here) <> 0)
    SELECT COUNT(*) INTO k FROM gone;
    RETURN removed + k;
END
$$;

-- The counters as they stand, one row per key.
SELECT session_counts_compact();
