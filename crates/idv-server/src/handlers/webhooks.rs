//! `/api/webhooks`: endpoints that receive session events, their secrets, and the server's
//! Ed25519 public key.

use super::Caller;
use crate::api::webhooks::{
    RotateSecretInput, SigningKey, WebhookInput, WebhookList, WebhookView, WebhookWithSecret,
};
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::ops::webhooks;
use crate::state::AppState;
use crate::webhooks::keys;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<WebhookInput>,
) -> ApiResult<(StatusCode, Extension<Note>, Json<WebhookWithSecret>)> {
    let w = webhooks::create(&state, Some(&caller.id), input).await?;
    Ok((
        StatusCode::CREATED,
        Extension(Note::target(&w.id)),
        Json(webhooks::view_with_secret(&w)),
    ))
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<WebhookList>> {
    let all = webhooks::list(&state).await?;
    Ok(Json(WebhookList {
        items: all.iter().map(webhooks::view).collect(),
        total: all.len(),
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(webhooks::view(&webhooks::get(&state, &id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input, _): JsonBody<WebhookInput>,
) -> ApiResult<Json<WebhookView>> {
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

pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input, _): JsonBody<RotateSecretInput>,
) -> ApiResult<Json<WebhookWithSecret>> {
    let w = webhooks::rotate_secret(&state, &id, input.overlap_seconds).await?;
    Ok(Json(webhooks::view_with_secret(&w)))
}

pub(crate) async fn signing_key(State(state): State<AppState>) -> ApiResult<Json<SigningKey>> {
    let key = keys::server_key(&state).await?;
    Ok(Json(SigningKey {
        algorithm: "ed25519".into(),
        signature_version: "v1a".into(),
        public_key: key.public_text(),
    }))
}
