//! Stand-ins for Regula's Document Reader and Face API: small HTTP servers on `127.0.0.1:0`
//! that answer the calls Regula's General KYC workflow and the project's example workflows
//! (`examples/`) make, in the JSON shapes of the services' OpenAPI definitions (Regula's
//! `docreader-openapi` and `faceapi-openapi`).
//!
//! ```ignore
//! let dr = DocReader::start().await;          // config.services.docreader.url = dr.url
//! dr.put("3f1c…", Document::adult());
//! let face = FaceApi::start().await;          // config.services.faceapi.url = face.url
//! face.put_liveness("9a2e…", Liveness::passed());
//! face.set_similarity(0.93);
//! // … run the workflow …
//! assert!(dr.calls().iter().any(|c| c.starts_with("GET /api/v2/transaction/3f1c…/results")));
//! ```
//!
//! Both servers record every request as `"METHOD /path?query"` in arrival order ([`calls`]),
//! keep the JSON bodies they were sent ([`DocReader::last_body`]), and can be slowed down with
//! `set_delay` (each answer waits that long after the call is recorded; for action timeouts).
//! A server lives as long as its handle: dropping the handle stops it.
//!
//! Document Reader ([`DocReader`]; a transaction that was never [`DocReader::put`] is a 404
//! everywhere):
//! - `POST /api/v2/transaction/{id}/process` — the body must be JSON with a `processParam`
//!   object (else 400); answers 200 with a `TransactionProcessResult`
//!   (`{transactionId, tag, outData, inData}`), as p-transaction.yml defines it.
//! - `GET /api/v2/transaction/{id}/results?withImages=true` — a `ProcessResponse`
//!   (p-process.yml): top-level `ChipPage`, `ProcessingFinished`, `TransactionInfo`, and
//!   `ContainerList.List[]` holding, in this order, a document image (result_type 1), the chosen
//!   document type (9, `OneCandidate.FDSIDList.dType`), visual graphics (6), the Text result
//!   (36, `Text.fieldList[]` with fieldTypes 0, 25, 8, 9, 2, 5, 3, 11, 185, all `lcid` 0, plus an
//!   `lcid` 1049 fieldType 25 before the Latin one when [`Document::native_full_name`] is set),
//!   the Images result (37: signature 204, portrait 201 with `containerType` 6 — and 103 when the
//!   chip was read — and document front 207), the Status result (33, `Status.overallStatus`,
//!   `Status.detailsOptical.mrz`), and, when [`Document::rfid_status`] is set, the RFID raw
//!   data (101) and RFID binary data (104, `TDocBinaryInfo.RFID_BINARY_DATA.RFID_Session_Data.
//!   Status`). Without `withImages=true` the image `value`s and the image-only containers are
//!   left out (the real service links to the images instead).
//! - `POST /api/process` — document photos in the body (`{processParam, List: [{ImageData:
//!   {image}}], tag}`, p-process.yml's `ProcessRequest`): every `List` entry must hold a
//!   non-empty base64 image and `processParam` must be an object (else 400); answers the
//!   `ProcessResponse` of the document [`DocReader::put`] under the request's `tag` (as
//!   `…/results?withImages=true` would), or 404 for a tag never put.
//! - `GET /api/v2/transaction/{id}/file?name=in/video.mp4` — [`Document::video`] as
//!   `application/octet-stream`, or 404; any other `name` is 404, a missing one 400.
//!
//! Face API ([`FaceApi`]):
//! - `POST /api/match` — reads `images[].{index, type, data}` (base64); keeps the decoded
//!   images ([`FaceApi::last_match_images`]) and answers `{code: 0, detections: [...],
//!   results: [{firstIndex, firstFaceIndex, first, secondIndex, secondFaceIndex, second, score,
//!   similarity}]}`, one result per pair of images, each with the [`FaceApi::set_similarity`]
//!   value (default [`DEFAULT_SIMILARITY`]). An empty image (code 1, `FR_IMAGE_EMPTY`) or one
//!   that is not base64 (code 6, `FR_IMAGE_DECODE_ERROR`) makes the answer that `code` with
//!   `results: []`; a body that is not JSON with `images`, or fewer than two images, is a 400
//!   with an `OperationLog` (`{statusCode, type, msg}`).
//! - `GET /api/v2/liveness?transactionId=` — a liveness `TransactionInfo` (liveness.yml):
//!   `{code: 0, status, tag, transactionId, type, portrait?, video?, metadata}`; `status` is the
//!   only `status` key in it, so `$..status` finds exactly that. Unknown transaction 404,
//!   missing `transactionId` 400.
//! - `GET /api/v2/liveness/portrait?transactionId=` — `image/jpeg` bytes, or 404.
//! - `GET /api/v2/liveness/video?transactionId=` — `video/mp4` bytes, or 404.
//!
//! Anything else is a 404 (and is recorded too).
//!
//! [`calls`]: DocReader::calls

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// What `POST /api/match` answers as `similarity` until [`FaceApi::set_similarity`] is called.
pub const DEFAULT_SIMILARITY: f64 = 0.97;

/// What one Document Reader transaction read from the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Text fieldType 25 (surname and given names), lcid 0.
    pub full_name: String,
    /// The same name in the holder's national script: a fieldType 25 entry with lcid 1049
    /// (Russian), listed before the Latin one, so only an `lcid` filter finds the right one.
    pub native_full_name: Option<String>,
    /// Text fieldType 9 (given names).
    pub first_name: String,
    /// Text fieldType 8.
    pub surname: String,
    /// Text fieldType 2.
    pub document_number: String,
    /// Text fieldType 5, in the result's `dateFormat` (`MM/dd/yyyy`).
    pub date_of_birth: String,
    /// Text fieldType 11 (the country name); also `FDSIDList.dCountryName`.
    pub nationality: String,
    /// ICAO code of the issuing state: `FDSIDList.ICAOCode`.
    pub issuing_state: String,
    /// Text fieldType 185 (a string in `value`, as every text value is).
    pub age: i64,
    /// `OneCandidate.FDSIDList.dType` (11 passport, 12 identity card, 215 residence permit).
    pub doc_type: i64,
    /// `Status.overallStatus` (0 error, 1 ok, 2 not done).
    pub overall_status: i64,
    /// `Status.detailsOptical.mrz`.
    pub mrz_status: i64,
    /// Top-level `ChipPage` (0 no chip, 1 data page, 2 back page or inlay).
    pub chip_page: i64,
    /// `TDocBinaryInfo.RFID_BINARY_DATA.RFID_Session_Data.Status` (None: the chip was not read,
    /// and no RFID containers are returned).
    pub rfid_status: Option<i64>,
    /// Image fieldType 201, containerType 6, base64 in `value`.
    pub portrait: Vec<u8>,
    /// `GET …/file?name=in/video.mp4`; None answers 404.
    pub video: Option<Vec<u8>>,
}

impl Document {
    /// A valid passport (Utopia, the ICAO specimen state) of an adult aged 30, with a chip
    /// on the data page that was not read, and a capture video.
    pub fn adult() -> Self {
        let year = current_year();
        Document {
            full_name: "ERIKSSON ANNA MARIA".into(),
            native_full_name: None,
            first_name: "ANNA MARIA".into(),
            surname: "ERIKSSON".into(),
            document_number: "L898902C3".into(),
            // 1 January, so the age is 30 on every day of this year.
            date_of_birth: format!("01/01/{}", year - 30),
            nationality: "Utopia".into(),
            issuing_state: "UTO".into(),
            age: 30,
            doc_type: 11,
            overall_status: 1,
            mrz_status: 1,
            chip_page: 1,
            rfid_status: None,
            portrait: fake_jpeg("document portrait"),
            video: Some(fake_mp4("document capture")),
        }
    }
}

/// One Face API liveness transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Liveness {
    /// 0 passed, 1 failed.
    pub status: i64,
    /// `GET /api/v2/liveness/portrait`; None answers 404.
    pub portrait: Option<Vec<u8>>,
    /// `GET /api/v2/liveness/video`; None answers 404.
    pub video: Option<Vec<u8>>,
}

impl Liveness {
    /// A passed liveness check with a selfie and a video.
    pub fn passed() -> Self {
        Liveness {
            status: 0,
            portrait: Some(fake_jpeg("liveness selfie")),
            video: Some(fake_mp4("liveness session")),
        }
    }

    /// A failed liveness check (it still has a selfie and a video).
    pub fn failed() -> Self {
        Liveness {
            status: 1,
            ..Liveness::passed()
        }
    }
}

/// A few bytes that look like a JPEG file (SOI, a JFIF APP0 segment, a comment holding
/// `label`, EOI); different labels give different images.
pub fn fake_jpeg(label: &str) -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x48, 0x00, 0x48, 0x00, 0x00, 0xFF, 0xFE,
    ];
    let len = u16::try_from(label.len() + 2).expect("a short label");
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(label.as_bytes());
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

/// A few bytes that look like an MP4 file (an `ftyp` box, then a `free` box holding `label`).
pub fn fake_mp4(label: &str) -> Vec<u8> {
    let mut b = vec![0x00, 0x00, 0x00, 0x18];
    b.extend_from_slice(b"ftypmp42\x00\x00\x00\x00mp42isom");
    let len = u32::try_from(label.len() + 8).expect("a short label");
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(b"free");
    b.extend_from_slice(label.as_bytes());
    b
}

// ---------------------------------------------------------------------------------------------
// What both servers share: the call log, the delay, start-up.

#[derive(Default)]
struct Log {
    inner: Mutex<LogInner>,
}

#[derive(Default)]
struct LogInner {
    calls: Vec<String>,
    /// `"/path?query"` and the JSON body, for requests whose body was JSON.
    bodies: Vec<(String, Value)>,
    delay: Duration,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Records the call, then waits the delay, then answers.
async fn record(State(log): State<Arc<Log>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let delay = {
        let mut log = log.lock();
        log.calls.push(format!("{} {target}", parts.method));
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            log.bodies.push((target, v));
        }
        log.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn spawn(router: Router, log: Arc<Log>) -> (String, JoinHandle<()>) {
    let router = router
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(log, record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("stand-in runs");
    });
    (url, task)
}

fn bytes_response(content_type: &'static str, bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

// ---------------------------------------------------------------------------------------------
// Document Reader.

/// A Document Reader stand-in; see the module documentation for what it answers.
pub struct DocReader {
    /// `http://127.0.0.1:<port>`, for `config.services.docreader.url`.
    pub url: String,
    state: Arc<DocState>,
    task: JoinHandle<()>,
}

struct DocState {
    log: Arc<Log>,
    docs: Mutex<HashMap<String, Document>>,
}

impl DocState {
    fn doc(&self, id: &str) -> Option<Document> {
        self.docs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }
}

impl DocReader {
    pub async fn start() -> DocReader {
        let log = Arc::new(Log::default());
        let state = Arc::new(DocState {
            log: log.clone(),
            docs: Mutex::new(HashMap::new()),
        });
        let router = Router::new()
            .route("/api/process", post(dr_process_images))
            .route("/api/v2/transaction/{id}/process", post(dr_process))
            .route("/api/v2/transaction/{id}/results", get(dr_results))
            .route("/api/v2/transaction/{id}/file", get(dr_file))
            .with_state(state.clone());
        let (url, task) = spawn(router, log).await;
        DocReader { url, state, task }
    }

    /// Makes `transaction_id` known, with what it read (replacing what it had).
    pub fn put(&self, transaction_id: &str, doc: Document) {
        self.state
            .docs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(transaction_id.to_owned(), doc);
    }

    /// Every answer from now on waits `d` first.
    pub fn set_delay(&self, d: Duration) {
        self.state.log.lock().delay = d;
    }

    /// `"METHOD /path?query"` of every request so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.log.lock().calls.clone()
    }

    /// The JSON body of the last request that had one and whose `/path?query` starts with
    /// `path_prefix`.
    pub fn last_body(&self, path_prefix: &str) -> Option<Value> {
        last_body(&self.state.log, path_prefix)
    }

    /// The `GET …/results` answer for `doc`, as the server sends it.
    pub fn results_json(transaction_id: &str, doc: &Document, with_images: bool) -> Value {
        process_response(transaction_id, doc, with_images)
    }
}

impl Drop for DocReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn last_body(log: &Log, prefix: &str) -> Option<Value> {
    log.lock()
        .bodies
        .iter()
        .rev()
        .find(|(target, _)| target.starts_with(prefix))
        .map(|(_, v)| v.clone())
}

async fn dr_process(
    State(s): State<Arc<DocState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if s.doc(&id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let valid = serde_json::from_slice::<Value>(&body)
        .is_ok_and(|v| v.get("processParam").is_some_and(Value::is_object));
    if !valid {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let base = format!("/api/v2/transaction/{id}");
    Json(json!({
        "transactionId": id,
        "tag": tag_of(&id),
        "outData": {
            "url": format!("{base}/results"),
            "images": [{
                "fieldType": 207,
                "light": 6,
                "listIdx": 0,
                "pageIdx": 0,
                "url": format!("{base}/file?name=out/document-front.jpg"),
            }],
        },
        "inData": {
            "video": {"metadata": {}, "url": format!("{base}/file?name=in/video.mp4")},
            "images": [{
                "light": 6,
                "listIdx": 0,
                "pageIdx": 0,
                "url": format!("{base}/file?name=in/image-0.jpg"),
            }],
        },
    }))
    .into_response()
}

/// `POST /api/process`: the document photos are in the body; the document they show is the one
/// put under the request's `tag`.
async fn dr_process_images(State(s): State<Arc<DocState>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let images = req["List"].as_array().map_or(0, |list| {
        list.iter()
            .filter(|i| {
                i["ImageData"]["image"]
                    .as_str()
                    .is_some_and(|b| B64.decode(b).is_ok_and(|bytes| !bytes.is_empty()))
            })
            .count()
    });
    let listed = req["List"].as_array().map_or(0, Vec::len);
    if !req["processParam"].is_object() || images == 0 || images != listed {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Some(tag) = req["tag"].as_str() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(doc) = s.doc(tag) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    Json(process_response(tag, &doc, true)).into_response()
}

async fn dr_results(
    State(s): State<Arc<DocState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(doc) = s.doc(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let with_images = q.get("withImages").is_some_and(|v| v == "true");
    Json(process_response(&id, &doc, with_images)).into_response()
}

async fn dr_file(
    State(s): State<Arc<DocState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(name) = q.get("name") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match s.doc(&id) {
        Some(Document {
            video: Some(video), ..
        }) if name == "in/video.mp4" => bytes_response("application/octet-stream", video),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Regula tags transactions with the session they belong to; the stand-in derives one.
fn tag_of(id: &str) -> String {
    format!("session-{}", id.chars().take(8).collect::<String>())
}

fn process_response(id: &str, d: &Document, with_images: bool) -> Value {
    let mut list = Vec::new();
    let mut push = |result_type: i64, light: i64, payload: Value| {
        let buf_length = payload.to_string().len();
        let mut item = json!({
            "buf_length": buf_length,
            "light": light,
            "list_idx": 0,
            "page_idx": 0,
            "result_type": result_type,
        });
        if let (Value::Object(item), Value::Object(payload)) = (&mut item, payload) {
            item.extend(payload);
        }
        list.push(item);
    };
    let front = fake_jpeg("document front");
    if with_images {
        push(
            1,
            6,
            json!({"RawImageContainer": {"image": B64.encode(&front), "format": ".jpg"}}),
        );
    }
    push(9, 6, json!({ "OneCandidate": one_candidate(d) }));
    if with_images {
        push(
            6,
            6,
            json!({"DocGraphicsInfo": {
                "nFields": 1,
                "pArrayFields": [{
                    "FieldRect": {"left": 48, "top": 170, "right": 312, "bottom": 520},
                    "FieldType": 201,
                    "FieldName": "Portrait",
                    "image": {"image": B64.encode(&d.portrait), "format": ".jpg"},
                }],
            }}),
        );
    }
    push(36, 0, json!({ "Text": text(d) }));
    push(37, 0, json!({ "Images": images(d, &front, with_images) }));
    push(33, 0, json!({ "Status": status(d) }));
    if let Some(rfid) = d.rfid_status {
        push(
            101,
            0,
            json!({"TDocBinaryInfo": {"RFID_RAW_DATA": [
                {"Data": B64.encode(b"\x61\x5b\x5f\x1f\x58P<UTO"), "FieldType": 1},
                {"Data": B64.encode(&d.portrait), "FieldType": 2},
            ]}}),
        );
        push(104, 0, json!({ "TDocBinaryInfo": rfid_binary(rfid) }));
    }
    let count = list.len();
    json!({
        "ChipPage": d.chip_page,
        "CoreLibResultCode": 0,
        "ProcessingFinished": 1,
        "ContainerList": {"Count": count, "List": list},
        "TransactionInfo": {
            "ComputerName": "docreader-standin",
            "DateTime": "2025-03-14T09:26:53.589Z",
            "DocumentsDatabase": {
                "Description": "Passports, ID cards and residence permits",
                "ExportDate": "2025-02-20",
                "ID": "Full",
                "Version": "8.1.334562.1920",
            },
            "SystemInfo": "Linux x86_64",
            "Tag": tag_of(id),
            "TransactionID": id,
            "UserName": "user",
            "Version": "8.1.334562.1920",
        },
        "morePagesAvailable": 0,
        "elapsedTime": 1342,
    })
}

fn document_name(d: &Document) -> String {
    let kind = match d.doc_type {
        11 => "Passport",
        12 => "Identity Card",
        215 => "Residence Permit",
        _ => "Document",
    };
    format!("{} - {kind}", d.nationality)
}

fn one_candidate(d: &Document) -> Value {
    json!({
        "DocumentName": document_name(d),
        "ID": -274257313,
        "P": 0.9913095831871032,
        "Rotated180": 0,
        "RFID_Presence": d.chip_page,
        "FDSIDList": {
            "ICAOCode": d.issuing_state,
            "Count": 1,
            "List": [-274257313],
            "dType": d.doc_type,
            "dFormat": if d.doc_type == 11 { 2 } else { 0 },
            "dMRZ": true,
            "dDescription": document_name(d),
            "dYear": "2015",
            "dCountryName": d.nationality,
            "isDeprecated": false,
        },
        "NecessaryLights": 0,
        "CheckAuthenticity": 0,
        "UVExp": 0,
        "AuthenticityNecessaryLights": 0,
        "OVIExp": 0,
        "RotationAngle": 0,
    })
}

/// A source of text values: its name and the containerType of its own results.
type Source = (&'static str, i64);
const MRZ: Source = ("MRZ", 3);
const VISUAL: Source = ("VISUAL", 17);
const RFID: Source = ("RFID", 102);

fn text_field(field_type: i64, name: &str, lcid: i64, value: &str, sources: &[Source]) -> Value {
    let lcid_name = match lcid {
        0 => "Latin",
        1049 => "Russian",
        _ => "Other",
    };
    let value_list: Vec<Value> = sources
        .iter()
        .map(|&(source, container_type)| {
            json!({
                "source": source,
                "value": value,
                "originalValue": value,
                "originalValidity": 1,
                "pageIndex": 0,
                "probability": 99,
                "containerType": container_type,
            })
        })
        .collect();
    let validity: Vec<Value> = sources
        .iter()
        .map(|&(source, _)| json!({"source": source, "status": 1}))
        .collect();
    let comparison: Vec<Value> = sources
        .windows(2)
        .map(|w| json!({"sourceLeft": w[0].0, "sourceRight": w[1].0, "status": 1}))
        .collect();
    json!({
        "fieldType": field_type,
        "fieldName": name,
        "lcid": lcid,
        "lcidName": lcid_name,
        "status": 1,
        "validityStatus": 1,
        "comparisonStatus": if comparison.is_empty() { 2 } else { 1 },
        "value": value,
        "valueList": value_list,
        "validityList": validity,
        "comparisonList": comparison,
    })
}

fn text(d: &Document) -> Value {
    // The chip's DG1 holds the MRZ fields too.
    let mut mrz: Vec<Source> = vec![MRZ, VISUAL];
    if d.rfid_status.is_some() {
        mrz.push(RFID);
    }
    let class_code = match d.doc_type {
        11 => "P",
        215 => "IR",
        _ => "ID",
    };
    let expiry = format!("03/14/{}", current_year() + 7);
    let mut fields = vec![text_field(0, "Document Class Code", 0, class_code, &mrz)];
    if let Some(native) = &d.native_full_name {
        fields.push(text_field(
            25,
            "Surname And Given Names",
            1049,
            native,
            &[VISUAL],
        ));
    }
    fields.extend([
        text_field(25, "Surname And Given Names", 0, &d.full_name, &mrz),
        text_field(8, "Surname", 0, &d.surname, &mrz),
        text_field(9, "Given Names", 0, &d.first_name, &mrz),
        text_field(2, "Document Number", 0, &d.document_number, &mrz),
        text_field(5, "Date of Birth", 0, &d.date_of_birth, &mrz),
        text_field(3, "Date of Expiry", 0, &expiry, &mrz),
        text_field(11, "Nationality", 0, &d.nationality, &[VISUAL]),
        text_field(185, "Age", 0, &d.age.to_string(), &mrz),
    ]);
    let available: Vec<Value> = mrz
        .iter()
        .map(|&(source, ct)| json!({"source": source, "validityStatus": 1, "containerType": ct}))
        .collect();
    json!({
        "status": 1,
        "validityStatus": 1,
        "comparisonStatus": 1,
        "dateFormat": "MM/dd/yyyy",
        "fieldList": fields,
        "availableSourceList": available,
    })
}

fn images(d: &Document, front: &[u8], with_images: bool) -> Value {
    let value = |source: &str, container_type: i64, bytes: &[u8], extra: Value| {
        let mut m = Map::new();
        m.insert("source".into(), json!(source));
        if with_images {
            m.insert("value".into(), json!(B64.encode(bytes)));
        }
        m.insert("originalPageIndex".into(), json!(0));
        m.insert("pageIndex".into(), json!(0));
        m.insert("lightIndex".into(), json!(6));
        m.insert("containerType".into(), json!(container_type));
        if let Value::Object(extra) = extra {
            m.extend(extra);
        }
        Value::Object(m)
    };
    let rect = |left: i64, top: i64, right: i64, bottom: i64| json!({"fieldRect": {"left": left, "top": top, "right": right, "bottom": bottom}});
    let mut portrait = vec![value("VISUAL", 6, &d.portrait, rect(48, 170, 312, 520))];
    if d.rfid_status.is_some() {
        portrait.push(value(
            "RFID",
            103,
            &d.portrait,
            json!({"rfidOrigin": {"dg": 2, "dgTag": 0, "entryView": 0, "tagEntry": 1}}),
        ));
    }
    let fields = vec![
        json!({
            "fieldName": "Signature",
            "fieldType": 204,
            "valueList": [value("VISUAL", 6, &fake_jpeg("signature"), rect(360, 470, 700, 540))],
            "valueCount": 1,
        }),
        json!({
            "fieldName": "Portrait",
            "fieldType": 201,
            "valueCount": portrait.len(),
            "valueList": portrait,
        }),
        json!({
            "fieldName": "Document front side",
            "fieldType": 207,
            "valueList": [value("VISUAL", 1, front, json!({}))],
            "valueCount": 1,
        }),
    ];
    let mut sources = vec![
        json!({"containerType": 1, "source": "VISUAL"}),
        json!({"containerType": 6, "source": "VISUAL"}),
    ];
    if d.rfid_status.is_some() {
        sources.push(json!({"containerType": 103, "source": "RFID"}));
    }
    json!({
        "fieldCount": fields.len(),
        "availableSourceCount": sources.len(),
        "availableSourceList": sources,
        "fieldList": fields,
    })
}

fn status(d: &Document) -> Value {
    let check = |ok: bool| i64::from(ok);
    let over = check(d.age >= 18);
    let mut s = json!({
        "overallStatus": d.overall_status,
        "optical": if d.mrz_status == 0 { 0 } else { d.overall_status },
        "portrait": 2,
        "rfid": d.rfid_status.unwrap_or(2),
        "stopList": 2,
        "detailsOptical": {
            "overallStatus": d.overall_status,
            "docType": 1,
            "expiry": 1,
            "imageQA": 1,
            "mrz": d.mrz_status,
            "pagesCount": 1,
            "security": 2,
            "text": 1,
            "vds": 2,
        },
        "age": over,
        "detailsAge": {
            "threshold": 18,
            "overThreshold": over,
            "over18": over,
            "over21": check(d.age >= 21),
            "over25": check(d.age >= 25),
            "over65": check(d.age >= 65),
        },
        "mDL": 2,
    });
    if let (Some(rfid), Value::Object(m)) = (d.rfid_status, &mut s) {
        m.insert("detailsRFID".into(), rfid_details(rfid));
    }
    s
}

fn rfid_details(rfid: i64) -> Value {
    json!({"overallStatus": rfid, "AA": 2, "BAC": rfid, "CA": 2, "PA": rfid, "PACE": 2, "TA": 2})
}

fn rfid_binary(rfid: i64) -> Value {
    // RFIDErrorCodes: 1 is "no error".
    json!({"RFID_BINARY_DATA": {
        "RFID_Session_Data": {
            "VirtualMode": false,
            "SDKVersion": "3.2",
            "DriverVersion": "6.9.0.0",
            "FirmwareVersion": "5.29",
            "Applications": [{
                "Type": 1,
                "Status": 1,
                "ApplicationID": "A0000002471001",
                "Version": "0107",
                "UnicodeVersion": "040000",
                "DataHashAlgorithm": "SHA256",
                "Files": [],
            }],
            "AccessControls": [{"Type": 1, "Status": 1, "ActiveOptionIdx": 0, "Notifications": []}],
            "CardProperties": {
                "RFID_Type": 1,
                "Baudrate1": "0x00000007",
                "Baudrate2": "0x00000007",
                "Support_4": true,
                "ChipType_A": 0,
                "Support_Mifare": false,
                "MifareMemory": 0,
                "UID": "08 4F 41 60",
                "ATQ_A": "0x0044",
                "SAK": "0x20",
                "ATQ_B": "",
                "BitRateS": 4,
                "BitRateR": 4,
                "ATR": "",
            },
            "ExtLeSupport": 1,
            "ProcessTime": 2931,
            "RootFiles": [],
            "TotalBytesSent": 1042,
            "TotalBytesReceived": 23310,
            "Session_terminal": {"TermType": 1, "AuthReq": 0, "AuthReq2": 0},
            "Session_procedure": 1,
            "SecurityObjects": [],
            "Status": rfid,
        },
        "RFID_Session_Data_Status": rfid_details(rfid),
        "RFID_ePassp_Directory": [1, 2, 14, 21],
    }})
}

/// The current year (UTC), from the days since 1970 (the proleptic Gregorian calendar).
fn current_year() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Shift the epoch to 1 March 0000 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    // March-based months 10 and 11 are January and February of the next year.
    year_of_era + era * 400 + i64::from(march_based_month >= 10)
}

// ---------------------------------------------------------------------------------------------
// Face API.

/// A Face API stand-in; see the module documentation for what it answers.
pub struct FaceApi {
    /// `http://127.0.0.1:<port>`, for `config.services.faceapi.url`.
    pub url: String,
    state: Arc<FaceState>,
    task: JoinHandle<()>,
}

struct FaceState {
    log: Arc<Log>,
    inner: Mutex<FaceInner>,
}

struct FaceInner {
    liveness: HashMap<String, Liveness>,
    similarity: f64,
    last_match: Vec<Vec<u8>>,
}

impl FaceState {
    fn lock(&self) -> MutexGuard<'_, FaceInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn liveness(&self, q: &HashMap<String, String>) -> Result<Liveness, StatusCode> {
        let id = q.get("transactionId").ok_or(StatusCode::BAD_REQUEST)?;
        self.lock()
            .liveness
            .get(id)
            .cloned()
            .ok_or(StatusCode::NOT_FOUND)
    }
}

impl FaceApi {
    pub async fn start() -> FaceApi {
        let log = Arc::new(Log::default());
        let state = Arc::new(FaceState {
            log: log.clone(),
            inner: Mutex::new(FaceInner {
                liveness: HashMap::new(),
                similarity: DEFAULT_SIMILARITY,
                last_match: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/api/match", post(face_match))
            .route("/api/v2/liveness", get(liveness_info))
            .route("/api/v2/liveness/portrait", get(liveness_portrait))
            .route("/api/v2/liveness/video", get(liveness_video))
            .with_state(state.clone());
        let (url, task) = spawn(router, log).await;
        FaceApi { url, state, task }
    }

    /// Makes the liveness transaction `transaction_id` known (replacing what it had).
    pub fn put_liveness(&self, transaction_id: &str, l: Liveness) {
        self.state
            .lock()
            .liveness
            .insert(transaction_id.to_owned(), l);
    }

    /// The `similarity` that `POST /api/match` answers from now on.
    pub fn set_similarity(&self, s: f64) {
        self.state.lock().similarity = s;
    }

    /// Every answer from now on waits `d` first.
    pub fn set_delay(&self, d: Duration) {
        self.state.log.lock().delay = d;
    }

    /// `"METHOD /path?query"` of every request so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.log.lock().calls.clone()
    }

    /// The JSON body of the last request that had one and whose `/path?query` starts with
    /// `path_prefix`.
    pub fn last_body(&self, path_prefix: &str) -> Option<Value> {
        last_body(&self.state.log, path_prefix)
    }

    /// The decoded `images[].data` of the last `POST /api/match`, ordered by `index` (an image
    /// that was not base64 is empty here).
    pub fn last_match_images(&self) -> Vec<Vec<u8>> {
        self.state.lock().last_match.clone()
    }
}

impl Drop for FaceApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn operation_log(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"statusCode": 400, "type": "BadRequest", "msg": msg})),
    )
        .into_response()
}

struct MatchImage {
    index: i64,
    kind: i64,
    /// The decoded image, or the FaceSDKResultCode why there is none.
    data: Result<Vec<u8>, i64>,
}

async fn face_match(State(s): State<Arc<FaceState>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return operation_log("the request body is not JSON");
    };
    let Some(list) = req.get("images").and_then(Value::as_array) else {
        return operation_log("`images` must be an array");
    };
    let mut images: Vec<MatchImage> = list
        .iter()
        .zip(0_i64..)
        .map(|(img, position)| {
            let data = match img.get("data").and_then(Value::as_str) {
                None | Some("") => Err(1),
                Some(b64) => B64.decode(b64).map_err(|_| 6),
            };
            MatchImage {
                index: img.get("index").and_then(Value::as_i64).unwrap_or(position),
                kind: img.get("type").and_then(Value::as_i64).unwrap_or(1),
                data,
            }
        })
        .collect();
    images.sort_by_key(|i| i.index);
    let similarity = {
        let mut inner = s.lock();
        inner.last_match = images
            .iter()
            .map(|i| i.data.clone().unwrap_or_default())
            .collect();
        inner.similarity
    };
    if images.len() < 2 {
        // FACER_LESS_THAN_TWO_IMAGES_IN_REQUEST
        return operation_log("at least two images are needed (code 224)");
    }
    let detections: Vec<Value> = images
        .iter()
        .map(|i| match &i.data {
            Ok(_) => json!({
                "faces": [{
                    "faceIndex": 0,
                    "landmarks": [[121, 148], [183, 146], [152, 184], [127, 214], [179, 213]],
                    "roi": [86, 92, 132, 168],
                    "rotationAngle": 0.4,
                }],
                "imageIndex": i.index,
                "status": 0,
            }),
            Err(code) => json!({"faces": [], "imageIndex": i.index, "status": code}),
        })
        .collect();
    if let Some(code) = images.iter().find_map(|i| i.data.as_ref().err()) {
        return Json(json!({"code": code, "detections": detections, "results": []}))
            .into_response();
    }
    let mut results = Vec::new();
    for (n, first) in images.iter().enumerate() {
        for second in &images[n + 1..] {
            results.push(json!({
                "firstIndex": first.index,
                "firstFaceIndex": 0,
                "first": first.kind,
                "secondIndex": second.index,
                "secondFaceIndex": 0,
                "second": second.kind,
                "score": (1.0 - similarity).max(0.0),
                "similarity": similarity,
            }));
        }
    }
    Json(json!({
        "code": 0,
        "detections": detections,
        "results": results,
        "metadata": {},
    }))
    .into_response()
}

async fn liveness_info(
    State(s): State<Arc<FaceState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let l = match s.liveness(&q) {
        Ok(l) => l,
        Err(code) => return code.into_response(),
    };
    let id = &q["transactionId"];
    let tag = tag_of(id);
    // Where the real service would have stored the files.
    let stored = |file: &str| format!("faceapi-session/{tag}/{id}/{file}");
    let mut m = Map::new();
    m.insert("code".into(), json!(0));
    m.insert("status".into(), json!(l.status));
    m.insert("tag".into(), json!(tag));
    m.insert("transactionId".into(), json!(id));
    m.insert("type".into(), json!(0));
    if l.portrait.is_some() {
        m.insert("portrait".into(), json!(stored("portrait.jpg")));
    }
    if l.video.is_some() {
        m.insert("video".into(), json!(stored("video.mp4")));
    }
    m.insert(
        "metadata".into(),
        json!({"platform": "android", "deviceModel": "Pixel 7", "sdkVersion": "7.1.2"}),
    );
    Json(Value::Object(m)).into_response()
}

async fn liveness_portrait(
    State(s): State<Arc<FaceState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.liveness(&q).map(|l| l.portrait) {
        Ok(Some(p)) => bytes_response("image/jpeg", p),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(code) => code.into_response(),
    }
}

async fn liveness_video(
    State(s): State<Arc<FaceState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.liveness(&q).map(|l| l.video) {
        Ok(Some(v)) => bytes_response("video/mp4", v),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(code) => code.into_response(),
    }
}
