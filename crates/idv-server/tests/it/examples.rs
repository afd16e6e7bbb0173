//! The project's example workflows (`examples/kyc`, `examples/age_gate`) load into the server
//! and run to their final steps through HTTP, on SQLite and PostgreSQL, against the Document
//! Reader stand-in: verified, refused, and the paths that send the person back.

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::standins::{DEFAULT_SIMILARITY, DocReader, Document, fake_jpeg};
use common::*;
use serde_json::{Value, json};

async fn server(backend: Backend) -> (TestServer, DocReader, String) {
    let dr = DocReader::start().await;
    let srv = TestServer::start_with_checks(backend, &dr, |_| {}).await;
    srv.load_kyc().await;
    srv.load_workflow(AGE_GATE, AGE_GATE_LOCALE).await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    (srv, dr, key)
}

/// Submits and expects 200; answers the step the session now waits in.
async fn step(srv: &TestServer, auth: &str, id: &str, step: &str, body: Value) -> Value {
    let r = srv.submit(auth, id, step, body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{step}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn file_bytes(srv: &TestServer, auth: &str, url: &str) -> Vec<u8> {
    let r = srv
        .client
        .get(url)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.bytes().await.unwrap().to_vec()
}

async fn kyc_verified(backend: Backend) {
    let (srv, dr, key) = server(backend).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({"locale": "en"})).await;
    assert_eq!(s["workflow"]["name"], "Example KYC");
    assert_eq!(s["currentStep"], "ONBOARDING");
    let id = s["id"].as_str().unwrap().to_string();
    let doc = Document::adult();
    dr.put(&id, doc.clone());
    srv.kyc_up_to_the_check(&auth, &id).await;

    // The selfie's answer runs DOCUMENT_CHECK on the server and ends the session.
    let end = step(&srv, &auth, &id, "SELFIE", json!({"continue": true})).await;
    assert_eq!(end["id"], "KYC_COMPLETED", "{end}");
    assert_eq!(end["final"], true);
    assert_eq!(
        end["client"]["templateLayout"]["title"]["text"],
        "Thank you, we have everything we need"
    );
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["status"], 2, "verified: {s:#}");
    assert_eq!(s["currentStep"], "KYC_COMPLETED");
    assert_eq!(s["errors"], json!([]));
    let p = &s["properties"];
    // From the form …
    assert_eq!(p["GIVEN_NAMES"], "ANNA MARIA");
    assert_eq!(p["SURNAME"], "ERIKSSON");
    assert_eq!(p["BIRTH_DATE"], "1996-01-01");
    assert_eq!(p["EMAIL"], "anna@example.org");
    // … and from the document check.
    assert_eq!(p["DOCUMENT_STATUS"], 1);
    assert_eq!(p["DOCUMENT_TYPE"], 11);
    assert_eq!(p["AGE"], 30);
    assert_eq!(p["DOCUMENT_NAME"], doc.full_name.as_str());
    assert_eq!(p["DOCUMENT_NUMBER"], doc.document_number.as_str());
    assert_eq!(p["DOCUMENT_BIRTH_DATE"], doc.date_of_birth.as_str());
    assert_eq!(p["CHECK_DOCUMENT_completed"], true);
    // The photos the person uploaded, and the portrait the check cut out, are files.
    for (property, bytes) in [
        ("DOCUMENT_FRONT", fake_jpeg("front")),
        ("DOCUMENT_BACK", fake_jpeg("back")),
        ("SELFIE", fake_jpeg("selfie")),
        ("DOCUMENT_PORTRAIT", doc.portrait.clone()),
    ] {
        let url = p[property]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{property} is a file: {p:#}"));
        assert_eq!(file_bytes(&srv, &auth, url).await, bytes, "{property}");
    }

    // The check received both document photos and the selfie, base64, tagged with the session.
    let calls = dr.calls();
    assert_eq!(
        calls.iter().filter(|c| *c == "POST /api/process").count(),
        1,
        "{calls:?}"
    );
    let sent = dr.last_body("/api/process").expect("a JSON body");
    assert_eq!(sent["tag"], id.as_str());
    assert_eq!(sent["processParam"]["scenario"], "FullProcess");
    assert_eq!(
        sent["List"][0]["ImageData"]["image"],
        B64.encode(fake_jpeg("front"))
    );
    assert_eq!(
        sent["List"][1]["ImageData"]["image"],
        B64.encode(fake_jpeg("back"))
    );
    assert_eq!(sent["livePortrait"], B64.encode(fake_jpeg("selfie")));

    // Then the face match compared the portrait the check cut out with the selfie, and its
    // similarity is a property.
    assert_eq!(
        srv.face_api().last_match_images(),
        vec![doc.portrait.clone(), fake_jpeg("selfie")]
    );
    assert_eq!(p["FACE_SIMILARITY"], DEFAULT_SIMILARITY);
    let face_block = s["normalized"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "face_match")
        .unwrap_or_else(|| panic!("a face match block: {s:#}"));
    assert_eq!(face_block["decision"], "passed", "{face_block:#}");

    // The answer is stored as the session file `document_check`, and the normalized block
    // points at it.
    let files = s["files"].as_array().unwrap();
    let check = files
        .iter()
        .find(|f| f["name"] == "document_check")
        .unwrap_or_else(|| panic!("the check's answer is a file: {files:#?}"));
    let stored: Value =
        serde_json::from_slice(&file_bytes(&srv, &auth, check["url"].as_str().unwrap()).await)
            .unwrap();
    assert!(stored["TransactionInfo"]["Tag"].is_string(), "{stored}");
    assert!(stored["ContainerList"]["List"].is_array());
    let block = s["normalized"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "document")
        .unwrap_or_else(|| panic!("a document block: {s:#}"))
        .clone();
    assert_eq!(block["type"], "DOCUMENT");
    assert_eq!(block["decision"], "passed");
    assert_eq!(block["results"]["documentFile"]["fileId"], check["id"]);
    assert!(
        files.iter().any(|f| f["name"] == "face_match"),
        "the match's answer is a file: {files:#?}"
    );
    // The view summary: the names from the form, the selfie, the document fields.
    let title = s["view"]["title"].as_str().unwrap_or_default();
    assert!(
        title.contains("ANNA MARIA") && title.contains("ERIKSSON"),
        "{s:#}"
    );
    assert_eq!(s["view"]["photo"]["fileId"], p["SELFIE"]["fileId"]);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_verifies_an_adult_sqlite() {
    kyc_verified(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_verifies_an_adult_postgres() {
    kyc_verified(Backend::Postgres).await;
}

async fn kyc_refused_and_sent_back(backend: Backend) {
    let (srv, dr, key) = server(backend).await;
    let auth = format!("ApiKey {key}");

    // A minor's document: the session completes, not verified.
    let id = srv.start_session(&key, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    dr.put(
        &id,
        Document {
            age: 16,
            ..Document::adult()
        },
    );
    srv.kyc_up_to_the_check(&auth, &id).await;
    let end = step(&srv, &auth, &id, "SELFIE", json!({"continue": true})).await;
    assert_eq!(end["id"], "KYC_COMPLETED", "{end}");
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["status"], 1, "not verified: {s:#}");
    assert_eq!(s["properties"]["AGE"], 16);
    let block = s["normalized"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "document")
        .unwrap()
        .clone();
    assert_eq!(block["decision"], "failed", "{block:#}");

    // Going on without the document photos keeps the person on DOCUMENT_PHOTOS, and the
    // form refuses an answer without a date of birth.
    let id = srv.start_session(&key, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    step(&srv, &auth, &id, "ONBOARDING", json!({"continue": true})).await;
    let r = srv
        .submit(
            &auth,
            &id,
            "PERSONAL_DETAILS",
            json!({"givenNames": "A", "surname": "B"}),
        )
        .await;
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (422, "schema_violation"), "{body}");
    assert!(body.to_string().contains("dateOfBirth"), "{body}");
    let form = json!({"givenNames": "A", "surname": "B", "dateOfBirth": "2000-02-29"});
    let s = step(&srv, &auth, &id, "PERSONAL_DETAILS", form).await;
    assert_eq!(s["id"], "DOCUMENT_PHOTOS");
    let s = step(
        &srv,
        &auth,
        &id,
        "DOCUMENT_PHOTOS",
        json!({"continue": true}),
    )
    .await;
    assert_eq!(s["id"], "DOCUMENT_PHOTOS", "no photos yet: {s}");
    // Closing the screen cancels the session.
    let s = step(
        &srv,
        &auth,
        &id,
        "DOCUMENT_PHOTOS",
        json!({"continue": false}),
    )
    .await;
    assert_eq!(s["id"], "ABORT");
    assert_eq!(s["final"], true);
    assert_eq!(
        s["client"]["templateLayout"]["title"]["text"],
        "Verification cancelled"
    );
    // No document check was asked for the second session.
    assert_eq!(
        dr.calls()
            .iter()
            .filter(|c| *c == "POST /api/process")
            .count(),
        1
    );
    srv.stop().await;
}

/// A selfie of someone else: the document passes, the face match does not, and the session
/// completes not verified.
async fn kyc_refuses_another_persons_selfie(backend: Backend) {
    let (srv, dr, key) = server(backend).await;
    let auth = format!("ApiKey {key}");
    let id = srv.start_session(&key, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    dr.put(&id, Document::adult());
    srv.face_api().set_similarity(0.42);
    srv.kyc_up_to_the_check(&auth, &id).await;
    let end = step(&srv, &auth, &id, "SELFIE", json!({"continue": true})).await;
    assert_eq!(end["id"], "KYC_COMPLETED", "{end}");
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["status"], 1, "not verified: {s:#}");
    assert_eq!(s["properties"]["DOCUMENT_STATUS"], 1);
    assert_eq!(s["properties"]["FACE_SIMILARITY"], 0.42);
    let decision = |id: &str| {
        s["normalized"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == id)
            .map(|b| b["decision"].clone())
    };
    assert_eq!(decision("document"), Some(json!("passed")), "{s:#}");
    assert_eq!(decision("face_match"), Some(json!("failed")), "{s:#}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_refuses_another_persons_selfie_sqlite() {
    kyc_refuses_another_persons_selfie(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_refuses_another_persons_selfie_postgres() {
    kyc_refuses_another_persons_selfie(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_refuses_a_minor_and_waits_for_photos_sqlite() {
    kyc_refused_and_sent_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_refuses_a_minor_and_waits_for_photos_postgres() {
    kyc_refused_and_sent_back(Backend::Postgres).await;
}

async fn age_gate(backend: Backend) {
    let (srv, dr, key) = server(backend).await;
    let auth = format!("ApiKey {key}");
    dr.put("tx-adult", Document::adult());
    dr.put(
        "tx-minor",
        Document {
            age: 17,
            ..Document::adult()
        },
    );
    let run = |tx: &'static str, locale: &'static str| {
        let (srv, auth, key) = (&srv, auth.clone(), key.clone());
        async move {
            let s = srv
                .start_session_of(AGE_GATE_ID, &key, json!({"locale": locale}))
                .await;
            assert_eq!(s["currentStep"], "AGE_INTRO");
            let id = s["id"].as_str().unwrap().to_string();
            let next = step(srv, &auth, &id, "AGE_INTRO", json!({"continue": true})).await;
            assert_eq!(next["id"], "SCAN_DOCUMENT");
            assert_eq!(
                next["client"]["processParam"]["backendProcessing"]["serviceURL"],
                format!("{}/drapi", srv.url)
            );
            let end = step(
                srv,
                &auth,
                &id,
                "SCAN_DOCUMENT",
                json!({"transactionId": tx}),
            )
            .await;
            (end, srv.session(&auth, &id).await)
        }
    };

    let (end, s) = run("tx-adult", "en").await;
    assert_eq!(end["id"], "OLD_ENOUGH", "{end}");
    assert_eq!(end["final"], true);
    assert_eq!(
        end["client"]["templateLayout"]["title"]["text"],
        "Thank you, you may continue"
    );
    assert_eq!(s["status"], 2, "{s:#}");
    assert_eq!(s["properties"]["AGE"], 30);
    assert_eq!(s["properties"]["TRANSACTION_ID"], "tx-adult");
    assert!(
        s["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "age_results"),
        "{s:#}"
    );

    let (end, s) = run("tx-minor", "es").await;
    assert_eq!(end["id"], "TOO_YOUNG", "{end}");
    assert_eq!(
        end["client"]["templateLayout"]["title"]["text"],
        "No hemos podido confirmar que tienes 18 años o más"
    );
    assert_eq!(s["status"], 1, "{s:#}");
    assert_eq!(s["properties"]["AGE"], 17);

    let calls = dr.calls();
    for tx in ["tx-adult", "tx-minor"] {
        assert!(
            calls
                .iter()
                .any(|c| c == &format!("GET /api/v2/transaction/{tx}/results")),
            "{calls:?}"
        );
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn age_gate_example_lets_adults_through_sqlite() {
    age_gate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn age_gate_example_lets_adults_through_postgres() {
    age_gate(Backend::Postgres).await;
}
