//! Translations: one value per `(key, locale code)`, global across workflows.

use crate::Db;
use crate::convert::DbRow;
use crate::convert::{backend, col, list_text, map_rows};
use idv_store::{StoreResult, Translation};

/// All entries in one transaction, in order: a pair given twice keeps the later value.
pub(crate) async fn put(db: &Db, entries: &[Translation]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    for entry in entries {
        sqlx::query(
            "INSERT INTO translations (key, code, value) VALUES ($1, $2, $3) \
             ON CONFLICT (key, code) DO UPDATE SET value = excluded.value",
        )
        .bind(&entry.key)
        .bind(&entry.code)
        .bind(&entry.value)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}

/// By code, then key. The codes travel as one JSON array parameter, so the statement text (and
/// its cached prepared statement) does not depend on how many there are.
pub(crate) async fn for_codes(db: &Db, codes: &[String]) -> StoreResult<Vec<Translation>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT key, code, value FROM translations \
         WHERE code IN (SELECT value FROM json_each($1)) ORDER BY code, key",
    )
    .bind(list_text(codes)?)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::translations_fns!();
