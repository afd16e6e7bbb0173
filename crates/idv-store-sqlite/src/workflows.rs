//! Workflows: every upload is a new revision; the `workflows` row names the current one and
//! whether the workflow is deleted.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, json_col, json_text, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::{AssetId, WorkflowId};
use idv_store::{NewWorkflow, StoreResult, WorkflowRecord};
use idv_store::{Translation, WorkflowStore};

/// One transaction: bumping the `workflows` row both picks the next revision number and holds
/// the write lock, so two uploads of one id get consecutive revisions, never the same one.
pub(crate) async fn put(db: &Db, def: &NewWorkflow) -> StoreResult<i64> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let row = sqlx::query(
        "INSERT INTO workflows (id, current_revision, deleted) VALUES ($1, 1, 0) \
         ON CONFLICT (id) DO UPDATE \
         SET current_revision = workflows.current_revision + 1, deleted = 0 \
         RETURNING current_revision",
    )
    .bind(&def.id)
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    let revision: i64 = col(&row, "current_revision")?;
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

pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<WorkflowRecord>> {
    sqlx::query(
        "SELECT r.id, r.revision, r.name, r.description, r.version, r.default_locale, \
         r.definition, r.owner_id, r.created_at \
         FROM workflows w JOIN workflow_revisions r \
           ON r.id = w.id AND r.revision = w.current_revision \
         WHERE w.id = $1 AND w.deleted = 0",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn get_revision(
    db: &Db,
    id: &str,
    revision: i64,
) -> StoreResult<Option<WorkflowRecord>> {
    sqlx::query(
        "SELECT id, revision, name, description, version, default_locale, definition, owner_id, \
         created_at FROM workflow_revisions WHERE id = $1 AND revision = $2",
    )
    .bind(id)
    .bind(revision)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(db: &Db) -> StoreResult<Vec<WorkflowRecord>> {
    let rows = sqlx::query(
        "SELECT r.id, r.revision, r.name, r.description, r.version, r.default_locale, \
         r.definition, r.owner_id, r.created_at \
         FROM workflows w JOIN workflow_revisions r \
           ON r.id = w.id AND r.revision = w.current_revision \
         WHERE w.deleted = 0 ORDER BY r.name, r.id",
    )
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

/// Deleting a deleted workflow reports false, as for one that never existed.
pub(crate) async fn delete(db: &Db, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE workflows SET deleted = 1 WHERE id = $1 AND deleted = 0")
        .bind(id)
        .execute(db.write())
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn workflow_put(&self, def: &NewWorkflow) -> StoreResult<i64> {
        crate::workflows::put(&self.db, def).await
    }

    async fn workflow_get(&self, id: WorkflowId<'_>) -> StoreResult<Option<WorkflowRecord>> {
        crate::workflows::get(&self.db, id.as_str()).await
    }

    async fn workflow_get_revision(
        &self,
        id: WorkflowId<'_>,
        revision: i64,
    ) -> StoreResult<Option<WorkflowRecord>> {
        crate::workflows::get_revision(&self.db, id.as_str(), revision).await
    }

    async fn workflow_list(&self) -> StoreResult<Vec<WorkflowRecord>> {
        crate::workflows::list(&self.db).await
    }

    async fn workflow_delete(&self, id: WorkflowId<'_>) -> StoreResult<bool> {
        crate::workflows::delete(&self.db, id.as_str()).await
    }

    async fn translations_put(&self, entries: &[Translation]) -> StoreResult<()> {
        crate::translations::put(&self.db, entries).await
    }

    async fn translations_for(&self, codes: &[String]) -> StoreResult<Vec<Translation>> {
        crate::translations::for_codes(&self.db, codes).await
    }

    async fn translation_codes(&self) -> StoreResult<Vec<String>> {
        crate::translations::codes(&self.db).await
    }

    async fn asset_put(
        &self,
        asset: &idv_store::AssetRecord,
    ) -> StoreResult<Option<idv_store::AssetRecord>> {
        crate::assets::put(&self.db, asset).await
    }

    async fn asset_get(&self, id: AssetId<'_>) -> StoreResult<Option<idv_store::AssetRecord>> {
        crate::assets::get(&self.db, id.as_str()).await
    }

    async fn asset_list(&self) -> StoreResult<Vec<idv_store::AssetRecord>> {
        crate::assets::list(&self.db).await
    }

    async fn asset_delete(&self, id: AssetId<'_>) -> StoreResult<Option<idv_store::AssetRecord>> {
        crate::assets::delete(&self.db, id.as_str()).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::workflows_fns!();
