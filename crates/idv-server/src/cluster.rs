//! Several `idv serve` processes on one PostgreSQL database behave as one.
//!
//! - **Signals**: what a process caches (API keys, Basic logins, workflows' current revisions,
//!   translations) is dropped in every process as soon as it changes. A change is applied here
//!   first ([`AppState::changed`]), then sent as a signal through the database
//!   ([`idv_store::ClusterStore`]: `NOTIFY` on PostgreSQL) right after its commit; every other
//!   process's listener applies it and confirms it (an `ack` signal), and the request that made
//!   the change answers once every instance listening confirmed (at most [`ACK_WAIT`]), so the
//!   client's next request finds it applied wherever it goes. The cache lookups never ask the
//!   database: only the rare changes pay that wait. A listener whose connection was lost
//!   drops every cache once it listens again, since it may have missed signals; the caches'
//!   own short lifetimes bound what a process can miss while it is cut off.
//! - **Wake-ups**: committed events and queued background jobs wake the webhook workers, live
//!   event streams and job workers of every process ([`AppState::events_committed`],
//!   [`AppState::jobs_queued`]), not only this one's; bursts are sent as one signal, off the
//!   request path. Every worker still polls, so a lost signal only delays.
//! - **Leadership**: the scheduler's jobs run in the one process that leads
//!   ([`Cluster::leads`]): a leadership taken through the database (an advisory lock held on a
//!   connection of its own on PostgreSQL), confirmed every [`LEAD_EVERY`], and taken over by
//!   another process within about that long when its holder dies, even killed.
//!
//! SQLite serves one process: there is nothing to signal (changes apply in-process) and that
//! process always leads. Several processes need PostgreSQL.
//!
//! A signal is `<origin>.<n> <kind>[ <id>]`: the sending process's random origin (also its
//! listener's name; a process skips its own signals, already applied) and the change's number
//! in it (0 for wake-ups and confirmations), the kind, and the id of what changed. A
//! confirmation is `<origin>.0 ack <sender's origin>.<n>`.

use crate::state::AppState;
use idv_store::Heard;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the leader confirms its leadership and the others try to take it.
pub const LEAD_EVERY: Duration = Duration::from_secs(1);
/// How long a leadership try may take before this instance stops leading: well under the
/// 15 s after which PostgreSQL ends a silent leader's connection and another can take over, so
/// a leader cut off from the database has stopped starting jobs by then (a run already going
/// finishes).
const LEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The name of the scheduler's leadership.
const SCHEDULER: &str = "scheduler";
/// How long the listener waits before listening again after an error.
const LISTEN_RETRY: Duration = Duration::from_secs(1);
/// How long a change waits for the other instances to confirm it (see [`AppState::changed`]).
const ACK_WAIT: Duration = Duration::from_secs(2);

/// What changed, so every process drops what it cached of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// An API key was revoked or deleted.
    ApiKey(&'a str),
    /// A user (password, roles, active flag, deletion) or a role's permissions.
    Users,
    /// A workflow got a new revision or was deleted.
    Workflow(&'a str),
    /// Translations were stored.
    Translations,
    /// Events were committed: webhook workers and event streams look now.
    Events,
    /// Background jobs were queued: job workers look now.
    Jobs,
}

impl<'a> Change<'a> {
    fn kind(&self) -> &'static str {
        match self {
            Change::ApiKey(_) => "key",
            Change::Users => "users",
            Change::Workflow(_) => "workflow",
            Change::Translations => "translations",
            Change::Events => "events",
            Change::Jobs => "jobs",
        }
    }

    fn id(&self) -> Option<&'a str> {
        match self {
            Change::ApiKey(id) | Change::Workflow(id) => Some(id),
            _ => None,
        }
    }

    /// The change a signal's `kind` and `id` name; `None` for a kind this version does not know
    /// (a newer process's), which is ignored.
    fn parse(kind: &str, id: Option<&'a str>) -> Option<Change<'a>> {
        Some(match (kind, id) {
            ("key", Some(id)) => Change::ApiKey(id),
            ("users", _) => Change::Users,
            ("workflow", Some(id)) => Change::Workflow(id),
            ("translations", _) => Change::Translations,
            ("events", _) => Change::Events,
            ("jobs", _) => Change::Jobs,
            _ => return None,
        })
    }
}

/// This process's part: its origin, whether it leads, and the wake-ups waiting to be sent.
pub struct Cluster {
    /// Random per process: a process skips the signals it sent itself.
    origin: String,
    /// The number of this process's last change signal.
    sent: std::sync::atomic::AtomicU64,
    /// Confirmations heard: (change number, origin of the instance that applied it).
    acks: std::sync::Mutex<Vec<(u64, String)>>,
    /// Woken with every confirmation heard.
    acked: tokio::sync::Notify,
    /// True while a signal listener runs (PostgreSQL): wake-ups are then worth sending.
    listening: AtomicBool,
    /// Whether this process leads the scheduler.
    leads: AtomicBool,
    events_pending: AtomicBool,
    jobs_pending: AtomicBool,
    /// Wakes the task that sends pending wake-ups.
    send_wakeups: tokio::sync::Notify,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            origin: idv_core::ids::random_base36(10),
            sent: Default::default(),
            acks: Default::default(),
            acked: tokio::sync::Notify::new(),
            listening: AtomicBool::new(false),
            leads: AtomicBool::new(false),
            events_pending: AtomicBool::new(false),
            jobs_pending: AtomicBool::new(false),
            send_wakeups: tokio::sync::Notify::new(),
        }
    }
}

impl Cluster {
    /// Whether this process leads the scheduler now (always on SQLite, once started).
    pub fn leads(&self) -> bool {
        self.leads.load(Ordering::Relaxed)
    }

    /// The signal of `change`, numbered `seq` (0: a wake-up, which nothing waits for).
    fn signal(&self, change: &Change<'_>, seq: u64) -> String {
        match change.id() {
            Some(id) => format!("{}.{seq} {} {id}", self.origin, change.kind()),
            None => format!("{}.{seq} {}", self.origin, change.kind()),
        }
    }

    /// Queues a wake-up for the other processes (sent by the task [`start`] runs).
    fn wake_others(&self, flag: &AtomicBool) {
        if self.listening.load(Ordering::Relaxed) && !flag.swap(true, Ordering::AcqRel) {
            self.send_wakeups.notify_one();
        }
    }
}

impl AppState {
    /// Applies `change` to this process's caches, then tells every other process on the
    /// database (after the change's commit: call this once the store has it), and returns once
    /// each instance listening now has confirmed that it applied it (or after [`ACK_WAIT`]), so
    /// a client told "done" finds the change applied in every instance on its next request.
    pub(crate) async fn changed(&self, change: Change<'_>) {
        apply(self, &change);
        let cluster = &self.cluster;
        let others: Vec<String> = if cluster.listening.load(Ordering::Relaxed) {
            match self.store.signal_listeners().await {
                Ok(names) => names.into_iter().filter(|n| *n != cluster.origin).collect(),
                Err(e) => {
                    tracing::warn!("cannot list the other instances: {e}");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let seq = cluster.sent.fetch_add(1, Ordering::AcqRel) + 1;
        if let Err(e) = self.store.signal_send(&cluster.signal(&change, seq)).await {
            tracing::warn!(
                signal = change.kind(),
                "cannot tell the other instances of a change: {e}"
            );
            return;
        }
        if others.is_empty() {
            return;
        }
        let all_confirmed = async {
            loop {
                let woken = cluster.acked.notified();
                let missing = {
                    let acks = cluster.acks.lock().expect("cluster acks");
                    others
                        .iter()
                        .any(|o| !acks.iter().any(|(n, from)| *n == seq && from == o))
                };
                if !missing {
                    return;
                }
                woken.await;
            }
        };
        if tokio::time::timeout(ACK_WAIT, all_confirmed).await.is_err() {
            tracing::warn!(
                signal = change.kind(),
                "not every instance confirmed a change within {} s; it applies there when their caches expire",
                ACK_WAIT.as_secs()
            );
        }
        cluster
            .acks
            .lock()
            .expect("cluster acks")
            .retain(|(n, _)| *n != seq);
    }

    /// Events were committed: wakes the webhook workers and event streams here at once and in
    /// the other processes soon.
    pub(crate) fn events_committed(&self) {
        self.events_wake.notify_waiters();
        self.cluster.wake_others(&self.cluster.events_pending);
    }

    /// Background jobs were queued: wakes a job worker here at once and in the other processes
    /// soon.
    pub(crate) fn jobs_queued(&self) {
        self.jobs_wake.notify_one();
        self.cluster.wake_others(&self.cluster.jobs_pending);
    }
}

/// Drops what `change` made stale, or wakes what it concerns.
fn apply(state: &AppState, change: &Change<'_>) {
    match change {
        Change::ApiKey(id) => state.auth.forget_key(id),
        Change::Users => state.auth.invalidate_users(),
        Change::Workflow(id) => state.workflows.forget_current(id),
        Change::Translations => state.translations.forget(),
        Change::Events => state.events_wake.notify_waiters(),
        Change::Jobs => state.jobs_wake.notify_one(),
    }
}

/// Signals may have been missed: drops every cache and wakes every worker.
fn forget_everything(state: &AppState) {
    state.auth.invalidate_users();
    state.auth.forget_keys();
    state.workflows.forget_all_current();
    state.translations.forget();
    state.events_wake.notify_waiters();
    state.jobs_wake.notify_one();
}

/// Applies one signal heard from the database, unless this process sent it, and confirms a
/// numbered change to its sender.
async fn heard(state: &AppState, signal: &str) {
    tracing::trace!(signal, "signal heard");
    let cluster = &state.cluster;
    let mut parts = signal.splitn(3, ' ');
    let (Some(origin), Some(kind)) = (parts.next(), parts.next()) else {
        return;
    };
    let (origin, seq) = origin.split_once('.').unwrap_or((origin, "0"));
    let id = parts.next();
    if kind == "ack" {
        // `<from>.0 ack <origin>.<n>`: instance `from` applied change `n` of `origin`.
        if let Some((to, n)) = id.and_then(|id| id.split_once('.'))
            && to == cluster.origin
            && let Ok(n) = n.parse::<u64>()
        {
            {
                let mut acks = cluster.acks.lock().expect("cluster acks");
                // A change removes its own when done; the bound only guards against a flood.
                if acks.len() < 10_000 {
                    acks.push((n, origin.to_owned()));
                }
            }
            cluster.acked.notify_waiters();
        }
        return;
    }
    if origin == cluster.origin {
        return;
    }
    match Change::parse(kind, id) {
        Some(change) => apply(state, &change),
        None => tracing::debug!(kind, "signal of an unknown kind ignored"),
    }
    if seq != "0" {
        let ack = format!("{}.0 ack {origin}.{seq}", cluster.origin);
        if let Err(e) = state.store.signal_send(&ack).await {
            tracing::debug!("cannot confirm a change: {e}");
        }
    }
}

/// The cluster's background tasks; [`Running::stop`] ends them and gives up the leadership.
pub struct Running {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts listening for signals, sending wake-ups, and contending for the scheduler's
/// leadership. Returns once the listener listens and leadership was tried once, so changes
/// made elsewhere apply from the first request, and an instance alone leads from the start.
pub async fn start(state: AppState) -> Running {
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    match state.store.signal_listen(&state.cluster.origin).await {
        Ok(Some(listener)) => {
            state.cluster.listening.store(true, Ordering::Relaxed);
            tasks.push(tokio::spawn(listen(state.clone(), listener, stop.clone())));
            tasks.push(tokio::spawn(send_wakeups(state.clone(), stop.clone())));
        }
        Ok(None) => {}
        Err(e) => {
            // Serving still works; other instances' changes show when the caches expire.
            tracing::error!("cannot listen for other instances' changes: {e}");
        }
    }
    match state.store.leader_contender(SCHEDULER).await {
        Ok(mut contender) => {
            contend(&state, &mut contender).await;
            tasks.push(tokio::spawn(lead(state.clone(), contender, stop.clone())));
        }
        Err(e) => tracing::error!("scheduler: cannot contend for leadership: {e}"),
    }
    Running { stop, tasks }
}

async fn listen(
    state: AppState,
    mut listener: Box<dyn idv_store::SignalListener>,
    stop: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = listener.next() => next,
        };
        match next {
            Ok(Heard::Signal(signal)) => heard(&state, &signal).await,
            Ok(Heard::Gap) => {
                tracing::warn!(
                    "signals: the connection to the database was lost and is back; every cache dropped"
                );
                forget_everything(&state);
            }
            Err(e) => {
                tracing::warn!("signals: the listener failed ({e}); listening again");
                forget_everything(&state);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(LISTEN_RETRY) => {}
                }
            }
        }
    }
}

/// The least time between two wake-up signals of one process: under a steady write load a
/// signal per commit would cost the database a statement per session change, for wake-ups the
/// others cannot tell apart.
const WAKE_SPACING: Duration = Duration::from_millis(20);

/// Sends the pending wake-ups, one signal per kind for each burst, and at most one burst per
/// [`WAKE_SPACING`].
async fn send_wakeups(state: AppState, stop: CancellationToken) {
    let cluster = &state.cluster;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = cluster.send_wakeups.notified() => {}
        }
        for (flag, change) in [
            (&cluster.events_pending, Change::Events),
            (&cluster.jobs_pending, Change::Jobs),
        ] {
            if flag.swap(false, Ordering::AcqRel)
                && let Err(e) = state.store.signal_send(&cluster.signal(&change, 0)).await
            {
                tracing::debug!("cannot wake the other instances: {e}");
            }
        }
        // Wake-ups asked for meanwhile go out together after this (the Notify keeps one).
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(WAKE_SPACING) => {}
        }
    }
}

/// One try: takes or confirms the leadership, and logs when that changes. A try that does not
/// answer within [`LEAD_TIMEOUT`] counts as lost, and its connection is given up (the next try
/// makes a new one).
async fn contend(state: &AppState, contender: &mut Box<dyn idv_store::LeaderContender>) {
    let now = match tokio::time::timeout(LEAD_TIMEOUT, contender.lead()).await {
        Ok(Ok(leads)) => leads,
        Ok(Err(e)) => {
            tracing::warn!("scheduler: cannot reach the database for leadership: {e}");
            false
        }
        Err(_) => {
            tracing::warn!(
                "scheduler: the database did not answer about leadership within {} s",
                LEAD_TIMEOUT.as_secs()
            );
            match state.store.leader_contender(SCHEDULER).await {
                Ok(fresh) => *contender = fresh,
                Err(e) => tracing::warn!("scheduler: cannot contend for leadership: {e}"),
            }
            false
        }
    };
    let before = state.cluster.leads.swap(now, Ordering::AcqRel);
    match (before, now) {
        (false, true) => tracing::info!("scheduler: this instance leads"),
        (true, false) => tracing::warn!("scheduler: this instance no longer leads"),
        _ => {}
    }
}

async fn lead(
    state: AppState,
    mut contender: Box<dyn idv_store::LeaderContender>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(LEAD_EVERY) => {}
        }
        contend(&state, &mut contender).await;
    }
    // Dropping the contender closes its connection: another instance takes over at its next try.
    drop(contender);
    state.cluster.leads.store(false, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_their_signal() {
        let cluster = Cluster::default();
        for change in [
            Change::ApiKey("0123456789abcdef01234567"),
            Change::Users,
            Change::Workflow("6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84"),
            Change::Translations,
            Change::Events,
            Change::Jobs,
        ] {
            let signal = cluster.signal(&change, 7);
            let mut parts = signal.splitn(3, ' ');
            let origin = format!("{}.7", cluster.origin);
            assert_eq!(parts.next(), Some(origin.as_str()));
            let kind = parts.next().unwrap();
            assert_eq!(Change::parse(kind, parts.next()), Some(change));
        }
        assert_eq!(
            Change::parse("key", None),
            None,
            "a key signal names its key"
        );
        assert_eq!(Change::parse("newer-kind", Some("x")), None);
    }
}
