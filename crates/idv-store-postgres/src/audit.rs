//! The audit log: appends and retention lock the chain's head row (`FOR UPDATE`) for the whole
//! transaction, so the chain stays linear with several `idv serve` processes on one database.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows};
use async_trait::async_trait;
use idv_store::AuditStore;
use idv_store::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry, StoreError, StoreResult};
use sqlx::postgres::Postgres;
use sqlx::{QueryBuilder, Row};

const COLUMNS: &str = "seq, at, actor_id, actor_kind, actor_name, action, target, outcome, ip, \
                       request_id, details, prev_hash, hash";
/// Rows per INSERT statement: 13 parameters each, well under PostgreSQL's limit of 65535.
const ROWS_PER_INSERT: usize = 200;

fn from_row(row: &DbRow) -> StoreResult<AuditRecord> {
    let details: &str = col(row, "details")?;

    Ok(AuditRecord {
        seq: col(row, "seq")?,
        entry: NewAuditEntry {
            at: col(row, "at")?,
            actor_id: col(row, "actor_id")?,
            actor_kind: col(row, "actor_kind")?,
            actor_name: col(row, "actor_name")?,
            action: col(row, "action")?,
            target: col(row, "target")?,
            outcome: col(row, "outcome")?,
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
const CHAIN_FOR_UPDATE: &str = "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain \
                                WHERE id = 1 FOR UPDATE";

pub(crate) async fn append(db: &Db, entries: &[NewAuditEntry]) -> StoreResult<i64> {
    let mut tx = db.begin().await.map_err(backend)?;
    // The head row locked until commit: appends (and retention) of every process queue here.
    let chain = chain_from_row(
        &sqlx::query(CHAIN_FOR_UPDATE)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?,
    )?;
    if entries.is_empty() {
        return Ok(chain.head_seq);
    }
    let mut prev = chain.head_hash;
    let mut records = Vec::with_capacity(entries.len());
    let mut details = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let (r, d) = AuditRecord::chain_details(chain.head_seq + 1 + i as i64, e.clone(), &prev);
        prev.clone_from(&r.hash);
        records.push(r);
        details.push(d);
    }
    for (chunk, details) in records
        .chunks(ROWS_PER_INSERT)
        .zip(details.chunks(ROWS_PER_INSERT))
    {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
        qb.push_values(chunk.iter().zip(details), |mut b, (r, d)| {
            let e = &r.entry;
            b.push_bind(r.seq)
                .push_bind(e.at)
                .push_bind(e.actor_id.as_deref())
                .push_bind(e.actor_kind.as_str())
                .push_bind(e.actor_name.as_deref())
                .push_bind(e.action.as_str())
                .push_bind(e.target.as_deref())
                .push_bind(e.outcome)
                .push_bind(e.ip.as_deref())
                .push_bind(e.request_id.as_deref())
                .push_bind(d.as_str())
                .push_bind(r.prev_hash.as_str())
                .push_bind(r.hash.as_str());
        });
        qb.build().execute(&mut *tx).await.map_err(backend)?;
    }
    let last = records.last().map(|r| r.seq).unwrap_or(chain.head_seq);
    sqlx::query(idv_store_sql::audit::APPEND)
        .bind(last)
        .bind(&prev)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(last)
}

pub(crate) async fn chain(db: &Db) -> StoreResult<AuditChain> {
    chain_from_row(&sqlx::query(CHAIN).fetch_one(db).await.map_err(backend)?)
}

pub(crate) async fn query(db: &Db, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
    let mut qb: QueryBuilder<Postgres> =
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
    let mut tx = db.begin().await.map_err(backend)?;
    // The head row locked until commit: appends (and retention) of every process queue here.
    let chain = chain_from_row(
        &sqlx::query(CHAIN_FOR_UPDATE)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?,
    )?;
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
impl AuditStore for PgStore {
    async fn audit_append(&self, entries: &[idv_store::NewAuditEntry]) -> StoreResult<i64> {
        crate::audit::append(&self.pool, entries).await
    }

    async fn audit_chain(&self) -> StoreResult<idv_store::AuditChain> {
        crate::audit::chain(&self.pool).await
    }

    async fn audit_query(
        &self,
        query: &idv_store::AuditQuery,
    ) -> StoreResult<Vec<idv_store::AuditRecord>> {
        crate::audit::query(&self.pool, query).await
    }

    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64> {
        crate::audit::prune(&self.pool, user_before, api_before, limit).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::audit_fns!();
