//! Translations: one value per `(key, locale code)`, global across workflows.

use crate::Db;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::list_text;
use crate::convert::{backend, col, map_rows};
use idv_store::{StoreResult, Translation};
use std::collections::HashMap;

/// All entries in one statement (three parallel arrays unnested). A pair given twice keeps the
/// later value: PostgreSQL refuses to upsert one row twice in a statement, so duplicates are
/// folded here first.
pub(crate) async fn put(db: &Db, entries: &[Translation]) -> StoreResult<()> {
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
pub(crate) async fn for_codes(db: &Db, codes: &[String]) -> StoreResult<Vec<Translation>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT key, code, value FROM translations WHERE code = ANY($1) ORDER BY code, key",
    )
    .bind(list_text(codes)?)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::translations_fns!();
