//! `/api/apikey` (and the `/api/security/apikey` alias).

use super::Caller;
use crate::api::accounts::{ApiKeyInput, ApiKeyView};
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::ops::apikeys;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use idv_core::permission::Op;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<ApiKeyInput>,
) -> ApiResult<(Extension<Note>, Json<ApiKeyView>)> {
    let (key, token) = apikeys::create(
        &state,
        Some(&caller),
        &input.name,
        input.ttl,
        &input.permissions,
    )
    .await?;
    Ok((
        Extension(Note::target(&key.id)),
        Json(ApiKeyView::of(&key, Some(token))),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    let keys = apikeys::list(&state, &caller).await?;
    Ok(Json(keys.iter().map(|k| ApiKeyView::of(k, None)).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyView>> {
    let key = apikeys::get_for(&state, &caller, &id, Op::Read).await?;
    Ok(Json(ApiKeyView::of(&key, None)))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKeyView>> {
    let mut key = apikeys::get_for(&state, &caller, &id, Op::Delete).await?;
    let at = apikeys::revoke(&state, &key.id).await?;
    key.revoked_at = key.revoked_at.or(Some(at));
    Ok(Json(ApiKeyView::of(&key, None)))
}
