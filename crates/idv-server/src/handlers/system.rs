//! Health, readiness and the API description.

use crate::api::system::{Health, Ready, Status};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

pub async fn health() -> Json<Health> {
    Json(Health { status: Status::Ok })
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let (code, status) = match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Status::Ok),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Status::Unavailable)
        }
    };
    let database = state.store.backend().to_string();
    (code, Json(Ready { status, database }))
}

pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(crate::openapi::document(&state.base_url))
}
