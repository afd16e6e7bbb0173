//! Mapping between sqlx and the store's types: errors, JSON columns, typed column reads.

use idv_store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::postgres::{PgRow, Postgres};

/// A result row of this driver (the name both adapters use).
pub(crate) type DbRow = PgRow;
use sqlx::{Decode, Row, Type};

/// Any database failure: a data exception (SQLSTATE class 22, e.g. 22021 for text with a NUL
/// character, 22P05 for a character the encoding cannot hold, 22003 for a number out of
/// range) is `Invalid`, since the value and not the database is at fault; the rest is
/// `Backend`.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.code().is_some_and(|c| is_data_exception(&c))
    {
        return StoreError::invalid(e);
    }
    StoreError::backend_source(e)
}

/// SQLSTATE class 22: "data exception".
fn is_data_exception(sqlstate: &str) -> bool {
    sqlstate.starts_with("22")
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

/// As [`unique_or_backend`], for a statement that writes several tables: `what` names the
/// clash from the table the database reports it in.
pub(crate) fn unique_in_or_backend(
    what: impl FnOnce(Option<&str>) -> String,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::conflict(what(db.table()), e);
        }
        backend(e)
    }
}

/// `"file a"`, or `"file a or b"` when the clash is one of several ids written together.
pub(crate) fn one_of(kind: &str, ids: &[&str]) -> String {
    format!("{kind} {}", ids.join(" or "))
}

/// One field of every row, as an array for a statement to `unnest`.
pub(crate) fn array<'a, T, U>(rows: &'a [T], field: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(field).collect()
}

/// One typed column of a row.
pub(crate) fn col<'r, T>(row: &'r PgRow, name: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(name).map_err(backend)
}

/// A JSON document column, selected as `column::text`: parsing the text here keeps the key
/// order of a `json` column (serde_json preserves order in this workspace).
pub(crate) fn json_col(row: &PgRow, name: &str) -> StoreResult<Value> {
    let text: &str = col(row, name)?;
    serde_json::from_str(text)
        .map_err(|e| StoreError::backend_from(format!("column {name} holds invalid JSON: {e}"), e))
}

/// JSON text for a document, bound as text and cast to `json`/`jsonb` in the statement.
pub(crate) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Rows of `rows` mapped by `f`, stopping at the first column that does not decode.
pub(crate) fn map_rows<T>(
    rows: Vec<PgRow>,
    f: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

/// A string-list column (`text[]`), read as the SQLite adapter reads its JSON lists.
pub(crate) fn list_col(row: &PgRow, name: &str) -> StoreResult<Vec<String>> {
    col(row, name)
}

/// A list of strings to bind: as it is (`text[]`); the SQLite adapter binds JSON text.
pub(crate) fn list_text(list: &[String]) -> StoreResult<&[String]> {
    Ok(list)
}
