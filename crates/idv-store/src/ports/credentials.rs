//! The `CredentialStore` port: API keys, access and refresh tokens (Bearer), and device tokens
//! (ephemeral devices, deeplinks, one-time QR tokens).

use crate::{
    ApiKey, ApiKeyId, AuthToken, DeviceToken, DeviceTokenId, PrincipalId, StoreResult,
    TokenFamilyId,
};
use async_trait::async_trait;

/// API keys, access and refresh tokens (Bearer), and device tokens (ephemeral devices,
/// deeplinks, one-time QR tokens).
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()>;

    async fn apikey_get(&self, id: ApiKeyId<'_>) -> StoreResult<Option<ApiKey>>;

    /// Keys created by `owner_id`, or all keys when `None`; newest first.
    async fn apikey_list(&self, owner_id: Option<PrincipalId<'_>>) -> StoreResult<Vec<ApiKey>>;

    /// Sets `revoked_at` if not yet set. Returns false when there is no such key.
    async fn apikey_revoke(&self, id: ApiKeyId<'_>, at_ms: i64) -> StoreResult<bool>;

    /// Records the last time the key was used.
    async fn apikey_touch(&self, id: ApiKeyId<'_>, at_ms: i64) -> StoreResult<()>;

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()>;

    /// Looks a token up by the hash of its secret.
    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>>;

    /// Deletes every token of one login (access and refresh share a `family`).
    async fn token_delete_family(&self, family: TokenFamilyId<'_>) -> StoreResult<()>;

    /// Deletes tokens whose expiry is before `now_ms`; returns how many.
    async fn token_delete_expired(&self, now_ms: i64) -> StoreResult<u64>;

    /// Inserts a device token; `Conflict` when its id or hash is taken.
    async fn device_token_create(&self, token: &DeviceToken) -> StoreResult<()>;

    /// Looks a token up by the keyed hash of its text.
    async fn device_token_by_hash(&self, hash: &str) -> StoreResult<Option<DeviceToken>>;

    async fn device_token_get(&self, id: DeviceTokenId<'_>) -> StoreResult<Option<DeviceToken>>;

    /// In one transaction: marks the one-time token `id` used at `now` if it is a `Short`
    /// token, unused and `expires_at > now`, and inserts `replacement`. False (nothing written)
    /// when the token is unknown, used or expired. Of two concurrent exchanges of one token,
    /// even in two processes, exactly one gets true.
    async fn device_token_exchange(
        &self,
        id: DeviceTokenId<'_>,
        now: i64,
        replacement: &DeviceToken,
    ) -> StoreResult<bool>;

    /// Deletes tokens whose expiry is before `before`; returns how many.
    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64>;

    /// The session of a device token (by its hash) whose session was deleted, while the token
    /// would still be valid at `now`; `None` for any other hash.
    async fn device_token_deleted_session(
        &self,
        hash: &str,
        now: i64,
    ) -> StoreResult<Option<String>>;
}
