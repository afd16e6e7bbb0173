//! `idv audit verify` on the real binary, on SQLite and PostgreSQL: the CLI's own changes of
//! users and keys are audited (actor kind `cli`), the chain verifies, a row changed or deleted
//! directly in the database is found by its sequence number, and a chain whose start was
//! removed by retention still verifies from its anchor.

use sqlx::{Connection, Executor};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_idv");

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Db {
    url: String,
    pg_name: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("IDV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn database(backend: Backend, dir: &Path) -> Db {
    match backend {
        Backend::Sqlite => Db {
            url: format!("sqlite://{}", dir.join("idv.db").display()),
            pg_name: None,
        },
        Backend::Postgres => {
            let admin = pg_admin_url();
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin}: {e}"));
            let name = format!("idv_cli_{}", idv_core::ids::new_id());
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            let base = admin.rsplit_once('/').unwrap().0.to_string();
            Db {
                url: format!("{base}/{name}"),
                pg_name: Some(name),
            }
        }
    }
}

async fn drop_database(db: &Db) {
    if let Some(name) = &db.pg_name
        && let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await
    {
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    }
}

fn idv(dir: &Path, db: &Db) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDV_ADMIN_PASSWORD")
        .env("IDV_CONFIG__DATABASE__URL", &db.url)
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        );
    c
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs one SQL statement directly against the database, as someone tampering would.
async fn sql(db: &Db, statement: &str) {
    if db.pg_name.is_some() {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        conn.execute(statement).await.unwrap();
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        conn.execute(statement).await.unwrap();
        conn.close().await.unwrap();
    }
}

/// Four CLI changes: user created, key created, key revoked, user deleted.
fn make_entries(dir: &Path, db: &Db) {
    let (code, _, err) = run(idv(dir, db).args([
        "user",
        "create",
        "-n",
        "op",
        "-p",
        "pw-123456",
        "-r",
        "verifier",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(idv(dir, db).args([
        "apikey",
        "create",
        "--name",
        "k",
        "--permissions",
        "session_all:read",
    ]));
    assert_eq!(code, 0, "{err}");
    let id = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("ID: "))
        .unwrap()
        .to_string();
    let (code, _, err) = run(idv(dir, db).args(["apikey", "revoke", &id]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(idv(dir, db).args(["user", "delete", "-n", "op"]));
    assert_eq!(code, 0, "{err}");
}

async fn verify_and_tamper(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(backend, dir.path()).await;
    let (code, out, err) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: 0 entries"), "{out}");

    make_entries(dir.path(), &db);
    let (code, out, err) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "OK: 4 entries, 1 to 4");

    // What the CLI recorded.
    let state = idv_server::state::AppState::open(
        {
            let mut c = idv_server::config::Config::default();
            c.database.url = db.url.clone();
            c.storage.fs.path = dir.path().join("data").display().to_string();
            c
        },
        "http://localhost".into(),
    )
    .await
    .unwrap();
    let rows = state
        .store
        .audit_query(&idv_store::AuditQuery {
            ascending: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "apikey.created",
            "apikey.revoked",
            "user.deleted"
        ]
    );
    assert!(rows.iter().all(|r| r.entry.actor_kind == "cli"));
    assert_eq!(rows[1].entry.target, rows[2].entry.target, "the same key");
    assert!(!format!("{rows:?}").contains("pw-123456"));

    // A field changed in place: that entry is named.
    sql(&db, "UPDATE audit_log SET outcome = 500 WHERE seq = 3").await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at entry 3:"), "{out}");
    assert!(out.contains("changed after it was written"), "{out}");
    sql(&db, "UPDATE audit_log SET outcome = 200 WHERE seq = 3").await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 0, "restored: {out}");

    // A changed hash, recomputed to match its own content, breaks the next link.
    let mut forged = rows[1].clone();
    forged.entry.target = Some("someone-else".into());
    let forged_hash = forged.computed_hash();
    sql(
        &db,
        &format!(
            "UPDATE audit_log SET target = 'someone-else', hash = '{forged_hash}' WHERE seq = 2"
        ),
    )
    .await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at entry 3:"), "{out}");
    assert!(out.contains("prev_hash"), "{out}");

    drop_database(&db).await;
}

#[test]
fn verify_and_tamper_sqlite() {
    tokio_run(verify_and_tamper(Backend::Sqlite));
}

#[test]
fn verify_and_tamper_postgres() {
    tokio_run(verify_and_tamper(Backend::Postgres));
}

async fn deleted_rows_and_retention(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(backend, dir.path()).await;
    make_entries(dir.path(), &db);
    make_entries(dir.path(), &db);

    // Retention removes the first two entries: the rest verifies from the anchor.
    let mut config = idv_server::config::Config::default();
    config.database.url = db.url.clone();
    config.storage.fs.path = dir.path().join("data").display().to_string();
    let state = idv_server::state::AppState::open(config.clone(), "http://localhost".into())
        .await
        .unwrap();
    let rows = state
        .store
        .audit_query(&idv_store::AuditQuery {
            ascending: true,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    let mut audit = config.services.audit.clone();
    audit.user.keep_for = Some(idv_server::scheduler::Period(60));
    // The CLI runs one process per change, so entry 3 is later than entry 2.
    let removed = idv_server::audit::verify::apply_retention(
        state.store.as_ref(),
        &audit,
        rows[1].entry.at + 60_000 + 1,
    )
    .await
    .unwrap();
    assert_eq!(removed, 2);
    let (code, out, err) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim(),
        "OK: 6 entries, 3 to 8, verified from the retention anchor at entry 2"
    );

    // A row deleted from the middle.
    sql(&db, "DELETE FROM audit_log WHERE seq = 5").await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("BROKEN at entry 5: entry 5 is missing: entry 4 is followed by 6"),
        "{out}"
    );
    // The last row deleted: the head no longer matches.
    sql(&db, "DELETE FROM audit_log WHERE seq >= 5").await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at entry 5:"), "{out}");
    assert!(out.contains("head is 8"), "{out}");
    // The first row after the anchor deleted.
    sql(&db, "DELETE FROM audit_log WHERE seq = 3").await;
    let (code, out, _) = run(idv(dir.path(), &db).args(["audit", "verify"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("BROKEN at entry 3:"), "{out}");
    drop_database(&db).await;
}

#[test]
fn deleted_rows_and_retention_sqlite() {
    tokio_run(deleted_rows_and_retention(Backend::Sqlite));
}

#[test]
fn deleted_rows_and_retention_postgres() {
    tokio_run(deleted_rows_and_retention(Backend::Postgres));
}

#[test]
fn an_unreadable_database_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(Command::new(BIN)
        .current_dir(dir.path())
        .env(
            "IDV_CONFIG__DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .args(["audit", "verify"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error"), "{err}");
}

fn tokio_run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f);
}
