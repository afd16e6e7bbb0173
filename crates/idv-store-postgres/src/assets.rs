//! Workflow assets: metadata rows; the bytes are in blob storage.

use crate::Db;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use idv_store::{AssetRecord, StoreResult};

const COLUMNS: &str = "id, content_type, size, sha256, object_key, created_at, updated_at";

/// A new id is inserted; otherwise the stored row is locked, read and replaced, so of racing
/// writers each gets back exactly the row it replaced (a second writer of a new id waits on the
/// first's insert, then finds its row).
pub(crate) async fn put(db: &Db, asset: &AssetRecord) -> StoreResult<Option<AssetRecord>> {
    let mut tx = db.begin().await.map_err(backend)?;
    let inserted = sqlx::query(
        "INSERT INTO assets (id, content_type, size, sha256, object_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&asset.id)
    .bind(&asset.content_type)
    .bind(asset.size)
    .bind(&asset.sha256)
    .bind(&asset.object_key)
    .bind(asset.created_at)
    .bind(asset.updated_at)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let previous = if inserted.is_some() {
        None
    } else {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM assets WHERE id = $1 FOR UPDATE"
        ))
        .bind(&asset.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let previous = from_row(&row)?;
        sqlx::query(
            "UPDATE assets SET content_type = $2, size = $3, sha256 = $4, object_key = $5, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(&asset.id)
        .bind(&asset.content_type)
        .bind(asset.size)
        .bind(&asset.sha256)
        .bind(&asset.object_key)
        .bind(asset.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        Some(previous)
    };
    tx.commit().await.map_err(backend)?;
    Ok(previous)
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::assets_fns!();
