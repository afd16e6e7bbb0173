//! What the workflow engine needs from the database: a session change committed together with
//! the files and jobs it made, background jobs claimed under a lease, and the expiry scan.
//!
//! Every write here runs on the one writer connection, so claims of this process queue there
//! and claims of another process wait on SQLite's write lock: a claim is a single `UPDATE`, and
//! whoever runs it second sees the lease the first one set.

use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use crate::writer::{self, exec};
use crate::{Db, files, sessions};
use async_trait::async_trait;
use idv_store::JobStore;
use idv_store::{FileRecord, JobRecord, NewEvent, SessionRecord, StoreResult};
use idv_store::{JobId, SessionId};

/// The columns of a job row, as a literal so statements can be `concat!`ed at compile time.
macro_rules! job_columns {
    () => {
        "id, session_id, step, action, run_at, attempts, locked_until, last_error, created_at"
    };
}

/// The guarded session update, then the inserts and the delete, as one unit of the writer: a
/// session whose revision moved on writes nothing.
pub(crate) async fn advance(
    db: &Db,
    next: &SessionRecord,
    files: &[FileRecord],
    jobs: &[JobRecord],
    done_job: Option<&str>,
    events: &[NewEvent],
) -> StoreResult<bool> {
    let row = sessions::SessionRow::of(next);
    let files = files.to_vec();
    let jobs = jobs.to_vec();
    let done_job = done_job.map(str::to_owned);
    let events = crate::outbox::EventRows::of(events)?;
    db.writer
        .run(move |conn| {
            if !row.update(conn)? {
                return Ok(false);
            }
            for f in &files {
                files::insert(conn, f)?;
            }
            for j in &jobs {
                exec(
                    conn,
                    idv_store_sql::engine::ADVANCE,
                    &[
                        &j.id,
                        &j.session_id,
                        &j.step,
                        &j.action,
                        &j.run_at,
                        &j.attempts,
                        &j.locked_until,
                        &j.last_error,
                        &j.created_at,
                    ],
                )
                .map_err(|e| writer::error(e, || format!("job {}", j.id)))?;
            }
            if let Some(id) = &done_job {
                exec(conn, idv_store_sql::engine::ADVANCE_2, &[id]).map_err(writer::backend)?;
            }
            events.write(conn)?;
            Ok(true)
        })
        .await
}

/// One statement: pick the first due, unleased job and lease it.
pub(crate) async fn claim(db: &Db, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
    db.writer
        .run(move |conn| {
            let mut stmt = conn
                .prepare_cached(concat!(
                    "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 \
                     WHERE id = (SELECT id FROM jobs \
                                 WHERE run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                                 ORDER BY run_at, id LIMIT 1) \
                     RETURNING ",
                    job_columns!()
                ))
                .map_err(writer::backend)?;
            writer::bind(&mut stmt, &[&now, &lease_ms]).map_err(writer::backend)?;
            let mut rows = stmt.raw_query();
            let Some(r) = rows.next().map_err(writer::backend)? else {
                return Ok(None);
            };
            let job = JobRecord {
                id: r.get(0).map_err(writer::backend)?,
                session_id: r.get(1).map_err(writer::backend)?,
                step: r.get(2).map_err(writer::backend)?,
                action: r.get(3).map_err(writer::backend)?,
                run_at: r.get(4).map_err(writer::backend)?,
                attempts: r.get(5).map_err(writer::backend)?,
                locked_until: r.get(6).map_err(writer::backend)?,
                last_error: r.get(7).map_err(writer::backend)?,
                created_at: r.get(8).map_err(writer::backend)?,
            };
            Ok(Some(job))
        })
        .await
}

/// Puts a claimed job off until `run_at`, noting why.
pub(crate) async fn release(
    db: &Db,
    id: &str,
    run_at: i64,
    last_error: Option<&str>,
) -> StoreResult<()> {
    let id = id.to_owned();
    let last_error = last_error.map(str::to_owned);
    db.writer
        .run(move |conn| {
            exec(
                conn,
                idv_store_sql::engine::RELEASE,
                &[&id, &run_at, &last_error],
            )
            .map_err(writer::backend)?;
            Ok(())
        })
        .await
}

/// A leased job is next claimable the millisecond after its lease (claims need
/// `locked_until < now`).
pub(crate) async fn next_due(db: &Db) -> StoreResult<Option<i64>> {
    let row =
        sqlx::query("SELECT MIN(MAX(run_at, COALESCE(locked_until + 1, run_at))) AS due FROM jobs")
            .fetch_one(db.read())
            .await
            .map_err(backend)?;
    col(&row, "due")
}

/// Matches the partial index `sessions_by_expiry` (its `WHERE` is repeated here so the planner
/// may use it).
pub(crate) async fn expired(db: &Db, now: i64, limit: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM sessions \
         WHERE ended = 0 AND expires_at IS NOT NULL AND expires_at <= $1 \
         ORDER BY expires_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, |row| col(row, "id"))
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<JobId<'_>>,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        crate::engine::advance(
            &self.db,
            next,
            files,
            jobs,
            done_job.map(JobId::as_str),
            events,
        )
        .await
    }

    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
        crate::engine::claim(&self.db, now, lease_ms).await
    }

    async fn job_release(
        &self,
        id: JobId<'_>,
        run_at: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()> {
        crate::engine::release(&self.db, id.as_str(), run_at, last_error).await
    }

    async fn job_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<JobRecord>> {
        crate::engine::list(&self.db, session_id.as_str()).await
    }

    async fn job_next_due(&self) -> StoreResult<Option<i64>> {
        crate::engine::next_due(&self.db).await
    }

    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        crate::engine::expired(&self.db, now, limit).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::engine_fns!();
