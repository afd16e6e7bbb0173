//! The Document Reader contract (Regula's `docreader-openapi`): `POST /api/process`, the
//! transaction routes under `/api/v2/transaction/{id}`, `GET /api/ping` and `GET /api/healthz`.
//!
//! What the engine checks is the MRZ (every check digit, read twice the same way, real state
//! codes), the dates (expiry, age) and the document type the MRZ names; it crops the portrait
//! when a face is found. Everything else the contract can carry (authenticity, RFID, barcodes,
//! visual-zone OCR, stop lists) is absent from the answer or marked "not done" (2), never
//! invented.

pub mod countries;
mod response;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::picture::PictureError;
use crate::{Engine, Settings};

pub use response::{Page, build};

/// Transactions kept for reading again: at most this many…
pub const MAX_TRANSACTIONS: usize = 256;
/// …and at most this many bytes of stored answers; the oldest go first.
pub const MAX_STORED_BYTES: usize = 64 << 20;

/// One processed transaction.
struct Stored {
    tag: Option<String>,
    /// The ProcessResponse, serialised.
    response: Bytes,
    /// `(light, page_idx)` of each input image.
    inputs: Vec<(i64, i64)>,
}

/// Transactions kept for reading again (newest [`MAX_TRANSACTIONS`], [`MAX_STORED_BYTES`]).
pub struct State {
    store: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    map: HashMap<String, Stored>,
    order: VecDeque<String>,
    bytes: usize,
}

impl State {
    pub fn new(_settings: &Settings) -> Self {
        State {
            store: Mutex::new(Store::default()),
        }
    }

    fn put(&self, id: String, stored: Stored) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = store.map.remove(&id) {
            store.bytes -= old.response.len();
            store.order.retain(|k| k != &id);
        }
        store.bytes += stored.response.len();
        store.order.push_back(id.clone());
        store.map.insert(id, stored);
        while store.order.len() > MAX_TRANSACTIONS
            || (store.bytes > MAX_STORED_BYTES && store.order.len() > 1)
        {
            if let Some(oldest) = store.order.pop_front()
                && let Some(old) = store.map.remove(&oldest)
            {
                store.bytes -= old.response.len();
            }
        }
    }

    fn get<T>(&self, id: &str, f: impl FnOnce(&Stored) -> T) -> Option<T> {
        let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        store.map.get(id).map(f)
    }

    /// How many transactions are kept.
    pub fn len(&self) -> usize {
        self.store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether no transaction is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/api/process", post(process))
        .route(
            "/api/v2/transaction/{id}/process",
            post(transaction_process),
        )
        .route("/api/v2/transaction/{id}/results", get(transaction_results))
        .route("/api/v2/transaction/{id}", get(transaction_get))
        .route("/api/ping", get(ping))
        .route("/api/healthz", get(healthz))
}

/// The scenarios answered (each reads the MRZ; the others are refused).
pub const SCENARIOS: &[&str] = &[
    "Mrz",
    "MrzOrLocate",
    "MrzAndLocate",
    "MrzOrOcr",
    "MrzOrBarcode",
    "MrzOrBarcodeOrOcr",
    "LocateVisual_And_MrzOrOcr",
    "FullProcess",
    "FullAuth",
];

/// A refused request: HTTP status, a stable code and a message, as
/// `{"code": ..., "message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<PictureError> for ApiError {
    fn from(e: PictureError) -> Self {
        ApiError::bad(e.code(), e.to_string())
    }
}

/// One input image: base64 text, its light and page index.
struct Input {
    image: String,
    light: i64,
    page_idx: i64,
}

/// The parts of a ProcessRequest the engine uses.
struct Request {
    params: Value,
    inputs: Vec<Input>,
    tag: Option<String>,
    pass_back: Option<Value>,
}

fn parse_request(body: &[u8], images_required: bool) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad("bad_json", format!("the body is not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::bad(
            "bad_request",
            "the body must be a JSON object",
        ));
    };
    let params = match obj.get("processParam") {
        Some(p @ Value::Object(_)) => p.clone(),
        _ => {
            return Err(ApiError::bad(
                "bad_request",
                "processParam (an object with scenario) is required",
            ));
        }
    };
    if let Some(scenario) = params.get("scenario") {
        let ok = scenario.as_str().is_some_and(|s| SCENARIOS.contains(&s));
        if !ok {
            return Err(ApiError::bad(
                "unsupported_scenario",
                format!(
                    "scenario {scenario} is not answered; use one of {}",
                    SCENARIOS.join(", ")
                ),
            ));
        }
    }
    let mut inputs = Vec::new();
    let mut take = |item: &Value, list_idx: usize| -> Result<(), ApiError> {
        let data = item
            .get("ImageData")
            .or_else(|| item.get("RawImageContainer"));
        let image = match data {
            Some(Value::String(s)) => s.clone(),
            Some(d) => match d.get("image") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(ApiError::bad(
                        "no_image",
                        format!("image {list_idx} has no ImageData.image"),
                    ));
                }
            },
            None => {
                return Err(ApiError::bad(
                    "no_image",
                    format!("image {list_idx} has no ImageData"),
                ));
            }
        };
        inputs.push(Input {
            image,
            light: item.get("light").and_then(Value::as_i64).unwrap_or(6),
            page_idx: item
                .get("page_idx")
                .and_then(Value::as_i64)
                .unwrap_or(list_idx as i64),
        });
        Ok(())
    };
    if let Some(list) = obj.get("List") {
        let Value::Array(list) = list else {
            return Err(ApiError::bad(
                "bad_request",
                "List must be an array of images",
            ));
        };
        for (i, item) in list.iter().enumerate() {
            take(item, i)?;
        }
    }
    if let Some(list) = obj
        .get("ContainerList")
        .and_then(|c| c.get("List"))
        .and_then(Value::as_array)
    {
        for (i, item) in list.iter().enumerate() {
            if item.get("ImageData").is_some() || item.get("RawImageContainer").is_some() {
                take(item, i)?;
            }
        }
    }
    if images_required && inputs.is_empty() {
        return Err(ApiError::bad(
            "no_images",
            "no image: give List: [{ImageData: {image: <base64>}}]",
        ));
    }
    Ok(Request {
        params,
        inputs,
        tag: obj.get("tag").and_then(Value::as_str).map(str::to_string),
        pass_back: obj.get("passBackObject").filter(|v| v.is_object()).cloned(),
    })
}

/// The time now. The engine is a separate program from the server, with no Clock to share:
/// its answers carry the wall-clock time, as Regula's service does.
#[allow(clippy::disallowed_methods)]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// [`parse_request`] off the async threads (a body can be tens of megabytes of JSON).
async fn parse(body: Bytes, images_required: bool) -> Result<Request, ApiError> {
    tokio::task::spawn_blocking(move || parse_request(&body, images_required))
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("reading the request failed: {e}"),
        })?
}

/// A new transaction id (random UUID v4).
fn new_transaction_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Decodes and reads every page of `request`, in a blocking thread under a job permit.
async fn run(
    engine: &Arc<Engine>,
    request: Request,
    transaction_id: String,
) -> Result<Bytes, ApiError> {
    let _permit = engine.jobs.acquire().await.map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "shutting_down",
        message: "the engine is stopping".into(),
    })?;
    let started = std::time::Instant::now();
    let worker = engine.clone();
    let tag = request.tag.clone();
    let inputs: Vec<(i64, i64)> = request
        .inputs
        .iter()
        .map(|i| (i.light, i.page_idx))
        .collect();
    let stored_id = transaction_id.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Bytes, ApiError> {
        let today = now().date_naive();
        let keep = request
            .params
            .get("returnUncroppedImage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut pages = Vec::with_capacity(request.inputs.len());
        for input in &request.inputs {
            let image = crate::picture::decode_base64(&input.image, worker.settings.max_pixels)?;
            pages.push(Page::read(
                &worker,
                image,
                input.light,
                input.page_idx,
                today,
                keep,
            ));
        }
        let response = build(
            &pages,
            &request.params,
            today,
            response::Meta {
                transaction_id: &transaction_id,
                tag: request.tag.as_deref(),
                pass_back: request.pass_back.as_ref(),
                elapsed_ms: started.elapsed().as_millis() as u64,
            },
        );
        Ok(Bytes::from(
            serde_json::to_vec(&response).expect("JSON values serialise"),
        ))
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: format!("processing failed: {e}"),
    })??;
    engine.docreader.put(
        stored_id,
        Stored {
            tag,
            response: body.clone(),
            inputs,
        },
    );
    Ok(body)
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `POST /api/process`.
async fn process(
    AxumState(engine): AxumState<Arc<Engine>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = parse(body, true).await?;
    let id = new_transaction_id();
    Ok(json_bytes(run(&engine, request, id).await?))
}

fn not_found(id: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "transaction_not_found",
        message: format!("no transaction {id}"),
    }
}

fn transaction_summary(id: &str, engine: &Engine) -> Option<Value> {
    engine.docreader.get(id, |s| {
        let images: Vec<Value> = s
            .inputs
            .iter()
            .enumerate()
            .map(|(i, (light, page))| json!({"light": light, "listIdx": i, "pageIdx": page}))
            .collect();
        json!({
            "transactionId": id,
            "tag": s.tag,
            "outData": {"images": []},
            "inData": {"images": images},
        })
    })
}

/// `POST /api/v2/transaction/{id}/process`: with images, processes them under `id`; without,
/// answers for the transaction already processed under `id` (`useCache`).
async fn transaction_process(
    AxumState(engine): AxumState<Arc<Engine>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = parse(body, false).await?;
    if !request.inputs.is_empty() {
        run(&engine, request, id.clone()).await?;
    }
    let summary = transaction_summary(&id, &engine).ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(summary).into_response())
}

#[derive(serde::Deserialize)]
struct ResultsQuery {
    #[serde(rename = "withImages")]
    with_images: Option<bool>,
}

/// `GET /api/v2/transaction/{id}/results[?withImages=false]`: the stored ProcessResponse.
async fn transaction_results(
    AxumState(engine): AxumState<Arc<Engine>>,
    Path(id): Path<String>,
    Query(query): Query<ResultsQuery>,
) -> Result<Response, ApiError> {
    let body = engine
        .docreader
        .get(&id, |s| s.response.clone())
        .ok_or_else(|| not_found(&id))?;
    if query.with_images.unwrap_or(true) {
        return Ok(json_bytes(body));
    }
    let mut value: Value = serde_json::from_slice(&body).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: e.to_string(),
    })?;
    response::strip_images(&mut value);
    Ok(axum::Json(value).into_response())
}

/// `GET /api/v2/transaction/{id}`.
async fn transaction_get(
    AxumState(engine): AxumState<Arc<Engine>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let summary = transaction_summary(&id, &engine).ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(summary).into_response())
}

/// `GET /api/ping` (DeviceInfo).
async fn ping() -> Response {
    axum::Json(json!({
        "app-name": "idv-checks",
        "version": env!("CARGO_PKG_VERSION"),
        "server-time": now().to_rfc3339(),
        "supported-scenarios": SCENARIOS,
    }))
    .into_response()
}

/// `GET /api/healthz` (Healthcheck).
async fn healthz() -> Response {
    axum::Json(json!({
        "app": "idv-checks",
        "licenseId": null,
        "licenseType": null,
        "licenseSerial": null,
        "licenseValidUntil": null,
        "scenarios": SCENARIOS,
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_the_newest() {
        let state = State::new(&Settings::new("/nonexistent".into()));
        for i in 0..(MAX_TRANSACTIONS + 10) {
            state.put(
                format!("t{i}"),
                Stored {
                    tag: None,
                    response: Bytes::from_static(b"{}"),
                    inputs: vec![],
                },
            );
        }
        assert_eq!(state.len(), MAX_TRANSACTIONS);
        assert!(state.get("t0", |_| ()).is_none());
        assert!(
            state
                .get(&format!("t{}", MAX_TRANSACTIONS + 9), |_| ())
                .is_some()
        );
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(
            parse_request(b"nope", true).err().map(|e| e.code),
            Some("bad_json")
        );
        assert_eq!(
            parse_request(b"{}", true).err().map(|e| e.code),
            Some("bad_request")
        );
        let none = br#"{"processParam":{"scenario":"Mrz"},"List":[]}"#;
        assert_eq!(
            parse_request(none, true).err().map(|e| e.code),
            Some("no_images")
        );
        let bad = br#"{"processParam":{"scenario":"Nope"},"List":[]}"#;
        assert_eq!(
            parse_request(bad, true).err().map(|e| e.code),
            Some("unsupported_scenario")
        );
        let ok = br#"{"processParam":{"scenario":"FullProcess"},"List":[{"ImageData":{"image":"AAAA"},"light":6,"page_idx":0}],"tag":"s1"}"#;
        let r = parse_request(ok, true).unwrap();
        assert_eq!(r.inputs.len(), 1);
        assert_eq!(r.tag.as_deref(), Some("s1"));
        let id = new_transaction_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
