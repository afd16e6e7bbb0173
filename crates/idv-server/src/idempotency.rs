//! `Idempotency-Key` on creating `POST`s (every POST route but login, refresh, logout, search
//! and the service gateways; each route's row in [`crate::routes::table`] says whether it
//! applies): the first successful answer (status, `Content-Type`, body) is
//! kept for 24 hours under the caller (principal id; the client address on public routes) and
//! the key, with the SHA-256 of method, path, query and body. A retry with the same key:
//!
//! - and the same request gets the stored answer again, with `Idempotent-Replayed: true`;
//! - and a different request is refused, 422 `idempotency_key_reused`;
//! - while the first is still running is refused, 409 `idempotency_in_progress` (a first
//!   request whose process died stops counting as running after [`RUNNING_LEASE_MS`]).
//!
//! Only 2xx answers are kept: after a failure the same key may be tried again. A key is 1 to
//! 255 printable ASCII characters, else 400 `invalid_idempotency_key`. Bodies are hashed in
//! memory, so only requests whose body is at most [`MAX_BODY`] bytes are idempotent: a larger
//! upload runs as if it carried no key (the answer then has no `Idempotent-Replayed` and is not
//! kept). Expired keys are deleted by the internal scheduled job `idempotencyCleanup`.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use idv_core::ErrorCode;
use idv_store::IdempotencyRecord;
use sha2::{Digest, Sha256};

pub(crate) const HEADER: &str = "idempotency-key";
pub(crate) const REPLAYED: &str = "idempotent-replayed";
/// Request bodies up to this size are idempotent.
pub(crate) const MAX_BODY: usize = 1 << 20;
/// Answers up to this size are kept (creating routes answer small JSON documents).
pub(crate) const MAX_ANSWER: usize = 16 << 20;
/// How long a key is kept.
pub(crate) const KEEP_MS: i64 = 24 * 3600 * 1000;
/// How long a first request counts as running without finishing.
pub(crate) const RUNNING_LEASE_MS: i64 = 10 * 60 * 1000;

/// The hash a retry must match: method, path, query and body, each length-prefixed.
pub fn request_hash(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), query.as_bytes(), body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

fn valid_key(v: &HeaderValue) -> ApiResult<String> {
    let bytes = v.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            "the Idempotency-Key header must be 1 to 255 printable ASCII characters (a UUID is a good choice)",
        ));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Reads up to [`MAX_BODY`] bytes of `body`: `Ok(bytes)` when that is all of it, else
/// `Err(body)` with the same bytes still to come.
async fn buffer_small(body: Body) -> Result<Result<Bytes, Body>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("cannot read the request body: {e}"),
            )
        })?;
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_BODY {
            let head = futures::stream::once(async move { Ok::<_, axum::Error>(buf.freeze()) });
            return Ok(Err(Body::from_stream(head.chain(stream))));
        }
    }
    Ok(Ok(buf.freeze()))
}

/// Runs `req` under its `Idempotency-Key`, if it has one. `owner` is whose keys these are.
pub async fn run(state: &AppState, owner: &str, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match valid_key(raw) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match buffer_small(body).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(body)) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => return e.into_response(),
    };
    let hash = request_hash(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &bytes,
    );
    let now = state.clock.now_ms();
    let record = IdempotencyRecord {
        owner: owner.to_owned(),
        key: key.clone(),
        request_hash: hash.clone(),
        status: None,
        content_type: None,
        body: None,
        locked_until: now + RUNNING_LEASE_MS,
        created_at: now,
        expires_at: now + KEEP_MS,
    };
    match state.store.idempotency_begin(&record, now).await {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Some(stored)) if stored.request_hash != hash => ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            format!(
                "Idempotency-Key `{key}` was used for a different request (method, path, query or body differ); use a new key for a new request"
            ),
        )
        .into_response(),
        Ok(Some(stored)) => match stored.status {
            None => ApiError::new(
                ErrorCode::IdempotencyInProgress,
                format!(
                    "the first request with Idempotency-Key `{key}` is still running; retry when it has answered"
                ),
            )
            .into_response(),
            Some(status) => replay(status, stored.content_type, stored.body.unwrap_or_default()),
        },
        Ok(None) => {
            let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            keep(state, owner, &key, resp).await
        }
    }
}

fn replay(status: i32, content_type: Option<String>, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut resp = (status, body).into_response();
    resp.headers_mut().remove(header::CONTENT_TYPE);
    if let Some(ct) = content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp.headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

/// Stores a 2xx answer under the key (and gives it back); anything else frees the key.
async fn keep(state: &AppState, owner: &str, key: &str, resp: Response) -> Response {
    if !resp.status().is_success() {
        if let Err(e) = state.store.idempotency_abandon(owner, key).await {
            tracing::warn!(error = %e, "cannot free an idempotency key after a failed request");
        }
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER).await {
        Ok(b) => b,
        Err(e) => {
            let _ = state.store.idempotency_abandon(owner, key).await;
            tracing::error!(error = %e, "an answer under an Idempotency-Key could not be read");
            return ApiError::new(
                ErrorCode::Internal,
                "the answer could not be kept for the Idempotency-Key; the request was carried out, do not repeat it blindly",
            )
            .into_response();
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = state
        .store
        .idempotency_complete(
            owner,
            key,
            i32::from(parts.status.as_u16()),
            content_type,
            &bytes,
        )
        .await
    {
        tracing::warn!(error = %e, "cannot store the answer of an idempotent request");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Deletes expired keys (the `idempotencyCleanup` job).
pub(crate) async fn clean_expired(state: &AppState) -> ApiResult<u64> {
    Ok(state
        .store
        .idempotency_delete_expired(state.clock.now_ms())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_hashes() {
        assert!(valid_key(&HeaderValue::from_static("a")).is_ok());
        assert!(valid_key(&HeaderValue::from_static("")).is_err());
        assert!(valid_key(&HeaderValue::from_str(&"k".repeat(255)).unwrap()).is_ok());
        assert!(valid_key(&HeaderValue::from_str(&"k".repeat(256)).unwrap()).is_err());
        assert!(valid_key(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()).is_err());
        assert!(valid_key(&HeaderValue::from_bytes(b"tab\there").unwrap()).is_err());
        let h = request_hash("POST", "/api/x", "a=1", b"{}");
        assert_eq!(h, request_hash("POST", "/api/x", "a=1", b"{}"));
        assert_ne!(h, request_hash("POST", "/api/x", "a=2", b"{}"));
        assert_ne!(h, request_hash("POST", "/api/x", "a=1", b"{ }"));
        // Length prefixes: moving a byte between parts changes the hash.
        assert_ne!(
            request_hash("POST", "/api/xa", "=1", b"{}"),
            request_hash("POST", "/api/x", "a=1", b"{}")
        );
    }
}
