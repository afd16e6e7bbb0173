//! Sessions, written with optimistic concurrency on `revision`.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, json_col, json_text};
use crate::writer::{self, exec};
use async_trait::async_trait;
use idv_store::SessionId;
use idv_store::SessionStore;
use idv_store::{DayCount, NewEvent, SessionRecord, StepCount, StoreResult, WorkflowId};
use rusqlite::{Connection, ToSql};
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

/// A session row as its statements bind it: the JSON documents already encoded, and owned, so
/// the writer thread can take it.
pub(crate) struct SessionRow {
    id: String,
    workflow_id: String,
    workflow_revision: i64,
    workflow_name: String,
    workflow_version: Option<String>,
    status: i64,
    locale: String,
    metadata: String,
    properties: String,
    current_step: Option<String>,
    steps: String,
    ended: bool,
    owner_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    revision: i64,
    engine: String,
    expires_at: Option<i64>,
    history: String,
    legal_hold: bool,
}

impl SessionRow {
    pub(crate) fn of(s: &SessionRecord) -> SessionRow {
        SessionRow {
            id: s.id.clone(),
            workflow_id: s.workflow_id.clone(),
            workflow_revision: s.workflow_revision,
            workflow_name: s.workflow_name.clone(),
            workflow_version: s.workflow_version.clone(),
            status: s.status,
            locale: s.locale.clone(),
            metadata: json_text(&s.metadata),
            properties: json_text(&s.properties),
            current_step: s.current_step.clone(),
            steps: json_text(&s.steps),
            ended: s.ended,
            owner_id: s.owner_id.clone(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            revision: s.revision,
            engine: json_text(&s.engine),
            expires_at: s.expires_at,
            history: json_text(&s.history),
            legal_hold: s.legal_hold,
        }
    }

    /// `$1…$20` of [`INSERT`] and [`UPDATE`].
    fn params(&self) -> [&dyn ToSql; 20] {
        [
            &self.id,
            &self.workflow_id,
            &self.workflow_revision,
            &self.workflow_name,
            &self.workflow_version,
            &self.status,
            &self.locale,
            &self.metadata,
            &self.properties,
            &self.current_step,
            &self.steps,
            &self.ended,
            &self.owner_id,
            &self.created_at,
            &self.updated_at,
            &self.revision,
            &self.engine,
            &self.expires_at,
            &self.history,
            &self.legal_hold,
        ]
    }

    /// Inserts the row (on the writer's connection).
    pub(crate) fn insert(&self, conn: &Connection) -> StoreResult<()> {
        exec(conn, INSERT, &self.params())
            .map_err(|e| writer::error(e, || format!("session {}", self.id)))?;
        Ok(())
    }

    /// The guarded update: false when the stored revision is not the one before this row's.
    pub(crate) fn update(&self, conn: &Connection) -> StoreResult<bool> {
        Ok(exec(conn, UPDATE, &self.params()).map_err(writer::backend)? > 0)
    }
}

const INSERT: &str = "INSERT INTO sessions (id, workflow_id, workflow_revision, workflow_name, \
     workflow_version, status, locale, metadata, properties, current_step, steps, ended, \
     owner_id, created_at, updated_at, revision, engine, expires_at, history, legal_hold) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20)";

const UPDATE: &str = "UPDATE sessions SET workflow_id = $2, workflow_revision = $3, \
     workflow_name = $4, workflow_version = $5, status = $6, locale = $7, metadata = $8, \
     properties = $9, current_step = $10, steps = $11, ended = $12, owner_id = $13, \
     created_at = $14, updated_at = $15, revision = $16, engine = $17, expires_at = $18, \
     history = $19, legal_hold = $20 WHERE id = $1 AND revision = $16 - 1";

/// Inserts the session and its events in one unit of the writer.
pub(crate) async fn create(db: &Db, s: &SessionRecord, events: &[NewEvent]) -> StoreResult<()> {
    let row = SessionRow::of(s);
    let events = crate::outbox::EventRows::of(events)?;
    db.writer
        .run(move |conn| {
            row.insert(conn)?;
            events.write(conn)
        })
        .await
}

/// The insert of [`create`] for a transaction of the sqlx writer (see
/// `exchange::session_import`).
pub(crate) fn insert_query(s: &SessionRecord) -> Query<'_, Sqlite, SqliteArguments<'_>> {
    sqlx::query(INSERT)
        .bind(&s.id)
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

#[async_trait]
impl SessionStore for SqliteStore {
    async fn session_create(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        crate::sessions::create(&self.db, session, events).await
    }

    async fn session_get(&self, id: SessionId<'_>) -> StoreResult<Option<SessionRecord>> {
        self.db.inline.session(id.as_str())
    }

    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        crate::engine::advance(&self.db, session, &[], &[], None, events).await
    }

    async fn session_day_counts(
        &self,
        from_day: i64,
        to_day: i64,
        workflow: Option<WorkflowId<'_>>,
    ) -> StoreResult<Vec<DayCount>> {
        crate::sessions::day_counts(&self.db, from_day, to_day, workflow.map(|w| w.as_str())).await
    }

    async fn session_step_counts(&self, workflow: WorkflowId<'_>) -> StoreResult<Vec<StepCount>> {
        crate::sessions::step_counts(&self.db, workflow.as_str()).await
    }

    async fn session_counted_workflows(&self) -> StoreResult<Vec<String>> {
        crate::sessions::counted_workflows(&self.db).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::sessions_fns!();
