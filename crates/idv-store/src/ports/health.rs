//! The `HealthStore` port: whether the database answers, and which one it is.

use crate::StoreResult;
use async_trait::async_trait;

/// Whether the database answers, and which one it is.
#[async_trait]
pub trait HealthStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn backend(&self) -> &'static str;

    /// A cheap round trip that proves the database answers.
    async fn ping(&self) -> StoreResult<()>;
}
