//! Statements of the adapters' `api_keys` modules.

/// Run by `api_keys::create`.
pub const CREATE: &str = "INSERT INTO api_keys (id, name, secret_hash, permissions, owner_id, ttl, created_at, \
         expires_at, revoked_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Run by `api_keys::get`.
pub const GET: &str = "SELECT id, name, secret_hash, permissions, owner_id, ttl, created_at, expires_at, \
         revoked_at, last_used_at FROM api_keys WHERE id = $1";

/// Run by `api_keys::revoke`.
pub const REVOKE: &str = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1";

/// Run by `api_keys::touch`.
pub const TOUCH: &str = "UPDATE api_keys SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

/// The functions of the adapters' `api_keys` modules that are the same in both, word for word:
/// `from_row`, `create`, `get`, `revoke`, `touch`. Expanded inside each adapter's module, so
/// the names they use (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! api_keys_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<ApiKey> {
            Ok(ApiKey {
                id: col(row, "id")?,
                name: col(row, "name")?,
                secret_hash: col(row, "secret_hash")?,
                permissions: list_col(row, "permissions")?,
                owner_id: col(row, "owner_id")?,
                ttl: col(row, "ttl")?,
                created_at: col(row, "created_at")?,
                expires_at: col(row, "expires_at")?,
                revoked_at: col(row, "revoked_at")?,
                last_used_at: col(row, "last_used_at")?,
            })
        }

        pub(crate) async fn create(db: &Db, key: &ApiKey) -> StoreResult<()> {
            sqlx::query(idv_store_sql::api_keys::CREATE)
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.secret_hash)
                .bind(list_text(&key.permissions)?)
                .bind(&key.owner_id)
                .bind(key.ttl)
                .bind(key.created_at)
                .bind(key.expires_at)
                .bind(key.revoked_at)
                .bind(key.last_used_at)
                .execute(db.write())
                .await
                .map_err(unique_or_backend(|| format!("API key {}", key.id)))?;
            Ok(())
        }

        pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<ApiKey>> {
            sqlx::query(idv_store_sql::api_keys::GET)
                .bind(id)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?
                .as_ref()
                .map(from_row)
                .transpose()
        }

        /// The first revocation time stays; revoking again still reports that the key exists.
        pub(crate) async fn revoke(db: &Db, id: &str, at_ms: i64) -> StoreResult<bool> {
            let done = sqlx::query(idv_store_sql::api_keys::REVOKE)
                .bind(id)
                .bind(at_ms)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }

        /// Never moves `last_used_at` back: requests finishing out of order keep the latest time.
        pub(crate) async fn touch(db: &Db, id: &str, at_ms: i64) -> StoreResult<()> {
            sqlx::query(idv_store_sql::api_keys::TOUCH)
                .bind(id)
                .bind(at_ms)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(())
        }
    };
}
