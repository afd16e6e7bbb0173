//! Which sessions an export covers: named ones, all of them, or those a search matches. The
//! filter is the session-search grammar (`POST /api/sessions/search`), run through the same
//! store query, so `--filter` takes every field and operator the API does.

use crate::state::AppState;
use idv_core::search::{Column, SearchRequest, SortKey, SortValue, normalize_sort};
use idv_store::SessionId;
use idv_store::SessionQuery;
use serde_json::{Value, json};
use std::collections::HashSet;

/// How sessions are chosen.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// These sessions (each must exist); narrowed by `filter` when both are given.
    pub ids: Vec<String>,
    /// Every session (narrowed by `filter` when given).
    pub all: bool,
    /// A checked search: its `filter` and `workflows` choose (its sort and columns do not
    /// matter here).
    pub filter: Option<SearchRequest>,
}

/// Reads `--filter`: a search body (`{"filter": ..., "workflows": [...]}`, e.g. a view's
/// value) or a bare filter (`{"op": "$and", "conditions": [...]}` or one condition).
pub fn parse_filter(value: &Value) -> Result<SearchRequest, String> {
    let is_body = value.as_object().is_some_and(|m| {
        m.contains_key("filter") || m.contains_key("workflows") || m.contains_key("columns")
    });
    let body = if is_body {
        value.clone()
    } else if value.get("field").is_some() {
        json!({ "filter": {"op": "$and", "conditions": [value]} })
    } else {
        json!({ "filter": value })
    };
    SearchRequest::parse(&body).map_err(|e| e.message)
}

/// Sessions are read in pages of this many.
const PAGE: i64 = 500;

/// The ids of the chosen sessions, in the order given (`ids`) or in id order (oldest first).
/// The error says what to fix.
pub async fn select_sessions(state: &AppState, sel: &Selection) -> Result<Vec<String>, String> {
    let store = state.store.as_ref();
    if !sel.ids.is_empty() {
        let matching = match &sel.filter {
            Some(f) => Some(
                search_all(state, f)
                    .await?
                    .into_iter()
                    .collect::<HashSet<_>>(),
            ),
            None => None,
        };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in &sel.ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let exists = idv_core::ids::is_id(id)
                && store
                    .session_get(SessionId::new(id))
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some();
            if !exists {
                return Err(format!("no session with id {id}"));
            }
            if matching.as_ref().is_none_or(|m| m.contains(id)) {
                out.push(id.clone());
            }
        }
        return Ok(out);
    }
    match &sel.filter {
        Some(f) => search_all(state, f).await,
        None if sel.all => {
            search_all(
                state,
                &SearchRequest::parse(&Value::Null).map_err(|e| e.message)?,
            )
            .await
        }
        None => Err("choose the sessions: --id ID (repeatable), --all or --filter JSON".into()),
    }
}

/// Every session the search matches, in id order, page by page with the keyset cursor.
async fn search_all(state: &AppState, request: &SearchRequest) -> Result<Vec<String>, String> {
    let sort = normalize_sort(vec![SortKey {
        column: Column::Id,
        descending: false,
    }]);
    let mut out = Vec::new();
    let mut after: Option<Vec<SortValue>> = None;
    loop {
        let query = SessionQuery {
            filter: request.filter.clone(),
            workflows: request.workflows.clone(),
            owner_id: None,
            sort: sort.clone(),
            after: after.clone(),
            skip: 0,
            limit: PAGE,
            count_limit: 0,
        };
        let page = state
            .store
            .session_search(&query)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.items.last() else {
            break;
        };
        after = Some(vec![SortValue::Text(last.id.clone())]);
        let full = page.items.len() as i64 == PAGE;
        out.extend(page.items.into_iter().map(|s| s.id));
        if !full {
            break;
        }
    }
    Ok(out)
}
