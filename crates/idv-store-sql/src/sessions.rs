//! What the adapters' `sessions` modules share.

/// The functions of the adapters' `sessions` modules that are the same in both, word for word:
/// `from_row`, `update`. Expanded inside each adapter's module, so the names they use (`Db`,
/// `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! sessions_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<SessionRecord> {
            Ok(SessionRecord {
                id: col(row, "id")?,
                workflow_id: col(row, "workflow_id")?,
                workflow_revision: col(row, "workflow_revision")?,
                workflow_name: col(row, "workflow_name")?,
                workflow_version: col(row, "workflow_version")?,
                status: col(row, "status")?,
                locale: col(row, "locale")?,
                metadata: json_col(row, "metadata")?,
                properties: json_col(row, "properties")?,
                current_step: col(row, "current_step")?,
                steps: json_col(row, "steps")?,
                ended: col(row, "ended")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
                revision: col(row, "revision")?,
                engine: json_col(row, "engine")?,
                expires_at: col(row, "expires_at")?,
                history: json_col(row, "history")?,
                legal_hold: col(row, "legal_hold")?,
            })
        }

        /// Every field but the id, in one statement guarded by the previous revision: of two writers
        /// that read the same revision, the second matches no row.
        pub(crate) async fn update(db: &Db, s: &SessionRecord) -> StoreResult<bool> {
            let done = update_query(s).execute(db.write()).await.map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }
    };
}
