//! Statements of the adapters' `deletion` modules.

/// Run by `deletion::delete`.
/// Run by `deletion::delete` before the session goes (its device tokens go with it): keeps the
/// hash of each of its device tokens until their expiry, so a token of a deleted session is
/// told so (410) rather than unknown.
pub const KEEP_TOKENS: &str = "INSERT INTO deleted_device_tokens (secret_hash, session_id, expires_at) \
     SELECT secret_hash, session_id, expires_at FROM device_tokens WHERE session_id = $1 \
     ON CONFLICT (secret_hash) DO NOTHING";

pub const DELETE: &str = "DELETE FROM jobs WHERE session_id = $1";

/// Run by `deletion::delete`.
pub const DELETE_2: &str = "DELETE FROM files WHERE session_id = $1";

/// Run by `deletion::delete`.
pub const DELETE_3: &str = "DELETE FROM sessions WHERE id = $1";

/// The functions of the adapters' `deletion` modules that are the same in both, word for word:
/// `tombstone_from_row`, `tombstone`. Expanded inside each adapter's module, so the names they
/// use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! deletion_fns {
    () => {
        fn tombstone_from_row(row: &DbRow) -> StoreResult<TombstoneRecord> {
            Ok(TombstoneRecord {
                id: col(row, "id")?,
                workflow_id: col(row, "workflow_id")?,
                status: col(row, "status")?,
                owner_id: col(row, "owner_id")?,
                deleted_at: col(row, "deleted_at")?,
                deleted_by: Deleter {
                    id: col(row, "deleted_by_id")?,
                    name: col(row, "deleted_by_name")?,
                    kind: col(row, "deleted_by_kind")?,
                },
                reason: col(row, "reason")?,
            })
        }

        pub(crate) async fn tombstone(db: &Db, id: &str) -> StoreResult<Option<TombstoneRecord>> {
            sqlx::query(&format!(
                "SELECT {TOMBSTONE_COLUMNS} FROM session_tombstones WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(db.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(tombstone_from_row)
            .transpose()
        }
    };
}
