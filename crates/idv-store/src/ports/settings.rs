//! The `SettingsStore` port: small server-wide values such as the key that hashes API key secrets.

use crate::StoreResult;
use async_trait::async_trait;

/// Small server-wide values such as the key that hashes API key secrets.
#[async_trait]
pub trait SettingsStore: Send + Sync + 'static {
    /// Returns the stored value for `key`, storing `value` first if there was none. Two
    /// processes racing on an empty database both get the same, first-stored value.
    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String>;

    /// Sets `key` to `new` when it holds `old` (compare and swap). False when it held another
    /// value or none.
    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool>;

    /// Rewrites the settings and webhook tables so no copy of a value overwritten in them stays
    /// in the database's files (free space, old row versions, the SQLite WAL). Run after
    /// secrets were encrypted or re-encrypted; the tables are small.
    async fn scrub_secrets(&self) -> StoreResult<()>;
}
