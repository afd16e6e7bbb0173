//! Statements of the adapters' `outbox` modules.

/// Run by `outbox::write_events`.
pub const WRITE_EVENTS: &str =
    "UPDATE sessions SET event_seq = event_seq + $2 WHERE id = $1 RETURNING event_seq";

/// Run by `outbox::insert_event`.
pub const INSERT_EVENT: &str = "INSERT INTO events (id, kind, session_id, workflow_id, owner_id, sequence, created_at, \
         body, feed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Run by `outbox::publish`.
pub const PUBLISH: &str = "INSERT INTO webhook_deliveries (webhook_id, event_id, event_kind, session_id, sequence, \
         state, attempts, next_at, created_at, deadline) \
         VALUES ($1, $2, $3, NULL, 0, 'pending', 0, $4, $4, $5) RETURNING id";

/// Run by `outbox::webhook_delete`.
pub const WEBHOOK_DELETE: &str = "DELETE FROM webhooks WHERE id = $1";

/// Run by `outbox::finish`.
pub const FINISH: &str = "INSERT INTO webhook_attempts (delivery_id, webhook_id, at, status_code, latency_ms, \
         response, error) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Run by `outbox::finish`.
pub const FINISH_2: &str = "UPDATE webhook_deliveries SET state = $3, next_at = $4, locked_until = NULL, \
         last_status = $5, last_error = $6 WHERE id = $1 AND locked_until = $2";

/// Run by `outbox::finish`.
pub const FINISH_3: &str =
    "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL";

/// Run by `outbox::finish`.
pub const FINISH_4: &str =
    "UPDATE webhooks SET failing_since = coalesce(failing_since, $2) WHERE id = $1";

/// Run by `outbox::retry`.
pub const RETRY: &str = "UPDATE webhook_deliveries SET state = 'pending', next_at = $3, locked_until = NULL, \
         attempts = 0, \
         deadline = $4 WHERE webhook_id = $1 AND id = $2 \
         AND (locked_until IS NULL OR locked_until < $3)";

/// Run by `outbox::prune`.
pub const PRUNE: &str =
    "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1";

/// Run by `outbox::prune`.
pub const PRUNE_2: &str = "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)";

/// The functions of the adapters' `outbox` modules that are the same in both, word for word:
/// `window`, `webhook_from_row`, `webhook_delete`, `delivery_from_row`, `delivery_id`, `list`,
/// `list_for_session`, `get`, `retry`. Expanded inside each adapter's module, so the names they use (`Db`, `DbRow`,
/// `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! outbox_fns {
    () => {
        /// How many candidates a claim of `limit` looks at.
        fn window(limit: i64) -> i64 {
            (limit * 16).max(256)
        }

        fn webhook_from_row(row: &DbRow) -> StoreResult<WebhookRecord> {
            let events: String = col(row, "events")?;
            let workflows: String = col(row, "workflow_ids")?;
            Ok(WebhookRecord {
                id: col(row, "id")?,
                url: col(row, "url")?,
                events: unwrap_list(&events),
                enabled: col(row, "enabled")?,
                description: col(row, "description")?,
                headers: json_col(row, "headers")?,
                workflow_ids: unwrap_list(&workflows),
                secret: col(row, "secret")?,
                previous_secret: col(row, "previous_secret")?,
                previous_secret_until: col(row, "previous_secret_until")?,
                ed25519: col(row, "ed25519")?,
                owner_id: col(row, "owner_id")?,
                created_at: col(row, "created_at")?,
                updated_at: col(row, "updated_at")?,
                failing_since: col(row, "failing_since")?,
                disabled_reason: col(row, "disabled_reason")?,
                disabled_at: col(row, "disabled_at")?,
            })
        }

        pub(crate) async fn webhook_delete(db: &Db, id: &str) -> StoreResult<bool> {
            // Deliveries and their attempts go by the foreign keys' cascade.
            let done = sqlx::query(idv_store_sql::outbox::WEBHOOK_DELETE)
                .bind(id)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }

        fn delivery_from_row(row: &DbRow) -> StoreResult<DeliveryRecord> {
            let id: i64 = col(row, "id")?;
            let state: String = col(row, "state")?;
            Ok(DeliveryRecord {
                id: id.to_string(),
                webhook_id: col(row, "webhook_id")?,
                event_id: col(row, "event_id")?,
                event_kind: col(row, "event_kind")?,
                session_id: col(row, "session_id")?,
                sequence: col(row, "sequence")?,
                state: DeliveryState::parse(&state)
                    .ok_or_else(|| StoreError::backend(format!("unknown delivery state {state}")))?,
                attempts: col(row, "attempts")?,
                next_at: col(row, "next_at")?,
                locked_until: col(row, "locked_until")?,
                created_at: col(row, "created_at")?,
                deadline: col(row, "deadline")?,
                last_status: col(row, "last_status")?,
                last_error: col(row, "last_error")?,
                body: String::new(),
            })
        }

        /// A delivery id as the database keeps it; an id that is no number names no delivery.
        fn delivery_id(id: &str) -> Option<i64> {
            id.parse().ok()
        }

        pub(crate) async fn list(
            db: &Db,
            webhook_id: &str,
            before: Option<&str>,
            limit: i64,
        ) -> StoreResult<Vec<DeliveryRecord>> {
            let before = match before {
                None => i64::MAX,
                Some(b) => match delivery_id(b) {
                    Some(b) => b,
                    None => return Ok(vec![]),
                },
            };
            let rows = sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2 \
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(webhook_id)
            .bind(before)
            .bind(limit)
            .fetch_all(db.read())
            .await
            .map_err(backend)?;
            map_rows(rows, delivery_from_row)
        }

        pub(crate) async fn list_for_session(
            db: &Db,
            session_id: &str,
            limit: i64,
        ) -> StoreResult<Vec<DeliveryRecord>> {
            let rows = sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE session_id = $1 \
                 ORDER BY id DESC LIMIT $2"
            ))
            .bind(session_id)
            .bind(limit)
            .fetch_all(db.read())
            .await
            .map_err(backend)?;
            map_rows(rows, delivery_from_row)
        }

        pub(crate) async fn get(
            db: &Db,
            webhook_id: &str,
            id: &str,
        ) -> StoreResult<Option<DeliveryRecord>> {
            let Some(id) = delivery_id(id) else {
                return Ok(None);
            };
            sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2"
            ))
            .bind(webhook_id)
            .bind(id)
            .fetch_optional(db.read())
            .await
            .map_err(backend)?
            .as_ref()
            .map(delivery_from_row)
            .transpose()
        }

        pub(crate) async fn retry(
            db: &Db,
            webhook_id: &str,
            id: &str,
            now: i64,
            deadline: i64,
        ) -> StoreResult<bool> {
            let Some(id) = delivery_id(id) else {
                return Ok(false);
            };
            let done = sqlx::query(
                idv_store_sql::outbox::RETRY,
            )
            .bind(webhook_id)
            .bind(id)
            .bind(now)
            .bind(deadline)
            .execute(db.write())
            .await
            .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }
    };
}

/// Run by `HealthStore::delivery_backlog`: pending deliveries and the oldest one's creation
/// (the partial index on pending deliveries holds them).
pub const BACKLOG: &str =
    "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries WHERE state = 'pending'";
