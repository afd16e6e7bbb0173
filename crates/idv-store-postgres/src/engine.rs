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
use crate::convert::{array, backend, col, map_rows, one_of, unique_in_or_backend};
use crate::outbox::EventArrays;
use crate::sessions;
use async_trait::async_trait;
use idv_store::JobStore;
use idv_store::{FileRecord, JobRecord, NewEvent, SessionRecord, StoreResult};
use idv_store::{JobId, SessionId};
use sqlx::Row;
use std::sync::LazyLock;

/// The columns of a job row, as a literal so statements can be `concat!`ed at compile time.
macro_rules! job_columns {
    () => {
        "id, session_id, step, action, run_at, attempts, locked_until, last_error, created_at"
    };
}

/// A session change with what it made, as one statement in autocommit (so one transaction):
/// the guarded update (`s`), then its files (`$21`…`$31`), jobs (`$32`…`$40`), the finished
/// job's delete (`$41`) and its events (`$42`…, [`crate::outbox::event_ctes`]), each only when
/// the update matched. It returns whether it did; when not, nothing was written.
static ADVANCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        concat!(
            "WITH s AS (UPDATE sessions SET ",
            sessions::update_set!(),
            ", event_seq = event_seq + cardinality($42::text[]) \
             WHERE id = $1 AND revision = $16 - 1 RETURNING id, event_seq), \
             f AS (INSERT INTO files (id, session_id, name, step, property, content_type, size, \
             sha256, object_key, created_at, content) \
             SELECT id, session_id, name, step, property, content_type, size, sha256, object_key, \
             created_at, content \
             FROM unnest($21::text[], $22::text[], $23::text[], $24::text[], $25::text[], \
             $26::text[], $27::bigint[], $28::text[], $29::text[], $30::bigint[], $31::bytea[]) \
             WITH ORDINALITY AS v (id, session_id, name, step, property, content_type, size, \
             sha256, object_key, created_at, content, ord) \
             WHERE EXISTS (SELECT 1 FROM s) ORDER BY ord), \
             j AS (INSERT INTO jobs (",
            job_columns!(),
            ") SELECT ",
            job_columns!(),
            " FROM unnest($32::text[], $33::text[], $34::text[], $35::text[], $36::bigint[], \
             $37::bigint[], $38::bigint[], $39::text[], $40::bigint[]) AS v (",
            job_columns!(),
            ") WHERE EXISTS (SELECT 1 FROM s)), \
             x AS (DELETE FROM jobs WHERE id = $41 AND EXISTS (SELECT 1 FROM s)), {} \
             SELECT EXISTS (SELECT 1 FROM s)"
        ),
        crate::outbox::event_ctes(42)
    )
});

/// The guarded session update with the files, jobs, delete and events it brings, in one
/// statement ([`ADVANCE`]). A change with nothing beside the session is the plain update.
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
    let events_arrays = EventArrays::of(&next.id, events)?;
    let q = sessions::bind_record(sqlx::query(&ADVANCE), next)
        .bind(array(files, |f| f.id.as_str()))
        .bind(array(files, |f| f.session_id.as_str()))
        .bind(array(files, |f| f.name.as_str()))
        .bind(array(files, |f| f.step.as_deref()))
        .bind(array(files, |f| f.property.as_deref()))
        .bind(array(files, |f| f.content_type.as_str()))
        .bind(array(files, |f| f.size))
        .bind(array(files, |f| f.sha256.as_str()))
        .bind(array(files, |f| f.object_key.as_str()))
        .bind(array(files, |f| f.created_at))
        .bind(array(files, |f| f.inline.as_deref()))
        .bind(array(jobs, |j| j.id.as_str()))
        .bind(array(jobs, |j| j.session_id.as_str()))
        .bind(array(jobs, |j| j.step.as_str()))
        .bind(array(jobs, |j| j.action.as_str()))
        .bind(array(jobs, |j| j.run_at))
        .bind(array(jobs, |j| j.attempts))
        .bind(array(jobs, |j| j.locked_until))
        .bind(array(jobs, |j| j.last_error.as_deref()))
        .bind(array(jobs, |j| j.created_at))
        .bind(done_job);
    events_arrays
        .bind(q)
        .fetch_one(db.write())
        .await
        .map_err(unique_in_or_backend(|table| match table {
            Some("files") => one_of("file", &array(files, |f| f.id.as_str())),
            Some("jobs") => one_of("job", &array(jobs, |j| j.id.as_str())),
            Some("events") => one_of("event", &array(events, |e| e.id.as_str())),
            _ => format!("session {}", next.id),
        }))?
        .try_get(0)
        .map_err(backend)
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
            &self.hot,
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
