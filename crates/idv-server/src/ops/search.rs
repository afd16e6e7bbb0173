//! Session search (`POST /api/sessions/search`): checks the body and the paging parameters,
//! narrows to the caller's reach (`session_all:read` everyone's sessions, `session:read` its
//! own), runs one store query and shapes the summaries.
//!
//! Paging: `limit` (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]) and `skip` (at most
//! [`MAX_SKIP`]), and the cursor `after` (the `next` of the previous page) for deep paging
//! without OFFSET. `total` counts every match up to [`COUNT_LIMIT`]; beyond that it is
//! `COUNT_LIMIT` with `totalCapped: true`, so a broad search never counts a million rows.

use crate::api::sessions::{self as wire, SearchPage, WorkflowRef};
use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_core::search::{self, Column, SearchRequest, SortKey, SortValue};
use idv_core::workflow::{PropertyType, Workflow};
use idv_store::{SessionQuery, SessionSummary};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 1000;
/// Deeper pages go by the cursor, which costs the same at any depth.
pub(crate) const MAX_SKIP: i64 = 100_000;
/// `total` counts at most this many matches.
pub(crate) const COUNT_LIMIT: i64 = 10_000;

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

impl crate::body::CheckedBody for SearchRequest {
    fn from_json(value: Value) -> ApiResult<Self> {
        Ok(SearchRequest::parse(&value)?)
    }
}

/// Runs a search for `by` and answers `{items, total, totalCapped, next}`.
pub async fn search(
    state: &AppState,
    by: &Principal,
    request: SearchRequest,
    paging: &Paging,
) -> ApiResult<SearchAnswer> {
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
    let mut rows = Vec::with_capacity(page.items.len());
    for s in page.items {
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
        let view = workflow.as_ref().and_then(|w| {
            let props = s.properties.as_object()?;
            let base = crate::ops::sessions::file_url(state, &s.id, "");
            w.view_summary(props)
                .map(|v| crate::flow::with_urls(&v, &base))
        });
        rows.push(Row {
            session: s,
            workflow,
            view,
        });
    }
    Ok(SearchAnswer {
        rows,
        columns: request.properties,
        base_url: state.base_url.clone(),
        total: page.total.min(COUNT_LIMIT),
        capped: page.total > COUNT_LIMIT,
        next,
    })
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

/// One row of the answer: the session, its workflow revision (if still stored) and the
/// workflow's view block over its properties.
pub(crate) struct Row {
    session: SessionSummary,
    workflow: Option<Arc<Workflow>>,
    view: Option<Value>,
}

/// The answer of a search, `{items, total, totalCapped, next}`, serialized straight from the
/// rows (no intermediate JSON tree: building one cost more than the query).
pub struct SearchAnswer {
    rows: Vec<Row>,
    /// The property ids the summaries carry.
    columns: Vec<String>,
    base_url: String,
    total: i64,
    capped: bool,
    next: Option<String>,
}

/// The requested properties of one session, in the order of the columns.
pub struct Picked<'a> {
    row: &'a Row,
    columns: &'a [String],
    base_url: &'a str,
}

impl serde::Serialize for Picked<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let s = &self.row.session;
        let mut map = ser.serialize_map(None)?;
        for c in self.columns {
            let Some(v) = s.properties.get(c) else {
                continue;
            };
            let binary = self
                .row
                .workflow
                .as_ref()
                .is_some_and(|w| w.property_type(c) == Some(PropertyType::Binary));
            match v {
                Value::String(fid) if binary => map.serialize_entry(
                    c,
                    &json!({"fileId": fid,
                            "url": format!("{}/api/sessions/{}/files/{fid}", self.base_url, s.id)}),
                )?,
                other => map.serialize_entry(c, other)?,
            }
        }
        map.end()
    }
}

impl serde::Serialize for SearchAnswer {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let items = self
            .rows
            .iter()
            .map(|row| {
                let s = &row.session;
                wire::SessionSummary {
                    id: &s.id,
                    workflow: WorkflowRef {
                        id: &s.workflow_id,
                        name: &s.workflow_name,
                        version: s.workflow_version.as_deref(),
                    },
                    status: s.status,
                    created_at: idv_core::time::iso(s.created_at),
                    updated_at: idv_core::time::iso(s.updated_at),
                    current_step: s.current_step.as_deref(),
                    ended: s.ended,
                    metadata: &s.metadata,
                    properties: Picked {
                        row,
                        columns: &self.columns,
                        base_url: &self.base_url,
                    },
                    view: row.view.as_ref(),
                }
            })
            .collect();
        SearchPage {
            items,
            total: self.total,
            total_capped: self.capped,
            next: self.next.as_deref(),
        }
        .serialize(ser)
    }
}
