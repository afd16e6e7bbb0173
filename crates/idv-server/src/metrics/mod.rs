//! Metrics in the Prometheus text format (version 0.0.4), served as `GET /metrics` on a
//! listener of its own (`metrics.prometheus`, [`server`]), never on the API's port.
//!
//! What is counted, and where:
//!
//! | metric | labels | counted in |
//! | --- | --- | --- |
//! | `idv_api_http_request_total` (counter) | `method`, `route` (the route table's path template), `status` | the route guard (`routes.rs`); unknown paths as route `unmatched` |
//! | `idv_api_http_duration` (histogram) | `method`, `route` | the same, handler time until the answer's head |
//! | `idv_sessions_started_total` | `workflow` | the `session.created` events a write commits |
//! | `idv_sessions_finished_total` | `workflow`, `status`, `end` (`completed`, `expired`) | the `session.completed` / `session.expired` events |
//! | `idv_jobs_total` | `result` (`done`, `failed`, `interrupted`) | the background action runner (`flow::run_workers`) |
//! | `idv_scheduler_runs_total`, `idv_scheduler_failures_total` | `job` | the scheduler (`scheduler.rs`) |
//! | `idv_webhook_attempts_total` | `result` (`ok`, `error`) | the delivery worker |
//! | `idv_webhook_delivery_lag_seconds` (histogram) | | from an event's queueing to its successful attempt |
//! | `idv_webhook_backlog`, `idv_webhook_backlog_oldest_seconds` (gauges) | | sampled from the store at scrape time |
//! | `idv_db_pool_connections` (gauge) | `state` (`idle`, `busy`, `max`) | the pool's counters at scrape time |
//! | `idv_storage_errors_total` | `store` (`database`, `files`) | where a backend failure becomes a 500 (`error.rs`) |
//!
//! The names of the two HTTP metrics are those of Regula's StatsD exporter mapping
//! (`idv_api_http_request_total`, `idv_api_http_duration`, in seconds), so dashboards and
//! autoscaling rules written for it keep working. Recording costs atomics: the
//! per-route counters are made when the router is built, and a request adds to them without a
//! lock or an allocation.

pub(crate) mod family;
pub mod server;

use family::{Family, Histogram, LAG_US, RouteStats};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Backend failures of the database and of file storage, process-wide (they are counted where
/// errors become answers, which has no state at hand).
static STORAGE_ERRORS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Which storage failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Storage {
    Database = 0,
    Files = 1,
}

/// Counts one backend failure of `which`.
pub(crate) fn storage_error(which: Storage) {
    STORAGE_ERRORS[which as usize].fetch_add(1, Relaxed);
}

/// The process's metrics (one per [`crate::state::AppState`]).
pub struct Metrics {
    routes: Mutex<Vec<Arc<RouteStats>>>,
    unmatched: Arc<RouteStats>,
    sessions_started: Family,
    sessions_finished: Family,
    jobs: Family,
    scheduler_runs: Family,
    scheduler_failures: Family,
    webhook_attempts: Family,
    webhook_lag: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            routes: Mutex::default(),
            unmatched: Arc::new(RouteStats::new("*", "unmatched")),
            sessions_started: Family::default(),
            sessions_finished: Family::default(),
            jobs: Family::default(),
            scheduler_runs: Family::default(),
            scheduler_failures: Family::default(),
            webhook_attempts: Family::default(),
            webhook_lag: Histogram::new(LAG_US),
        }
    }
}

/// A route's counters, handed to its guard when the router is built.
#[derive(Clone)]
pub(crate) struct RouteMetrics(Arc<RouteStats>);

impl RouteMetrics {
    /// One answer of the route.
    pub(crate) fn record(&self, status: u16, took: Duration) {
        self.0.record(status, took);
    }
}

/// How a background action ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JobEnd {
    Done,
    Failed,
    Interrupted,
}

impl Metrics {
    /// The counters of a route of the table (the same ones however often the router is built).
    pub(crate) fn route(&self, method: &axum::http::Method, route: &'static str) -> RouteMetrics {
        let method: &'static str = match *method {
            axum::http::Method::GET => "GET",
            axum::http::Method::POST => "POST",
            axum::http::Method::PUT => "PUT",
            axum::http::Method::PATCH => "PATCH",
            axum::http::Method::DELETE => "DELETE",
            axum::http::Method::HEAD => "HEAD",
            axum::http::Method::OPTIONS => "OPTIONS",
            _ => "OTHER",
        };
        let mut routes = self.routes.lock().expect("metrics");
        if let Some(r) = routes
            .iter()
            .find(|r| r.method == method && r.route == route)
        {
            return RouteMetrics(r.clone());
        }
        let r = Arc::new(RouteStats::new(method, route));
        routes.push(r.clone());
        RouteMetrics(r)
    }

    /// The counters of requests no route matched.
    pub(crate) fn unmatched(&self) -> RouteMetrics {
        RouteMetrics(self.unmatched.clone())
    }

    /// Counts the session starts and ends among events a write has committed.
    pub(crate) fn session_events(&self, events: &[idv_store::NewEvent]) {
        for e in events {
            let end = match e.kind.as_str() {
                crate::events::SESSION_CREATED => {
                    let workflow = e.workflow_id.as_deref().unwrap_or("");
                    self.sessions_started.inc(&[("workflow", workflow)]);
                    continue;
                }
                crate::events::COMPLETED => "completed",
                crate::events::EXPIRED => "expired",
                _ => continue,
            };
            let workflow = e.workflow_id.as_deref().unwrap_or("");
            let status = e
                .data
                .get("status")
                .and_then(|s| s.as_i64())
                .and_then(idv_core::status::name)
                .unwrap_or("unknown");
            self.sessions_finished
                .inc(&[("workflow", workflow), ("status", status), ("end", end)]);
        }
    }

    pub(crate) fn job(&self, end: JobEnd) {
        let result = match end {
            JobEnd::Done => "done",
            JobEnd::Failed => "failed",
            JobEnd::Interrupted => "interrupted",
        };
        self.jobs.inc(&[("result", result)]);
    }

    /// One run of a scheduled job, and whether it failed.
    pub(crate) fn scheduled(&self, job: &str, failed: bool) {
        self.scheduler_runs.inc(&[("job", job)]);
        if failed {
            self.scheduler_failures.inc(&[("job", job)]);
        }
    }

    /// One webhook attempt; `lag` from the event's queueing when it was delivered.
    pub(crate) fn webhook_attempt(&self, ok: bool, lag: Option<Duration>) {
        self.webhook_attempts
            .inc(&[("result", if ok { "ok" } else { "error" })]);
        if let Some(lag) = lag {
            self.webhook_lag.observe(lag);
        }
    }

    /// The whole text: the counters, then the gauges sampled now from `store`.
    pub async fn render(&self, store: &dyn idv_store::Store, now_ms: i64) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let (mut requests, mut duration) = (String::new(), String::new());
        let routes: Vec<Arc<RouteStats>> = self.routes.lock().expect("metrics").clone();
        for r in routes.iter().chain([&self.unmatched]) {
            r.write(&mut requests, &mut duration);
        }
        head(
            &mut out,
            "idv_api_http_request_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        out.push_str(&requests);
        head(
            &mut out,
            "idv_api_http_duration",
            "histogram",
            "Time from a request's arrival at its route to its answer's head, in seconds.",
        );
        out.push_str(&duration);
        for (name, help, family) in [
            (
                "idv_sessions_started_total",
                "Sessions started, by workflow.",
                &self.sessions_started,
            ),
            (
                "idv_sessions_finished_total",
                "Sessions that reached a final step or expired, by workflow, status and end.",
                &self.sessions_finished,
            ),
            (
                "idv_jobs_total",
                "Background workflow actions run by this process, by result.",
                &self.jobs,
            ),
            (
                "idv_scheduler_runs_total",
                "Scheduled job runs, by job.",
                &self.scheduler_runs,
            ),
            (
                "idv_scheduler_failures_total",
                "Scheduled job runs that failed, by job.",
                &self.scheduler_failures,
            ),
            (
                "idv_webhook_attempts_total",
                "Webhook delivery attempts, by result (ok: a 2xx answer).",
                &self.webhook_attempts,
            ),
        ] {
            head(&mut out, name, "counter", help);
            family.write(&mut out, name);
        }
        head(
            &mut out,
            "idv_webhook_delivery_lag_seconds",
            "histogram",
            "Time from an event's queueing to its successful delivery, in seconds.",
        );
        self.webhook_lag
            .write(&mut out, "idv_webhook_delivery_lag_seconds", "");
        head(
            &mut out,
            "idv_storage_errors_total",
            "counter",
            "Backend failures of the database and of file storage that failed a request.",
        );
        for (store_name, i) in [("database", Storage::Database), ("files", Storage::Files)] {
            let _ = writeln!(
                out,
                "idv_storage_errors_total{{store=\"{store_name}\"}} {}",
                STORAGE_ERRORS[i as usize].load(Relaxed)
            );
        }
        let pool = store.pool_stats();
        head(
            &mut out,
            "idv_db_pool_connections",
            "gauge",
            "Database pool connections: idle, busy, and the most allowed (max).",
        );
        for (state, n) in [
            ("idle", pool.idle),
            ("busy", pool.open.saturating_sub(pool.idle)),
            ("max", pool.max),
        ] {
            let _ = writeln!(out, "idv_db_pool_connections{{state=\"{state}\"}} {n}");
        }
        // A failing database leaves the gauges out rather than failing the scrape.
        match tokio::time::timeout(Duration::from_secs(2), store.delivery_backlog()).await {
            Ok(Ok(backlog)) => {
                head(
                    &mut out,
                    "idv_webhook_backlog",
                    "gauge",
                    "Webhook deliveries waiting to be sent.",
                );
                let _ = writeln!(out, "idv_webhook_backlog {}", backlog.pending);
                head(
                    &mut out,
                    "idv_webhook_backlog_oldest_seconds",
                    "gauge",
                    "Age of the oldest webhook delivery waiting to be sent (0: none).",
                );
                let age = backlog
                    .oldest_created_at
                    .map_or(0, |t| now_ms.saturating_sub(t).max(0));
                let _ = writeln!(
                    out,
                    "idv_webhook_backlog_oldest_seconds {}.{:03}",
                    age / 1000,
                    age % 1000
                );
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the webhook backlog"),
            Err(_) => tracing::warn!("metrics: the webhook backlog query took over 2 s"),
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, workflow: &str, status: i64) -> idv_store::NewEvent {
        idv_store::NewEvent {
            id: format!("evt_{kind}"),
            kind: kind.into(),
            created_at: 0,
            session_id: Some("s".into()),
            workflow_id: Some(workflow.into()),
            owner_id: None,
            data: json!({"status": status}),
        }
    }

    /// Every family is in the text with what was counted, on a real (in-memory SQLite) store.
    #[tokio::test]
    async fn the_text_has_what_was_counted() {
        let store = idv_store_sqlite::SqliteStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let m = Metrics::default();
        let get = m.route(&axum::http::Method::GET, "/api/sessions/{id}");
        // Built twice (the router may be): the same counters.
        m.route(&axum::http::Method::GET, "/api/sessions/{id}")
            .record(200, Duration::from_millis(3));
        get.record(404, Duration::from_millis(30));
        m.session_events(&[
            event(crate::events::SESSION_CREATED, "wf-1", 0),
            event(crate::events::STEP_COMPLETED, "wf-1", 0),
            event(crate::events::COMPLETED, "wf-1", 2),
            event(crate::events::EXPIRED, "wf-\"2\"", 0),
        ]);
        m.job(JobEnd::Done);
        m.job(JobEnd::Failed);
        m.scheduled("cleanSessions", false);
        m.scheduled("cleanSessions", true);
        m.webhook_attempt(true, Some(Duration::from_secs(2)));
        m.webhook_attempt(false, None);
        let text = m.render(&store, 10_000).await;
        for line in [
            "idv_api_http_request_total{method=\"GET\",route=\"/api/sessions/{id}\",status=\"200\"} 1",
            "idv_api_http_request_total{method=\"GET\",route=\"/api/sessions/{id}\",status=\"404\"} 1",
            "idv_api_http_duration_bucket{method=\"GET\",route=\"/api/sessions/{id}\",le=\"0.005\"} 1",
            "idv_api_http_duration_count{method=\"GET\",route=\"/api/sessions/{id}\"} 2",
            "idv_sessions_started_total{workflow=\"wf-1\"} 1",
            "idv_sessions_finished_total{workflow=\"wf-1\",status=\"verified\",end=\"completed\"} 1",
            "idv_sessions_finished_total{workflow=\"wf-\\\"2\\\"\",status=\"not_completed\",end=\"expired\"} 1",
            "idv_jobs_total{result=\"done\"} 1",
            "idv_jobs_total{result=\"failed\"} 1",
            "idv_scheduler_runs_total{job=\"cleanSessions\"} 2",
            "idv_scheduler_failures_total{job=\"cleanSessions\"} 1",
            "idv_webhook_attempts_total{result=\"ok\"} 1",
            "idv_webhook_attempts_total{result=\"error\"} 1",
            "idv_webhook_delivery_lag_seconds_bucket{le=\"5\"} 1",
            "idv_webhook_backlog 0",
            "idv_webhook_backlog_oldest_seconds 0.000",
            "# TYPE idv_db_pool_connections gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
        assert!(!text.contains("step_completed"));
    }
}
