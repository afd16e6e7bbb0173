//! Device tokens (ephemeral devices, deeplinks, one-time QR tokens), stored by the keyed hash of
//! their text. The exchange of a one-time token is a guarded `UPDATE` and the insert of its
//! replacement in one transaction: a concurrent exchange waits for the row lock, re-checks
//! `used_at IS NULL` on the committed row and updates nothing.

use crate::convert::{backend, col, unique_or_backend};
use idv_store::{DeviceToken, DeviceTokenKind, StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgPool, Postgres};

/// The columns of a token row, as a literal so statements can be `concat!`ed.
macro_rules! device_columns {
    () => {
        "id, kind, secret_hash, principal_id, session_id, workflow_ids, created_by, created_at, \
         expires_at, used_at"
    };
}

fn from_row(row: &PgRow) -> StoreResult<DeviceToken> {
    let kind: &str = col(row, "kind")?;
    Ok(DeviceToken {
        id: col(row, "id")?,
        kind: DeviceTokenKind::parse(kind)
            .ok_or_else(|| StoreError::backend(format!("unknown device token kind {kind:?}")))?,
        secret_hash: col(row, "secret_hash")?,
        principal_id: col(row, "principal_id")?,
        session_id: col(row, "session_id")?,
        workflow_ids: col(row, "workflow_ids")?,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        used_at: col(row, "used_at")?,
    })
}

fn insert_query(token: &DeviceToken) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    sqlx::query(concat!(
        "INSERT INTO device_tokens (",
        device_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&token.id)
    .bind(token.kind.as_str())
    .bind(&token.secret_hash)
    .bind(&token.principal_id)
    .bind(&token.session_id)
    .bind(&token.workflow_ids)
    .bind(&token.created_by)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.used_at)
}

pub(crate) async fn create(db: &PgPool, token: &DeviceToken) -> StoreResult<()> {
    insert_query(token)
        .execute(db)
        .await
        .map_err(unique_or_backend(|| format!("device token {}", token.id)))?;
    Ok(())
}

pub(crate) async fn by_hash(db: &PgPool, hash: &str) -> StoreResult<Option<DeviceToken>> {
    sqlx::query(concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_tokens WHERE secret_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(db)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn get(db: &PgPool, id: &str) -> StoreResult<Option<DeviceToken>> {
    sqlx::query(concat!(
        "SELECT ",
        device_columns!(),
        " FROM device_tokens WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn exchange(
    db: &PgPool,
    id: &str,
    now: i64,
    replacement: &DeviceToken,
) -> StoreResult<bool> {
    let mut tx = db.begin().await.map_err(backend)?;
    let used = sqlx::query(
        "UPDATE device_tokens SET used_at = $2 \
         WHERE id = $1 AND kind = 'short' AND used_at IS NULL AND expires_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if used.rows_affected() == 0 {
        // Dropping the transaction rolls it back; nothing was written.
        return Ok(false);
    }
    insert_query(replacement)
        .execute(&mut *tx)
        .await
        .map_err(unique_or_backend(|| {
            format!("device token {}", replacement.id)
        }))?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

pub(crate) async fn delete_expired(db: &PgPool, before: i64) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM device_tokens WHERE expires_at < $1")
        .bind(before)
        .execute(db)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
