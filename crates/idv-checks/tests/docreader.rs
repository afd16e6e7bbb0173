//! The Document Reader contract over real HTTP: synthetic documents read back, transactions,
//! and every bad input. Needs the models (scripts/install_checks.sh).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use chrono::NaiveDate;
use idv_checks::synth::{self, CheckDigit, Spec};
use idv_checks::{Engine, Settings};
use serde_json::{Value, json};

fn models() -> PathBuf {
    std::env::var_os("IDV_CHECKS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(idv_checks::default_models_dir)
}

fn portrait() -> image::RgbImage {
    image::open(models().join("faces").join("obama.jpg"))
        .expect("faces/obama.jpg in the models folder")
        .into_rgb8()
}

struct Server {
    url: String,
    engine: Arc<Engine>,
    client: reqwest::Client,
}

async fn start() -> Server {
    let mut settings = Settings::new(models());
    settings.workers = 2;
    settings.max_body = 8 * 1024 * 1024;
    let engine = Engine::load(settings).expect("engine loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = engine.clone();
    tokio::spawn(async move {
        idv_checks::serve(listener, served, std::future::pending())
            .await
            .unwrap();
    });
    Server {
        url,
        engine,
        client: reqwest::Client::new(),
    }
}

fn jpeg_b64(img: &image::RgbImage) -> String {
    base64::engine::general_purpose::STANDARD.encode(synth::to_jpeg(img, 90))
}

fn request(image_b64: &str) -> Value {
    json!({
        "processParam": {"scenario": "FullProcess"},
        "List": [{"ImageData": {"image": image_b64}, "light": 6, "page_idx": 0}],
        "tag": "session-1",
    })
}

impl Server {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn container(response: &Value, result_type: u64) -> Option<&Value> {
    response["ContainerList"]["List"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["result_type"].as_u64() == Some(result_type))
}

fn text_field(response: &Value, field_type: u64) -> Option<&Value> {
    container(response, 36)?["Text"]["fieldList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fieldType"].as_u64() == Some(field_type))
}

fn value(response: &Value, field_type: u64) -> String {
    text_field(response, field_type)
        .unwrap_or_else(|| panic!("field {field_type} missing"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(response: &Value) -> &Value {
    &container(response, 33).expect("Status result")["Status"]
}

fn check_document(response: &Value, spec: &Spec, dtype: u64) {
    assert_eq!(response["ProcessingFinished"], 1);
    assert_eq!(
        response["ContainerList"]["Count"].as_u64().unwrap() as usize,
        response["ContainerList"]["List"].as_array().unwrap().len()
    );
    let st = status(response);
    assert_eq!(st["detailsOptical"]["mrz"], 1, "{st}");
    assert_eq!(st["detailsOptical"]["expiry"], 1);
    assert_eq!(st["overallStatus"], 1);
    assert_eq!(st["rfid"], 2);
    assert_eq!(st["detailsOptical"]["security"], 2);
    let doc = &container(response, 9).expect("document type")["OneCandidate"]["FDSIDList"];
    assert_eq!(doc["dType"].as_u64(), Some(dtype));
    assert_eq!(doc["ICAOCode"], spec.issuing_state.as_str());
    let text = &container(response, 36).unwrap()["Text"];
    assert_eq!(text["dateFormat"], "yyyy-MM-dd");
    assert_eq!(value(response, 0), spec.document_code.trim_end_matches('<'));
    assert_eq!(value(response, 1), spec.issuing_state);
    assert_eq!(value(response, 2), spec.document_number);
    assert_eq!(
        value(response, 3),
        spec.expiry_date.format("%Y-%m-%d").to_string()
    );
    assert_eq!(
        value(response, 5),
        spec.birth_date.format("%Y-%m-%d").to_string()
    );
    assert_eq!(value(response, 8), spec.surname);
    assert_eq!(value(response, 9), spec.given_names);
    assert_eq!(
        value(response, 25),
        format!("{} {}", spec.surname, spec.given_names)
    );
    assert_eq!(value(response, 26), spec.nationality);
    let sex = if spec.sex == '<' { 'X' } else { spec.sex };
    assert_eq!(value(response, 12), sex.to_string());
    assert_eq!(value(response, 51), spec.mrz_lines().join("^"));
    let today = idv_checks::docreader::now().date_naive();
    let age: i32 = value(response, 185).parse().unwrap();
    let expected_age = today.years_since(spec.birth_date).unwrap() as i32;
    assert_eq!(age, expected_age);
    for check in [80, 81, 82, 84] {
        let f = text_field(response, check).unwrap_or_else(|| panic!("check digit field {check}"));
        assert_eq!(f["validityStatus"], 1, "{f}");
    }
    let number = text_field(response, 2).unwrap();
    assert_eq!(number["valueList"][0]["source"], "MRZ");
    assert_eq!(number["lcid"], 0);
    // The portrait, cropped from the document, where the workflows look for it.
    let images = &container(response, 37).expect("Images result")["Images"];
    let portrait = images["fieldList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fieldType"] == 201)
        .expect("portrait field");
    let v = &portrait["valueList"][0];
    assert_eq!(v["source"], "VISUAL");
    assert_eq!(v["containerType"], 6);
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(v["value"].as_str().unwrap())
        .unwrap();
    let img = image::load_from_memory(&jpeg).unwrap();
    assert!(img.width() > 50 && img.height() > 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passport_and_id_card_read_back() {
    let server = start().await;
    let face = portrait();
    let passport = Spec::passport(101);
    let (status_code, response) = server
        .post(
            "/api/process",
            &request(&jpeg_b64(&synth::render(&passport, &face))),
        )
        .await;
    assert_eq!(status_code, 200, "{response}");
    check_document(&response, &passport, 11);
    assert_eq!(response["TransactionInfo"]["Tag"], "session-1");

    let mut card = Spec::id_card(202);
    card.document_code = "ID".into();
    let rotated = synth::degrade(
        &synth::render(&card, &face),
        &synth::Degradation::Rotate(3.0),
        5,
    );
    let (status_code, response) = server
        .post("/api/process", &request(&jpeg_b64(&rotated)))
        .await;
    assert_eq!(status_code, 200, "{response}");
    check_document(&response, &card, 12);

    // The transaction can be read again, with or without its images.
    let id = response["TransactionInfo"]["TransactionID"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, again) = server
        .get(&format!("/api/v2/transaction/{id}/results?withImages=true"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(again, response);
    let (code, bare) = server
        .get(&format!(
            "/api/v2/transaction/{id}/results?withImages=false"
        ))
        .await;
    assert_eq!(code, 200);
    let portrait_value = &container(&bare, 37).unwrap()["Images"]["fieldList"][0]["valueList"][0];
    assert!(portrait_value.get("value").is_none());
    assert_eq!(value(&bare, 2), card.document_number);
    let (code, summary) = server.get(&format!("/api/v2/transaction/{id}")).await;
    assert_eq!(code, 200);
    assert_eq!(summary["transactionId"], id.as_str());
    assert_eq!(summary["tag"], "session-1");
    // The workflows' call: process again from the cache, then read the results.
    let (code, processed) = server
        .post(
            &format!("/api/v2/transaction/{id}/process?useCache=true"),
            &json!({"processParam": {"scenario": "FullProcess"}}),
        )
        .await;
    assert_eq!(code, 200, "{processed}");
    assert_eq!(processed["transactionId"], id.as_str());
    // Images sent to the transaction route are processed under its id.
    let other = "4f6b3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    let (code, _) = server
        .post(
            &format!("/api/v2/transaction/{other}/process"),
            &request(&jpeg_b64(&synth::render(&passport, &face))),
        )
        .await;
    assert_eq!(code, 200);
    let (code, stored) = server
        .get(&format!("/api/v2/transaction/{other}/results"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(value(&stored, 2), passport.document_number);
    assert_eq!(stored["TransactionInfo"]["TransactionID"], other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_tampered_documents_fail_their_checks() {
    let server = start().await;
    let face = portrait();
    let expired = Spec::passport(7).expired_on(NaiveDate::from_ymd_opt(2021, 3, 14).unwrap());
    let (code, response) = server
        .post(
            "/api/process",
            &request(&jpeg_b64(&synth::render(&expired, &face))),
        )
        .await;
    assert_eq!(code, 200);
    let st = status(&response);
    assert_eq!(st["detailsOptical"]["mrz"], 1, "{st}");
    assert_eq!(st["detailsOptical"]["expiry"], 0);
    assert_eq!(st["overallStatus"], 0);
    assert_eq!(value(&response, 3), "2021-03-14");
    assert!(value(&response, 364).parse::<i64>().unwrap() < 0);

    let tampered = Spec::id_card(8).tampered(CheckDigit::BirthDate);
    let (code, response) = server
        .post(
            "/api/process",
            &request(&jpeg_b64(&synth::render(&tampered, &face))),
        )
        .await;
    assert_eq!(code, 200);
    let st = status(&response);
    assert_eq!(st["detailsOptical"]["mrz"], 0, "{st}");
    assert_eq!(st["overallStatus"], 0);
    assert_eq!(text_field(&response, 5).unwrap()["validityStatus"], 0);
    assert_eq!(text_field(&response, 81).unwrap()["validityStatus"], 0);

    // Dates in the format asked for, and the age threshold.
    let spec = Spec::passport(9);
    let mut body = request(&jpeg_b64(&synth::render(&spec, &face)));
    body["processParam"]["dateFormat"] = json!("dd/MM/yyyy");
    body["processParam"]["minimalHolderAge"] = json!(150);
    let (code, response) = server.post("/api/process", &body).await;
    assert_eq!(code, 200);
    assert_eq!(
        value(&response, 5),
        spec.birth_date.format("%d/%m/%Y").to_string()
    );
    assert_eq!(
        container(&response, 36).unwrap()["Text"]["dateFormat"],
        "dd/MM/yyyy"
    );
    assert_eq!(status(&response)["detailsAge"]["overThreshold"], 0);
    assert_eq!(status(&response)["overallStatus"], 0);
}

/// A PNG announcing `width` × `height` with next to no pixel data (a header, a short IDAT).
fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_engine_stays_up() {
    let server = start().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let (code, body) = server.post_raw("/api/process", b"{not json".to_vec()).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("bad_json")));
    let (code, body) = server
        .post(
            "/api/process",
            &json!({"processParam": {"scenario": "Mrz"}, "List": []}),
        )
        .await;
    assert_eq!((code, body["code"].as_str()), (400, Some("no_images")));
    let (code, body) = server.post("/api/process", &json!({"List": []})).await;
    assert_eq!((code, body["code"].as_str()), (400, Some("bad_request")));
    let (code, body) = server
        .post("/api/process", &request(&b64(b"hello, not an image")))
        .await;
    assert_eq!((code, body["code"].as_str()), (400, Some("not_an_image")));
    let (code, body) = server
        .post("/api/process", &request("%%% not base64"))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("image_not_base64"))
    );
    // 20000 × 20000 announced: refused from the header, nothing decoded.
    let (code, body) = server
        .post("/api/process", &request(&b64(&png_header(20_000, 20_000))))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("image_too_large")),
        "{body}"
    );
    let (code, body) = server
        .post("/api/process", &request(&b64(&png_header(11_000, 5_000))))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (400, Some("image_too_large")),
        "{body}"
    );
    // A body over the limit.
    let big = vec![b' '; 9 * 1024 * 1024];
    let (code, _) = server.post_raw("/api/process", big).await;
    assert_eq!(code, 413);
    // No document: answered, with nothing read.
    let blank = image::RgbImage::from_pixel(800, 500, image::Rgb([250, 250, 250]));
    let (code, response) = server
        .post("/api/process", &request(&jpeg_b64(&blank)))
        .await;
    assert_eq!(code, 200, "{response}");
    assert_eq!(response["ProcessingFinished"], 1);
    assert_eq!(status(&response)["overallStatus"], 0);
    assert_eq!(status(&response)["detailsOptical"]["mrz"], 2);
    assert!(container(&response, 36).is_none());
    assert!(container(&response, 37).is_none());
    // Unknown transactions.
    let (code, body) = server
        .get("/api/v2/transaction/00000000-0000-4000-8000-000000000000/results")
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (404, Some("transaction_not_found"))
    );
    let (code, _) = server
        .get("/api/v2/transaction/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(code, 404);
    let (code, _) = server
        .post(
            "/api/v2/transaction/00000000-0000-4000-8000-000000000000/process",
            &json!({"processParam": {"scenario": "FullProcess"}}),
        )
        .await;
    assert_eq!(code, 404);
    // Still up.
    let (code, ping) = server.get("/api/ping").await;
    assert_eq!(code, 200);
    assert_eq!(ping["version"], env!("CARGO_PKG_VERSION"));
    let (code, health) = server.get("/api/healthz").await;
    assert_eq!(code, 200);
    assert_eq!(health["app"], "idv-checks");
    assert!(
        health["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "FullProcess")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_are_all_answered() {
    let server = Arc::new(start().await);
    let face = portrait();
    let specs: Vec<Spec> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                Spec::passport(300 + i)
            } else {
                Spec::id_card(300 + i)
            }
        })
        .collect();
    let mut tasks = Vec::new();
    for spec in specs.clone() {
        let body = request(&jpeg_b64(&synth::render(&spec, &face)));
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            server.post("/api/process", &body).await
        }));
    }
    for (task, spec) in tasks.into_iter().zip(&specs) {
        let (code, response) = task.await.unwrap();
        assert_eq!(code, 200);
        assert_eq!(value(&response, 2), spec.document_number);
    }
    // Images given as raw image containers instead of List.
    let spec = &specs[0];
    let body = json!({
        "processParam": {"scenario": "Mrz"},
        "ContainerList": {"List": [{"result_type": 16, "page_idx": 0, "light": 6,
            "RawImageContainer": {"image": jpeg_b64(&synth::render(spec, &face))}}]},
    });
    let (code, response) = server.post("/api/process", &body).await;
    assert_eq!(code, 200, "{response}");
    assert_eq!(value(&response, 2), spec.document_number);
    assert!(server.engine.docreader.len() >= 4);
}
