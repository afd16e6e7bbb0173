//! Health, readiness and the API description.

use crate::api::system::{Health, Ready, ReadyCheck, ReadyChecks, Status};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

pub async fn health() -> Json<Health> {
    Json(Health { status: Status::Ok })
}

/// How long each readiness check may take.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// An object name no file has, in the sessions location (which every storage configuration
/// has): the storage check looks it up (a HEAD on object stores).
const PROBE_KEY: &str = "sessions/.idv-ready-probe";

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let (database, storage) = tokio::join!(
        check("database", state.store.ping()),
        check("storage", async {
            state.blobs.exists(PROBE_KEY).await.map(drop)
        }),
    );
    let mut failing = Vec::new();
    for (name, c) in [("database", &database), ("storage", &storage)] {
        if c.status != Status::Ok {
            failing.push(name.to_string());
        }
    }
    if state.draining.is_cancelled() {
        failing.push("shutdown".to_string());
    }
    let (code, status) = if failing.is_empty() {
        (StatusCode::OK, Status::Ok)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Status::Unavailable)
    };
    let database_name = state.store.backend().to_string();
    (
        code,
        Json(Ready {
            status,
            database: database_name,
            checks: ReadyChecks { database, storage },
            failing,
        }),
    )
}

/// Runs one check within [`CHECK_TIMEOUT`]; a failure is logged with its details, and answered
/// without them (the route is public).
async fn check<E: std::fmt::Display>(
    name: &str,
    run: impl std::future::Future<Output = Result<(), E>>,
) -> ReadyCheck {
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, run).await;
    let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(check = name, error = %e, "readiness check failed");
            Some(format!(
                "the {name} check failed; the server's log has the error"
            ))
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            Some(format!(
                "the {name} check took over {} s",
                CHECK_TIMEOUT.as_secs()
            ))
        }
    };
    ReadyCheck {
        status: if error.is_none() {
            Status::Ok
        } else {
            Status::Unavailable
        },
        took_ms,
        error,
    }
}

pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(crate::openapi::document(&state.base_url))
}
