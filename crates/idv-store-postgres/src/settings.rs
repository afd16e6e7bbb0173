//! Server-wide settings: first value stored wins.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::{backend, col};
use async_trait::async_trait;
use idv_store::SettingsStore;
use idv_store::StoreResult;

/// One statement: of racing writers (in this process or another) the first inserts; the rest
/// wait on its row, then make a no-op update that returns the stored value. (`DO NOTHING` would
/// return no row to them.)
pub(crate) async fn get_or_insert(db: &Db, key: &str, value: &str) -> StoreResult<String> {
    let row = sqlx::query(idv_store_sql::settings::GET_OR_INSERT)
        .bind(key)
        .bind(value)
        .fetch_one(db.write())
        .await
        .map_err(backend)?;
    col(&row, "value")
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        crate::settings::get_or_insert(&self.pool, key, value).await
    }

    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool> {
        crate::settings::replace(&self.pool, key, old, new).await
    }

    async fn scrub_secrets(&self) -> StoreResult<()> {
        // An UPDATE leaves the old row version in the table's files until it is rewritten.
        sqlx::query("VACUUM (FULL) webhooks, settings")
            .execute(&self.pool)
            .await
            .map_err(crate::convert::backend)?;
        Ok(())
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::settings_fns!();
