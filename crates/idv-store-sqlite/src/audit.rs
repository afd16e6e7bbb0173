//! The audit log: appends and retention hold SQLite's write lock for the whole transaction
//! (its first statement writes the chain's head row), so the chain stays linear even with
//! several processes on one file.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use crate::writer;
use async_trait::async_trait;
use idv_store::AuditStore;
use idv_store::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry, StoreError, StoreResult};
use sqlx::sqlite::Sqlite;
use sqlx::{QueryBuilder, Row};

const COLUMNS: &str = "seq, at, actor_id, actor_kind, actor_name, action, target, outcome, ip, \
                       request_id, details, prev_hash, hash";

fn from_row(row: &DbRow) -> StoreResult<AuditRecord> {
    let details: &str = col(row, "details")?;
    let outcome: i64 = col(row, "outcome")?;
    Ok(AuditRecord {
        seq: col(row, "seq")?,
        entry: NewAuditEntry {
            at: col(row, "at")?,
            actor_id: col(row, "actor_id")?,
            actor_kind: col(row, "actor_kind")?,
            actor_name: col(row, "actor_name")?,
            action: col(row, "action")?,
            target: col(row, "target")?,
            outcome: i32::try_from(outcome).unwrap_or(i32::MAX),
            ip: col(row, "ip")?,
            request_id: col(row, "request_id")?,
            details: serde_json::from_str(details).map_err(|e| {
                StoreError::backend_from(format!("audit_log.details holds invalid JSON: {e}"), e)
            })?,
        },
        prev_hash: col(row, "prev_hash")?,
        hash: col(row, "hash")?,
    })
}

const CHAIN: &str = idv_store_sql::audit::CHAIN_FROM_ROW;

/// Takes SQLite's write lock and reads the chain's head: the transaction's first statement is a
/// write (a no-op update of the head row), so the lock is taken before anything is read, as
/// `BEGIN IMMEDIATE` would, without a custom `BEGIN` statement.
async fn lock_chain(tx: &mut sqlx::Transaction<'_, Sqlite>) -> StoreResult<AuditChain> {
    let row = sqlx::query(
        "UPDATE audit_chain SET head_seq = head_seq WHERE id = 1 \
         RETURNING head_seq, head_hash, anchor_seq, anchor_hash",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(backend)?;
    chain_from_row(&row)
}

/// Appends `entries` to the chain as one unit of the writer (the chain's head is read and moved
/// under its write lock, so appends of several processes stay linear); the new head's seq.
pub(crate) async fn append(db: &Db, entries: &[NewAuditEntry]) -> StoreResult<i64> {
    let entries = entries.to_vec();
    db.writer
        .run(move |conn| {
            // The head row's no-op update comes first, so it is read under the write lock.
            let chain = conn
                .prepare_cached(
                    "UPDATE audit_chain SET head_seq = head_seq WHERE id = 1 \
                     RETURNING head_seq, head_hash, anchor_seq, anchor_hash",
                )
                .and_then(|mut st| {
                    st.query_row([], |r| {
                        Ok(AuditChain {
                            head_seq: r.get(0)?,
                            head_hash: r.get(1)?,
                            anchor_seq: r.get(2)?,
                            anchor_hash: r.get(3)?,
                        })
                    })
                })
                .map_err(writer::backend)?;
            let mut prev = chain.head_hash;
            let mut last = chain.head_seq;
            for e in entries {
                let (r, details) = AuditRecord::chain_details(last + 1, e, &prev);
                let e = &r.entry;
                writer::exec(
                    conn,
                    INSERT,
                    &[
                        &r.seq,
                        &e.at,
                        &e.actor_id,
                        &e.actor_kind,
                        &e.actor_name,
                        &e.action,
                        &e.target,
                        &i64::from(e.outcome),
                        &e.ip,
                        &e.request_id,
                        &details,
                        &r.prev_hash,
                        &r.hash,
                    ],
                )
                .map_err(writer::backend)?;
                last = r.seq;
                prev = r.hash;
            }
            writer::exec(conn, idv_store_sql::audit::APPEND, &[&last, &prev])
                .map_err(writer::backend)?;
            Ok(last)
        })
        .await
}

const INSERT: &str = "INSERT INTO audit_log (seq, at, actor_id, actor_kind, actor_name, action, \
     target, outcome, ip, request_id, details, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

pub(crate) async fn chain(db: &Db) -> StoreResult<AuditChain> {
    chain_from_row(
        &sqlx::query(CHAIN)
            .fetch_one(db.read())
            .await
            .map_err(backend)?,
    )
}

pub(crate) async fn query(db: &Db, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1"));
    if let Some(a) = &q.actor {
        qb.push(" AND (actor_id = ")
            .push_bind(a)
            .push(" OR actor_name = ")
            .push_bind(a)
            .push(")");
    }
    if let Some(a) = &q.action {
        qb.push(" AND action = ").push_bind(a);
    }
    if let Some(t) = &q.target {
        qb.push(" AND target = ").push_bind(t);
    }
    if let Some(f) = q.from {
        qb.push(" AND at >= ").push_bind(f);
    }
    if let Some(t) = q.to {
        qb.push(" AND at <= ").push_bind(t);
    }
    if let Some(s) = q.after_seq {
        qb.push(" AND seq > ").push_bind(s);
    }
    if let Some(s) = q.before_seq {
        qb.push(" AND seq < ").push_bind(s);
    }
    qb.push(if q.ascending {
        " ORDER BY seq ASC"
    } else {
        " ORDER BY seq DESC"
    });
    qb.push(" LIMIT ").push_bind(q.limit.max(0));
    let rows = qb.build().fetch_all(db.read()).await.map_err(backend)?;
    map_rows(rows, from_row)
}

pub(crate) async fn prune(
    db: &Db,
    user_before: i64,
    api_before: i64,
    limit: i64,
) -> StoreResult<u64> {
    let mut tx = db.write.begin().await.map_err(backend)?;
    let chain = lock_chain(&mut tx).await?;
    let rows = sqlx::query(idv_store_sql::audit::PRUNE)
        .bind(chain.anchor_seq)
        .bind(limit.max(0))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    let mut last: Option<(i64, String)> = None;
    for row in &rows {
        let at: i64 = row.try_get("at").map_err(backend)?;
        let kind: &str = row.try_get("actor_kind").map_err(backend)?;
        let before = if kind == "apikey" {
            api_before
        } else {
            user_before
        };
        if at >= before {
            break;
        }
        last = Some((
            row.try_get("seq").map_err(backend)?,
            row.try_get("hash").map_err(backend)?,
        ));
    }
    let Some((seq, hash)) = last else {
        return Ok(0);
    };
    let done = sqlx::query(idv_store_sql::audit::PRUNE_2)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(idv_store_sql::audit::PRUNE_3)
        .bind(seq)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit_append(&self, entries: &[idv_store::NewAuditEntry]) -> StoreResult<i64> {
        crate::audit::append(&self.db, entries).await
    }

    async fn audit_chain(&self) -> StoreResult<idv_store::AuditChain> {
        crate::audit::chain(&self.db).await
    }

    async fn audit_query(
        &self,
        query: &idv_store::AuditQuery,
    ) -> StoreResult<Vec<idv_store::AuditRecord>> {
        crate::audit::query(&self.db, query).await
    }

    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64> {
        crate::audit::prune(&self.db, user_before, api_before, limit).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::audit_fns!();
