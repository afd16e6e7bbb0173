//! Regula's General KYC workflow (`general_kyc.yaml`, read from `IDV_REGULA_DIR`; without it
//! these tests say they were skipped) end to end through HTTP, with small servers that answer
//! like Regula's Document Reader and Face API: the happy path to KYC_COMPLETED, an under-age
//! person, used-up attempts, and an action that times out.

use crate::common;

use crate::support::regula;
use common::standins::{DocReader, Document, FaceApi, Liveness, fake_jpeg, fake_mp4};
use common::{Backend, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

struct Kyc {
    srv: TestServer,
    dr: DocReader,
    face: FaceApi,
    auth: String,
}

/// General KYC's id.
const GENERAL_KYC_ID: &str = "edda0192-b890-11ef-a348-17da751a6a22";

async fn kyc(backend: Backend) -> Kyc {
    kyc_with(backend, regula::general_kyc_text()).await
}

async fn kyc_with(backend: Backend, workflow: &str) -> Kyc {
    let dr = DocReader::start().await;
    let face = FaceApi::start().await;
    let (dr_url, face_url) = (dr.url.clone(), face.url.clone());
    let srv = TestServer::start_with(backend, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = dr_url;
        c.services.faceapi.enabled = true;
        c.services.faceapi.url = face_url;
    })
    .await;
    srv.load_workflow(
        regula::general_kyc_text(),
        regula::general_kyc_locale_text(),
    )
    .await;
    if workflow != regula::general_kyc_text() {
        let r = srv
            .admin(srv.post("/api/workflows"))
            .header("content-type", "application/yaml")
            .body(workflow.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    Kyc {
        srv,
        dr,
        face,
        auth: format!("ApiKey {key}"),
    }
}

impl Kyc {
    async fn start(&self) -> String {
        let s = self
            .srv
            .start_session_of(
                GENERAL_KYC_ID,
                self.auth.trim_start_matches("ApiKey "),
                json!({"locale": "en"}),
            )
            .await;
        s["id"].as_str().unwrap().to_owned()
    }

    /// Submits and expects 200; answers the step the session now waits in.
    async fn step(&self, id: &str, step: &str, body: Value) -> Value {
        let r = self.srv.submit(&self.auth, id, step, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "{step}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn session(&self, id: &str) -> Value {
        self.srv.session(&self.auth, id).await
    }

    /// Waits (at most 60 s) until the session satisfies `done`.
    async fn until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..1200 {
            let s = self.session(id).await;
            if done(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{what}: never happened; session: {:#}",
            self.session(id).await
        );
    }

    async fn file_bytes(&self, url: &str) -> Vec<u8> {
        let r = self
            .srv
            .client
            .get(url)
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.unwrap().to_vec()
    }

    /// ONBOARDING → PREPARE_DOCUMENT → DOC_READER (document `tx`) → … → PREPARE_LIVENESS.
    async fn through_document(&self, id: &str, tx: &str) {
        let s = self.step(id, "ONBOARDING", json!({"continue": true})).await;
        assert_eq!(s["id"], "PREPARE_DOCUMENT");
        let s = self
            .step(id, "PREPARE_DOCUMENT", json!({"continue": true}))
            .await;
        assert_eq!(s["id"], "DOC_READER");
        assert_eq!(
            s["client"]["processParam"]["backendProcessing"]["serviceURL"],
            format!("{}/drapi", self.srv.url)
        );
        let s = self
            .step(
                id,
                "DOC_READER",
                json!({"transactionId": tx, "cancel": false, "has_nfc": false}),
            )
            .await;
        // The results come from a background action; the step waits for them.
        assert_eq!(s["id"], "DOC_READER", "{s}");
        self.until(id, "document results move the session on", |s| {
            s["currentStep"] == "PREPARE_LIVENESS"
        })
        .await;
    }
}

async fn happy_path(backend: Backend) {
    regula_or_skip!();
    let k = kyc(backend).await;
    let doc = Document::adult();
    let doc_portrait = doc.portrait.clone();
    let full_name = doc.full_name.clone();
    let number = doc.document_number.clone();
    k.dr.put("tx-1", doc);
    let selfie = fake_jpeg("selfie");
    k.face.put_liveness(
        "live-1",
        Liveness {
            status: 0,
            portrait: Some(selfie.clone()),
            video: Some(fake_mp4("liveness")),
        },
    );
    k.face.set_similarity(0.93);

    let id = k.start().await;
    k.through_document(&id, "tx-1").await;
    let s = k
        .step(&id, "PREPARE_LIVENESS", json!({"continue": true}))
        .await;
    assert_eq!(s["id"], "LIVENESS");
    assert_eq!(s["client"]["serviceURL"], format!("{}/faceapi", k.srv.url));
    // One submission crosses PERFORM_DATA_EXTRACTION, PERFORM_MATCH and PERFORM_CHECKS.
    let s = k
        .step(
            &id,
            "LIVENESS",
            json!({"transactionId": "live-1", "cancel": false}),
        )
        .await;
    assert_eq!(s["id"], "KYC_COMPLETED", "{s}");
    assert_eq!(s["final"], true);

    // Background actions queued by PERFORM_DATA_EXTRACTION finish after the session ended.
    let s = k
        .until(&id, "background actions finish", |s| {
            s["properties"]["GET_LIVENESS_VIDEO_completed"] == true
                && s["properties"]["GET_DOC_VIDEO_completed"] == true
        })
        .await;
    assert_eq!(s["status"], 2, "verified: {s:#}");
    assert_eq!(s["currentStep"], "KYC_COMPLETED");
    let p = &s["properties"];
    assert_eq!(p["FULL_NAME"], full_name.as_str());
    assert_eq!(p["DOCUMENT_NUMBER"], number.as_str());
    assert_eq!(p["AGE"], 30);
    assert_eq!(p["DOCTYPE"], 11);
    assert_eq!(p["TRANSACTION_ID"], "tx-1");
    assert_eq!(p["LIVENESS_STATUS"], 0);
    assert_eq!(p["LIVENESS_DOC_SIMILARITY"], 0.93);
    assert_eq!(p["HAS_NFC"], false);
    assert_eq!(p["GET_DOCREADER_RESULTS_completed"], true);
    // Binary properties are files with URLs, holding the bytes the services sent.
    let doc_photo = p["DOC_PHOTO"]["url"].as_str().expect("DOC_PHOTO is a file");
    assert_eq!(k.file_bytes(doc_photo).await, doc_portrait);
    let portrait = p["LIVENESS_PORTRAIT"]["url"].as_str().unwrap();
    assert_eq!(k.file_bytes(portrait).await, selfie);
    // The match request carried both images.
    assert_eq!(
        k.face.last_match_images(),
        vec![doc_portrait.clone(), selfie.clone()]
    );
    // The Document Reader was asked to process, then for results.
    let calls = k.dr.calls();
    let process = calls
        .iter()
        .position(|c| c.starts_with("POST /api/v2/transaction/tx-1/process"));
    let results = calls
        .iter()
        .position(|c| c.starts_with("GET /api/v2/transaction/tx-1/results"));
    assert!(
        process.is_some() && results.is_some() && process < results,
        "{calls:?}"
    );

    // Action responses are session files with URLs.
    let files = s["files"].as_array().unwrap();
    let results_file = files
        .iter()
        .find(|f| f["name"] == "doc_reader_results")
        .expect("the results are stored as doc_reader_results");
    let stored: Value =
        serde_json::from_slice(&k.file_bytes(results_file["url"].as_str().unwrap()).await).unwrap();
    assert!(stored["ContainerList"].is_object());
    assert!(files.iter().any(|f| f["name"] == "match_doc_and_liveness"));
    assert!(files.iter().any(|f| f["name"] == "liveness_status"));

    // Normalized result blocks.
    let normalized = s["normalized"].as_array().unwrap();
    let block = |id: &str| {
        normalized
            .iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("no normalized block {id}: {normalized:#?}"))
    };
    let document = block("document");
    assert_eq!(document["type"], "DOCUMENT");
    assert_eq!(document["group"], "Documents");
    assert_eq!(document["decision"], "passed");
    assert_eq!(document["identifier"], "tx-1");
    assert_eq!(
        document["results"]["documentFile"]["fileId"],
        results_file["id"]
    );
    assert_eq!(block("liveness")["decision"], "passed");
    let face_match = block("face_match");
    assert_eq!(face_match["decision"], "passed");
    assert_eq!(face_match["results"]["results"][1]["similarity"], 0.93);
    assert!(
        face_match["results"]["results"][1]["file"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(p["DOC_PHOTO"]["fileId"].as_str().unwrap()))
    );
    // The view summary.
    assert_eq!(s["view"]["title"], full_name.as_str());
    assert_eq!(s["view"]["photo"]["fileId"], p["DOC_PHOTO"]["fileId"]);
    assert_eq!(s["view"]["fields"][2]["value"], number.as_str());
    assert_eq!(s["errors"], json!([]));
    k.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_sqlite() {
    happy_path(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_postgres() {
    happy_path(Backend::Postgres).await;
}

async fn under_age(backend: Backend) {
    regula_or_skip!();
    let k = kyc(backend).await;
    k.dr.put(
        "tx-young",
        Document {
            age: 16,
            ..Document::adult()
        },
    );
    k.face.put_liveness("live-y", Liveness::passed());
    k.face.set_similarity(0.95);
    let id = k.start().await;
    k.through_document(&id, "tx-young").await;
    k.step(&id, "PREPARE_LIVENESS", json!({"continue": true}))
        .await;
    let s = k
        .step(
            &id,
            "LIVENESS",
            json!({"transactionId": "live-y", "cancel": false}),
        )
        .await;
    assert_eq!(s["id"], "KYC_COMPLETED");
    let s = k.session(&id).await;
    assert_eq!(s["status"], 1, "not verified: {s:#}");
    assert_eq!(s["properties"]["AGE"], 16);
    let document = s["normalized"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "document")
        .unwrap()
        .clone();
    assert_eq!(document["decision"], "failed");
    let age_rule = document["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "valid_age")
        .unwrap()
        .clone();
    assert_eq!(age_rule["result"], false);
    k.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn under_age_is_not_verified_sqlite() {
    under_age(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn under_age_is_not_verified_postgres() {
    under_age(Backend::Postgres).await;
}

async fn attempts_used_up(backend: Backend) {
    regula_or_skip!();
    let k = kyc(backend).await;
    k.dr.put("tx-c", Document::adult());
    let id = k.start().await;
    k.step(&id, "ONBOARDING", json!({"continue": true})).await;
    let mut last = Value::Null;
    // The person cancels the document scan again and again.
    for round in 0..3 {
        let s = k
            .step(&id, "PREPARE_DOCUMENT", json!({"continue": true}))
            .await;
        assert_eq!(s["id"], "DOC_READER", "round {round}");
        last = k
            .step(
                &id,
                "DOC_READER",
                json!({"transactionId": "tx-c", "cancel": true, "has_nfc": false}),
            )
            .await;
        if last["id"] != "PREPARE_DOCUMENT" {
            break;
        }
    }
    assert_eq!(last["id"], "KYC_FAILED", "{last}");
    let s = k.session(&id).await;
    assert_eq!(s["status"], 1);
    let doc_reader_tries = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["id"] == "DOC_READER")
        .count();
    assert_eq!(doc_reader_tries, 3);
    // An ended session takes no more data.
    let r = k
        .srv
        .submit(&k.auth, &id, "KYC_FAILED", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 409);
    k.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attempts_used_up_fail_the_session_sqlite() {
    attempts_used_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attempts_used_up_fail_the_session_postgres() {
    attempts_used_up(Backend::Postgres).await;
}

async fn action_times_out(backend: Backend) {
    regula_or_skip!();
    // general_kyc.yaml with LIVENESS_STATUS's 20 s timeout shortened so the test does not wait.
    let general_kyc = regula::general_kyc_text();
    let at = general_kyc
        .find("- id: LIVENESS_STATUS\n    name: LIVENESS_STATUS")
        .unwrap();
    let t = at + general_kyc[at..].find("timeout: 20").unwrap();
    let yaml = format!(
        "{}timeout: 1{}",
        &general_kyc[..t],
        &general_kyc[t + "timeout: 20".len()..]
    );
    assert_ne!(yaml, general_kyc);
    let k = kyc_with(backend, &yaml).await;
    k.dr.put("tx-slow", Document::adult());
    k.face.put_liveness("live-slow", Liveness::passed());
    let id = k.start().await;
    k.through_document(&id, "tx-slow").await;
    k.step(&id, "PREPARE_LIVENESS", json!({"continue": true}))
        .await;
    // Far longer than the 1 s timeout, so only the timeout explains an early answer, whatever
    // the load on the machine.
    k.face.set_delay(Duration::from_secs(20));
    let started = std::time::Instant::now();
    let s = k
        .step(
            &id,
            "LIVENESS",
            json!({"transactionId": "live-slow", "cancel": false}),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the timeout bounds the call"
    );
    // events.onError: ERROR with not_verified.
    assert_eq!(s["id"], "ERROR", "{s}");
    let s = k.session(&id).await;
    assert_eq!(s["status"], 1);
    let errors = s["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["step"], "LIVENESS");
    assert_eq!(errors[0]["action"], "LIVENESS_STATUS");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("timed out"),
        "{errors:?}"
    );
    k.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_that_times_out_takes_the_error_path_sqlite() {
    action_times_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_that_times_out_takes_the_error_path_postgres() {
    action_times_out(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_the_reader_does_not_know_takes_the_error_path() {
    regula_or_skip!();
    let k = kyc(Backend::Sqlite).await;
    let id = k.start().await;
    k.step(&id, "ONBOARDING", json!({"continue": true})).await;
    k.step(&id, "PREPARE_DOCUMENT", json!({"continue": true}))
        .await;
    // The Document Reader answers 404 for an unknown transaction; the sync process call fails
    // (after its retries) and events.onError applies.
    let s = k
        .step(
            &id,
            "DOC_READER",
            json!({"transactionId": "nope", "cancel": false, "has_nfc": false}),
        )
        .await;
    assert_eq!(s["id"], "ERROR", "{s}");
    let s = k.session(&id).await;
    assert_eq!(s["errors"][0]["action"], "DOCREADER_SCENARIO");
    assert!(s["errors"][0]["message"].as_str().unwrap().contains("404"));
    k.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unconfigured_service_is_named_in_the_error() {
    regula_or_skip!();
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_workflow(
        regula::general_kyc_text(),
        regula::general_kyc_locale_text(),
    )
    .await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session_of(GENERAL_KYC_ID, &key, json!({})).await;
    let id = s["id"].as_str().unwrap();
    for (step, body) in [
        ("ONBOARDING", json!({"continue": true})),
        ("PREPARE_DOCUMENT", json!({"continue": true})),
        (
            "DOC_READER",
            json!({"transactionId": "t1", "cancel": false, "has_nfc": false}),
        ),
    ] {
        assert_eq!(srv.submit(&auth, id, step, body).await.status(), 200);
    }
    let s = srv.session(&auth, id).await;
    assert_eq!(s["currentStep"], "ERROR");
    let msg = s["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("services.docreader.url"), "{msg}");
    srv.stop().await;
}
