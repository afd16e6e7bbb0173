//! The `AuditStore` port: the hash-chained audit log.

use crate::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry, StoreResult};
use async_trait::async_trait;

/// The hash-chained audit log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends `entries`, in order, to the end of the audit chain in one transaction that holds
    /// the chain's head locked (so appends from several processes stay one linear chain): each
    /// gets the next `seq` and is hashed after its predecessor ([`AuditRecord::chain`]).
    /// Returns the `seq` of the last one (the head's when `entries` is empty).
    async fn audit_append(&self, entries: &[NewAuditEntry]) -> StoreResult<i64>;

    /// The chain's head and anchor.
    async fn audit_chain(&self) -> StoreResult<AuditChain>;

    /// Entries matching `query`, at most `query.limit`, in `seq` order (ascending or newest
    /// first).
    async fn audit_query(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    /// Retention: removes the longest run of entries from the start of the chain (at most
    /// `limit`) that are all old enough, i.e. whose `at` is before `api_before` for actor kind
    /// `apikey` and before `user_before` for every other kind, and makes the last one removed
    /// the chain's anchor. Stops at the first entry that must stay. Returns how many went.
    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64>;
}
