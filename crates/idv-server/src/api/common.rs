//! Request and response bodies shared by every area: the error body.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Every error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// An error of the catalogue: a stable `code`, a message that says what to change, and, for
/// some codes, structured `details` (the problems of a workflow file, a session's tombstone, the
/// violations of step data, …).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// A stable error code such as `session_not_found` or `invalid_request`.
    #[schema(example = "session_not_found")]
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a Value>,
}
