//! Request and response bodies: webhook endpoints, their delivery log and the server's signing
//! key.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `POST /api/webhooks` | [`WebhookInput`] | 201 [`WebhookWithSecret`] |
//! | `GET /api/webhooks` | — | 200 [`WebhookList`] |
//! | `GET /api/webhooks/signing-key` | — | 200 [`SigningKey`] |
//! | `GET /api/webhooks/{id}` | — | 200 [`WebhookView`] |
//! | `PATCH /api/webhooks/{id}` | [`WebhookInput`] | 200 [`WebhookView`] |
//! | `DELETE /api/webhooks/{id}` | — | 204 (no body) |
//! | `POST /api/webhooks/{id}/rotate-secret` | [`RotateSecretInput`] (or empty) | 200 [`WebhookWithSecret`] |
//! | `GET /api/webhooks/{id}/deliveries` ([`DeliveryListQuery`]) | — | 200 [`DeliveryPage`] |
//! | `POST /api/webhooks/{id}/deliveries/{delivery}/retry` | — | 202 [`DeliveryView`] |
//! | `POST /api/webhooks/{id}/replay` ([`ReplayQuery`], `since` required) | — | 202 [`ReplayQueued`] |
//! | `POST /api/webhooks/{id}/test` | — | 202 [`TestSent`] |

use idv_core::time::iso;
use idv_store::{AttemptRecord, DeliveryRecord, DeliveryState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// The fields of an endpoint: all of them to create one (`url` and `events` required), any of
/// them to change one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookInput {
    /// Where deliveries are POSTed: http(s), not a private address unless
    /// `outbound.allowPrivateAddresses`.
    pub url: Option<String>,
    /// Event types (`session.created`, `session.step_completed`, `session.status_changed`,
    /// `session.completed`, `session.expired`, `session.deleted`, `webhook.test`) or `["*"]`.
    pub events: Option<Vec<String>>,
    /// `true` when left out on creation.
    pub enabled: Option<bool>,
    /// At most 1000 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Extra request headers, `{name: value}`; write-only (answers show only their names).
    /// On a change it replaces them all; `{}` removes them.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub headers: Option<Map<String, Value>>,
    /// Only these workflows' sessions; all when empty.
    pub workflow_ids: Option<Vec<String>>,
    /// Also sign with the server's Ed25519 key (`v1a`).
    pub ed25519: Option<bool>,
}

/// Tells a field sent as `null` (clear it) from one not sent (keep it).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// How long the old secret keeps signing after a rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecretInput {
    /// Seconds, 0 to 604800; 86400 when left out; 0 stops the old secret at once.
    #[serde(default)]
    pub overlap_seconds: Option<i64>,
}

/// A webhook endpoint, never with its secret or its header values.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The names of the endpoint's own request headers (their values are write-only).
    pub header_names: Vec<String>,
    pub workflow_ids: Vec<String>,
    pub ed25519: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Since when deliveries have been failing, if they are.
    #[schema(format = DateTime, required = true)]
    pub failing_since: Option<String>,
    /// Why the server disabled the endpoint (410 Gone, failing for a day).
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub disabled_at: Option<String>,
    /// Until when the secret before the last rotation still signs.
    #[schema(format = DateTime, required = true)]
    pub previous_secret_expires_at: Option<String>,
}

/// An endpoint with its signing secret: only the answers that create or rotate it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_...`, shown only in this answer.
    pub secret: String,
}

/// Every endpoint, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
    pub total: usize,
}

/// The server's Ed25519 public key, which verifies `v1a` signatures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Always `v1a`.
    pub signature_version: String,
    /// `whpk_<base64>`.
    pub public_key: String,
}

/// One attempt to send a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    #[schema(format = DateTime)]
    pub at: String,
    /// The receiver's HTTP status, `null` when none came back.
    #[schema(required = true)]
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the receiver's answer.
    #[schema(required = true)]
    pub response: Option<String>,
    /// Why the attempt failed, if it did.
    #[schema(required = true)]
    pub error: Option<String>,
}

impl From<&AttemptRecord> for AttemptView {
    fn from(a: &AttemptRecord) -> Self {
        AttemptView {
            at: iso(a.at),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response: a.response.clone(),
            error: a.error.clone(),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (`nextAttemptAt`), or being sent.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: out of time, or the endpoint answered 410.
    Failed,
}

impl From<DeliveryState> for DeliveryStatus {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Pending => DeliveryStatus::Pending,
            DeliveryState::Delivered => DeliveryStatus::Delivered,
            DeliveryState::Failed => DeliveryStatus::Failed,
        }
    }
}

/// A delivery of one event to one endpoint, with its attempts (oldest first).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    #[schema(required = true)]
    pub session_id: Option<String>,
    pub sequence: i64,
    pub state: DeliveryStatus,
    pub attempts: Vec<AttemptView>,
    /// When the next attempt is due; `null` unless pending.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the server stops trying.
    #[schema(format = DateTime)]
    pub deadline: String,
}

impl DeliveryView {
    /// The view of `d` with its `attempts`.
    pub fn new(d: &DeliveryRecord, attempts: &[&AttemptRecord]) -> Self {
        DeliveryView {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_kind.clone(),
            session_id: d.session_id.clone(),
            sequence: d.sequence,
            state: d.state.into(),
            attempts: attempts.iter().map(|a| AttemptView::from(*a)).collect(),
            next_attempt_at: (d.state == DeliveryState::Pending).then(|| iso(d.next_at)),
            created_at: iso(d.created_at),
            deadline: iso(d.deadline),
        }
    }
}

/// A page of the delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// The `before` of the following page; `null` on the last one.
    #[schema(required = true)]
    pub next: Option<String>,
}

/// A delivery of one of a session's events, with the endpoint it goes to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDelivery {
    pub webhook_id: String,
    #[serde(flatten)]
    pub delivery: DeliveryView,
}

/// `GET /api/sessions/{id}/deliveries`: the session's deliveries to every endpoint, newest
/// first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDeliveries {
    pub items: Vec<SessionDelivery>,
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayQueued {
    pub queued: u64,
}

/// The `webhook.test` event just queued and its delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSent {
    pub event_id: String,
    pub delivery_id: String,
}

/// The query of `GET /api/webhooks/{id}/deliveries` (nothing else is accepted).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// 1 to 500; 50 when left out.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub before: Option<String>,
}

/// The query of `POST /api/webhooks/{id}/replay` (nothing else is accepted).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// Replay the events created at or after this time: ISO-8601 (`2026-01-31T10:00:00Z`) or
    /// milliseconds since 1970.
    pub since: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deliveries_keep_their_json_shape() {
        let d = DeliveryRecord {
            id: "7".into(),
            webhook_id: "w".into(),
            event_id: "e".into(),
            event_kind: "session.created".into(),
            session_id: None,
            sequence: 3,
            state: DeliveryState::Pending,
            attempts: 1,
            next_at: 2_000,
            locked_until: None,
            created_at: 0,
            deadline: 9_000,
            last_status: Some(500),
            last_error: None,
            body: "{}".into(),
        };
        let a = AttemptRecord {
            delivery_id: "7".into(),
            webhook_id: "w".into(),
            at: 1_000,
            status_code: Some(500),
            latency_ms: 12,
            response: Some("oops".into()),
            error: None,
        };
        let expected = json!({
            "id": "7",
            "eventId": "e",
            "eventType": "session.created",
            "sessionId": null,
            "sequence": 3,
            "state": "pending",
            "attempts": [{"at": "1970-01-01T00:00:01.000Z", "statusCode": 500, "latencyMs": 12, "response": "oops", "error": null}],
            "nextAttemptAt": "1970-01-01T00:00:02.000Z",
            "createdAt": "1970-01-01T00:00:00.000Z",
            "deadline": "1970-01-01T00:00:09.000Z",
        });
        // Compared as text: the field order is part of the answer.
        assert_eq!(
            serde_json::to_string(&DeliveryView::new(&d, &[&a])).unwrap(),
            expected.to_string()
        );
        let done = DeliveryRecord {
            state: DeliveryState::Delivered,
            ..d
        };
        let v = serde_json::to_value(DeliveryView::new(&done, &[])).unwrap();
        assert_eq!(
            (v["state"].as_str(), &v["nextAttemptAt"]),
            (Some("delivered"), &Value::Null)
        );
    }

    #[test]
    fn rotation_bodies() {
        let i: RotateSecretInput = serde_json::from_value(json!({"overlapSeconds": 60})).unwrap();
        assert_eq!(i.overlap_seconds, Some(60));
        let i: RotateSecretInput = serde_json::from_value(json!({"overlapSeconds": null})).unwrap();
        assert_eq!(i.overlap_seconds, None);
        for bad in [
            json!({"overlap": 60}),
            json!({"overlapSeconds": 1.5}),
            json!({"overlapSeconds": "60"}),
        ] {
            assert!(
                serde_json::from_value::<RotateSecretInput>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
