//! What the adapters' `assets` modules share.

/// The functions of the adapters' `assets` modules that are the same in both, word for word:
/// `from_row`, `get`, `list`, `delete`. Expanded inside each adapter's module, so the names
/// they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! assets_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<AssetRecord> {
            Ok(AssetRecord {
                id: col(row, "id")?,
                content_type: col(row, "content_type")?,
                size: col(row, "size")?,
                sha256: col(row, "sha256")?,
                object_key: col(row, "object_key")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
            })
        }

        pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<AssetRecord>> {
            sqlx::query(&format!("SELECT {COLUMNS} FROM assets WHERE id = $1"))
                .bind(id)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?
                .map(|row| from_row(&row))
                .transpose()
        }

        pub(crate) async fn list(db: &Db) -> StoreResult<Vec<AssetRecord>> {
            let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM assets ORDER BY id"))
                .fetch_all(db.read())
                .await
                .map_err(backend)?;
            map_rows(rows, from_row)
        }

        pub(crate) async fn delete(db: &Db, id: &str) -> StoreResult<Option<AssetRecord>> {
            sqlx::query(&format!(
                "DELETE FROM assets WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .bind(id)
            .fetch_optional(db.write())
            .await
            .map_err(backend)?
            .map(|row| from_row(&row))
            .transpose()
        }
    };
}
