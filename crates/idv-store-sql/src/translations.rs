//! Statements of the adapters' `translations` modules.

/// Run by `translations::codes`.
pub const CODES: &str = "SELECT DISTINCT code FROM translations ORDER BY code";

/// The functions of the adapters' `translations` modules that are the same in both, word for
/// word: `from_row`, `codes`. Expanded inside each adapter's module, so the names they use
/// (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! translations_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<Translation> {
            Ok(Translation {
                key: col(row, "key")?,
                code: col(row, "code")?,
                value: col(row, "value")?,
            })
        }

        pub(crate) async fn codes(db: &Db) -> StoreResult<Vec<String>> {
            let rows = sqlx::query(idv_store_sql::translations::CODES)
                .fetch_all(db.read())
                .await
                .map_err(backend)?;
            map_rows(rows, |row| col(row, "code"))
        }
    };
}
