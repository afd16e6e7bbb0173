//! `GET /api/sessions/{id}/export`: the session's archive (see [`crate::ops::exchange`]). The
//! zip is written to an unnamed temporary file first (its central directory needs the sizes
//! and hashes of everything before it), then streamed out from there; the file is gone when
//! the response ends.

use super::Caller;
use crate::error::ApiResult;
use crate::ops::{exchange, sessions};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio_util::io::ReaderStream;

pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (s, files) = sessions::read_for(&state, &caller, &id).await?;
    let (file, len) = exchange::export_to_file(&state, &s, &files).await?;
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // The id is 24 hex characters (read_for checked it), so the header value is plain ASCII.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        exchange::archive_name(&s.id)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
