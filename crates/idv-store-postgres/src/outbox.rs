//! The outbox: events stored in the transaction of the change that caused them and fanned out
//! to matching endpoints there, webhook endpoints, delivery claims and the attempt log.
//!
//! The feed's cursor is `(tx, pos)`: the writing transaction's id and the row's serial. A page
//! takes only rows whose transaction id is below the oldest transaction still running
//! (`pg_snapshot_xmin`); a transaction that commits later always has an id at or above that,
//! so a reader following the cursor never passes an event that is not yet visible. A claim is
//! one `UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED)`: concurrent claimers, in any
//! processes, skip the rows another one holds.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{array, backend, col, json_col, json_text, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::EventStore;
use idv_store::OutboxStore;
use idv_store::{
    AttemptOutcome, AttemptRecord, DELIVERY_WINDOW_MS, DeliveryRecord, DeliveryState, EventPage,
    EventQuery, EventRecord, NewEvent, StoreError, StoreResult, WebhookRecord, WebhookSecrets,
    unwrap_list, wrap_list,
};
use idv_store::{DeliveryId, SessionId, WebhookId};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};

/// An endpoint selects an event when its type list holds the type (or `*`) and its workflow
/// list is empty or holds the event's workflow. `w` is the endpoint, `e` the event.
const MATCHES: &str = "(w.events = ',*,' OR strpos(w.events, ',' || e.kind || ',') > 0) \
     AND (w.workflow_ids = '' OR strpos(w.workflow_ids, ',' || e.workflow_id || ',') > 0)";

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
     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled \
     WHERE d.state = 'pending' AND d.next_at <= $1 \
     AND (d.locked_until IS NULL OR d.locked_until < $1) \
     ORDER BY d.next_at, d.id LIMIT $2) c";

/// Makes the queue's reads in this transaction walk the due index in order and stop, whatever
/// the table's statistics say. Without it, PostgreSQL planned them from statistics taken while
/// the outbox was (nearly) empty, as a bitmap scan and a sort of every pending delivery, and
/// kept such plans cached: milliseconds per claim at 15,000 pending deliveries, seconds with a
/// cached plan, until an ANALYZE (never, with autovacuum off).
async fn queue_plans(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> StoreResult<()> {
    sqlx::query(
        "SELECT set_config('enable_seqscan', 'off', true), \
         set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)",
    )
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_kind, session_id, sequence, \
     state, attempts, next_at, locked_until, created_at, deadline, last_status, last_error";

const WEBHOOK_COLUMNS: &str = "id, url, events, enabled, description, headers, workflow_ids, \
     secret, previous_secret, previous_secret_until, ed25519, owner_id, created_at, updated_at, \
     failing_since, disabled_reason, disabled_at";

/// [`WEBHOOK_COLUMNS`] as read back: the headers document as text, so its key order stays.
const WEBHOOK_SELECT: &str = "id, url, events, enabled, description, headers::text AS headers, \
     workflow_ids, secret, previous_secret, previous_secret_until, ed25519, owner_id, created_at, \
     updated_at, failing_since, disabled_reason, disabled_at";

/// The events of one session change as the arrays that [`event_ctes`] unnests, in the order
/// given: the order of their sequence numbers.
pub(crate) struct EventArrays<'a> {
    pub(crate) ids: Vec<&'a str>,
    kinds: Vec<&'a str>,
    workflow_ids: Vec<Option<&'a str>>,
    owner_ids: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    heads: Vec<String>,
    tails: Vec<String>,
}

impl<'a> EventArrays<'a> {
    /// `events`, which must all be of `session_id` (the row the statement writes).
    pub(crate) fn of(session_id: &str, events: &'a [NewEvent]) -> StoreResult<Self> {
        if events
            .iter()
            .any(|e| e.session_id.as_deref() != Some(session_id))
        {
            return Err(StoreError::backend(
                "events written with a session change must be of that session",
            ));
        }
        let (heads, tails) = events.iter().map(NewEvent::body_parts).unzip();
        Ok(EventArrays {
            ids: array(events, |e| e.id.as_str()),
            kinds: array(events, |e| e.kind.as_str()),
            workflow_ids: array(events, |e| e.workflow_id.as_deref()),
            owner_ids: array(events, |e| e.owner_id.as_deref()),
            created_at: array(events, |e| e.created_at),
            heads,
            tails,
        })
    }

    /// Binds the seven arrays, as the next parameters of `q` (`$first`… of [`event_ctes`]).
    pub(crate) fn bind<'q>(
        &'q self,
        q: Query<'q, Postgres, PgArguments>,
    ) -> Query<'q, Postgres, PgArguments> {
        q.bind(&self.ids)
            .bind(&self.kinds)
            .bind(&self.workflow_ids)
            .bind(&self.owner_ids)
            .bind(&self.created_at)
            .bind(&self.heads)
            .bind(&self.tails)
    }
}

/// The event writing of a one-statement session change: the CTEs `e`, which stores the events
/// of [`EventArrays`] bound at `$first`…`$first+6`, and `d`, which queues a delivery of each to
/// every enabled endpoint that selects it. They follow a CTE `s` that wrote the session row
/// and returns its `id` and its `event_seq` after adding the number of events (none when the
/// write matched no row, and then nothing is written here either); the events take the numbers
/// up to that, in order, and their bodies are assembled around them ([`NewEvent::body_parts`]).
/// The statement is one transaction, so the events share its id in the feed's cursor.
pub(crate) fn event_ctes(first: usize) -> String {
    let [ids, kinds, workflows, owners, created, heads, tails] =
        std::array::from_fn::<_, 7, _>(|i| first + i);
    format!(
        "e AS (INSERT INTO events (id, kind, session_id, workflow_id, owner_id, sequence, \
         created_at, body, feed) \
         SELECT v.id, v.kind, s.id, v.workflow_id, v.owner_id, v.seq, v.created_at, \
         v.head || v.seq || v.tail, true \
         FROM s, LATERAL (SELECT u.id, u.kind, u.workflow_id, u.owner_id, u.created_at, u.head, \
         u.tail, s.event_seq - cardinality(${ids}::text[]) + u.ord AS seq \
         FROM unnest(${ids}::text[], ${kinds}::text[], ${workflows}::text[], ${owners}::text[], \
         ${created}::bigint[], ${heads}::text[], ${tails}::text[]) \
         WITH ORDINALITY AS u (id, kind, workflow_id, owner_id, created_at, head, tail, ord)) v \
         ORDER BY v.seq \
         RETURNING id, kind, session_id, workflow_id, sequence, created_at), \
         d AS (INSERT INTO webhook_deliveries (webhook_id, event_id, event_kind, session_id, \
         sequence, state, attempts, next_at, created_at, deadline) \
         SELECT w.id, e.id, e.kind, e.session_id, e.sequence, 'pending', 0, e.created_at, \
         e.created_at, e.created_at + {DELIVERY_WINDOW_MS} \
         FROM e JOIN webhooks w ON w.enabled AND {MATCHES} \
         ORDER BY e.sequence, w.id)"
    )
}

/// Stores `events` (all of one session, or none) with the session's next sequence numbers and
/// queues a delivery for every enabled endpoint that selects each. Runs inside the caller's
/// transaction, before the session row is deleted; session starts and changes write theirs in
/// their own statement instead ([`event_ctes`]).
pub(crate) async fn write_events(conn: &mut PgConnection, events: &[NewEvent]) -> StoreResult<()> {
    let Some(first) = events.first() else {
        return Ok(());
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
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_kind, session_id, sequence, \
         state, attempts, next_at, created_at, deadline) \
         SELECT w.id, e.id, e.kind, e.session_id, e.sequence, 'pending', 0, e.created_at, \
         e.created_at, e.created_at + {DELIVERY_WINDOW_MS} \
         FROM events e JOIN webhooks w ON w.enabled AND {MATCHES} \
         WHERE e.session_id = $1 AND e.sequence BETWEEN $2 AND $3"
    ))
    .bind(session_id)
    .bind(start)
    .bind(last)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn insert_event(
    conn: &mut PgConnection,
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
    let mut tx = db.begin().await.map_err(backend)?;
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
    let tx: String = col(row, "tx")?;
    Ok(EventRecord {
        cursor: format!("{tx}.{pos}"),
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

/// The feed's cursor is `<tx>.<pos>`; anything else is a caller's mistake the server checks
/// first, so here it only has to be refused.
fn parse_cursor(cursor: Option<&str>) -> StoreResult<(String, i64)> {
    let Some(c) = cursor else {
        return Ok(("0".into(), 0));
    };
    let bad = || StoreError::backend(format!("not an event cursor of this store: {c}"));
    let (tx, pos) = c.split_once('.').ok_or_else(bad)?;
    let tx: u64 = tx.parse().map_err(|_| bad())?;
    Ok((tx.to_string(), pos.parse().map_err(|_| bad())?))
}

pub(crate) async fn events_after(db: &Db, q: &EventQuery) -> StoreResult<EventPage> {
    let (tx, pos) = parse_cursor(q.after.as_deref())?;
    let rows = sqlx::query(
        "SELECT pos, tx::text AS tx, id, kind, session_id, workflow_id, owner_id, sequence, \
         created_at, body FROM events \
         WHERE feed AND (tx, pos) > ($1::text::xid8, $2) \
         AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
         AND ($3::text IS NULL OR owner_id = $3) \
         AND (cardinality($4::text[]) = 0 OR kind = ANY($4)) \
         ORDER BY tx, pos LIMIT $5",
    )
    .bind(tx)
    .bind(pos)
    .bind(&q.owner_id)
    .bind(&q.kinds)
    .bind(q.limit)
    .fetch_all(db)
    .await
    .map_err(backend)?;
    let events = map_rows(rows, event_from_row)?;
    let next = events
        .last()
        .map(|e| e.cursor.clone())
        .or_else(|| q.after.clone());
    Ok(EventPage { events, next })
}

pub(crate) async fn events_end(db: &Db) -> StoreResult<Option<String>> {
    // The same visibility as `events_after`: an event of a transaction still running is
    // after this cursor, whenever it commits.
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT tx::text, pos FROM events \
         WHERE feed AND tx < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY tx DESC, pos DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await
    .map_err(backend)?;
    Ok(row.map(|(tx, pos)| format!("{tx}.{pos}")))
}

pub(crate) async fn webhook_create(db: &Db, w: &WebhookRecord) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, \
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
        "SELECT {WEBHOOK_SELECT} FROM webhooks WHERE id = $1"
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
        "SELECT {WEBHOOK_SELECT} FROM webhooks ORDER BY created_at, id"
    ))
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, webhook_from_row)
}

pub(crate) async fn webhook_update(db: &Db, w: &WebhookRecord) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE webhooks SET url = $2, events = $3, enabled = $4, description = $5, \
         headers = $6::jsonb, workflow_ids = $7, secret = $8, previous_secret = $9, \
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
        "UPDATE webhooks SET secret = $2, previous_secret = $3, headers = $4::jsonb \
         WHERE id = $1 AND secret = $7 AND previous_secret IS NOT DISTINCT FROM $5 AND headers = $6::jsonb",
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

pub(crate) async fn claim(
    db: &Db,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> StoreResult<Vec<DeliveryRecord>> {
    // Three plain statements rather than one: each has an obvious plan (an ordered walk of the
    // due index, then primary-key lookups).
    let mut tx = db.begin().await.map_err(backend)?;
    queue_plans(&mut tx).await?;
    let candidates: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT c.id FROM {CANDIDATES} WHERE {CHAIN_HEAD} ORDER BY c.next_at, c.id"
    ))
    .persistent(false)
    .bind(now)
    .bind(window(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    if candidates.is_empty() {
        return Ok(vec![]);
    }
    // The lease is checked again on the rows as locked: a claimer that committed meanwhile
    // has set it, and SKIP LOCKED passes over rows another claimer holds.
    let locked: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM webhook_deliveries WHERE id = ANY($1) AND state = 'pending' \
         AND next_at <= $2 AND (locked_until IS NULL OR locked_until < $2) \
         ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(&candidates)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    if locked.is_empty() {
        return Ok(vec![]);
    }
    let rows = sqlx::query(&format!(
        "UPDATE webhook_deliveries SET locked_until = $1 + $2, attempts = attempts + 1 \
         WHERE id = ANY($3) RETURNING {DELIVERY_COLUMNS}"
    ))
    .bind(now)
    .bind(lease_ms)
    .bind(&locked)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let mut claimed = map_rows(rows, delivery_from_row)?;
    if claimed.is_empty() {
        return Ok(claimed);
    }
    let ids: Vec<String> = claimed.iter().map(|d| d.event_id.clone()).collect();
    let bodies = sqlx::query("SELECT id, body FROM events WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    let bodies = map_rows(bodies, |r| {
        Ok((col::<String>(r, "id")?, col::<String>(r, "body")?))
    })?;
    let bodies: std::collections::HashMap<String, String> = bodies.into_iter().collect();
    for d in &mut claimed {
        d.body = bodies.get(&d.event_id).cloned().unwrap_or_default();
    }
    claimed.sort_by_key(|d| (d.next_at, delivery_id(&d.id)));
    Ok(claimed)
}

/// An attempt's end in one statement, so in autocommit: the attempt's record (`a`); the
/// delivery's new state, only while the claim's lease is still its (`h`, `$2`); when it stays
/// pending, the rest of its chain put off as far (`p`), so blocked deliveries stay behind it
/// in the due order (see [`CANDIDATES`]); and the endpoint's health (`w`): a success clears
/// `failing_since`, a failure sets it if unset, and a disable (`$13`, when failing since
/// `$14` or before, with the health just written) takes an enabled endpoint out of service.
///
/// The health and the disable are one update, since a statement may change a row only once.
/// `o` locks the endpoint's row first, as it is now, so `w` can tell whether this statement
/// disabled it; an attempt that changes none of the endpoint's columns (a success on a
/// healthy endpoint, a failure on one already failing, with no disable) neither locks nor
/// writes its row.
const FINISH: &str = "WITH a AS (INSERT INTO webhook_attempts (delivery_id, webhook_id, at, \
     status_code, latency_ms, response, error) VALUES ($1, $15, $11, $5, $7, $8, $6)), \
     h AS (UPDATE webhook_deliveries SET state = $3, next_at = $4, locked_until = NULL, \
     last_status = $5, last_error = $6 WHERE id = $1 AND locked_until = $2 RETURNING id), \
     p AS (UPDATE webhook_deliveries SET next_at = GREATEST(next_at, $4) \
     WHERE webhook_id = $10 AND session_id = $9 AND state = 'pending' AND id <> $1 \
     AND $3 = 'pending' AND EXISTS (SELECT 1 FROM h)), \
     o AS (SELECT id, enabled, \
     CASE WHEN $12 THEN NULL ELSE coalesce(failing_since, $11) END AS failing_since \
     FROM webhooks WHERE id = $10 \
     AND (CASE WHEN $12 THEN failing_since IS NOT NULL ELSE failing_since IS NULL END \
     OR ($13::text IS NOT NULL AND enabled)) \
     FOR UPDATE), \
     n AS (SELECT id, failing_since, enabled AND $13::text IS NOT NULL \
     AND ($14::bigint IS NULL OR failing_since <= $14) AS disable FROM o), \
     w AS (UPDATE webhooks SET failing_since = n.failing_since, \
     enabled = webhooks.enabled AND NOT n.disable, \
     disabled_reason = CASE WHEN n.disable THEN $13 ELSE webhooks.disabled_reason END, \
     disabled_at = CASE WHEN n.disable THEN $11 ELSE webhooks.disabled_at END, \
     updated_at = CASE WHEN n.disable THEN $11 ELSE webhooks.updated_at END \
     FROM n WHERE webhooks.id = n.id RETURNING n.disable) \
     SELECT EXISTS (SELECT 1 FROM h), coalesce((SELECT disable FROM w), false)";

pub(crate) async fn finish(
    db: &Db,
    claimed: &DeliveryRecord,
    attempt: &AttemptRecord,
    outcome: &AttemptOutcome,
) -> StoreResult<Option<bool>> {
    let id = delivery_id(&claimed.id)
        .ok_or_else(|| StoreError::backend(format!("not a delivery id: {}", claimed.id)))?;
    let (held, disabled): (bool, bool) = sqlx::query_as(FINISH)
        .bind(id)
        .bind(claimed.locked_until)
        .bind(outcome.state.as_str())
        .bind(outcome.next_at)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(attempt.latency_ms)
        .bind(&attempt.response)
        .bind(&claimed.session_id)
        .bind(&claimed.webhook_id)
        .bind(attempt.at)
        .bind(outcome.success)
        .bind(&outcome.disable)
        .bind(outcome.disable_if_failing_since_before)
        .bind(&attempt.webhook_id)
        .fetch_one(db.write())
        .await
        .map_err(backend)?;
    Ok(held.then_some(disabled))
}

pub(crate) async fn next_due(db: &Db) -> StoreResult<Option<i64>> {
    // As a claim's candidates, leased ones included and whenever due.
    let mut tx = db.begin().await.map_err(backend)?;
    queue_plans(&mut tx).await?;
    let due = sqlx::query_scalar(&format!(
        "SELECT min(CASE WHEN c.locked_until IS NOT NULL AND c.locked_until >= c.next_at \
                    THEN c.locked_until + 1 ELSE c.next_at END) \
         FROM (SELECT d.id, d.webhook_id, d.session_id, d.sequence, d.next_at, d.locked_until \
               FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.enabled \
               WHERE d.state = 'pending' ORDER BY d.next_at, d.id LIMIT $1) c \
         WHERE {CHAIN_HEAD}"
    ))
    .persistent(false)
    .bind(window(16))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(due)
}

pub(crate) async fn attempts(db: &Db, ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
    let ids: Vec<i64> = ids.iter().filter_map(|i| delivery_id(i)).collect();
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let rows = sqlx::query(
        "SELECT delivery_id, webhook_id, at, status_code, latency_ms, response, error \
         FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY id",
    )
    .bind(&ids)
    .fetch_all(db)
    .await
    .map_err(backend)?;
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
         WHERE e.feed AND e.created_at >= $2 ORDER BY e.pos"
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
    let mut tx = db.begin().await.map_err(backend)?;
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
impl EventStore for PgStore {
    async fn event_publish(
        &self,
        event: &NewEvent,
        webhook_id: WebhookId<'_>,
    ) -> StoreResult<String> {
        crate::outbox::publish(&self.pool, event, webhook_id.as_str()).await
    }

    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage> {
        crate::outbox::events_after(&self.pool, query).await
    }

    async fn events_end(&self) -> StoreResult<Option<String>> {
        crate::outbox::events_end(&self.pool).await
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        crate::outbox::webhook_create(&self.pool, webhook).await
    }

    async fn webhook_get(&self, id: WebhookId<'_>) -> StoreResult<Option<WebhookRecord>> {
        crate::outbox::webhook_get(&self.pool, id.as_str()).await
    }

    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>> {
        crate::outbox::webhook_list(&self.pool).await
    }

    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool> {
        crate::outbox::webhook_update(&self.pool, webhook).await
    }

    async fn webhook_reseal(
        &self,
        id: WebhookId<'_>,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool> {
        crate::outbox::webhook_reseal(&self.pool, id.as_str(), old, new).await
    }

    async fn webhook_delete(&self, id: WebhookId<'_>) -> StoreResult<bool> {
        crate::outbox::webhook_delete(&self.pool, id.as_str()).await
    }

    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::claim(&self.pool, now, lease_ms, limit).await
    }

    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>> {
        crate::outbox::finish(&self.pool, claimed, attempt, outcome).await
    }

    async fn delivery_next_due(&self) -> StoreResult<Option<i64>> {
        crate::outbox::next_due(&self.pool).await
    }

    async fn delivery_list(
        &self,
        webhook_id: WebhookId<'_>,
        before: Option<DeliveryId<'_>>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::list(
            &self.pool,
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
        crate::outbox::list_for_session(&self.pool, session_id.as_str(), limit).await
    }

    async fn delivery_get(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
    ) -> StoreResult<Option<DeliveryRecord>> {
        crate::outbox::get(&self.pool, webhook_id.as_str(), id.as_str()).await
    }

    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        crate::outbox::attempts(&self.pool, delivery_ids).await
    }

    async fn delivery_retry(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool> {
        crate::outbox::retry(&self.pool, webhook_id.as_str(), id.as_str(), now, deadline).await
    }

    async fn delivery_replay(
        &self,
        webhook_id: WebhookId<'_>,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64> {
        crate::outbox::replay(&self.pool, webhook_id.as_str(), since, now, deadline).await
    }

    async fn outbox_prune(&self, before: i64) -> StoreResult<u64> {
        crate::outbox::prune(&self.pool, before).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::outbox_fns!();
