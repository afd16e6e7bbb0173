//! Request and response bodies: liveness and readiness.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/health` | — | 200 [`Health`] |
//! | `GET /api/ready` | — | 200 [`Ready`] (`ok`), 503 [`Ready`] (`unavailable`, `failing` names why) |
//! | `GET /api/openapi.json` | — | 200 the OpenAPI 3.1 document ([`document_schema`]) |

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// Whether the server (or its database) answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Unavailable,
}

/// Liveness: the process serves requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: Status,
}

/// Readiness: whether the database and file storage answer, and the server is not stopping.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ok` when every check passed and the server is not stopping.
    pub status: Status,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub checks: ReadyChecks,
    /// What failed: `database`, `storage`, `shutdown` (the server is stopping). Empty when
    /// ready.
    pub failing: Vec<String>,
}

/// Each check of the readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyChecks {
    /// A trivial query.
    pub database: ReadyCheck,
    /// A look-up of one object in file storage.
    pub storage: ReadyCheck,
}

/// One readiness check.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadyCheck {
    pub status: Status,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
    /// Why it failed (the details are in the server's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The schema of `GET /api/openapi.json`: an OpenAPI 3.1 document (its own schema is the
/// OpenAPI specification's; here only its required top-level fields).
pub fn document_schema(_: &mut super::Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("openapi", ObjectBuilder::new().schema_type(Type::String))
        .property("info", ObjectBuilder::new().schema_type(Type::Object))
        .property("paths", ObjectBuilder::new().schema_type(Type::Object))
        .required("openapi")
        .required("info")
        .required("paths")
        .description(Some("An OpenAPI 3.1 document (this one)"))
        .build()
        .into()
}
