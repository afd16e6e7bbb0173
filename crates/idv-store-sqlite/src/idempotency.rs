//! Idempotency keys: one upsert decides which of racing first requests runs.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col};
use async_trait::async_trait;
use idv_store::IdempotencyStore;
use idv_store::{IdempotencyRecord, StoreResult};

fn from_row(row: &DbRow) -> StoreResult<IdempotencyRecord> {
    let status: Option<i64> = col(row, "status")?;
    Ok(IdempotencyRecord {
        owner: col(row, "owner")?,
        key: col(row, "key")?,
        request_hash: col(row, "request_hash")?,
        status: status.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
        content_type: col(row, "content_type")?,
        body: col(row, "body")?,
        locked_until: col(row, "locked_until")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

pub(crate) async fn complete(
    db: &Db,
    owner: &str,
    key: &str,
    status: i32,
    content_type: Option<&str>,
    body: &[u8],
) -> StoreResult<()> {
    sqlx::query(idv_store_sql::idempotency::COMPLETE)
        .bind(owner)
        .bind(key)
        .bind(i64::from(status))
        .bind(content_type)
        .bind(body)
        .execute(db.write())
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(
        &self,
        record: &idv_store::IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<idv_store::IdempotencyRecord>> {
        crate::idempotency::begin(&self.db, record, now).await
    }

    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()> {
        crate::idempotency::complete(&self.db, owner, key, status, content_type, body).await
    }

    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()> {
        crate::idempotency::abandon(&self.db, owner, key).await
    }

    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64> {
        crate::idempotency::delete_expired(&self.db, now).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::idempotency_fns!();
