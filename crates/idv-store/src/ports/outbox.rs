//! The `OutboxStore` port: webhook endpoints and their deliveries (the outbox).

use crate::{
    AttemptOutcome, AttemptRecord, DeliveryId, DeliveryRecord, SessionId, StoreResult, WebhookId,
    WebhookRecord, WebhookSecrets,
};
use async_trait::async_trait;

/// Webhook endpoints and their deliveries (the outbox).
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Inserts an endpoint; `Conflict` when its id is taken.
    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()>;

    async fn webhook_get(&self, id: WebhookId<'_>) -> StoreResult<Option<WebhookRecord>>;

    /// All endpoints, oldest first.
    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>>;

    /// Replaces every field but `id`, `created_at` and `owner_id`. False when unknown.
    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool>;

    /// Replaces an endpoint's secret columns with `new` when they still hold `old` (compare and
    /// swap; every other column is left alone). False when unknown or changed since read.
    async fn webhook_reseal(
        &self,
        id: WebhookId<'_>,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool>;

    /// Deletes the endpoint with its deliveries and their attempts. False when unknown.
    async fn webhook_delete(&self, id: WebhookId<'_>) -> StoreResult<bool>;

    /// Claims up to `limit` due deliveries of enabled endpoints: pending, `next_at <= now`, not
    /// under a lease, and each the first pending one of its (endpoint, session) by sequence,
    /// so one session's events reach one endpoint in order. Sets `locked_until = now +
    /// lease_ms` (the claim's token), adds one to `attempts`, and returns them with their
    /// bodies, earliest `next_at` first. Claimers in several processes never share a delivery
    /// while its lease holds.
    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    /// Ends the claim `claimed` (as returned by [`OutboxStore::delivery_claim`]) in one transaction:
    /// records `attempt`, moves the delivery to `outcome.state` / `outcome.next_at` and
    /// updates its endpoint's health (see [`AttemptOutcome`]). `None` when the claim was lost
    /// (its lease ran out and another worker took the delivery; the attempt is still
    /// recorded); otherwise whether this disabled the endpoint.
    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>>;

    /// When a worker should next look: the earliest `next_at` (or lease end + 1) of a
    /// delivery that [`OutboxStore::delivery_claim`] could then take.
    async fn delivery_next_due(&self) -> StoreResult<Option<i64>>;

    /// Deliveries of an endpoint, newest first, those with an id below `before` when given.
    async fn delivery_list(
        &self,
        webhook_id: WebhookId<'_>,
        before: Option<DeliveryId<'_>>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    /// Deliveries of one session's events to any endpoint, newest first, at most `limit`.
    async fn delivery_list_for_session(
        &self,
        session_id: SessionId<'_>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    async fn delivery_get(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
    ) -> StoreResult<Option<DeliveryRecord>>;

    /// Attempts of these deliveries, oldest first.
    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>>;

    /// Queues a delivery again now (pending, `next_at = now`, a new `deadline`, `attempts` back
    /// to 0 so its backoff starts over; the attempt log stays), unless a worker holds it. False
    /// when unknown or held.
    async fn delivery_retry(
        &self,
        webhook_id: WebhookId<'_>,
        id: DeliveryId<'_>,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool>;

    /// Queues, for the endpoint, a new delivery of every kept session event created at or
    /// after `since` that its filters select. Returns how many.
    async fn delivery_replay(
        &self,
        webhook_id: WebhookId<'_>,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64>;

    /// Retention: deletes finished deliveries (with their attempts) created before `before`,
    /// then events created before it that no pending delivery needs. Returns how many rows.
    async fn outbox_prune(&self, before: i64) -> StoreResult<u64>;
}
