//! Which sessions an export covers: named ones, all of them, or those a filter matches. One
//! function answers the ids, so a richer search can replace the built-in filter here alone.

use super::SessionFilter;
use crate::state::AppState;

/// How sessions are chosen.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// These sessions (each must exist); narrowed by `filter` when both are given.
    pub ids: Vec<String>,
    /// Every session (narrowed by `filter` when given).
    pub all: bool,
    pub filter: Option<SessionFilter>,
}

/// Sessions are read in pages of this many ids.
const PAGE: i64 = 500;

/// The ids of the chosen sessions, in the order given (`ids`) or in id order (oldest first).
/// The error says what to fix.
pub async fn select_sessions(state: &AppState, sel: &Selection) -> Result<Vec<String>, String> {
    let store = state.store.as_ref();
    let mut out = Vec::new();
    if !sel.ids.is_empty() {
        let mut seen = std::collections::HashSet::new();
        for id in &sel.ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let s = if idv_core::ids::is_id(id) {
                store.session_get(id).await.map_err(|e| e.to_string())?
            } else {
                None
            };
            let Some(s) = s else {
                return Err(format!("no session with id {id}"));
            };
            if sel.filter.as_ref().is_none_or(|f| f.matches(&s)) {
                out.push(s.id);
            }
        }
        return Ok(out);
    }
    if !sel.all && sel.filter.is_none() {
        return Err("choose the sessions: --id ID (repeatable), --all or --filter JSON".into());
    }
    let mut after: Option<String> = None;
    loop {
        let page = store
            .session_ids_after(after.as_deref(), PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().cloned() else {
            break;
        };
        for id in page {
            match &sel.filter {
                None => out.push(id),
                Some(f) => {
                    // A session deleted meanwhile is simply not exported.
                    if let Some(s) = store.session_get(&id).await.map_err(|e| e.to_string())?
                        && f.matches(&s)
                    {
                        out.push(id);
                    }
                }
            }
        }
        after = Some(last);
    }
    Ok(out)
}
