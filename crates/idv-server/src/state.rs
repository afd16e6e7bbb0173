//! The application state every handler and CLI command shares: configuration, the store, file
//! storage, the authenticator and the cache of parsed workflow revisions.

use crate::auth::Auth;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use idv_core::ErrorCode;
use idv_core::workflow::Workflow;
use idv_store::Store;
use idv_store::WorkflowId;
use idv_store::blobs::Blobs;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// `baseUrl` without a trailing slash.
    pub(crate) base_url: String,
    pub store: Arc<dyn Store>,
    pub blobs: Blobs,
    /// On an object store, the folders workflow and localization files load from (empty with
    /// `fs`, whose folders are under `storage.fs.path`).
    pub(crate) documents: Vec<crate::storage::DocumentFolder>,
    pub auth: Auth,
    pub workflows: WorkflowCache,
    /// The client for every outbound HTTP call (address checks included).
    pub outbound: crate::outbound::Outbound,
    /// The time the workflow engine and expiry go by (tests move it forward).
    pub clock: Arc<dyn idv_core::time::Clock>,
    /// Woken when background jobs are queued (here, or in another instance: [`crate::cluster`]),
    /// so they start without polling delay. Queue through [`AppState::jobs_queued`].
    pub(crate) jobs_wake: tokio::sync::Notify,
    /// Woken (every waiter) when events are committed (here, or in another instance): the
    /// webhook workers and the live event streams look at once instead of at their next poll.
    /// Wake through [`AppState::events_committed`].
    pub(crate) events_wake: tokio::sync::Notify,
    /// Slots for live event streams (`GET /api/events/stream`); a stream holds one while open.
    pub(crate) event_streams: Arc<tokio::sync::Semaphore>,
    /// Cancelled when `serve` begins a graceful shutdown: live event streams end then, so their
    /// connections close and the server can stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Cancelled as soon as a graceful shutdown is asked for (before the listener closes):
    /// `GET /api/ready` answers 503 from then on and answers close their connections.
    pub draining: tokio_util::sync::CancellationToken,
    /// The Prometheus metrics ([`crate::metrics`]).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The Ed25519 webhook signing key, loaded on first use ([`crate::webhooks::keys`]).
    pub(crate) webhook_key: tokio::sync::OnceCell<Arc<crate::webhooks::sign::SigningKeyPair>>,
    /// Translations, read at most once a second.
    pub translations: crate::flow::TranslationCache,
    /// The audit log's queue (its writer runs in `serve`).
    pub audit: crate::audit::Auditor,
    /// The keys that encrypt the secrets the database keeps ([`crate::secrets`]).
    pub secrets: crate::secrets::Keyring,
    /// What this instance tells the others and whether it leads ([`crate::cluster`]).
    pub cluster: crate::cluster::Cluster,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the database (running migrations) and file storage named by `config`.
    pub async fn open(config: Config, base_url: String) -> Result<AppState, StartupError> {
        Self::open_with_clock(config, base_url, Arc::new(idv_core::time::SystemClock)).await
    }

    /// [`AppState::open`] with the clock given.
    pub async fn open_with_clock(
        config: Config,
        base_url: String,
        clock: Arc<dyn idv_core::time::Clock>,
    ) -> Result<AppState, StartupError> {
        let store = open_store(&config.database.url).await?;
        let crate::storage::Opened { blobs, documents } =
            crate::storage::open(&config.storage, &config.data_dir()).map_err(|e| {
                startup(format!(
                    "file storage ({}): {e}",
                    config.storage.kind.as_str()
                ))
            })?;
        let secrets = crate::secrets::Keyring::from_config(&config).map_err(startup)?;
        let auth = Auth::new(store.clone(), config.basic_auth.enabled)
            .await
            .map_err(|e| startup(e.0.message))?
            .with_clock(clock.clone());
        let outbound = crate::outbound::Outbound::new(&config).map_err(startup)?;
        let audit = crate::audit::Auditor::new(&config.services.audit);
        Ok(AppState(Arc::new(Inner {
            config,
            base_url,
            store,
            blobs,
            documents,
            auth,
            workflows: WorkflowCache::default(),
            outbound,
            clock,
            jobs_wake: tokio::sync::Notify::new(),
            events_wake: tokio::sync::Notify::new(),
            event_streams: Arc::new(tokio::sync::Semaphore::new(
                crate::handlers::events::MAX_STREAMS,
            )),
            shutdown: Default::default(),
            draining: Default::default(),
            metrics: Default::default(),
            webhook_key: tokio::sync::OnceCell::new(),
            translations: Default::default(),
            audit,
            secrets,
            cluster: Default::default(),
        })))
    }
}

/// Opens the store a database URL names.
pub(crate) async fn open_store(url: &str) -> Result<Arc<dyn Store>, StartupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = idv_store_postgres::PgStore::connect(url)
            .await
            .map_err(|e| {
                startup(format!(
                    "cannot open database {}: {e}",
                    crate::config::redact_url(url)
                ))
            })?;
        Ok(Arc::new(s))
    } else {
        let s = idv_store_sqlite::SqliteStore::connect(url)
            .await
            .map_err(|e| startup(format!("cannot open database {url}: {e}")))?;
        Ok(Arc::new(s))
    }
}

/// Parsed workflow revisions by `(id, revision)`. Revisions never change once stored, so
/// entries never go stale.
#[derive(Default)]
pub struct WorkflowCache {
    /// Workflow id → revision → parsed definition (nested so a lookup by `&str` allocates
    /// nothing on the session-read path).
    parsed: RwLock<HashMap<String, HashMap<i64, Arc<Workflow>>>>,
    /// Workflow id → its current revision and when that was read. Starting a session reads
    /// this instead of the whole stored definition; an entry is trusted for
    /// [`CURRENT_TTL`], or until the workflow changes (signalled across instances by
    /// [`crate::cluster`]).
    current: RwLock<HashMap<String, (i64, std::time::Instant)>>,
}

/// How long another instance's new revision may go unseen by this one.
pub(crate) const CURRENT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl WorkflowCache {
    /// One revision, parsed once.
    pub async fn revision(
        &self,
        store: &dyn Store,
        id: &str,
        revision: i64,
    ) -> ApiResult<Arc<Workflow>> {
        if let Some(w) = self.cached(id, revision) {
            return Ok(w);
        }
        let record = store
            .workflow_get_revision(WorkflowId::new(id), revision)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::WorkflowNotFound,
                    format!("no workflow with id {id} (revision {revision})"),
                )
            })?;
        self.insert(record.id, record.revision, record.definition)
    }

    /// The current revision of a workflow and its number.
    pub async fn current(&self, store: &dyn Store, id: &str) -> ApiResult<(i64, Arc<Workflow>)> {
        let known = self
            .current
            .read()
            .expect("workflow cache")
            .get(id)
            .filter(|(_, at)| at.elapsed() < CURRENT_TTL)
            .map(|(rev, _)| *rev);
        if let Some(rev) = known
            && let Some(w) = self.cached(id, rev)
        {
            return Ok((rev, w));
        }
        let record = store
            .workflow_get(WorkflowId::new(id))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::WorkflowNotFound,
                    format!("no workflow with id {id}"),
                )
            })?;
        self.current.write().expect("workflow cache").insert(
            record.id.clone(),
            (record.revision, std::time::Instant::now()),
        );
        if let Some(w) = self.cached(&record.id, record.revision) {
            return Ok((record.revision, w));
        }
        let rev = record.revision;
        Ok((
            rev,
            self.insert(record.id, record.revision, record.definition)?,
        ))
    }

    /// Forgets the current revision of `id` (it was changed or deleted, here or in another
    /// instance: [`crate::cluster`]).
    pub(crate) fn forget_current(&self, id: &str) {
        self.current.write().expect("workflow cache").remove(id);
    }

    /// Forgets every current revision (changes from other instances may have been missed).
    pub(crate) fn forget_all_current(&self) {
        self.current.write().expect("workflow cache").clear();
    }

    fn cached(&self, id: &str, revision: i64) -> Option<Arc<Workflow>> {
        let parsed = self.parsed.read().expect("workflow cache");
        parsed.get(id).and_then(|revs| revs.get(&revision)).cloned()
    }

    fn insert(
        &self,
        id: String,
        revision: i64,
        definition: serde_json::Value,
    ) -> ApiResult<Arc<Workflow>> {
        let wf = Workflow::from_definition(definition).map_err(|problems| {
            ApiError(idv_core::Error::internal(format!(
                "stored workflow {id} revision {revision} no longer validates: {}",
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )))
        })?;
        let wf = Arc::new(wf);
        self.parsed
            .write()
            .expect("workflow cache")
            .entry(id)
            .or_default()
            .insert(revision, wf.clone());
        Ok(wf)
    }
}

/// Why the server or a CLI command could not open its database or storage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);

fn startup(msg: impl Into<String>) -> StartupError {
    StartupError(msg.into())
}
