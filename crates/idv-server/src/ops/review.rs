//! Review: an operator sets a session's status (approve 3, reject 1000, or any other of
//! Regula's statuses) with an optional comment, and sets or lifts its legal hold. Each change
//! is recorded in the session's `history`, which lives in the session row, so the change and
//! its record are one compare-and-swap on the session's revision.
//!
//! The session's revision is also its `ETag`: a `PATCH` with `If-Match` applies only to that
//! revision (else 412 and nothing changes), one without applies to the latest, retrying the
//! compare-and-swap when the workflow engine or another caller wrote in between.

use crate::auth::{Principal, PrincipalKind, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_store::SessionId;
use idv_store::SessionRecord;
use serde_json::{Map, Value, json};

/// The longest comment kept, in characters.
pub(crate) const MAX_COMMENT_CHARS: usize = 2_000;
/// The most history entries a session keeps; a review past it is refused rather than dropping
/// the oldest (the history is an audit record).
pub(crate) const MAX_HISTORY: usize = 1_000;
/// Compare-and-swap attempts of a `PATCH` without `If-Match` before it gives up with 409.
const ATTEMPTS: usize = 16;

/// The keys a review body may hold.
const KEYS: &[&str] = &["status", "comment", "legalHold"];

/// A parsed `PATCH /api/sessions/{id}` body.
pub use crate::api::sessions::Review as ReviewInput;

impl ReviewInput {
    /// Checks a body: an object with `status` (one of Regula's status integers), `comment` (a
    /// string of at most [`MAX_COMMENT_CHARS`]) and `legalHold` (a boolean), nothing else, and
    /// at least one of `status` and `legalHold`. Errors name the field.
    pub fn parse(body: &Value) -> ApiResult<ReviewInput> {
        let Some(map) = body.as_object() else {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "the body must be a JSON object such as {\"status\": 3, \"comment\": \"...\"}",
            ));
        };
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "unknown field(s) {}; a review takes status, comment and legalHold",
                    unknown
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let status = match map.get("status") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .filter(|s| idv_core::status::is_known(*s))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidStatus,
                            format!(
                                "field `status`: {v} is not a session status; use 0 (not \
                                 completed), 1 (not verified), 2 (verified), 3 (approved), \
                                 4 (pending) or 1000 (rejected)"
                            ),
                        )
                    })?,
            ),
        };
        let comment = match map.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.chars().count() > MAX_COMMENT_CHARS => {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("field `comment`: at most {MAX_COMMENT_CHARS} characters"),
                ));
            }
            Some(Value::String(c)) => Some(c.clone()),
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "field `comment`: must be a string",
                ));
            }
        };
        let legal_hold = match map.get("legalHold") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "field `legalHold`: must be true or false",
                ));
            }
        };
        if status.is_none() && legal_hold.is_none() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "nothing to change: give `status` (and an optional `comment`) or `legalHold`",
            ));
        }
        Ok(ReviewInput {
            status,
            comment,
            legal_hold,
        })
    }
}

impl crate::body::CheckedBody for ReviewInput {
    fn from_json(value: Value) -> ApiResult<Self> {
        ReviewInput::parse(&value)
    }
}

/// The `ETag` of a session: its revision, which every write bumps.
pub fn etag(s: &SessionRecord) -> String {
    format!("\"{}\"", s.revision)
}

/// True when an `If-Match` value (`"7"`, `"6", "7"` or `*`) admits the session's revision.
/// Comparison is strong: a weak tag (`W/"7"`) never matches.
pub(crate) fn if_match_admits(if_match: &str, s: &SessionRecord) -> bool {
    let tag = etag(s);
    if_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag)
}

/// The `by` of a history entry: who made the change.
pub fn actor(by: &Principal) -> Value {
    json!({"id": by.id, "name": by.name, "kind": principal_kind(by)})
}

/// `user`, `apikey`, `device` or `onetime`.
pub(crate) fn principal_kind(by: &Principal) -> &'static str {
    match by.kind {
        PrincipalKind::User => "user",
        PrincipalKind::ApiKey => "apikey",
        PrincipalKind::Device { .. } => "device",
        PrincipalKind::OneTime { .. } => "onetime",
    }
}

/// `s` with the review applied (history entries appended), its revision bumped for the
/// compare-and-swap. A status entry is written whenever a status is given (a second approval
/// with a new comment is recorded too); a legal-hold entry only when the hold changes.
pub fn apply(
    s: &SessionRecord,
    input: &ReviewInput,
    by: &Principal,
    now: i64,
) -> ApiResult<SessionRecord> {
    let mut next = s.clone();
    let mut history = match &s.history {
        Value::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    let at = idv_core::time::iso(now);
    if let Some(to) = input.status {
        let mut entry = Map::new();
        entry.insert("at".into(), json!(at));
        entry.insert("by".into(), actor(by));
        entry.insert("from".into(), json!(s.status));
        entry.insert("to".into(), json!(to));
        if let Some(c) = &input.comment {
            entry.insert("comment".into(), json!(c));
        }
        history.push(Value::Object(entry));
        next.status = to;
    }
    if let Some(hold) = input.legal_hold.filter(|h| *h != s.legal_hold) {
        let mut entry = Map::new();
        entry.insert("at".into(), json!(at));
        entry.insert("by".into(), actor(by));
        entry.insert("legalHold".into(), json!(hold));
        if let (Some(c), None) = (&input.comment, input.status) {
            entry.insert("comment".into(), json!(c));
        }
        history.push(Value::Object(entry));
        next.legal_hold = hold;
    }
    if history.len() > MAX_HISTORY {
        return Err(ApiError::new(
            ErrorCode::SessionConflict,
            format!(
                "session {} already holds {MAX_HISTORY} history entries, the most it keeps",
                s.id
            ),
        ));
    }
    next.history = Value::Array(history);
    next.updated_at = now;
    next.revision = s.revision + 1;
    Ok(next)
}

/// `PATCH /api/sessions/{id}`: applies a review for `by`, who needs `session_all_patch:write`
/// for any session or `session_patch:write` for its own (others' look missing), and
/// `session_all_patch:write` to change the legal hold. Returns the session as written.
pub async fn review(
    state: &AppState,
    by: &Principal,
    id: &str,
    input: &ReviewInput,
    if_match: Option<&str>,
) -> ApiResult<SessionRecord> {
    let Some(reach) = by.reach("session_all_patch", "session_patch", Op::Write) else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "changing a session's state needs session_patch:write (own sessions) or \
             session_all_patch:write",
        ));
    };
    if input.legal_hold.is_some() && reach != Reach::All {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "setting or lifting `legalHold` needs session_all_patch:write",
        ));
    }
    if !idv_core::ids::is_id(id) {
        return Err(crate::ops::deletion::missing(state, by, reach, id).await);
    }
    for _ in 0..ATTEMPTS {
        let Some(s) = state
            .store
            .session_get(SessionId::new(id))
            .await?
            .filter(|s| by.may_touch(reach, s.owner_id.as_deref()))
        else {
            return Err(crate::ops::deletion::missing(state, by, reach, id).await);
        };
        if let Some(m) = if_match
            && !if_match_admits(m, &s)
        {
            return Err(ApiError(
                idv_core::Error::new(
                    ErrorCode::PreconditionFailed,
                    format!(
                        "session {id} is at revision {} (ETag {}), not the one in If-Match \
                         `{m}`; read it again and review the current state",
                        s.revision,
                        etag(&s)
                    ),
                )
                .with_details(json!({"etag": etag(&s)})),
            ));
        }
        let now = state.clock.now_ms();
        let next = apply(&s, input, by, now)?;
        let events = crate::events::changed(&s, &next, now, false);
        if state.store.session_update(&next, &events).await? {
            if !events.is_empty() {
                state.events_committed();
            }
            tracing::info!(session = %id, by = %by.id, status = ?input.status, legal_hold = ?input.legal_hold, "session reviewed");
            return Ok(next);
        }
        // Someone wrote in between: with If-Match the next read answers 412; without, the
        // review applies to the fresh revision.
    }
    Err(ApiError::new(
        ErrorCode::SessionConflict,
        format!("session {id} kept changing while the review was written; send it again"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_core::permission::PermissionSet;

    fn session(status: i64, revision: i64) -> SessionRecord {
        SessionRecord {
            id: "0".repeat(24),
            workflow_id: "w".into(),
            workflow_revision: 1,
            workflow_name: "W".into(),
            workflow_version: None,
            status,
            locale: "en".into(),
            metadata: json!({}),
            properties: json!({}),
            current_step: None,
            steps: json!([]),
            ended: true,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            revision,
            engine: json!({}),
            expires_at: None,
            history: json!([]),
            legal_hold: false,
        }
    }

    fn operator() -> Principal {
        Principal {
            id: "1".repeat(24),
            kind: PrincipalKind::User,
            name: "op".into(),
            permissions: PermissionSet::everything(),
            token_family: None,
        }
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = ReviewInput::parse(&json!({"status": 3, "comment": "fine"})).unwrap();
        assert_eq!(ok.status, Some(3));
        assert_eq!(ok.comment.as_deref(), Some("fine"));
        assert_eq!(ok.legal_hold, None);
        let hold = ReviewInput::parse(&json!({"legalHold": true})).unwrap();
        assert_eq!(hold.legal_hold, Some(true));
        for (body, code, names) in [
            (json!({"status": 5}), "invalid_status", "`status`"),
            (json!({"status": "3"}), "invalid_status", "`status`"),
            (json!({"status": 3.5}), "invalid_status", "`status`"),
            (
                json!({"status": 3, "comment": 7}),
                "invalid_request",
                "`comment`",
            ),
            (
                json!({"status": 3, "comment": "x".repeat(MAX_COMMENT_CHARS + 1)}),
                "invalid_request",
                "`comment`",
            ),
            (
                json!({"legalHold": "yes"}),
                "invalid_request",
                "`legalHold`",
            ),
            (
                json!({"status": 3, "colour": 1, "state": 2}),
                "invalid_request",
                "`colour`, `state`",
            ),
            (
                json!({"comment": "only"}),
                "invalid_request",
                "nothing to change",
            ),
            (json!([1]), "invalid_request", "JSON object"),
        ] {
            let e = ReviewInput::parse(&body).unwrap_err().0;
            assert_eq!(e.code.as_str(), code, "{body}");
            assert!(e.message.contains(names), "{body}: {}", e.message);
        }
        let longest = "é".repeat(MAX_COMMENT_CHARS);
        assert!(ReviewInput::parse(&json!({"status": 1000, "comment": longest})).is_ok());
    }

    #[test]
    fn the_workflows_status_changes_are_recorded_too() {
        let s = session(0, 1);
        let mut run = crate::flow::run_of(&s);
        run.status = 2;
        run.current_step = "DONE".into();
        let next = crate::flow::with_run(&s, run, 1_767_092_133_949);
        assert_eq!(
            next.history,
            json!([{"at": "2025-12-30T10:55:33.949Z", "by": {"kind": "workflow"},
                    "from": 0, "to": 2, "step": "DONE"}])
        );
        // A run that leaves the status as it is adds nothing.
        let again = crate::flow::with_run(&next, crate::flow::run_of(&next), 2);
        assert_eq!(again.history.as_array().unwrap().len(), 1);
    }

    #[test]
    fn if_match_is_strong_and_takes_lists() {
        let s = session(0, 7);
        assert_eq!(etag(&s), "\"7\"");
        assert!(if_match_admits("\"7\"", &s));
        assert!(if_match_admits("\"6\", \"7\"", &s));
        assert!(if_match_admits("*", &s));
        assert!(!if_match_admits("\"6\"", &s));
        assert!(!if_match_admits("W/\"7\"", &s));
        assert!(!if_match_admits("7", &s));
    }

    #[test]
    fn apply_records_history_and_bumps_the_revision() {
        let s = session(2, 4);
        let input = ReviewInput {
            status: Some(3),
            comment: Some("ok".into()),
            legal_hold: Some(true),
        };
        let next = apply(&s, &input, &operator(), 1_767_092_133_949).unwrap();
        assert_eq!((next.status, next.revision, next.legal_hold), (3, 5, true));
        assert_eq!(next.updated_at, 1_767_092_133_949);
        let h = next.history.as_array().unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0]["from"], 2);
        assert_eq!(h[0]["to"], 3);
        assert_eq!(h[0]["comment"], "ok");
        assert_eq!(h[0]["at"], "2025-12-30T10:55:33.949Z");
        assert_eq!(h[0]["by"]["kind"], "user");
        assert_eq!(h[1]["legalHold"], true);
        assert!(
            h[1].get("comment").is_none(),
            "the comment goes with the status"
        );
        // The same hold again is no change and is not recorded.
        let again = apply(
            &next,
            &ReviewInput {
                status: None,
                comment: None,
                legal_hold: Some(true),
            },
            &operator(),
            2,
        )
        .unwrap();
        assert_eq!(again.history.as_array().unwrap().len(), 2);
        // A full history refuses more.
        let mut full = session(0, 1);
        full.history = Value::Array(vec![json!({}); MAX_HISTORY]);
        let e = apply(&full, &input, &operator(), 3).unwrap_err().0;
        assert_eq!(e.code, ErrorCode::SessionConflict);
    }
}
