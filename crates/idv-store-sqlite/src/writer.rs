//! The dedicated writer: one thread that owns this process's write connection and runs every
//! hot write (session starts and changes with their files, jobs and events, webhook claims and
//! attempts, job claims) as a synchronous unit, with group commit.
//!
//! A caller hands over a unit (a closure over a [`Connection`]) and awaits its answer. The
//! thread takes every unit queued at that moment into one `BEGIN IMMEDIATE … COMMIT`, each in a
//! `SAVEPOINT` of its own: a unit that fails is rolled back alone and the others commit. Each
//! caller is answered only after the `COMMIT` returned, so an answered write is as durable as
//! the connection's `synchronous` setting makes a commit (`NORMAL` under WAL: on disk once the
//! operating system has it, which survives the process being killed).
//!
//! Why: through a pooled async connection every statement of a transaction is a hand-off to the
//! connection's thread and back, and the write lock is held while the next statement's task is
//! woken and scheduled. Here a unit runs start to end on the thread that holds the lock, and one
//! commit (and its WAL frames for shared index pages) serves every unit that queued meanwhile.
//!
//! Checkpoints run beside it, not on the commit path: the writer's connection has
//! `wal_autocheckpoint = 0` and a second thread runs a passive checkpoint (which never blocks a
//! writer) every quarter second while the WAL grows. Under a steady write load such a
//! checkpoint never quite catches up (frames keep arriving while it copies), and SQLite starts
//! the WAL over only once every frame is copied back, so the WAL would grow without end. When
//! it holds more than [`RESTART_FRAMES`], the checkpointer asks the writer to copy the few
//! frames left itself between two batches; its next transaction then starts the WAL over.

use idv_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, Statement, ToSql};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Units taken into one transaction at most; more wait for the next.
const MAX_BATCH: usize = 512;
/// Prepared statements the writer keeps.
const STATEMENTS_KEPT: usize = 128;
/// How long the writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the checkpointer looks at the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL pages (4 KiB) after which a passive checkpoint runs.
const CHECKPOINT_PAGES: i64 = 1000;
/// WAL pages after which the writer catches the checkpoint up, so the WAL starts over.
const RESTART_FRAMES: i64 = 4096;
/// The WAL file is cut back to this size when it restarts.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// What a unit leaves for after the commit: answers its caller with the commit's outcome.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
/// A unit: runs on the writer's connection inside its savepoint (`None`: it cannot run, and is
/// only to be answered); `true` keeps what it wrote.
type Unit = Box<dyn FnOnce(Option<&Connection>) -> (bool, Answer) + Send>;

/// The writer thread and the checkpointer beside it. Dropping the last handle stops both once
/// the units already queued are done.
pub(crate) struct Writer {
    queue: Mutex<Option<mpsc::Sender<Unit>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Dropped to stop the checkpointer at once.
    stop: Mutex<Option<mpsc::Sender<()>>>,
}

impl Writer {
    /// Opens the write connection to the database file at `path` (which exists and is in WAL
    /// mode: the pools' connect did that) and starts the threads.
    pub(crate) fn start(path: &Path) -> StoreResult<Writer> {
        let conn = open(path).map_err(|e| {
            StoreError::backend_from(
                format!("cannot open the SQLite writer on {}: {e}", path.display()),
                e,
            )
        })?;
        let (tx, rx) = mpsc::channel::<Unit>();
        let (stop, stopped) = mpsc::channel::<()>();
        let catch_up = Arc::new(AtomicBool::new(false));
        let asked = catch_up.clone();
        let writer = std::thread::Builder::new()
            .name("idv-sqlite-writer".into())
            .spawn(move || run(&conn, &rx, &asked))
            .map_err(|e| StoreError::backend_from("cannot start the SQLite writer", e))?;
        let checkpointer = {
            let path = path.to_path_buf();
            std::thread::Builder::new()
                .name("idv-sqlite-checkpoint".into())
                .spawn(move || checkpoints(&path, &stopped, &catch_up))
                .map_err(|e| StoreError::backend_from("cannot start the SQLite checkpointer", e))?
        };
        Ok(Writer {
            queue: Mutex::new(Some(tx)),
            threads: Mutex::new(vec![writer, checkpointer]),
            stop: Mutex::new(Some(stop)),
        })
    }

    /// Runs `f` on the writer in a transaction (shared with whatever else is queued) and
    /// answers once that transaction is committed. An `Err` from `f` undoes what `f` wrote and
    /// nothing else.
    pub(crate) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let unit: Unit = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                // Overridden by the reason it did not run.
                None => Err(StoreError::backend("not run")),
            };
            let keep = result.is_ok();
            let reply: Answer = Box::new(move |commit_error| {
                let result = match commit_error {
                    None => result,
                    Some(e) => Err(StoreError::backend(format!(
                        "the SQLite transaction did not commit: {e}"
                    ))),
                };
                // A caller that gave up waiting is no one's concern.
                let _ = answer.send(result);
            });
            (keep, reply)
        });
        {
            let queue = self
                .queue
                .lock()
                .map_err(|_| StoreError::backend("the SQLite writer's queue is poisoned"))?;
            let Some(queue) = queue.as_ref() else {
                return Err(StoreError::backend("the SQLite store is closed"));
            };
            queue
                .send(unit)
                .map_err(|_| StoreError::backend("the SQLite writer has stopped"))?;
        }
        answered
            .await
            .map_err(|_| StoreError::backend("the SQLite write ended without an answer"))?
    }

    /// Stops taking units, lets the queued ones finish and waits for both threads.
    pub(crate) fn close(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        if let Ok(mut s) = self.stop.lock() {
            s.take();
        }
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Every statement the units run stays prepared (the default keeps 16, fewer than the
    // writer's statements, and a re-prepare costs more than the statement).
    conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))?;
    Ok(conn)
}

/// The writer's loop: a batch of queued units per transaction, until every sender is gone.
/// Between two batches, a catch-up checkpoint when the checkpointer asked for one.
fn run(conn: &Connection, queue: &mpsc::Receiver<Unit>, catch_up: &AtomicBool) {
    while let Ok(first) = queue.recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(u) => batch.push(u),
                Err(_) => break,
            }
        }
        commit_batch(conn, batch);
        if catch_up.swap(false, Ordering::Relaxed) {
            // Copies what the checkpointer has not yet (little: it copied the rest off this
            // path); with no frame arriving meanwhile it completes, unless a reader still
            // needs an old frame, and then the next batch starts the WAL over.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Unit>) {
    if let Err(e) = step(conn, "BEGIN IMMEDIATE") {
        let message = e.to_string();
        for unit in batch {
            // Not run: answered with the reason nothing could be written.
            let (_, answer) = unit(None);
            answer(Some(&message));
        }
        return;
    }
    let mut answers: Vec<(Answer, Option<String>)> = Vec::with_capacity(batch.len());
    let mut batch = batch.into_iter();
    while let Some(unit) = batch.next() {
        if let Err(e) = step(conn, "SAVEPOINT unit") {
            let message = e.to_string();
            let (_, answer) = unit(None);
            answers.push((answer, Some(message)));
            continue;
        }
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unit(Some(conn))));
        let (keep, answer) = match ran {
            Ok(r) => r,
            // The unit's caller sees its answer channel closed.
            Err(_) => (false, Box::new(|_: Option<&str>| {}) as Answer),
        };
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): what the
            // units before this one wrote is gone too. Tell them, and go on in a new one.
            let message = "SQLite rolled the transaction back after an error".to_owned();
            for (answer, own) in answers.drain(..) {
                answer(Some(own.as_deref().unwrap_or(&message)));
            }
            answer(Some(&message));
            if let Err(e) = step(conn, "BEGIN IMMEDIATE") {
                let message = e.to_string();
                for unit in batch.by_ref() {
                    let (_, answer) = unit(None);
                    answer(Some(&message));
                }
            }
            continue;
        }
        if !keep {
            let _ = step(conn, "ROLLBACK TO unit");
        }
        let _ = step(conn, "RELEASE unit");
        answers.push((answer, None));
    }
    if conn.is_autocommit() {
        // The batch ended with nothing left in a transaction (every unit answered above).
        return;
    }
    let commit = step(conn, "COMMIT").map_err(|e| e.to_string());
    if commit.is_err() && !conn.is_autocommit() {
        let _ = step(conn, "ROLLBACK");
    }
    for (answer, own_error) in answers {
        match (&commit, own_error) {
            (_, Some(e)) => answer(Some(&e)),
            (Err(e), None) => answer(Some(e)),
            (Ok(()), None) => answer(None),
        }
    }
}

fn step(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// The checkpointer: a passive checkpoint whenever the WAL holds more than
/// [`CHECKPOINT_PAGES`] frames not yet copied back, so commits never wait for one.
fn checkpoints(path: &PathBuf, stop: &mpsc::Receiver<()>, catch_up: &AtomicBool) {
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return;
    };
    let _ = conn.busy_timeout(Duration::from_millis(100));
    let mut wait = CHECKPOINT_EVERY;
    // Nothing is ever sent: the sender's drop ends the wait at once.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        // (busy, frames in the WAL, frames checkpointed); a passive checkpoint copies what no
        // reader still needs and never waits for or blocks the writer.
        let frames: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        if let Ok((_, total, _)) = frames
            && total >= RESTART_FRAMES
        {
            catch_up.store(true, Ordering::Relaxed);
        }
        // Small: let it grow a while before the next copy.
        wait = match frames {
            Ok((_, total, _)) if total >= CHECKPOINT_PAGES => CHECKPOINT_EVERY,
            _ => CHECKPOINT_EVERY * 4,
        };
    }
}

/// Statement parameters are written `$1`, `$2`, … (the texts both adapters share); this binds
/// `values[i]` to `$(i+1)` by name, whatever order they first appear in the text.
pub(crate) fn bind(stmt: &mut Statement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for (i, v) in values.iter().enumerate() {
        let name = param_name(i + 1);
        // Where `$N` is the statement's N-th parameter (the usual case: the text names them in
        // order), it is bound by position, which spares a lookup by name per value.
        let index = if stmt.parameter_name(i + 1) == Some(name) {
            Some(i + 1)
        } else {
            stmt.parameter_index(name)?
        };
        if let Some(index) = index {
            stmt.raw_bind_parameter(index, v)?;
        }
    }
    Ok(())
}

/// Runs `sql` with `values` bound as `$1…`; the number of rows changed.
pub(crate) fn exec(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

fn param_name(n: usize) -> &'static str {
    const NAMES: [&str; 24] = [
        "$0", "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13",
        "$14", "$15", "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23",
    ];
    NAMES.get(n).copied().unwrap_or("$invalid")
}

/// A driver failure as the store's error: a unique-key clash is `Conflict(what)`.
pub(crate) fn error(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e
        && matches!(
            f.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return StoreError::conflict(what(), e);
    }
    StoreError::backend_source(e)
}

/// Any driver failure the caller cannot act on.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::backend_source(e)
}
