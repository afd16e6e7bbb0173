//! The `SessionStore` port: sessions: create, read, and write with optimistic concurrency.

use crate::{DayCount, NewEvent, SessionId, SessionRecord, StepCount, StoreResult, WorkflowId};
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

    /// Sessions by the UTC day they were created (days since 1970-01-01, from `from_day` to
    /// `to_day` inclusive) and their current status, of `workflow` or of all workflows: only
    /// the counts above zero, by day then status. Read from counters that every session write
    /// keeps up to date in its own transaction (creates, updates, imports and deletions), so
    /// the cost depends on the days and statuses asked for, not on the number of sessions.
    async fn session_day_counts(
        &self,
        from_day: i64,
        to_day: i64,
        workflow: Option<WorkflowId<'_>>,
    ) -> StoreResult<Vec<DayCount>>;

    /// Per step of `workflow` that a stored session reached (the step is among its completed
    /// `steps` or is its `current_step`): how many sessions reached it and how many are in it
    /// now (their `current_step`). Steps no stored session reached are left out; by step id
    /// (byte order). From the same counters as [`Self::session_day_counts`].
    async fn session_step_counts(&self, workflow: WorkflowId<'_>) -> StoreResult<Vec<StepCount>>;

    /// The ids of the workflows with stored sessions, in byte order.
    async fn session_counted_workflows(&self) -> StoreResult<Vec<String>>;

    /// Housekeeping of the counters behind [`Self::session_day_counts`] and
    /// [`Self::session_step_counts`], run now and then by the scheduler; the counts read the
    /// same before and after. PostgreSQL appends every change as a row of its own (so
    /// concurrent session writes never wait for one counter row) and this sums each key's rows
    /// into one; a store that keeps one row per key has nothing to do. Returns how many rows
    /// it replaced.
    async fn session_counts_compact(&self) -> StoreResult<u64> {
        Ok(0)
    }
}
