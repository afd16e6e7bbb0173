//! API keys: stored by a keyed hash of the secret, listed newest first.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::list_col;
use crate::convert::list_text;
use crate::convert::{backend, col, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::{ApiKey, StoreResult};
use idv_store::{ApiKeyId, DeviceTokenId, PrincipalId, TokenFamilyId};
use idv_store::{AuthToken, CredentialStore};

pub(crate) async fn list(db: &Db, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
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
    let rows = query.fetch_all(db.read()).await.map_err(backend)?;
    map_rows(rows, from_row)
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()> {
        crate::api_keys::create(&self.pool, key).await
    }

    async fn apikey_get(&self, id: ApiKeyId<'_>) -> StoreResult<Option<ApiKey>> {
        crate::api_keys::get(&self.pool, id.as_str()).await
    }

    async fn apikey_list(&self, owner_id: Option<PrincipalId<'_>>) -> StoreResult<Vec<ApiKey>> {
        crate::api_keys::list(&self.pool, owner_id.map(PrincipalId::as_str)).await
    }

    async fn apikey_revoke(&self, id: ApiKeyId<'_>, at_ms: i64) -> StoreResult<bool> {
        crate::api_keys::revoke(&self.pool, id.as_str(), at_ms).await
    }

    async fn apikey_touch(&self, id: ApiKeyId<'_>, at_ms: i64) -> StoreResult<()> {
        crate::api_keys::touch(&self.pool, id.as_str(), at_ms).await
    }

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()> {
        crate::tokens::create(&self.pool, token).await
    }

    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>> {
        crate::tokens::get(&self.pool, hash).await
    }

    async fn token_delete_family(&self, family: TokenFamilyId<'_>) -> StoreResult<()> {
        crate::tokens::delete_family(&self.pool, family.as_str()).await
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

    async fn device_token_get(
        &self,
        id: DeviceTokenId<'_>,
    ) -> StoreResult<Option<idv_store::DeviceToken>> {
        crate::devices::get(&self.pool, id.as_str()).await
    }

    async fn device_token_exchange(
        &self,
        id: DeviceTokenId<'_>,
        now: i64,
        replacement: &idv_store::DeviceToken,
    ) -> StoreResult<bool> {
        crate::devices::exchange(&self.pool, id.as_str(), now, replacement).await
    }

    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64> {
        crate::devices::delete_expired(&self.pool, before).await
    }

    async fn device_token_deleted_session(
        &self,
        hash: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        crate::devices::deleted_session(&self.pool, hash, now).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::api_keys_fns!();
