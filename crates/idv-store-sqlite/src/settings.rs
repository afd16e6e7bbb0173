//! Server-wide settings: first value stored wins.

use crate::Db;
use crate::SqliteStore;
use crate::convert::{backend, col};
use async_trait::async_trait;
use idv_store::SettingsStore;
use idv_store::StoreResult;

/// One statement, so racing writers (in this process or another) serialize on SQLite's write
/// lock: the first inserts, the rest turn into a no-op update that returns the stored value.
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
impl SettingsStore for SqliteStore {
    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        crate::settings::get_or_insert(&self.db, key, value).await
    }

    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool> {
        crate::settings::replace(&self.db, key, old, new).await
    }

    async fn scrub_secrets(&self) -> StoreResult<()> {
        // VACUUM rebuilds the whole file from live rows; the checkpoint then empties the WAL,
        // whose older frames may still hold the overwritten pages.
        for statement in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            sqlx::query(statement)
                .execute(&self.db.write)
                .await
                .map_err(crate::convert::backend)?;
        }
        Ok(())
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::settings_fns!();
