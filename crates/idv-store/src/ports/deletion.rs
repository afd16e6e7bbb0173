//! The `DeletionStore` port: review, deletion and retention.

use crate::{Deleter, NewEvent, SessionDeletion, SessionId, StoreResult, TombstoneRecord};
use async_trait::async_trait;

/// Review, deletion and retention.
#[async_trait]
pub trait DeletionStore: Send + Sync + 'static {
    /// Deletes session `id` in one transaction: its jobs, its file rows and the session row go,
    /// and a tombstone (the row's workflow id, status and owner, `at`, `by`, `reason`) takes its
    /// place. Nothing changes when the session is under legal hold (`LegalHold`) or, with
    /// `updated_before` given, was updated at or after it (`Recent`: retention never deletes a
    /// session that changed after it was chosen). An id deleted before answers
    /// `AlreadyDeleted` with the first tombstone, unchanged; an id never seen, `NotFound`.
    /// The file bytes are the caller's to remove, after this returns. `event` (the
    /// `session.deleted` event) is stored in the same transaction, its data completed from the
    /// deleted row with [`NewEvent::with_deleted_row`].
    async fn session_delete(
        &self,
        id: SessionId<'_>,
        by: &Deleter,
        at: i64,
        reason: Option<&str>,
        updated_before: Option<i64>,
        event: Option<&NewEvent>,
    ) -> StoreResult<SessionDeletion>;

    /// The tombstone of a deleted session, by the session's id.
    async fn tombstone_get(&self, id: SessionId<'_>) -> StoreResult<Option<TombstoneRecord>>;

    /// Ids of sessions not under legal hold whose `updated_at < before`, least recently
    /// updated first (then id), at most `limit`: what retention deletes next.
    async fn session_stale(&self, before: i64, limit: i64) -> StoreResult<Vec<String>>;

    /// Those of `ids` that have a session row (in no particular order).
    async fn session_existing(&self, ids: &[String]) -> StoreResult<Vec<String>>;
}
