//! Statements of the adapters' `devices` modules.

/// Run by `devices::exchange`.
pub const EXCHANGE: &str = "UPDATE device_tokens SET used_at = $2 \
         WHERE id = $1 AND kind = 'short' AND used_at IS NULL AND expires_at > $2";

/// Run by `devices::delete_expired`.
pub const DELETE_EXPIRED: &str = "DELETE FROM device_tokens WHERE expires_at < $1";

/// Run by `devices::delete_expired` too: the kept hashes of deleted sessions' tokens.
pub const DELETE_EXPIRED_DELETED: &str = "DELETE FROM deleted_device_tokens WHERE expires_at < $1";

/// Run by `devices::deleted_session`.
pub const DELETED_SESSION: &str =
    "SELECT session_id FROM deleted_device_tokens WHERE secret_hash = $1 AND expires_at > $2";

/// The functions of the adapters' `devices` modules that are the same in both, word for word:
/// `from_row`, `by_hash`, `get`, `delete_expired`, `deleted_session`. Expanded inside each adapter's module, so
/// the names they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! devices_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<DeviceToken> {
            let kind: &str = col(row, "kind")?;
            Ok(DeviceToken {
                id: col(row, "id")?,
                kind: DeviceTokenKind::parse(kind).ok_or_else(|| {
                    StoreError::backend(format!("unknown device token kind {kind:?}"))
                })?,
                secret_hash: col(row, "secret_hash")?,
                principal_id: col(row, "principal_id")?,
                session_id: col(row, "session_id")?,
                workflow_ids: list_col(row, "workflow_ids")?,
                created_by: col(row, "created_by")?,
                created_at: col(row, "created_at")?,
                expires_at: col(row, "expires_at")?,
                used_at: col(row, "used_at")?,
            })
        }

        pub(crate) async fn by_hash(db: &Db, hash: &str) -> StoreResult<Option<DeviceToken>> {
            sqlx::query(concat!(
                "SELECT ",
                device_columns!(),
                " FROM device_tokens WHERE secret_hash = $1"
            ))
            .bind(hash)
            .fetch_optional(db.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(from_row)
            .transpose()
        }

        pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<DeviceToken>> {
            sqlx::query(concat!(
                "SELECT ",
                device_columns!(),
                " FROM device_tokens WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(db.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(from_row)
            .transpose()
        }

        pub(crate) async fn delete_expired(db: &Db, before: i64) -> StoreResult<u64> {
            let done = sqlx::query(idv_store_sql::devices::DELETE_EXPIRED)
                .bind(before)
                .execute(db.write())
                .await
                .map_err(backend)?;
            sqlx::query(idv_store_sql::devices::DELETE_EXPIRED_DELETED)
                .bind(before)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected())
        }

        pub(crate) async fn deleted_session(
            db: &Db,
            hash: &str,
            now: i64,
        ) -> StoreResult<Option<String>> {
            let row = sqlx::query(idv_store_sql::devices::DELETED_SESSION)
                .bind(hash)
                .bind(now)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?;
            row.map(|r| col::<String>(&r, "session_id")).transpose()
        }
    };
}
