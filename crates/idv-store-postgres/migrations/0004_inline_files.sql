-- Small files (step data, small action responses) keep their bytes in the row.
ALTER TABLE files ADD COLUMN content bytea;
