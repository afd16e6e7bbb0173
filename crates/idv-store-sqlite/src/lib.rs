//! SQLite adapter for [`idv_store::Store`]: the embedded default, one database file and nothing
//! else to install.
//!
//! Connections: SQLite admits one writer at a time. The hot writes of this process (sessions,
//! their files, jobs and events, webhook claims and attempts) go to a dedicated writer thread
//! that commits whatever is queued together ([`writer`]); the rarer ones (settings, workflows,
//! users, imports, …) go through a one-connection sqlx pool, which waits for the writer's lock
//! like another process would. A few read-only connections serve reads beside them; WAL
//! journaling lets readers and writers run at once. Another process on the same file is waited
//! for up to the busy timeout, and transactions that read before they write begin `IMMEDIATE`
//! so that wait happens up front rather than failing at the first write.
//!
//! Encoding: times are INTEGER milliseconds, JSON documents and string lists are TEXT holding
//! JSON, booleans are 0/1.

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
mod inline;
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
mod writer;

use async_trait::async_trait;
use idv_store::{HealthStore, StoreError, StoreResult};
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
    /// Inline connections for the hot point reads.
    pub(crate) inline: std::sync::Arc<inline::InlineReaders>,
    /// The dedicated writer of the hot writes.
    pub(crate) writer: std::sync::Arc<writer::Writer>,
    /// For `sqlite::memory:`: the private file that stands in for it, removed with the store.
    pub(crate) scratch: Option<std::sync::Arc<Scratch>>,
}

/// The private database file of a store opened as `sqlite::memory:`. An in-memory database is
/// visible to one connection only, and this store needs several (readers, the writer), so it is
/// a file in the temporary folder instead, removed when the store is dropped.
pub(crate) struct Scratch {
    path: std::path::PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A random part, so a process that reuses an old one's id does not meet its file.
        let random = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let name = format!("idv-memory-{}-{n}-{random:016x}.db", std::process::id());
        Scratch {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Db {
    /// The pool for plain reads.
    pub(crate) fn read(&self) -> &SqlitePool {
        &self.read
    }

    /// The one writer connection.
    pub(crate) fn write(&self) -> &SqlitePool {
        &self.write
    }
}

/// The SQLite store. Cheap to share behind an `Arc<dyn Store>`.
pub struct SqliteStore {
    db: Db,
}

impl SqliteStore {
    /// Opens (creating the parent folder and the file if missing) the database at `url`, e.g.
    /// `sqlite://./idv-data/idv.db` or `sqlite:///abs/path.db`, and applies pending migrations.
    /// `sqlite::memory:` gives a private, throwaway database (a file in the temporary folder,
    /// removed with the store), for tests.
    pub async fn connect(url: &str) -> StoreResult<SqliteStore> {
        let scratch = is_in_memory(url).then(|| std::sync::Arc::new(Scratch::new()));
        let options = match &scratch {
            Some(s) => SqliteConnectOptions::new().filename(&s.path),
            None => SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::backend_from(format!("invalid SQLite URL: {e}"), e))?,
        };
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);

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
        let inline = std::sync::Arc::new(inline::InlineReaders::new(
            options.get_filename().to_path_buf(),
        ));
        let writer = std::sync::Arc::new(writer::Writer::start(options.get_filename())?);
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
                writer,
                scratch,
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
        let writer = self.db.writer.clone();
        // Joins the writer's threads once the units queued are done.
        let _ = tokio::task::spawn_blocking(move || writer.close()).await;
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
impl HealthStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.read)
            .await
            .map(drop)
            .map_err(crate::convert::backend)
    }

    fn pool_stats(&self) -> idv_store::PoolStats {
        idv_store::PoolStats {
            open: self.db.write.size() + self.db.read.size(),
            idle: u32::try_from(self.db.write.num_idle()).unwrap_or(u32::MAX)
                + u32::try_from(self.db.read.num_idle()).unwrap_or(u32::MAX),
            max: self.db.write.options().get_max_connections()
                + self.db.read.options().get_max_connections(),
        }
    }

    async fn delivery_backlog(&self) -> StoreResult<idv_store::Backlog> {
        let (pending, oldest_created_at): (i64, Option<i64>) =
            sqlx::query_as(idv_store_sql::outbox::BACKLOG)
                .fetch_one(&self.db.read)
                .await
                .map_err(crate::convert::backend)?;
        Ok(idv_store::Backlog {
            pending,
            oldest_created_at,
        })
    }
}
