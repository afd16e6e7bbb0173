//! Statements of the adapters' `tokens` modules.

/// Run by `tokens::create`.
pub const CREATE: &str = "INSERT INTO auth_tokens (hash, kind, family, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)";

/// Run by `tokens::get`.
pub const GET: &str = "SELECT hash, kind, family, user_id, created_at, expires_at FROM auth_tokens \
         WHERE hash = $1";

/// Run by `tokens::delete_family`.
pub const DELETE_FAMILY: &str = "DELETE FROM auth_tokens WHERE family = $1";

/// Run by `tokens::delete_expired`.
pub const DELETE_EXPIRED: &str = "DELETE FROM auth_tokens WHERE expires_at < $1";

/// The functions of the adapters' `tokens` modules that are the same in both, word for word:
/// `from_row`, `create`, `get`, `delete_family`, `delete_expired`. Expanded inside each
/// adapter's module, so the names they use (`Db`, `DbRow`, `col`, `backend`, …) are that
/// adapter's own.
#[macro_export]
macro_rules! tokens_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<AuthToken> {
            let kind: &str = col(row, "kind")?;
            Ok(AuthToken {
                hash: col(row, "hash")?,
                kind: TokenKind::parse(kind)
                    .ok_or_else(|| StoreError::backend(format!("unknown token kind {kind:?}")))?,
                family: col(row, "family")?,
                user_id: col(row, "user_id")?,
                created_at: col(row, "created_at")?,
                expires_at: col(row, "expires_at")?,
            })
        }

        pub(crate) async fn create(db: &Db, token: &AuthToken) -> StoreResult<()> {
            sqlx::query(idv_store_sql::tokens::CREATE)
                .bind(&token.hash)
                .bind(token.kind.as_str())
                .bind(&token.family)
                .bind(&token.user_id)
                .bind(token.created_at)
                .bind(token.expires_at)
                .execute(db.write())
                .await
                .map_err(unique_or_backend(|| "token".to_owned()))?;
            Ok(())
        }

        pub(crate) async fn get(db: &Db, hash: &str) -> StoreResult<Option<AuthToken>> {
            sqlx::query(idv_store_sql::tokens::GET)
                .bind(hash)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?
                .as_ref()
                .map(from_row)
                .transpose()
        }

        pub(crate) async fn delete_family(db: &Db, family: &str) -> StoreResult<()> {
            sqlx::query(idv_store_sql::tokens::DELETE_FAMILY)
                .bind(family)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(())
        }

        pub(crate) async fn delete_expired(db: &Db, now_ms: i64) -> StoreResult<u64> {
            let done = sqlx::query(idv_store_sql::tokens::DELETE_EXPIRED)
                .bind(now_ms)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected())
        }
    };
}
