//! `idv session export` and `idv session import` with the built binary: sessions made through a
//! real `idv serve`, exported from its SQLite data folder, imported into a fresh folder (and a
//! fresh PostgreSQL database), and served again exactly as before; a tampered archive is
//! refused and writes nothing; an existing session is skipped unless `--overwrite`.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::support::{KYC_ID, KYC_LOCALE, KYC_WORKFLOW};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
/// Every install here shows the same file URLs, so sessions compare equal across them.
const BASE_URL: &str = "http://idv.example";

/// `idv` with its files in `dir` and its database at `db` (SQLite in `dir` when `None`).
fn idv_at(dir: &Path, db: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDV_ADMIN_PASSWORD")
        .env(
            "IDV_CONFIG__DATABASE__URL",
            db.map(str::to_string)
                .unwrap_or_else(|| format!("sqlite://{}", dir.join("idv.db").display())),
        )
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        )
        .env("IDV_CONFIG__BASEURL", BASE_URL);
    c
}

fn idv(dir: &Path) -> Command {
    idv_at(dir, None)
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

/// Runs `cmd`, expecting success.
fn ok(cmd: &mut Command) -> String {
    let (ok, out, err) = run(cmd);
    assert!(ok, "{cmd:?} failed:\n{out}\n{err}");
    out
}

/// A key with everyone's session permissions, made offline.
fn make_key(mut cmd: Command) -> String {
    let out = ok(cmd.args([
        "apikey",
        "create",
        "--name",
        "tests",
        "--permissions",
        "session_all:read,session_all:write",
    ]));
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Key: "))
        .unwrap_or_else(|| panic!("no key in {out}"))
        .to_string()
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

fn serve(mut cmd: Command) -> Server {
    let mut child = cmd
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .env("IDV_ADMIN_PASSWORD", "session-cli-password")
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

struct Api {
    client: reqwest::Client,
    url: String,
    auth: String,
}

impl Api {
    fn new(server: &Server, key: &str) -> Api {
        Api {
            client: reqwest::Client::new(),
            url: server.url.clone(),
            auth: format!("ApiKey {key}"),
        }
    }

    async fn session(&self, id: &str) -> Value {
        let r = self
            .client
            .get(format!("{}/api/sessions/{id}", self.url))
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reading {id}");
        r.json().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("authorization", &self.auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    /// Every file of `session` as this server downloads it, by file id.
    async fn downloads(&self, session: &Value) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for f in session["files"].as_array().unwrap() {
            let url = f["url"].as_str().unwrap().replace(BASE_URL, &self.url);
            let r = self
                .client
                .get(url)
                .header("authorization", &self.auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            out.push((
                f["id"].as_str().unwrap().to_string(),
                r.bytes().await.unwrap().to_vec(),
            ));
        }
        out
    }
}

/// What the source install held.
struct Source {
    _dir: tempfile::TempDir,
    /// The exported archives (all sessions).
    out: tempfile::TempDir,
    sessions: Vec<Value>,
    files: Vec<Vec<(String, Vec<u8>)>>,
    photo_path: String,
}

/// Two sessions of the example KYC through a real server on SQLite, one with a step done and a photo
/// uploaded, then `idv session export --all`.
async fn source() -> Source {
    let dir = tempfile::tempdir().unwrap();
    ok(idv(dir.path()).args(["workflow", "apply", KYC_WORKFLOW, KYC_LOCALE]));
    let key = make_key(idv(dir.path()));
    let server = serve(idv(dir.path()));
    let api = Api::new(&server, &key);
    let start = format!("/api/sessions?workflowId={KYC_ID}");
    let first = api
        .post_json(&start, json!({"metadata": {"externalUserId": "user-1"}}))
        .await;
    let id1 = first["id"].as_str().unwrap().to_string();
    api.post_json(
        &format!("/api/sessions/{id1}/step/ONBOARDING?type=data"),
        json!({"continue": true}),
    )
    .await;
    let step = api.session(&id1).await["currentStep"]
        .as_str()
        .unwrap()
        .to_string();
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let r = api
        .client
        .post(format!(
            "{}/api/sessions/{id1}/step/{step}?type=file&property=DOCUMENT_FRONT&name=passport.jpg",
            api.url
        ))
        .header("authorization", &api.auth)
        .header("content-type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let second = api
        .post_json(&start, json!({"metadata": {"externalUserId": "user-2"}}))
        .await;
    let id2 = second["id"].as_str().unwrap().to_string();
    let s1 = api.session(&id1).await;
    let s2 = api.session(&id2).await;
    let files = vec![api.downloads(&s1).await, api.downloads(&s2).await];
    assert!(
        files[0].iter().any(|(_, b)| *b == photo),
        "the photo is a file of the first session"
    );
    let photo_id = s1["properties"]["DOCUMENT_FRONT"]["fileId"]
        .as_str()
        .unwrap()
        .to_string();
    drop(server);

    let out = tempfile::tempdir().unwrap();
    let printed = ok(idv(dir.path())
        .args(["session", "export", "--all", "-o"])
        .arg(out.path()));
    assert!(printed.contains("Exported 2 session(s)"), "{printed}");
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![format!("session-{id1}.zip"), format!("session-{id2}.zip")];
    expected.sort();
    assert_eq!(names, expected, "one archive per session, nothing else");
    Source {
        _dir: dir,
        out,
        sessions: vec![s1, s2],
        files,
        photo_path: format!("files/{photo_id}/passport.jpg"),
    }
}

impl Source {
    fn id(&self, i: usize) -> String {
        self.sessions[i]["id"].as_str().unwrap().to_string()
    }

    /// Serves `dir` (database `db`) and checks that every session reads and downloads as it
    /// did at the source.
    async fn check_served(&self, dir: &Path, db: Option<&str>) {
        let key = make_key(idv_at(dir, db));
        let server = serve(idv_at(dir, db));
        let api = Api::new(&server, &key);
        for (i, original) in self.sessions.iter().enumerate() {
            let id = self.id(i);
            let got = api.session(&id).await;
            assert_eq!(&got, original, "session {id} reads as it did at the source");
            assert_eq!(
                api.downloads(&got).await,
                self.files[i],
                "the files of {id} have the same bytes"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn export_selection_import_skip_overwrite_and_tamper_on_sqlite() {
    let src = source().await;
    let (id1, id2) = (src.id(0), src.id(1));

    // Selection: --id, --filter, and nothing chosen.
    let sel = tempfile::tempdir().unwrap();
    let printed = ok(idv(src._dir.path())
        .args(["session", "export", "--id", &id2, "-o"])
        .arg(sel.path().join("one")));
    assert!(printed.contains("Exported 1 session(s)"), "{printed}");
    assert!(
        sel.path()
            .join("one")
            .join(format!("session-{id2}.zip"))
            .exists()
    );
    assert!(
        !sel.path()
            .join("one")
            .join(format!("session-{id1}.zip"))
            .exists()
    );
    let none = json!({"op": "$and", "conditions": [
        {"field": "workflow.id", "op": "$eq", "value": KYC_ID},
        {"field": "createdAt", "op": "$lt", "value": "2000-01-01T00:00:00Z"}]});
    let printed = ok(idv(src._dir.path())
        .args(["session", "export", "--filter", &none.to_string(), "-o"])
        .arg(sel.path().join("none")));
    assert!(printed.contains("Exported 0 session(s)"), "{printed}");
    let both = json!({"field": "workflow.id", "op": "$in", "value": [KYC_ID]});
    let printed = ok(idv(src._dir.path())
        .args(["session", "export", "--filter", &both.to_string(), "-o"])
        .arg(sel.path().join("both")));
    assert!(printed.contains("Exported 2 session(s)"), "{printed}");
    // The search grammar: a metadata field picks the second session only.
    let by_user = json!({"filter": {"op": "$and", "conditions": [
        {"field": "metadata.externalUserId", "op": "$eq", "value": "user-2"}]}});
    let printed = ok(idv(src._dir.path())
        .args(["session", "export", "--filter", &by_user.to_string(), "-o"])
        .arg(sel.path().join("user2")));
    assert!(printed.contains("Exported 1 session(s)"), "{printed}");
    assert!(
        sel.path()
            .join("user2")
            .join(format!("session-{id2}.zip"))
            .exists()
    );
    let (good, _, err) = run(idv(src._dir.path())
        .args(["session", "export", "-o"])
        .arg(sel.path().join("x")));
    assert!(!good && err.contains("--all"), "{err}");
    let (good, _, err) = run(idv(src._dir.path())
        .args(["session", "export", "--filter", r#"{"field":"AGE"}"#, "-o"])
        .arg(sel.path().join("x")));
    assert!(
        !good && err.contains("--filter") && err.contains("field"),
        "{err}"
    );

    // Into a fresh folder: both sessions, served exactly as before.
    let dst = tempfile::tempdir().unwrap();
    let printed = ok(idv(dst.path())
        .args(["session", "import", "-i"])
        .arg(src.out.path()));
    assert!(
        printed.contains("2 imported, 0 skipped, 0 failed"),
        "{printed}"
    );
    // The fresh install lacked the workflow: its definition came as an extra revision below
    // zero, which the second session found again.
    assert!(
        printed.contains(&format!("workflow {KYC_ID} revision -1, added)")),
        "{printed}"
    );
    assert_eq!(printed.matches(", added").count(), 1, "{printed}");
    src.check_served(dst.path(), None).await;

    // Back into the install they came from: the stored revision 1 has the same definition.
    let printed = ok(idv(src._dir.path())
        .args(["session", "import", "--overwrite", "-i"])
        .arg(src.out.path()));
    assert!(
        printed.contains(&format!("workflow {KYC_ID} revision 1)")) && !printed.contains("added"),
        "{printed}"
    );

    // Again: both exist, so both are skipped, and that is no failure.
    let (good, printed, err) = run(idv(dst.path())
        .args(["session", "import", "-i"])
        .arg(src.out.path()));
    assert!(good, "{err}");
    assert!(
        printed.contains("0 imported, 2 skipped, 0 failed"),
        "{printed}"
    );
    assert!(err.contains(&id1) && err.contains("--overwrite"), "{err}");

    // Move the second session on, then --overwrite puts it back as exported.
    {
        let key = make_key(idv(dst.path()));
        let server = serve(idv(dst.path()));
        let api = Api::new(&server, &key);
        api.post_json(
            &format!("/api/sessions/{id2}/step/ONBOARDING?type=data"),
            json!({"continue": true}),
        )
        .await;
        assert_ne!(
            api.session(&id2).await,
            src.sessions[1],
            "the session moved on"
        );
    }
    let printed = ok(idv(dst.path())
        .args(["session", "import", "--overwrite", "-i"])
        .arg(src.out.path()));
    assert!(
        printed.contains("2 imported, 0 skipped, 0 failed") && printed.contains("replaced"),
        "{printed}"
    );
    src.check_served(dst.path(), None).await;

    // One byte of the photo changed inside the archive: refused, naming the file; nothing of
    // it is written.
    let tampered = tempfile::tempdir().unwrap();
    let archive = src.out.path().join(format!("session-{id1}.zip"));
    rewrite_with_one_byte_changed(
        &archive,
        &tampered.path().join(format!("session-{id1}.zip")),
        &src.photo_path,
    );
    let fresh = tempfile::tempdir().unwrap();
    let (good, printed, err) = run(idv(fresh.path())
        .args(["session", "import", "-i"])
        .arg(tampered.path()));
    assert!(!good, "a tampered archive fails the import");
    assert!(err.contains(&src.photo_path), "names the file: {err}");
    assert!(
        printed.contains("0 imported, 0 skipped, 1 failed"),
        "{printed}"
    );
    assert!(
        !fresh.path().join("data").join("sessions").exists(),
        "no file bytes were written"
    );
    let printed = ok(idv(fresh.path())
        .args(["session", "export", "--all", "-o"])
        .arg(fresh.path().join("out")));
    assert!(
        printed.contains("Exported 0 session(s)"),
        "no session was written: {printed}"
    );
    // An entry whose name climbs out of the folder, or one the manifest does not list: the
    // archive is refused, naming the entry, and nothing is written.
    for (extra, needle) in [
        ("../escape.txt", "../escape.txt"),
        ("notes.txt", "notes.txt"),
    ] {
        let odd = tempfile::tempdir().unwrap();
        rewrite_with_extra_entry(
            &archive,
            &odd.path().join(format!("session-{id1}.zip")),
            extra,
        );
        let fresh = tempfile::tempdir().unwrap();
        let (good, _, err) = run(idv(fresh.path())
            .args(["session", "import", "-i"])
            .arg(odd.path()));
        assert!(!good && err.contains(needle), "{extra}: {err}");
        assert!(!fresh.path().join("data").join("sessions").exists());
        assert!(
            !odd.path().join("escape.txt").exists() && !fresh.path().join("escape.txt").exists()
        );
    }

    // The same tampering into the install that has the session leaves it as it was.
    let (good, _, err) = run(idv(dst.path())
        .args(["session", "import", "--overwrite", "-i"])
        .arg(tampered.path()));
    assert!(!good && err.contains(&src.photo_path), "{err}");
    src.check_served(dst.path(), None).await;
}

/// Copies the zip at `from` to `to` with one byte of entry `name` changed and every other
/// entry (the manifest included) as it was.
fn rewrite_with_one_byte_changed(from: &Path, to: &PathBuf, name: &str) {
    let mut input = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut output = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let mut changed = false;
    for i in 0..input.len() {
        let mut f = input.by_index(i).unwrap();
        let entry_name = f.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if entry_name == name {
            bytes[1000] ^= 0x01;
            changed = true;
        }
        output
            .start_file(
                entry_name.as_str(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        output.write_all(&bytes).unwrap();
    }
    output.finish().unwrap();
    assert!(changed, "{name} is in the archive");
}

/// Copies the zip at `from` to `to` with one more entry, `name`, that the manifest does not
/// list.
fn rewrite_with_extra_entry(from: &Path, to: &PathBuf, name: &str) {
    let mut input = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut output = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for i in 0..input.len() {
        let mut f = input.by_index(i).unwrap();
        let entry_name = f.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        output
            .start_file(
                entry_name.as_str(),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        output.write_all(&bytes).unwrap();
    }
    output
        .start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    output.write_all(b"not part of the export").unwrap();
    output.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn import_into_a_fresh_postgres_database() {
    use sqlx::Connection;
    let src = source().await;
    let admin = std::env::var("IDV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin}: {e}"));
    let name = format!("idv_cli_{}", std::process::id());
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);

    let dst = tempfile::tempdir().unwrap();
    let printed = ok(idv_at(dst.path(), Some(&url))
        .args(["session", "import", "-i"])
        .arg(src.out.path()));
    assert!(
        printed.contains("2 imported, 0 skipped, 0 failed"),
        "{printed}"
    );
    src.check_served(dst.path(), Some(&url)).await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
}
