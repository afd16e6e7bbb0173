//! Statements of the adapters' `engine` modules.

/// Run by `engine::advance`.
pub const ADVANCE: &str = "INSERT INTO jobs (id, session_id, step, action, run_at, attempts, locked_until, \
             last_error, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Run by `engine::advance`.
pub const ADVANCE_2: &str = "DELETE FROM jobs WHERE id = $1";

/// Run by `engine::release` of both adapters (the SQLite one on its writer).
pub const RELEASE: &str =
    "UPDATE jobs SET run_at = $2, locked_until = NULL, last_error = $3 WHERE id = $1";

/// The functions of the adapters' `engine` modules that are the same in both, word for word:
/// `job_from_row`, `list`. Expanded inside each adapter's module, so the names they
/// use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! engine_fns {
    () => {
        fn job_from_row(row: &DbRow) -> StoreResult<JobRecord> {
            Ok(JobRecord {
                id: col(row, "id")?,
                session_id: col(row, "session_id")?,
                step: col(row, "step")?,
                action: col(row, "action")?,
                run_at: col(row, "run_at")?,
                attempts: col(row, "attempts")?,
                locked_until: col(row, "locked_until")?,
                last_error: col(row, "last_error")?,
                created_at: col(row, "created_at")?,
            })
        }

        pub(crate) async fn list(db: &Db, session_id: &str) -> StoreResult<Vec<JobRecord>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                job_columns!(),
                " FROM jobs WHERE session_id = $1 ORDER BY run_at, id"
            ))
            .bind(session_id)
            .fetch_all(db.read())
            .await
            .map_err(backend)?;
            map_rows(rows, job_from_row)
        }
    };
}
