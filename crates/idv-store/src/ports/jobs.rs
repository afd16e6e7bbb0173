//! The `JobStore` port: the workflow engine: atomic advances, background jobs, expiry.

use crate::{FileRecord, JobId, JobRecord, NewEvent, SessionId, SessionRecord, StoreResult};
use async_trait::async_trait;

/// The workflow engine: atomic advances, background jobs, expiry.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// In one transaction: the compare-and-swap update of `next` exactly as
    /// [`SessionStore::session_update`](crate::SessionStore::session_update) does it (the row
    /// must still have revision `next.revision - 1`), then inserts `files` and `jobs`, and deletes the job `done_job` if given. When the CAS
    /// matches no row nothing is written and the answer is false. A step submission or a
    /// finished background action commits all it did at once this way. A `done_job` that no
    /// longer exists is not an error. `events` go in the same transaction.
    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<JobId<'_>>,
        events: &[NewEvent],
    ) -> StoreResult<bool>;

    /// Claims one due job: `run_at <= now` and not under a lease (`locked_until` is `None` or
    /// before `now`), smallest `run_at` first (then id). Sets `locked_until = now + lease_ms`,
    /// adds one to `attempts` and returns the updated row. Two claimers, even in two
    /// processes, never both get one job while its lease holds.
    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>>;

    /// Puts a claimed job back to run at `run_at`: clears `locked_until`, sets `last_error`.
    /// An unknown id is not an error (the job may have been finished meanwhile).
    async fn job_release(
        &self,
        id: JobId<'_>,
        run_at: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()>;

    /// The jobs of one session, by `run_at`, then id.
    async fn job_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<JobRecord>>;

    /// The earliest time any job can next be claimed (`None` when there are none), so a worker
    /// can sleep until then: its `run_at`, or for a job under a lease the later of `run_at`
    /// and the first millisecond after the lease (`locked_until + 1`), so a job being worked on
    /// does not wake the worker again and again.
    async fn job_next_due(&self) -> StoreResult<Option<i64>>;

    /// Ids of sessions that have not ended and whose `expires_at <= now`, earliest expiry
    /// first (then id), at most `limit`.
    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>>;
}
