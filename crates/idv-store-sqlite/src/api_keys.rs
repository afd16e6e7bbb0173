//! API keys: stored by a keyed hash of the secret, listed newest first.

use crate::Db;
use crate::convert::{backend, col, list_col, list_text, map_rows, unique_or_backend};
use idv_store::{ApiKey, StoreResult};
use sqlx::sqlite::SqliteRow;

fn from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: col(row, "id")?,
        name: col(row, "name")?,
        secret_hash: col(row, "secret_hash")?,
        permissions: list_col(row, "permissions")?,
        owner_id: col(row, "owner_id")?,
        ttl: col(row, "ttl")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
        last_used_at: col(row, "last_used_at")?,
    })
}

pub(crate) async fn create(db: &Db, key: &ApiKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, secret_hash, permissions, owner_id, ttl, created_at, \
         expires_at, revoked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(list_text(&key.permissions)?)
    .bind(&key.owner_id)
    .bind(key.ttl)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(key.revoked_at)
    .bind(key.last_used_at)
    .execute(&db.write)
    .await
    .map_err(unique_or_backend(|| format!("API key {}", key.id)))?;
    Ok(())
}

pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<ApiKey>> {
    sqlx::query(
        "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
         revoked_at, last_used_at FROM api_keys WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.read)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(db: &Db, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    let query = match owner_id {
        Some(owner) => sqlx::query(
            "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
             revoked_at, last_used_at FROM api_keys WHERE owner_id = $1 \
             ORDER BY created_at DESC, rowid DESC",
        )
        .bind(owner),
        None => sqlx::query(
            "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
             revoked_at, last_used_at FROM api_keys ORDER BY created_at DESC, rowid DESC",
        ),
    };
    let rows = query.fetch_all(&db.read).await.map_err(backend)?;
    map_rows(rows, from_row)
}

/// The first revocation time stays; revoking again still reports that the key exists.
pub(crate) async fn revoke(db: &Db, id: &str, at_ms: i64) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id)
            .bind(at_ms)
            .execute(&db.write)
            .await
            .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

/// Never moves `last_used_at` back: requests finishing out of order keep the latest time.
pub(crate) async fn touch(db: &Db, id: &str, at_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
    )
    .bind(id)
    .bind(at_ms)
    .execute(&db.write)
    .await
    .map_err(backend)?;
    Ok(())
}
