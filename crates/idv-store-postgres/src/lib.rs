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
mod cluster;
mod convert;
mod copy;
mod deletion;
mod devices;
mod engine;
mod exchange;
mod files;
mod idempotency;
mod outbox;
mod search;
mod sessions;
mod settings;
mod start_links;
mod tokens;
mod translations;
mod users;
mod views;
mod workflows;

use async_trait::async_trait;
use idv_store::{HealthStore, StoreError, StoreResult};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections per process. Several processes share one server, whose default limit is 100.
const MAX_CONNECTIONS: u32 = 10;
/// Connections per process of the pool for the session flow's own writes ([`PgStore::hot`]).
const HOT_CONNECTIONS: u32 = 10;
/// How long a query waits for a free connection (or for the server to answer a new one).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: Migrator = sqlx::migrate!();

/// What the query modules take: the pool. The SQLite adapter's `Db` holds a reader pool and a
/// writer; here both are this one pool, so the functions both adapters share read the same.
pub(crate) type Db = PgPool;

/// The pool a statement runs on, named as in the SQLite adapter: reads and writes alike go to
/// the one PostgreSQL pool.
pub(crate) trait Pools {
    fn read(&self) -> &PgPool;
    fn write(&self) -> &PgPool;
}

impl Pools for PgPool {
    fn read(&self) -> &PgPool {
        self
    }

    fn write(&self) -> &PgPool {
        self
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc<dyn Store>`.
pub struct PgStore {
    pool: PgPool,
    /// The session starts and changes of the flow (`sessions::create`, `engine::advance`):
    /// one statement each, the same every time but for its values, run on connections that
    /// always use the statement's generic plan. With the default (`plan_cache_mode = auto`)
    /// PostgreSQL planned the session start again at every call, about a third of its time,
    /// because a plan made for the values at hand (one event) looks cheaper than the generic
    /// one. Searches and views stay on [`Self::pool`], where the values may change the plan.
    hot: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:5432/database?sslmode=...`) and applies
    /// pending migrations. The database must exist.
    pub async fn connect(url: &str) -> StoreResult<PgStore> {
        // The URL may hold a password: errors name neither it nor the URL.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::backend_from(format!("invalid PostgreSQL URL: {e}"), e))?
            .application_name("idv");
        let hot_options = options
            .clone()
            .options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::backend_from(format!("cannot connect to PostgreSQL: {e}"), e)
            })?;
        // Opens its connections when the first session write comes.
        let hot = PgPoolOptions::new()
            .max_connections(HOT_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(hot_options);
        MIGRATOR.run(&pool).await.map_err(|e| {
            StoreError::backend_from(format!("PostgreSQL migrations failed: {e}"), e)
        })?;
        Ok(PgStore { pool, hot })
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
        self.hot.close().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl HealthStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(crate::convert::backend)
    }

    fn pool_stats(&self) -> idv_store::PoolStats {
        // Both pools together: the connections this process holds on the server.
        let idle = self.pool.num_idle() + self.hot.num_idle();
        idv_store::PoolStats {
            open: self.pool.size() + self.hot.size(),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections()
                + self.hot.options().get_max_connections(),
        }
    }

    async fn delivery_backlog(&self) -> StoreResult<idv_store::Backlog> {
        let (pending, oldest_created_at): (i64, Option<i64>) =
            sqlx::query_as(idv_store_sql::outbox::BACKLOG)
                .fetch_one(&self.pool)
                .await
                .map_err(crate::convert::backend)?;
        Ok(idv_store::Backlog {
            pending,
            oldest_created_at,
        })
    }
}
