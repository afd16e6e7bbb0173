//! What the tests that run `idv serve` as a child process share: starting it on a database and
//! a files folder, waiting until it answers, and a fresh PostgreSQL database per run.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_idv");
/// The password of the `admin` user the first start creates.
pub const PASSWORD: &str = "serve-test-password";

/// The project's example KYC workflow (`examples/kyc/workflow.yaml`), by path.
pub const KYC_WORKFLOW: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/kyc/workflow.yaml"
);
/// Its translations (`examples/kyc/locale.yaml`), by path.
pub const KYC_LOCALE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/kyc/locale.yaml"
);
/// Its id.
pub const KYC_ID: &str = "6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84";

/// The id of [`FORM_WORKFLOW`].
pub const FORM_WORKFLOW_ID: &str = "6a0f7f20-0003-11ef-8000-00000000e003";
/// The smallest workflow with a session life: a data step `FORM` that any submission completes
/// (status VERIFIED), then the final step `DONE`.
pub const FORM_WORKFLOW: &str = r#"
id: 6a0f7f20-0003-11ef-8000-00000000e003
name: Form checks
version: "1"
lifetime: 3600
defaultLocale: en-us
steps:
  - id: FORM
    name: FORM
    type: DATA
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
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

/// A running `idv serve`; killed (SIGKILL) when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub http: reqwest::Client,
    /// Where its standard error goes.
    pub log: PathBuf,
    /// `http://…/metrics` when `metrics.prometheus.enabled`.
    pub metrics: Option<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The environment every test's `idv serve` and `idv` command gets: the database, the files
/// in `dir/data`, and the admin's password.
pub fn idv(dir: &Path, database: &str) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("IDV_CONFIG__DATABASE__URL", database)
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        )
        .env("IDV_ADMIN_PASSWORD", PASSWORD);
    c
}

/// Starts `idv serve` on `database` with its files in `dir` (a free port on 127.0.0.1, no
/// rate limits, `extra` environment on top); its standard error goes to `dir/log`. Returns once
/// it has printed its address; [`Serve::ready`] waits until it answers. Blocks the thread.
pub fn serve(dir: &Path, database: &str, log: &str, extra: &[(&str, &str)]) -> Serve {
    let log = dir.join(log);
    let mut cmd = idv(dir, database);
    cmd.arg("serve")
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", "0")
        .env("IDV_CONFIG__RATELIMIT__ENABLED", "false")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The address arrives on a channel, so a server that never prints it fails the test after a
    // deadline instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut metrics = None;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    // The metrics listener's line comes first, when it is on.
                    if let Some(u) = line.trim().strip_prefix("idv metrics on ") {
                        metrics = Some(u.to_string());
                    }
                    if let Some(u) = line.trim().strip_prefix("idv listening on ") {
                        let _ = tx.send((u.to_string(), metrics.take()));
                        break;
                    }
                }
            }
        }
        for _ in reader.lines() {}
    });
    let mut serve = Serve {
        child,
        url: String::new(),
        http: reqwest::Client::new(),
        log,
        metrics: None,
    };
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok((url, metrics)) => {
            serve.url = url;
            serve.metrics = metrics;
        }
        Err(_) => panic!(
            "idv serve did not print its address within 120 s ({}); its log:\n{}",
            match serve.child.try_wait() {
                Ok(Some(status)) => format!("it exited: {status}"),
                _ => "it is still running".to_string(),
            },
            serve.log_text()
        ),
    }
    serve
}

impl Serve {
    /// Waits until `GET /api/health` answers 2xx.
    pub async fn ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let up = self
                .http
                .get(format!("{}/api/health", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "idv serve at {} did not answer /api/health within 60 s; its log:\n{}",
                self.url,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A request as `admin`.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .basic_auth("admin", Some(PASSWORD))
    }

    /// Loads a workflow definition (YAML) through the API.
    pub async fn load_workflow(&self, yaml: &str) {
        let r = self
            .req(reqwest::Method::POST, "/api/workflows")
            .header("content-type", "application/yaml")
            .body(yaml.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last 4 KiB of its log.
    pub fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let cut = text.len().saturating_sub(4096);
        let cut = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[cut..].to_string()
    }
}

/// The PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("IDV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database; [`PgDatabase::drop_now`] removes it.
pub struct PgDatabase {
    pub url: String,
    pub name: String,
}

impl PgDatabase {
    pub async fn create(prefix: &str) -> PgDatabase {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin}: {e}"));
        let name = format!("{prefix}_{}", idv_core::ids::new_id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Drops the database, closing whatever connections are left.
    pub async fn drop_now(&self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}
/// Regula's own files, for the compatibility tests (shared with the server's tests).
#[macro_use]
#[path = "../../../../idv-server/tests/it/support/regula.rs"]
pub mod regula;

/// The S3-compatible test server (`IDV_TEST_S3_URL`, started by the test command); panics with
/// how to start it when unset.
pub fn s3_url() -> String {
    std::env::var("IDV_TEST_S3_URL").unwrap_or_else(|_| {
        panic!(
            "IDV_TEST_S3_URL is not set: this test keeps files on an object store; start the \
             test stores with `eval \"$(scripts/object_stores.sh start)\"`, or run \
             scripts/test.sh, which does"
        )
    })
}

/// A fresh bucket on the S3-compatible test server (which makes one on a plain PUT), named
/// `{prefix}-…`.
pub async fn s3_bucket(prefix: &str) -> String {
    let name = format!("{prefix}-{}", &idv_core::ids::new_id()[..16]);
    let r = reqwest::Client::new()
        .put(format!("{}/{name}", s3_url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "creating {name}: {}", r.status());
    name
}
