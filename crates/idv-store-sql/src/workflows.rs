//! What the adapters' `workflows` modules share.

/// The functions of the adapters' `workflows` modules that are the same in both, word for word:
/// `from_row`. Expanded inside each adapter's module, so the names they use (`Db`, `DbRow`,
/// `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! workflows_fns {
    () => {
        pub(crate) fn from_row(row: &DbRow) -> StoreResult<WorkflowRecord> {
            Ok(WorkflowRecord {
                id: col(row, "id")?,
                revision: col(row, "revision")?,
                name: col(row, "name")?,
                description: col(row, "description")?,
                version: col(row, "version")?,
                default_locale: col(row, "default_locale")?,
                definition: json_col(row, "definition")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
            })
        }
    };
}
