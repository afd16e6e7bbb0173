//! The outbox: events stored in the transaction of the change that caused them and fanned out
//! to matching endpoints there, webhook endpoints, delivery claims and the attempt log.
//!
//! Every write runs on the one writer connection (or waits for SQLite's write lock in another
//! process), so the feed's cursor is the rowid: rows are numbered in commit order. A claim is
//! one `UPDATE … RETURNING`; whoever runs second sees the lease the first one set.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, json_col, json_text, map_rows, unique_or_backend};
use crate::writer;
use async_trait::async_trait;
use idv_store::EventStore;
use idv_store::OutboxStore;
use idv_store::{
    AttemptOutcome, AttemptRecord, DELIVERY_WINDOW_MS, DeliveryRecord, DeliveryState, EventPage,
    EventQuery, EventRecord, NewEvent, StoreError, StoreResult, WebhookRecord, WebhookSecrets,
    unwrap_list, wrap_list,
};
use idv_store::{DeliveryId, SessionId, WebhookId};
use rusqlite::OptionalExtension;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// An endpoint selects an event when its type list holds the type (or `*`) and its workflow
/// list is empty or holds the event's workflow. `w` is the endpoint, `e` the event.
const MATCHES: &str = "(w.events = ',*,' OR instr(w.events, ',' || e.kind || ',') > 0) \
     AND (w.workflow_ids = '' OR instr(w.workflow_ids, ',' || e.workflow_id || ',') > 0)";

/// A pending delivery `c` that is the first pending one of its (endpoint, session).
const CHAIN_HEAD: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
     WHERE p.webhook_id = c.webhook_id AND p.session_id = c.session_id AND p.state = 'pending' \
     AND (p.sequence < c.sequence OR (p.sequence = c.sequence AND p.id < c.id)))";

/// The candidates of a claim: the first `$4` pending deliveries of enabled endpoints in
/// `(next_at, id)` order, due at `$1` and not leased, as `c`. Only these are checked for being
/// the head of their chain, so a claim walks the due index and stops instead of checking every
/// pending delivery (whatever plan the database picks). A delivery put off for a retry puts off
/// the rest of its chain with it ([`finish`]), so the blocked ones do not crowd the front.
const CANDIDATES: &str = "(SELECT d.id, d.webhook_id, d.session_id, d.sequence, d.next_at \
     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled = 1 \
     WHERE d.state = 'pending' AND d.next_at <= $1 \
     AND (d.locked_until IS NULL OR d.locked_until < $1) \
     ORDER BY d.next_at, d.id LIMIT $4) c";

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_kind, session_id, sequence, \
     state, attempts, next_at, locked_until, created_at, deadline, last_status, last_error";

const WEBHOOK_COLUMNS: &str = "id, url, events, enabled, description, headers, workflow_ids, \
     secret, previous_secret, previous_secret_until, ed25519, owner_id, created_at, updated_at, \
     failing_since, disabled_reason, disabled_at";

/// Queues a delivery of each stored event of session `$1` with sequence `$2..=$3` for every
/// enabled endpoint that selects it.
static FAN_OUT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_kind, session_id, sequence, \
         state, attempts, next_at, created_at, deadline) \
         SELECT w.id, e.id, e.kind, e.session_id, e.sequence, 'pending', 0, e.created_at, \
         e.created_at, e.created_at + {DELIVERY_WINDOW_MS} \
         FROM events e JOIN webhooks w ON w.enabled = 1 AND {MATCHES} \
         WHERE e.session_id = $1 AND e.sequence BETWEEN $2 AND $3"
    )
});

/// The events of one session change, checked and owned, for the writer thread: see
/// [`EventRows::write`].
pub(crate) struct EventRows {
    session_id: String,
    events: Vec<NewEvent>,
}

impl EventRows {
    /// Checks that `events` are all of one session (or none).
    pub(crate) fn of(events: &[NewEvent]) -> StoreResult<EventRows> {
        Ok(EventRows {
            session_id: one_session(events)?.unwrap_or_default().to_owned(),
            events: events.to_vec(),
        })
    }

    /// Stores the events with the session's next sequence numbers and queues their deliveries,
    /// on the writer's connection, after the session row is written.
    pub(crate) fn write(&self, conn: &rusqlite::Connection) -> StoreResult<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        let n = self.events.len() as i64;
        let last: i64 = {
            let mut stmt = conn
                .prepare_cached(idv_store_sql::outbox::WRITE_EVENTS)
                .map_err(writer::backend)?;
            writer::bind(&mut stmt, &[&self.session_id, &n]).map_err(writer::backend)?;
            let mut rows = stmt.raw_query();
            match rows.next().map_err(writer::backend)? {
                Some(r) => r.get(0).map_err(writer::backend)?,
                None => {
                    return Err(StoreError::backend(format!(
                        "events of session {}, which is not stored",
                        self.session_id
                    )));
                }
            }
        };
        let start = last - n + 1;
        for (i, e) in self.events.iter().enumerate() {
            let sequence = start + i as i64;
            writer::exec(
                conn,
                idv_store_sql::outbox::INSERT_EVENT,
                &[
                    &e.id,
                    &e.kind,
                    &e.session_id,
                    &e.workflow_id,
                    &e.owner_id,
                    &sequence,
                    &e.created_at,
                    &e.body(sequence),
                    &true,
                ],
            )
            .map_err(|err| writer::error(err, || format!("event {}", e.id)))?;
        }
        writer::exec(conn, &FAN_OUT, &[&self.session_id, &start, &last])
            .map_err(writer::backend)?;
        Ok(())
    }
}

/// The one session `events` are about (`None` for no events); an error when they are of
/// several, or of none.
fn one_session(events: &[NewEvent]) -> StoreResult<Option<&str>> {
    let Some(first) = events.first() else {
        return Ok(None);
    };
    let session_id = first
        .session_id
        .as_deref()
        .ok_or_else(|| StoreError::backend("events written with a session change need its id"))?;
    if events
        .iter()
        .any(|e| e.session_id.as_deref() != Some(session_id))
    {
        return Err(StoreError::backend(
            "events written together must be of one session",
        ));
    }
    Ok(Some(session_id))
}

/// Stores `events` (all of one session, or none) with the session's next sequence numbers and
/// queues a delivery for every enabled endpoint that selects each. Runs inside the caller's
/// transaction, after the session row is written (or before it is deleted).
pub(crate) async fn write_events(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
) -> StoreResult<()> {
    let Some(session_id) = one_session(events)? else {
        return Ok(());
    };
    let n = events.len() as i64;
    let last: i64 = sqlx::query_scalar(idv_store_sql::outbox::WRITE_EVENTS)
        .bind(session_id)
        .bind(n)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    let start = last - n + 1;
    for (i, e) in events.iter().enumerate() {
        insert_event(&mut *conn, e, start + i as i64, true).await?;
    }
    sqlx::query(&FAN_OUT)
        .bind(session_id)
        .bind(start)
        .bind(last)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

async fn insert_event(
    conn: &mut SqliteConnection,
    e: &NewEvent,
    sequence: i64,
    feed: bool,
) -> StoreResult<()> {
    sqlx::query(idv_store_sql::outbox::INSERT_EVENT)
        .bind(&e.id)
        .bind(&e.kind)
        .bind(&e.session_id)
        .bind(&e.workflow_id)
        .bind(&e.owner_id)
        .bind(sequence)
        .bind(e.created_at)
        .bind(e.body(sequence))
        .bind(feed)
        .execute(conn)
        .await
        .map_err(unique_or_backend(|| format!("event {}", e.id)))?;
    Ok(())
}

pub(crate) async fn publish(db: &Db, e: &NewEvent, webhook_id: &str) -> StoreResult<String> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    insert_event(&mut tx, e, 0, false).await?;
    let id: i64 = sqlx::query_scalar(idv_store_sql::outbox::PUBLISH)
        .bind(webhook_id)
        .bind(&e.id)
        .bind(&e.kind)
        .bind(e.created_at)
        .bind(e.created_at + DELIVERY_WINDOW_MS)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(id.to_string())
}

fn event_from_row(row: &DbRow) -> StoreResult<EventRecord> {
    let pos: i64 = col(row, "pos")?;
    Ok(EventRecord {
        cursor: pos.to_string(),
        id: col(row, "id")?,
        kind: col(row, "kind")?,
        session_id: col(row, "session_id")?,
        workflow_id: col(row, "workflow_id")?,
        owner_id: col(row, "owner_id")?,
        sequence: col(row, "sequence")?,
        created_at: col(row, "created_at")?,
        body: col(row, "body")?,
    })
}

/// The feed's cursor is the rowid as text; anything else is a caller's mistake the server
/// checks first, so here it only has to be refused.
fn parse_cursor(cursor: Option<&str>) -> StoreResult<i64> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| StoreError::backend(format!("not an event cursor of this store: {c}"))),
    }
}

pub(crate) async fn events_after(db: &Db, q: &EventQuery) -> StoreResult<EventPage> {
    let after = parse_cursor(q.after.as_deref())?;
    let mut sql = QueryBuilder::<Sqlite>::new(
        "SELECT pos, id, kind, session_id, workflow_id, owner_id, sequence, created_at, body \
         FROM events WHERE feed = 1 AND pos > ",
    );
    sql.push_bind(after);
    if let Some(owner) = &q.owner_id {
        sql.push(" AND owner_id = ").push_bind(owner);
    }
    if !q.kinds.is_empty() {
        sql.push(" AND kind IN (");
        let mut list = sql.separated(", ");
        for k in &q.kinds {
            list.push_bind(k);
        }
        sql.push(")");
    }
    sql.push(" ORDER BY pos LIMIT ").push_bind(q.limit);
    let rows = sql.build().fetch_all(db.read()).await.map_err(backend)?;
    let events = map_rows(rows, event_from_row)?;
    let next = events
        .last()
        .map(|e| e.cursor.clone())
        .or_else(|| q.after.clone());
    Ok(EventPage { events, next })
}

pub(crate) async fn events_end(db: &Db) -> StoreResult<Option<String>> {
    let pos: Option<i64> =
        sqlx::query_scalar("SELECT pos FROM events WHERE feed = 1 ORDER BY pos DESC LIMIT 1")
            .fetch_optional(db.read())
            .await
            .map_err(backend)?;
    Ok(pos.map(|p| p.to_string()))
}

pub(crate) async fn webhook_create(db: &Db, w: &WebhookRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17)"
    ))
    .bind(&w.id)
    .bind(&w.url)
    .bind(wrap_list(&w.events))
    .bind(w.enabled)
    .bind(&w.description)
    .bind(json_text(&w.headers))
    .bind(wrap_list(&w.workflow_ids))
    .bind(&w.secret)
    .bind(&w.previous_secret)
    .bind(w.previous_secret_until)
    .bind(w.ed25519)
    .bind(&w.owner_id)
    .bind(w.created_at)
    .bind(w.updated_at)
    .bind(w.failing_since)
    .bind(&w.disabled_reason)
    .bind(w.disabled_at)
    .execute(db.write())
    .await
    .map_err(unique_or_backend(|| format!("webhook {}", w.id)))?;
    Ok(())
}

pub(crate) async fn webhook_get(db: &Db, id: &str) -> StoreResult<Option<WebhookRecord>> {
    sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(webhook_from_row)
    .transpose()
}

pub(crate) async fn webhook_list(db: &Db) -> StoreResult<Vec<WebhookRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, rowid"
    ))
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, webhook_from_row)
}

pub(crate) async fn webhook_update(db: &Db, w: &WebhookRecord) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE webhooks SET url = $2, events = $3, enabled = $4, description = $5, \
         headers = $6, workflow_ids = $7, secret = $8, previous_secret = $9, \
         previous_secret_until = $10, ed25519 = $11, updated_at = $12, failing_since = $13, \
         disabled_reason = $14, disabled_at = $15 WHERE id = $1",
    )
    .bind(&w.id)
    .bind(&w.url)
    .bind(wrap_list(&w.events))
    .bind(w.enabled)
    .bind(&w.description)
    .bind(json_text(&w.headers))
    .bind(wrap_list(&w.workflow_ids))
    .bind(&w.secret)
    .bind(&w.previous_secret)
    .bind(w.previous_secret_until)
    .bind(w.ed25519)
    .bind(w.updated_at)
    .bind(w.failing_since)
    .bind(&w.disabled_reason)
    .bind(w.disabled_at)
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

/// Compare and swap of the secret columns alone, so a concurrent change to the endpoint's other
/// columns (its failing state, an edit) is neither lost nor overwritten.
pub(crate) async fn webhook_reseal(
    db: &Db,
    id: &str,
    old: &WebhookSecrets,
    new: &WebhookSecrets,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE webhooks SET secret = $2, previous_secret = $3, headers = $4 \
         WHERE id = $1 AND secret = $7 AND previous_secret IS $5 AND json(headers) = json($6)",
    )
    .bind(id)
    .bind(&new.secret)
    .bind(&new.previous_secret)
    .bind(json_text(&new.headers))
    .bind(&old.previous_secret)
    .bind(json_text(&old.headers))
    .bind(&old.secret)
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

/// A claimed delivery row, on the writer's connection (`DELIVERY_COLUMNS` order).
fn claimed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, DeliveryRecord)> {
    let id: i64 = r.get(0)?;
    let state: String = r.get(6)?;
    Ok((
        id,
        DeliveryRecord {
            id: id.to_string(),
            webhook_id: r.get(1)?,
            event_id: r.get(2)?,
            event_kind: r.get(3)?,
            session_id: r.get(4)?,
            sequence: r.get(5)?,
            state: DeliveryState::parse(&state).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    6,
                    rusqlite::types::Type::Text,
                    format!("unknown delivery state {state}").into(),
                )
            })?,
            attempts: r.get(7)?,
            next_at: r.get(8)?,
            locked_until: r.get(9)?,
            created_at: r.get(10)?,
            deadline: r.get(11)?,
            last_status: r.get(12)?,
            last_error: r.get(13)?,
            body: String::new(),
        },
    ))
}

static CLAIM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE webhook_deliveries SET locked_until = $1 + $2, attempts = attempts + 1 \
         WHERE id IN (SELECT c.id FROM {CANDIDATES} WHERE {CHAIN_HEAD} \
                      ORDER BY c.next_at, c.id LIMIT $3) \
         RETURNING {DELIVERY_COLUMNS}"
    )
});

/// Leases up to `limit` due deliveries, each the head of its chain, with their events' bodies;
/// one unit of the writer.
pub(crate) async fn claim(
    db: &Db,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> StoreResult<Vec<DeliveryRecord>> {
    let mut claimed = db
        .writer
        .run(move |conn| {
            let mut stmt = conn.prepare_cached(&CLAIM).map_err(writer::backend)?;
            writer::bind(&mut stmt, &[&now, &lease_ms, &limit, &window(limit)])
                .map_err(writer::backend)?;
            let mut rows = stmt.raw_query();
            let mut claimed = Vec::new();
            while let Some(r) = rows.next().map_err(writer::backend)? {
                claimed.push(claimed_row(r).map_err(writer::backend)?);
            }
            drop(rows);
            let mut body = conn
                .prepare_cached("SELECT body FROM events WHERE id = $1")
                .map_err(writer::backend)?;
            for (_, d) in &mut claimed {
                d.body = body
                    .query_row([&d.event_id], |r| r.get(0))
                    .optional()
                    .map_err(writer::backend)?
                    .unwrap_or_default();
            }
            Ok(claimed)
        })
        .await?;
    claimed.sort_by_key(|(id, d)| (d.next_at, *id));
    Ok(claimed.into_iter().map(|(_, d)| d).collect())
}

/// Records an attempt and the delivery's next state (and its endpoint's health) in one unit of
/// the writer. `None` when the claim's lease was lost; otherwise whether this disabled the
/// endpoint.
pub(crate) async fn finish(
    db: &Db,
    claimed: &DeliveryRecord,
    attempt: &AttemptRecord,
    outcome: &AttemptOutcome,
) -> StoreResult<Option<bool>> {
    let id = delivery_id(&claimed.id)
        .ok_or_else(|| StoreError::backend(format!("not a delivery id: {}", claimed.id)))?;
    let (webhook_id, session_id, locked_until) = (
        claimed.webhook_id.clone(),
        claimed.session_id.clone(),
        claimed.locked_until,
    );
    let attempt = attempt.clone();
    let outcome = outcome.clone();
    db.writer
        .run(move |conn| {
            let run = |sql: &str, values: &[&dyn rusqlite::ToSql]| {
                writer::exec(conn, sql, values).map_err(writer::backend)
            };
            run(
                idv_store_sql::outbox::FINISH,
                &[
                    &id,
                    &attempt.webhook_id,
                    &attempt.at,
                    &attempt.status_code,
                    &attempt.latency_ms,
                    &attempt.response,
                    &attempt.error,
                ],
            )?;
            let held = run(
                idv_store_sql::outbox::FINISH_2,
                &[
                    &id,
                    &locked_until,
                    &outcome.state.as_str(),
                    &outcome.next_at,
                    &attempt.status_code,
                    &attempt.error,
                ],
            )? > 0;
            if held && outcome.state == DeliveryState::Pending {
                // The rest of its chain waits for it: put it off as far, so blocked deliveries
                // stay behind it in the due order (see CANDIDATES).
                run(
                    "UPDATE webhook_deliveries SET next_at = max(next_at, $4) \
                     WHERE webhook_id = $1 AND session_id = $2 AND state = 'pending' AND id <> $3",
                    &[&webhook_id, &session_id, &id, &outcome.next_at],
                )?;
            }
            let health = if outcome.success {
                idv_store_sql::outbox::FINISH_3
            } else {
                idv_store_sql::outbox::FINISH_4
            };
            run(health, &[&webhook_id, &attempt.at])?;
            let mut disabled = false;
            if let Some(reason) = &outcome.disable {
                disabled = run(
                    "UPDATE webhooks SET enabled = 0, disabled_reason = $2, disabled_at = $3, \
                     updated_at = $3 WHERE id = $1 AND enabled = 1 \
                     AND ($4 IS NULL OR failing_since <= $4)",
                    &[
                        &webhook_id,
                        reason,
                        &attempt.at,
                        &outcome.disable_if_failing_since_before,
                    ],
                )? > 0;
            }
            Ok(held.then_some(disabled))
        })
        .await
}

pub(crate) async fn next_due(db: &Db) -> StoreResult<Option<i64>> {
    // As a claim's candidates, leased ones included and whenever due.
    sqlx::query_scalar(&format!(
        "SELECT min(CASE WHEN c.locked_until IS NOT NULL AND c.locked_until >= c.next_at \
                    THEN c.locked_until + 1 ELSE c.next_at END) \
         FROM (SELECT d.id, d.webhook_id, d.session_id, d.sequence, d.next_at, d.locked_until \
               FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled = 1 \
               WHERE d.state = 'pending' ORDER BY d.next_at, d.id LIMIT $1) c \
         WHERE {CHAIN_HEAD}"
    ))
    .bind(window(16))
    .fetch_one(db.read())
    .await
    .map_err(backend)
}

pub(crate) async fn attempts(db: &Db, ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
    let ids: Vec<i64> = ids.iter().filter_map(|i| delivery_id(i)).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = QueryBuilder::<Sqlite>::new(
        "SELECT delivery_id, webhook_id, at, status_code, latency_ms, response, error \
         FROM webhook_attempts WHERE delivery_id IN (",
    );
    let mut list = sql.separated(", ");
    for id in &ids {
        list.push_bind(*id);
    }
    sql.push(") ORDER BY id");
    let rows = sql.build().fetch_all(db.read()).await.map_err(backend)?;
    map_rows(rows, |row| {
        let delivery: i64 = col(row, "delivery_id")?;
        Ok(AttemptRecord {
            delivery_id: delivery.to_string(),
            webhook_id: col(row, "webhook_id")?,
            at: col(row, "at")?,
            status_code: col(row, "status_code")?,
            latency_ms: col(row, "latency_ms")?,
            response: col(row, "response")?,
            error: col(row, "error")?,
        })
    })
}

pub(crate) async fn replay(
    db: &Db,
    webhook_id: &str,
    since: i64,
    now: i64,
    deadline: i64,
) -> StoreResult<u64> {
    let done = sqlx::query(&format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_kind, session_id, sequence, \
         state, attempts, next_at, created_at, deadline) \
         SELECT w.id, e.id, e.kind, e.session_id, e.sequence, 'pending', 0, $3, $3, $4 \
         FROM events e JOIN webhooks w ON w.id = $1 AND {MATCHES} \
         WHERE e.feed = 1 AND e.created_at >= $2 ORDER BY e.pos"
    ))
    .bind(webhook_id)
    .bind(since)
    .bind(now)
    .bind(deadline)
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected())
}

pub(crate) async fn prune(db: &Db, before: i64) -> StoreResult<u64> {
    let mut tx = db
        .write
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(backend)?;
    let deliveries = sqlx::query(idv_store_sql::outbox::PRUNE)
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    let events = sqlx::query(idv_store_sql::outbox::PRUNE_2)
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
    tx.commit().await.map_err(backend)?;
    Ok(deliveries + events)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn event_publish(
        &self,
        event: &NewEvent,
        webhook_id: WebhookId<'_>,
    ) -> StoreResult<String> {
        crate::outbox::publish(&self.db, event, webhook_id.as_str()).await
    }

    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage> {
        crate::outbox::events_after(&self.db, query).await
    }

    async fn events_end(&self) -> StoreResult<Option<String>> {
        crate::outbox::events_end(&self.db).await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        crate::outbox::webhook_create(&self.db, webhook).await
    }

    async fn webhook_get(&self, id: WebhookId<'_>) -> StoreResult<Option<WebhookRecord>> {
        crate::outbox::webhook_get(&self.db, id.as_str()).await
    }

    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>> {
        crate::outbox::webhook_list(&self.db).await
    }

    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool> {
        crate::outbox::webhook_update(&self.db, webhook).await
    }

    async fn webhook_reseal(
        &self,
        id: WebhookId<'_>,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool> {
        crate::outbox::webhook_reseal(&self.db, id.as_str(), old, new).await
    }

    async fn webhook_delete(&self, id: WebhookId<'_>) -> StoreResult<bool> {
        crate::outbox::webhook_delete(&self.db, id.as_str()).await
    }

    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::claim(&self.db, now, lease_ms, limit).await
    }

    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>> {
        crate::outbox::finish(&self.db, claimed, attempt, outcome).await
    }

    async fn delivery_next_due(&self) -> StoreResult<Option<i64>> {
        crate::outbox::next_due(&self.db).await
    }

    async fn delivery_list(
        &self,
        webhook_id: WebhookId<'_>,
        before: Option<DeliveryId<'_>>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::list(
            &self.db,
            webhook_id.as_str(),
            before.map(DeliveryId::as_str),
            limit,
        )
        .await
    }

    async fn delivery_list_for_session(
        &self,
        session_id: SessionId<'_>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::list_for_session(&self.db, session_id.as_str(), limit).await
    }

    async fn delivery_get(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
    ) -> StoreResult<Option<DeliveryRecord>> {
        crate::outbox::get(&self.db, webhook_id.as_str(), id.as_str()).await
    }

    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        crate::outbox::attempts(&self.db, delivery_ids).await
    }

    async fn delivery_retry(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool> {
        crate::outbox::retry(&self.db, webhook_id.as_str(), id.as_str(), now, deadline).await
    }

    async fn delivery_replay(
        &self,
        webhook_id: WebhookId<'_>,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64> {
        crate::outbox::replay(&self.db, webhook_id.as_str(), since, now, deadline).await
    }

    async fn outbox_prune(&self, before: i64) -> StoreResult<u64> {
        crate::outbox::prune(&self.db, before).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::outbox_fns!();
