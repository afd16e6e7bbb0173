//! Session export and import: the revisions of a workflow, and
//! writing a session exported elsewhere (with its file rows and jobs) in one transaction.

use crate::SqliteStore;
use crate::convert::{backend, col, json_text, map_rows, unique_or_backend};
use crate::{Db, files, sessions, workflows};
use async_trait::async_trait;
use idv_store::WorkflowId;
use idv_store::{ExchangeStore, WorkflowRecord};
use idv_store::{FileRecord, JobRecord, NewWorkflow, SessionImport, SessionRecord, StoreResult};

pub(crate) async fn workflow_revisions(
    db: &Db,
    id: &str,
) -> StoreResult<Vec<idv_store::WorkflowRecord>> {
    let rows = sqlx::query(
        "SELECT id, revision, name, description, version, default_locale, definition, owner_id, \
         created_at FROM workflow_revisions WHERE id = $1 ORDER BY revision",
    )
    .bind(id)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, workflows::from_row)
}

/// Under the write lock: the `workflows` row (created deleted, with no current revision, when
/// missing), then the next number below zero and below every stored revision.
pub(crate) async fn workflow_import_revision(db: &Db, def: &NewWorkflow) -> StoreResult<i64> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    sqlx::query(
        "INSERT INTO workflows (id, current_revision, deleted) VALUES ($1, 0, 1) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&def.id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    let row = sqlx::query(
        "SELECT MIN(COALESCE(MIN(revision), 0), 0) - 1 AS next \
         FROM workflow_revisions WHERE id = $1",
    )
    .bind(&def.id)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    let revision: i64 = col(&row, "next")?;
    sqlx::query(
        "INSERT INTO workflow_revisions (id, revision, name, description, version, \
         default_locale, definition, owner_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&def.id)
    .bind(revision)
    .bind(&def.name)
    .bind(&def.description)
    .bind(&def.version)
    .bind(&def.default_locale)
    .bind(json_text(&def.definition))
    .bind(&def.owner_id)
    .bind(def.created_at)
    .execute(&mut *tx)
    .await
    .map_err(unique_or_backend(|| {
        format!("workflow {} revision {revision}", def.id)
    }))?;
    tx.commit().await.map_err(backend)?;
    Ok(revision)
}

pub(crate) async fn session_import(
    db: &Db,
    session: &SessionRecord,
    file_rows: &[FileRecord],
    jobs: &[JobRecord],
    replace: bool,
) -> StoreResult<SessionImport> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let exists = sqlx::query("SELECT 1 FROM sessions WHERE id = $1")
        .bind(&session.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .is_some();
    let outcome = if exists {
        if !replace {
            // Dropping the transaction rolls it back; nothing was written.
            return Ok(SessionImport::Exists);
        }
        let rows = sqlx::query(
            "SELECT id, session_id, name, step, property, content_type, size, sha256, \
             object_key, created_at FROM files WHERE session_id = $1 ORDER BY created_at, rowid",
        )
        .bind(&session.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let old = map_rows(rows, files::from_row)?;
        // Files and jobs go with their session (ON DELETE CASCADE).
        sqlx::query(idv_store_sql::exchange::SESSION_IMPORT)
            .bind(&session.id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        SessionImport::Replaced(old)
    } else {
        SessionImport::Created
    };
    sessions::insert_query(session)
        .execute(&mut *tx)
        .await
        .map_err(unique_or_backend(|| format!("session {}", session.id)))?;
    for f in file_rows {
        files::insert_query(f)
            .execute(&mut *tx)
            .await
            .map_err(unique_or_backend(|| format!("file {}", f.id)))?;
    }
    for j in jobs {
        sqlx::query(idv_store_sql::exchange::SESSION_IMPORT_2)
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
    tx.commit().await.map_err(backend)?;
    Ok(outcome)
}

#[async_trait]
impl ExchangeStore for SqliteStore {
    async fn workflow_revisions(&self, id: WorkflowId<'_>) -> StoreResult<Vec<WorkflowRecord>> {
        crate::exchange::workflow_revisions(&self.db, id.as_str()).await
    }

    async fn workflow_import_revision(&self, def: &NewWorkflow) -> StoreResult<i64> {
        crate::exchange::workflow_import_revision(&self.db, def).await
    }

    async fn session_import(
        &self,
        session: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        replace: bool,
    ) -> StoreResult<idv_store::SessionImport> {
        crate::exchange::session_import(&self.db, session, files, jobs, replace).await
    }
}
