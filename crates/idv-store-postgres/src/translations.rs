//! Translations: one value per `(key, locale code)`, global across workflows.

use crate::convert::{backend, col, map_rows};
use idv_store::{StoreResult, Translation};
use sqlx::PgPool;
use sqlx::postgres::PgRow;
use std::collections::HashMap;

fn from_row(row: &PgRow) -> StoreResult<Translation> {
    Ok(Translation {
        key: col(row, "key")?,
        code: col(row, "code")?,
        value: col(row, "value")?,
    })
}

/// All entries in one statement (three parallel arrays unnested). A pair given twice keeps the
/// later value: PostgreSQL refuses to upsert one row twice in a statement, so duplicates are
/// folded here first.
pub(crate) async fn put(db: &PgPool, entries: &[Translation]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut slot: HashMap<(&str, &str), usize> = HashMap::with_capacity(entries.len());
    let mut keys: Vec<&str> = Vec::with_capacity(entries.len());
    let mut codes: Vec<&str> = Vec::with_capacity(entries.len());
    let mut values: Vec<&str> = Vec::with_capacity(entries.len());
    for entry in entries {
        match slot.get(&(entry.key.as_str(), entry.code.as_str())) {
            Some(&i) => values[i] = &entry.value,
            None => {
                slot.insert((&entry.key, &entry.code), keys.len());
                keys.push(&entry.key);
                codes.push(&entry.code);
                values.push(&entry.value);
            }
        }
    }
    sqlx::query(
        "INSERT INTO translations (key, code, value) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
         ON CONFLICT (key, code) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(&keys)
    .bind(&codes)
    .bind(&values)
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(())
}

/// By code, then key.
pub(crate) async fn for_codes(db: &PgPool, codes: &[String]) -> StoreResult<Vec<Translation>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT key, code, value FROM translations WHERE code = ANY($1) ORDER BY code, key",
    )
    .bind(codes)
    .fetch_all(db)
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

pub(crate) async fn codes(db: &PgPool) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT DISTINCT code FROM translations ORDER BY code")
        .fetch_all(db)
        .await
        .map_err(backend)?;
    map_rows(rows, |row| col(row, "code"))
}
