//! Statements of the adapters' `files` modules.

/// Run by `files::insert_query`.
pub const INSERT_QUERY: &str = "INSERT INTO files (id, session_id, name, step, property, content_type, size, sha256, \
         object_key, created_at, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Run by the PostgreSQL adapter's `files::get` (SQLite reads files inline).
pub const GET: &str = "SELECT id, session_id, name, step, property, content_type, size, sha256, object_key, \
         created_at FROM files WHERE id = $2 AND session_id = $1";

/// Run by `files::content`.
pub const CONTENT: &str = "SELECT content FROM files WHERE id = $2 AND session_id = $1";

/// The functions of the adapters' `files` modules that are the same in both, word for word:
/// `from_row`, `content`. Expanded inside each adapter's module, so the names
/// they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! files_fns {
    () => {
        pub(crate) fn from_row(row: &DbRow) -> StoreResult<FileRecord> {
            Ok(FileRecord {
                id: col(row, "id")?,
                session_id: col(row, "session_id")?,
                name: col(row, "name")?,
                step: col(row, "step")?,
                property: col(row, "property")?,
                content_type: col(row, "content_type")?,
                size: col(row, "size")?,
                sha256: col(row, "sha256")?,
                object_key: col(row, "object_key")?,
                created_at: col(row, "created_at")?,
                inline: None,
            })
        }

        pub(crate) async fn content(
            db: &Db,
            session_id: &str,
            file_id: &str,
        ) -> StoreResult<Option<Vec<u8>>> {
            let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as(idv_store_sql::files::CONTENT)
                .bind(session_id)
                .bind(file_id)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?;
            Ok(row.and_then(|(c,)| c))
        }
    };
}
