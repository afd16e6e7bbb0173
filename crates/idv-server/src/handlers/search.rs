//! `POST /api/sessions/search`.

use super::Caller;
use crate::body::Checked;
use crate::error::ApiResult;
use crate::ops::search::{self, Paging, SearchAnswer};
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use idv_core::search::SearchRequest;

pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    Checked(request): Checked<SearchRequest>,
) -> ApiResult<Json<SearchAnswer>> {
    let q = query.unwrap_or_default();
    let paging = Paging {
        limit: query_param(&q, "limit"),
        skip: query_param(&q, "skip"),
        after: query_param(&q, "after"),
    };
    Ok(Json(
        search::search(&state, &caller, request, &paging).await?,
    ))
}
