//! The engine behind real workflows: an idv server (SQLite, a files folder) whose
//! `services.docreader.url` and `services.faceapi.url` point at the checks engine, both on
//! 127.0.0.1, driven through HTTP as a capture page would.
//!
//! - The repository's example KYC (`examples/kyc`): a synthetic passport with a matching selfie
//!   is verified (status 2); an expired passport, a tampered check digit and another person's
//!   selfie are not.
//! - Regula's General KYC (`general_kyc.yaml`, from `IDV_REGULA_DIR` when set): its document
//!   transformers fill FULL_NAME, DOCUMENT_NUMBER and AGE from the engine's transaction results.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate};
use idv_checks::synth::{self, CheckDigit, Spec};
use idv_checks::{Engine, Settings};
use idv_core::time::Clock as _;
use idv_server::config::Config;
use image::RgbImage;
use reqwest::Client;
use serde_json::{Value, json};

const KYC: &str = include_str!("../../../examples/kyc/workflow.yaml");
const KYC_LOCALE: &str = include_str!("../../../examples/kyc/locale.yaml");
const KYC_ID: &str = "6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84";
const GENERAL_KYC_ID: &str = "edda0192-b890-11ef-a348-17da751a6a22";
const ADMIN_PASSWORD: &str = "checks-test-admin-password";

fn models() -> PathBuf {
    std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir)
}

fn face(name: &str) -> Vec<u8> {
    let path = models().join("faces").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/install_checks.sh puts the test photographs there)",
            path.display()
        )
    })
}

fn rgb(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory(jpeg).unwrap().to_rgb8()
}

/// The checks engine and an idv server that calls it, each on its own port.
struct Setup {
    url: String,
    /// The checks engine's address.
    engine: String,
    client: Client,
    key: String,
    _dir: tempfile::TempDir,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for tx in self.stops.drain(..) {
            let _ = tx.send(());
        }
    }
}

async fn setup(workflows: &[(&str, &str)]) -> Setup {
    let engine = Engine::load(Settings::new(models())).expect("the engine loads its models");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let engine_url = format!("http://{}", listener.local_addr().unwrap());
    let (engine_tx, engine_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(idv_checks::serve(listener, engine, async {
        let _ = engine_rx.await;
    }));

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.storage.fs.path = dir.path().join("data").display().to_string();
    config.database.url = format!("sqlite://{}", dir.path().join("idv.db").display());
    config.rate_limit.enabled = false;
    config.services.docreader.enabled = true;
    config.services.docreader.url = engine_url.clone();
    config.services.faceapi.enabled = true;
    config.services.faceapi.url = engine_url.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (srv_tx, srv_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        idv_server::serve_with_clock(
            listener,
            config,
            Some(ADMIN_PASSWORD.into()),
            Arc::new(idv_core::time::OffsetClock::default()),
            async {
                let _ = srv_rx.await;
            },
        )
        .await
        .expect("the server runs");
    });
    let client = Client::new();
    for _ in 0..2400 {
        if let Ok(r) = client.get(format!("{url}/api/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for (workflow, locale) in workflows {
        let r = client
            .post(format!("{url}/api/workflows"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("content-type", "application/yaml")
            .body(workflow.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = client
            .post(format!("{url}/api/translations"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("content-type", "text/yaml")
            .body(locale.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let r = client
        .post(format!("{url}/api/apikey"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({"name": "checks", "permissions": ["session_all:read", "session_all:write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let key = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        url,
        engine: engine_url,
        client,
        key: format!("ApiKey {key}"),
        _dir: dir,
        stops: vec![srv_tx, engine_tx],
    }
}

impl Setup {
    async fn start(&self, workflow: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/sessions?workflowId={workflow}", self.url))
            .header("authorization", &self.key)
            .json(&json!({"locale": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Submits step data, expects 200 and answers the step the session waits in.
    async fn step(&self, id: &str, step: &str, body: Value) -> String {
        let r = self
            .client
            .post(format!(
                "{}/api/sessions/{id}/step/{step}?type=data",
                self.url
            ))
            .header("authorization", &self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{step}: {body}");
        body["id"].as_str().unwrap_or_default().to_owned()
    }

    async fn upload(&self, id: &str, step: &str, parts: Vec<(&str, Vec<u8>)>) {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes) in parts {
            form = form.part(
                name.to_owned(),
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(format!("{name}.jpg"))
                    .mime_str("image/jpeg")
                    .unwrap(),
            );
        }
        let r = self
            .client
            .post(format!(
                "{}/api/sessions/{id}/step/{step}?type=file",
                self.url
            ))
            .header("authorization", &self.key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn session(&self, id: &str) -> Value {
        let r = self
            .client
            .get(format!("{}/api/sessions/{id}", self.url))
            .header("authorization", &self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Runs the example KYC with these photos; answers the session once it has ended.
    async fn example_kyc(&self, front: Vec<u8>, back: Vec<u8>, selfie: Vec<u8>) -> Value {
        let id = self.start(KYC_ID).await;
        assert_eq!(
            self.step(&id, "ONBOARDING", json!({"continue": true}))
                .await,
            "PERSONAL_DETAILS"
        );
        let form = json!({"givenNames": "ANNA", "surname": "HOLDER", "dateOfBirth": "1990-05-17"});
        assert_eq!(
            self.step(&id, "PERSONAL_DETAILS", form).await,
            "DOCUMENT_PHOTOS"
        );
        self.upload(
            &id,
            "DOCUMENT_PHOTOS",
            vec![("DOCUMENT_FRONT", front), ("DOCUMENT_BACK", back)],
        )
        .await;
        assert_eq!(
            self.step(&id, "DOCUMENT_PHOTOS", json!({"continue": true}))
                .await,
            "SELFIE"
        );
        self.upload(&id, "SELFIE", vec![("SELFIE", selfie)]).await;
        let end = self.step(&id, "SELFIE", json!({"continue": true})).await;
        assert!(
            end == "KYC_COMPLETED" || end == "KYC_FAILED",
            "the check ends the session: {end}"
        );
        self.session(&id).await
    }
}

/// Today on the system clock (the engine and the server read the same one).
fn today() -> NaiveDate {
    DateTime::from_timestamp_millis(idv_core::time::SystemClock.now_ms())
        .expect("a time")
        .date_naive()
}

/// A passport of an adult born on 17 May 1990, valid for five more years.
fn passport(seed: u64) -> Spec {
    let today = today();
    Spec {
        birth_date: NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
        expiry_date: NaiveDate::from_ymd_opt(today.year() + 5, 3, 1).unwrap(),
        ..Spec::passport(seed)
    }
}

fn photo(spec: &Spec, portrait: &RgbImage) -> Vec<u8> {
    synth::to_jpeg(&synth::render(spec, portrait), 90)
}

/// A plain page with nothing to read, as the back of a passport's data page.
fn blank_page() -> Vec<u8> {
    synth::to_jpeg(
        &RgbImage::from_pixel(1200, 800, image::Rgb([236, 232, 224])),
        90,
    )
}

fn age(born: NaiveDate) -> i64 {
    let today = today();
    let mut years = today.year() - born.year();
    if (today.month(), today.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    i64::from(years)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_kyc_verifies_a_real_looking_passport_and_refuses_what_does_not_hold() {
    let s = setup(&[(KYC, KYC_LOCALE)]).await;
    let holder = rgb(&face("obama.jpg"));

    // A passport and a selfie of its holder: verified.
    let spec = passport(11);
    let done = s
        .example_kyc(photo(&spec, &holder), blank_page(), face("obama2.jpg"))
        .await;
    let p = &done["properties"];
    assert_eq!(done["status"], 2, "verified: {done:#}");
    assert_eq!(done["currentStep"], "KYC_COMPLETED");
    assert_eq!(p["DOCUMENT_STATUS"], 1, "{p:#}");
    assert_eq!(p["DOCUMENT_TYPE"], 11, "a passport: {p:#}");
    assert_eq!(p["DOCUMENT_NUMBER"], spec.document_number.as_str());
    assert_eq!(p["AGE"], age(spec.birth_date));
    let name = p["DOCUMENT_NAME"].as_str().unwrap_or_default();
    assert!(
        name.contains(&spec.surname) && name.contains(&spec.given_names),
        "{name} names {} {}",
        spec.surname,
        spec.given_names
    );
    let similarity = p["FACE_SIMILARITY"].as_f64().expect("a similarity");
    assert!(similarity >= 0.8, "the holder's selfie: {similarity}");
    assert!(
        p["DOCUMENT_PORTRAIT"]["url"].is_string(),
        "a cut-out portrait: {p:#}"
    );

    // The same passport expired last year: not verified.
    let today = today();
    let expired =
        passport(12).expired_on(NaiveDate::from_ymd_opt(today.year() - 1, 6, 30).unwrap());
    let done = s
        .example_kyc(photo(&expired, &holder), blank_page(), face("obama2.jpg"))
        .await;
    assert_ne!(done["status"], 2, "expired: {done:#}");
    assert_ne!(done["properties"]["DOCUMENT_STATUS"], 1, "{done:#}");

    // A check digit printed wrong: not verified.
    let tampered = passport(13).tampered(CheckDigit::DocumentNumber);
    let done = s
        .example_kyc(photo(&tampered, &holder), blank_page(), face("obama2.jpg"))
        .await;
    assert_ne!(done["status"], 2, "tampered: {done:#}");
    assert_ne!(done["properties"]["DOCUMENT_STATUS"], 1, "{done:#}");

    // Somebody else's selfie: the document passes, the face match does not.
    let done = s
        .example_kyc(
            photo(&passport(14), &holder),
            blank_page(),
            face("biden.jpg"),
        )
        .await;
    assert_ne!(done["status"], 2, "another person: {done:#}");
    assert_eq!(done["properties"]["DOCUMENT_STATUS"], 1, "{done:#}");
    let similarity = done["properties"]["FACE_SIMILARITY"]
        .as_f64()
        .expect("a similarity");
    assert!(similarity < 0.8, "another person's selfie: {similarity}");
}

#[tokio::test(flavor = "multi_thread")]
async fn general_kycs_document_transformers_read_the_engines_results() {
    let Some(dir) = std::env::var_os("IDV_REGULA_DIR").map(PathBuf::from) else {
        eprintln!("general_kyc.yaml not read: IDV_REGULA_DIR is not set");
        return;
    };
    let workflow = std::fs::read_to_string(dir.join("general_kyc.yaml")).unwrap();
    let locale = std::fs::read_to_string(dir.join("general_kyc_locale.yaml")).unwrap();
    let s = setup(&[(&workflow, &locale)]).await;
    // The device's Document Reader SDK sends the photos to the service and hands the workflow
    // the transaction id; here the test does that.
    let spec = passport(21);
    let holder = rgb(&face("obama.jpg"));
    use base64::Engine as _;
    let image = base64::engine::general_purpose::STANDARD.encode(photo(&spec, &holder));
    let r = s
        .client
        .post(format!("{}/api/process", s.engine))
        .json(&json!({"processParam": {"scenario": "FullProcess"},
                      "List": [{"ImageData": {"image": image}, "light": 6, "page_idx": 0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let answer: Value = r.json().await.unwrap();
    let tx = answer["TransactionInfo"]["TransactionID"]
        .as_str()
        .expect("a transaction id")
        .to_owned();

    let id = s.start(GENERAL_KYC_ID).await;
    assert_eq!(
        s.step(&id, "ONBOARDING", json!({"continue": true})).await,
        "PREPARE_DOCUMENT"
    );
    assert_eq!(
        s.step(&id, "PREPARE_DOCUMENT", json!({"continue": true}))
            .await,
        "DOC_READER"
    );
    s.step(
        &id,
        "DOC_READER",
        json!({"transactionId": tx, "cancel": false, "has_nfc": false}),
    )
    .await;
    // The results come from background actions.
    let mut session = s.session(&id).await;
    for _ in 0..600 {
        if session["properties"]["AGE"].is_number() || session["status"] != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        session = s.session(&id).await;
    }
    let p = &session["properties"];
    assert_eq!(
        p["DOCUMENT_NUMBER"],
        spec.document_number.as_str(),
        "{session:#}"
    );
    assert_eq!(p["AGE"], age(spec.birth_date), "{session:#}");
    let full_name = p["FULL_NAME"].as_str().unwrap_or_default();
    assert!(
        full_name.contains(&spec.surname) && full_name.contains(&spec.given_names),
        "{full_name}: {session:#}"
    );
    assert_eq!(p["TRANSACTION_ID"], tx.as_str());
    assert_eq!(p["FULL_AUTH_OVERALL_STATUS"], 1, "{session:#}");
    assert_eq!(p["MRZ_STATUS"], 1, "{session:#}");
}
