//! The `ExchangeStore` port: session export and import.

use crate::{
    FileRecord, JobRecord, NewWorkflow, SessionRecord, StoreResult, WorkflowId, WorkflowRecord,
};
use async_trait::async_trait;

/// Session export and import.
#[async_trait]
pub trait ExchangeStore: Send + Sync + 'static {
    /// Every stored revision of a workflow, deleted or not, by revision number.
    async fn workflow_revisions(&self, id: WorkflowId<'_>) -> StoreResult<Vec<WorkflowRecord>>;

    /// Stores `def` as an extra revision of its workflow that does not become current, for a
    /// session imported from another install. It is numbered below zero and below every stored
    /// revision (-1, then -2, …), so it never takes a number the next
    /// [`WorkflowStore::workflow_put`](crate::WorkflowStore::workflow_put) gives. A workflow id the store does not know is recorded as deleted with no current
    /// revision: importing never publishes a workflow (a later `workflow_put` makes revision 1
    /// current as usual). Returns the revision number given.
    async fn workflow_import_revision(&self, def: &NewWorkflow) -> StoreResult<i64>;

    /// Writes a session exported elsewhere, its file rows (with `inline` bytes where given)
    /// and its jobs in one transaction, keeping every field as given. When a session with that
    /// id exists: with `replace` false nothing is written ([`SessionImport::Exists`]); with
    /// `replace` true it is deleted with its files and jobs first, in the same transaction,
    /// and the answer lists the file rows it had, so the caller can remove bytes no longer
    /// referenced. A file or job id taken by another session is a `Conflict` and writes
    /// nothing.
    async fn session_import(
        &self,
        session: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        replace: bool,
    ) -> StoreResult<SessionImport>;
}

/// What [`Store::session_import`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionImport {
    /// There was no session with that id; it is stored now.
    Created,
    /// A session with that id exists and `replace` was false: nothing was written.
    Exists,
    /// The session that had the id was replaced; these were its file rows.
    Replaced(Vec<FileRecord>),
}
