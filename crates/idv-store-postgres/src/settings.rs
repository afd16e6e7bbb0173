//! Server-wide settings: first value stored wins.

use crate::PgStore;
use crate::convert::{backend, col};
use async_trait::async_trait;
use idv_store::SettingsStore;
use idv_store::StoreResult;
use sqlx::PgPool;

/// One statement: of racing writers (in this process or another) the first inserts; the rest
/// wait on its row, then make a no-op update that returns the stored value. (`DO NOTHING` would
/// return no row to them.)
pub(crate) async fn get_or_insert(db: &PgPool, key: &str, value: &str) -> StoreResult<String> {
    let row = sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = settings.value \
         RETURNING value",
    )
    .bind(key)
    .bind(value)
    .fetch_one(db)
    .await
    .map_err(backend)?;
    col(&row, "value")
}

/// Compare and swap: one statement, so a value changed since it was read is left alone.
pub(crate) async fn replace(db: &PgPool, key: &str, old: &str, new: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE settings SET value = $3 WHERE key = $1 AND value = $2")
        .bind(key)
        .bind(old)
        .bind(new)
        .execute(db)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
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
