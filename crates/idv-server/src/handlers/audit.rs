//! `GET /api/audit`: the audit log, filtered and paged. `POST /api/audit/verify`: the chain
//! walked as `idv audit verify` walks it.

use crate::api::audit::{AuditEntryView, AuditPage, AuditVerdict};
use crate::error::{ApiError, ApiResult};
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use idv_core::ErrorCode;
use idv_store::AuditQuery;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const KNOWN: &[&str] = &[
    "actor",
    "action",
    "target",
    "from",
    "to",
    "limit",
    "after",
    "order",
    "authorization",
];

fn bad(name: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("query parameter `{name}`: {what}"),
    )
}

/// A time given as ISO-8601 (`2026-01-31T10:00:00Z`, `2026-01-31`) or milliseconds.
pub(crate) fn parse_time(name: &str, text: &str) -> ApiResult<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    Err(bad(
        name,
        &format!(
            "`{text}` is not a time; write ISO-8601 like 2026-01-31T10:00:00Z, a date like 2026-01-31, or milliseconds since 1970"
        ),
    ))
}

/// The query of a request's parameters.
pub(crate) fn parse_query(query: &str) -> ApiResult<AuditQuery> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !KNOWN.contains(&name) {
            return Err(bad(
                name,
                &format!("unknown filter; known: {}", KNOWN[..8].join(", ")),
            ));
        }
    }
    let get = |name: &str| query_param(query, name).filter(|v| !v.is_empty());
    let mut q = AuditQuery {
        actor: get("actor"),
        action: get("action"),
        target: get("target"),
        limit: DEFAULT_LIMIT,
        ..AuditQuery::default()
    };
    if let Some(a) = &q.action
        && (a.len() > 100
            || !a
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'))
    {
        return Err(bad(
            "action",
            &format!("`{a}` is not an action name like session.read or auth.login_failed"),
        ));
    }
    if let Some(v) = get("from") {
        q.from = Some(parse_time("from", &v)?);
    }
    if let Some(v) = get("to") {
        q.to = Some(parse_time("to", &v)?);
    }
    if let (Some(f), Some(t)) = (q.from, q.to)
        && f > t
    {
        return Err(bad("from", "is later than `to`"));
    }
    if let Some(v) = get("limit") {
        q.limit = v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    &format!("`{v}` must be a number from 1 to {MAX_LIMIT}"),
                )
            })?;
    }
    match get("order").as_deref() {
        None | Some("desc") => {}
        Some("asc") => q.ascending = true,
        Some(o) => return Err(bad("order", &format!("`{o}` must be asc or desc"))),
    }
    if let Some(v) = get("after") {
        let seq = v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            bad(
                "after",
                &format!("`{v}` must be the `next` value of a previous page (a sequence number)"),
            )
        })?;
        if q.ascending {
            q.after_seq = Some(seq);
        } else {
            q.before_seq = Some(seq);
        }
    }
    Ok(q)
}

pub async fn list(State(state): State<AppState>, uri: Uri) -> ApiResult<Json<AuditPage>> {
    let q = parse_query(uri.query().unwrap_or(""))?;
    // Read-your-writes within this process: what this instance queued is stored first.
    state.audit.flush().await;
    let rows = state.store.audit_query(&q).await?;
    let next = (rows.len() as i64 == q.limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(Json(AuditPage {
        items: rows.iter().map(AuditEntryView::from).collect(),
        next,
    }))
}

/// Walks the whole chain ([`crate::audit::verify::verify`]), after storing what this process
/// has queued.
pub async fn verify(State(state): State<AppState>) -> ApiResult<Json<AuditVerdict>> {
    state.audit.flush().await;
    let verdict = crate::audit::verify::verify(state.store.as_ref()).await?;
    Ok(Json(verdict.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_bad_ones_are_named() {
        let q = parse_query(
            "actor=admin&action=session.read&from=2026-01-01&to=1800000000000&limit=5&after=9",
        )
        .unwrap();
        assert_eq!(q.actor.as_deref(), Some("admin"));
        assert_eq!(q.action.as_deref(), Some("session.read"));
        assert_eq!(q.from, Some(1_767_225_600_000));
        assert_eq!(q.to, Some(1_800_000_000_000));
        assert_eq!((q.limit, q.before_seq, q.after_seq), (5, Some(9), None));
        let q = parse_query("order=asc&after=3").unwrap();
        assert_eq!((q.ascending, q.after_seq), (true, Some(3)));
        for (query, name) in [
            ("from=yesterday", "`from`"),
            ("to=2026-13-01", "`to`"),
            ("limit=0", "`limit`"),
            ("limit=5000", "`limit`"),
            ("after=-1", "`after`"),
            ("order=up", "`order`"),
            ("colour=red", "`colour`"),
            ("action=DROP%20TABLE", "`action`"),
            ("from=2026-02-01&to=2026-01-01", "`from`"),
        ] {
            let e = parse_query(query).unwrap_err().0;
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(e.message.contains(name), "{query}: {}", e.message);
        }
    }

    #[test]
    fn the_declared_parameters_are_the_accepted_ones() {
        use utoipa::IntoParams;
        let declared: Vec<String> = crate::api::audit::AuditQueryParams::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(declared, KNOWN[..8]);
    }
}
