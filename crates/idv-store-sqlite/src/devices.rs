//! Device tokens (ephemeral devices, deeplinks, one-time QR tokens), stored by the keyed hash of
//! their text. The exchange of a one-time token is one guarded `UPDATE` and the insert of its
//! replacement in one `IMMEDIATE` transaction: whoever runs it second finds the token used.

use crate::Db;
use crate::convert::DbRow;
use crate::convert::{backend, col, list_col, list_text, unique_or_backend};
use idv_store::{DeviceToken, DeviceTokenKind, StoreError, StoreResult};
use sqlx::sqlite::{Sqlite, SqliteArguments};

/// The columns of a token row, as a literal so statements can be `concat!`ed.
macro_rules! device_columns {
    () => {
        "id, kind, secret_hash, principal_id, session_id, workflow_ids, created_by, created_at, \
         expires_at, used_at"
    };
}

fn insert_query(
    token: &DeviceToken,
) -> StoreResult<sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>>> {
    Ok(sqlx::query(concat!(
        "INSERT INTO device_tokens (",
        device_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&token.id)
    .bind(token.kind.as_str())
    .bind(&token.secret_hash)
    .bind(&token.principal_id)
    .bind(&token.session_id)
    .bind(list_text(&token.workflow_ids)?)
    .bind(&token.created_by)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.used_at))
}

pub(crate) async fn create(db: &Db, token: &DeviceToken) -> StoreResult<()> {
    insert_query(token)?
        .execute(db.write())
        .await
        .map_err(unique_or_backend(|| format!("device token {}", token.id)))?;
    Ok(())
}

pub(crate) async fn exchange(
    db: &Db,
    id: &str,
    now: i64,
    replacement: &DeviceToken,
) -> StoreResult<bool> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let used = sqlx::query(idv_store_sql::devices::EXCHANGE)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if used.rows_affected() == 0 {
        // Dropping the transaction rolls it back; nothing was written.
        return Ok(false);
    }
    insert_query(replacement)?
        .execute(&mut *tx)
        .await
        .map_err(unique_or_backend(|| {
            format!("device token {}", replacement.id)
        }))?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::devices_fns!();
