-- Seeds :n sessions straight into an idv SQLite database (schema of migrations 0001-0005), for
-- the search benchmark and the query-plan tests, which substitute the placeholders in the text:
-- :n (how many), :t0 (the first createdAt, ms), :wf0 (the main workflow id, quoted) and :wf (a
-- quoted prefix for the three others, <wf>1 .. <wf>3). Spread: 4 workflows (60/20/10/10 %), statuses 0,1,2,3,4,1000, one session a second from :t0,
-- properties FULL_NAME, DOCUMENT_NUMBER, AGE; 50 owners.
INSERT INTO sessions (id, workflow_id, workflow_revision, workflow_name, workflow_version,
    status, locale, metadata, properties, current_step, steps, ended, owner_id, created_at,
    updated_at, revision, engine, expires_at)
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < :n - 1)
SELECT printf('%024x', 1099511627776 + n),
       CASE WHEN n % 10 < 6 THEN :wf0 ELSE :wf || (n % 10 - 5) END,
       1, 'General KYC', '1.0',
       CASE n % 7 WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 WHEN 4 THEN 3
                  WHEN 5 THEN 4 ELSE 1000 END,
       'en-us',
       json_object('externalUserId', 'user-' || n),
       json_object('FULL_NAME', 'Person ' || n, 'DOCUMENT_NUMBER', 'D' || (n * 7919 % 1000003),
                   'AGE', 18 + n % 60),
       'ONBOARDING', '[]', CASE WHEN n % 7 IN (1, 2) THEN 1 ELSE 0 END,
       'owner-' || (n % 50), :t0 + n * 1000, :t0 + n * 1000 + 500, 1, '{}', NULL
FROM seq;
