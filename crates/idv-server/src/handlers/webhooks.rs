//! `/api/webhooks`: endpoints that receive session events, their secrets, and the server's
//! Ed25519 public key.

use super::Caller;
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::webhooks;
use crate::state::AppState;
use crate::webhooks::keys;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use idv_core::ErrorCode;
use serde_json::{Value, json};

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body, _): JsonBody<Value>,
) -> ApiResult<(StatusCode, Extension<Note>, Json<Value>)> {
    let input = webhooks::parse_input(body)?;
    let w = webhooks::create(&state, Some(&caller.id), input).await?;
    Ok((
        StatusCode::CREATED,
        Extension(Note::target(&w.id)),
        Json(webhooks::view_with_secret(&w)),
    ))
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let all = webhooks::list(&state).await?;
    Ok(Json(json!({
        "items": all.iter().map(webhooks::view).collect::<Vec<_>>(),
        "total": all.len(),
    })))
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(webhooks::view(&webhooks::get(&state, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body, _): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let input = webhooks::parse_input(body)?;
    Ok(Json(webhooks::view(
        &webhooks::update(&state, &id, input).await?,
    )))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body, _): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let overlap = match body.get("overlapSeconds") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("overlapSeconds must be a whole number of seconds, not {v}"),
            )
        })?),
    };
    if let Some(other) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "overlapSeconds"))
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("unknown field `{other}`; the body is {{\"overlapSeconds\": N}} or empty"),
        ));
    }
    let w = webhooks::rotate_secret(&state, &id, overlap).await?;
    Ok(Json(webhooks::view_with_secret(&w)))
}

pub async fn signing_key(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let key = keys::server_key(&state).await?;
    Ok(Json(json!({
        "algorithm": "ed25519",
        "signatureVersion": "v1a",
        "publicKey": key.public_text(),
    })))
}
