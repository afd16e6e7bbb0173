//! `/api/sessions`: start, read, review (`PATCH`), delete, and the step endpoint (data and file
//! uploads).

use super::Caller;
use crate::api::sessions::{StepAnswer, UploadedFiles};
use crate::body::{Checked, JsonBody, is_json_type, media_type};
use crate::error::{ApiError, ApiResult};
use crate::ops::sessions::{self, StartInput};
use crate::ops::uploads::{Staged, Upload};
use crate::ops::{deletion, review};
use crate::params::Query;
use crate::state::AppState;
use axum::Json;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use idv_core::ErrorCode;
use idv_store::SessionId;
use idv_store::blobs::BlobError;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    workflow_id: Option<String>,
}

pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StartQuery>,
    JsonBody(input, _): JsonBody<StartInput>,
) -> ApiResult<Response> {
    let wid = q.workflow_id.filter(|w| !w.is_empty()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "name the workflow: POST /api/sessions?workflowId=<id>",
        )
    })?;
    let s = sessions::start(&state, &caller, &wid, input).await?;
    Ok(Json(sessions::view(&state, &s, &[]).await?).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (s, texts, files) = sessions::read_text_for(&state, &caller, &id).await?;
    let mut resp =
        Json(sessions::view_text(&state, &s, texts.as_ref(), &files).await?).into_response();
    with_etag(&mut resp, &s);
    Ok(resp)
}

/// The session's revision as its `ETag`, for `If-Match` on `PATCH`.
fn with_etag(resp: &mut Response, s: &idv_store::SessionRecord) {
    if let Ok(v) = HeaderValue::from_str(&review::etag(s)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
}

/// `PATCH /api/sessions/{id}`: `{"status", "comment", "legalHold"}`, optionally guarded by
/// `If-Match`; answers the session as written, with its new `ETag`.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Checked(input): Checked<review::ReviewInput>,
) -> ApiResult<Response> {
    let if_match = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                "If-Match must be an ETag such as \"7\" (from GET /api/sessions/{id})",
            )
        })?),
    };
    let s = review::review(&state, &caller, &id, &input, if_match).await?;
    let files = state.store.file_list(SessionId::new(&s.id)).await?;
    let mut resp = Json(sessions::view(&state, &s, &files).await?).into_response();
    with_etag(&mut resp, &s);
    Ok(resp)
}

#[derive(Deserialize)]
pub struct DeleteQuery {
    reason: Option<String>,
}

/// `DELETE /api/sessions/{id}[?reason=...]`: 204 when the session is deleted now or was before.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    deletion::delete(&state, &caller, &id, q.reason.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct StepQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    property: Option<String>,
    name: Option<String>,
}

/// The query of `GET /api/sessions/{id}/step`.
#[derive(serde::Deserialize)]
pub struct CurrentQuery {
    locale: Option<String>,
}

pub async fn current(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<CurrentQuery>,
) -> ApiResult<Json<crate::api::sessions::CurrentStep>> {
    Ok(Json(
        sessions::current(&state, &caller, &id, q.locale.as_deref()).await?,
    ))
}

pub async fn handoff(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let png = sessions::handoff(&state, &caller, &id, auth).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

pub async fn step(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, step)): Path<(String, String)>,
    Query(q): Query<StepQuery>,
    req: Request,
) -> ApiResult<Response> {
    let mt = media_type(req.headers());
    let kind = match q.kind.as_deref() {
        Some(k) => k.to_string(),
        None if mt.as_deref().is_none_or(is_json_type) => "data".into(),
        None => "file".into(),
    };
    match kind.as_str() {
        "data" => {
            let JsonBody(data, raw) = JsonBody::<Value>::from_request(req, &state).await?;
            let next = sessions::submit_data(&state, &caller, &id, &step, raw, data).await?;
            Ok(Json(StepAnswer::Step(next)).into_response())
        }
        "file" => upload(&state, &caller, &id, &step, q, mt, req).await,
        other => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("unknown step submission type `{other}`; use type=data or type=file"),
        )),
    }
}

/// A file upload to the step: every part of a multipart body, or the raw body, is streamed to
/// storage as it arrives; the rows are written once the whole body is read, all in one
/// transaction, or none of them (see [`crate::ops::uploads`]).
async fn upload(
    state: &AppState,
    caller: &Caller,
    id: &str,
    step: &str,
    q: StepQuery,
    mt: Option<String>,
    req: Request,
) -> ApiResult<Response> {
    let limit = state.config.services.api.max_body_size.0;
    // An announced length over the limit is refused before anything is read or stored.
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large(limit));
    }
    let (session, wf, _) = sessions::addressed_step(state, caller, id, step).await?;
    if let Some(p) = &q.property {
        sessions::check_property(&wf, p)?;
    }
    let mut staged = Staged::new(state);
    let received = if mt.as_deref() == Some("multipart/form-data") {
        receive_parts(state, &session, &wf, step, &q, req, &mut staged).await
    } else {
        let content_type = mt.unwrap_or_else(|| "application/octet-stream".into());
        let body = req
            .into_body()
            .into_data_stream()
            .map_err(|e| e.to_string());
        let upload = Upload {
            name: q.name.clone().unwrap_or_else(|| "upload".into()),
            content_type,
            property: q.property.clone(),
            body,
        };
        staged
            .put(&session, step, upload, limit)
            .await
            .map_err(ApiError::from)
    };
    if let Err(e) = received {
        staged.discard().await;
        return Err(e);
    }
    let stored = staged.commit(state, id).await?;
    let files = stored
        .iter()
        .map(|f| sessions::file_view(state, f))
        .collect();
    Ok(Json(StepAnswer::Files(UploadedFiles { files })).into_response())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than services.api.maxBodySize ({limit} bytes)"),
    )
}

/// The error for a multipart body the parser refused: over the size limit (413) or malformed.
fn multipart_error(e: &MultipartError, limit: u64, part: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit);
    }
    ApiError::new(
        ErrorCode::InvalidMultipart,
        format!("bad multipart body at part {part}: {}", e.body_text()),
    )
}

/// Stages every part of a multipart body (each part is a file), refusing the body at the first
/// bad part. Parts are counted against `services.api.maxUploadParts`; their total size is
/// bounded by `services.api.maxBodySize` through the body limit.
async fn receive_parts(
    state: &AppState,
    session: &idv_store::SessionRecord,
    wf: &idv_core::workflow::Workflow,
    step: &str,
    q: &StepQuery,
    req: Request,
    staged: &mut Staged,
) -> ApiResult<()> {
    let limit = state.config.services.api.max_body_size.0;
    let max_parts = state.config.services.api.max_upload_parts as usize;
    let mut form = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidMultipart,
            format!("bad multipart body: {}", e.body_text()),
        )
    })?;
    let mut part = 0;
    loop {
        part += 1;
        let field = form
            .next_field()
            .await
            .map_err(|e| multipart_error(&e, limit, part))?;
        let Some(field) = field else { break };
        if part > max_parts {
            return Err(ApiError(
                idv_core::Error::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the multipart body holds more than {max_parts} parts \
                         (services.api.maxUploadParts); send the files in several requests"
                    ),
                )
                .with_details(json!({"limit": "services.api.maxUploadParts", "max": max_parts})),
            ));
        }
        let field_name = field.name().unwrap_or("").to_string();
        // Part names are matched against property names and never stored as given; one with
        // a control character is a broken client, told so rather than guessed at.
        if field_name.chars().any(char::is_control) {
            return Err(ApiError::new(
                ErrorCode::InvalidMultipart,
                format!(
                    "part {part}: its name holds a control character; name parts with printable text"
                ),
            ));
        }
        // A part named after a binary property fills it; otherwise ?property= does.
        let property = if wf.property_type(&field_name).is_some() {
            sessions::check_property(wf, &field_name)?;
            Some(field_name.clone())
        } else {
            q.property.clone()
        };
        // The file name is cleaned (no path, no control characters) when the file is staged.
        let name = field
            .file_name()
            .map(str::to_string)
            .unwrap_or_else(|| field_name.clone());
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        if content_type.chars().any(char::is_control) {
            return Err(ApiError::new(
                ErrorCode::InvalidMultipart,
                format!("part {part}: its Content-Type holds a control character"),
            ));
        }
        // The parser's error is kept to tell a body over the limit from a malformed one.
        let refused = std::sync::Mutex::new(None::<ApiError>);
        let body = field.map_err(|e| {
            let text = e.body_text();
            if let Ok(mut r) = refused.lock() {
                *r = Some(multipart_error(&e, limit, part));
            }
            text
        });
        let upload = Upload {
            name,
            content_type,
            property,
            body,
        };
        match staged.put(session, step, upload, limit).await {
            Ok(()) => {}
            Err(BlobError::Source(msg)) => {
                return Err(refused.into_inner().ok().flatten().unwrap_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidMultipart,
                        format!("bad multipart body at part {part}: {msg}"),
                    )
                }));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if staged.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidMultipart,
            "the multipart body holds no file parts",
        ));
    }
    Ok(())
}
