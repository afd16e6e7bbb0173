//! HTTP rendering of the error catalogue: `{"error": {"code", "message", "details"?, "requestId"?}}`
//! with the catalogue's status. Storage and blob failures become 500s that are logged with the
//! request id the client also sees; their internals are never sent to the client.

use crate::api::common::{ErrorBody, ErrorDetail};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idv_core::{Error, ErrorCode};
use idv_store::StoreError;
use idv_store::blobs::BlobError;

/// An error as a handler returns it.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Error::new(code, message))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { message: what, .. } => ApiError::new(
                ErrorCode::SessionConflict,
                format!("already exists: {what}"),
            ),
            // Input should be refused before it reaches the database (the route guard checks
            // parameters, the JSON reader bodies); this is the backstop, so it is logged.
            StoreError::Invalid { message: msg, .. } => {
                tracing::warn!(error = %msg, "the database refused a value of the request");
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "a value of this request cannot be stored (for example text holding a NUL \
                     character); remove it and send the request again",
                )
            }
            StoreError::Backend { message: msg, .. } => {
                crate::metrics::storage_error(crate::metrics::Storage::Database);
                tracing::error!(error = %msg, "database error");
                ApiError::new(
                    ErrorCode::Internal,
                    "the database failed; the error is logged with this request id",
                )
            }
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound(_) => ApiError::new(
                ErrorCode::FileNotFound,
                "the file's bytes are missing from storage",
            ),
            BlobError::TooLarge(limit) => ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the upload is larger than services.api.maxBodySize ({limit} bytes)"),
            ),
            BlobError::Source(msg) => ApiError::new(
                ErrorCode::InvalidRequest,
                format!("reading the request body failed: {msg}"),
            ),
            BlobError::Backend(msg) => {
                crate::metrics::storage_error(crate::metrics::Storage::Files);
                tracing::error!(error = %msg, "file storage error");
                ApiError::new(
                    ErrorCode::StorageUnavailable,
                    "file storage failed or cannot be reached; nothing was changed, try again (the error is logged with this request id)",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: e.code.as_str(),
                message: &e.message,
                details: e.details.as_ref(),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}
