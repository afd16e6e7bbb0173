//! The `CopyStore` port: the whole database as tables of plain values, for moving an install
//! to another database (`idv migrate`) and for consistent backups (`idv backup`).
//!
//! Rows travel as [`CopyValue`]s in each adapter's own encoding (SQLite keeps booleans as 0/1
//! and lists as JSON text; PostgreSQL has `boolean` and `text[]`); the writing adapter turns
//! each value into its column's type, so any adapter can read what another wrote.

use crate::StoreResult;
use async_trait::async_trait;
use std::path::Path;

/// One column's value in transit.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyValue {
    Null,
    Int(i64),
    Real(f64),
    /// Text, JSON documents and lists (as JSON text).
    Text(String),
    Bytes(Vec<u8>),
}

/// A page of rows of one table, in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CopyBatch {
    /// The columns of every row, in order. Columns a database makes up for itself (an
    /// insertion counter, a transaction id) are left out.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<CopyValue>>,
    /// The cursor of the next page; `None` after the last one.
    pub next: Option<i64>,
}

/// The whole database as tables: read, write, check, snapshot.
#[async_trait]
pub trait CopyStore: Send + Sync + 'static {
    /// The tables that hold the install's data, parents before children (a table's rows may
    /// refer only to tables before it). Left out: migration bookkeeping and what the database
    /// derives itself (the session counters, kept by triggers as sessions are written).
    async fn copy_tables(&self) -> StoreResult<Vec<String>>;

    /// How many rows `table` holds.
    async fn copy_count(&self, table: &str) -> StoreResult<i64>;

    /// At most `limit` rows of `table` after the cursor `after` (0 for the first page).
    async fn copy_read(&self, table: &str, after: i64, limit: i64) -> StoreResult<CopyBatch>;

    /// Inserts `rows` (values for `columns`, as [`CopyStore::copy_read`] of any adapter gives
    /// them) into `table` in one transaction, keeping every value; columns not given take
    /// their defaults.
    async fn copy_write(
        &self,
        table: &str,
        columns: &[String],
        rows: &[Vec<CopyValue>],
    ) -> StoreResult<()>;

    /// Deletes every row of `table` (rows a fresh database seeds itself, such as the audit
    /// chain's head, before the copied ones replace them).
    async fn copy_clear(&self, table: &str) -> StoreResult<()>;

    /// After the last write: moves the counters that number new rows past the copied ones.
    async fn copy_finish(&self) -> StoreResult<()>;

    /// Writes a consistent copy of the whole database to the new file `path` while other
    /// connections and processes go on writing (SQLite's `VACUUM INTO`: one read transaction,
    /// so the copy is the database as of one moment). False when the backend has no such copy
    /// (PostgreSQL: use `pg_dump`).
    async fn snapshot_into(&self, path: &Path) -> StoreResult<bool>;

    /// The database's own check of its storage (SQLite's `PRAGMA integrity_check`): the
    /// problems found, none when sound. PostgreSQL checks its pages itself and reports none.
    async fn integrity_check(&self) -> StoreResult<Vec<String>>;
}

/// Whether `name` can be a table name of ours (lower-case letters, digits, `_`), so that it may
/// be written into a statement.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The tables neither adapter copies: migration bookkeeping and the session counters (kept by
/// triggers on `sessions`).
pub const NOT_COPIED: &[&str] = &[
    "_sqlx_migrations",
    "session_day_counts",
    "session_step_counts",
];
