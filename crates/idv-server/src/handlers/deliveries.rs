//! The delivery log of a webhook endpoint and the ways to send again: retry one delivery,
//! replay every event since a time, send a `webhook.test` event.
//!
//! Everything sent again goes through the outbox like a new event, with the event's id as its
//! `webhook-id`, so a receiver that already has the event can tell it is a duplicate. After
//! queuing, this process's delivery worker is woken so the send starts at once.

use super::Caller;
use crate::api::webhooks::{
    DeliveryPage, DeliveryView, ReplayQueued, SessionDeliveries, SessionDelivery, TestSent,
};
use crate::error::{ApiError, ApiResult};
use crate::routes::query_param;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use idv_core::ErrorCode;
use idv_store::{AttemptRecord, DELIVERY_WINDOW_MS, DeliveryRecord, NewEvent};
use idv_store::{DeliveryId, SessionId, WebhookId};
use serde_json::json;
use std::collections::HashMap;

/// The query parameters each route accepts (besides `authorization`), as the API document
/// declares them ([`crate::api::webhooks::DeliveryListQuery`], [`crate::api::webhooks::ReplayQuery`]).
const LIST_PARAMS: &[&str] = &["limit", "before"];
const REPLAY_PARAMS: &[&str] = &["since"];
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

fn bad(name: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("query parameter `{name}`: {what}"),
    )
}

/// Refuses query parameters other than `known` (and `authorization`, which carries credentials).
fn only_known(query: &str, known: &[&str]) -> ApiResult<()> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        if name != "authorization" && !known.contains(&name) {
            let hint = if known.is_empty() {
                "this endpoint takes none".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(bad(name, &format!("unknown parameter; {hint}")));
        }
    }
    Ok(())
}

/// The deliveries as the API shows them, with their attempts read in one query.
async fn with_attempts(state: &AppState, rows: &[DeliveryRecord]) -> ApiResult<Vec<DeliveryView>> {
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let attempts = state.store.delivery_attempts(&ids).await?;
    let mut by_delivery: HashMap<&str, Vec<&AttemptRecord>> = HashMap::new();
    for a in &attempts {
        by_delivery
            .entry(a.delivery_id.as_str())
            .or_default()
            .push(a);
    }
    Ok(rows
        .iter()
        .map(|d| {
            let list = by_delivery
                .get(d.id.as_str())
                .map_or(&[][..], Vec::as_slice);
            DeliveryView::new(d, list)
        })
        .collect())
}

/// `?limit=`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn limit_of(query: &str) -> ApiResult<i64> {
    match query_param(query, "limit").filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    &format!("`{v}` must be a number from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// `GET /api/sessions/{id}/deliveries?limit=`: the deliveries of the session's events to every
/// endpoint, newest first (none for a session without any, or one that never existed).
pub async fn for_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<SessionDeliveries>> {
    let query = uri.query().unwrap_or("");
    only_known(query, &["limit"])?;
    let limit = limit_of(query)?;
    let rows = state
        .store
        .delivery_list_for_session(SessionId::new(&id), limit)
        .await?;
    let views = with_attempts(&state, &rows).await?;
    Ok(Json(SessionDeliveries {
        items: rows
            .iter()
            .zip(views)
            .map(|(d, delivery)| SessionDelivery {
                webhook_id: d.webhook_id.clone(),
                delivery,
            })
            .collect(),
    }))
}

/// `GET /api/webhooks/{id}/deliveries?limit=&before=`: newest first; `next` is the `before` of
/// the following page.
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<DeliveryPage>> {
    let query = uri.query().unwrap_or("");
    only_known(query, LIST_PARAMS)?;
    let get = |name: &str| query_param(query, name).filter(|v| !v.is_empty());
    let limit = limit_of(query)?;
    let before = get("before");
    if let Some(b) = &before
        && (b.is_empty() || b.len() > 19 || !b.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(bad(
            "before",
            &format!("`{b}` must be the `next` value of a previous page (a delivery id)"),
        ));
    }
    crate::ops::webhooks::get(&state, &id).await?;
    let rows = state
        .store
        .delivery_list(
            WebhookId::new(&id),
            before.as_deref().map(DeliveryId::new),
            limit,
        )
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|d| d.id.clone()))
        .flatten();
    Ok(Json(DeliveryPage {
        items: with_attempts(&state, &rows).await?,
        next,
    }))
}

/// `POST /api/webhooks/{id}/deliveries/{delivery}/retry`: queues the delivery again now, with a
/// new 3-day deadline. 409 while a worker is sending it.
pub async fn retry(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    only_known(uri.query().unwrap_or(""), &[])?;
    crate::ops::webhooks::get(&state, &id).await?;
    let not_found = || {
        ApiError::new(
            ErrorCode::DeliveryNotFound,
            format!(
                "webhook {id} has no delivery {delivery}; GET /api/webhooks/{id}/deliveries lists them"
            ),
        )
    };
    if state
        .store
        .delivery_get(WebhookId::new(&id), DeliveryId::new(&delivery))
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    let now = state.clock.now_ms();
    let queued = state
        .store
        .delivery_retry(
            WebhookId::new(&id),
            DeliveryId::new(&delivery),
            now,
            now + DELIVERY_WINDOW_MS,
        )
        .await?;
    if !queued {
        return Err(ApiError::new(
            ErrorCode::DeliveryInProgress,
            format!(
                "delivery {delivery} is being sent right now; retry it once this attempt has ended"
            ),
        ));
    }
    state.events_committed();
    let d = state
        .store
        .delivery_get(WebhookId::new(&id), DeliveryId::new(&delivery))
        .await?
        .ok_or_else(not_found)?;
    let mut items = with_attempts(&state, std::slice::from_ref(&d)).await?;
    Ok((StatusCode::ACCEPTED, Json(items.remove(0))))
}

/// `POST /api/webhooks/{id}/replay?since=`: queues a new delivery of every kept session event
/// created at or after `since` that the endpoint's filters select.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<(StatusCode, Json<ReplayQueued>)> {
    let query = uri.query().unwrap_or("");
    only_known(query, REPLAY_PARAMS)?;
    let since = match query_param(query, "since").filter(|v| !v.is_empty()) {
        Some(v) => super::audit::parse_time("since", &v)?,
        None => {
            return Err(bad(
                "since",
                "is required: the time to replay events from, as ISO-8601 like 2026-01-31T10:00:00Z or milliseconds since 1970",
            ));
        }
    };
    crate::ops::webhooks::get(&state, &id).await?;
    let now = state.clock.now_ms();
    let queued = state
        .store
        .delivery_replay(WebhookId::new(&id), since, now, now + DELIVERY_WINDOW_MS)
        .await?;
    if queued > 0 {
        state.events_committed();
    }
    Ok((StatusCode::ACCEPTED, Json(ReplayQueued { queued })))
}

/// `POST /api/webhooks/{id}/test`: a `webhook.test` event for this endpoint alone, whatever
/// event types it selects.
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<(StatusCode, Json<TestSent>)> {
    only_known(uri.query().unwrap_or(""), &[])?;
    crate::ops::webhooks::get(&state, &id).await?;
    let event = NewEvent {
        id: crate::events::new_event_id(),
        kind: crate::events::WEBHOOK_TEST.into(),
        created_at: state.clock.now_ms(),
        session_id: None,
        workflow_id: None,
        owner_id: Some(caller.id.clone()),
        data: json!({"webhookId": id}),
    };
    let delivery = state
        .store
        .event_publish(&event, WebhookId::new(&id))
        .await?;
    state.events_committed();
    Ok((
        StatusCode::ACCEPTED,
        Json(TestSent {
            event_id: event.id,
            delivery_id: delivery,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::webhooks::{DeliveryListQuery, ReplayQuery};
    use utoipa::IntoParams;

    fn names<P: IntoParams>() -> Vec<String> {
        P::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn the_declared_parameters_are_the_accepted_ones() {
        assert_eq!(names::<DeliveryListQuery>(), LIST_PARAMS);
        assert_eq!(names::<ReplayQuery>(), REPLAY_PARAMS);
        assert!(only_known("limit=5&before=9&authorization=x", LIST_PARAMS).is_ok());
        assert!(only_known("since=1&limit=5", REPLAY_PARAMS).is_err());
    }
}
