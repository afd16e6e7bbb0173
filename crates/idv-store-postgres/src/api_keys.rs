//! API keys: stored by a keyed hash of the secret, listed newest first.

use crate::PgStore;
use crate::convert::{backend, col, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::{ApiKey, StoreResult};
use idv_store::{AuthToken, CredentialStore};
use sqlx::PgPool;
use sqlx::postgres::PgRow;

fn from_row(row: &PgRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: col(row, "id")?,
        name: col(row, "name")?,
        secret_hash: col(row, "secret_hash")?,
        permissions: col(row, "permissions")?,
        owner_id: col(row, "owner_id")?,
        ttl: col(row, "ttl")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
        last_used_at: col(row, "last_used_at")?,
    })
}

pub(crate) async fn create(db: &PgPool, key: &ApiKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, secret_hash, permissions, owner_id, ttl, created_at, \
         expires_at, revoked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(&key.secret_hash)
    .bind(&key.permissions)
    .bind(&key.owner_id)
    .bind(key.ttl)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(key.revoked_at)
    .bind(key.last_used_at)
    .execute(db)
    .await
    .map_err(unique_or_backend(|| format!("API key {}", key.id)))?;
    Ok(())
}

pub(crate) async fn get(db: &PgPool, id: &str) -> StoreResult<Option<ApiKey>> {
    sqlx::query(
        "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
         revoked_at, last_used_at FROM api_keys WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(db: &PgPool, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    let query = match owner_id {
        Some(owner) => sqlx::query(
            "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
             revoked_at, last_used_at FROM api_keys WHERE owner_id = $1 \
             ORDER BY created_at DESC, seq DESC",
        )
        .bind(owner),
        None => sqlx::query(
            "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
             revoked_at, last_used_at FROM api_keys ORDER BY created_at DESC, seq DESC",
        ),
    };
    let rows = query.fetch_all(db).await.map_err(backend)?;
    map_rows(rows, from_row)
}

/// The first revocation time stays; revoking again still reports that the key exists.
pub(crate) async fn revoke(db: &PgPool, id: &str, at_ms: i64) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id)
            .bind(at_ms)
            .execute(db)
            .await
            .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

/// Never moves `last_used_at` back: requests finishing out of order keep the latest time.
pub(crate) async fn touch(db: &PgPool, id: &str, at_ms: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
    )
    .bind(id)
    .bind(at_ms)
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()> {
        crate::api_keys::create(&self.pool, key).await
    }

    async fn apikey_get(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        crate::api_keys::get(&self.pool, id).await
    }

    async fn apikey_list(&self, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        crate::api_keys::list(&self.pool, owner_id).await
    }

    async fn apikey_revoke(&self, id: &str, at_ms: i64) -> StoreResult<bool> {
        crate::api_keys::revoke(&self.pool, id, at_ms).await
    }

    async fn apikey_touch(&self, id: &str, at_ms: i64) -> StoreResult<()> {
        crate::api_keys::touch(&self.pool, id, at_ms).await
    }

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()> {
        crate::tokens::create(&self.pool, token).await
    }

    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>> {
        crate::tokens::get(&self.pool, hash).await
    }

    async fn token_delete_family(&self, family: &str) -> StoreResult<()> {
        crate::tokens::delete_family(&self.pool, family).await
    }

    async fn token_delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
        crate::tokens::delete_expired(&self.pool, now_ms).await
    }

    async fn device_token_create(&self, token: &idv_store::DeviceToken) -> StoreResult<()> {
        crate::devices::create(&self.pool, token).await
    }

    async fn device_token_by_hash(
        &self,
        hash: &str,
    ) -> StoreResult<Option<idv_store::DeviceToken>> {
        crate::devices::by_hash(&self.pool, hash).await
    }

    async fn device_token_get(&self, id: &str) -> StoreResult<Option<idv_store::DeviceToken>> {
        crate::devices::get(&self.pool, id).await
    }

    async fn device_token_exchange(
        &self,
        id: &str,
        now: i64,
        replacement: &idv_store::DeviceToken,
    ) -> StoreResult<bool> {
        crate::devices::exchange(&self.pool, id, now, replacement).await
    }

    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64> {
        crate::devices::delete_expired(&self.pool, before).await
    }
}
