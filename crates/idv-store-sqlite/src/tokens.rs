//! Bearer access and refresh tokens, stored by the hash of their secret.

use crate::Db;
use crate::convert::{backend, col, unique_or_backend};
use idv_store::{AuthToken, StoreError, StoreResult, TokenKind};
use sqlx::sqlite::SqliteRow;

fn from_row(row: &SqliteRow) -> StoreResult<AuthToken> {
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
    sqlx::query(
        "INSERT INTO auth_tokens (hash, kind, family, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token.hash)
    .bind(token.kind.as_str())
    .bind(&token.family)
    .bind(&token.user_id)
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(&db.write)
    .await
    .map_err(unique_or_backend(|| "token".to_owned()))?;
    Ok(())
}

pub(crate) async fn get(db: &Db, hash: &str) -> StoreResult<Option<AuthToken>> {
    sqlx::query(
        "SELECT hash, kind, family, user_id, created_at, expires_at FROM auth_tokens \
         WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&db.read)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn delete_family(db: &Db, family: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM auth_tokens WHERE family = $1")
        .bind(family)
        .execute(&db.write)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn delete_expired(db: &Db, now_ms: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM auth_tokens WHERE expires_at < $1")
        .bind(now_ms)
        .execute(&db.write)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
