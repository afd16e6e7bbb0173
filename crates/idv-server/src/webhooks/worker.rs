//! The webhook delivery worker: takes due deliveries from the outbox and POSTs them to their
//! endpoints, signed, then records the attempt and what follows from it.
//!
//! One loop per process ([`run`], started by `serve`) claims due deliveries under a lease
//! ([`idv_store::Store::delivery_claim`]) and sends up to `services.webhooks.concurrency` at
//! once. Under load it claims up to `concurrency` more than it can send at that moment and
//! keeps them ready, so that a send slot freed is filled without a claim of its own; one ready
//! for so long that its lease would lapse before a send could end is left to be claimed again.
//! The store hands out only the first pending delivery of each (endpoint, session), so one
//! session's events reach an endpoint in sequence order, and a claim is never shared while its
//! lease holds, so several processes on one database never send a delivery twice at once.
//!
//! Delivery is at least once: a process that dies mid-send never records the attempt, its lease
//! lapses and some process sends the delivery again, with the same `webhook-id` (the event id)
//! so the receiver can drop the duplicate.
//!
//! The outcome of an attempt ([`super::attempt::outcome`], pure): a 2xx delivers; 410 Gone fails the delivery
//! and disables the endpoint; anything else (another status, a refused address, a timeout) is
//! tried again after the backoff of [`super::policy`] (or the receiver's `Retry-After` when
//! longer) until the delivery's deadline. An endpoint whose every attempt has failed for a day is
//! disabled too. Redirects are not followed (a redirected POST may arrive as a GET without its
//! body): a 3xx is a failure, so the endpoint's URL should be the final one.

use super::attempt::{Answer, RESPONSE_KEPT, outcome, request_headers};
use crate::outbound::{OutboundError, public_url_text};
use crate::state::AppState;
use idv_core::time::Clock as _;
use idv_store::{AttemptRecord, DeliveryRecord, NewAuditEntry, WebhookRecord};
use reqwest::header;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a stopping worker lets sends in flight finish before it abandons them (their
/// leases then lapse and they are sent again).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to wait after the database refused a claim.
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// How long the worker trusts what it read of the endpoints. Only an enabled endpoint's
/// deliveries can be claimed, so while there is none the worker makes no claim at all: without
/// this, every session change woke the worker into a claim and a due-time read that found
/// nothing (on PostgreSQL, eight statements per event). An endpoint created or enabled (in any
/// process) is noticed within this time.
const ENDPOINTS_TRUSTED: Duration = Duration::from_secs(1);

/// Whether any webhook endpoint is enabled, read from the store at most once per
/// [`ENDPOINTS_TRUSTED`].
#[derive(Default)]
struct EndpointsSeen {
    read: Option<(Instant, bool)>,
}

impl EndpointsSeen {
    async fn any(&mut self, state: &AppState) -> bool {
        if let Some((at, any)) = self.read
            && at.elapsed() < ENDPOINTS_TRUSTED
        {
            return any;
        }
        let any = match state.store.webhook_list().await {
            Ok(list) => list.iter().any(|w| w.enabled),
            // Unknown: claim, which reports the database's trouble itself.
            Err(_) => true,
        };
        self.read = Some((Instant::now(), any));
        any
    }
}

/// Delivers webhooks until `shutdown`. Returns at once when `services.webhooks.enabled` is
/// false.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let cfg = state.config.services.webhooks.clone();
    if !cfg.enabled {
        return;
    }
    let concurrency = cfg.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    // Told when a send ends: the next delivery of its (endpoint, session) may be due now.
    let finished = Arc::new(Notify::new());
    let poll = Duration::from_millis(cfg.poll_interval.max(1));
    let mut tasks = JoinSet::new();
    let mut endpoints = EndpointsSeen::default();
    // Claimed ahead, waiting for a free send: up to `concurrency` beyond the sends in flight, so
    // under load a claim takes many deliveries at once instead of one per ended send (each
    // claim walks the due index), without waiting to gather them.
    let mut ready: VecDeque<(DeliveryRecord, WebhookRecord)> = VecDeque::new();
    loop {
        if ready.is_empty() && !endpoints.any(&state).await {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(ENDPOINTS_TRUSTED) => {}
            }
            while tasks.try_join_next().is_some() {}
            continue;
        }
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let mut held = vec![first];
        while held.len() < concurrency {
            match permits.clone().try_acquire_owned() {
                Ok(p) => held.push(p),
                Err(_) => break,
            }
        }
        // What was claimed ahead goes first.
        while !held.is_empty() {
            let Some((delivery, endpoint)) = ready.pop_front() else {
                break;
            };
            if !lease_covers_send(&state, &delivery) {
                // Waited too long for a send: its lease lapses before the send could end, so it
                // is left to be claimed again then, never sent twice at once.
                continue;
            }
            let permit = held.pop().expect("a permit is held");
            spawn_send(&state, &mut tasks, &finished, permit, endpoint, delivery);
        }
        if held.is_empty() {
            while tasks.try_join_next().is_some() {}
            continue;
        }
        // Here nothing is ready (a free permit took every ready delivery), so the claim may
        // take `concurrency` beyond the free permits.
        // Armed before the claim, so events committed while it runs still wake the wait below.
        let woken = state.events_wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let now = state.clock.now_ms();
        let limit = held.len() + concurrency;
        let claimed = state
            .store
            .delivery_claim(now, cfg.lease_ms(), limit as i64)
            .await;
        match claimed {
            Ok(batch) if !batch.is_empty() => {
                let endpoints = endpoints_of(&state, &batch).await;
                for delivery in batch {
                    let Some(endpoint) = endpoints.get(&delivery.webhook_id).cloned().flatten()
                    else {
                        // Deleted or disabled since the claim (a deleted endpoint takes its
                        // deliveries along; a disabled one is not claimed once its lease lapses).
                        continue;
                    };
                    match held.pop() {
                        Some(permit) => {
                            spawn_send(&state, &mut tasks, &finished, permit, endpoint, delivery)
                        }
                        None => ready.push_back((delivery, endpoint)),
                    }
                }
                drop(held);
                while tasks.try_join_next().is_some() {}
            }
            Ok(_) => {
                drop(held);
                let wait = match state.store.delivery_next_due().await {
                    Ok(Some(at)) => {
                        let ms = (at - state.clock.now_ms()).max(10) as u64;
                        Duration::from_millis(ms).min(poll)
                    }
                    _ => poll,
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = &mut woken => {}
                    _ = finished.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                while tasks.try_join_next().is_some() {}
            }
            Err(e) => {
                drop(held);
                tracing::warn!("cannot claim webhook deliveries: {e}");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(CLAIM_RETRY) => {}
                }
            }
        }
    }
    // What was claimed ahead is sent within the same grace rather than left to its lease.
    for (delivery, endpoint) in ready.drain(..) {
        if lease_covers_send(&state, &delivery) {
            let st = state.clone();
            tasks.spawn(async move { deliver(&st, &endpoint, delivery).await });
        }
    }
    // Sends in flight may finish; what is still going after the grace is abandoned and sent
    // again (same webhook-id) once its lease lapses.
    let drained = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE, drained).await.is_err() {
        tracing::info!(
            sends = tasks.len(),
            "webhook sends still in flight at shutdown were abandoned; they are sent again when their lease lapses"
        );
        tasks.shutdown().await;
    }
}

/// Whether a claimed delivery's lease still covers a whole send started now (the send may take
/// `services.webhooks.timeout`).
fn lease_covers_send(state: &AppState, delivery: &DeliveryRecord) -> bool {
    let timeout =
        i64::try_from(state.config.services.webhooks.timeout().as_millis()).unwrap_or(i64::MAX);
    covers(state.clock.now_ms(), timeout, delivery.locked_until)
}

/// Whether a lease held until `locked_until` (ms) outlasts a send of up to `timeout_ms` started
/// at `now`: a send that could still be running when the lease lapses is not started, since
/// another claim may then take the same delivery.
fn covers(now: i64, timeout_ms: i64, locked_until: Option<i64>) -> bool {
    locked_until.is_some_and(|until| now.saturating_add(timeout_ms) < until)
}

/// Sends one claimed delivery on its own task, holding `permit` until the attempt is recorded.
fn spawn_send(
    state: &AppState,
    tasks: &mut JoinSet<()>,
    finished: &Arc<Notify>,
    permit: tokio::sync::OwnedSemaphorePermit,
    endpoint: WebhookRecord,
    delivery: DeliveryRecord,
) {
    let st = state.clone();
    let done = finished.clone();
    tasks.spawn(async move {
        deliver(&st, &endpoint, delivery).await;
        drop(permit);
        done.notify_one();
    });
}

/// The enabled endpoints of a batch, by id (`None`: deleted or disabled since the claim, or
/// unreadable now).
async fn endpoints_of(
    state: &AppState,
    batch: &[DeliveryRecord],
) -> HashMap<String, Option<WebhookRecord>> {
    let mut out = HashMap::new();
    for d in batch {
        if out.contains_key(&d.webhook_id) {
            continue;
        }
        // In the clear: the secrets sign, the header values are sent.
        let endpoint = match crate::ops::webhooks::load(state, &d.webhook_id).await {
            Ok(w) => w.filter(|w| w.enabled),
            Err(e) => {
                // Its deliveries are sent again once their lease lapses.
                tracing::warn!(webhook = %d.webhook_id, "cannot read the webhook endpoint: {}", e.0.message);
                None
            }
        };
        out.insert(d.webhook_id.clone(), endpoint);
    }
    out
}

/// One attempt: sends, records the attempt and the delivery's next state, and reports an
/// endpoint this disabled.
async fn deliver(state: &AppState, endpoint: &WebhookRecord, delivery: DeliveryRecord) {
    let cfg = &state.config.services.webhooks;
    let at = state.clock.now_ms();
    let started = Instant::now();
    let result = send(state, endpoint, &delivery, at, cfg.timeout()).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = state.clock.now_ms();
    let ok = result
        .as_ref()
        .is_ok_and(|a| (200..300).contains(&a.status));
    let lag = ok.then(|| {
        std::time::Duration::from_millis(u64::try_from(now - delivery.created_at).unwrap_or(0))
    });
    state.metrics.webhook_attempt(ok, lag);
    let attempt = AttemptRecord {
        delivery_id: delivery.id.clone(),
        webhook_id: delivery.webhook_id.clone(),
        at,
        status_code: result.as_ref().ok().map(|a| i32::from(a.status)),
        latency_ms,
        response: result
            .as_ref()
            .ok()
            .map(|a| String::from_utf8_lossy(&a.body).into_owned()),
        error: result.as_ref().err().cloned(),
    };
    let outcome = outcome(
        &result,
        &delivery,
        endpoint.failing_since,
        now,
        cfg.retry_base_ms(),
        rand::random::<f64>(),
    );
    match state
        .store
        .delivery_finish(&delivery, &attempt, &outcome)
        .await
    {
        Ok(Some(true)) => {
            let reason = outcome.disable.unwrap_or_default();
            endpoint_disabled(state, endpoint, &reason, now).await;
        }
        Ok(Some(false)) => {}
        Ok(None) => tracing::info!(
            delivery = %delivery.id,
            webhook = %delivery.webhook_id,
            "a webhook delivery outlived its lease; another worker has taken it over"
        ),
        Err(e) => tracing::warn!(
            delivery = %delivery.id,
            webhook = %delivery.webhook_id,
            "cannot record a webhook delivery attempt (it is sent again when its lease lapses): {e}"
        ),
    }
}

/// Logs and audits an endpoint the worker disabled.
async fn endpoint_disabled(state: &AppState, endpoint: &WebhookRecord, reason: &str, now: i64) {
    let url = public_url_text(&endpoint.url);
    tracing::warn!(webhook = %endpoint.id, %url, "webhook endpoint disabled: {reason}");
    state
        .audit
        .record(NewAuditEntry {
            at: now,
            actor_id: None,
            actor_kind: "system".into(),
            actor_name: Some("webhooks".into()),
            action: "webhook.disabled".into(),
            target: Some(endpoint.id.clone()),
            outcome: 200,
            ip: None,
            request_id: None,
            details: json!({"reason": reason, "url": url}),
        })
        .await;
}

/// POSTs the delivery's stored body to the endpoint, signed, and reads the start of the answer.
/// `now` is the attempt's time on the server's clock (for the rotation overlap). The error is
/// the attempt log's text.
async fn send(
    state: &AppState,
    endpoint: &WebhookRecord,
    delivery: &DeliveryRecord,
    now: i64,
    timeout: Duration,
) -> Result<Answer, String> {
    let key = if endpoint.ed25519 {
        let key = super::keys::server_key(state).await.map_err(|e| {
            format!(
                "cannot load the server's Ed25519 signing key: {}",
                e.0.message
            )
        })?;
        Some(key)
    } else {
        None
    };
    // The receiver checks the timestamp against its own clock, so it is the real time even
    // when the server's clock is moved (tests).
    let timestamp = idv_core::time::SystemClock.now_ms() / 1000;
    let headers = request_headers(endpoint, delivery, now, timestamp, key.as_deref())?;
    let body = reqwest::Body::from(delivery.body.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    // Bounds connecting, sending and the wait for the answer's head.
    let mut resp = state
        .outbound
        .stream(reqwest::Method::POST, &endpoint.url, headers, body, timeout)
        .await
        .map_err(|e| match e {
            OutboundError::Timeout => timed_out(timeout),
            other => other.to_string(),
        })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The status decides; the body is only logged, so a slow or broken one keeps what arrived
    // by the deadline.
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_KEPT);
    Ok(Answer {
        status,
        retry_after,
        body: kept,
    })
}

fn timed_out(timeout: Duration) -> String {
    format!(
        "no answer within {} s (services.webhooks.timeout); the endpoint is slow or unreachable",
        timeout.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn a_ready_delivery_is_sent_only_while_its_lease_outlasts_the_send() {
        // Leased until 40_000; sends time out after 10 s.
        assert!(covers(20_000, 10_000, Some(40_000)), "20 s of lease left");
        assert!(
            covers(29_999, 10_000, Some(40_000)),
            "the send ends 1 ms before the lapse"
        );
        assert!(
            !covers(30_000, 10_000, Some(40_000)),
            "the send could end just as the lease lapses: another claim may take it"
        );
        assert!(!covers(35_000, 10_000, Some(40_000)), "waited too long");
        assert!(!covers(50_000, 10_000, Some(40_000)), "already lapsed");
        assert!(!covers(0, 10_000, None), "not leased: never sent from here");
        assert!(
            !covers(i64::MAX - 5, 10_000, Some(i64::MAX)),
            "no overflow at the end of time"
        );
    }
}
