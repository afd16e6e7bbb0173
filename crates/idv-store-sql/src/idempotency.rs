//! Statements of the adapters' `idempotency` modules.

/// Run by `idempotency::begin`.
pub const BEGIN: &str = "INSERT INTO idempotency_keys (owner, key, request_hash, status, content_type, body, \
             locked_until, created_at, expires_at) VALUES ($1, $2, $3, NULL, NULL, NULL, $4, $5, $6) \
             ON CONFLICT (owner, key) DO UPDATE SET request_hash = excluded.request_hash, \
             status = NULL, content_type = NULL, body = NULL, \
             locked_until = excluded.locked_until, created_at = excluded.created_at, \
             expires_at = excluded.expires_at \
             WHERE idempotency_keys.expires_at <= $7 \
             OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until <= $7)";

/// Run by `idempotency::begin`.
pub const BEGIN_2: &str = "SELECT owner, key, request_hash, status, content_type, body, locked_until, \
             created_at, expires_at FROM idempotency_keys WHERE owner = $1 AND key = $2";

/// Run by `idempotency::complete`.
pub const COMPLETE: &str = "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 \
         WHERE owner = $1 AND key = $2";

/// Run by `idempotency::abandon`.
pub const ABANDON: &str =
    "DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND status IS NULL";

/// Run by `idempotency::delete_expired`.
pub const DELETE_EXPIRED: &str = "DELETE FROM idempotency_keys WHERE expires_at <= $1";

/// The functions of the adapters' `idempotency` modules that are the same in both, word for
/// word: `begin`, `abandon`, `delete_expired`. Expanded inside each adapter's module, so the
/// names they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! idempotency_fns {
    () => {
        pub(crate) async fn begin(
            db: &Db,
            r: &IdempotencyRecord,
            now: i64,
        ) -> StoreResult<Option<IdempotencyRecord>> {
            // A few rounds: the stored row may be deleted (abandoned or expired) between the upsert
            // that found it and the read.
            for _ in 0..3 {
                let done = sqlx::query(idv_store_sql::idempotency::BEGIN)
                    .bind(&r.owner)
                    .bind(&r.key)
                    .bind(&r.request_hash)
                    .bind(r.locked_until)
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .bind(now)
                    .execute(db.write())
                    .await
                    .map_err(backend)?;
                if done.rows_affected() > 0 {
                    return Ok(None);
                }
                let row = sqlx::query(idv_store_sql::idempotency::BEGIN_2)
                    .bind(&r.owner)
                    .bind(&r.key)
                    .fetch_optional(db.write())
                    .await
                    .map_err(backend)?;
                if let Some(row) = row {
                    return from_row(&row).map(Some);
                }
            }
            Err(idv_store::StoreError::backend(
                "idempotency key kept changing under the request",
            ))
        }

        pub(crate) async fn abandon(db: &Db, owner: &str, key: &str) -> StoreResult<()> {
            sqlx::query(idv_store_sql::idempotency::ABANDON)
                .bind(owner)
                .bind(key)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(())
        }

        pub(crate) async fn delete_expired(db: &Db, now: i64) -> StoreResult<u64> {
            let done = sqlx::query(idv_store_sql::idempotency::DELETE_EXPIRED)
                .bind(now)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected())
        }
    };
}
