//! The whole database as tables of plain values ([`CopyStore`]), `VACUUM INTO` snapshots and
//! `PRAGMA integrity_check`.

use crate::SqliteStore;
use crate::convert::backend;
use async_trait::async_trait;
use idv_store::copy::{NOT_COPIED, plain_name};
use idv_store::{CopyBatch, CopyStore, CopyValue, StoreError, StoreResult};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::path::Path;

/// Refuses a table name that is not one of ours before it goes into a statement.
fn table_name(table: &str) -> StoreResult<&str> {
    if plain_name(table) {
        Ok(table)
    } else {
        Err(StoreError::backend(format!("not a table name: {table:?}")))
    }
}

fn column_name(name: &str) -> StoreResult<String> {
    if plain_name(name) {
        Ok(format!("\"{name}\""))
    } else {
        Err(StoreError::backend(format!("not a column name: {name:?}")))
    }
}

#[async_trait]
impl CopyStore for SqliteStore {
    async fn copy_tables(&self) -> StoreResult<Vec<String>> {
        // sqlite_schema lists tables in the order they were made: parents first.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
        )
        .fetch_all(self.db.read())
        .await
        .map_err(backend)?;
        Ok(names
            .into_iter()
            .filter(|n| !NOT_COPIED.contains(&n.as_str()))
            .collect())
    }

    async fn copy_count(&self, table: &str) -> StoreResult<i64> {
        let table = table_name(table)?;
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(self.db.read())
            .await
            .map_err(backend)
    }

    async fn copy_read(&self, table: &str, after: i64, limit: i64) -> StoreResult<CopyBatch> {
        let table = table_name(table)?;
        // By rowid: insertion order, which "oldest first" lists break ties by.
        let rows = sqlx::query(&format!(
            "SELECT rowid AS copy_rowid_, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.read())
        .await
        .map_err(backend)?;
        let mut batch = CopyBatch::default();
        let Some(first) = rows.first() else {
            return Ok(batch);
        };
        batch.columns = first
            .columns()
            .iter()
            .skip(1)
            .map(|c| c.name().to_owned())
            .collect();
        let mut last = after;
        for row in &rows {
            last = row.try_get(0).map_err(backend)?;
            let mut values = Vec::with_capacity(batch.columns.len());
            for i in 1..row.columns().len() {
                let raw = row.try_get_raw(i).map_err(backend)?;
                let value = if raw.is_null() {
                    CopyValue::Null
                } else {
                    match raw.type_info().name() {
                        "INTEGER" => CopyValue::Int(row.try_get(i).map_err(backend)?),
                        "REAL" => CopyValue::Real(row.try_get(i).map_err(backend)?),
                        "BLOB" => CopyValue::Bytes(row.try_get(i).map_err(backend)?),
                        _ => CopyValue::Text(row.try_get(i).map_err(backend)?),
                    }
                };
                values.push(value);
            }
            batch.rows.push(values);
        }
        if rows.len() as i64 == limit {
            batch.next = Some(last);
        }
        Ok(batch)
    }

    async fn copy_write(
        &self,
        table: &str,
        columns: &[String],
        rows: &[Vec<CopyValue>],
    ) -> StoreResult<()> {
        let table = table_name(table)?;
        if rows.is_empty() {
            return Ok(());
        }
        let names = columns
            .iter()
            .map(|c| column_name(c))
            .collect::<StoreResult<Vec<_>>>()?;
        let marks = vec!["?"; names.len()].join(", ");
        let statement = format!(
            "INSERT INTO {table} ({}) VALUES ({marks})",
            names.join(", ")
        );
        let mut tx = self.db.write().begin().await.map_err(backend)?;
        for row in rows {
            let mut q = sqlx::query(&statement);
            for v in row {
                q = match v {
                    CopyValue::Null => q.bind(None::<String>),
                    CopyValue::Int(i) => q.bind(*i),
                    CopyValue::Real(r) => q.bind(*r),
                    CopyValue::Text(t) => q.bind(t.as_str()),
                    CopyValue::Bytes(b) => q.bind(b.as_slice()),
                };
            }
            q.execute(&mut *tx).await.map_err(|e| {
                StoreError::backend_from(format!("cannot copy a row into {table}: {e}"), e)
            })?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn copy_clear(&self, table: &str) -> StoreResult<()> {
        let table = table_name(table)?;
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(self.db.write())
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn copy_finish(&self) -> StoreResult<()> {
        // AUTOINCREMENT counters (sqlite_sequence) follow explicit inserts by themselves.
        Ok(())
    }

    async fn snapshot_into(&self, path: &Path) -> StoreResult<bool> {
        let Some(target) = path.to_str() else {
            return Err(StoreError::backend(format!(
                "the snapshot path {} is not UTF-8",
                path.display()
            )));
        };
        // One read transaction: the copy is the database as of its start, and writers (in
        // this process or another) go on beside it under WAL. A read connection runs it, so
        // this process's writes do not wait; `query_only` would refuse to write even the new
        // file, so it is lifted for this one statement.
        if self.db.scratch.is_some() {
            // A throwaway database (`sqlite::memory:`) is not worth a snapshot.
            return Ok(false);
        }
        let mut conn = self.db.read().acquire().await.map_err(backend)?;
        sqlx::query("PRAGMA query_only = OFF")
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut *conn)
            .await;
        let restored = sqlx::query("PRAGMA query_only = ON")
            .execute(&mut *conn)
            .await;
        if restored.is_err() {
            // Never hand a writable connection back to the read pool.
            conn.detach();
        }
        copied.map_err(|e| {
            StoreError::backend_from(format!("cannot write the snapshot {target}: {e}"), e)
        })?;
        Ok(true)
    }

    async fn integrity_check(&self) -> StoreResult<Vec<String>> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(self.db.read())
            .await
            .map_err(backend)?;
        Ok(lines.into_iter().filter(|l| l != "ok").collect())
    }
}
