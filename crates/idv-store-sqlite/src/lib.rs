//! SQLite adapter for [`idv_store::Store`]: the embedded default, one database file and nothing
//! else to install.
//!
//! Connections: SQLite admits one writer at a time, so this process funnels every write through
//! a single connection (writes queue in the pool instead of spinning on `SQLITE_BUSY`), while a
//! few read-only connections serve reads beside it; WAL journaling lets readers and the writer
//! run at once. Another process on the same file is waited for up to the busy timeout, and
//! transactions that read before they write begin `IMMEDIATE` so that wait happens up front
//! rather than failing at the first write.
//!
//! Encoding: times are INTEGER milliseconds, JSON documents and string lists are TEXT holding
//! JSON, booleans are 0/1.

mod api_keys;
mod assets;
mod audit;
mod convert;
mod deletion;
mod devices;
mod engine;
mod exchange;
mod files;
mod idempotency;
mod inline;
mod outbox;
mod roles;
mod search;
mod sessions;
mod settings;
mod tokens;
mod translations;
mod users;
mod views;
mod workflows;

use async_trait::async_trait;
use idv_store::{
    ApiKey, AttemptOutcome, AttemptRecord, AuthToken, Deleter, DeliveryRecord, EventPage,
    EventQuery, FileRecord, JobRecord, NewEvent, NewWorkflow, Role, SessionDeletion, SessionRecord,
    Store, StoreError, StoreResult, TombstoneRecord, Translation, User, WebhookRecord,
    WebhookSecrets, WorkflowRecord,
};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// Read connections per process. Two cores is the target machine; reads are short, and more
/// connections than cores only add memory.
const READ_CONNECTIONS: u32 = 4;
/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: Migrator = sqlx::migrate!();

/// The two pools every query module works with.
#[derive(Clone)]
pub(crate) struct Db {
    /// At most one connection: every write of this process goes through it.
    pub(crate) write: SqlitePool,
    /// `query_only` connections for plain reads.
    pub(crate) read: SqlitePool,
    /// Inline connections for the hot point reads; `None` for in-memory databases, which only
    /// their one pooled connection can see.
    pub(crate) inline: Option<std::sync::Arc<inline::InlineReaders>>,
}

/// The SQLite store. Cheap to share behind an `Arc<dyn Store>`.
pub struct SqliteStore {
    db: Db,
}

impl SqliteStore {
    /// Opens (creating the parent folder and the file if missing) the database at `url`, e.g.
    /// `sqlite://./idv-data/idv.db` or `sqlite:///abs/path.db`, and applies pending migrations.
    /// `sqlite::memory:` gives a private in-memory database, for tests.
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::backend_from(format!("invalid SQLite URL: {e}"), e))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);

        if is_in_memory(url) {
            // An in-memory database lives as long as its connections: keep exactly one, forever,
            // and use it for reads and writes alike.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(|e| open_error(url, e))?;
            migrate(&pool).await?;
            return Ok(SqliteStore {
                db: Db {
                    write: pool.clone(),
                    read: pool,
                    inline: None,
                },
            });
        }

        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::backend_from(
                    format!(
                        "cannot create the database folder {}: {e}",
                        parent.display()
                    ),
                    e,
                )
            })?;
        }

        // Connections to a local file do not go stale: pinging one before each use would only
        // add a round trip to its worker thread.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| open_error(url, e))?;
        migrate(&write).await?;
        let inline = Some(std::sync::Arc::new(inline::InlineReaders::new(
            options.get_filename().to_path_buf(),
        )));
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options.pragma("query_only", "ON"))
            .await
            .map_err(|e| open_error(url, e))?;
        Ok(SqliteStore {
            db: Db {
                write,
                read,
                inline,
            },
        })
    }

    /// The `EXPLAIN QUERY PLAN` lines of the statement [`Store::session_search`] runs for the
    /// page of `query`, so tests and operators can see which index it uses.
    pub async fn session_search_plan(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<Vec<String>> {
        search::plan(&self.db, query).await
    }

    /// Closes every connection, waiting for queries in flight. Call before the process exits so
    /// the WAL is checkpointed.
    pub async fn close(&self) {
        self.db.read.close().await;
        self.db.write.close().await;
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn open_error(url: &str, e: sqlx::Error) -> StoreError {
    StoreError::backend_from(format!("cannot open the SQLite database {url}: {e}"), e)
}

async fn migrate(pool: &SqlitePool) -> StoreResult<()> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| StoreError::backend_from(format!("SQLite migrations failed: {e}"), e))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.read)
            .await
            .map(drop)
            .map_err(convert::backend)
    }

    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        settings::get_or_insert(&self.db, key, value).await
    }

    async fn scrub_secrets(&self) -> StoreResult<()> {
        // VACUUM rebuilds the whole file from live rows; the checkpoint then empties the WAL,
        // whose older frames may still hold the overwritten pages.
        for statement in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            sqlx::query(statement)
                .execute(&self.db.write)
                .await
                .map_err(convert::backend)?;
        }
        Ok(())
    }

    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool> {
        settings::replace(&self.db, key, old, new).await
    }

    async fn user_create(&self, user: &User) -> StoreResult<()> {
        users::create(&self.db, user).await
    }

    async fn user_get(&self, id: &str) -> StoreResult<Option<User>> {
        users::get(&self.db, id).await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        users::by_name(&self.db, name).await
    }

    async fn user_list(&self) -> StoreResult<Vec<User>> {
        users::list(&self.db).await
    }

    async fn user_update(&self, user: &User) -> StoreResult<bool> {
        users::update(&self.db, user).await
    }

    async fn user_delete(&self, id: &str) -> StoreResult<bool> {
        users::delete(&self.db, id).await
    }

    async fn user_count(&self) -> StoreResult<i64> {
        users::count(&self.db).await
    }

    async fn role_create(&self, role: &Role) -> StoreResult<()> {
        roles::create(&self.db, role).await
    }

    async fn role_list(&self) -> StoreResult<Vec<Role>> {
        roles::list(&self.db).await
    }

    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()> {
        api_keys::create(&self.db, key).await
    }

    async fn apikey_get(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        api_keys::get(&self.db, id).await
    }

    async fn apikey_list(&self, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        api_keys::list(&self.db, owner_id).await
    }

    async fn apikey_revoke(&self, id: &str, at_ms: i64) -> StoreResult<bool> {
        api_keys::revoke(&self.db, id, at_ms).await
    }

    async fn apikey_touch(&self, id: &str, at_ms: i64) -> StoreResult<()> {
        api_keys::touch(&self.db, id, at_ms).await
    }

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()> {
        tokens::create(&self.db, token).await
    }

    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>> {
        tokens::get(&self.db, hash).await
    }

    async fn token_delete_family(&self, family: &str) -> StoreResult<()> {
        tokens::delete_family(&self.db, family).await
    }

    async fn token_delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
        tokens::delete_expired(&self.db, now_ms).await
    }

    async fn workflow_put(&self, def: &NewWorkflow) -> StoreResult<i64> {
        workflows::put(&self.db, def).await
    }

    async fn workflow_get(&self, id: &str) -> StoreResult<Option<WorkflowRecord>> {
        workflows::get(&self.db, id).await
    }

    async fn workflow_get_revision(
        &self,
        id: &str,
        revision: i64,
    ) -> StoreResult<Option<WorkflowRecord>> {
        workflows::get_revision(&self.db, id, revision).await
    }

    async fn workflow_list(&self) -> StoreResult<Vec<WorkflowRecord>> {
        workflows::list(&self.db).await
    }

    async fn workflow_delete(&self, id: &str) -> StoreResult<bool> {
        workflows::delete(&self.db, id).await
    }

    async fn translations_put(&self, entries: &[Translation]) -> StoreResult<()> {
        translations::put(&self.db, entries).await
    }

    async fn translations_for(&self, codes: &[String]) -> StoreResult<Vec<Translation>> {
        translations::for_codes(&self.db, codes).await
    }

    async fn translation_codes(&self) -> StoreResult<Vec<String>> {
        translations::codes(&self.db).await
    }

    async fn asset_put(
        &self,
        asset: &idv_store::AssetRecord,
    ) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::put(&self.db, asset).await
    }

    async fn asset_get(&self, id: &str) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::get(&self.db, id).await
    }

    async fn asset_list(&self) -> StoreResult<Vec<idv_store::AssetRecord>> {
        assets::list(&self.db).await
    }

    async fn asset_delete(&self, id: &str) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::delete(&self.db, id).await
    }

    async fn session_create(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        sessions::create(&self.db, session, events).await
    }

    async fn session_get(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        match &self.db.inline {
            Some(r) => r.session(id),
            None => sessions::get(&self.db, id).await,
        }
    }

    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        engine::advance(&self.db, session, &[], &[], None, events).await
    }

    async fn file_create(&self, file: &FileRecord) -> StoreResult<()> {
        files::create(&self.db, file).await
    }

    async fn file_list(&self, session_id: &str) -> StoreResult<Vec<FileRecord>> {
        match &self.db.inline {
            Some(r) => r.files(session_id),
            None => files::list(&self.db, session_id).await,
        }
    }

    async fn session_with_files(
        &self,
        id: &str,
    ) -> StoreResult<Option<(SessionRecord, Vec<FileRecord>)>> {
        match &self.db.inline {
            Some(r) => r.session_with_files(id),
            None => {
                let Some(session) = sessions::get(&self.db, id).await? else {
                    return Ok(None);
                };
                Ok(Some((session, files::list(&self.db, id).await?)))
            }
        }
    }

    async fn file_get(&self, session_id: &str, file_id: &str) -> StoreResult<Option<FileRecord>> {
        match &self.db.inline {
            Some(r) => r.file(session_id, file_id),
            None => files::get(&self.db, session_id, file_id).await,
        }
    }

    async fn file_content(&self, session_id: &str, file_id: &str) -> StoreResult<Option<Vec<u8>>> {
        files::content(&self.db, session_id, file_id).await
    }

    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<&str>,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        engine::advance(&self.db, next, files, jobs, done_job, events).await
    }

    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
        engine::claim(&self.db, now, lease_ms).await
    }

    async fn job_release(
        &self,
        id: &str,
        run_at: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()> {
        engine::release(&self.db, id, run_at, last_error).await
    }

    async fn job_list(&self, session_id: &str) -> StoreResult<Vec<JobRecord>> {
        engine::list(&self.db, session_id).await
    }

    async fn job_next_due(&self) -> StoreResult<Option<i64>> {
        engine::next_due(&self.db).await
    }

    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        engine::expired(&self.db, now, limit).await
    }

    async fn session_search(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<idv_store::SessionPage> {
        search::search(&self.db, query).await
    }

    async fn view_put(
        &self,
        view: &idv_store::ViewRecord,
        only_owner: Option<&str>,
    ) -> StoreResult<bool> {
        views::put(&self.db, view, only_owner).await
    }

    async fn view_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> StoreResult<Option<idv_store::ViewRecord>> {
        views::get(&self.db, namespace, key).await
    }

    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<&str>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<idv_store::ViewRecord>, i64)> {
        views::list(&self.db, namespace, viewer, limit, skip).await
    }

    async fn view_delete(
        &self,
        namespace: &str,
        key: &str,
        only_owner: Option<&str>,
    ) -> StoreResult<bool> {
        views::delete(&self.db, namespace, key, only_owner).await
    }

    async fn session_delete(
        &self,
        id: &str,
        by: &Deleter,
        at: i64,
        reason: Option<&str>,
        updated_before: Option<i64>,
        event: Option<&NewEvent>,
    ) -> StoreResult<SessionDeletion> {
        deletion::delete(&self.db, id, by, at, reason, updated_before, event).await
    }

    async fn tombstone_get(&self, id: &str) -> StoreResult<Option<TombstoneRecord>> {
        deletion::tombstone(&self.db, id).await
    }

    async fn session_stale(&self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        deletion::stale(&self.db, before, limit).await
    }

    async fn session_existing(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        deletion::existing(&self.db, ids).await
    }

    async fn device_token_create(&self, token: &idv_store::DeviceToken) -> StoreResult<()> {
        devices::create(&self.db, token).await
    }

    async fn device_token_by_hash(
        &self,
        hash: &str,
    ) -> StoreResult<Option<idv_store::DeviceToken>> {
        devices::by_hash(&self.db, hash).await
    }

    async fn device_token_get(&self, id: &str) -> StoreResult<Option<idv_store::DeviceToken>> {
        devices::get(&self.db, id).await
    }

    async fn device_token_exchange(
        &self,
        id: &str,
        now: i64,
        replacement: &idv_store::DeviceToken,
    ) -> StoreResult<bool> {
        devices::exchange(&self.db, id, now, replacement).await
    }

    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64> {
        devices::delete_expired(&self.db, before).await
    }

    async fn workflow_revisions(&self, id: &str) -> StoreResult<Vec<WorkflowRecord>> {
        exchange::workflow_revisions(&self.db, id).await
    }

    async fn workflow_import_revision(&self, def: &NewWorkflow) -> StoreResult<i64> {
        exchange::workflow_import_revision(&self.db, def).await
    }

    async fn session_import(
        &self,
        session: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        replace: bool,
    ) -> StoreResult<idv_store::SessionImport> {
        exchange::session_import(&self.db, session, files, jobs, replace).await
    }

    async fn audit_append(&self, entries: &[idv_store::NewAuditEntry]) -> StoreResult<i64> {
        audit::append(&self.db, entries).await
    }

    async fn audit_chain(&self) -> StoreResult<idv_store::AuditChain> {
        audit::chain(&self.db).await
    }

    async fn audit_query(
        &self,
        query: &idv_store::AuditQuery,
    ) -> StoreResult<Vec<idv_store::AuditRecord>> {
        audit::query(&self.db, query).await
    }

    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64> {
        audit::prune(&self.db, user_before, api_before, limit).await
    }

    async fn idempotency_begin(
        &self,
        record: &idv_store::IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<idv_store::IdempotencyRecord>> {
        idempotency::begin(&self.db, record, now).await
    }

    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()> {
        idempotency::complete(&self.db, owner, key, status, content_type, body).await
    }

    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()> {
        idempotency::abandon(&self.db, owner, key).await
    }

    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64> {
        idempotency::delete_expired(&self.db, now).await
    }

    async fn event_publish(&self, event: &NewEvent, webhook_id: &str) -> StoreResult<String> {
        outbox::publish(&self.db, event, webhook_id).await
    }

    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage> {
        outbox::events_after(&self.db, query).await
    }

    async fn events_end(&self) -> StoreResult<Option<String>> {
        outbox::events_end(&self.db).await
    }

    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        outbox::webhook_create(&self.db, webhook).await
    }

    async fn webhook_get(&self, id: &str) -> StoreResult<Option<WebhookRecord>> {
        outbox::webhook_get(&self.db, id).await
    }

    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>> {
        outbox::webhook_list(&self.db).await
    }

    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool> {
        outbox::webhook_update(&self.db, webhook).await
    }

    async fn webhook_reseal(
        &self,
        id: &str,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool> {
        outbox::webhook_reseal(&self.db, id, old, new).await
    }

    async fn webhook_delete(&self, id: &str) -> StoreResult<bool> {
        outbox::webhook_delete(&self.db, id).await
    }

    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        outbox::claim(&self.db, now, lease_ms, limit).await
    }

    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>> {
        outbox::finish(&self.db, claimed, attempt, outcome).await
    }

    async fn delivery_next_due(&self) -> StoreResult<Option<i64>> {
        outbox::next_due(&self.db).await
    }

    async fn delivery_list(
        &self,
        webhook_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        outbox::list(&self.db, webhook_id, before, limit).await
    }

    async fn delivery_get(
        &self,
        webhook_id: &str,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>> {
        outbox::get(&self.db, webhook_id, id).await
    }

    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        outbox::attempts(&self.db, delivery_ids).await
    }

    async fn delivery_retry(
        &self,
        webhook_id: &str,
        id: &str,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool> {
        outbox::retry(&self.db, webhook_id, id, now, deadline).await
    }

    async fn delivery_replay(
        &self,
        webhook_id: &str,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64> {
        outbox::replay(&self.db, webhook_id, since, now, deadline).await
    }

    async fn outbox_prune(&self, before: i64) -> StoreResult<u64> {
        outbox::prune(&self.db, before).await
    }
}
