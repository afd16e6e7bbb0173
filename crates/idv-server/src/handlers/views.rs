//! `/api/views/namespaces/{namespace}` and `/api/views/namespaces/{namespace}/key/{key}`.

use super::Caller;
use crate::api::views::ViewList;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::views;
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use serde_json::Value;

fn number(q: &str, name: &str, default: i64, max: i64) -> ApiResult<i64> {
    match query_param(q, name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(t) => match t.parse::<i64>() {
            Ok(n) if (0..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("`{name}` must be an integer from 0 to {max}, not `{t}`"),
            )),
        },
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let q = query.unwrap_or_default();
    let limit = number(&q, "limit", views::DEFAULT_LIMIT, views::MAX_LIMIT)?;
    let skip = number(&q, "skip", 0, i64::from(i32::MAX))?;
    let (items, total) = views::list(&state, Some(&caller), &namespace, limit, skip).await?;
    Ok(Json(ViewList {
        items: items.iter().map(views::item).collect(),
        total,
    })
    .into_response())
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let v = views::get(&state, Some(&caller), &namespace, &key).await?;
    Ok(Json(views::item(&v)).into_response())
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
    JsonBody(value, _): JsonBody<Value>,
) -> ApiResult<Response> {
    let v = views::put(&state, Some(&caller), &namespace, &key, value).await?;
    Ok(Json(views::item(&v)).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((namespace, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let v = views::delete(&state, Some(&caller), &namespace, &key).await?;
    Ok(Json(views::item(&v)).into_response())
}
