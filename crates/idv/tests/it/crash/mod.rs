//! Crash safety of real `idv serve` processes, on SQLite and PostgreSQL: several clients send a
//! mixed write load (sessions, step data, file uploads, reviews, deletions) while the server is
//! killed with SIGKILL at random moments and started again on the same data. Afterwards every
//! write that was answered 2xx is there (every file byte for byte), nothing that was refused or
//! never sent is, deleted sessions answer 410 `session_deleted`, and `idv audit verify` passes.
//!
//! A write cut off by a kill (no answer) may or may not have happened: its session is left
//! alone from then on, and the check accepts both outcomes for that one write, but nothing in
//! between (a review without its history entry, a data file without its property, a step
//! moved without its data, a multipart upload with some of its parts).
//!
//! Each run prints its seed and figures; `IDV_CRASH_SEED=<seed>` reuses a run's random choices
//! (kill delays, each client's writes and data; the timing of the machine still varies), and
//! `IDV_CRASH_KILLS=<n>` changes the number of kills (5).

use crate::support;

mod check;
mod load;

use check::check;
use load::{CLIENTS, Counts, Shared, client};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{PgDatabase, Serve};
use tokio::sync::watch;

pub(crate) const WF_ID: &str = "6a0f7f20-0005-11ef-8000-00000000e005";
/// Files are uploaded in PHOTO; `{"continue": true}` moves the session to FORM, whose data
/// submissions each store the data as a file and set `NOTE`, leaving the session in FORM.
const WORKFLOW: &str = r#"
id: 6a0f7f20-0005-11ef-8000-00000000e005
name: Crash checks
version: "1"
lifetime: 86400
defaultLocale: en-us
steps:
  - id: PHOTO
    name: PHOTO
    type: DATA
    conditions:
      - name: Next
        transit: {step: FORM}
        rules: [{id: always, decision: true}]
  - id: FORM
    name: FORM
    type: DATA
    transformers:
      - id: FORM_T
properties:
  - {id: NOTE, type: str}
transformers:
  - id: FORM_T
    name: FORM_T
    type: json
    extracts:
      - {id: NOTE, rule: $.note}
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;
/// Writes acknowledged after a (re)start before the next kill may come.
const WARM_UP_WRITES: usize = 20;

/// A line of figures on standard error, written past the test harness's capture so that a
/// plain `cargo test` shows it too.
fn figure(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

struct Run {
    dir: PathBuf,
    database: String,
    kills: usize,
    seed: u64,
}

fn start(run: &Run, n: usize) -> Serve {
    support::serve(&run.dir, &run.database, &format!("serve-{n}.log"), &[])
}

async fn crash_run(backend: &'static str, dir: PathBuf, database: String) {
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
    let run = Arc::new(Run {
        dir,
        database,
        kills,
        seed,
    });
    figure(format_args!(
        "crash[{backend}]: seed {seed} (IDV_CRASH_SEED={seed} reuses its random choices)"
    ));
    let began = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);

    let r = run.clone();
    let mut serve = tokio::task::spawn_blocking(move || start(&r, 0))
        .await
        .unwrap();
    serve.ready().await;
    serve.load_workflow(WORKFLOW).await;

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
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(shared.clone(), n, seed)))
        .collect();

    let mut kill_points = vec![];
    for k in 1..=run.kills {
        // Let the load get going again, then kill at a random moment within it.
        let base = shared.acknowledged.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(120);
        while shared.acknowledged.load(Ordering::SeqCst) < base + WARM_UP_WRITES {
            assert!(
                Instant::now() < deadline,
                "crash[{backend}]: no writes acknowledged within 120 s after start {k}; log:\n{}",
                serve.log_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..4000))).await;
        // Marked down first, so clients wait for the next start instead of trying this one.
        url_tx.send_replace(None);
        let in_flight = shared.in_flight.load(Ordering::SeqCst);
        serve.kill();
        kill_points.push(format!(
            "{:.1} s ({in_flight} in flight)",
            began.elapsed().as_secs_f64()
        ));
        let r = run.clone();
        serve = tokio::task::spawn_blocking(move || start(&r, k))
            .await
            .unwrap();
        serve.ready().await;
        url_tx.send_replace(Some(serve.url.clone()));
    }
    // Some load on the last start too, then stop and check.
    let base = shared.acknowledged.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.acknowledged.load(Ordering::SeqCst) < base + WARM_UP_WRITES {
        assert!(Instant::now() < deadline, "no writes after the last start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut sessions = vec![];
    let mut counts = Counts::default();
    for c in clients {
        let (s, c) = c.await.unwrap();
        sessions.extend(s);
        counts.add(c);
    }
    let load_done = began.elapsed().as_secs_f64();

    // Every session, checked by several tasks at once.
    let sessions = Arc::new(sessions);
    let checkers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let sessions = sessions.clone();
            let http = shared.http.clone();
            let url = serve.url.clone();
            tokio::spawn(async move {
                let mut problems = vec![];
                for t in sessions.iter().skip(i).step_by(CLIENTS) {
                    problems.extend(check(&http, &url, t).await);
                }
                problems
            })
        })
        .collect();
    let mut lost = vec![];
    for c in checkers {
        lost.extend(c.await.unwrap());
    }
    serve.kill();

    // The audit chain, verified by the CLI over the same database after the last kill.
    let out = support::idv(&run.dir, &run.database)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let verdict = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let audit = if out.status.success() && verdict.starts_with("OK: ") {
        format!("audit chain ok ({})", verdict.trim_start_matches("OK: "))
    } else {
        format!(
            "audit chain NOT ok: {verdict} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };

    figure(format_args!(
        "crash[{backend}]: {} kills at {}; load {load_done:.1} s",
        run.kills,
        kill_points.join(", ")
    ));
    figure(format_args!(
        "crash[{backend}]: {} kills, {} acknowledged writes (sessions {}, steps {}, uploads {} \
         with {} files of {:.1} MiB, reviews {}, deletions {}), {} in doubt, {} lost, {}, {:.1} s",
        run.kills,
        counts.acknowledged(),
        counts.sessions,
        counts.steps,
        counts.uploads,
        counts.files,
        counts.file_bytes as f64 / (1 << 20) as f64,
        counts.reviews,
        counts.deletions,
        counts.in_doubt,
        lost.len(),
        audit,
        began.elapsed().as_secs_f64()
    ));
    assert!(
        counts.problems.is_empty(),
        "crash[{backend}] (seed {}): {} writes answered wrongly, first: {:#?}",
        run.seed,
        counts.problems.len(),
        &counts.problems[..counts.problems.len().min(10)]
    );
    assert!(
        lost.is_empty(),
        "crash[{backend}] (seed {}): {} broken promises, first: {:#?}",
        run.seed,
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(out.status.success(), "crash[{backend}]: {audit}");
    // The load did reach every kind of write, so the checks above had something to check.
    for (kind, n) in [
        ("sessions", counts.sessions),
        ("steps", counts.steps),
        ("uploads", counts.uploads),
        ("reviews", counts.reviews),
        ("deletions", counts.deletions),
    ] {
        assert!(n > 0, "crash[{backend}]: no {kind} acknowledged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_mixed_writes_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("idv.db").display());
    crash_run("sqlite", dir.path().to_owned(), database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_mixed_writes_loses_nothing_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let db = PgDatabase::create("idv_crash").await;
    // Run apart, so the database is dropped whether the run passes or not.
    let run = tokio::spawn(crash_run("postgres", dir.path().to_owned(), db.url.clone())).await;
    db.drop_now().await;
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
