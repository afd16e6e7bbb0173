//! The Document Reader and Face API stand-ins answer General KYC's calls with the values where
//! the workflow's transformers read them: checked by walking the JSON by hand and, when Regula's
//! files are at hand (`IDV_REGULA_DIR`), by running General KYC's own transformers over the
//! answers. The project's own example workflows run against the stand-ins in `examples`.

use crate::common;
use crate::support::regula;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::standins::{DocReader, Document, FaceApi, Liveness, fake_jpeg};
use idv_core::workflow::{Loaded, TransformOutcome, Workflow, load};
use reqwest::Client;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

const TX: &str = "5f0f8ed2-1c7b-4c55-9a4e-2b8f3c1d9e70";
const LIVE_TX: &str = "a3c9e1f4-6b2d-4e8a-8f1c-7d5e9b0a2c64";

fn general_kyc() -> Workflow {
    match load(regula::general_kyc_text()).unwrap_or_else(|p| panic!("general_kyc loads: {p:?}")) {
        Loaded::Workflow(w) => *w,
        other => panic!("not a workflow: {other:?}"),
    }
}

/// What General KYC's transformer `id` takes from `body`; None (and a line saying so) when
/// Regula's files are not at hand.
fn extract(id: &str, body: &Value) -> Option<Map<String, Value>> {
    if !regula::available(&format!("{}::{id}", module_path!())) {
        return None;
    }
    match general_kyc().run_transformer(id, body).unwrap() {
        TransformOutcome::Properties(m) => Some(m),
        other => panic!("{id} gave {other:?}"),
    }
}

/// `ContainerList.List[*].<key>`: every container's `key` object.
fn containers<'a>(results: &'a Value, key: &str) -> Vec<&'a Value> {
    results["ContainerList"]["List"]
        .as_array()
        .expect("ContainerList.List is an array")
        .iter()
        .filter_map(|c| c.get(key))
        .collect()
}

/// `ContainerList.List[*].Text.fieldList[?fieldType==t && lcid==l].value`, all matches.
fn text_values(results: &Value, field_type: i64, lcid: i64) -> Vec<&str> {
    containers(results, "Text")
        .into_iter()
        .flat_map(|t| t["fieldList"].as_array().unwrap())
        .filter(|f| f["fieldType"] == field_type && f["lcid"] == lcid)
        .map(|f| f["value"].as_str().expect("text values are strings"))
        .collect()
}

/// `ContainerList.List[*].Images.fieldList[?fieldType==t].valueList[?containerType==c].value`.
fn image_values(results: &Value, field_type: i64, container_type: i64) -> Vec<Vec<u8>> {
    containers(results, "Images")
        .into_iter()
        .flat_map(|i| i["fieldList"].as_array().unwrap())
        .filter(|f| f["fieldType"] == field_type)
        .flat_map(|f| f["valueList"].as_array().unwrap())
        .filter(|v| v["containerType"] == container_type)
        .map(|v| {
            B64.decode(v["value"].as_str().expect("an image value"))
                .unwrap()
        })
        .collect()
}

/// A document unlike `adult()` wherever the workflow reads, so that each check could fail.
fn unusual_document() -> Document {
    Document {
        full_name: "PETROVA IRINA".into(),
        native_full_name: Some("ПЕТРОВА ИРИНА".into()),
        first_name: "IRINA".into(),
        surname: "PETROVA".into(),
        document_number: "753123456".into(),
        date_of_birth: "07/21/2009".into(),
        nationality: "Utopia".into(),
        issuing_state: "UTO".into(),
        age: 16,
        doc_type: 12,
        overall_status: 0,
        mrz_status: 2,
        chip_page: 2,
        rfid_status: Some(1),
        portrait: fake_jpeg("Irina's portrait"),
        video: None,
    }
}

async fn get(client: &Client, url: String) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

#[tokio::test]
async fn results_hold_the_values_where_the_workflow_reads_them() {
    let dr = DocReader::start().await;
    let doc = unusual_document();
    dr.put(TX, doc.clone());
    let client = Client::new();
    let r = get(
        &client,
        format!("{}/api/v2/transaction/{TX}/results?withImages=true", dr.url),
    )
    .await;
    assert_eq!(r.status(), 200);
    let results: Value = r.json().await.unwrap();

    assert_eq!(text_values(&results, 25, 0), vec![doc.full_name.as_str()]);
    assert_eq!(text_values(&results, 25, 1049), vec!["ПЕТРОВА ИРИНА"]);
    assert_eq!(text_values(&results, 9, 0), vec!["IRINA"]);
    assert_eq!(text_values(&results, 8, 0), vec!["PETROVA"]);
    assert_eq!(text_values(&results, 2, 0), vec!["753123456"]);
    assert_eq!(text_values(&results, 5, 0), vec!["07/21/2009"]);
    assert_eq!(text_values(&results, 11, 0), vec!["Utopia"]);
    assert_eq!(text_values(&results, 185, 0), vec!["16"]);
    assert_eq!(image_values(&results, 201, 6), vec![doc.portrait.clone()]);
    assert_eq!(image_values(&results, 201, 103), vec![doc.portrait.clone()]);
    assert_ne!(image_values(&results, 204, 6), vec![doc.portrait.clone()]);

    let status = containers(&results, "Status");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["overallStatus"], 0);
    assert_eq!(status[0]["detailsOptical"]["mrz"], 2);
    let candidate = containers(&results, "OneCandidate");
    assert_eq!(candidate[0]["FDSIDList"]["dType"], 12);
    assert_eq!(results["ChipPage"], 2);
    let binary = containers(&results, "TDocBinaryInfo");
    let session: Vec<&Value> = binary
        .iter()
        .filter_map(|b| b.pointer("/RFID_BINARY_DATA/RFID_Session_Data/Status"))
        .collect();
    assert_eq!(session, vec![&json!(1)]);
    assert_eq!(
        results["ContainerList"]["Count"],
        results["ContainerList"]["List"].as_array().unwrap().len()
    );

    // The workflow's own extractors find the same.
    let Some(found) = extract("GET_DOC_READER_RESULTS", &results) else {
        return;
    };
    let want = json!({
        "DOCTYPE": 12,
        "CHIP_PAGE": 2,
        "AGE": 16,
        "FULL_AUTH_OVERALL_STATUS": 0,
        "RFID_STATUS": 1,
        "MRZ_STATUS": 2,
        "FULL_NAME": "PETROVA IRINA",
        "FIRST_NAME": "IRINA",
        "SURNAME": "PETROVA",
        "DOCUMENT_NUMBER": "753123456",
        "DOC_PHOTO": B64.encode(&doc.portrait),
        "NATIONALITY": "Utopia",
        "DATE_OF_BIRTH": "07/21/2009",
    });
    assert_eq!(Value::Object(found), want);
}

#[tokio::test]
async fn an_adult_passport_without_a_chip_read_passes_the_document_rules_inputs() {
    let dr = DocReader::start().await;
    let doc = Document::adult();
    dr.put(TX, doc.clone());
    let results: Value = get(
        &Client::new(),
        format!("{}/api/v2/transaction/{TX}/results?withImages=true", dr.url),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(containers(&results, "TDocBinaryInfo").is_empty());
    if let Some(found) = extract("GET_DOC_READER_RESULTS", &results) {
        assert_eq!(found["AGE"], 30);
        assert_eq!(found["DOCTYPE"], 11);
        assert_eq!(found["FULL_AUTH_OVERALL_STATUS"], 1);
        assert_eq!(found["MRZ_STATUS"], 1);
        assert_eq!(found["CHIP_PAGE"], 1);
        assert_eq!(found["FULL_NAME"], doc.full_name.as_str());
        assert_eq!(found["DOC_PHOTO"], B64.encode(&doc.portrait));
        assert!(!found.contains_key("RFID_STATUS"), "{found:?}");
    }
    // The birth date is in the result's date format and makes the holder 30.
    let dob = &doc.date_of_birth;
    assert_eq!(containers(&results, "Text")[0]["dateFormat"], "MM/dd/yyyy");
    let year: i64 = dob[6..].parse().unwrap();
    assert_eq!(&dob[..6], "01/01/");
    assert!((1990..2100).contains(&(year + 30)), "{dob}");
}

#[tokio::test]
async fn without_with_images_the_results_carry_no_image_data() {
    let dr = DocReader::start().await;
    dr.put(TX, Document::adult());
    let results: Value = get(
        &Client::new(),
        format!("{}/api/v2/transaction/{TX}/results", dr.url),
    )
    .await
    .json()
    .await
    .unwrap();
    if let Some(found) = extract("GET_DOC_READER_RESULTS", &results) {
        assert!(!found.contains_key("DOC_PHOTO"), "{found:?}");
        assert_eq!(found["FULL_NAME"], "ERIKSSON ANNA MARIA");
    }
    assert!(
        !results
            .to_string()
            .contains(&B64.encode(Document::adult().portrait))
    );
}

#[tokio::test]
async fn process_with_photos_answers_the_tagged_document() {
    let dr = DocReader::start().await;
    let doc = Document::adult();
    dr.put("session-1", doc.clone());
    let client = Client::new();
    let url = format!("{}/api/process", dr.url);
    let image = |bytes: &[u8]| json!({"ImageData": {"image": B64.encode(bytes)}, "light": 6});
    let post = |body: Value| client.post(&url).json(&body).send();

    let body = json!({"processParam": {"scenario": "FullProcess"}, "tag": "session-1",
                      "List": [image(&fake_jpeg("front")), image(&fake_jpeg("back"))]});
    let r = post(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    // The results of the tagged document, images included, as `…/results?withImages=true`.
    assert_eq!(answer, DocReader::results_json("session-1", &doc, true));
    assert_eq!(dr.last_body("/api/process"), Some(body));

    let refused = [
        // No photos, an empty one, one that is not base64, no processParam, no tag.
        json!({"processParam": {}, "tag": "session-1", "List": []}),
        json!({"processParam": {}, "tag": "session-1", "List": [image(b"")]}),
        json!({"processParam": {}, "tag": "session-1",
               "List": [image(b"x"), {"ImageData": {"image": "not base64!"}}]}),
        json!({"tag": "session-1", "List": [image(b"x")]}),
        json!({"processParam": {}, "List": [image(b"x")]}),
    ];
    for body in refused {
        assert_eq!(post(body.clone()).await.unwrap().status(), 400, "{body}");
    }
    let unknown = json!({"processParam": {}, "tag": "other", "List": [image(b"x")]});
    assert_eq!(post(unknown).await.unwrap().status(), 404);
}

#[tokio::test]
async fn process_file_and_unknown_transactions() {
    let dr = DocReader::start().await;
    let doc = Document::adult();
    dr.put(TX, doc.clone());
    dr.put("no-video", unusual_document());
    let client = Client::new();
    let base = format!("{}/api/v2/transaction", dr.url);
    let body = json!({"processParam": {"scenario": "FullProcess", "useFaceApi": true}});

    let r = client
        .post(format!("{base}/{TX}/process?useCache=true"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["transactionId"], TX);
    assert!(answer["outData"]["images"].is_array(), "{answer}");
    assert_eq!(
        dr.last_body(&format!("/api/v2/transaction/{TX}/process")),
        Some(body.clone())
    );
    assert_eq!(dr.last_body("/api/v2/transaction/other"), None);

    let r = client
        .post(format!("{base}/{TX}/process?useCache=true"))
        .json(&json!({"scenario": "FullProcess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "processParam is required");

    let r = get(&client, format!("{base}/{TX}/file?name=in/video.mp4")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), doc.video.unwrap());
    let r = get(&client, format!("{base}/no-video/file?name=in/video.mp4")).await;
    assert_eq!(r.status(), 404);
    let r = get(&client, format!("{base}/{TX}/file?name=in/other.mp4")).await;
    assert_eq!(r.status(), 404);

    let unknown = "00000000-0000-0000-0000-000000000000";
    let r = get(&client, format!("{base}/{unknown}/results?withImages=true")).await;
    assert_eq!(r.status(), 404);
    let r = get(&client, format!("{base}/{unknown}/file?name=in/video.mp4")).await;
    assert_eq!(r.status(), 404);
    let r = client
        .post(format!("{base}/{unknown}/process?useCache=true"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    assert_eq!(
        dr.calls(),
        vec![
            format!("POST /api/v2/transaction/{TX}/process?useCache=true"),
            format!("POST /api/v2/transaction/{TX}/process?useCache=true"),
            format!("GET /api/v2/transaction/{TX}/file?name=in/video.mp4"),
            "GET /api/v2/transaction/no-video/file?name=in/video.mp4".to_string(),
            format!("GET /api/v2/transaction/{TX}/file?name=in/other.mp4"),
            format!("GET /api/v2/transaction/{unknown}/results?withImages=true"),
            format!("GET /api/v2/transaction/{unknown}/file?name=in/video.mp4"),
            format!("POST /api/v2/transaction/{unknown}/process?useCache=true"),
        ]
    );
}

#[tokio::test]
async fn liveness_answers_and_its_files() {
    let face = FaceApi::start().await;
    face.put_liveness(LIVE_TX, Liveness::failed());
    face.put_liveness(
        "no-files",
        Liveness {
            status: 0,
            portrait: None,
            video: None,
        },
    );
    let client = Client::new();
    let q = format!("transactionId={LIVE_TX}&logRequest=false");

    let r = get(&client, format!("{}/api/v2/liveness?{q}", face.url)).await;
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["status"], 1);
    assert_eq!(info["transactionId"], LIVE_TX);
    if let Some(found) = extract("LIVENESS_STATUS_TRANSFORMER", &info) {
        assert_eq!(Value::Object(found), json!({"LIVENESS_STATUS": 1}));
    }
    let passed: Value = get(
        &client,
        format!("{}/api/v2/liveness?transactionId=no-files", face.url),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(passed["status"], 0);
    assert!(passed.get("portrait").is_none(), "{passed}");

    let r = get(
        &client,
        format!("{}/api/v2/liveness/portrait?{q}", face.url),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        Liveness::failed().portrait.unwrap()
    );
    let r = get(&client, format!("{}/api/v2/liveness/video?{q}", face.url)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        Liveness::failed().video.unwrap()
    );

    for path in ["portrait", "video"] {
        let r = get(
            &client,
            format!("{}/api/v2/liveness/{path}?transactionId=no-files", face.url),
        )
        .await;
        assert_eq!(r.status(), 404, "{path}");
    }
    for path in ["", "/portrait", "/video"] {
        let r = get(
            &client,
            format!("{}/api/v2/liveness{path}?transactionId=unknown", face.url),
        )
        .await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = get(&client, format!("{}/api/v2/liveness", face.url)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(face.calls()[0], format!("GET /api/v2/liveness?{q}"));
    assert_eq!(face.calls().len(), 10);
}

#[tokio::test]
async fn match_answers_the_set_similarity_and_keeps_the_images() {
    let face = FaceApi::start().await;
    face.set_similarity(0.83);
    let doc_photo = fake_jpeg("document portrait");
    let selfie = fake_jpeg("selfie");
    // Listed out of order: the images are kept by `index`.
    let body = json!({"images": [
        {"index": 1, "data": B64.encode(&selfie), "type": 3},
        {"index": 0, "data": B64.encode(&doc_photo), "type": 1},
    ]});
    let client = Client::new();
    let r = client
        .post(format!("{}/api/match?logRequest=false", face.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["code"], 0);
    assert_eq!(answer["results"][0]["similarity"], 0.83);
    assert_eq!(answer["results"][0]["firstIndex"], 0);
    assert_eq!(answer["results"][0]["secondIndex"], 1);
    assert_eq!(answer["results"][0]["second"], 3);
    assert_eq!(answer["detections"].as_array().unwrap().len(), 2);
    if let Some(found) = extract("MATCH_DOC_AND_LIVENESS_TRANSFORMER", &answer) {
        assert_eq!(
            Value::Object(found),
            json!({"LIVENESS_DOC_SIMILARITY": 0.83})
        );
    }
    assert_eq!(face.last_match_images(), vec![doc_photo, selfie.clone()]);
    assert_eq!(face.last_body("/api/match"), Some(body));

    // An empty image: an error code and no results, so no similarity is found.
    let r = client
        .post(format!("{}/api/match", face.url))
        .json(&json!({"images": [
            {"index": 0, "data": "", "type": 1},
            {"index": 1, "data": B64.encode(&selfie), "type": 3},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["code"], 1);
    assert_eq!(answer["results"], json!([]));
    if let Some(found) = extract("MATCH_DOC_AND_LIVENESS_TRANSFORMER", &answer) {
        assert!(found.is_empty(), "{found:?}");
    }
    assert_eq!(face.last_match_images(), vec![Vec::new(), selfie]);

    let r = client
        .post(format!("{}/api/match", face.url))
        .json(&json!({"images": [{"data": B64.encode(b"x")}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn set_delay_holds_every_answer_back_but_records_the_call() {
    let dr = DocReader::start().await;
    let face = FaceApi::start().await;
    dr.put(TX, Document::adult());
    face.put_liveness(LIVE_TX, Liveness::passed());
    let client = Client::new();
    let results = format!("{}/api/v2/transaction/{TX}/results?withImages=true", dr.url);
    let liveness = format!("{}/api/v2/liveness?transactionId={LIVE_TX}", face.url);

    let start = Instant::now();
    assert_eq!(get(&client, results.clone()).await.status(), 200);
    assert_eq!(get(&client, liveness.clone()).await.status(), 200);
    // Without a delay, well under the delay set below, even on a loaded machine.
    assert!(start.elapsed() < Duration::from_millis(2500));

    dr.set_delay(Duration::from_millis(3000));
    face.set_delay(Duration::from_millis(3000));
    for url in [&results, &liveness] {
        let start = Instant::now();
        assert_eq!(get(&client, url.clone()).await.status(), 200);
        assert!(start.elapsed() >= Duration::from_millis(3000), "{url}");
        let err = client
            .get(url.clone())
            .timeout(Duration::from_millis(100))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }
    assert_eq!(dr.calls().len(), 3);
    assert_eq!(face.calls().len(), 3);

    dr.set_delay(Duration::ZERO);
    let start = Instant::now();
    assert_eq!(get(&client, results).await.status(), 200);
    assert!(start.elapsed() < Duration::from_millis(2500));
}

#[tokio::test]
async fn dropping_a_handle_stops_its_server() {
    let dr = DocReader::start().await;
    let face = FaceApi::start().await;
    let (dr_url, face_url) = (dr.url.clone(), face.url.clone());
    assert_eq!(
        get(&Client::new(), format!("{dr_url}/nowhere"))
            .await
            .status(),
        404
    );
    assert_eq!(dr.calls(), vec!["GET /nowhere".to_string()]);
    drop(dr);
    drop(face);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for url in [dr_url, face_url] {
        // A new client: no pooled connection to an old server.
        let r = Client::new().get(format!("{url}/api/match")).send().await;
        assert!(r.is_err(), "{url} still answers");
    }
}
