//! The `ClusterStore` port: what several server processes on one database tell each other
//! through it. Signals (a short text: "this changed") reach every process listening on the same
//! database, so each drops what it cached; a leadership names one process among those that
//! contend for it, so a job on a schedule runs in one place only.
//!
//! PostgreSQL serves several processes: signals are `LISTEN`/`NOTIFY` on one channel, and a
//! leadership is a session-level advisory lock held on a connection of its own (released by the
//! server when that connection ends, so a killed process loses it at once). SQLite serves one
//! process: there are no signals to hear, and the one process always leads.

use crate::StoreResult;
use async_trait::async_trait;

/// The longest signal text an adapter must carry (PostgreSQL's limit is about 8000 bytes).
pub const SIGNAL_MAX_LEN: usize = 1000;
/// The longest listener name an adapter must keep.
pub const LISTENER_NAME_MAX_LEN: usize = 40;

/// Signals between processes on one database, and leaderships among them.
#[async_trait]
pub trait ClusterStore: Send + Sync + 'static {
    /// Sends `signal` (at most [`SIGNAL_MAX_LEN`] bytes) to every listener on this database,
    /// those of this process included. Nothing where the database serves one process.
    async fn signal_send(&self, signal: &str) -> StoreResult<()>;

    /// A listener named `name` (at most [`LISTENER_NAME_MAX_LEN`] bytes, no space) that hears
    /// every signal sent after this returns; `None` where the database serves one process
    /// (SQLite), so there is nothing to hear.
    async fn signal_listen(&self, name: &str) -> StoreResult<Option<Box<dyn SignalListener>>>;

    /// The names of the listeners connected now, in any order, one per listener (empty where
    /// the database serves one process). A sender can wait for each to answer a signal.
    async fn signal_listeners(&self) -> StoreResult<Vec<String>>;

    /// A contender for the leadership named `name`; see [`LeaderContender::lead`].
    async fn leader_contender(&self, name: &str) -> StoreResult<Box<dyn LeaderContender>>;
}

/// What a [`SignalListener`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A signal, as sent.
    Signal(String),
    /// The connection was lost and is back: signals sent meanwhile were missed, so whatever
    /// they would have invalidated must be treated as changed.
    Gap,
}

/// Hears the signals of [`ClusterStore::signal_send`].
#[async_trait]
pub trait SignalListener: Send {
    /// Waits for the next signal. When the connection is lost it connects again (trying every
    /// second until the database answers) and then answers [`Heard::Gap`]; an error says what
    /// broke, and the next call connects again.
    async fn next(&mut self) -> StoreResult<Heard>;
}

/// One process's claim on a leadership.
#[async_trait]
pub trait LeaderContender: Send {
    /// Whether this contender leads now: takes the leadership when no one holds it, and
    /// confirms it while held. At most one contender of a name leads at a time across every
    /// process on the database; one whose process ended (even killed) or whose connection was
    /// lost leads no more, and another can take it on its next call. An error means the
    /// database did not answer: this contender does not lead (the next call reconnects).
    /// Dropping the contender gives the leadership up.
    async fn lead(&mut self) -> StoreResult<bool>;
}
