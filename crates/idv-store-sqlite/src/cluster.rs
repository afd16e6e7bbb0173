//! [`ClusterStore`] on SQLite: one process uses the database, so there is no one to signal and
//! this process always leads. Several `idv serve` processes need PostgreSQL.

use crate::SqliteStore;
use async_trait::async_trait;
use idv_store::{ClusterStore, LeaderContender, SignalListener, StoreResult};

#[async_trait]
impl ClusterStore for SqliteStore {
    async fn signal_send(&self, _signal: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn signal_listen(&self, _name: &str) -> StoreResult<Option<Box<dyn SignalListener>>> {
        Ok(None)
    }

    async fn signal_listeners(&self) -> StoreResult<Vec<String>> {
        Ok(Vec::new())
    }

    async fn leader_contender(&self, _name: &str) -> StoreResult<Box<dyn LeaderContender>> {
        Ok(Box::new(AlwaysLeads))
    }
}

/// The one process on a SQLite database leads.
struct AlwaysLeads;

#[async_trait]
impl LeaderContender for AlwaysLeads {
    async fn lead(&mut self) -> StoreResult<bool> {
        Ok(true)
    }
}
