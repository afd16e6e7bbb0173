//! Regula's load-test path end to end with the real binary, on the project's example KYC:
//! `idv view create` writes a view offline (namespace active-views-3, the workflow, field
//! status, properties DOCUMENT_NAME, DOCUMENT_NUMBER, AGE), `idv serve` starts, sessions are created, then with Basic
//! auth: read the views of the namespace, post a view's `value` as the search body, and GET
//! every session returned. Also `idv view list` and `idv view delete`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use crate::support::{KYC_ID, KYC_LOCALE, KYC_WORKFLOW};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
const WF: &str = KYC_ID;
const PASSWORD: &str = "view-search-password";

/// `idv` with its files in `dir` and its database at `db`, through environment overrides.
fn idv_on(dir: &Path, db: &str) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDV_ADMIN_PASSWORD")
        .env("IDV_CONFIG__DATABASE__URL", db)
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        );
    c
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, db: &str) -> Server {
    let mut child = idv_on(dir, db)
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .env("IDV_ADMIN_PASSWORD", PASSWORD)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(u) = line.trim().strip_prefix("idv listening on ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    Server { child, url }
}

/// A request through curl with Basic auth, as Regula's load test sends it: status and JSON.
fn curl(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", method, "-u"])
        .arg(format!("admin:{PASSWORD}"))
        .args(["-H", "accept: application/json"]);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "-d"])
            .arg(b.to_string());
    }
    let out = cmd.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(json).unwrap_or(Value::Null),
    )
}

/// A fresh PostgreSQL database (created with psql) that is dropped when this goes.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let admin = std::env::var("IDV_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("idv_cli_{}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            let (ok, _, err) = run(Command::new("psql")
                .arg(&admin)
                .args(["-v", "ON_ERROR_STOP=1", "-c"])
                .arg(&sql));
            assert!(
                ok,
                "PostgreSQL must be running at {admin} for this test: {err}"
            );
        }
        PgDatabase { admin, name }
    }

    fn url(&self) -> String {
        let base = self.admin.rsplit_once('/').map(|(b, _)| b).unwrap_or("");
        format!("{base}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin)
            .arg("-c")
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

#[test]
fn view_created_by_the_cli_drives_search_and_reads_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    view_search_story(dir.path(), &db);
}

#[test]
fn view_created_by_the_cli_drives_search_and_reads_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::create();
    view_search_story(dir.path(), &pg.url());
}

fn view_search_story(d: &Path, db: &str) {
    let idv = |_: &Path| idv_on(d, db);
    let (ok, _, err) = run(idv(d).args(["workflow", "apply", KYC_WORKFLOW, KYC_LOCALE]));
    assert!(ok, "{err}");

    let (ok, out, err) = run(idv(d).args([
        "view",
        "create",
        "--key",
        "general-kyc-key",
        "--namespace",
        "active-views-3",
        "--title",
        "General KYC",
        "--workflows",
        WF,
        "--fields",
        "status",
        "--properties",
        "DOCUMENT_NAME,DOCUMENT_NUMBER,AGE",
    ]));
    assert!(ok, "{err}");
    let printed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(printed["key"], "general-kyc-key");
    assert_eq!(printed["namespace"], "active-views-3");
    assert_eq!(printed["value"]["workflows"], json!([WF]));
    assert_eq!(
        printed["value"]["columns"],
        json!([{"type": "field", "name": "status"},
               {"type": "property", "name": "DOCUMENT_NAME"},
               {"type": "property", "name": "DOCUMENT_NUMBER"},
               {"type": "property", "name": "AGE"}])
    );
    // A second view, then list and delete it offline.
    let (ok, _, err) = run(idv(d).args([
        "view",
        "create",
        "--key",
        "spare",
        "--namespace",
        "active-views-3",
        "--title",
        "Spare",
        "--workflows",
        WF,
        "--fields",
        "status",
        "--properties",
        "AGE",
        "--userId",
        "0123456789abcdef01234567",
        "--description",
        "only for one user",
    ]));
    assert!(ok, "{err}");
    let (ok, out, err) = run(idv(d).args(["view", "list", "--namespace", "active-views-3"]));
    assert!(ok, "{err}");
    let keys: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(keys, ["general-kyc-key", "spare"], "{out}");
    let (ok, _, err) = run(idv(d).args([
        "view",
        "delete",
        "--namespace",
        "active-views-3",
        "--key",
        "spare",
    ]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(idv(d).args([
        "view",
        "delete",
        "--namespace",
        "active-views-3",
        "--key",
        "spare",
    ]));
    assert!(!ok, "deleting a missing view fails");
    assert!(err.contains("no view spare"), "{err}");
    let (ok, _, err) = run(idv(d).args([
        "view",
        "create",
        "--key",
        "bad key",
        "--namespace",
        "active-views-3",
        "--title",
        "x",
    ]));
    assert!(!ok && err.contains("key"), "{err}");

    let srv = serve(d, db);
    let mut created = Vec::new();
    for i in 0..5 {
        let (status, s) = curl(
            "POST",
            &format!("{}/api/sessions?workflowId={WF}", srv.url),
            Some(&json!({"metadata": {"externalUserId": format!("load-{i}")}})),
        );
        assert_eq!(status, 200, "{s}");
        created.push(s["id"].as_str().unwrap().to_string());
    }

    let (status, views) = curl(
        "GET",
        &format!(
            "{}/api/views/namespaces/active-views-3?limit=100&skip=0",
            srv.url
        ),
        None,
    );
    assert_eq!(status, 200, "{views}");
    let items = views["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{views}");
    let value = &items[0]["value"];
    assert_eq!(items[0]["key"], "general-kyc-key");

    let (status, found) = curl(
        "POST",
        &format!("{}/api/sessions/search?limit=100", srv.url),
        Some(value),
    );
    assert_eq!(status, 200, "{found}");
    let mut ids: Vec<String> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found["total"], 5);
    for s in found["items"].as_array().unwrap() {
        assert_eq!(s["status"], 0);
        assert_eq!(s["workflow"]["id"], WF);
    }
    for id in &ids {
        let (status, s) = curl("GET", &format!("{}/api/sessions/{id}", srv.url), None);
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["id"], id.as_str());
    }
    ids.sort();
    created.sort();
    assert_eq!(
        ids, created,
        "the search returns exactly the sessions created"
    );
}
