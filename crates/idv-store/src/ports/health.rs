//! The `HealthStore` port: whether the database answers, which one it is, and the figures the
//! metrics endpoint samples at scrape time (connection pool use, the webhook backlog).

use crate::StoreResult;
use async_trait::async_trait;

/// Connections of the adapter's pool(s), summed over its pools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections (idle or in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pools may open.
    pub max: u32,
}

/// Webhook deliveries waiting to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Deliveries in the `pending` state (due or waiting for a retry, claimed or not).
    pub pending: i64,
    /// `created_at` of the oldest of them (`None` when there are none).
    pub oldest_created_at: Option<i64>,
}

/// Whether the database answers, and which one it is.
#[async_trait]
pub trait HealthStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn backend(&self) -> &'static str;

    /// A cheap round trip that proves the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// The pools' connections now (no round trip: the pool's own counters).
    fn pool_stats(&self) -> PoolStats;

    /// How many webhook deliveries are pending and since when (one indexed aggregate).
    async fn delivery_backlog(&self) -> StoreResult<Backlog>;
}
