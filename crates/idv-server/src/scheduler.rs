//! The scheduler: named jobs run at the times their cron expressions give
//! (`services.scheduler.jobs.<name>.cron`, Regula's keys and defaults).
//!
//! - [`Cron`]: six fields with seconds first (`*/15 * * * * *`), or five with minutes first and
//!   the seconds 0 (`*/5 * * * *`). Each field is a list (`a,b`) of `*`, `*/n`, `a-b` or a
//!   number; nothing else. Times are UTC. [`Cron::next_after`] is a pure function.
//! - [`Scheduler`]: the jobs this server knows ([`jobs`]); [`Scheduler::start`] runs each one the
//!   configuration schedules in its own task until [`Running::stop`]. A run that is still going
//!   when its next fire time comes makes that fire time be skipped, never run twice at once.
//!
//! Only registered jobs run; the configuration accepts every job name Regula's does
//! ([`JOB_NAMES`]) so a Regula `config.yaml` loads unchanged.

use crate::state::AppState;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- configuration

/// Regula's scheduler jobs, with their default cron and `keepFor`. The names are the keys
/// `services.scheduler.jobs` accepts.
pub const JOB_NAMES: &[(&str, &str, Option<&str>)] = &[
    ("reloadWorkflows", "*/15 * * * * *", None),
    ("expireSessions", "*/10 * * * * *", None),
    // Absent `keepFor`: sessions are kept for ever.
    ("cleanSessions", "0 0 3 * * *", None),
    ("expireDeviceLogs", "*/5 * * * *", Some("30d")),
    ("reloadLocales", "*/15 * * * * *", None),
    ("cronWorkflow", "*/30 * * * * *", None),
    ("tempFilesCleanup", "* */1 * * *", Some("1d")),
];

/// `services.scheduler`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// False: this instance runs no scheduled jobs.
    pub enabled: bool,
    /// Job name → schedule. Every name of [`JOB_NAMES`] is present by default.
    pub jobs: BTreeMap<String, JobConfig>,
}

/// `services.scheduler.jobs.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobConfig {
    /// When the job runs; empty: never.
    #[serde(default)]
    pub cron: String,
    /// How long the records a cleaning job removes are kept (`90d`, `12h`, `30m`, `45s`).
    #[serde(default)]
    pub keep_for: Option<Period>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            jobs: JOB_NAMES
                .iter()
                .map(|(name, cron, keep_for)| {
                    let job = JobConfig {
                        cron: (*cron).into(),
                        keep_for: keep_for.map(|k| Period::parse(k).expect("valid default")),
                    };
                    ((*name).to_string(), job)
                })
                .collect(),
        }
    }
}

impl SchedulerConfig {
    /// Checks job names and cron expressions; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (name, job) in &self.jobs {
            if !JOB_NAMES.iter().any(|(n, ..)| n == name) {
                let known: Vec<&str> = JOB_NAMES.iter().map(|(n, ..)| *n).collect();
                return Err(format!(
                    "unknown key `services.scheduler.jobs.{name}`; known jobs: {}",
                    known.join(", ")
                ));
            }
            if !job.cron.trim().is_empty() {
                Cron::parse(&job.cron).map_err(|e| {
                    format!("bad value for `services.scheduler.jobs.{name}.cron`: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// The parsed schedule of `name`, when the scheduler is enabled and the job has a cron.
    pub fn schedule(&self, name: &str) -> Option<Cron> {
        let job = self.jobs.get(name).filter(|_| self.enabled)?;
        if job.cron.trim().is_empty() {
            return None;
        }
        Cron::parse(&job.cron).ok()
    }
}

/// A length of time written `1y`, `2w`, `90d`, `12h`, `30m`, `45s` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(pub u64);

impl Period {
    pub fn parse(text: &str) -> Result<Period, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a period like 90d"))?;
        let mult = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            // Regula's examples write retention as `1y`: 365 days.
            "y" => 365 * 86_400,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}` (use s, m, h, d, w or y)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(Period)
            .ok_or_else(|| format!("`{text}` is too long"))
    }

    /// Seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for Period {
    /// The largest whole unit: `30d`, `12h`, `90s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => write!(f, "0s"),
            n if n.is_multiple_of(86_400) => write!(f, "{}d", n / 86_400),
            n if n.is_multiple_of(3600) => write!(f, "{}h", n / 3600),
            n if n.is_multiple_of(60) => write!(f, "{}m", n / 60),
            n => write!(f, "{n}s"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Period)
                .ok_or_else(|| serde::de::Error::custom("a period must be a whole number")),
            serde_json::Value::String(s) => Period::parse(&s).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "a period must be a number of seconds or a string like 90d",
            )),
        }
    }
}

// ---------------------------------------------------------------- cron

/// A parsed cron expression: a bit set of the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// The day-of-month field starts with `*`: with a restricted day of week, only that counts
    /// (and the reverse). With both restricted a day matching either fires, as in Unix cron.
    any_day: bool,
    any_weekday: bool,
}

/// Field names, ranges, for messages and parsing.
const FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    // 7 is Sunday too.
    ("day of week", 0, 7),
];

impl Cron {
    /// Parses six fields (seconds first) or five (minutes first, at second 0).
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let six: Vec<&str> = match parts.len() {
            6 => parts,
            5 => std::iter::once("0").chain(parts).collect(),
            n => {
                return Err(format!(
                    "`{expr}` has {n} fields; write 6 (second minute hour day month weekday) \
                     or 5 (minute hour day month weekday)"
                ));
            }
        };
        let mut masks = [0u64; 6];
        for (i, (text, (name, lo, hi))) in six.iter().zip(FIELDS).enumerate() {
            masks[i] =
                field(text, lo, hi).map_err(|e| format!("`{expr}`: {name} field `{text}`: {e}"))?;
        }
        // Sunday is 0 and 7.
        if masks[5] & (1 << 7) != 0 {
            masks[5] = (masks[5] | 1) & !(1 << 7);
        }
        let cron = Cron {
            seconds: masks[0],
            minutes: masks[1],
            hours: masks[2],
            days: masks[3],
            months: masks[4],
            weekdays: masks[5],
            any_day: six[3].starts_with('*'),
            any_weekday: six[5].starts_with('*'),
        };
        if cron
            .next_after(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap())
            .is_none()
        {
            return Err(format!("`{expr}` names a day that never comes"));
        }
        Ok(cron)
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let day = bit(self.days, t.day());
        let weekday = bit(self.weekdays, t.weekday().num_days_from_sunday());
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => weekday,
            (false, true) => day,
            (false, false) => day || weekday,
        }
    }

    /// The first fire time strictly after `t` (whole seconds), or `None` when there is none in
    /// the next eight years (only possible for days like February 30).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = t + Duration::days(8 * 366);
        let mut c = t.with_nanosecond(0)? + Duration::seconds(1);
        // Every mask is non-empty, so once a day matches, a time on that day does: this loop
        // runs at most a few thousand times.
        while c <= limit {
            if !bit(self.months, c.month()) {
                let (y, m) = if c.month() == 12 {
                    (c.year() + 1, 1)
                } else {
                    (c.year(), c.month() + 1)
                };
                c = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            } else if !self.day_matches(&c) {
                c = Utc.from_utc_datetime(&c.date_naive().and_hms_opt(0, 0, 0)?)
                    + Duration::days(1);
            } else if !bit(self.hours, c.hour()) {
                c = c.with_minute(0)?.with_second(0)? + Duration::hours(1);
            } else if !bit(self.minutes, c.minute()) {
                c = c.with_second(0)? + Duration::minutes(1);
            } else if !bit(self.seconds, c.second()) {
                c += Duration::seconds(1);
            } else {
                return Some(c);
            }
        }
        None
    }
}

fn bit(mask: u64, n: u32) -> bool {
    mask & (1 << n) != 0
}

/// One field: a comma list of `*`, `*/n`, `a-b` and numbers within `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32) -> Result<u64, String> {
    let number = |s: &str| -> Result<u32, String> {
        let n: u32 = s
            .parse()
            .map_err(|_| format!("`{s}` is not a number (allowed: *, */n, a-b, a,b, n)"))?;
        if n < lo || n > hi {
            return Err(format!("{n} is outside {lo}-{hi}"));
        }
        Ok(n)
    };
    let mut mask = 0u64;
    for item in text.split(',') {
        let (from, to, step) = if item == "*" {
            (lo, hi, 1)
        } else if let Some(step) = item.strip_prefix("*/") {
            let step: u32 = step
                .parse()
                .ok()
                .filter(|s| *s >= 1)
                .ok_or_else(|| format!("`{item}`: the step must be a number from 1"))?;
            (lo, hi, step)
        } else if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("`{item}` runs backwards"));
            }
            (a, b, 1)
        } else {
            let n = number(item)?;
            (n, n, 1)
        };
        let mut v = from;
        while v <= to {
            mask |= 1 << v;
            v += step;
        }
    }
    Ok(mask)
}

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
                Err(e) => tracing::warn!("cleanSessions: {}", e.0.message),
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
                Err(e) => tracing::warn!("auditRetention: {e}"),
            }
        })
    });
    s.register_internal("idempotencyCleanup", "0 */10 * * * *", |state| {
        Box::pin(async move {
            match crate::idempotency::clean_expired(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "idempotencyCleanup: expired keys removed"),
                Err(e) => tracing::warn!("idempotencyCleanup: {}", e.0.message),
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
                Err(e) => tracing::warn!("outboxRetention: {e}"),
            }
        })
    });
    s.register("expireSessions", |state| {
        Box::pin(async move {
            match crate::flow::expire_due(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expireSessions: lifetimes ended"),
                Err(e) => tracing::warn!("expireSessions: {}", e.0.message),
            }
            // Expired device tokens go a day after their expiry (until then they are refused
            // as expired rather than unknown).
            match crate::ops::devices::delete_expired(&state, 86_400_000).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(tokens = n, "expireSessions: expired device tokens deleted")
                }
                Err(e) => tracing::warn!("expireSessions: {}", e.0.message),
            }
        })
    });
    s
}

impl Scheduler {
    /// Adds a job. `name` is its key under `services.scheduler.jobs`, which gives its schedule.
    pub fn register(
        &mut self,
        name: &'static str,
        job: impl Fn(AppState) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> &mut Self {
        self.jobs.push((name, Arc::new(job)));
        self
    }

    /// Adds a job with a fixed schedule `cron` (a valid expression) that has no configuration
    /// key of its own.
    pub fn register_internal(
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
        let now = Utc::now();
        let Some(next) = cron.next_after(now) else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        // Awaited here, so a run never overlaps the previous one: fire times that pass while it
        // runs are skipped. A panic is logged and the next fire time runs as usual.
        let outcome = std::panic::AssertUnwindSafe(job(state.clone()))
            .catch_unwind()
            .await;
        if outcome.is_err() {
            tracing::error!(job = name, "scheduled job panicked");
        }
        let skipped = std::iter::successors(cron.next_after(next), |t| cron.next_after(*t))
            .take_while(|t| *t <= Utc::now())
            .take(1000)
            .count();
        if skipped > 0 {
            tracing::debug!(job = name, skipped, "the run outlasted later fire times");
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr)
            .unwrap_or_else(|e| panic!("{e}"))
            .next_after(at(after))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    }

    #[test]
    fn regulas_defaults_fire_when_expected() {
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:00Z"),
            "2024-05-01T10:00:15Z"
        );
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:14.900Z"),
            "2024-05-01T10:00:15Z"
        );
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:59Z"),
            "2024-05-01T10:01:00Z"
        );
        assert_eq!(
            next("*/10 * * * * *", "2024-12-31T23:59:55Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 3 * * *", "2024-05-01T03:00:00Z"),
            "2024-05-02T03:00:00Z"
        );
        assert_eq!(
            next("0 0 3 * * *", "2024-05-01T02:59:59Z"),
            "2024-05-01T03:00:00Z"
        );
        // Five fields: minutes first, second 0.
        assert_eq!(
            next("*/5 * * * *", "2024-05-01T10:03:20Z"),
            "2024-05-01T10:05:00Z"
        );
        assert_eq!(
            next("* */1 * * *", "2024-05-01T10:03:20Z"),
            "2024-05-01T10:04:00Z"
        );
        assert_eq!(
            next("* * * * * *", "2024-05-01T10:03:20.5Z"),
            "2024-05-01T10:03:21Z"
        );
    }

    #[test]
    fn lists_ranges_days_and_months() {
        assert_eq!(
            next("0 0 9-17 * * *", "2024-05-01T17:30:00Z"),
            "2024-05-02T09:00:00Z"
        );
        assert_eq!(
            next("0 0,30 * * * *", "2024-05-01T10:00:00Z"),
            "2024-05-01T10:30:00Z"
        );
        // 29 February: the next leap year.
        assert_eq!(
            next("0 0 0 29 2 *", "2024-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        // Day of week only: 2024-05-01 is a Wednesday; Sunday is 0 and 7.
        assert_eq!(
            next("0 0 12 * * 0", "2024-05-01T00:00:00Z"),
            "2024-05-05T12:00:00Z"
        );
        assert_eq!(
            next("0 0 12 * * 7", "2024-05-01T00:00:00Z"),
            "2024-05-05T12:00:00Z"
        );
        // Both restricted: either matches (the 3rd, a Friday, comes before the next Monday).
        assert_eq!(
            next("0 0 0 3 * 1", "2024-05-01T00:00:00Z"),
            "2024-05-03T00:00:00Z"
        );
        assert_eq!(
            next("0 0 0 1 1 *", "2024-05-01T00:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 0 31 * *", "2024-04-01T00:00:00Z"),
            "2024-05-31T00:00:00Z"
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for (bad, why) in [
            ("* * * *", "has 4 fields"),
            ("* * * * * * *", "has 7 fields"),
            ("60 * * * * *", "second field `60`: 60 is outside 0-59"),
            ("* * 24 * * *", "hour field"),
            ("* * * 0 * *", "day of month field `0`"),
            ("* * * * 13 *", "month field"),
            ("*/0 * * * * *", "step must be a number from 1"),
            ("5-1 * * * * *", "runs backwards"),
            ("1-5/2 * * * * *", "not a number"),
            ("? * * * * *", "not a number"),
            ("* * * * JAN *", "not a number"),
            ("@hourly", "has 1 fields"),
            ("0 0 0 30 2 *", "never comes"),
            ("", "has 0 fields"),
        ] {
            let err = Cron::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn next_is_strictly_later_and_every_second_fires() {
        let c = Cron::parse("* * * * * *").unwrap();
        let t = at("2024-05-01T10:00:00Z");
        assert_eq!(c.next_after(t), Some(at("2024-05-01T10:00:01Z")));
        let c = Cron::parse("*/7 * * * * *").unwrap();
        let times: Vec<u32> = std::iter::successors(c.next_after(t), |t| c.next_after(*t))
            .take(10)
            .map(|t| t.second())
            .collect();
        assert_eq!(times, [7, 14, 21, 28, 35, 42, 49, 56, 0, 7]);
    }

    #[test]
    fn config_files_and_environment_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        let load = |text: &str, env: Vec<(String, String)>| {
            std::fs::write(&file, text).unwrap();
            crate::config::load(Some(&file), env)
        };
        // Regula's own block loads as is.
        let c = load(
            "services:\n  scheduler:\n    jobs:\n      cleanSessions: {cron: \"0 0 3 * * *\", keepFor: 90d}\n      \
             expireDeviceLogs: {cron: \"*/5 * * * *\", keepFor: 30d}\n",
            vec![(
                "IDV_CONFIG__SERVICES__SCHEDULER__JOBS__RELOADWORKFLOWS__CRON".into(),
                "* * * * * *".into(),
            )],
        )
        .unwrap();
        let jobs = &c.services.scheduler.jobs;
        assert_eq!(jobs["cleanSessions"].keep_for, Some(Period(90 * 86_400)));
        assert_eq!(jobs["reloadWorkflows"].cron, "* * * * * *");
        assert_eq!(jobs["expireSessions"].cron, "*/10 * * * * *");
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      mineBitcoin: {cron: \"* * * * *\"}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("unknown key `services.scheduler.jobs.mineBitcoin`"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      reloadWorkflows: {every: 5}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.reloadWorkflows.every"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      reloadWorkflows: {cron: \"@daily\"}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.reloadWorkflows.cron"),
            "{e}"
        );
        let e = load(
            "services:\n  scheduler:\n    jobs:\n      cleanSessions: {keepFor: 90 days}\n",
            vec![],
        )
        .unwrap_err()
        .0;
        assert!(
            e.contains("services.scheduler.jobs.cleanSessions.keepFor"),
            "{e}"
        );
    }

    #[test]
    fn config_defaults_and_checks() {
        let c = SchedulerConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.jobs["reloadWorkflows"].cron, "*/15 * * * * *");
        assert_eq!(c.jobs["tempFilesCleanup"].keep_for, Some(Period(86_400)));
        assert!(c.schedule("reloadWorkflows").is_some());
        let mut off = c.clone();
        off.enabled = false;
        assert!(off.schedule("reloadWorkflows").is_none());
        let mut bad = c.clone();
        bad.jobs.get_mut("expireSessions").unwrap().cron = "* * *".into();
        let e = bad.validate().unwrap_err();
        assert!(
            e.contains("services.scheduler.jobs.expireSessions.cron"),
            "{e}"
        );
        let mut unknown = c;
        unknown
            .jobs
            .insert("mineBitcoin".into(), unknown.jobs["cleanSessions"].clone());
        let e = unknown.validate().unwrap_err();
        assert!(e.contains("services.scheduler.jobs.mineBitcoin"), "{e}");
        assert_eq!(Period::parse("90d").unwrap(), Period(90 * 86_400));
        assert_eq!(Period::parse("12h").unwrap(), Period(12 * 3600));
        assert_eq!(Period::parse("1y").unwrap(), Period(365 * 86_400));
        assert_eq!(Period(365 * 86_400).to_string(), "365d");
        assert!(Period::parse("3 fortnights").is_err());
        assert_eq!(
            serde_json::to_value(Period(30 * 86_400)).unwrap(),
            serde_json::json!("30d")
        );
    }
}
