//! The outbox: events written in the same transaction as the session change that caused them,
//! the webhook endpoints they fan out to, one delivery row per (event, endpoint) and a record of
//! every delivery attempt.
//!
//! An event's body is rendered once, when it is stored, and sent byte for byte on every attempt,
//! so a signature always covers exactly what the receiver gets and a retry or replay carries the
//! same `webhook-id`.

use serde_json::{Value, json};

/// An event to store beside a change. The adapter gives it the session's next `sequence` (one
/// counter per session, bumped in the same transaction, so later changes have larger numbers)
/// and renders [`NewEvent::body`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `evt_` + 24 hex; the `webhook-id` of every delivery of it.
    pub id: String,
    /// `session.created`, `session.status_changed`, …
    pub kind: String,
    pub created_at: i64,
    /// `None` for events about no session (`webhook.test`).
    pub session_id: Option<String>,
    pub workflow_id: Option<String>,
    /// The principal that started the session: the event feed shows a caller with only
    /// `session:read` the events of its own sessions.
    pub owner_id: Option<String>,
    /// The payload's `data` object.
    pub data: Value,
}

impl NewEvent {
    /// The exact bytes every delivery sends: `{id, type, createdAt, sequence, data}`.
    pub fn body(&self, sequence: i64) -> String {
        json!({
            "id": self.id,
            "type": self.kind,
            "createdAt": idv_core::time::iso(self.created_at),
            "sequence": sequence,
            "data": self.data,
        })
        .to_string()
    }

    /// [`NewEvent::body`] split around its sequence number: `body(seq)` is exactly
    /// `head + seq.to_string() + tail`, so an adapter that learns the number only inside the
    /// statement that writes the event can assemble the body there.
    pub fn body_parts(&self) -> (String, String) {
        let mut head = json!({
            "id": self.id,
            "type": self.kind,
            "createdAt": idv_core::time::iso(self.created_at),
        })
        .to_string();
        // The object's closing brace; the keys that follow go after it.
        head.pop();
        head.push_str(",\"sequence\":");
        (head, format!(",\"data\":{}}}", self.data))
    }

    /// The `session.deleted` event for a session row about to be deleted: its data takes the
    /// row's workflow, status and step (the caller does not read the row first).
    pub fn with_deleted_row(
        &self,
        workflow_id: &str,
        owner_id: Option<&str>,
        status: i64,
        step: Option<&str>,
    ) -> NewEvent {
        let mut e = self.clone();
        e.workflow_id = Some(workflow_id.to_owned());
        e.owner_id = owner_id.map(str::to_owned);
        if let Value::Object(d) = &mut e.data {
            d.insert("workflowId".into(), json!(workflow_id));
            d.insert("status".into(), json!(status));
            d.insert("previousStatus".into(), json!(status));
            d.insert("step".into(), json!(step));
        }
        e
    }
}

/// A stored event, as the feed reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Where the feed stands after this event (opaque; `GET /api/events?after=`).
    pub cursor: String,
    pub id: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub workflow_id: Option<String>,
    pub owner_id: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    /// The rendered payload.
    pub body: String,
}

/// A page of the event feed: the events and the cursor to continue from (the last event's, or
/// the one given when there were none).
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    pub next: Option<String>,
}

/// What the feed returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    /// Continue after this cursor; `None` from the oldest kept event.
    pub after: Option<String>,
    pub limit: i64,
    /// Only these types (all when empty).
    pub kinds: Vec<String>,
    /// Only events of sessions started by this principal.
    pub owner_id: Option<String>,
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    /// 24 hex.
    pub id: String,
    pub url: String,
    /// Event types it receives; `["*"]` for all.
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    /// Extra request headers (a JSON object of strings).
    pub headers: Value,
    /// Only sessions of these workflows (all when empty).
    pub workflow_ids: Vec<String>,
    /// `whsec_…`: the signing secret.
    pub secret: String,
    /// The secret before the last rotation, which also signs until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    /// Also sign with the server's Ed25519 key (`v1a`).
    pub ed25519: bool,
    pub owner_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Since when every attempt failed (cleared by a success).
    pub failing_since: Option<i64>,
    /// Why the server disabled it (410 Gone, failing for a day), and when.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
}

/// The columns of an endpoint that hold secrets, as stored: the unit of
/// [`crate::Store::webhook_reseal`].
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSecrets {
    pub secret: String,
    pub previous_secret: Option<String>,
    pub headers: Value,
}

impl WebhookSecrets {
    pub fn of(w: &WebhookRecord) -> WebhookSecrets {
        WebhookSecrets {
            secret: w.secret.clone(),
            previous_secret: w.previous_secret.clone(),
            headers: w.headers.clone(),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or under a worker's lease).
    Pending,
    Delivered,
    /// Given up: out of time, or its endpoint answered 410.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// A number, as text.
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_kind: String,
    pub session_id: Option<String>,
    /// The event's per-session sequence: deliveries of one session to one endpoint go in this
    /// order.
    pub sequence: i64,
    pub state: DeliveryState,
    /// Attempts started so far.
    pub attempts: i64,
    pub next_at: i64,
    /// While a worker holds it; the value is also the claim's token.
    pub locked_until: Option<i64>,
    pub created_at: i64,
    /// After this no attempt is started (3 days after it was queued).
    pub deadline: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// The event's payload; filled by claims, empty in listings.
    pub body: String,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub webhook_id: String,
    pub at: i64,
    /// The HTTP status, when an answer came.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the answer's body.
    pub response: Option<String>,
    pub error: Option<String>,
}

/// How an attempt ends a claim: the delivery's new state and next time, and what it means for
/// its endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    pub state: DeliveryState,
    /// The next attempt's time when `state` is pending.
    pub next_at: i64,
    /// A success clears the endpoint's `failing_since`; a failure sets it if unset.
    pub success: bool,
    /// Disable the endpoint with this reason (410 Gone).
    pub disable: Option<String>,
    /// Disable the endpoint when it has been failing since before this time.
    pub disable_if_failing_since_before: Option<i64>,
}

/// How long a delivery is tried before it fails for good: 3 days from when it was queued.
pub const DELIVERY_WINDOW_MS: i64 = 3 * 86_400_000;

/// A list as the adapters store it for matching in SQL: `,a,b,` (`''` for an empty list), so
/// `instr`/`strpos` of `,x,` tells membership on both databases.
pub fn wrap_list(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!(",{},", items.join(","))
}

/// The inverse of [`wrap_list`].
pub fn unwrap_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        let items = vec!["session.created".to_string(), "session.deleted".to_string()];
        assert_eq!(wrap_list(&items), ",session.created,session.deleted,");
        assert_eq!(unwrap_list(&wrap_list(&items)), items);
        assert_eq!(wrap_list(&[]), "");
        assert!(unwrap_list("").is_empty());
    }

    #[test]
    fn body_parts_surround_the_sequence() {
        let e = NewEvent {
            id: "evt_\"quoted\"".into(),
            kind: "session.status_changed".into(),
            created_at: 1_700_000_000_123,
            session_id: Some("s".into()),
            workflow_id: Some("wf".into()),
            owner_id: None,
            data: json!({"z": 1, "a": {"nested": ["x", null]}, "text": "née \u{1}"}),
        };
        let (head, tail) = e.body_parts();
        for seq in [0, 1, 9, 10, 12_345, i64::MAX] {
            assert_eq!(e.body(seq), format!("{head}{seq}{tail}"));
        }
        let empty = NewEvent {
            data: json!({}),
            ..e
        };
        let (head, tail) = empty.body_parts();
        assert_eq!(empty.body(3), format!("{head}3{tail}"));
    }

    #[test]
    fn deleted_event_takes_the_row() {
        let e = NewEvent {
            id: "evt_1".into(),
            kind: "session.deleted".into(),
            created_at: 0,
            session_id: Some("s".into()),
            workflow_id: None,
            owner_id: None,
            data: json!({"sessionId": "s"}),
        };
        let d = e.with_deleted_row("wf", Some("o"), 2, Some("DONE"));
        assert_eq!(d.owner_id.as_deref(), Some("o"));
        assert_eq!(d.workflow_id.as_deref(), Some("wf"));
        assert_eq!(d.data["status"], 2);
        assert_eq!(d.data["previousStatus"], 2);
        assert_eq!(d.data["step"], "DONE");
        let body: Value = serde_json::from_str(&d.body(7)).unwrap();
        assert_eq!(body["sequence"], 7);
        assert_eq!(body["type"], "session.deleted");
        assert_eq!(body["createdAt"], "1970-01-01T00:00:00.000Z");
    }
}
