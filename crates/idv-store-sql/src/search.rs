//! What the adapters' `search` modules share.

/// The functions of the adapters' `search` modules that are the same in both, word for word:
/// `column`, `document`, `sort_value`, `from_row`. Expanded inside each adapter's module, so
/// the names they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! search_fns {
    () => {
        fn column(c: Column) -> &'static str {
            match c {
                Column::Id => "id",
                Column::Status => "status",
                Column::WorkflowId => "workflow_id",
                Column::CreatedAt => "created_at",
                Column::UpdatedAt => "updated_at",
            }
        }

        fn document(d: Document) -> &'static str {
            match d {
                Document::Metadata => "metadata",
                Document::Properties => "properties",
            }
        }

        fn sort_value(sql: &mut Sql, v: &SortValue) {
            match v {
                SortValue::Int(i) => sql.bind(Param::Int(*i)),
                SortValue::Text(s) => sql.bind(Param::Text(s.clone())),
            }
        }

        fn from_row(row: &DbRow) -> StoreResult<SessionSummary> {
            Ok(SessionSummary {
                id: col(row, "id")?,
                workflow_id: col(row, "workflow_id")?,
                workflow_revision: col(row, "workflow_revision")?,
                workflow_name: col(row, "workflow_name")?,
                workflow_version: col(row, "workflow_version")?,
                status: col(row, "status")?,
                current_step: col(row, "current_step")?,
                ended: col(row, "ended")?,
                metadata: json_col(row, "metadata")?,
                properties: json_col(row, "properties")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
            })
        }
    };
}
