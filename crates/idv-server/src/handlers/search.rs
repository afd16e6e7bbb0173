//! `POST /api/sessions/search`.

use super::Caller;
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::ops::search::{self, Paging, SearchAnswer};
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::Value;

pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    JsonBody(body, _): JsonBody<Value>,
) -> ApiResult<Json<SearchAnswer>> {
    let q = query.unwrap_or_default();
    let paging = Paging {
        limit: query_param(&q, "limit"),
        skip: query_param(&q, "skip"),
        after: query_param(&q, "after"),
    };
    Ok(Json(search::search(&state, &caller, &body, &paging).await?))
}
