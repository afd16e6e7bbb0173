//! The records of session search and saved views: what [`crate::Store::session_search`] takes
//! and answers, and a stored view.

use idv_core::search::{Filter, SortKey, SortValue};
use serde_json::Value;

/// One search: the checked filter, the caller's reach and the page wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionQuery {
    pub filter: Option<Filter>,
    /// Non-empty: only sessions of these workflow ids.
    pub workflows: Vec<String>,
    /// `Some`: only sessions this principal owns (`session:read` without `session_all:read`).
    pub owner_id: Option<String>,
    /// A total order: ends with `id` (see [`idv_core::search::normalize_sort`]).
    pub sort: Vec<SortKey>,
    /// Keyset paging: only rows strictly after this position in `sort` (one value per key).
    pub after: Option<Vec<SortValue>>,
    pub skip: i64,
    pub limit: i64,
    /// `total` counts at most this many matches plus one; see [`SessionPage::total`].
    pub count_limit: i64,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub items: Vec<SessionSummary>,
    /// Sessions matching the filter, reach and workflows (not the cursor or `skip`), counted up
    /// to `count_limit + 1`: a value above `count_limit` means "more than `count_limit`".
    pub total: i64,
}

/// The columns of a session a search answers (no steps, engine state or files).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub workflow_id: String,
    pub workflow_revision: i64,
    pub workflow_name: String,
    pub workflow_version: Option<String>,
    pub status: i64,
    pub current_step: Option<String>,
    pub ended: bool,
    pub metadata: Value,
    pub properties: Value,
    pub owner_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A saved view (a session list definition), keyed by `(namespace, key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRecord {
    pub namespace: String,
    pub key: String,
    /// `{id, title, description, workflows, columns, groupIds, userIds}` as stored.
    pub value: Value,
    pub group_ids: Vec<String>,
    /// Non-empty: visible only to these users, the owner and holders of `view_all:read`.
    pub user_ids: Vec<String>,
    /// Who created it; `None` for views made by the CLI. Kept by later writes.
    pub owner_id: Option<String>,
    /// Kept by later writes.
    pub created_at: i64,
    pub updated_at: i64,
}
