//! Request and response bodies: liveness and readiness.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/health` | — | 200 [`Health`] |
//! | `GET /api/ready` | — | 200 [`Ready`] (`ok`), 503 [`Ready`] (`unavailable`) |
//! | `GET /api/openapi.json` | — | 200 the OpenAPI 3.1 document |

use serde::Serialize;
use utoipa::ToSchema;

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

/// Readiness: whether the database answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub status: Status,
    /// `sqlite` or `postgres`.
    pub database: String,
}
