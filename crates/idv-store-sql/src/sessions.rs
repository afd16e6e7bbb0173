//! What the adapters' `sessions` modules share.

/// The functions of the adapters' `sessions` modules that are the same in both, word for word:
/// `from_row` and the reads of the counters (`day_counts`, `step_counts`,
/// `counted_workflows`). Expanded inside each adapter's module, so the names they use (`Db`,
/// `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! sessions_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<SessionRecord> {
            Ok(SessionRecord {
                id: col(row, "id")?,
                workflow_id: col(row, "workflow_id")?,
                workflow_revision: col(row, "workflow_revision")?,
                workflow_name: col(row, "workflow_name")?,
                workflow_version: col(row, "workflow_version")?,
                status: col(row, "status")?,
                locale: col(row, "locale")?,
                metadata: json_col(row, "metadata")?,
                properties: json_col(row, "properties")?,
                current_step: col(row, "current_step")?,
                steps: json_col(row, "steps")?,
                ended: col(row, "ended")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
                revision: col(row, "revision")?,
                engine: json_col(row, "engine")?,
                expires_at: col(row, "expires_at")?,
                history: json_col(row, "history")?,
                legal_hold: col(row, "legal_hold")?,
            })
        }

        // A count may be split over several rows per key (PostgreSQL's `shard`, against lock
        // waits between concurrent writers): every read adds them up.
        pub(crate) async fn day_counts(
            db: &Db,
            from_day: i64,
            to_day: i64,
            workflow: Option<&str>,
        ) -> StoreResult<Vec<idv_store::DayCount>> {
            let rows = match workflow {
                Some(w) => {
                    sqlx::query(
                        "SELECT day, status, CAST(SUM(n) AS BIGINT) AS count \
                         FROM session_day_counts \
                         WHERE day >= $1 AND day <= $2 AND workflow_id = $3 \
                         GROUP BY day, status HAVING SUM(n) > 0 ORDER BY day, status",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .bind(w)
                    .fetch_all(db.read())
                    .await
                }
                None => sqlx::query(
                    "SELECT day, status, CAST(SUM(n) AS BIGINT) AS count FROM session_day_counts \
                     WHERE day >= $1 AND day <= $2 GROUP BY day, status HAVING SUM(n) > 0 \
                     ORDER BY day, status",
                )
                .bind(from_day)
                .bind(to_day)
                .fetch_all(db.read())
                .await,
            }
            .map_err(backend)?;
            rows.iter()
                .map(|r| {
                    Ok(idv_store::DayCount {
                        day: col(r, "day")?,
                        status: col(r, "status")?,
                        count: col(r, "count")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn step_counts(
            db: &Db,
            workflow: &str,
        ) -> StoreResult<Vec<idv_store::StepCount>> {
            sqlx::query(
                "SELECT step, CAST(SUM(reached) AS BIGINT) AS reached, \
                 CAST(SUM(here) AS BIGINT) AS here FROM session_step_counts \
                 WHERE workflow_id = $1 GROUP BY step HAVING SUM(reached) > 0",
            )
            .bind(workflow)
            .fetch_all(db.read())
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(idv_store::StepCount {
                    step: col(r, "step")?,
                    reached: col(r, "reached")?,
                    here: col(r, "here")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(|mut v| {
                // Byte order whatever the database's collation.
                v.sort_by(|a, b| a.step.cmp(&b.step));
                v
            })
        }

        pub(crate) async fn counted_workflows(db: &Db) -> StoreResult<Vec<String>> {
            sqlx::query(
                "SELECT workflow_id FROM session_step_counts GROUP BY workflow_id \
                 HAVING SUM(reached) > 0",
            )
            .fetch_all(db.read())
            .await
            .map_err(backend)?
            .iter()
            .map(|r| col(r, "workflow_id"))
            .collect::<StoreResult<Vec<String>>>()
            .map(|mut v| {
                v.sort();
                v
            })
        }
    };
}
