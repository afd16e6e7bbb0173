//! `GET /api/stats/sessions` and `GET /api/stats/funnel`: counts for dashboards, read from the
//! counters the store keeps with every session write (never a scan of the sessions).

use crate::api::stats::{
    DayStats, Funnel, FunnelStep, FunnelWorkflow, SessionStats, SessionTotals, StatusCount,
};
use crate::error::{ApiError, ApiResult};
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use idv_core::ErrorCode;
use idv_store::WorkflowId;
use std::collections::{BTreeMap, HashMap};

const MS_PER_DAY: i64 = 86_400_000;
/// Days counted when `from` is left out: the last two weeks, today included.
pub const DEFAULT_DAYS: i64 = 14;
/// The longest range one request may ask for.
pub const MAX_DAYS: i64 = 366;
const SESSIONS_PARAMS: &[&str] = &["from", "to", "workflowId", "authorization"];
const FUNNEL_PARAMS: &[&str] = &["workflowId", "authorization"];

fn bad(name: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("query parameter `{name}`: {what}"),
    )
}

fn known_only(query: &str, known: &[&str]) -> ApiResult<()> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !known.contains(&name) {
            return Err(bad(
                name,
                &format!(
                    "unknown parameter; known: {}",
                    known[..known.len() - 1].join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Days since 1970-01-01 of a date.
fn day_of(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"))
        .num_days()
}

/// The date of a day number.
pub fn date_of(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(day)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The UTC day of a date (`2026-01-31`), a time (ISO-8601) or milliseconds since 1970.
fn parse_day(name: &str, text: &str) -> ApiResult<i64> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day_of(d));
    }
    let ms = crate::handlers::audit::parse_time(name, text)?;
    Ok(ms.div_euclid(MS_PER_DAY))
}

/// A workflow id given as a parameter: present, not blank, of sane length.
fn workflow_param(query: &str) -> ApiResult<Option<String>> {
    match query_param(query, "workflowId") {
        None => Ok(None),
        Some(w) if w.is_empty() => Ok(None),
        Some(w) if w.len() > 200 || w.trim() != w => Err(bad(
            "workflowId",
            "must be a workflow id (at most 200 characters, no surrounding spaces)",
        )),
        Some(w) => Ok(Some(w)),
    }
}

/// The day range of `from` and `to`: `to` defaults to today (UTC), `from` to
/// [`DEFAULT_DAYS`] - 1 days before `to`.
pub fn day_range(query: &str, today: i64) -> ApiResult<(i64, i64)> {
    let get = |n: &str| query_param(query, n).filter(|v| !v.is_empty());
    let to = match get("to") {
        Some(v) => parse_day("to", &v)?,
        None => today,
    };
    let from = match get("from") {
        Some(v) => parse_day("from", &v)?,
        None => to - (DEFAULT_DAYS - 1),
    };
    if from > to {
        return Err(bad("from", "is later than `to`"));
    }
    if to - from + 1 > MAX_DAYS {
        return Err(bad(
            "from",
            &format!("the range from `from` to `to` is longer than {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// Counts by status in Regula's order: the known statuses as listed, then any other by number.
fn in_status_order(m: &BTreeMap<i64, i64>) -> Vec<StatusCount> {
    let mut v: Vec<StatusCount> = idv_core::status::ALL
        .iter()
        .filter_map(|s| {
            m.get(s).map(|c| StatusCount {
                status: *s,
                count: *c,
            })
        })
        .collect();
    v.extend(
        m.iter()
            .filter(|(s, _)| !idv_core::status::is_known(**s))
            .map(|(s, c)| StatusCount {
                status: *s,
                count: *c,
            }),
    );
    v
}

pub async fn sessions(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<SessionStats>> {
    let q = query.unwrap_or_default();
    known_only(&q, SESSIONS_PARAMS)?;
    let workflow = workflow_param(&q)?;
    let today = state.clock.now_ms().div_euclid(MS_PER_DAY);
    let (from, to) = day_range(&q, today)?;
    let rows = state
        .store
        .session_day_counts(from, to, workflow.as_deref().map(WorkflowId::new))
        .await?;
    let mut by_day: BTreeMap<i64, BTreeMap<i64, i64>> = BTreeMap::new();
    let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
    for r in &rows {
        *by_day
            .entry(r.day)
            .or_default()
            .entry(r.status)
            .or_default() += r.count;
        *totals.entry(r.status).or_default() += r.count;
    }
    let empty = BTreeMap::new();
    let days = (from..=to)
        .map(|d| {
            let m = by_day.get(&d).unwrap_or(&empty);
            DayStats {
                date: date_of(d),
                total: m.values().sum(),
                statuses: in_status_order(m),
            }
        })
        .collect();
    Ok(Json(SessionStats {
        from: date_of(from),
        to: date_of(to),
        workflow_id: workflow,
        days,
        totals: in_status_order(&totals),
    }))
}

/// `GET /api/stats/sessions/totals`: the sessions created from `from` to `to` (each optional,
/// no limit on the range) by current status, from the same counters.
pub async fn totals(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<SessionTotals>> {
    let q = query.unwrap_or_default();
    known_only(&q, SESSIONS_PARAMS)?;
    let workflow = workflow_param(&q)?;
    let get = |n: &str| query_param(&q, n).filter(|v| !v.is_empty());
    let from = get("from").map(|v| parse_day("from", &v)).transpose()?;
    let to = get("to").map(|v| parse_day("to", &v)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(bad("from", "is later than `to`"));
    }
    // Days far beyond any session's (about a million years either way).
    const ALL_DAYS: i64 = 400_000_000;
    let rows = state
        .store
        .session_day_counts(
            from.unwrap_or(-ALL_DAYS),
            to.unwrap_or(ALL_DAYS),
            workflow.as_deref().map(WorkflowId::new),
        )
        .await?;
    let mut by_status: BTreeMap<i64, i64> = BTreeMap::new();
    for r in &rows {
        *by_status.entry(r.status).or_default() += r.count;
    }
    Ok(Json(SessionTotals {
        from: from.map(date_of),
        to: to.map(date_of),
        workflow_id: workflow,
        total: by_status.values().sum(),
        totals: in_status_order(&by_status),
    }))
}

pub async fn funnel(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Funnel>> {
    let q = query.unwrap_or_default();
    known_only(&q, FUNNEL_PARAMS)?;
    let asked = workflow_param(&q)?;
    let loaded = state.store.workflow_list().await?;
    let counted = state.store.session_counted_workflows().await?;
    let names: HashMap<&str, &str> = loaded
        .iter()
        .map(|w| (w.id.as_str(), w.name.as_str()))
        .collect();
    let mut workflows: Vec<FunnelWorkflow> = loaded
        .iter()
        .map(|w| FunnelWorkflow {
            id: w.id.clone(),
            name: w.name.clone(),
        })
        .chain(
            counted
                .iter()
                .filter(|id| !names.contains_key(id.as_str()))
                .map(|id| FunnelWorkflow {
                    id: id.clone(),
                    name: id.clone(),
                }),
        )
        .collect();
    workflows.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let chosen = match asked {
        Some(w) => {
            if !workflows.iter().any(|x| x.id == w) {
                return Err(ApiError::new(
                    ErrorCode::WorkflowNotFound,
                    format!("no workflow `{w}` is loaded or has sessions"),
                ));
            }
            Some(w)
        }
        // The first with sessions, else the first loaded.
        None => counted
            .iter()
            .filter_map(|id| workflows.iter().find(|x| &x.id == id))
            .min_by(|a, b| a.name.cmp(&b.name))
            .or(workflows.first())
            .map(|x| x.id.clone()),
    };
    let Some(id) = chosen else {
        return Ok(Json(Funnel {
            workflow_id: None,
            workflow_name: None,
            sessions: 0,
            steps: Vec::new(),
            workflows,
        }));
    };
    let counts = state
        .store
        .session_step_counts(WorkflowId::new(&id))
        .await?;
    let mut steps: Vec<FunnelStep> = Vec::new();
    if let Some(def) = loaded.iter().find(|w| w.id == id) {
        for s in def.definition["steps"].as_array().into_iter().flatten() {
            let Some(sid) = s["id"].as_str() else {
                continue;
            };
            if steps.iter().any(|x| x.id == sid) {
                continue;
            }
            steps.push(FunnelStep {
                id: sid.to_string(),
                name: s["name"].as_str().unwrap_or(sid).to_string(),
                reached: 0,
                stopped: 0,
                is_final: s["final"].as_bool().unwrap_or(false),
            });
        }
    }
    for c in &counts {
        match steps.iter_mut().find(|x| x.id == c.step) {
            Some(x) => {
                x.reached = c.reached;
                x.stopped = c.here;
            }
            None => steps.push(FunnelStep {
                id: c.step.clone(),
                name: c.step.clone(),
                reached: c.reached,
                stopped: c.here,
                is_final: false,
            }),
        }
    }
    // Every session is in exactly one step.
    let sessions = counts.iter().map(|c| c.here).sum();
    let name = workflows
        .iter()
        .find(|x| x.id == id)
        .map(|x| x.name.clone());
    Ok(Json(Funnel {
        workflow_id: Some(id),
        workflow_name: name,
        sessions,
        steps,
        workflows,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_two_weeks_and_bad_ones_are_named() {
        let today = day_of(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap());
        assert_eq!(day_range("", today).unwrap(), (today - 13, today));
        assert_eq!(date_of(today), "2026-01-31");
        let (f, t) = day_range("from=2026-01-01&to=2026-01-10", today).unwrap();
        assert_eq!(
            (date_of(f), date_of(t)),
            ("2026-01-01".into(), "2026-01-10".into())
        );
        let (f, t) = day_range("from=2026-01-01T23:59:00Z&to=1769817600000", today).unwrap();
        assert_eq!(
            (date_of(f), date_of(t)),
            ("2026-01-01".into(), "2026-01-31".into())
        );
        for (query, name) in [
            ("from=yesterday", "`from`"),
            ("to=2026-02-30", "`to`"),
            ("from=2026-02-01&to=2026-01-01", "`from`"),
            ("from=2024-01-01&to=2026-01-01", "`from`"),
        ] {
            let e = day_range(query, today).unwrap_err().0;
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.contains(name), "{query}: {}", e.message);
        }
        let e = known_only("colour=red", SESSIONS_PARAMS).unwrap_err().0;
        assert!(e.message.contains("`colour`"), "{}", e.message);
    }
}
