//! Which events a session change makes. Every write of a session passes the events that
//! describe it to the store, which keeps them in the same transaction (the outbox), so an
//! event exists exactly when its change does.
//!
//! The payload is thin: `{sessionId, workflowId, status, previousStatus, step}`, no personal
//! data. A receiver fetches the session with its API key for more.

use idv_store::{NewEvent, SessionRecord};
use serde_json::{Value, json};

pub(crate) const SESSION_CREATED: &str = "session.created";
pub(crate) const STEP_COMPLETED: &str = "session.step_completed";
pub(crate) const STATUS_CHANGED: &str = "session.status_changed";
pub(crate) const COMPLETED: &str = "session.completed";
pub(crate) const EXPIRED: &str = "session.expired";
pub(crate) const DELETED: &str = "session.deleted";
pub(crate) const WEBHOOK_TEST: &str = "webhook.test";

/// Every event type an endpoint can select, in the order the documentation lists them.
pub(crate) const ALL: [&str; 7] = [
    SESSION_CREATED,
    STEP_COMPLETED,
    STATUS_CHANGED,
    COMPLETED,
    EXPIRED,
    DELETED,
    WEBHOOK_TEST,
];

/// A new event id: `evt_` + a time-ordered 24-hex id. It is the `webhook-id` of every
/// delivery of the event, so a receiver can drop duplicates by it.
pub(crate) fn new_event_id() -> String {
    format!("evt_{}", idv_core::ids::new_id())
}

fn event(kind: &str, s: &SessionRecord, at: i64, previous: Option<i64>, step: Value) -> NewEvent {
    NewEvent {
        id: new_event_id(),
        kind: kind.to_owned(),
        created_at: at,
        session_id: Some(s.id.clone()),
        workflow_id: Some(s.workflow_id.clone()),
        owner_id: s.owner_id.clone(),
        data: json!({
            "sessionId": s.id,
            "workflowId": s.workflow_id,
            "status": s.status,
            "previousStatus": previous,
            "step": step,
        }),
    }
}

/// `session.created` for a session just started.
pub fn created(s: &SessionRecord, at: i64) -> Vec<NewEvent> {
    let mut out = vec![event(SESSION_CREATED, s, at, None, json!(s.current_step))];
    if s.ended {
        // A workflow whose first step is final is complete as soon as it starts.
        out.push(event(
            COMPLETED,
            s,
            at,
            Some(s.status),
            json!(s.current_step),
        ));
    }
    out
}

/// What changed from `prev` to `next`: a `session.step_completed` per step completed (in
/// order), `session.status_changed` when the status moved, `session.expired` when the change
/// is the lifetime ending, and `session.completed` when it reached a final step.
pub fn changed(
    prev: &SessionRecord,
    next: &SessionRecord,
    at: i64,
    expired: bool,
) -> Vec<NewEvent> {
    let mut out = vec![];
    let before = prev.steps.as_array().map_or(0, Vec::len);
    if let Some(steps) = next.steps.as_array() {
        for done in steps.iter().skip(before) {
            let step = done.get("id").cloned().unwrap_or(Value::Null);
            out.push(event(STEP_COMPLETED, next, at, Some(prev.status), step));
        }
    }
    if next.status != prev.status {
        out.push(event(
            STATUS_CHANGED,
            next,
            at,
            Some(prev.status),
            json!(next.current_step),
        ));
    }
    if expired {
        out.push(event(
            EXPIRED,
            next,
            at,
            Some(prev.status),
            json!(next.current_step),
        ));
    }
    if next.ended && !prev.ended {
        out.push(event(
            COMPLETED,
            next,
            at,
            Some(prev.status),
            json!(next.current_step),
        ));
    }
    out
}

/// `session.deleted`; the store completes its data from the row it deletes.
pub fn deleted(id: &str, at: i64) -> NewEvent {
    NewEvent {
        id: new_event_id(),
        kind: DELETED.to_owned(),
        created_at: at,
        session_id: Some(id.to_owned()),
        workflow_id: None,
        owner_id: None,
        data: json!({"sessionId": id}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: i64, steps: Value, ended: bool) -> SessionRecord {
        SessionRecord {
            id: "5e55".into(),
            workflow_id: "wf".into(),
            workflow_revision: 1,
            workflow_name: "W".into(),
            workflow_version: None,
            status,
            locale: "en".into(),
            metadata: json!({}),
            properties: json!({}),
            current_step: Some("B".into()),
            steps,
            ended,
            owner_id: Some("o".into()),
            created_at: 0,
            updated_at: 0,
            revision: 1,
            engine: json!({}),
            expires_at: None,
            history: json!([]),
            legal_hold: false,
        }
    }

    fn kinds(events: &[NewEvent]) -> Vec<&str> {
        events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn a_step_completed_that_ends_the_session() {
        let prev = session(0, json!([{"id": "A"}]), false);
        let next = session(2, json!([{"id": "A"}, {"id": "B"}, {"id": "C"}]), true);
        let ev = changed(&prev, &next, 5, false);
        assert_eq!(
            kinds(&ev),
            vec![STEP_COMPLETED, STEP_COMPLETED, STATUS_CHANGED, COMPLETED]
        );
        assert_eq!(ev[0].data["step"], "B");
        assert_eq!(ev[1].data["step"], "C");
        assert_eq!(ev[2].data["previousStatus"], 0);
        assert_eq!(ev[2].data["status"], 2);
        assert_eq!(ev[2].owner_id.as_deref(), Some("o"));
        assert!(
            ev.iter()
                .all(|e| e.id.starts_with("evt_") && e.id.len() == 28)
        );
    }

    #[test]
    fn nothing_changed_means_no_event() {
        let s = session(0, json!([{"id": "A"}]), false);
        assert!(changed(&s, &s, 5, false).is_empty());
    }

    #[test]
    fn expiry_is_its_own_event() {
        let prev = session(0, json!([]), false);
        let next = session(0, json!([]), false);
        assert_eq!(kinds(&changed(&prev, &next, 5, true)), vec![EXPIRED]);
    }

    #[test]
    fn created_carries_no_previous_status() {
        let s = session(0, json!([]), false);
        let ev = created(&s, 1);
        assert_eq!(kinds(&ev), vec![SESSION_CREATED]);
        assert_eq!(ev[0].data["previousStatus"], Value::Null);
        assert_eq!(ev[0].data["step"], "B");
    }
}
