//! The `EventStore` port: events: the feed of session events, and events about no session.

use crate::{EventPage, EventQuery, NewEvent, StoreResult, WebhookId};
use async_trait::async_trait;

/// Events: the feed of session events, and events about no session.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores an event about no session (sequence 0, not in the feed) and queues it for the
    /// endpoint `webhook_id` alone, whatever the endpoint's filters: `webhook.test`. Returns
    /// the delivery's id.
    async fn event_publish(
        &self,
        event: &NewEvent,
        webhook_id: WebhookId<'_>,
    ) -> StoreResult<String>;

    /// Session events after `query.after`, in commit order: an event committed later never
    /// sorts before one already returned, so a reader that follows `next` misses none. At most
    /// `query.limit`. To keep that promise an adapter may show a committed event only once
    /// every write transaction that began before it has ended (PostgreSQL does).
    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage>;

    /// The cursor of the last event [`EventStore::events_after`] shows now (`None` when it shows
    /// none): a reader that starts there sees only events that become visible later.
    async fn events_end(&self) -> StoreResult<Option<String>>;
}
