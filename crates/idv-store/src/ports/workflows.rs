//! The `WorkflowStore` port: workflows (every upload is a new revision; sessions pin the
//! revision they started on), translations (keys are global across workflows) and workflow
//! assets (metadata; the bytes are in blob storage at `object_key`).

use crate::{
    AssetId, AssetRecord, NewWorkflow, StoreResult, Translation, WorkflowId, WorkflowRecord,
};
use async_trait::async_trait;

/// Workflows (every upload is a new revision; sessions pin the revision they started on),
/// translations (keys are global across workflows) and workflow assets (metadata; the bytes
/// are in blob storage at `object_key`).
#[async_trait]
pub trait WorkflowStore: Send + Sync + 'static {
    /// Stores `def` as the next revision of its workflow id and makes it current. Returns the
    /// revision number given (1 for a new id).
    async fn workflow_put(&self, def: &NewWorkflow) -> StoreResult<i64>;

    /// The current revision of a workflow, unless deleted.
    async fn workflow_get(&self, id: WorkflowId<'_>) -> StoreResult<Option<WorkflowRecord>>;

    /// One revision, even of a deleted workflow (running sessions still need it).
    async fn workflow_get_revision(
        &self,
        id: WorkflowId<'_>,
        revision: i64,
    ) -> StoreResult<Option<WorkflowRecord>>;

    /// Current revisions of all workflows that are not deleted, by name.
    async fn workflow_list(&self) -> StoreResult<Vec<WorkflowRecord>>;

    /// Marks the workflow deleted (revisions stay for running sessions). False when unknown.
    async fn workflow_delete(&self, id: WorkflowId<'_>) -> StoreResult<bool>;

    /// Inserts or replaces each `(key, code)` entry.
    async fn translations_put(&self, entries: &[Translation]) -> StoreResult<()>;

    /// Every entry whose code is in `codes`.
    async fn translations_for(&self, codes: &[String]) -> StoreResult<Vec<Translation>>;

    /// The distinct locale codes that have entries.
    async fn translation_codes(&self) -> StoreResult<Vec<String>>;

    /// Inserts the asset, or replaces every field of the stored one but `created_at`. Returns
    /// what it replaced, so the caller can delete the bytes it pointed at.
    async fn asset_put(&self, asset: &AssetRecord) -> StoreResult<Option<AssetRecord>>;

    async fn asset_get(&self, id: AssetId<'_>) -> StoreResult<Option<AssetRecord>>;

    /// All assets, by id (byte order).
    async fn asset_list(&self) -> StoreResult<Vec<AssetRecord>>;

    /// Deletes the asset and returns what was deleted.
    async fn asset_delete(&self, id: AssetId<'_>) -> StoreResult<Option<AssetRecord>>;
}
