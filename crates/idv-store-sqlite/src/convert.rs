//! Mapping between sqlx and the store's types: errors, JSON TEXT columns, typed column reads.

use idv_store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::sqlite::{Sqlite, SqliteRow};

/// A result row of this driver (the name both adapters use).
pub(crate) type DbRow = SqliteRow;
use sqlx::{Decode, Row, Type};

/// Any database failure the caller cannot act on.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::backend_source(e)
}

/// A unique-key clash becomes `Conflict(what)`; anything else is `Backend`.
pub(crate) fn unique_or_backend(
    what: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::conflict(what(), e);
        }
        backend(e)
    }
}

/// One typed column of a row.
pub(crate) fn col<'r, T>(row: &'r SqliteRow, name: &str) -> StoreResult<T>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(name).map_err(backend)
}

/// A JSON document column.
pub(crate) fn json_col(row: &SqliteRow, name: &str) -> StoreResult<Value> {
    let text: &str = col(row, name)?;
    serde_json::from_str(text)
        .map_err(|e| StoreError::backend_from(format!("column {name} holds invalid JSON: {e}"), e))
}

/// A string-list column (a JSON array).
pub(crate) fn list_col(row: &SqliteRow, name: &str) -> StoreResult<Vec<String>> {
    let text: &str = col(row, name)?;
    serde_json::from_str(text).map_err(|e| {
        StoreError::backend_from(
            format!("column {name} holds no JSON list of strings: {e}"),
            e,
        )
    })
}

/// JSON text for a document (compact; `Value`'s `Display` cannot fail).
pub(crate) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// JSON text for a list of strings.
pub(crate) fn list_text(list: &[String]) -> StoreResult<String> {
    serde_json::to_string(list)
        .map_err(|e| StoreError::backend_from(format!("JSON encoding: {e}"), e))
}

/// Rows of `rows` mapped by `f`, stopping at the first column that does not decode.
pub(crate) fn map_rows<T>(
    rows: Vec<SqliteRow>,
    f: impl Fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}
