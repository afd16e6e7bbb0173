-- Seeds :n sessions straight into an idv PostgreSQL database (schema of migrations 0001-0005),
-- for the search benchmark and the query-plan tests (placeholders as in seed_sessions_sqlite.sql,
-- substituted in the text); the same spread as
-- seed_sessions_sqlite.sql: 4 workflows (60/20/10/10 %), statuses 0,1,2,3,4,1000, one session a
-- second from :t0, properties FULL_NAME, DOCUMENT_NUMBER, AGE; 50 owners.
INSERT INTO sessions (id, workflow_id, workflow_revision, workflow_name, workflow_version,
    status, locale, metadata, properties, current_step, steps, ended, owner_id, created_at,
    updated_at, revision, engine, expires_at)
SELECT lpad(to_hex(1099511627776 + n), 24, '0'),
       CASE WHEN n % 10 < 6 THEN :wf0 ELSE :wf || (n % 10 - 5)::text END,
       1, 'General KYC', '1.0',
       (ARRAY[0, 1, 1, 2, 3, 4, 1000])[n % 7 + 1],
       'en-us',
       jsonb_build_object('externalUserId', 'user-' || n),
       jsonb_build_object('FULL_NAME', 'Person ' || n, 'DOCUMENT_NUMBER',
                          'D' || (n * 7919 % 1000003), 'AGE', 18 + n % 60),
       'ONBOARDING', '[]'::jsonb, n % 7 IN (1, 2), 'owner-' || (n % 50),
       :t0 + n * 1000, :t0 + n * 1000 + 500, 1, '{}'::jsonb, NULL
FROM generate_series(0::bigint, :n - 1) AS n;
