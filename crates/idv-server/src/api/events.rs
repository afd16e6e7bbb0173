//! Response bodies: the event feed (`GET /api/events`). Each item is the event's stored body,
//! byte for byte what webhooks deliver.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One event: `{id, type, createdAt, sequence, data}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Event {
    /// `evt_` + 24 hex characters: the `webhook-id` of its deliveries.
    pub id: String,
    /// session.created, session.step_completed, session.status_changed, session.completed,
    /// session.expired, session.deleted or webhook.test.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub sequence: i64,
    /// For session events `{sessionId, workflowId, status, previousStatus, step}`
    /// (`{sessionId}` for session.deleted); `{webhookId}` for webhook.test.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// The cursor to continue after this page (`?after=`); null when nothing was read.
    pub next: Option<String>,
}
