//! PostgreSQL adapter for [`idv_store::Store`]: the scale-out backend, shared by several
//! stateless `idv serve` processes.
//!
//! The database is the coordinator: races between processes are settled by single statements
//! (`INSERT ... ON CONFLICT`, `UPDATE ... WHERE revision = ...`) and row locks, never by
//! in-process state. Migrations take sqlx's advisory lock, so processes starting together apply
//! them once.
//!
//! Encoding: times are bigint milliseconds, string lists text[], session documents jsonb, the
//! workflow definition json (kept exactly as written). JSON travels as text and is cast in SQL.

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
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections per process. Several processes share one server, whose default limit is 100.
const MAX_CONNECTIONS: u32 = 10;
/// How long a query waits for a free connection (or for the server to answer a new one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: Migrator = sqlx::migrate!();

/// The PostgreSQL store. Cheap to share behind an `Arc<dyn Store>`.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:5432/database?sslmode=...`) and applies
    /// pending migrations. The database must exist.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        // The URL may hold a password: errors name neither it nor the URL.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::backend_from(format!("invalid PostgreSQL URL: {e}"), e))?
            .application_name("idv");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::backend_from(format!("cannot connect to PostgreSQL: {e}"), e)
            })?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            StoreError::backend_from(format!("PostgreSQL migrations failed: {e}"), e)
        })?;
        Ok(PgStore { pool })
    }

    /// The `EXPLAIN` lines of the statement [`Store::session_search`] runs for the page of
    /// `query`, so tests and operators can see which index it uses.
    pub async fn session_search_plan(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<Vec<String>> {
        search::plan(&self.pool, query).await
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(convert::backend)
    }

    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        settings::get_or_insert(&self.pool, key, value).await
    }

    async fn scrub_secrets(&self) -> StoreResult<()> {
        // An UPDATE leaves the old row version in the table's files until it is rewritten.
        sqlx::query("VACUUM (FULL) webhooks, settings")
            .execute(&self.pool)
            .await
            .map_err(convert::backend)?;
        Ok(())
    }

    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool> {
        settings::replace(&self.pool, key, old, new).await
    }

    async fn user_create(&self, user: &User) -> StoreResult<()> {
        users::create(&self.pool, user).await
    }

    async fn user_get(&self, id: &str) -> StoreResult<Option<User>> {
        users::get(&self.pool, id).await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        users::by_name(&self.pool, name).await
    }

    async fn user_list(&self) -> StoreResult<Vec<User>> {
        users::list(&self.pool).await
    }

    async fn user_update(&self, user: &User) -> StoreResult<bool> {
        users::update(&self.pool, user).await
    }

    async fn user_delete(&self, id: &str) -> StoreResult<bool> {
        users::delete(&self.pool, id).await
    }

    async fn user_count(&self) -> StoreResult<i64> {
        users::count(&self.pool).await
    }

    async fn role_create(&self, role: &Role) -> StoreResult<()> {
        roles::create(&self.pool, role).await
    }

    async fn role_list(&self) -> StoreResult<Vec<Role>> {
        roles::list(&self.pool).await
    }

    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()> {
        api_keys::create(&self.pool, key).await
    }

    async fn apikey_get(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        api_keys::get(&self.pool, id).await
    }

    async fn apikey_list(&self, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        api_keys::list(&self.pool, owner_id).await
    }

    async fn apikey_revoke(&self, id: &str, at_ms: i64) -> StoreResult<bool> {
        api_keys::revoke(&self.pool, id, at_ms).await
    }

    async fn apikey_touch(&self, id: &str, at_ms: i64) -> StoreResult<()> {
        api_keys::touch(&self.pool, id, at_ms).await
    }

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()> {
        tokens::create(&self.pool, token).await
    }

    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>> {
        tokens::get(&self.pool, hash).await
    }

    async fn token_delete_family(&self, family: &str) -> StoreResult<()> {
        tokens::delete_family(&self.pool, family).await
    }

    async fn token_delete_expired(&self, now_ms: i64) -> StoreResult<u64> {
        tokens::delete_expired(&self.pool, now_ms).await
    }

    async fn workflow_put(&self, def: &NewWorkflow) -> StoreResult<i64> {
        workflows::put(&self.pool, def).await
    }

    async fn workflow_get(&self, id: &str) -> StoreResult<Option<WorkflowRecord>> {
        workflows::get(&self.pool, id).await
    }

    async fn workflow_get_revision(
        &self,
        id: &str,
        revision: i64,
    ) -> StoreResult<Option<WorkflowRecord>> {
        workflows::get_revision(&self.pool, id, revision).await
    }

    async fn workflow_list(&self) -> StoreResult<Vec<WorkflowRecord>> {
        workflows::list(&self.pool).await
    }

    async fn workflow_delete(&self, id: &str) -> StoreResult<bool> {
        workflows::delete(&self.pool, id).await
    }

    async fn translations_put(&self, entries: &[Translation]) -> StoreResult<()> {
        translations::put(&self.pool, entries).await
    }

    async fn translations_for(&self, codes: &[String]) -> StoreResult<Vec<Translation>> {
        translations::for_codes(&self.pool, codes).await
    }

    async fn translation_codes(&self) -> StoreResult<Vec<String>> {
        translations::codes(&self.pool).await
    }

    async fn asset_put(
        &self,
        asset: &idv_store::AssetRecord,
    ) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::put(&self.pool, asset).await
    }

    async fn asset_get(&self, id: &str) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::get(&self.pool, id).await
    }

    async fn asset_list(&self) -> StoreResult<Vec<idv_store::AssetRecord>> {
        assets::list(&self.pool).await
    }

    async fn asset_delete(&self, id: &str) -> StoreResult<Option<idv_store::AssetRecord>> {
        assets::delete(&self.pool, id).await
    }

    async fn session_create(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<()> {
        sessions::create(&self.pool, session, events).await
    }

    async fn session_get(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        sessions::get(&self.pool, id).await
    }

    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        engine::advance(&self.pool, session, &[], &[], None, events).await
    }

    async fn file_create(&self, file: &FileRecord) -> StoreResult<()> {
        files::create(&self.pool, file).await
    }

    async fn file_list(&self, session_id: &str) -> StoreResult<Vec<FileRecord>> {
        files::list(&self.pool, session_id).await
    }

    async fn file_get(&self, session_id: &str, file_id: &str) -> StoreResult<Option<FileRecord>> {
        files::get(&self.pool, session_id, file_id).await
    }

    async fn file_content(&self, session_id: &str, file_id: &str) -> StoreResult<Option<Vec<u8>>> {
        files::content(&self.pool, session_id, file_id).await
    }

    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<&str>,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        engine::advance(&self.pool, next, files, jobs, done_job, events).await
    }

    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>> {
        engine::claim(&self.pool, now, lease_ms).await
    }

    async fn job_release(
        &self,
        id: &str,
        run_at: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()> {
        engine::release(&self.pool, id, run_at, last_error).await
    }

    async fn job_list(&self, session_id: &str) -> StoreResult<Vec<JobRecord>> {
        engine::list(&self.pool, session_id).await
    }

    async fn job_next_due(&self) -> StoreResult<Option<i64>> {
        engine::next_due(&self.pool).await
    }

    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        engine::expired(&self.pool, now, limit).await
    }

    async fn session_search(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<idv_store::SessionPage> {
        search::search(&self.pool, query).await
    }

    async fn view_put(
        &self,
        view: &idv_store::ViewRecord,
        only_owner: Option<&str>,
    ) -> StoreResult<bool> {
        views::put(&self.pool, view, only_owner).await
    }

    async fn view_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> StoreResult<Option<idv_store::ViewRecord>> {
        views::get(&self.pool, namespace, key).await
    }

    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<&str>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<idv_store::ViewRecord>, i64)> {
        views::list(&self.pool, namespace, viewer, limit, skip).await
    }

    async fn view_delete(
        &self,
        namespace: &str,
        key: &str,
        only_owner: Option<&str>,
    ) -> StoreResult<bool> {
        views::delete(&self.pool, namespace, key, only_owner).await
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
        deletion::delete(&self.pool, id, by, at, reason, updated_before, event).await
    }

    async fn tombstone_get(&self, id: &str) -> StoreResult<Option<TombstoneRecord>> {
        deletion::tombstone(&self.pool, id).await
    }

    async fn session_stale(&self, before: i64, limit: i64) -> StoreResult<Vec<String>> {
        deletion::stale(&self.pool, before, limit).await
    }

    async fn session_existing(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        deletion::existing(&self.pool, ids).await
    }

    async fn device_token_create(&self, token: &idv_store::DeviceToken) -> StoreResult<()> {
        devices::create(&self.pool, token).await
    }

    async fn device_token_by_hash(
        &self,
        hash: &str,
    ) -> StoreResult<Option<idv_store::DeviceToken>> {
        devices::by_hash(&self.pool, hash).await
    }

    async fn device_token_get(&self, id: &str) -> StoreResult<Option<idv_store::DeviceToken>> {
        devices::get(&self.pool, id).await
    }

    async fn device_token_exchange(
        &self,
        id: &str,
        now: i64,
        replacement: &idv_store::DeviceToken,
    ) -> StoreResult<bool> {
        devices::exchange(&self.pool, id, now, replacement).await
    }

    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64> {
        devices::delete_expired(&self.pool, before).await
    }

    async fn workflow_revisions(&self, id: &str) -> StoreResult<Vec<WorkflowRecord>> {
        exchange::workflow_revisions(&self.pool, id).await
    }

    async fn workflow_import_revision(&self, def: &NewWorkflow) -> StoreResult<i64> {
        exchange::workflow_import_revision(&self.pool, def).await
    }

    async fn session_import(
        &self,
        session: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        replace: bool,
    ) -> StoreResult<idv_store::SessionImport> {
        exchange::session_import(&self.pool, session, files, jobs, replace).await
    }

    async fn audit_append(&self, entries: &[idv_store::NewAuditEntry]) -> StoreResult<i64> {
        audit::append(&self.pool, entries).await
    }

    async fn audit_chain(&self) -> StoreResult<idv_store::AuditChain> {
        audit::chain(&self.pool).await
    }

    async fn audit_query(
        &self,
        query: &idv_store::AuditQuery,
    ) -> StoreResult<Vec<idv_store::AuditRecord>> {
        audit::query(&self.pool, query).await
    }

    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64> {
        audit::prune(&self.pool, user_before, api_before, limit).await
    }

    async fn idempotency_begin(
        &self,
        record: &idv_store::IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<idv_store::IdempotencyRecord>> {
        idempotency::begin(&self.pool, record, now).await
    }

    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()> {
        idempotency::complete(&self.pool, owner, key, status, content_type, body).await
    }

    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()> {
        idempotency::abandon(&self.pool, owner, key).await
    }

    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64> {
        idempotency::delete_expired(&self.pool, now).await
    }

    async fn event_publish(&self, event: &NewEvent, webhook_id: &str) -> StoreResult<String> {
        outbox::publish(&self.pool, event, webhook_id).await
    }

    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage> {
        outbox::events_after(&self.pool, query).await
    }

    async fn events_end(&self) -> StoreResult<Option<String>> {
        outbox::events_end(&self.pool).await
    }

    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        outbox::webhook_create(&self.pool, webhook).await
    }

    async fn webhook_get(&self, id: &str) -> StoreResult<Option<WebhookRecord>> {
        outbox::webhook_get(&self.pool, id).await
    }

    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>> {
        outbox::webhook_list(&self.pool).await
    }

    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool> {
        outbox::webhook_update(&self.pool, webhook).await
    }

    async fn webhook_reseal(
        &self,
        id: &str,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool> {
        outbox::webhook_reseal(&self.pool, id, old, new).await
    }

    async fn webhook_delete(&self, id: &str) -> StoreResult<bool> {
        outbox::webhook_delete(&self.pool, id).await
    }

    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        outbox::claim(&self.pool, now, lease_ms, limit).await
    }

    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>> {
        outbox::finish(&self.pool, claimed, attempt, outcome).await
    }

    async fn delivery_next_due(&self) -> StoreResult<Option<i64>> {
        outbox::next_due(&self.pool).await
    }

    async fn delivery_list(
        &self,
        webhook_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        outbox::list(&self.pool, webhook_id, before, limit).await
    }

    async fn delivery_get(
        &self,
        webhook_id: &str,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>> {
        outbox::get(&self.pool, webhook_id, id).await
    }

    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>> {
        outbox::attempts(&self.pool, delivery_ids).await
    }

    async fn delivery_retry(
        &self,
        webhook_id: &str,
        id: &str,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool> {
        outbox::retry(&self.pool, webhook_id, id, now, deadline).await
    }

    async fn delivery_replay(
        &self,
        webhook_id: &str,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64> {
        outbox::replay(&self.pool, webhook_id, since, now, deadline).await
    }

    async fn outbox_prune(&self, before: i64) -> StoreResult<u64> {
        outbox::prune(&self.pool, before).await
    }
}
