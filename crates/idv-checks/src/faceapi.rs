//! The Face API contract (Regula Face SDK Web API 7.2): `POST /api/match` compares the faces
//! of two or more images, `POST /api/detect` finds the faces of one image and measures the
//! presentation-quality signal of each. Request and response shapes follow Regula's
//! `match.yml`, `detect.yml` and `common.yml`.
//!
//! Problems with one image (empty, not an image, too large, no face) are answered with HTTP 200
//! and the image's result code (`FR_IMAGE_EMPTY`, `FR_IMAGE_DECODE_ERROR`,
//! `FR_FACE_NOT_DETECTED`) in the detection's `status` and in the response's `code`, as the
//! contract answers them; a request that cannot be read (not JSON, fewer than two images to
//! match, a body over the size limit) is answered with HTTP 400 (413 for the size) and the
//! contract's `OperationLog` (`statusCode`, `type`, `msg`) beside the result `code`.
//! `/api/healthz` and `/api/readyz` are the Document Reader's routes too and are answered there.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use image::RgbImage;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Engine;
use crate::face::{self, Face, FaceBox};
use crate::picture::PictureError;

/// Images accepted in one match request.
pub const MAX_MATCH_IMAGES: usize = 10;

/// The contract's result codes (`FaceSDKResultCode`) this engine answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    ImageEmpty = 1,
    FaceNotDetected = 2,
    ImageDecodeError = 6,
    InternalError = 7,
    ParamsReadError = 203,
    LessThanTwoImages = 224,
    ImagesCountLimitExceeded = 238,
}

impl Code {
    /// The code's name in the contract.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "FACER_OK",
            Code::ImageEmpty => "FR_IMAGE_EMPTY",
            Code::FaceNotDetected => "FR_FACE_NOT_DETECTED",
            Code::ImageDecodeError => "FR_IMAGE_DECODE_ERROR",
            Code::InternalError => "FR_INTERNAL_ERROR",
            Code::ParamsReadError => "FACER_COMMAND_PARAMS_READ_ERROR",
            Code::LessThanTwoImages => "FACER_LESS_THAN_TWO_IMAGES_IN_REQUEST",
            Code::ImagesCountLimitExceeded => "FACER_IMAGES_COUNT_LIMIT_EXCEEDED",
        }
    }
}

/// The Face API routes: `POST /api/match`, `POST /api/detect`.
pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
        .route("/api/match", post(match_faces))
        .route("/api/detect", post(detect))
}

/// A request-level error: the HTTP status, and the contract's `OperationLog` with the result
/// code beside it.
#[derive(Debug)]
struct RequestError {
    status: StatusCode,
    code: Code,
    msg: String,
}

fn request_error(status: StatusCode, code: Code, msg: impl Into<String>) -> RequestError {
    RequestError {
        status,
        code,
        msg: msg.into(),
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code as i32,
            "statusCode": self.status.as_u16(),
            "type": self.code.name(),
            "msg": self.msg,
        });
        (self.status, Json(body)).into_response()
    }
}

/// One of the engine's job permits ([`crate::Settings::workers`]), held from before the
/// request body is read until the work on it ends (even if the client stops waiting), so that
/// the requests in memory at once are bounded: the others wait with their bodies unread.
struct Job(Arc<Engine>);

impl Drop for Job {
    fn drop(&mut self) {
        self.0.jobs.add_permits(1);
    }
}

impl Job {
    /// Waits for a permit. A body declared larger than the engine accepts is refused first.
    async fn start(
        engine: &Arc<Engine>,
        parts: &axum::http::request::Parts,
    ) -> Result<Job, RequestError> {
        let declared = parts
            .headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > engine.settings.max_body as u64) {
            return Err(too_large());
        }
        let permit = engine.jobs.acquire().await.map_err(|_| {
            request_error(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::InternalError,
                "the engine is stopping",
            )
        })?;
        permit.forget();
        Ok(Job(engine.clone()))
    }

    /// Reads the body as JSON (at most [`crate::Settings::max_body`] bytes).
    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        body: Body,
    ) -> Result<T, RequestError> {
        let bytes = axum::body::to_bytes(body, self.0.settings.max_body)
            .await
            .map_err(|e| {
                if std::error::Error::source(&e)
                    .is_some_and(|s| s.to_string().contains("length limit"))
                {
                    too_large()
                } else {
                    request_error(
                        StatusCode::BAD_REQUEST,
                        Code::ParamsReadError,
                        format!("the request body could not be read: {e}"),
                    )
                }
            })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            request_error(
                StatusCode::BAD_REQUEST,
                Code::ParamsReadError,
                format!("the request body is not the expected JSON: {e}"),
            )
        })
    }

    /// Runs `work` on the blocking pool; the permit is given back when it ends.
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Result<T, RequestError> {
        tokio::task::spawn_blocking(move || {
            let job = self;
            work(&job.0)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "face job failed");
            request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::InternalError,
                "the face check failed",
            )
        })
    }
}

fn too_large() -> RequestError {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::ParamsReadError,
        "the request body is larger than the engine accepts",
    )
}

/// Milliseconds since `started`.
fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

// ---- Images -------------------------------------------------------------------------------

/// Why an uploaded image cannot be used.
#[derive(Debug)]
struct ImageProblem {
    code: Code,
    msg: String,
}

impl ImageProblem {
    fn new(code: Code, msg: impl Into<String>) -> Self {
        ImageProblem {
            code,
            msg: msg.into(),
        }
    }
}

/// Decodes an uploaded image ([`crate::picture::decode_base64`]: limits checked from the
/// header, EXIF orientation applied); nothing sent is an empty image.
fn decode_image(data: Option<&str>, max_pixels: u64) -> Result<RgbImage, ImageProblem> {
    crate::picture::decode_base64(data.unwrap_or_default(), max_pixels).map_err(|e| {
        let code = match e {
            PictureError::Empty => Code::ImageEmpty,
            _ => Code::ImageDecodeError,
        };
        ImageProblem::new(code, e.to_string())
    })
}

// ---- Shared parameters --------------------------------------------------------------------

/// `outputImageParams`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutputImageParams {
    background_color: Option<Vec<i64>>,
    crop: Option<CropParams>,
}

/// `outputImageParams.crop`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CropParams {
    #[serde(rename = "type")]
    kind: Option<i64>,
    pad_color: Option<Vec<i64>>,
    size: Option<Vec<i64>>,
}

/// How portraits are cropped when asked for.
#[derive(Debug, Clone, Copy)]
struct CropSpec {
    aspect: (u32, u32),
    pad: [u8; 3],
    size: Option<(u32, u32)>,
}

impl CropSpec {
    fn from_params(params: &OutputImageParams) -> Option<CropSpec> {
        let crop = params.crop.as_ref()?;
        Some(CropSpec::new(crop, params.background_color.as_deref()))
    }

    fn new(crop: &CropParams, background: Option<&[i64]>) -> CropSpec {
        // FaceImageQualityAlignType: 0 3×4, 1 4×5, 2 2×3, 3 1×1, 4 7×9.
        let aspect = match crop.kind.unwrap_or(0) {
            1 => (4, 5),
            2 => (2, 3),
            3 => (1, 1),
            4 => (7, 9),
            _ => (3, 4),
        };
        let color = |c: Option<&[i64]>| {
            c.filter(|c| c.len() == 3)
                .map(|c| [c[0], c[1], c[2]].map(|v| v.clamp(0, 255) as u8))
        };
        let pad = color(crop.pad_color.as_deref())
            .or(color(background))
            .unwrap_or([255, 255, 255]);
        let size = crop
            .size
            .as_deref()
            .filter(|s| s.len() == 2 && (1..=4096).contains(&s[0]) && (1..=4096).contains(&s[1]))
            .map(|s| (s[0] as u32, s[1] as u32));
        CropSpec { aspect, pad, size }
    }

    fn default_crop() -> CropSpec {
        CropSpec {
            aspect: (3, 4),
            pad: [255, 255, 255],
            size: None,
        }
    }
}

/// `image` as a base64 JPEG.
fn jpeg_base64(image: &RgbImage) -> String {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    match image.write_with_encoder(encoder) {
        Ok(()) => base64::engine::general_purpose::STANDARD.encode(out),
        Err(e) => {
            tracing::warn!(error = %e, "portrait crop not encoded");
            String::new()
        }
    }
}

/// The face among `boxes` (largest first) that the contract's "most central face" means: the
/// one nearest the image's centre among the faces at least half as wide as the largest (a
/// small face in the background is not the subject).
fn central_face(image: &RgbImage, boxes: &[FaceBox]) -> Option<usize> {
    let largest = boxes.first()?.width;
    let (cx, cy) = (image.width() as f64 / 2.0, image.height() as f64 / 2.0);
    boxes
        .iter()
        .enumerate()
        .filter(|(_, b)| b.width * 2 >= largest)
        .map(|(i, b)| {
            let (x, y) = b.center();
            (i, (x - cx).powi(2) + (y - cy).powi(2))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn roi(b: &FaceBox) -> Value {
    json!([b.x, b.y, b.width, b.height])
}

fn landmarks(f: &Face) -> Value {
    Value::Array(
        f.landmarks
            .points
            .iter()
            .map(|p| json!([p[0].round() as i64, p[1].round() as i64]))
            .collect(),
    )
}

fn rotation_angle(f: &Face) -> f64 {
    (f.landmarks.roll_degrees() * 10.0).round() / 10.0
}

// ---- POST /api/match ----------------------------------------------------------------------

/// `MatchRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatchRequest {
    images: Option<Vec<MatchImage>>,
    #[serde(default)]
    output_image_params: OutputImageParams,
    /// Older clients ask for portraits with `thumbnails: true`.
    #[serde(default)]
    thumbnails: bool,
}

/// `MatchImage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatchImage {
    index: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<i64>,
    data: Option<String>,
    #[serde(default)]
    detect_all: bool,
}

/// One image of a match, processed.
struct Matched {
    index: i64,
    kind: Option<i64>,
    status: Code,
    msg: Option<String>,
    faces: Vec<(Face, Option<String>)>,
}

async fn match_faces(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let job = match Job::start(&engine, &parts).await {
        Ok(job) => job,
        Err(e) => return e.into_response(),
    };
    let request: MatchRequest = match job.read_json(body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let images = request.images.unwrap_or_default();
    if images.len() < 2 {
        return request_error(
            StatusCode::BAD_REQUEST,
            Code::LessThanTwoImages,
            format!("at least two images are needed, {} given", images.len()),
        )
        .into_response();
    }
    if images.len() > MAX_MATCH_IMAGES {
        return request_error(
            StatusCode::BAD_REQUEST,
            Code::ImagesCountLimitExceeded,
            format!(
                "at most {MAX_MATCH_IMAGES} images are compared at once, {} given",
                images.len()
            ),
        )
        .into_response();
    }
    let mut indexes = Vec::with_capacity(images.len());
    for (position, image) in images.iter().enumerate() {
        let index = image.index.unwrap_or(position as i64);
        if index < 0 || indexes.contains(&index) {
            return request_error(
                StatusCode::BAD_REQUEST,
                Code::ParamsReadError,
                format!(
                    "image index {index} is negative or repeated; indexes are whole and unique"
                ),
            )
            .into_response();
        }
        indexes.push(index);
    }
    let crop = CropSpec::from_params(&request.output_image_params)
        .or(request.thumbnails.then(CropSpec::default_crop));
    let outcome = job
        .run(move |engine| {
            images
                .into_iter()
                .zip(indexes)
                .map(|(image, index)| match_image(engine, image, index, crop))
                .collect::<Vec<_>>()
        })
        .await;
    let matched = match outcome {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };

    let mut results = Vec::new();
    for (i, a) in matched.iter().enumerate() {
        for b in &matched[i + 1..] {
            for (fa, (face_a, _)) in a.faces.iter().enumerate() {
                for (fb, (face_b, _)) in b.faces.iter().enumerate() {
                    let d = face::distance(&face_a.embedding, &face_b.embedding);
                    let mut r = Map::new();
                    r.insert("firstIndex".into(), json!(a.index));
                    r.insert("firstFaceIndex".into(), json!(fa));
                    if let Some(kind) = a.kind {
                        r.insert("first".into(), json!(kind));
                    }
                    r.insert("secondIndex".into(), json!(b.index));
                    r.insert("secondFaceIndex".into(), json!(fb));
                    if let Some(kind) = b.kind {
                        r.insert("second".into(), json!(kind));
                    }
                    r.insert("score".into(), json!(d));
                    r.insert("similarity".into(), json!(face::similarity(d)));
                    results.push(Value::Object(r));
                }
            }
        }
    }
    let detections: Vec<Value> = matched
        .iter()
        .map(|m| {
            let faces: Vec<Value> = m
                .faces
                .iter()
                .enumerate()
                .map(|(i, (f, crop))| {
                    let mut o = Map::new();
                    o.insert("faceIndex".into(), json!(i));
                    o.insert("landmarks".into(), landmarks(f));
                    o.insert("roi".into(), roi(&f.bbox));
                    o.insert("rotationAngle".into(), json!(rotation_angle(f)));
                    if let Some(crop) = crop {
                        o.insert("crop".into(), json!(crop));
                    }
                    Value::Object(o)
                })
                .collect();
            let mut o = Map::new();
            o.insert("imageIndex".into(), json!(m.index));
            o.insert("faces".into(), Value::Array(faces));
            o.insert("status".into(), json!(m.status as i32));
            if let Some(msg) = &m.msg {
                o.insert("msg".into(), json!(msg));
            }
            Value::Object(o)
        })
        .collect();
    // Every comparison made is a success; with none, the first image's problem is the answer.
    let failed = matched.iter().find(|m| m.status != Code::Ok);
    let (code, msg) = match failed {
        Some(m) if results.is_empty() => (m.status, m.msg.clone()),
        _ => (Code::Ok, None),
    };
    let mut body = Map::new();
    body.insert("code".into(), json!(code as i32));
    if let Some(msg) = msg {
        body.insert(
            "msg".into(),
            json!(format!("image {}: {msg}", failed.map_or(0, |m| m.index))),
        );
    }
    body.insert("detections".into(), Value::Array(detections));
    body.insert("results".into(), Value::Array(results));
    body.insert("elapsedTime".into(), json!(elapsed_ms(started)));
    body.insert("metadata".into(), json!({}));
    Json(Value::Object(body)).into_response()
}

/// Decodes one image of a match and describes its face (the most central one, or every face
/// with `detectAll`). The decoded image is dropped before the next one is decoded.
fn match_image(engine: &Engine, image: MatchImage, index: i64, crop: Option<CropSpec>) -> Matched {
    let mut out = Matched {
        index,
        kind: image.kind,
        status: Code::Ok,
        msg: None,
        faces: Vec::new(),
    };
    let started = Instant::now();
    let picture = match decode_image(image.data.as_deref(), engine.settings.max_pixels) {
        Ok(p) => p,
        Err(problem) => {
            out.status = problem.code;
            out.msg = Some(problem.msg);
            return out;
        }
    };
    drop(image.data);
    let decoded = elapsed_ms(started);
    let boxes = engine.faces.detect(&picture);
    tracing::debug!(
        index,
        width = picture.width(),
        height = picture.height(),
        faces = boxes.len(),
        decode_ms = decoded,
        detect_ms = elapsed_ms(started) - decoded,
        "match image"
    );
    let chosen: Vec<FaceBox> = if image.detect_all {
        boxes
    } else {
        central_face(&picture, &boxes)
            .map(|i| boxes[i])
            .into_iter()
            .collect()
    };
    if chosen.is_empty() {
        out.status = Code::FaceNotDetected;
        out.msg = Some("no face was found in the image".into());
        return out;
    }
    out.faces = engine
        .faces
        .describe(&picture, &chosen)
        .into_iter()
        .map(|f| {
            let c = crop
                .map(|c| jpeg_base64(&face::aligned_crop(&picture, &f, c.aspect, c.pad, c.size)));
            (f, c)
        })
        .collect();
    tracing::debug!(
        index,
        total_ms = elapsed_ms(started),
        "match image described"
    );
    out
}

// ---- POST /api/detect ---------------------------------------------------------------------

/// `DetectRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetectRequest {
    image: Option<String>,
    #[serde(default)]
    process_param: ProcessParam,
}

/// `ProcessParam` (the parts this engine acts on).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProcessParam {
    scenario: Option<String>,
    only_central_face: Option<bool>,
    #[serde(default)]
    output_image_params: OutputImageParams,
}

async fn detect(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let job = match Job::start(&engine, &parts).await {
        Ok(job) => job,
        Err(e) => return e.into_response(),
    };
    let request: DetectRequest = match job.read_json(body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let scenario = request.process_param.scenario.clone().unwrap_or_default();
    let crop = CropSpec::from_params(&request.process_param.output_image_params).or(matches!(
        scenario.as_str(),
        "CropCentralFace" | "CropAllFaces" | "Thumbnail"
    )
    .then(CropSpec::default_crop));
    let only_central = match scenario.as_str() {
        "CropCentralFace" | "Thumbnail" => true,
        "CropAllFaces" => false,
        _ => request.process_param.only_central_face.unwrap_or(false),
    };
    let outcome = job
        .run(move |engine| {
            let picture = decode_image(request.image.as_deref(), engine.settings.max_pixels)?;
            drop(request.image);
            let boxes = engine.faces.detect(&picture);
            let count = boxes.len();
            let chosen: Vec<FaceBox> = if only_central {
                central_face(&picture, &boxes)
                    .map(|i| boxes[i])
                    .into_iter()
                    .collect()
            } else {
                boxes
            };
            let detections: Vec<Value> = engine
                .faces
                .describe(&picture, &chosen)
                .iter()
                .map(|f| {
                    let quality = face::presentation_quality(&picture, f.bbox, count);
                    let mut o = Map::new();
                    if let Some(c) = crop {
                        o.insert(
                            "crop".into(),
                            json!(jpeg_base64(&face::aligned_crop(
                                &picture, f, c.aspect, c.pad, c.size
                            ))),
                        );
                    }
                    o.insert("landmarks".into(), landmarks(f));
                    o.insert("roi".into(), roi(&f.bbox));
                    o.insert("rotationAngle".into(), json!(rotation_angle(f)));
                    o.insert(
                        "presentationQuality".into(),
                        presentation_quality_json(&quality),
                    );
                    Value::Object(o)
                })
                .collect();
            Ok::<_, ImageProblem>(detections)
        })
        .await;
    let (code, msg, detections) = match outcome {
        Err(e) => return e.into_response(),
        Ok(Err(problem)) => (problem.code, Some(problem.msg), Vec::new()),
        Ok(Ok(d)) if d.is_empty() => (
            Code::FaceNotDetected,
            Some("no face was found in the image".into()),
            d,
        ),
        Ok(Ok(d)) => (Code::Ok, None, d),
    };
    let mut results = Map::new();
    results.insert("detections".into(), Value::Array(detections));
    results.insert("scenario".into(), json!(scenario));
    results.insert("elapsedTime".into(), json!(elapsed_ms(started)));
    let mut body = Map::new();
    body.insert("code".into(), json!(code as i32));
    if let Some(msg) = msg {
        body.insert("msg".into(), json!(msg));
    }
    body.insert("results".into(), Value::Object(results));
    Json(Value::Object(body)).into_response()
}

/// The presentation-quality signal as JSON: `passed`, `failed` (names), and each property
/// with its `value`, `range` (`null` for an open end) and `passed`. Not liveness detection.
fn presentation_quality_json(q: &face::PresentationQuality) -> Value {
    let mut o = Map::new();
    o.insert("passed".into(), json!(q.passed()));
    o.insert("failed".into(), json!(q.failed()));
    for (name, m) in q.measures() {
        let value = (m.value * 10_000.0).round() / 10_000.0;
        o.insert(
            name.into(),
            json!({ "value": value, "range": [m.min, m.max], "passed": m.passed() }),
        );
    }
    o.insert(
        "note".into(),
        json!("capture quality only; this is not liveness detection or anti-spoofing"),
    );
    Value::Object(o)
}
