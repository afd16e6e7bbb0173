//! Session search (`POST /api/sessions/search`): checks the body and the paging parameters,
//! narrows to the caller's reach (`session_all:read` everyone's sessions, `session:read` its
//! own), runs one store query and shapes the summaries.
//!
//! Paging: `limit` (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]) and `skip` (at most
//! [`MAX_SKIP`]), and the cursor `after` (the `next` of the previous page) for deep paging
//! without OFFSET. `total` counts every match up to [`COUNT_LIMIT`]; beyond that it is
//! `COUNT_LIMIT` with `totalCapped: true`, so a broad search never counts a million rows.

use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_core::search::{self, Column, SearchRequest, SortKey, SortValue};
use idv_core::workflow::{PropertyType, Workflow};
use idv_store::{SessionQuery, SessionSummary};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 1000;
/// Deeper pages go by the cursor, which costs the same at any depth.
pub const MAX_SKIP: i64 = 100_000;
/// `total` counts at most this many matches.
pub const COUNT_LIMIT: i64 = 10_000;

/// The paging parameters as given in the query string.
#[derive(Debug, Default)]
pub struct Paging {
    pub limit: Option<String>,
    pub skip: Option<String>,
    pub after: Option<String>,
}

fn number(name: &str, text: Option<&str>, default: i64, max: i64, hint: &str) -> ApiResult<i64> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(default);
    };
    match text.parse::<i64>() {
        Ok(n) if (0..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`{name}` must be an integer from 0 to {max}, not `{text}`{hint}"),
        )),
    }
}

/// Runs a search for `by` and answers `{items, total, totalCapped, next}`.
pub async fn search(
    state: &AppState,
    by: &Principal,
    body: &Value,
    paging: &Paging,
) -> ApiResult<Value> {
    let reach = by
        .reach("session_all", "session", Op::Read)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Forbidden,
                "searching sessions needs session:read or session_all:read",
            )
        })?;
    let limit = number(
        "limit",
        paging.limit.as_deref(),
        DEFAULT_LIMIT,
        MAX_LIMIT,
        "",
    )?;
    let skip = number(
        "skip",
        paging.skip.as_deref(),
        0,
        MAX_SKIP,
        "; page deeper with `after` (the `next` of the previous page)",
    )?;
    let request = SearchRequest::parse(body)?;
    let after = match paging.after.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(search::decode_cursor(&request.sort, c)?),
        _ => None,
    };
    let query = SessionQuery {
        filter: request.filter.clone(),
        workflows: request.workflows.clone(),
        owner_id: (reach == Reach::Own).then(|| by.id.clone()),
        sort: request.sort.clone(),
        after,
        skip,
        // One more than asked: its presence says whether there is a next page.
        limit: limit + 1,
        count_limit: COUNT_LIMIT,
    };
    let mut page = state.store.session_search(&query).await?;
    let more = page.items.len() as i64 > limit;
    page.items.truncate(limit as usize);
    let next = match page.items.last() {
        Some(last) if more => Some(search::encode_cursor(
            &request.sort,
            &cursor_values(&request.sort, last),
        )),
        _ => None,
    };
    // Workflow revisions looked up once per search (a missing one too: its sessions then
    // show no view block, and the store is not asked again for every row).
    let mut workflows: HashMap<(String, i64), Option<Arc<Workflow>>> = HashMap::new();
    let mut items = Vec::with_capacity(page.items.len());
    for s in &page.items {
        let key = (s.workflow_id.clone(), s.workflow_revision);
        let workflow = match workflows.get(&key) {
            Some(w) => w.clone(),
            None => {
                let w = state
                    .workflows
                    .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
                    .await
                    .ok();
                workflows.insert(key, w.clone());
                w
            }
        };
        items.push(summary(state, s, workflow, &request.properties));
    }
    Ok(json!({
        "items": items,
        "total": page.total.min(COUNT_LIMIT),
        "totalCapped": page.total > COUNT_LIMIT,
        "next": next,
    }))
}

fn cursor_values(sort: &[SortKey], s: &SessionSummary) -> Vec<SortValue> {
    sort.iter()
        .map(|k| match k.column {
            Column::Id => SortValue::Text(s.id.clone()),
            Column::WorkflowId => SortValue::Text(s.workflow_id.clone()),
            Column::Status => SortValue::Int(s.status),
            Column::CreatedAt => SortValue::Int(s.created_at),
            Column::UpdatedAt => SortValue::Int(s.updated_at),
        })
        .collect()
}

/// A session summary: the session's own fields, the requested property columns (binary ones
/// as `{fileId, url}`, like the session JSON) and the workflow's `view` block when it has one.
fn summary(
    state: &AppState,
    s: &SessionSummary,
    workflow: Option<Arc<Workflow>>,
    columns: &[String],
) -> Value {
    let base = crate::ops::sessions::file_url(state, &s.id, "");
    let empty = Map::new();
    let props = s.properties.as_object().unwrap_or(&empty);
    let mut picked = Map::new();
    for c in columns {
        if let Some(v) = props.get(c) {
            let binary = workflow
                .as_ref()
                .is_some_and(|w| w.property_type(c) == Some(PropertyType::Binary));
            let shown = match v {
                Value::String(fid) if binary => {
                    json!({"fileId": fid, "url": format!("{base}{fid}")})
                }
                other => other.clone(),
            };
            picked.insert(c.clone(), shown);
        }
    }
    let mut out = json!({
        "id": s.id,
        "workflow": {"id": s.workflow_id, "name": s.workflow_name, "version": s.workflow_version},
        "status": s.status,
        "createdAt": idv_core::time::iso(s.created_at),
        "updatedAt": idv_core::time::iso(s.updated_at),
        "currentStep": s.current_step,
        "ended": s.ended,
        "metadata": s.metadata,
        "properties": picked,
    });
    if let Some(view) = workflow
        .and_then(|w| w.view_summary(props))
        .map(|v| crate::flow::with_urls(&v, &base))
    {
        out["view"] = view;
    }
    out
}
