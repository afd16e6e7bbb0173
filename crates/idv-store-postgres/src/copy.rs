//! The whole database as tables of plain values ([`CopyStore`]). Each column's PostgreSQL type
//! is read from the catalogue, so values in another adapter's encoding (0/1 booleans, lists as
//! JSON text, hex-free bytes) land in the right types, and reads give the same encoding back.

use crate::PgStore;
use crate::convert::backend;
use async_trait::async_trait;
use idv_store::copy::{NOT_COPIED, plain_name};
use idv_store::{CopyBatch, CopyStore, CopyValue, StoreError, StoreResult};
use sqlx::Row;
use std::path::Path;

/// A column of a table, as the catalogue has it.
struct Column {
    name: String,
    /// `pg_type.typname`: `int8`, `bool`, `text`, `jsonb`, `_text` (an array), …
    kind: String,
    /// `GENERATED ALWAYS AS IDENTITY`: an insertion counter, not data.
    identity: bool,
}

impl Column {
    /// A value PostgreSQL makes up for itself: the insertion counter and the transaction id.
    fn local(&self) -> bool {
        self.identity || self.kind == "xid8"
    }

    /// The expression that reads the column in the shared encoding.
    fn read_expr(&self) -> String {
        let c = format!("\"{}\"", self.name);
        match self.kind.as_str() {
            "bool" => format!("{c}::int4::int8"),
            "int2" | "int4" | "int8" => format!("{c}::int8"),
            "float4" | "float8" | "numeric" => format!("{c}::float8"),
            "bytea" => c,
            k if k.starts_with('_') => format!("array_to_json({c})::text"),
            _ => format!("{c}::text"),
        }
    }

    /// The expression that turns the text `v` (the shared encoding) into the column's type.
    fn write_expr(&self, v: &str) -> String {
        match self.kind.as_str() {
            "bytea" => format!("decode({v}, 'hex')"),
            k if k.starts_with('_') => format!(
                "CASE WHEN {v} IS NULL THEN NULL ELSE \
                 ARRAY(SELECT jsonb_array_elements_text({v}::jsonb))::\"{k}\" END"
            ),
            k => format!("{v}::\"{k}\""),
        }
    }
}

fn table_name(table: &str) -> StoreResult<&str> {
    if plain_name(table) {
        Ok(table)
    } else {
        Err(StoreError::backend(format!("not a table name: {table:?}")))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

impl PgStore {
    async fn columns(&self, table: &str) -> StoreResult<Vec<Column>> {
        let rows = sqlx::query(
            "SELECT a.attname::text AS name, t.typname::text AS kind, \
                    a.attidentity <> '' AS identity \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = ($1::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(Column {
                    name: r.try_get("name").map_err(backend)?,
                    kind: r.try_get("kind").map_err(backend)?,
                    identity: r.try_get("identity").map_err(backend)?,
                })
            })
            .collect()
    }

    /// The order rows were inserted in: the identity counter when the table has one, else the
    /// primary key.
    async fn order_by(&self, table: &str, columns: &[Column]) -> StoreResult<String> {
        if let Some(c) = columns.iter().find(|c| c.identity) {
            return Ok(format!("\"{}\"", c.name));
        }
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = ($1::text)::regclass AND i.indisprimary ORDER BY a.attnum",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        if keys.is_empty() {
            return Ok("ctid".into());
        }
        Ok(keys
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

#[async_trait]
impl CopyStore for PgStore {
    async fn copy_tables(&self) -> StoreResult<Vec<String>> {
        // By oid: the order the migrations made them in, parents first.
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.oid",
        )
        .fetch_all(&self.pool)
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
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn copy_read(&self, table: &str, after: i64, limit: i64) -> StoreResult<CopyBatch> {
        let table = table_name(table)?;
        let columns: Vec<Column> = self
            .columns(table)
            .await?
            .into_iter()
            .filter(|c| !c.local())
            .collect();
        let order = self.order_by(table, &self.columns(table).await?).await?;
        let select = columns
            .iter()
            .map(|c| c.read_expr())
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {select} FROM {table} ORDER BY {order} OFFSET $1 LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut batch = CopyBatch {
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            ..Default::default()
        };
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let value = match c.kind.as_str() {
                    "bool" | "int2" | "int4" | "int8" => row
                        .try_get::<Option<i64>, _>(i)
                        .map_err(backend)?
                        .map(CopyValue::Int),
                    "float4" | "float8" | "numeric" => row
                        .try_get::<Option<f64>, _>(i)
                        .map_err(backend)?
                        .map(CopyValue::Real),
                    "bytea" => row
                        .try_get::<Option<Vec<u8>>, _>(i)
                        .map_err(backend)?
                        .map(CopyValue::Bytes),
                    _ => row
                        .try_get::<Option<String>, _>(i)
                        .map_err(backend)?
                        .map(CopyValue::Text),
                };
                values.push(value.unwrap_or(CopyValue::Null));
            }
            batch.rows.push(values);
        }
        if rows.len() as i64 == limit {
            batch.next = Some(after + limit);
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
        let known = self.columns(table).await?;
        let mut targets = Vec::with_capacity(columns.len());
        for name in columns {
            let Some(c) = known.iter().find(|c| &c.name == name) else {
                return Err(StoreError::backend(format!(
                    "table {table} has no column {name:?} here: the two databases' schemas \
                     differ (run the same idv version on both)"
                )));
            };
            targets.push(c);
        }
        // Every value goes as text in one array per column; the SELECT turns each into its
        // column's type, so one statement inserts the whole batch.
        let mut arrays: Vec<Vec<Option<String>>> =
            vec![Vec::with_capacity(rows.len()); columns.len()];
        for row in rows {
            if row.len() != columns.len() {
                return Err(StoreError::backend(format!(
                    "a row for {table} has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            for (i, v) in row.iter().enumerate() {
                arrays[i].push(match v {
                    CopyValue::Null => None,
                    CopyValue::Int(n) => Some(n.to_string()),
                    CopyValue::Real(r) => Some(r.to_string()),
                    CopyValue::Text(t) => Some(t.clone()),
                    CopyValue::Bytes(b) => Some(hex(b)),
                });
            }
        }
        let names = targets
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let params = (1..=targets.len())
            .map(|i| format!("${i}::text[]"))
            .collect::<Vec<_>>()
            .join(", ");
        let aliases = (0..targets.len())
            .map(|i| format!("v{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let exprs = targets
            .iter()
            .enumerate()
            .map(|(i, c)| c.write_expr(&format!("u.v{i}")))
            .collect::<Vec<_>>()
            .join(", ");
        let overriding = if targets.iter().any(|c| c.identity) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let statement = format!(
            "INSERT INTO {table} ({names}){overriding} SELECT {exprs} \
             FROM unnest({params}) WITH ORDINALITY AS u({aliases}, ord) ORDER BY u.ord"
        );
        let mut q = sqlx::query(&statement);
        for a in arrays {
            q = q.bind(a);
        }
        q.execute(&self.pool).await.map_err(|e| {
            StoreError::backend_from(format!("cannot copy rows into {table}: {e}"), e)
        })?;
        Ok(())
    }

    async fn copy_clear(&self, table: &str) -> StoreResult<()> {
        let table = table_name(table)?;
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn copy_finish(&self) -> StoreResult<()> {
        // Every serial or identity column's sequence goes past the largest copied value.
        let counters = sqlx::query(
            "SELECT c.relname::text AS tab, a.attname::text AS col FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
             AND NOT a.attisdropped \
             AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        for row in &counters {
            let table: String = row.try_get("tab").map_err(backend)?;
            let column: String = row.try_get("col").map_err(backend)?;
            if !plain_name(&table) || !plain_name(&column) {
                continue;
            }
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), \
                 (SELECT COALESCE(max(\"{column}\"), 0) + 1 FROM {table}), false)"
            ))
            .bind(&table)
            .bind(&column)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        }
        Ok(())
    }

    async fn snapshot_into(&self, _path: &Path) -> StoreResult<bool> {
        Ok(false)
    }

    async fn integrity_check(&self) -> StoreResult<Vec<String>> {
        Ok(vec![])
    }
}
