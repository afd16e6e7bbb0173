//! Workflow assets: metadata rows; the bytes are in blob storage.

use crate::Db;
use crate::convert::{backend, col, map_rows};
use idv_store::{AssetRecord, StoreResult};
use sqlx::sqlite::SqliteRow;

const COLUMNS: &str = "id, content_type, size, sha256, object_key, created_at, updated_at";

fn from_row(row: &SqliteRow) -> StoreResult<AssetRecord> {
    Ok(AssetRecord {
        id: col(row, "id")?,
        content_type: col(row, "content_type")?,
        size: col(row, "size")?,
        sha256: col(row, "sha256")?,
        object_key: col(row, "object_key")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

/// Reads the row it replaces and writes the new one in one write transaction, so the row
/// returned is exactly the one replaced.
pub(crate) async fn put(db: &Db, asset: &AssetRecord) -> StoreResult<Option<AssetRecord>> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let previous = sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1"))
        .bind(&asset.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .map(|row| from_row(&row))
        .transpose()?;
    sqlx::query(
        "INSERT INTO assets (id, content_type, size, sha256, object_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET content_type = excluded.content_type, \
         size = excluded.size, sha256 = excluded.sha256, object_key = excluded.object_key, \
         updated_at = excluded.updated_at",
    )
    .bind(&asset.id)
    .bind(&asset.content_type)
    .bind(asset.size)
    .bind(&asset.sha256)
    .bind(&asset.object_key)
    .bind(asset.created_at)
    .bind(asset.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(previous)
}

pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<AssetRecord>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await
        .map_err(backend)?
        .map(|row| from_row(&row))
        .transpose()
}

pub(crate) async fn list(db: &Db) -> StoreResult<Vec<AssetRecord>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM assets ORDER BY id"))
        .fetch_all(&db.read)
        .await
        .map_err(backend)?;
    map_rows(rows, from_row)
}

pub(crate) async fn delete(db: &Db, id: &str) -> StoreResult<Option<AssetRecord>> {
    sqlx::query(&format!(
        "DELETE FROM assets WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&db.write)
    .await
    .map_err(backend)?
    .map(|row| from_row(&row))
    .transpose()
}
