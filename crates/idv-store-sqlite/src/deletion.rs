//! Deletion with tombstones, and the reads retention and the orphan sweep need.
//!
//! A deletion is one `IMMEDIATE` transaction on the writer: it reads the session row (legal
//! hold, last update), the file rows it is about to remove, deletes jobs, files and the session,
//! and writes the tombstone. Deletions of this process queue on the one writer connection and
//! those of another process wait for SQLite's write lock, so two deletions of one id never
//! both see the row.

use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use crate::{Db, files};
use async_trait::async_trait;
use idv_store::DeletionStore;
use idv_store::SessionId;
use idv_store::{Deleter, NewEvent, SessionDeletion, StoreResult, TombstoneRecord};
use sqlx::{Sqlite, Transaction};

const TOMBSTONE_COLUMNS: &str = "id, workflow_id, status, owner_id, deleted_at, deleted_by_id, \
     deleted_by_name, deleted_by_kind, reason";

async fn tombstone_in(
    tx: &mut Transaction<'_, Sqlite>,
    id: &str,
) -> StoreResult<Option<TombstoneRecord>> {
    sqlx::query(&format!(
        "SELECT {TOMBSTONE_COLUMNS} FROM session_tombstones WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?
    .as_ref()
    .map(tombstone_from_row)
    .transpose()
}

pub(crate) async fn delete(
    db: &Db,
    id: &str,
    by: &Deleter,
    at: i64,
    reason: Option<&str>,
    updated_before: Option<i64>,
    event: Option<&NewEvent>,
) -> StoreResult<SessionDeletion> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let row = sqlx::query(
        "SELECT workflow_id, status, owner_id, updated_at, legal_hold, current_step FROM sessions \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(row) = row else {
        // Dropping the transaction rolls it back: it wrote nothing.
        return Ok(match tombstone_in(&mut tx, id).await? {
            Some(t) => SessionDeletion::AlreadyDeleted(t),
            None => SessionDeletion::NotFound,
        });
    };
    if col::<bool>(&row, "legal_hold")? {
        return Ok(SessionDeletion::LegalHold);
    }
    let updated_at: i64 = col(&row, "updated_at")?;
    if updated_before.is_some_and(|before| updated_at >= before) {
        return Ok(SessionDeletion::Recent);
    }
    let tombstone = TombstoneRecord {
        id: id.to_owned(),
        workflow_id: col(&row, "workflow_id")?,
        status: col(&row, "status")?,
        owner_id: col(&row, "owner_id")?,
        deleted_at: at,
        deleted_by: by.clone(),
        reason: reason.map(str::to_owned),
    };
    let file_rows = sqlx::query(
        "SELECT id, session_id, name, step, property, content_type, size, sha256, object_key, \
         created_at FROM files WHERE session_id = $1 ORDER BY created_at, rowid",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let deleted_files = map_rows(file_rows, files::from_row)?;
    if let Some(e) = event {
        let step: Option<String> = col(&row, "current_step")?;
        let e = e.with_deleted_row(
            &tombstone.workflow_id,
            tombstone.owner_id.as_deref(),
            tombstone.status,
            step.as_deref(),
        );
        crate::outbox::write_events(&mut tx, std::slice::from_ref(&e)).await?;
    }
    for statement in [
        idv_store_sql::deletion::KEEP_TOKENS,
        idv_store_sql::deletion::DELETE,
        idv_store_sql::deletion::DELETE_2,
        idv_store_sql::deletion::DELETE_3,
    ] {
        sqlx::query(statement)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    sqlx::query(&format!(
        "INSERT INTO session_tombstones ({TOMBSTONE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&tombstone.id)
    .bind(&tombstone.workflow_id)
    .bind(tombstone.status)
    .bind(&tombstone.owner_id)
    .bind(tombstone.deleted_at)
    .bind(&tombstone.deleted_by.id)
    .bind(&tombstone.deleted_by.name)
    .bind(&tombstone.deleted_by.kind)
    .bind(&tombstone.reason)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(SessionDeletion::Deleted {
        tombstone,
        files: deleted_files,
    })
}

/// Walks the index `sessions_by_updated (updated_at, id)` in order, skipping held sessions.
pub(crate) async fn stale(db: &Db, before: i64, limit: i64) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM sessions WHERE legal_hold = 0 AND updated_at < $1 \
         ORDER BY updated_at, id LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, |row| col(row, "id"))
}

/// The ids travel as one JSON array, so the statement text is the same for any number of them.
pub(crate) async fn existing(db: &Db, ids: &[String]) -> StoreResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids)
        .map_err(|e| idv_store::StoreError::backend_from(format!("JSON encoding: {e}"), e))?;
    let rows = sqlx::query("SELECT id FROM sessions WHERE id IN (SELECT value FROM json_each($1))")
        .bind(list)
        .fetch_all(db.read())
        .await
        .map_err(backend)?;
    map_rows(rows, |row| col(row, "id"))
}

#[async_trait]
impl DeletionStore for SqliteStore {
    async fn session_delete(
        &self,
        id: SessionId<'_>,
        by: &Deleter,
        at: i64,
        reason: Option<&str>,
        updated_before: Option<i64>,
        event: Option<&NewEvent>,
    ) -> StoreResult<SessionDeletion> {
        crate::deletion::delete(&self.db, id.as_str(), by, at, reason, updated_before, event).await
    }

    async fn tombstone_get(&self, id: SessionId<'_>) -> StoreResult<Option<TombstoneRecord>> {
        crate::deletion::tombstone(&self.db, id.as_str()).await
    }

    async fn session_stale(&self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        crate::deletion::stale(&self.db, before, limit).await
    }

    async fn session_existing(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        crate::deletion::existing(&self.db, ids).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::deletion_fns!();
