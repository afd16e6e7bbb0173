//! The scheduler: named jobs run at the times their cron expressions give
//! (`services.scheduler.jobs.<name>.cron`, Regula's keys and defaults).
//!
//! - [`Cron`] ([`crate::config::cron`]): six fields with seconds first (`*/15 * * * * *`), or
//!   five with minutes first and the seconds 0 (`*/5 * * * *`). Times are UTC.
//! - [`Scheduler`]: the jobs this server knows ([`jobs`]); [`Scheduler::start`] runs each one the
//!   configuration schedules in its own task until [`Running::stop`]. A run that is still going
//!   when its next fire time comes makes that fire time be skipped, never run twice at once.
//!
//! Where several instances share a PostgreSQL database, each fire time runs in the one instance
//! that leads ([`crate::cluster`]); the others skip it. On SQLite the one instance leads.
//!
//! Only registered jobs run; the configuration accepts every job name Regula's does
//! ([`JOB_NAMES`]) so a Regula `config.yaml` loads unchanged.

pub use crate::config::cron::Cron;
pub use crate::config::scheduler::{JOB_NAMES, JobConfig, Period, SchedulerConfig};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- running jobs

/// A job: given the state, a future that does one run.
pub type Job = Arc<dyn Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync>;

/// The jobs a server can run, by name.
#[derive(Default)]
pub struct Scheduler {
    jobs: Vec<(&'static str, Job)>,
    /// Jobs of this server that Regula's configuration has no key for, on a fixed schedule
    /// (they run whenever `services.scheduler.enabled` is true).
    internal: Vec<(&'static str, Cron, Job)>,
}

/// The jobs this server runs. To add one, register it here under its Regula name, e.g.
/// `s.register("expireSessions", |state| Box::pin(async move { … }));`.
pub fn jobs() -> Scheduler {
    let mut s = Scheduler::default();
    s.register("reloadWorkflows", reload_workflows());
    s.register("cleanSessions", |state| {
        Box::pin(async move {
            let keep_for = state
                .config
                .services
                .scheduler
                .jobs
                .get("cleanSessions")
                .and_then(|j| j.keep_for)
                .map(|p| i64::try_from(p.seconds().saturating_mul(1000)).unwrap_or(i64::MAX));
            match crate::ops::deletion::clean_sessions(&state, keep_for).await {
                Ok(r) if r == Default::default() => {}
                Ok(r) => tracing::info!(
                    deleted = r.deleted,
                    swept = r.swept,
                    "cleanSessions: retention ran"
                ),
                Err(e) => failed("cleanSessions", e.0.message),
            }
        })
    });
    // Audit retention (services.audit.*.keepFor) and expired idempotency keys.
    s.register_internal("auditRetention", "0 */10 * * * *", |state| {
        Box::pin(async move {
            let now = state.clock.now_ms();
            match crate::audit::verify::apply_retention(
                state.store.as_ref(),
                &state.config.services.audit,
                now,
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(entries = n, "auditRetention: old audit entries removed"),
                Err(e) => failed("auditRetention", e),
            }
        })
    });
    s.register_internal("idempotencyCleanup", "0 */10 * * * *", |state| {
        Box::pin(async move {
            match crate::idempotency::clean_expired(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "idempotencyCleanup: expired keys removed"),
                Err(e) => failed("idempotencyCleanup", e.0.message),
            }
        })
    });
    // The dashboard's counters summed into one row per key (PostgreSQL appends a row per
    // change; SQLite has nothing to do).
    s.register_internal("sessionCountsCompact", "*/5 * * * * *", |state| {
        Box::pin(async move {
            if let Err(e) = state.store.session_counts_compact().await {
                failed("sessionCountsCompact", e);
            }
        })
    });
    // Events and finished webhook deliveries older than services.webhooks.keepEventsFor.
    s.register_internal("outboxRetention", "0 */10 * * * *", |state| {
        Box::pin(async move {
            let keep = state.config.services.webhooks.keep_events_ms();
            let before = state.clock.now_ms().saturating_sub(keep);
            match state.store.outbox_prune(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    rows = n,
                    "outboxRetention: old events and deliveries removed"
                ),
                Err(e) => failed("outboxRetention", e),
            }
        })
    });
    s.register("expireSessions", |state| {
        Box::pin(async move {
            match crate::flow::expire_due(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expireSessions: lifetimes ended"),
                Err(e) => failed("expireSessions", e.0.message),
            }
            // Expired device tokens go a day after their expiry (until then they are refused
            // as expired rather than unknown).
            match crate::ops::devices::delete_expired(&state, 86_400_000).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(tokens = n, "expireSessions: expired device tokens deleted")
                }
                Err(e) => failed("expireSessions", e.0.message),
            }
        })
    });
    s
}

impl Scheduler {
    /// Adds a job. `name` is its key under `services.scheduler.jobs`, which gives its schedule.
    pub(crate) fn register(
        &mut self,
        name: &'static str,
        job: impl Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> &mut Self {
        self.jobs.push((name, Arc::new(job)));
        self
    }

    /// Adds a job with a fixed schedule `cron` (a valid expression) that has no configuration
    /// key of its own.
    pub(crate) fn register_internal(
        &mut self,
        name: &'static str,
        cron: &str,
        job: impl Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> &mut Self {
        let cron = Cron::parse(cron).expect("internal job schedules are valid");
        self.internal.push((name, cron, Arc::new(job)));
        self
    }

    /// Runs every registered job the configuration schedules, each in its own task.
    pub fn start(self, state: AppState) -> Running {
        let token = CancellationToken::new();
        let config = &state.config.services.scheduler;
        let mut tasks = Vec::new();
        for (name, cron, job) in self.internal {
            if config.enabled {
                tasks.push(tokio::spawn(run(
                    name,
                    cron,
                    job,
                    state.clone(),
                    token.clone(),
                )));
            }
        }
        for (name, job) in self.jobs {
            let Some(cron) = config.schedule(name) else {
                tracing::debug!(job = name, "not scheduled");
                continue;
            };
            tracing::debug!(job = name, cron = %config.jobs[name].cron, "scheduled");
            tasks.push(tokio::spawn(run(
                name,
                cron,
                job,
                state.clone(),
                token.clone(),
            )));
        }
        Running { token, tasks }
    }
}

/// The running jobs; [`Running::stop`] ends them.
pub struct Running {
    token: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops scheduling and waits (up to 10 s each) for runs in progress to finish.
    pub async fn stop(self) {
        self.token.cancel();
        for mut task in self.tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(10), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

async fn run(name: &'static str, cron: Cron, job: Job, state: AppState, stop: CancellationToken) {
    loop {
        let now = wall_clock(&state);
        let Some(next) = cron.next_after(now) else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        // One instance runs the jobs: the one that leads ([`crate::cluster`]).
        if !state.cluster.leads() {
            tracing::trace!(job = name, "another instance leads; not run here");
            continue;
        }
        // Awaited here, so a run never overlaps the previous one: fire times that pass while it
        // runs are skipped. A panic is logged and the next fire time runs as usual.
        let outcome = FAILED
            .scope(
                std::cell::Cell::new(false),
                std::panic::AssertUnwindSafe(async {
                    let ran = std::panic::AssertUnwindSafe(job(state.clone()))
                        .catch_unwind()
                        .await;
                    (ran.is_err(), FAILED.with(|f| f.get()))
                }),
            )
            .await;
        let (panicked, failed) = outcome;
        if panicked {
            tracing::error!(job = name, "scheduled job panicked");
        }
        state.metrics.scheduled(name, panicked || failed);
        let skipped = std::iter::successors(cron.next_after(next), |t| cron.next_after(*t))
            .take_while(|t| *t <= wall_clock(&state))
            .take(1000)
            .count();
        if skipped > 0 {
            tracing::debug!(job = name, skipped, "the run outlasted later fire times");
        }
    }
}

tokio::task_local! {
    /// Set by [`failed`] during a run of a job: the run counts as failed in the metrics.
    static FAILED: std::cell::Cell<bool>;
}

/// Logs a scheduled job's failure (a warning) and counts its run as failed.
fn failed(job: &str, message: impl std::fmt::Display) {
    let _ = FAILED.try_with(|f| f.set(true));
    tracing::warn!("{job}: {message}");
}

/// Now on the server's clock, to the millisecond.
fn wall_clock(state: &AppState) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(state.clock.now_ms()).unwrap_or_default()
}

/// `reloadWorkflows`: the workflows and localization folders again. A refused file is logged
/// once per distinct set of problems (not every 15 seconds), and changes nothing stored.
fn reload_workflows() -> impl Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync + 'static {
    let reported: Arc<std::sync::Mutex<BTreeMap<String, String>>> = Arc::default();
    move |state| {
        let reported = reported.clone();
        Box::pin(async move {
            let summary = crate::ops::workflows::reload(&state).await;
            for w in summary.workflows.iter().filter(|w| w.changed) {
                tracing::info!(file = %w.file, id = %w.id, revision = w.revision, "workflow reloaded");
            }
            let mut reported = reported.lock().expect("reload report");
            let mut now_refused = BTreeMap::new();
            for refused in &summary.problems {
                let text = serde_json::to_string(&refused.problems).unwrap_or_default();
                if reported.get(&refused.file) != Some(&text) {
                    tracing::warn!(file = %refused.file, problems = %text, "workflow file refused; the stored revision stays");
                }
                now_refused.insert(refused.file.clone(), text);
            }
            *reported = now_refused;
        })
    }
}
