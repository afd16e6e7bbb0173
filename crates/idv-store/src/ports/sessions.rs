//! The `SessionStore` port: sessions: create, read, and write with optimistic concurrency.

use crate::{NewEvent, SessionId, SessionRecord, StoreResult};
use async_trait::async_trait;

/// Sessions: create, read, and write with optimistic concurrency.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts the session and, in the same transaction, `events` (see [`NewEvent`]).
    async fn session_create(&self, session: &SessionRecord, events: &[NewEvent])
    -> StoreResult<()>;

    async fn session_get(&self, id: SessionId<'_>) -> StoreResult<Option<SessionRecord>>;

    /// Writes `session` if the stored row still has `session.revision - 1` (optimistic
    /// concurrency: the caller bumps `revision` before calling). False on a lost race or when
    /// the session is gone. `events` are stored in the same transaction, only when it writes.
    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool>;
}
