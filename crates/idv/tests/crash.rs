//! Crash safety of real `idv serve` processes, on SQLite and PostgreSQL: several clients send a
//! mixed write load (sessions, step data, file uploads, reviews, deletions) while the server is
//! killed with SIGKILL at random moments and started again on the same data. Afterwards every
//! write that was answered 2xx is there (every file byte for byte), nothing that was refused or
//! never sent is, deleted sessions answer 410 `session_deleted`, and `idv audit verify` passes.
//!
//! A write cut off by a kill (no answer) may or may not have happened: its session is left
//! alone from then on, and the check accepts both outcomes for that one write, but nothing in
//! between (half a review, a data file without its property, a step moved without its data).
//!
//! Each run prints its seed and figures; `IDV_CRASH_SEED=<seed>` replays a run's kill moments
//! and data, `IDV_CRASH_KILLS=<n>` changes the number of kills (5).

mod support;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{PASSWORD, PgDatabase, Serve};
use tokio::sync::watch;

const WF_ID: &str = "6a0f7f20-0005-11ef-8000-00000000e005";
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
/// The body that moves a session from PHOTO to FORM (stored as `PHOTO.json`).
const ADVANCE: &[u8] = br#"{"continue":true}"#;
/// Concurrent clients, and the sessions each works on at once.
const CLIENTS: usize = 8;
const POOL: usize = 3;
/// Writes to one session before its client leaves it and starts another.
const OPS_PER_SESSION: usize = 8;
/// Writes acknowledged after a (re)start before the next kill may come.
const WARM_UP_WRITES: usize = 20;

/// A line of figures on standard error, written past the test harness's capture so that a
/// plain `cargo test` shows it too.
fn figure(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A write whose answer never came: it may or may not have happened.
#[derive(Debug, Clone)]
enum Pending {
    Upload(Vec<String>),
    Advance,
    Form { sha256: String, note: String },
    Review { status: i64, comment: String },
    Delete,
}

#[derive(Debug, Clone)]
struct Uploaded {
    id: String,
    sha256: String,
    size: usize,
}

/// What the server promised about one session, by its 2xx answers.
#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    initial_status: i64,
    uploads: Vec<Uploaded>,
    advanced: bool,
    /// SHA-256 of each acknowledged FORM body, and its note.
    forms: Vec<(String, String)>,
    /// Acknowledged reviews: status and comment.
    reviews: Vec<(i64, String)>,
    deleted: bool,
    pending: Option<Pending>,
    ops: usize,
}

#[derive(Debug, Default)]
struct Counts {
    sessions: usize,
    steps: usize,
    uploads: usize,
    files: usize,
    file_bytes: usize,
    reviews: usize,
    deletions: usize,
    /// Writes cut off by a kill (no answer).
    in_doubt: usize,
    /// Answers that break a promise, or non-2xx answers to valid writes.
    problems: Vec<String>,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.sessions += o.sessions;
        self.steps += o.steps;
        self.uploads += o.uploads;
        self.files += o.files;
        self.file_bytes += o.file_bytes;
        self.reviews += o.reviews;
        self.deletions += o.deletions;
        self.in_doubt += o.in_doubt;
        self.problems.extend(o.problems);
    }

    fn acknowledged(&self) -> usize {
        self.sessions + self.steps + self.uploads + self.reviews + self.deletions
    }
}

/// What the load's clients share with the test: the server's address (None while it is down),
/// the stop signal, and figures.
struct Shared {
    url: watch::Receiver<Option<String>>,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    acknowledged: AtomicUsize,
    http: reqwest::Client,
}

enum Outcome {
    Ack(Vec<u8>),
    Refused(String),
    /// No connection could be made (the server is down): nothing was sent.
    NotSent,
    Doubt,
}

impl Shared {
    async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> Outcome {
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
}

/// One client: keeps up to [`POOL`] sessions and sends random writes to them, one at a time per
/// session, until told to stop. Returns every session it started and its counts.
async fn client(shared: Arc<Shared>, n: usize, seed: u64) -> (Vec<Tracked>, Counts) {
    let mut rng =
        StdRng::seed_from_u64(seed.wrapping_add((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let mut url_rx = shared.url.clone();
    let mut pool: Vec<Tracked> = Vec::new();
    let mut done: Vec<Tracked> = Vec::new();
    let mut c = Counts::default();
    let mut serial = 0usize;
    while !shared.stop.load(Ordering::SeqCst) {
        let url = match url_rx.wait_for(Option::is_some).await {
            Ok(u) => u.clone().unwrap(),
            Err(_) => break,
        };
        serial += 1;
        if pool.len() < POOL {
            let rb = shared
                .http
                .post(format!("{url}/api/sessions?workflowId={WF_ID}"))
                .json(&json!({"metadata": {"externalUserId": format!("crash-{n}-{serial}")}}));
            match shared.send(rb, "start a session").await {
                Outcome::Ack(body) => {
                    let s: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let (Some(id), Some(status)) = (s["id"].as_str(), s["status"].as_i64()) else {
                        c.problems
                            .push(format!("start a session: answer without id: {s}"));
                        continue;
                    };
                    c.sessions += 1;
                    pool.push(Tracked {
                        id: id.to_owned(),
                        initial_status: status,
                        uploads: vec![],
                        advanced: false,
                        forms: vec![],
                        reviews: vec![],
                        deleted: false,
                        pending: None,
                        ops: 0,
                    });
                }
                Outcome::Refused(m) => c.problems.push(m),
                // Its id never arrived, so there is nothing to check.
                Outcome::Doubt => c.in_doubt += 1,
                Outcome::NotSent => {
                    let _ = url_rx.changed().await;
                }
            }
            continue;
        }
        let at = rng.random_range(0..pool.len());
        let t = &mut pool[at];
        t.ops += 1;
        let session = format!("{url}/api/sessions/{}", t.id);
        let roll: f64 = rng.random();
        // Chosen by the session's step: uploads and the move on in PHOTO, data in FORM;
        // reviews and deletions in either.
        let (rb, pending, what) = if !t.advanced && roll < 0.55 && t.uploads.len() < 6 {
            let mut form = reqwest::multipart::Form::new();
            let mut parts = vec![];
            for p in 0..rng.random_range(1..=2) {
                let top = 1usize << rng.random_range(4..=18);
                let mut bytes = vec![0u8; rng.random_range(top / 2..=top)];
                rng.fill_bytes(&mut bytes);
                parts.push(sha256_hex(&bytes));
                form = form.part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes)
                        .file_name(format!("scan-{serial}-{p}.bin"))
                        .mime_str("application/octet-stream")
                        .unwrap(),
                );
            }
            let rb = shared
                .http
                .post(format!("{session}/step/PHOTO?type=file"))
                .multipart(form);
            (rb, Pending::Upload(parts), "upload")
        } else if !t.advanced && roll < 0.80 {
            let rb = shared
                .http
                .post(format!("{session}/step/PHOTO?type=data"))
                .header("content-type", "application/json")
                .body(ADVANCE);
            (rb, Pending::Advance, "move on from PHOTO")
        } else if t.advanced && roll < 0.45 {
            let note = format!("note-{n}-{serial}-{:08x}", rng.next_u32());
            let body = serde_json::to_vec(&json!({"note": note, "n": serial})).unwrap();
            let sha256 = sha256_hex(&body);
            let rb = shared
                .http
                .post(format!("{session}/step/FORM?type=data"))
                .header("content-type", "application/json")
                .body(body);
            (rb, Pending::Form { sha256, note }, "submit FORM")
        } else if roll < 0.85 || t.ops < 3 {
            let status = [1, 2, 3, 4, 1000][rng.random_range(0..5)];
            let comment = format!("review-{n}-{serial}");
            let rb = shared
                .http
                .patch(session.as_str())
                .json(&json!({"status": status, "comment": comment}));
            (rb, Pending::Review { status, comment }, "review")
        } else {
            let rb = shared.http.delete(format!("{session}?reason=crash-test"));
            (rb, Pending::Delete, "delete")
        };
        let what = format!("{what} {}", t.id);
        match shared.send(rb, &what).await {
            Outcome::Ack(body) => match pending {
                Pending::Upload(parts) => {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let files = v["files"].as_array().cloned().unwrap_or_default();
                    if files.len() != parts.len() {
                        c.problems
                            .push(format!("{what}: {} parts sent, answer {v}", parts.len()));
                    }
                    for (f, sha) in files.iter().zip(parts) {
                        if f["sha256"] != sha.as_str() {
                            c.problems.push(format!("{what}: answer {f}, sent {sha}"));
                        }
                        let size = f["size"].as_u64().unwrap_or(0) as usize;
                        c.files += 1;
                        c.file_bytes += size;
                        t.uploads.push(Uploaded {
                            id: f["id"].as_str().unwrap_or_default().to_owned(),
                            sha256: sha,
                            size,
                        });
                    }
                    c.uploads += 1;
                }
                Pending::Advance => {
                    t.advanced = true;
                    c.steps += 1;
                }
                Pending::Form { sha256, note } => {
                    t.forms.push((sha256, note));
                    c.steps += 1;
                }
                Pending::Review { status, comment } => {
                    t.reviews.push((status, comment));
                    c.reviews += 1;
                }
                Pending::Delete => {
                    t.deleted = true;
                    c.deletions += 1;
                }
            },
            Outcome::Refused(m) => {
                c.problems.push(m);
                t.ops = OPS_PER_SESSION;
            }
            Outcome::Doubt => {
                t.pending = Some(pending);
                c.in_doubt += 1;
            }
            // Tried again on the next start, if chosen again.
            Outcome::NotSent => {
                let _ = url_rx.changed().await;
            }
        }
        if t.deleted || t.pending.is_some() || t.ops >= OPS_PER_SESSION {
            done.push(pool.swap_remove(at));
        }
    }
    done.extend(pool);
    (done, c)
}

/// Reads one file's bytes; None (with a problem noted) when it cannot be read.
async fn download(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    file: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let r = http
        .get(format!("{url}/api/sessions/{session}/files/{file}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.bytes().await.unwrap();
    if status != 200 {
        problems.push(format!(
            "session {session} file {file}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
        return None;
    }
    Some(body.to_vec())
}

/// Checks one session against what the server promised; returns the problems found.
async fn check(http: &reqwest::Client, url: &str, t: &Tracked) -> Vec<String> {
    let mut problems = vec![];
    let id = &t.id;
    let r = http
        .get(format!("{url}/api/sessions/{id}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let s: Value = r.json().await.unwrap_or(Value::Null);
    let maybe_deleted = matches!(t.pending, Some(Pending::Delete));
    if status == 410 {
        if s["error"]["code"] != "session_deleted" {
            problems.push(format!("session {id}: 410 without session_deleted: {s}"));
        }
        if !t.deleted && !maybe_deleted {
            problems.push(format!("session {id} is gone but was never deleted: {s}"));
        }
        // Its files went with it.
        for f in &t.uploads {
            let r = http
                .get(format!("{url}/api/sessions/{id}/files/{}", f.id))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            if r.status() != 410 {
                problems.push(format!(
                    "deleted session {id}: file {} answers {}",
                    f.id,
                    r.status()
                ));
            }
        }
        return problems;
    }
    if status != 200 {
        problems.push(format!("session {id}: {status} {s}"));
        return problems;
    }
    if t.deleted {
        problems.push(format!("session {id}: deletion acknowledged, still there"));
    }
    let files = s["files"].as_array().cloned().unwrap_or_default();
    let mut actual: Vec<(Value, String)> = vec![];
    for f in &files {
        let fid = f["id"].as_str().unwrap_or_default();
        let Some(bytes) = download(http, url, id, fid, &mut problems).await else {
            continue;
        };
        let sha = sha256_hex(&bytes);
        if f["sha256"] != sha.as_str() || f["size"] != bytes.len() {
            problems.push(format!(
                "session {id}: file {f} holds {} bytes, SHA-256 {sha}",
                bytes.len()
            ));
        }
        actual.push((f.clone(), sha));
    }
    let named = |name: &str| -> Vec<String> {
        actual
            .iter()
            .filter(|(f, _)| f["name"] == name)
            .map(|(_, sha)| sha.clone())
            .collect()
    };

    // Uploads: every acknowledged file, and of the one cut off at most its own parts.
    let uploads: Vec<&(Value, String)> = actual
        .iter()
        .filter(|(f, _)| f["name"] != "PHOTO.json" && f["name"] != "FORM.json")
        .collect();
    for u in &t.uploads {
        match uploads.iter().find(|(f, _)| f["id"] == u.id.as_str()) {
            Some((f, sha)) if *sha == u.sha256 && f["size"] == u.size => {}
            Some((f, sha)) => problems.push(format!(
                "session {id}: file {} sent with SHA-256 {} ({} bytes), now {f} with bytes {sha}",
                u.id, u.sha256, u.size
            )),
            None => problems.push(format!("session {id}: acknowledged file {} lost", u.id)),
        }
    }
    let mut may_appear = match &t.pending {
        Some(Pending::Upload(parts)) => parts.clone(),
        _ => vec![],
    };
    for (f, sha) in &uploads {
        if t.uploads.iter().any(|u| f["id"] == u.id.as_str()) {
            continue;
        }
        // A part of the upload cut off by the kill; each at most once.
        match may_appear.iter().position(|p| p == sha) {
            Some(i) => {
                may_appear.swap_remove(i);
            }
            None => problems.push(format!("session {id}: file {f} was never acknowledged")),
        }
    }

    // The move to FORM, with its data file, all or nothing.
    let step = s["currentStep"].as_str().unwrap_or_default();
    let photo = named("PHOTO.json");
    let moved = step == "FORM";
    if moved != (photo.len() == 1) || photo.len() > 1 {
        problems.push(format!(
            "session {id}: in {step} with {} PHOTO.json",
            photo.len()
        ));
    }
    if photo.iter().any(|sha| *sha != sha256_hex(ADVANCE)) {
        problems.push(format!("session {id}: PHOTO.json is not the data sent"));
    }
    let may_move = matches!(t.pending, Some(Pending::Advance));
    if (t.advanced && !moved)
        || (!t.advanced && moved && !may_move)
        || !["PHOTO", "FORM"].contains(&step)
    {
        problems.push(format!(
            "session {id}: in step {step}, move acknowledged: {}",
            t.advanced
        ));
    }

    // FORM data: every acknowledged body, the one cut off at most once, and NOTE from the last.
    let mut forms = named("FORM.json");
    let mut expected: Vec<String> = t.forms.iter().map(|(sha, _)| sha.clone()).collect();
    let mut note = t.forms.last().map(|(_, n)| n.clone());
    if let Some(Pending::Form { sha256, note: n }) = &t.pending
        && forms.contains(sha256)
        && forms.len() == expected.len() + 1
    {
        expected.push(sha256.clone());
        note = Some(n.clone());
    }
    forms.sort();
    expected.sort();
    if forms != expected {
        problems.push(format!(
            "session {id}: FORM data files {forms:?}, acknowledged {expected:?}"
        ));
    }
    let shown = s["properties"]["NOTE"].as_str().map(str::to_owned);
    if shown != note {
        problems.push(format!(
            "session {id}: NOTE is {shown:?}, expected {note:?}"
        ));
    }

    // Reviews: the history holds exactly the acknowledged ones in order (and perhaps the one cut
    // off, last); the status is the last one's.
    let history: Vec<(i64, String)> = s["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|h| h.get("to").is_some())
        .map(|h| {
            (
                h["to"].as_i64().unwrap_or(-1),
                h["comment"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut with_pending = t.reviews.clone();
    if let Some(Pending::Review { status, comment }) = &t.pending {
        with_pending.push((*status, comment.clone()));
    }
    if history != t.reviews && history != with_pending {
        problems.push(format!(
            "session {id}: history {history:?}, acknowledged {:?}",
            t.reviews
        ));
    }
    let status = history.last().map_or(t.initial_status, |(to, _)| *to);
    if s["status"] != status {
        problems.push(format!(
            "session {id}: status {}, expected {status}",
            s["status"]
        ));
    }
    problems
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
        "crash[{backend}]: seed {seed} (IDV_CRASH_SEED={seed} replays it)"
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
