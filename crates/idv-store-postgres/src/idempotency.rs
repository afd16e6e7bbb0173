//! Idempotency keys: one upsert decides which of racing first requests runs.

use crate::PgStore;
use crate::convert::{backend, col};
use async_trait::async_trait;
use idv_store::IdempotencyStore;
use idv_store::{IdempotencyRecord, StoreResult};
use sqlx::PgPool;
use sqlx::postgres::PgRow;

fn from_row(row: &PgRow) -> StoreResult<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        owner: col(row, "owner")?,
        key: col(row, "key")?,
        request_hash: col(row, "request_hash")?,
        status: col(row, "status")?,
        content_type: col(row, "content_type")?,
        body: col(row, "body")?,
        locked_until: col(row, "locked_until")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

pub(crate) async fn begin(
    db: &PgPool,
    r: &IdempotencyRecord,
    now: i64,
) -> StoreResult<Option<IdempotencyRecord>> {
    // A few rounds: the stored row may be deleted (abandoned or expired) between the upsert
    // that found it and the read.
    for _ in 0..3 {
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (owner, key, request_hash, status, content_type, body, \
             locked_until, created_at, expires_at) VALUES ($1, $2, $3, NULL, NULL, NULL, $4, $5, $6) \
             ON CONFLICT (owner, key) DO UPDATE SET request_hash = excluded.request_hash, \
             status = NULL, content_type = NULL, body = NULL, \
             locked_until = excluded.locked_until, created_at = excluded.created_at, \
             expires_at = excluded.expires_at \
             WHERE idempotency_keys.expires_at <= $7 \
             OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until <= $7)",
        )
        .bind(&r.owner)
        .bind(&r.key)
        .bind(&r.request_hash)
        .bind(r.locked_until)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(now)
        .execute(db)
        .await
        .map_err(backend)?;
        if done.rows_affected() > 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT owner, key, request_hash, status, content_type, body, locked_until, \
             created_at, expires_at FROM idempotency_keys WHERE owner = $1 AND key = $2",
        )
        .bind(&r.owner)
        .bind(&r.key)
        .fetch_optional(db)
        .await
        .map_err(backend)?;
        if let Some(row) = row {
            return from_row(&row).map(Some);
        }
    }
    Err(idv_store::StoreError::backend(
        "idempotency key kept changing under the request",
    ))
}

pub(crate) async fn complete(
    db: &PgPool,
    owner: &str,
    key: &str,
    status: i32,
    content_type: Option<&str>,
    body: &[u8],
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 \
         WHERE owner = $1 AND key = $2",
    )
    .bind(owner)
    .bind(key)
    .bind(status)
    .bind(content_type)
    .bind(body)
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn abandon(db: &PgPool, owner: &str, key: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND status IS NULL")
        .bind(owner)
        .bind(key)
        .execute(db)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn delete_expired(db: &PgPool, now: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
        .bind(now)
        .execute(db)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn idempotency_begin(
        &self,
        record: &idv_store::IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<idv_store::IdempotencyRecord>> {
        crate::idempotency::begin(&self.pool, record, now).await
    }

    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()> {
        crate::idempotency::complete(&self.pool, owner, key, status, content_type, body).await
    }

    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()> {
        crate::idempotency::abandon(&self.pool, owner, key).await
    }

    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64> {
        crate::idempotency::delete_expired(&self.pool, now).await
    }
}
