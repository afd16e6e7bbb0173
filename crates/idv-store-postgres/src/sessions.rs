//! Sessions, written with optimistic concurrency on `revision`.

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{
    backend, col, json_col, json_text, one_of, unique_in_or_backend, unique_or_backend,
};
use crate::outbox::EventArrays;
use async_trait::async_trait;
use idv_store::SessionId;
use idv_store::SessionStore;
use idv_store::{DayCount, NewEvent, SessionRecord, StepCount, StoreResult, WorkflowId};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use std::sync::LazyLock;

/// The columns [`insert_query`] writes, as a literal so statements can be `concat!`ed at
/// compile time.
macro_rules! insert_columns {
    () => {
        "id, workflow_id, workflow_revision, workflow_name, workflow_version, status, locale, \
         metadata, properties, current_step, steps, ended, owner_id, created_at, updated_at, \
         revision, engine, expires_at, history, legal_hold"
    };
}

/// The values of [`insert_columns`], as [`bind_record`] binds them.
macro_rules! insert_values {
    () => {
        "$1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12, $13, $14, $15, \
         $16, $17::jsonb, $18, $19::jsonb, $20"
    };
}

/// A new session and its events in one statement, so in autocommit: the row with its event
/// counter at the number of events, the events numbered from 1 and their deliveries
/// ([`crate::outbox::event_ctes`]). A session id or event id that is taken fails the whole
/// statement, which then wrote nothing.
static CREATE_WITH_EVENTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        concat!(
            "WITH s AS (INSERT INTO sessions (",
            insert_columns!(),
            ", event_seq) VALUES (",
            insert_values!(),
            ", cardinality($21::text[])) RETURNING id, event_seq), {} SELECT 1"
        ),
        crate::outbox::event_ctes(21)
    )
});

pub(crate) async fn create(db: &Db, s: &SessionRecord, events: &[NewEvent]) -> StoreResult<()> {
    if events.is_empty() {
        insert_query(s)
            .execute(db.write())
            .await
            .map_err(unique_or_backend(|| format!("session {}", s.id)))?;
        return Ok(());
    }
    let arrays = EventArrays::of(&s.id, events)?;
    arrays
        .bind(bind_record(sqlx::query(&CREATE_WITH_EVENTS), s))
        .execute(db.write())
        .await
        .map_err(unique_in_or_backend(|table| match table {
            Some("events") => one_of("event", &arrays.ids),
            _ => format!("session {}", s.id),
        }))?;
    Ok(())
}

/// The insert of [`create`], bound and ready to run on its own or in a transaction (see
/// `exchange::session_import`).
pub(crate) fn insert_query(s: &SessionRecord) -> Query<'_, Postgres, PgArguments> {
    bind_record(
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            insert_columns!(),
            ") VALUES (",
            insert_values!(),
            ")"
        )),
        s,
    )
}

/// Binds every field of `s` as `$1`…`$20`, in the order of [`insert_columns`] (the id first,
/// the revision as `$16`).
pub(crate) fn bind_record<'q>(
    q: Query<'q, Postgres, PgArguments>,
    s: &'q SessionRecord,
) -> Query<'q, Postgres, PgArguments> {
    q.bind(&s.id)
        .bind(&s.workflow_id)
        .bind(s.workflow_revision)
        .bind(&s.workflow_name)
        .bind(&s.workflow_version)
        .bind(s.status)
        .bind(&s.locale)
        .bind(json_text(&s.metadata))
        .bind(json_text(&s.properties))
        .bind(&s.current_step)
        .bind(json_text(&s.steps))
        .bind(s.ended)
        .bind(&s.owner_id)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.revision)
        .bind(json_text(&s.engine))
        .bind(s.expires_at)
        .bind(json_text(&s.history))
        .bind(s.legal_hold)
}

pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<SessionRecord>> {
    sqlx::query(
        "SELECT id, workflow_id, workflow_revision, workflow_name, workflow_version, status, \
         locale, metadata::text AS metadata, properties::text AS properties, current_step, \
         steps::text AS steps, ended, owner_id, created_at, updated_at, revision, \
         engine::text AS engine, expires_at, history::text AS history, legal_hold FROM sessions \
         WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The `SET` list of [`update`] and of `engine::advance`'s statement: every field of
/// [`bind_record`] but the id.
macro_rules! update_set {
    () => {
        "workflow_id = $2, workflow_revision = $3, workflow_name = $4, workflow_version = $5, \
         status = $6, locale = $7, metadata = $8::jsonb, properties = $9::jsonb, \
         current_step = $10, steps = $11::jsonb, ended = $12, owner_id = $13, created_at = $14, \
         updated_at = $15, revision = $16, engine = $17::jsonb, expires_at = $18, \
         history = $19::jsonb, legal_hold = $20"
    };
}
pub(crate) use update_set;

/// Every field but the id, in one statement guarded by the previous revision: of two writers
/// that read the same revision, the second matches no row.
pub(crate) async fn update(db: &Db, s: &SessionRecord) -> StoreResult<bool> {
    let done = bind_record(
        sqlx::query(concat!(
            "UPDATE sessions SET ",
            update_set!(),
            " WHERE id = $1 AND revision = $16 - 1"
        )),
        s,
    )
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

#[async_trait]
impl SessionStore for PgStore {
    async fn session_create(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        crate::sessions::create(&self.hot, session, events).await
    }

    async fn session_get(&self, id: SessionId<'_>) -> StoreResult<Option<SessionRecord>> {
        crate::sessions::get(&self.pool, id.as_str()).await
    }

    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        crate::engine::advance(&self.hot, session, &[], &[], None, events).await
    }

    async fn session_day_counts(
        &self,
        from_day: i64,
        to_day: i64,
        workflow: Option<WorkflowId<'_>>,
    ) -> StoreResult<Vec<DayCount>> {
        crate::sessions::day_counts(&self.pool, from_day, to_day, workflow.map(|w| w.as_str()))
            .await
    }

    async fn session_step_counts(&self, workflow: WorkflowId<'_>) -> StoreResult<Vec<StepCount>> {
        crate::sessions::step_counts(&self.pool, workflow.as_str()).await
    }

    async fn session_counted_workflows(&self) -> StoreResult<Vec<String>> {
        crate::sessions::counted_workflows(&self.pool).await
    }

    async fn session_counts_compact(&self) -> StoreResult<u64> {
        // The function of migration 0014: one transaction, one statement per table.
        let n: i64 = sqlx::query_scalar("SELECT session_counts_compact()")
            .fetch_one(self.pool.write())
            .await
            .map_err(backend)?;
        if n > 0 {
            // The rows it replaced are dead row versions until a vacuum: without one (a server
            // with autovacuum off) the tables would keep growing by every change ever counted.
            // Both stay a few pages, so this takes milliseconds; a table being vacuumed already
            // is skipped.
            sqlx::query("VACUUM (SKIP_LOCKED) session_day_counts, session_step_counts")
                .execute(self.pool.write())
                .await
                .map_err(backend)?;
        }
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::sessions_fns!();
