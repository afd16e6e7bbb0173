//! The `SearchStore` port: session search and saved views.

use crate::{PrincipalId, SessionPage, SessionQuery, StoreResult, ViewRecord};
use async_trait::async_trait;

/// Session search and saved views.
#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// Sessions matching `query`, in its sort order (a total order: it ends with the id), after
    /// its cursor, then `skip`, at most `limit`; and the capped count of all matches. Runs off
    /// the async runtime's threads (it may scan many index entries).
    async fn session_search(&self, query: &SessionQuery) -> StoreResult<SessionPage>;

    /// Inserts the view, or replaces its value, group and user ids and `updated_at` (keeping
    /// `owner_id` and `created_at`). With `only_owner`, an existing view is replaced only when
    /// its `owner_id` is that one; answers false when it was not written for that reason.
    async fn view_put(
        &self,
        view: &ViewRecord,
        only_owner: Option<PrincipalId<'_>>,
    ) -> StoreResult<bool>;

    async fn view_get(&self, namespace: &str, key: &str) -> StoreResult<Option<ViewRecord>>;

    /// Views of a namespace by key (byte order), `skip` then at most `limit`, and how many
    /// there are. With `viewer`, only views it may see: those with no user ids, those it owns
    /// and those whose user ids hold it.
    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<PrincipalId<'_>>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<ViewRecord>, i64)>;

    /// Deletes the view (with `only_owner`, only when that is its owner). True when deleted.
    async fn view_delete(
        &self,
        namespace: &str,
        key: &str,
        only_owner: Option<PrincipalId<'_>>,
    ) -> StoreResult<bool>;
}
