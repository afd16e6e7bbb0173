//! What the adapters' `views` modules share.

/// The functions of the adapters' `views` modules that are the same in both, word for word:
/// `from_row`. Expanded inside each adapter's module, so the names they use (`Db`, `DbRow`,
/// `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! views_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<ViewRecord> {
            Ok(ViewRecord {
                namespace: col(row, "namespace")?,
                key: col(row, "key")?,
                value: json_col(row, "value")?,
                group_ids: list_col(row, "group_ids")?,
                user_ids: list_col(row, "user_ids")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
            })
        }
    };
}
