//! Statements of the adapters' `settings` modules.

/// Run by `settings::get_or_insert`.
pub const GET_OR_INSERT: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = settings.value \
         RETURNING value";

/// Run by `settings::replace`.
pub const REPLACE: &str = "UPDATE settings SET value = $3 WHERE key = $1 AND value = $2";

/// The functions of the adapters' `settings` modules that are the same in both, word for word:
/// `replace`. Expanded inside each adapter's module, so the names they use (`Db`, `DbRow`,
/// `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! settings_fns {
    () => {
        /// Compare and swap: one statement, so a value changed since it was read is left alone.
        pub(crate) async fn replace(db: &Db, key: &str, old: &str, new: &str) -> StoreResult<bool> {
            let done = sqlx::query(idv_store_sql::settings::REPLACE)
                .bind(key)
                .bind(old)
                .bind(new)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }
    };
}
