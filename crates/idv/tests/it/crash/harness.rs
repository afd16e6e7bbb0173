//! What the crash tests share: the knobs and seed of a run, the load's clients' view of the
//! server (its address while it is up, and what each request's answer means), the loop that
//! kills and restarts the server under the load, the check of many sessions at once, and the
//! audit chain's verification.

use crate::support::{self, PASSWORD, PgDatabase, Serve};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Writes acknowledged after a (re)start before the next kill may come.
const WARM_UP_WRITES: usize = 20;
/// How long after the warm-up a kill comes, at random (milliseconds).
const KILL_DELAY_MS: std::ops::Range<u64> = 500..4000;

/// A line of figures on standard error, written past the test harness's capture so that a
/// plain `cargo test` shows it too.
pub(crate) fn figure(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One run: where its server keeps its data, how often it is killed, and the seed of its
/// random choices.
pub(crate) struct Run {
    /// How its figures and failures are labelled, e.g. `crash[sqlite]`.
    pub(crate) label: String,
    pub(crate) dir: PathBuf,
    pub(crate) database: String,
    pub(crate) kills: usize,
    pub(crate) seed: u64,
    pub(crate) began: Instant,
}

impl Run {
    /// A run with the seed of `IDV_CRASH_SEED` (else the time of day) and the number of kills
    /// of `IDV_CRASH_KILLS` (else 5); prints the seed.
    pub(crate) fn new(label: String, dir: PathBuf, database: String) -> Arc<Run> {
        let seed = std::env::var("IDV_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        let kills: usize = std::env::var("IDV_CRASH_KILLS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5);
        figure(format_args!(
            "{label}: seed {seed} (IDV_CRASH_SEED={seed} reuses its random choices)"
        ));
        Arc::new(Run {
            label,
            dir,
            database,
            kills,
            seed,
            began: Instant::now(),
        })
    }

    pub(crate) fn secs(&self) -> f64 {
        self.began.elapsed().as_secs_f64()
    }

    /// Starts `idv serve` on the run's data, the `n`th time; blocks the thread.
    fn start(&self, n: usize) -> Serve {
        support::serve(&self.dir, &self.database, &format!("serve-{n}.log"), &[])
    }

    /// `idv audit verify` over the run's database (with no server running): whether it
    /// passed, and a line saying so.
    pub(crate) fn audit_verify(&self) -> (bool, String) {
        let out = support::idv(&self.dir, &self.database)
            .args(["audit", "verify"])
            .output()
            .unwrap();
        let verdict = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && verdict.starts_with("OK: ") {
            (
                true,
                format!("audit chain ok ({})", verdict.trim_start_matches("OK: ")),
            )
        } else {
            (
                false,
                format!(
                    "audit chain NOT ok: {verdict} {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        }
    }
}

/// What the load's clients share with the test: the server's address (None while it is down),
/// the stop signal, and figures.
pub(crate) struct Shared {
    pub(crate) url: watch::Receiver<Option<String>>,
    pub(crate) stop: AtomicBool,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) acknowledged: AtomicUsize,
    pub(crate) http: reqwest::Client,
}

/// What became of one request.
pub(crate) enum Outcome {
    /// Answered 2xx, with this body.
    Ack(Vec<u8>),
    Refused(String),
    /// No connection could be made (the server is down): nothing was sent.
    NotSent,
    /// Sent, and no answer came (the server was killed): it may or may not have happened.
    Doubt,
}

impl Shared {
    /// Sends a request as `admin`.
    pub(crate) async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> Outcome {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = async {
            let r = rb.basic_auth("admin", Some(PASSWORD)).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        match answer {
            Ok((status, body)) if status.is_success() => {
                self.acknowledged.fetch_add(1, Ordering::SeqCst);
                Outcome::Ack(body.to_vec())
            }
            Ok((status, body)) => Outcome::Refused(format!(
                "{what}: {status} {}",
                String::from_utf8_lossy(&body)
            )),
            // A timeout is not a kill's doing: the server hung.
            Err(e) if e.is_timeout() => Outcome::Refused(format!("{what}: timed out: {e}")),
            Err(e) if e.is_connect() => Outcome::NotSent,
            Err(_) => Outcome::Doubt,
        }
    }

    /// The server's address, once it is up; None once the load is over.
    pub(crate) async fn up(&self, rx: &mut watch::Receiver<Option<String>>) -> Option<String> {
        match rx.wait_for(Option::is_some).await {
            Ok(u) => u.clone(),
            Err(_) => None,
        }
    }
}

/// What is left after the load: the server of the last start (still running), the clients'
/// results in the order they were started, and figures.
pub(crate) struct Loaded<T> {
    pub(crate) serve: Serve,
    pub(crate) http: reqwest::Client,
    pub(crate) results: Vec<T>,
    /// When each kill came, and how many requests were in flight.
    pub(crate) kill_points: Vec<String>,
    /// Seconds from the run's start to the end of the load.
    pub(crate) load_secs: f64,
}

/// Waits until `n` more writes than `base` are acknowledged; fails the test after 120 s.
async fn warm_up(shared: &Shared, base: usize, run: &Run, serve: &Serve, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.acknowledged.load(Ordering::SeqCst) < base + WARM_UP_WRITES {
        assert!(
            Instant::now() < deadline,
            "{}: no writes acknowledged within 120 s after {after}; log:\n{}",
            run.label,
            serve.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts the server, loads `setup` (a workflow, then perhaps its translations, as YAML) and
/// runs `clients` clients (`client(shared, n)`) against it while it is killed with SIGKILL
/// `run.kills` times, each at a random moment after some writes were acknowledged since the
/// last start, and started again on the same data. After some writes on the last start the
/// clients are told to stop; returns once they all have.
pub(crate) async fn drive<T, F, Fut>(
    run: &Arc<Run>,
    setup: &[(&str, &str)],
    clients: usize,
    client: F,
) -> Loaded<T>
where
    F: Fn(Arc<Shared>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut rng = StdRng::seed_from_u64(run.seed);
    let r = run.clone();
    let mut serve = tokio::task::spawn_blocking(move || r.start(0))
        .await
        .unwrap();
    serve.ready().await;
    for (path, yaml) in setup {
        let r = serve
            .req(reqwest::Method::POST, path)
            .header("content-type", "application/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }

    let (url_tx, url_rx) = watch::channel(Some(serve.url.clone()));
    let shared = Arc::new(Shared {
        url: url_rx,
        stop: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        acknowledged: AtomicUsize::new(0),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    });
    let handles: Vec<_> = (0..clients)
        .map(|n| tokio::spawn(client(shared.clone(), n)))
        .collect();

    let mut kill_points = vec![];
    for k in 1..=run.kills {
        // Let the load get going again, then kill at a random moment within it.
        let base = shared.acknowledged.load(Ordering::SeqCst);
        warm_up(&shared, base, run, &serve, &format!("start {}", k - 1)).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(KILL_DELAY_MS))).await;
        // Marked down first, so clients wait for the next start instead of trying this one.
        url_tx.send_replace(None);
        let in_flight = shared.in_flight.load(Ordering::SeqCst);
        serve.kill();
        kill_points.push(format!("{:.1} s ({in_flight} in flight)", run.secs()));
        let r = run.clone();
        serve = tokio::task::spawn_blocking(move || r.start(k))
            .await
            .unwrap();
        serve.ready().await;
        url_tx.send_replace(Some(serve.url.clone()));
    }
    // Some load on the last start too, then stop.
    let base = shared.acknowledged.load(Ordering::SeqCst);
    warm_up(&shared, base, run, &serve, "the last start").await;
    shared.stop.store(true, Ordering::SeqCst);
    let mut results = vec![];
    for h in handles {
        results.push(h.await.unwrap());
    }
    Loaded {
        serve,
        http: shared.http.clone(),
        results,
        kill_points,
        load_secs: run.secs(),
    }
}

/// Checks every item with `check`, `tasks` at once; returns what each check found, in no
/// particular order.
pub(crate) async fn check_all<T, R, F, Fut>(items: Vec<T>, tasks: usize, check: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let mut parts: Vec<Vec<T>> = (0..tasks).map(|_| vec![]).collect();
    for (i, t) in items.into_iter().enumerate() {
        parts[i % tasks].push(t);
    }
    let checkers: Vec<_> = parts
        .into_iter()
        .map(|part| {
            let check = check.clone();
            tokio::spawn(async move {
                let mut found = vec![];
                for t in part {
                    found.push(check(t).await);
                }
                found
            })
        })
        .collect();
    let mut found = vec![];
    for c in checkers {
        found.extend(c.await.unwrap());
    }
    found
}

/// Runs `run` on SQLite in a fresh folder.
pub(crate) async fn on_sqlite<F, Fut>(run: F)
where
    F: FnOnce(PathBuf, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("idv.db").display());
    run(dir.path().to_owned(), database).await;
}

/// Runs `run` on a fresh PostgreSQL database (named `{prefix}_…`), which is dropped afterwards
/// whether the run passes or not.
pub(crate) async fn on_postgres<F, Fut>(prefix: &str, run: F)
where
    F: FnOnce(PathBuf, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let db = PgDatabase::create(prefix).await;
    // Run apart, so the database is dropped whether the run passes or not.
    let outcome = tokio::spawn(run(dir.path().to_owned(), db.url.clone())).await;
    db.drop_now().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
