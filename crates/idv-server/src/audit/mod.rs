//! The audit log: who read which session, downloaded which file, changed or deleted what,
//! minted or revoked which key, changed which user or role, and every login, successful or not.
//!
//! Recording is off the request path: the route guard ([`crate::routes`]) builds an entry for
//! every audited route (its row of [`crate::routes::table`] names the event) once the answer is
//! known, and [`Auditor::record`] puts it on an in-process channel. A background writer
//! ([`start_writer`]) appends whatever has queued in batches, one transaction per batch, to the
//! hash chain in the store ([`idv_store::Store::audit_append`]); the store serializes appends
//! from every process on the chain's head row. When the queue is full (the database cannot
//! keep up), requests wait for room rather than drop entries.
//!
//! No entry can hold back the others ([`write_batch`]): the store keeps a NUL as U+FFFD
//! ([`NewAuditEntry::storable`]); a batch the database refuses while it answers is halved
//! until the refused entry stands alone, and that one is stored in reduced form
//! ([`NewAuditEntry::reduced`]). Only a database that does not answer is waited for.
//!
//! At shutdown the writer drains the queue before the process exits (waiting at most 15 s for a
//! database that keeps failing, then logging what is lost). Entries still in memory when a
//! process crashes (those of roughly the last 100 ms: the 20 ms a batch gathers and the time it
//! takes to write, or while the database is down, every entry queued since) are lost; the chain
//! stays valid, it simply does not contain them.
//!
//! `GET /api/audit` flushes this process's queue before it reads, so a client sees its own
//! requests. `idv audit verify` ([`verify::verify`]) walks the chain; retention
//! ([`verify::apply_retention`], scheduled as the internal job `auditRetention`) removes old
//! entries from the start and keeps the last removed hash as the chain's anchor.

pub mod events;
pub mod pending;
pub mod verify;

use crate::auth::{Principal, PrincipalKind};
pub use crate::config::audit::{AuditConfig, KeepFor};
use idv_store::{NewAuditEntry, Store, StoreError};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// What a handler adds to the audit entry of its answer (a response extension): the id of what
/// it created, or for a login the name tried.
#[derive(Debug, Clone, Default)]
pub struct Note {
    pub target: Option<String>,
    /// For logins: the user id (when known) and the name tried.
    pub actor: Option<(Option<String>, String)>,
    pub details: Option<Value>,
}

impl Note {
    pub fn target(id: impl Into<String>) -> Self {
        Note {
            target: Some(id.into()),
            ..Note::default()
        }
    }
}

/// Entries waiting in memory at most; beyond this, requests wait for the writer.
const QUEUE: usize = 16_384;
/// Entries per append transaction at most.
const BATCH: usize = 1_000;

enum Msg {
    Entry(Box<NewAuditEntry>),
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// The recording side, shared by every request of a process.
pub struct Auditor {
    enabled: bool,
    tx: mpsc::Sender<Msg>,
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
    running: std::sync::atomic::AtomicBool,
}

impl Auditor {
    pub fn new(config: &AuditConfig) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            enabled: config.enabled,
            tx,
            rx: Mutex::new(Some(rx)),
            running: Default::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Queues an entry for the writer. Without a running writer (a CLI process) nothing is
    /// queued: the CLI appends with [`append_now`].
    pub async fn record(&self, entry: NewAuditEntry) {
        if !self.enabled || !self.running.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let _ = self.tx.send(Msg::Entry(Box::new(entry))).await;
    }

    /// Waits until everything queued before this call is stored (or failed to be).
    pub async fn flush(&self) {
        if !self.running.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The running writer; [`Writer::stop`] drains the queue and ends it.
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    task: Option<tokio::task::JoinHandle<()>>,
    stopping: tokio_util::sync::CancellationToken,
}

/// How long a stop waits for the queue to be stored before it gives up on the rest.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Writer {
    /// Stores everything still queued, then ends the writer. A database that keeps failing
    /// cannot hold the process: after [`STOP_WAIT`] what is left is logged as lost.
    pub async fn stop(mut self) {
        // A batch being retried gives up after a few more tries from now on.
        self.stopping.cancel();
        let drained = async {
            let (tx, rx) = oneshot::channel();
            if self.tx.send(Msg::Stop(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(STOP_WAIT, drained).await.is_err() {
            tracing::error!(
                "audit entries still queued at shutdown were lost: the database did not take them in time"
            );
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Starts the background writer of `auditor` (once per process).
pub fn start_writer(store: Arc<dyn Store>, auditor: &Auditor) -> Writer {
    let rx = auditor.rx.lock().expect("audit receiver").take();
    let stopping = tokio_util::sync::CancellationToken::new();
    let task = rx.map(|rx| {
        auditor
            .running
            .store(true, std::sync::atomic::Ordering::Release);
        tokio::spawn(write_loop(store, rx, stopping.clone()))
    });
    Writer {
        tx: auditor.tx.clone(),
        task,
        stopping,
    }
}

/// How long the writer lets entries gather after the first of a batch arrives (well inside the
/// ~100 ms of entries a crash may lose, which this adds to).
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

async fn write_loop(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Msg>,
    stopping: tokio_util::sync::CancellationToken,
) {
    let mut batch: Vec<NewAuditEntry> = Vec::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        if matches!(first, Msg::Entry(_)) {
            // Lets a burst gather into one append: under a steady load of audited requests
            // (session reads), an append per few entries cost a commit each.
            tokio::time::sleep(GATHER).await;
        }
        let mut stop = None;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => batch.push(*e),
                Msg::Flush(done) => waiting.push(done),
                Msg::Stop(done) => stop = Some(done),
            }
            if batch.len() >= BATCH {
                write_batch(store.as_ref(), &mut batch, &stopping).await;
            }
            // Take what else has queued meanwhile; when stopping, everything.
            next = rx.try_recv().ok();
        }
        write_batch(store.as_ref(), &mut batch, &stopping).await;
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

/// How long the writer waits before it tries a database that failed again.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// Times one entry on its own may fail, while the database answers, before it counts as
/// refused: a failure that is not [`StoreError::Invalid`] may also be passing (SQLite busy
/// beyond its timeout), so the tries are spread over about 7 s (0.5, 1, 2, 4 s apart).
const TRIES_ALONE: u32 = 5;

/// What one append attempt showed.
enum Attempt {
    Stored,
    /// The entries (one of them, at least) are at fault: the database refused them as data,
    /// or keeps failing on them while it answers.
    Refused(StoreError),
    /// The database does not answer: try the same entries again later.
    Down(StoreError),
}

async fn attempt(store: &dyn Store, entries: &[NewAuditEntry]) -> Attempt {
    match store.audit_append(entries).await {
        Ok(_) => Attempt::Stored,
        Err(e @ StoreError::Invalid { .. }) => Attempt::Refused(e),
        Err(e) if store.ping().await.is_ok() => Attempt::Refused(e),
        Err(e) => Attempt::Down(e),
    }
}

/// Appends `batch` (emptying it), in order, so that no entry can hold back the others:
///
/// - while the database is down, the same entries are tried every half second (once the
///   writer is stopping, three more times, then they are logged as lost);
/// - when the database answers but refuses a group of entries, the group is halved until the
///   refused entry stands alone; that entry is tried a few times, then stored in its
///   [`NewAuditEntry::reduced`] form (marked `{"reduced": true}`), and only if even that is
///   refused is it logged as lost. Every other entry is stored as recorded.
async fn write_batch(
    store: &dyn Store,
    batch: &mut Vec<NewAuditEntry>,
    stopping: &tokio_util::sync::CancellationToken,
) {
    if batch.is_empty() {
        return;
    }
    // Groups still to store, front first; `true` marks an entry already in reduced form.
    let mut todo: std::collections::VecDeque<(Vec<NewAuditEntry>, bool)> =
        std::collections::VecDeque::from([(std::mem::take(batch), false)]);
    let mut tries_while_stopping = 0;
    let mut tries_alone = 0;
    while let Some((group, reduced)) = todo.pop_front() {
        match attempt(store, &group).await {
            Attempt::Stored => tries_alone = 0,
            Attempt::Down(e) => {
                if stopping.is_cancelled() {
                    tries_while_stopping += 1;
                }
                let left = group.len() + todo.iter().map(|(g, _)| g.len()).sum::<usize>();
                if tries_while_stopping >= 3 {
                    tracing::error!(entries = left, error = %e, "audit entries lost: the database refused them at shutdown");
                    return;
                }
                tracing::warn!(entries = left, error = %e, "audit append failed; trying again");
                todo.push_front((group, reduced));
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Attempt::Refused(e) if group.len() > 1 => {
                tracing::debug!(entries = group.len(), error = %e, "audit append refused; halving the group");
                let mut first = group;
                let second = first.split_off(first.len() / 2);
                todo.push_front((second, false));
                todo.push_front((first, false));
            }
            Attempt::Refused(e) => {
                tries_alone += 1;
                if !matches!(e, StoreError::Invalid { .. }) && tries_alone < TRIES_ALONE {
                    tracing::warn!(action = %group[0].action, error = %e, "audit entry failed on its own; trying again");
                    todo.push_front((group, reduced));
                    tokio::time::sleep(RETRY_EVERY * 2u32.pow(tries_alone - 1)).await;
                    continue;
                }
                tries_alone = 0;
                let entry = &group[0];
                if reduced {
                    tracing::error!(action = %entry.action, at = entry.at, error = %e, "audit entry lost: the database refused even its reduced form");
                } else {
                    tracing::error!(action = %entry.action, at = entry.at, error = %e, "the database refused an audit entry; storing its reduced form");
                    todo.push_front((vec![entry.reduced()], true));
                }
            }
        }
    }
}

/// The actor fields of an authenticated caller.
pub(crate) fn actor_of(p: &Principal) -> (Option<String>, &'static str, Option<String>) {
    let kind = match p.kind {
        PrincipalKind::User => "user",
        PrincipalKind::ApiKey => "apikey",
        PrincipalKind::Device { .. } => "device",
        PrincipalKind::OneTime { .. } => "onetime",
    };
    (Some(p.id.clone()), kind, Some(p.name.clone()))
}

/// Appends one entry made by the CLI at once (no writer runs in a CLI process), at `at` (ms).
/// The actor is the operating-system user running it.
pub async fn append_now(
    store: &dyn Store,
    config: &AuditConfig,
    at: i64,
    action: &str,
    target: Option<String>,
    details: Value,
) -> Result<(), idv_store::StoreError> {
    if !config.enabled {
        return Ok(());
    }
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok();
    let entry = NewAuditEntry {
        at,
        actor_id: None,
        actor_kind: "cli".into(),
        actor_name: os_user,
        action: action.into(),
        target,
        outcome: 200,
        ip: None,
        request_id: None,
        details,
    };
    store.audit_append(&[entry]).await.map(drop)
}
