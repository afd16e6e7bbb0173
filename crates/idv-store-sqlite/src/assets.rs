//! Workflow assets: metadata rows; the bytes are in blob storage.

use crate::Db;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use idv_store::{AssetRecord, StoreResult};

const COLUMNS: &str = "id, content_type, size, sha256, object_key, created_at, updated_at";

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

// The functions this module shares with the other adapter, word for word.
idv_store_sql::assets_fns!();
