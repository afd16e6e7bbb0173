//! The `IdempotencyStore` port: idempotency keys: the stored answers of requests that may be
//! retried.

use crate::{IdempotencyRecord, StoreResult};
use async_trait::async_trait;

/// Idempotency keys: the stored answers of requests that may be retried.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Starts a request under an idempotency key: stores `record` (running) unless the
    /// `(owner, key)` is already stored, in which case the stored record is returned and
    /// nothing changes. A stored record that has expired (`expires_at <= now`), or that is
    /// still running but whose `locked_until <= now` (its request died), is replaced and
    /// `None` returned, as for a new key. Racing callers: exactly one gets `None`.
    async fn idempotency_begin(
        &self,
        record: &IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>>;

    /// Stores the answer of the running request under `(owner, key)`.
    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()>;

    /// Forgets a running request's key (its answer was not a success, so a retry may run).
    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()>;

    /// Deletes keys with `expires_at <= now`; returns how many.
    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64>;
}
