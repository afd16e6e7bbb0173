//! `idv backup`, `idv restore` and `idv migrate` on real `idv serve` processes: a backup taken
//! while clients create sessions and upload files, restored into a new folder and served, holds
//! every session and file acknowledged before it began (byte for byte) and a verifying audit
//! chain; a SQLite install moved to a fresh PostgreSQL database answers the same sessions,
//! files, workflow revisions and webhooks, its users sign in and its API keys work.

use crate::support::{self, PASSWORD, PgDatabase, Serve};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WF_ID: &str = "6a0f7f20-0009-11ef-8000-00000000e009";
/// Files are uploaded in PHOTO (`?type=file`); the session stays there.
const WORKFLOW: &str = r#"
id: 6a0f7f20-0009-11ef-8000-00000000e009
name: Backup checks
version: "1"
lifetime: 86400
defaultLocale: en-us
steps:
  - id: PHOTO
    name: PHOTO
    type: DATA
    conditions:
      - name: Next
        transit: {step: DONE}
        rules: [{id: always, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/data/idv.db", dir.display())
}

/// When a write's 2xx answer arrived: before the backup began, while it ran, or after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Before = 0,
    During = 1,
    After = 2,
}

#[derive(Debug, Clone)]
enum Ack {
    Session(String),
    File {
        session: String,
        id: String,
        sha256: String,
    },
    Deleted(String),
}

/// What the load's clients were told, each with the phase it was told in.
#[derive(Default)]
struct Acks(Mutex<Vec<(Phase, Ack)>>);

impl Acks {
    fn push(&self, phase: &AtomicU8, ack: Ack) {
        let p = match phase.load(Ordering::SeqCst) {
            0 => Phase::Before,
            1 => Phase::During,
            _ => Phase::After,
        };
        self.0.lock().unwrap().push((p, ack));
    }

    fn all(&self) -> Vec<(Phase, Ack)> {
        self.0.lock().unwrap().clone()
    }
}

/// One client: starts sessions, uploads one or two files of 1 to 256 KiB to them, and now and
/// then deletes one, until `stop`.
async fn client(
    url: String,
    seed: u64,
    phase: Arc<AtomicU8>,
    acks: Arc<Acks>,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut problems = vec![];
    let mut pool: Vec<(String, usize)> = vec![];
    let mut serial = 0;
    while !stop.load(Ordering::SeqCst) {
        serial += 1;
        if pool.len() < 3 {
            let r = http
                .post(format!("{url}/api/sessions?workflowId={WF_ID}"))
                .basic_auth("admin", Some(PASSWORD))
                .json(&json!({"metadata": {"externalUserId": format!("load-{seed}-{serial}")}}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            match body["id"].as_str() {
                Some(id) if status.is_success() => {
                    acks.push(&phase, Ack::Session(id.to_owned()));
                    pool.push((id.to_owned(), 0));
                }
                _ => problems.push(format!("start a session: {status} {body}")),
            }
            continue;
        }
        let at = rng.random_range(0..pool.len());
        let (id, uploads) = pool[at].clone();
        if uploads >= 3 && rng.random_bool(0.3) {
            let r = http
                .delete(format!("{url}/api/sessions/{id}?reason=load"))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                acks.push(&phase, Ack::Deleted(id.clone()));
            } else {
                problems.push(format!("delete {id}: {}", r.status()));
            }
            pool.remove(at);
            continue;
        }
        let mut form = reqwest::multipart::Form::new();
        let mut sent = vec![];
        for p in 0..rng.random_range(1..=2) {
            let mut bytes = vec![0u8; rng.random_range(1024..=256 * 1024)];
            rng.fill_bytes(&mut bytes);
            sent.push(sha256_hex(&bytes));
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(format!("scan-{serial}-{p}.bin"))
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
        }
        let r = http
            .post(format!("{url}/api/sessions/{id}/step/PHOTO?type=file"))
            .basic_auth("admin", Some(PASSWORD))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            problems.push(format!("upload to {id}: {status} {body}"));
            continue;
        }
        let files = body["files"].as_array().cloned().unwrap_or_default();
        for (f, sha) in files.iter().zip(&sent) {
            assert_eq!(
                f["sha256"],
                sha.as_str(),
                "the upload's answer names its bytes"
            );
            acks.push(
                &phase,
                Ack::File {
                    session: id.clone(),
                    id: f["id"].as_str().unwrap().to_owned(),
                    sha256: sha.clone(),
                },
            );
        }
        pool[at].1 += 1;
        if pool[at].1 >= 5 {
            pool.remove(at);
        }
    }
    problems
}

async fn get(serve: &Serve, path: &str) -> (u16, Vec<u8>) {
    let r = serve
        .req(reqwest::Method::GET, path)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// Runs `idv` with `args` against the install in `dir` on `database`; status and output.
async fn run_idv(dir: &Path, database: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::from(support::idv(dir, database));
    let out = cmd.args(args).output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_write_load_restores_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    // A workflow file in the folder that loads at start: the backup keeps the folder.
    std::fs::create_dir_all(dir.path().join("data/workflows")).unwrap();
    std::fs::write(dir.path().join("data/workflows/backup.yaml"), WORKFLOW).unwrap();
    let serve = support::serve(dir.path(), &database, "serve.log", &[]);
    serve.ready().await;
    let icon = br#"<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>"#;
    let r = serve
        .req(reqwest::Method::PUT, "/api/v1/assets/icon.svg")
        .body(icon.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let phase = Arc::new(AtomicU8::new(0));
    let acks = Arc::new(Acks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|n| {
            tokio::spawn(client(
                serve.url.clone(),
                0xb4c_0000 + n,
                phase.clone(),
                acks.clone(),
                stop.clone(),
            ))
        })
        .collect();
    // Enough data that the copy takes a while: the load goes on beside it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let all = acks.all();
        let files = all
            .iter()
            .filter(|(_, a)| matches!(a, Ack::File { .. }))
            .count();
        let deleted = all
            .iter()
            .filter(|(_, a)| matches!(a, Ack::Deleted(_)))
            .count();
        if files >= 80 && deleted >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load acknowledged only {files} files and {deleted} deletions in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A folder that is not empty is refused before anything is written.
    let taken = dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("note.txt"), "mine").unwrap();
    let (code, _, err) = run_idv(dir.path(), &database, &["backup", taken.to_str().unwrap()]).await;
    assert_eq!(code, 2, "a folder that is not empty: {err}");
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(
        std::fs::read_dir(&taken).unwrap().count(),
        1,
        "nothing written"
    );

    let dest = dir.path().join("backup");
    phase.store(1, Ordering::SeqCst);
    let (code, out, err) =
        run_idv(dir.path(), &database, &["backup", dest.to_str().unwrap()]).await;
    phase.store(2, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let problems = c.await.unwrap();
        assert!(problems.is_empty(), "the load's writes: {problems:?}");
    }
    drop(serve);
    assert_eq!(code, 0, "idv backup: {out}\n{err}");
    assert!(out.contains("Backed up to"), "{out}");
    assert!(out.contains("fernet.key copied"), "{out}");
    let all = acks.all();
    let during = all.iter().filter(|(p, _)| *p == Phase::During).count();
    eprintln!(
        "backup under load: {} writes acknowledged before it, {during} while it ran\n{out}",
        all.iter().filter(|(p, _)| *p == Phase::Before).count()
    );
    assert!(during > 0, "writes went on while the backup ran");
    assert!(dest.join("idv.db").is_file() && dest.join("sessions").is_dir());
    assert!(
        !dest.join("idv.db-wal").exists(),
        "the backup's database is one file"
    );

    // Restored into a new folder, checked, and served.
    let two = tempfile::tempdir().unwrap();
    let database2 = sqlite_url(two.path());
    let (code, out, err) =
        run_idv(two.path(), &database2, &["restore", dest.to_str().unwrap()]).await;
    assert_eq!(code, 0, "idv restore: {out}\n{err}");
    assert!(out.contains("audit chain: OK"), "{out}");
    assert!(out.contains("database integrity: ok"), "{out}");
    let (code, _, err) =
        run_idv(two.path(), &database2, &["restore", dest.to_str().unwrap()]).await;
    assert_eq!(code, 2, "a second restore over data needs --force: {err}");
    assert!(err.contains("--force"), "{err}");

    let restored = support::serve(two.path(), &database2, "serve.log", &[]);
    restored.ready().await;
    let deleted_before: Vec<&String> = all
        .iter()
        .filter_map(|(p, a)| match a {
            Ack::Deleted(id) if *p == Phase::Before => Some(id),
            _ => None,
        })
        .collect();
    let deleted_later: Vec<&String> = all
        .iter()
        .filter_map(|(p, a)| match a {
            Ack::Deleted(id) if *p != Phase::Before => Some(id),
            _ => None,
        })
        .collect();
    let mut sessions = 0;
    let mut files = 0;
    for (p, a) in &all {
        if *p != Phase::Before {
            continue;
        }
        match a {
            Ack::Session(id) => {
                let (status, body) = get(&restored, &format!("/api/sessions/{id}")).await;
                if deleted_before.contains(&id) {
                    assert_eq!(status, 410, "session {id} was deleted before the backup");
                } else if deleted_later.contains(&id) {
                    assert!(status == 200 || status == 410, "session {id}: {status}");
                } else {
                    assert_eq!(
                        status,
                        200,
                        "session {id}: {}",
                        String::from_utf8_lossy(&body)
                    );
                    sessions += 1;
                }
            }
            Ack::File {
                session,
                id,
                sha256,
            } => {
                if deleted_before.contains(&session) {
                    continue;
                }
                let (status, body) =
                    get(&restored, &format!("/api/sessions/{session}/files/{id}")).await;
                if status == 410 && deleted_later.contains(&session) {
                    continue;
                }
                assert_eq!(status, 200, "file {id} of session {session}");
                assert_eq!(&sha256_hex(&body), sha256, "file {id} of session {session}");
                files += 1;
            }
            Ack::Deleted(_) => {}
        }
    }
    assert!(sessions > 0 && files > 0);
    let (status, body) = get(&restored, "/api/v1/assets/icon.svg/content").await;
    assert_eq!(status, 200, "the asset is restored");
    assert_eq!(body, icon.to_vec());
    assert_eq!(
        std::fs::read_to_string(two.path().join("data/workflows/backup.yaml")).unwrap(),
        WORKFLOW,
        "the workflows folder is restored"
    );
    let (status, _) = get(&restored, &format!("/api/workflows/{WF_ID}")).await;
    assert_eq!(status, 200, "its workflow loads at start");
    eprintln!("restored: {sessions} sessions and {files} files checked byte for byte");
    drop(restored);
    let (code, out, err) = run_idv(two.path(), &database2, &["audit", "verify"]).await;
    assert_eq!(
        code, 0,
        "idv audit verify on the restored install: {out}{err}"
    );
    assert!(out.starts_with("OK"), "{out}");
}

#[tokio::test]
async fn backup_of_a_postgres_install_points_to_pg_dump() {
    let pg = PgDatabase::create("idv_backup_pg").await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let (code, _, err) = run_idv(dir.path(), &pg.url, &["backup", dest.to_str().unwrap()]).await;
    pg.drop_now().await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!dest.exists(), "nothing written");
}

/// Uploads one file to a new session of [`WF_ID`] on `serve`; the session id and its SHA-256.
async fn session_with_file(serve: &Serve, n: usize) -> (String, String) {
    let r = serve
        .req(
            reqwest::Method::POST,
            &format!("/api/sessions?workflowId={WF_ID}"),
        )
        .json(&json!({"metadata": {"externalUserId": format!("move-{n}")}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes: Vec<u8> = (0..(10_000 + n * 7919))
        .map(|i| (i * 31 + n) as u8)
        .collect();
    let r = serve
        .req(
            reqwest::Method::POST,
            &format!("/api/sessions/{id}/step/PHOTO?type=file"),
        )
        .multipart(
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name("scan.bin")
                    .mime_str("application/octet-stream")
                    .unwrap(),
            ),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    (id, sha256_hex(&bytes))
}

/// What the tests compare of a session: everything but the files' addresses (which name the
/// server's own port).
fn comparable(mut s: Value) -> Value {
    if let Some(files) = s["files"].as_array_mut() {
        for f in files {
            if let Some(o) = f.as_object_mut() {
                o.remove("url");
            }
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_moves_a_sqlite_install_to_postgres_and_an_object_store() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    // The webhook's address is on this machine; it is sent nothing (it takes only test events).
    let private = [("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true")];
    let serve = support::serve(dir.path(), &database, "serve.log", &private);
    serve.ready().await;
    serve.load_workflow(WORKFLOW).await;
    serve
        .load_workflow(&WORKFLOW.replace("version: \"1\"", "version: \"2\""))
        .await;
    let (code, out, err) = run_idv(
        dir.path(),
        &database,
        &[
            "workflow",
            "apply",
            support::KYC_WORKFLOW,
            support::KYC_LOCALE,
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_idv(
        dir.path(),
        &database,
        &[
            "user",
            "create",
            "--name",
            "operator",
            "--password",
            "operator-pass-1",
            "--roles",
            "admin",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_idv(
        dir.path(),
        &database,
        &[
            "apikey",
            "create",
            "--name",
            "backend",
            "--permissions",
            "session_all:read,session_all:write",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let key = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Key: "))
        .unwrap()
        .to_owned();
    let mut sessions = vec![];
    for n in 0..4 {
        sessions.push(session_with_file(&serve, n).await);
    }
    let gone = sessions.pop().unwrap().0;
    let r = serve
        .req(reqwest::Method::DELETE, &format!("/api/sessions/{gone}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = serve
        .req(reqwest::Method::POST, "/api/webhooks")
        .json(
            &json!({"url": "http://127.0.0.1:9/idv", "events": ["webhook.test"],
                      "headers": {"x-token": "header-secret"}}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let webhook = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = serve
        .req(reqwest::Method::POST, "/api/security/roles")
        .json(&json!({"name": "auditor", "description": "reads the log",
                      "permissions": ["audit:read"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = serve
        .req(
            reqwest::Method::POST,
            "/api/views/namespaces/sessions/key/moved",
        )
        .json(&json!({"title": "Moved sessions", "workflows": [WF_ID]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (code, out, err) = run_idv(
        dir.path(),
        &database,
        &["link", "create", "--workflow", WF_ID],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let code_path = out
        .split_whitespace()
        .find_map(|w| w.split_once("/l/").map(|(_, c)| format!("/l/{c}")))
        .unwrap_or_else(|| panic!("a link in {out}"));

    // What the source answers.
    let mut before = vec![];
    for (id, _) in &sessions {
        let (status, body) = get(&serve, &format!("/api/sessions/{id}")).await;
        assert_eq!(status, 200);
        before.push(comparable(serde_json::from_slice(&body).unwrap()));
    }
    let mut paths = vec![format!("/api/webhooks/{webhook}")];
    for rev in 1..=2 {
        paths.push(format!("/api/workflows/{WF_ID}/revisions/{rev}"));
    }
    paths.push(format!("/api/workflows/{}", support::KYC_ID));
    paths.push("/api/security/roles".into());
    paths.push("/api/views/namespaces/sessions/key/moved".into());
    paths.push("/api/links".into());
    let mut answers = vec![];
    for p in &paths {
        let (status, body) = get(&serve, p).await;
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
        answers.push(serde_json::from_slice::<Value>(&body).unwrap());
    }
    drop(serve);

    // The move, into a new PostgreSQL database and a bucket of the S3-compatible test server
    // (`IDV_TEST_S3_URL`, started by the test command), as Regula's storage keys name it.
    let s3 = support::s3_url();
    let bucket = support::s3_bucket("idv-migrate").await;
    let pg = PgDatabase::create("idv_migrate").await;
    let two = tempfile::tempdir().unwrap();
    let target = two.path().join("target.yaml");
    let locations = ["sessions", "assets", "workflows", "locales"]
        .iter()
        .map(|l| format!("  {l}:\n    location:\n      bucket: {bucket}\n"))
        .collect::<String>();
    std::fs::write(
        &target,
        format!(
            "database:\n  url: {}\nstorage:\n  type: s3\n  s3:\n    endpoint: {s3}\n    \
             accessKey: test-access\n    accessSecret: test-secret\n    region: us-east-1\n    \
             secure: false\n  fs:\n    path: {}\n{locations}",
            pg.url,
            two.path().join("data").display()
        ),
    )
    .unwrap();
    let (code, out, err) = run_idv(
        dir.path(),
        &database,
        &["migrate", "--to-config", target.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "idv migrate: {out}\n{err}");
    assert!(out.contains("from sqlite to postgres"), "{out}");
    assert!(out.contains("audit chain: OK"), "{out}");
    assert!(out.contains("sealed again under the target's key"), "{out}");
    for (id, _) in &sessions {
        let listed = reqwest::Client::new()
            .get(format!("{s3}/{bucket}?list-type=2&prefix=sessions/{id}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            listed.contains(&format!("<Key>sessions/{id}/files/")),
            "the files of {id} are in the target's bucket: {listed}"
        );
    }

    // Once moved, a second run refuses: the target is not empty.
    let (code, _, err) = run_idv(
        dir.path(),
        &database,
        &["migrate", "--to-config", target.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the target is not empty"), "{err}");

    let on_s3 = [
        ("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true"),
        ("IDV_CONFIG__STORAGE__TYPE", "s3"),
        ("IDV_CONFIG__STORAGE__S3__ENDPOINT", s3.as_str()),
        ("IDV_CONFIG__STORAGE__S3__ACCESSKEY", "test-access"),
        ("IDV_CONFIG__STORAGE__S3__ACCESSSECRET", "test-secret"),
        ("IDV_CONFIG__STORAGE__S3__REGION", "us-east-1"),
        ("IDV_CONFIG__STORAGE__S3__SECURE", "false"),
        (
            "IDV_CONFIG__STORAGE__SESSIONS__LOCATION__BUCKET",
            bucket.as_str(),
        ),
        (
            "IDV_CONFIG__STORAGE__ASSETS__LOCATION__BUCKET",
            bucket.as_str(),
        ),
        (
            "IDV_CONFIG__STORAGE__WORKFLOWS__LOCATION__BUCKET",
            bucket.as_str(),
        ),
        (
            "IDV_CONFIG__STORAGE__LOCALES__LOCATION__BUCKET",
            bucket.as_str(),
        ),
    ];
    let moved = support::serve(two.path(), &pg.url, "serve.log", &on_s3);
    moved.ready().await;
    for ((id, sha), was) in sessions.iter().zip(&before) {
        let (status, body) = get(&moved, &format!("/api/sessions/{id}")).await;
        assert_eq!(status, 200, "session {id}");
        let now = comparable(serde_json::from_slice(&body).unwrap());
        assert_eq!(&now, was, "session {id} reads the same");
        let file = now["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "scan.bin")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, bytes) = get(&moved, &format!("/api/sessions/{id}/files/{file}")).await;
        assert_eq!(status, 200);
        assert_eq!(&sha256_hex(&bytes), sha, "file {file} of session {id}");
        // The API key made on SQLite reads it on PostgreSQL.
        let r = moved
            .http
            .get(format!("{}/api/sessions/{id}", moved.url))
            .header("authorization", format!("ApiKey {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the API key works after the move");
    }
    let (status, _) = get(&moved, &format!("/api/sessions/{gone}")).await;
    assert_eq!(status, 410, "the deleted session stays deleted");
    for (p, was) in paths.iter().zip(&answers) {
        let (status, body) = get(&moved, p).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(&serde_json::from_slice::<Value>(&body).unwrap(), was, "{p}");
    }
    let r = moved
        .http
        .head(format!("{}{code_path}", moved.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the start link opens on the target");
    let r = moved
        .http
        .get(format!("{}/api/workflows", moved.url))
        .basic_auth("operator", Some("operator-pass-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the user made on SQLite signs in");
    let (status, body) = get(&moved, "/api/audit?action=install.migrated").await;
    assert_eq!(status, 200);
    let items: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        items["items"].as_array().map(Vec::len),
        Some(1),
        "the move is in the target's audit log: {items}"
    );
    drop(moved);
    let (code, out, err) = run_idv(two.path(), &pg.url, &["audit", "verify"]).await;
    pg.drop_now().await;
    assert_eq!(code, 0, "idv audit verify on PostgreSQL: {out}{err}");
    assert!(out.starts_with("OK"), "{out}");
}

/// Every object file under `dir/sessions`, in order.
fn session_objects(dir: &Path) -> Vec<std::path::PathBuf> {
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = vec![];
    walk(&dir.join("sessions"), &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn restore_and_backup_name_damaged_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_url(dir.path());
    let serve = support::serve(dir.path(), &database, "serve.log", &[]);
    serve.ready().await;
    serve.load_workflow(WORKFLOW).await;
    for n in 0..2 {
        session_with_file(&serve, n).await;
    }
    drop(serve);

    // A backup whose file was altered afterwards: restored, and the check names the file.
    let dest = dir.path().join("backup");
    let (code, out, err) =
        run_idv(dir.path(), &database, &["backup", dest.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    // The live install's audit log records the backup (after the copy: not in it).
    let actions = |db: String| async move {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        let a: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
            .fetch_all(&mut c)
            .await
            .unwrap();
        a
    };
    assert!(
        actions(database.clone())
            .await
            .contains(&"install.backed_up".to_string())
    );
    assert!(
        !actions(format!("sqlite://{}/idv.db", dest.display()))
            .await
            .contains(&"install.backed_up".to_string())
    );
    let objects = session_objects(&dest);
    assert_eq!(objects.len(), 2, "{objects:?}");
    std::fs::write(&objects[0], b"not the bytes that were uploaded").unwrap();
    let two = tempfile::tempdir().unwrap();
    let (code, out, err) = run_idv(
        two.path(),
        &sqlite_url(two.path()),
        &["restore", dest.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    let name = objects[0].file_name().unwrap().to_str().unwrap();
    assert!(
        out.lines()
            .any(|l| l.contains("damaged:") && l.contains(name) && l.contains("differ")),
        "{out}"
    );
    assert!(out.contains("audit chain: OK"), "{out}");

    // A live file gone while its session is still there: the backup names it and fails.
    let live = session_objects(&dir.path().join("data"));
    std::fs::remove_file(&live[1]).unwrap();
    let dest2 = dir.path().join("backup2");
    let (code, out, err) =
        run_idv(dir.path(), &database, &["backup", dest2.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{out}{err}");
    let name = live[1].file_name().unwrap().to_str().unwrap();
    assert!(
        err.contains(name) && err.contains("missing from storage"),
        "{err}"
    );
}
