//! The `StartLinkStore` port: shareable start links of workflows.

use crate::{StartLink, StartLinkId, StartLinkUse, StoreResult, WorkflowId};
use async_trait::async_trait;

/// Shareable start links.
#[async_trait]
pub trait StartLinkStore: Send + Sync + 'static {
    /// Stores a new link. A clash of id or code hash is `Conflict`.
    async fn start_link_create(&self, link: &StartLink) -> StoreResult<()>;

    async fn start_link_get(&self, id: StartLinkId<'_>) -> StoreResult<Option<StartLink>>;

    /// The link whose code has this SHA-256 (hex).
    async fn start_link_by_code_hash(&self, hash: &str) -> StoreResult<Option<StartLink>>;

    /// Links, newest first; with `workflow_id`, only that workflow's.
    async fn start_link_list(
        &self,
        workflow_id: Option<WorkflowId<'_>>,
    ) -> StoreResult<Vec<StartLink>>;

    /// Revokes the link at `at` (a link revoked before keeps its first time). False when there
    /// is no such link.
    async fn start_link_revoke(&self, id: StartLinkId<'_>, at: i64) -> StoreResult<bool>;

    /// Counts one opening at `now`, in one statement: only while the link is not revoked, not
    /// expired (`expires_at > now`) and under `max_uses`, so of concurrent openings of a link
    /// with one use left exactly one counts. Otherwise says which of these refused it.
    async fn start_link_use(&self, id: StartLinkId<'_>, now: i64) -> StoreResult<StartLinkUse>;
}

/// Why an opening of `link` at `now` was refused, when the guarded update counted nothing.
pub fn refusal(link: Option<&StartLink>, now: i64) -> StartLinkUse {
    match link {
        None => StartLinkUse::NotFound,
        Some(l) if l.revoked_at.is_some() => StartLinkUse::Revoked,
        Some(l) if l.expires_at.is_some_and(|e| e <= now) => StartLinkUse::Expired,
        Some(_) => StartLinkUse::UsedUp,
    }
}
