//! The test harness: a real server on 127.0.0.1:0 over a real database (a temporary SQLite file,
//! or a fresh PostgreSQL database) and a real files folder, driven through real HTTP.

#![allow(dead_code)]

pub mod contract;
pub mod standins;

use idv_server::config::Config;
use idv_server::state::AppState;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use std::path::PathBuf;

pub const ADMIN_PASSWORD: &str = "admin-test-password";
/// The project's example KYC workflow (`examples/kyc/`): a form, document photos, a selfie and
/// a document check by the Document Reader stand-in.
pub const KYC: &str = include_str!("../../../../../examples/kyc/workflow.yaml");
pub const KYC_LOCALE: &str = include_str!("../../../../../examples/kyc/locale.yaml");
pub const KYC_ID: &str = "6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84";
/// The project's example age gate (`examples/age_gate/`).
pub const AGE_GATE: &str = include_str!("../../../../../examples/age_gate/workflow.yaml");
pub const AGE_GATE_LOCALE: &str = include_str!("../../../../../examples/age_gate/locale.yaml");
pub const AGE_GATE_ID: &str = "c4e8a2d6-1b3f-4a5c-9e7d-0f2b4d6a8c1e";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub url: String,
    pub client: Client,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// The server's clock: `clock.advance(ms)` moves its time forward.
    pub clock: std::sync::Arc<idv_core::time::OffsetClock>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pg_db: Option<String>,
    /// The Face API stand-in of [`TestServer::start_with_checks`], kept running with the server.
    face_api: Option<standins::FaceApi>,
}

/// The PostgreSQL server tests use.
pub fn pg_admin_url() -> String {
    std::env::var("IDV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn create_pg_database() -> (String, String) {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin} for these tests: {e}"));
    let name = format!("idv_api_{}", idv_core::ids::new_id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    (name.clone(), format!("{base}/{name}"))
}

async fn drop_pg_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server; `tweak` may change the configuration and prepare the data folder.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.storage.fs.path = dir.path().join("data").display().to_string();
        let mut pg_db = None;
        config.database.url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("idv.db").display()),
            Backend::Postgres => {
                let (name, url) = create_pg_database().await;
                pg_db = Some(name);
                url
            }
        };
        // The tests make far more requests a minute with one key than the product's default
        // rate limits allow; tests of the limits turn them back on in `tweak`.
        config.rate_limit.enabled = false;
        tweak(&mut config);
        contract::install();
        let clock = std::sync::Arc::new(idv_core::time::OffsetClock::default());
        let (url, tx, task) = Self::launch(&config, clock.clone()).await;
        TestServer {
            url,
            client: Client::builder().build().unwrap(),
            config,
            dir,
            clock,
            shutdown: Some(tx),
            task: Some(task),
            pg_db,
            face_api: None,
        }
    }

    /// Starts a server whose Document Reader is `dr` and whose Face API is a stand-in of its
    /// own ([`TestServer::face_api`], answering every match with
    /// [`standins::DEFAULT_SIMILARITY`] unless told otherwise): what the example KYC's
    /// DOCUMENT_CHECK calls. `tweak` may change the configuration further.
    pub async fn start_with_checks(
        backend: Backend,
        dr: &standins::DocReader,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let face = standins::FaceApi::start().await;
        let (dr_url, face_url) = (dr.url.clone(), face.url.clone());
        let mut srv = Self::start_with(backend, move |c| {
            c.services.docreader.enabled = true;
            c.services.docreader.url = dr_url;
            c.services.faceapi.url = face_url;
            tweak(c);
        })
        .await;
        srv.face_api = Some(face);
        srv
    }

    /// The Face API stand-in of a server started with [`TestServer::start_with_checks`].
    pub fn face_api(&self) -> &standins::FaceApi {
        self.face_api
            .as_ref()
            .expect("a server started with start_with_checks")
    }

    async fn launch(
        config: &Config,
        clock: std::sync::Arc<idv_core::time::OffsetClock>,
    ) -> (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let cfg = config.clone();
        let task = tokio::spawn(async move {
            idv_server::serve_with_clock(
                listener,
                cfg,
                Some(ADMIN_PASSWORD.into()),
                clock,
                async {
                    let _ = rx.await;
                },
            )
            .await
            .expect("server runs");
        });
        let client = Client::builder().build().unwrap();
        for _ in 0..2400 {
            if let Ok(r) = client.get(format!("{url}/api/health")).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        (url, tx, task)
    }

    /// Stops the server (gracefully) and starts a new one on the same database, files and
    /// clock, at a new address.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        contract::check(self.host());
        let (url, tx, task) = Self::launch(&self.config, self.clock.clone()).await;
        self.url = url;
        self.shutdown = Some(tx);
        self.task = Some(task);
    }

    /// A second handle on the same database and files, as the CLI would open them.
    pub async fn state(&self) -> AppState {
        AppState::open(self.config.clone(), self.url.clone())
            .await
            .unwrap()
    }

    /// `127.0.0.1:port`: the `Host` of requests to this server.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.url))
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client.patch(format!("{}{path}", self.url))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client.delete(format!("{}{path}", self.url))
    }

    pub fn admin(&self, rb: RequestBuilder) -> RequestBuilder {
        rb.basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// Mints an API key as admin and returns its text.
    pub async fn key(&self, permissions: &[&str]) -> String {
        let r = self
            .admin(self.post("/api/apikey"))
            .json(&json!({"name": "test", "permissions": permissions}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Loads the example KYC workflow (`examples/kyc/`) and its localization as admin.
    pub async fn load_kyc(&self) {
        self.load_workflow(KYC, KYC_LOCALE).await;
    }

    /// Loads a workflow and its localization file as admin.
    pub async fn load_workflow(&self, workflow: &str, locale: &str) {
        let r = self
            .admin(self.post("/api/workflows"))
            .header("content-type", "application/yaml")
            .body(workflow.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = self
            .admin(self.post("/api/translations"))
            .header("content-type", "text/yaml")
            .body(locale.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Starts a session of the example KYC workflow with `key` and returns its JSON.
    pub async fn start_session(&self, key: &str, body: Value) -> Value {
        self.start_session_of(KYC_ID, key, body).await
    }

    /// Starts a session of `workflow` with `key` and returns its JSON.
    pub async fn start_session_of(&self, workflow: &str, key: &str, body: Value) -> Value {
        let r = self
            .post(&format!("/api/sessions?workflowId={workflow}"))
            .header("authorization", format!("ApiKey {key}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Takes a session of the example KYC from ONBOARDING to SELFIE: consent, the form, both
    /// document photos and the selfie uploaded. The next `{"continue": true}` to SELFIE runs
    /// DOCUMENT_CHECK, whose action sends the photos to the Document Reader tagged with `id`.
    pub async fn kyc_up_to_the_check(&self, auth: &str, id: &str) {
        let next = |r: Response| async move {
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert_eq!(status, 200, "{body}");
            body["id"].as_str().unwrap_or_default().to_owned()
        };
        let r = self
            .submit(auth, id, "ONBOARDING", json!({"continue": true}))
            .await;
        assert_eq!(next(r).await, "PERSONAL_DETAILS");
        let form = json!({"givenNames": "ANNA MARIA", "surname": "ERIKSSON",
                          "dateOfBirth": "1996-01-01", "email": "anna@example.org"});
        let r = self.submit(auth, id, "PERSONAL_DETAILS", form).await;
        assert_eq!(next(r).await, "DOCUMENT_PHOTOS");
        let part = |label: &str| {
            reqwest::multipart::Part::bytes(standins::fake_jpeg(label))
                .file_name(format!("{label}.jpg"))
                .mime_str("image/jpeg")
                .unwrap()
        };
        let photos = reqwest::multipart::Form::new()
            .part("DOCUMENT_FRONT", part("front"))
            .part("DOCUMENT_BACK", part("back"));
        let r = self
            .post(&format!(
                "/api/sessions/{id}/step/DOCUMENT_PHOTOS?type=file"
            ))
            .header("authorization", auth)
            .multipart(photos)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = self
            .submit(auth, id, "DOCUMENT_PHOTOS", json!({"continue": true}))
            .await;
        assert_eq!(next(r).await, "SELFIE");
        let r = self
            .post(&format!(
                "/api/sessions/{id}/step/SELFIE?type=file&property=SELFIE&name=selfie.jpg"
            ))
            .header("authorization", auth)
            .header("content-type", "image/jpeg")
            .body(standins::fake_jpeg("selfie"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Submits step data with the `authorization` value `auth`.
    pub async fn submit(&self, auth: &str, id: &str, step: &str, body: Value) -> Response {
        self.post(&format!("/api/sessions/{id}/step/{step}?type=data"))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Reads a session with the `authorization` value `auth`, expecting 200.
    pub async fn session(&self, auth: &str, id: &str) -> Value {
        let r = self
            .get(&format!("/api/sessions/{id}"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reading session {id}");
        r.json().await.unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.config.storage.fs.path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(db) = self.pg_db.take() {
            drop_pg_database(&db).await;
        }
        contract::check(self.host());
    }
}

impl Drop for TestServer {
    /// Every answer of this server matched the OpenAPI document, or the test fails here.
    fn drop(&mut self) {
        contract::check(self.host());
    }
}

/// Sends a request and reads its JSON answer, whatever the status.
pub trait SendJson {
    fn send_json(self) -> impl std::future::Future<Output = Value>;
}

impl SendJson for RequestBuilder {
    async fn send_json(self) -> Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}

/// The `error.code` of an error response, and the status.
pub async fn error_of(r: Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
        body,
    )
}
