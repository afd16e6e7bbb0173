//! What the workflow engine needs from the database: a session change committed together with
//! the files and jobs it made, background jobs claimed under a lease, and the expiry scan.
//!
//! A claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`: a
//! claimer skips the rows another claimer holds instead of waiting for them, and a row whose
//! lease was set after this statement's snapshot is re-checked against the lease on locking,
//! so no two claimers (in any processes) get the same job while its lease holds.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows, unique_or_backend};
use crate::{files, sessions};
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

/// The guarded session update, then the inserts and the delete, in one transaction. A change
/// with nothing beside the session is the plain update, one statement with no transaction
/// around it.
pub(crate) async fn advance(
    db: &Db,
    next: &SessionRecord,
    files: &[FileRecord],
    jobs: &[JobRecord],
    done_job: Option<&str>,
    events: &[NewEvent],
) -> StoreResult<bool> {
    if files.is_empty() && jobs.is_empty() && done_job.is_none() && events.is_empty() {
        return sessions::update(db, next).await;
    }
    let mut tx = db.begin().await.map_err(backend)?;
    let done = sessions::update_query(next)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        // Dropping the transaction rolls it back; nothing was written.
        return Ok(false);
    }
    for f in files {
        files::insert_query(f)
            .execute(&mut *tx)
            .await
            .map_err(unique_or_backend(|| format!("file {}", f.id)))?;
    }
    for j in jobs {
        sqlx::query(idv_store_sql::engine::ADVANCE)
            .bind(&j.id)
            .bind(&j.session_id)
            .bind(&j.step)
            .bind(&j.action)
            .bind(j.run_at)
            .bind(j.attempts)
            .bind(j.locked_until)
            .bind(&j.last_error)
            .bind(j.created_at)
            .execute(&mut *tx)
            .await
            .map_err(unique_or_backend(|| format!("job {}", j.id)))?;
    }
    if let Some(id) = done_job {
        sqlx::query(idv_store_sql::engine::ADVANCE_2)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    crate::outbox::write_events(&mut tx, events).await?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

/// One statement: pick the first due, unleased job and lease it.
pub(crate) async fn claim(db: &Db, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
    sqlx::query(concat!(
        "UPDATE jobs SET locked_until = $1 + $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs \
                     WHERE run_at <= $1 AND (locked_until IS NULL OR locked_until < $1) \
                     ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        job_columns!()
    ))
    .bind(now)
    .bind(lease_ms)
    .fetch_optional(db.write())
    .await
    .map_err(backend)?
    .as_ref()
    .map(job_from_row)
    .transpose()
}

/// A leased job is next claimable the millisecond after its lease (claims need
/// `locked_until < now`).
pub(crate) async fn next_due(db: &Db) -> StoreResult<Option<i64>> {
    let row = sqlx::query(
        "SELECT MIN(GREATEST(run_at, COALESCE(locked_until + 1, run_at))) AS due FROM jobs",
    )
    .fetch_one(db)
    .await
    .map_err(backend)?;
    col(&row, "due")
}

/// Matches the partial index `sessions_by_expiry` (its `WHERE` is repeated here so the planner
/// may use it).
pub(crate) async fn expired(db: &Db, now: i64, limit: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM sessions \
         WHERE NOT ended AND expires_at IS NOT NULL AND expires_at <= $1 \
         ORDER BY expires_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, |row| col(row, "id"))
}

pub(crate) async fn release(
    db: &Db,
    id: &str,
    run_at: i64,
    last_error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(idv_store_sql::engine::RELEASE)
        .bind(id)
        .bind(run_at)
        .bind(last_error)
        .execute(db.write())
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl JobStore for PgStore {
    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<JobId<'_>>,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        crate::engine::advance(
            &self.pool,
            next,
            files,
            jobs,
            done_job.map(JobId::as_str),
            events,
        )
        .await
    }

    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
        crate::engine::claim(&self.pool, now, lease_ms).await
    }

    async fn job_release(
        &self,
        id: JobId<'_>,
        run_at: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()> {
        crate::engine::release(&self.pool, id.as_str(), run_at, last_error).await
    }

    async fn job_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<JobRecord>> {
        crate::engine::list(&self.pool, session_id.as_str()).await
    }

    async fn job_next_due(&self) -> StoreResult<Option<i64>> {
        crate::engine::next_due(&self.pool).await
    }

    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        crate::engine::expired(&self.pool, now, limit).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::engine_fns!();
