//! Crash safety of real `idv serve` processes, on SQLite and PostgreSQL: clients send a write
//! load while the server is killed with SIGKILL at random moments and started again on the same
//! data. Two loads:
//!
//! - mixed writes (sessions, step data, file uploads, reviews, deletions) from 8 clients;
//!   afterwards every write that was answered 2xx is there (every file byte for byte), nothing
//!   that was refused or never sent is, and deleted sessions answer 410 `session_deleted`;
//! - the session flow of the benchmark (`bench/session_flow.sh`): 16 clients each start a
//!   session and send its first step, over and over ([`flow`]); afterwards every session whose
//!   start was answered is there, and every one whose step was answered has moved on, with the
//!   step's data.
//!
//! In both, `idv audit verify` passes at the end. A write cut off by a kill (no answer) may or
//! may not have happened: its session is left alone from then on, and the check accepts both
//! outcomes for that one write, but nothing in between (a review without its history entry, a
//! data file without its property, a step moved without its data, a multipart upload with some
//! of its parts).
//!
//! Each run prints its seed and figures; `IDV_CRASH_SEED=<seed>` reuses a run's random choices
//! (kill delays, each client's writes and data; the timing of the machine still varies), and
//! `IDV_CRASH_KILLS=<n>` changes the number of kills (5).

mod check;
mod flow;
mod harness;
mod load;

use check::check;
use harness::{Run, check_all, drive, figure, on_postgres, on_sqlite};
use load::{CLIENTS, Counts, client};
use std::path::PathBuf;

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

/// The mixed load on `database`, then the check of every session it started.
async fn mixed_run(backend: &'static str, dir: PathBuf, database: String) {
    let run = Run::new(format!("crash[{backend}]"), dir, database);
    let seed = run.seed;
    let loaded = drive(
        &run,
        &[("/api/workflows", WORKFLOW)],
        CLIENTS,
        move |shared, n| client(shared, n, seed),
    )
    .await;
    let mut sessions = vec![];
    let mut counts = Counts::default();
    for (s, c) in loaded.results {
        sessions.extend(s);
        counts.add(c);
    }
    let load_done = loaded.load_secs;

    // Every session, checked by several tasks at once.
    let (http, url) = (loaded.http.clone(), loaded.serve.url.clone());
    let lost: Vec<String> = check_all(sessions, CLIENTS, move |t| {
        let (http, url) = (http.clone(), url.clone());
        async move { check(&http, &url, &t).await }
    })
    .await
    .into_iter()
    .flatten()
    .collect();
    let mut serve = loaded.serve;
    serve.kill();

    // The audit chain, verified by the CLI over the same database after the last kill.
    let (audit_ok, audit) = run.audit_verify();

    figure(format_args!(
        "crash[{backend}]: {} kills at {}; load {load_done:.1} s",
        run.kills,
        loaded.kill_points.join(", ")
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
        run.secs()
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
    assert!(audit_ok, "crash[{backend}]: {audit}");
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
    on_sqlite(|dir, database| mixed_run("sqlite", dir, database)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_mixed_writes_loses_nothing_on_postgres() {
    on_postgres("idv_crash", |dir, database| {
        mixed_run("postgres", dir, database)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_session_flow_loses_nothing_on_sqlite() {
    on_sqlite(|dir, database| flow::run("sqlite", dir, database)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_session_flow_loses_nothing_on_postgres() {
    on_postgres("idv_crash_flow", |dir, database| {
        flow::run("postgres", dir, database)
    })
    .await;
}
