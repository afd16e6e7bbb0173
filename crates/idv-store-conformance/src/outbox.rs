//! The outbox: events stored with the change that caused them, numbered per session, fanned
//! out to the endpoints that select them, read back in commit order by the feed, and
//! delivered one at a time per (endpoint, session) under a lease.

use super::engine::{bumped, open_session};
use super::{assert_conflict, hex_id};
use idv_store::{
    AttemptOutcome, AttemptRecord, Deleter, DeliveryRecord, DeliveryState, EventQuery, NewEvent,
    SessionRecord, Store, WebhookRecord, WebhookSecrets,
};
use idv_store::{DeliveryId, SessionId, WebhookId};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const WORKFLOW: &str = "0b6f3c52-0000-4000-8000-000000000002";

fn webhook(n: u64, events: &[&str], workflows: &[&str], enabled: bool) -> WebhookRecord {
    WebhookRecord {
        id: hex_id(n),
        url: format!("https://hooks.example.com/{n}"),
        events: events.iter().map(|s| s.to_string()).collect(),
        enabled,
        description: Some(format!("endpoint {n} — ✓")),
        headers: json!({"x-tenant": "acme", "a-first": "1"}),
        workflow_ids: workflows.iter().map(|s| s.to_string()).collect(),
        secret: format!("whsec_secret{n}"),
        previous_secret: None,
        previous_secret_until: None,
        ed25519: n.is_multiple_of(2),
        owner_id: Some("admin".into()),
        created_at: n as i64,
        updated_at: n as i64,
        failing_since: None,
        disabled_reason: None,
        disabled_at: None,
    }
}

fn event(n: u64, kind: &str, s: &SessionRecord, at: i64) -> NewEvent {
    NewEvent {
        id: format!("evt_{}", hex_id(n)),
        kind: kind.into(),
        created_at: at,
        session_id: Some(s.id.clone()),
        workflow_id: Some(s.workflow_id.clone()),
        owner_id: s.owner_id.clone(),
        data: json!({"sessionId": s.id, "workflowId": s.workflow_id, "status": s.status}),
    }
}

fn feed(limit: i64) -> EventQuery {
    EventQuery {
        after: None,
        limit,
        kinds: vec![],
        owner_id: None,
    }
}

/// The feed until it shows at least `n` events (PostgreSQL shows an event once every write
/// transaction older than it has ended, which concurrent tests on the same server can delay).
async fn settled(store: &dyn Store, q: &EventQuery, n: usize) -> idv_store::EventPage {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = store.events_after(q).await.expect("events_after");
        if page.events.len() >= n || std::time::Instant::now() > give_up {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn outcome(state: DeliveryState, next_at: i64, success: bool) -> AttemptOutcome {
    AttemptOutcome {
        state,
        next_at,
        success,
        disable: None,
        disable_if_failing_since_before: None,
    }
}

fn attempt(d: &DeliveryRecord, at: i64, status: Option<i32>) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.id.clone(),
        webhook_id: d.webhook_id.clone(),
        at,
        status_code: status,
        latency_ms: 12,
        response: Some("ok — ✓".into()),
        error: status.is_none().then(|| "connection refused".into()),
    }
}

/// Endpoints, events, the feed, claims, attempts, retries, replays and pruning. Tables:
/// webhooks, webhook_deliveries, webhook_attempts and events (empty before, left empty), and
/// sessions of its own.
pub async fn check_outbox(store: &dyn Store) {
    assert_eq!(
        store.delivery_backlog().await.expect("delivery_backlog"),
        idv_store::Backlog::default(),
        "no backlog on an empty outbox"
    );
    // --- endpoints ---
    let a = webhook(
        0xeb_0001,
        &[
            "session.created",
            "session.status_changed",
            "session.deleted",
        ],
        &[],
        true,
    );
    let b = webhook(0xeb_0002, &["*"], &["another-workflow"], true);
    let c = webhook(0xeb_0003, &["*"], &[], false);
    for w in [&a, &b, &c] {
        store.webhook_create(w).await.expect("webhook_create");
    }
    assert_conflict(store.webhook_create(&a).await, "an endpoint id given twice");
    assert_eq!(
        store
            .webhook_get(WebhookId::new(&a.id))
            .await
            .expect("webhook_get"),
        Some(a.clone()),
        "an endpoint reads back as written, header order kept"
    );
    let listed: Vec<String> = store
        .webhook_list()
        .await
        .expect("webhook_list")
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, vec![a.id.clone(), b.id.clone(), c.id.clone()]);

    // --- events beside session changes ---
    assert_eq!(
        store.events_end().await.expect("events_end"),
        None,
        "an empty feed has no end cursor"
    );
    let mut s1 = open_session(0xeb_5001);
    s1.owner_id = Some("owner-1".into());
    s1.workflow_id = WORKFLOW.into();
    let mut s2 = open_session(0xeb_5002);
    s2.owner_id = Some("owner-2".into());
    s2.workflow_id = WORKFLOW.into();
    store
        .session_create(&s1, &[event(1, "session.created", &s1, 100)])
        .await
        .expect("create s1");
    let s1b = bumped(&s1);
    assert!(
        store
            .session_advance(
                &s1b,
                &[],
                &[],
                None,
                &[
                    event(2, "session.step_completed", &s1b, 101),
                    event(3, "session.status_changed", &s1b, 101),
                ],
            )
            .await
            .expect("advance s1"),
        "advance writes"
    );
    // A lost compare-and-swap writes no events.
    assert!(
        !store
            .session_update(&s1b, &[event(99, "session.status_changed", &s1b, 102)])
            .await
            .expect("stale update"),
        "a stale revision loses"
    );
    store
        .session_create(&s2, &[event(4, "session.created", &s2, 103)])
        .await
        .expect("create s2");
    let s1c = bumped(&s1b);
    assert!(
        store
            .session_update(&s1c, &[event(5, "session.status_changed", &s1c, 104)])
            .await
            .expect("update s1"),
        "update writes"
    );

    let page = settled(store, &feed(100), 5).await;
    let got: Vec<(String, i64)> = page
        .events
        .iter()
        .map(|e| (e.id.clone(), e.sequence))
        .collect();
    let want: Vec<(String, i64)> = [(1, 1), (2, 2), (3, 3), (4, 1), (5, 4)]
        .iter()
        .map(|(n, seq)| (format!("evt_{}", hex_id(*n)), *seq))
        .collect();
    assert_eq!(
        got, want,
        "the feed is in commit order, sequences count per session"
    );
    for e in &page.events {
        let body: Value = serde_json::from_str(&e.body).expect("the body is JSON");
        assert_eq!(body["id"], json!(e.id), "body id");
        assert_eq!(body["sequence"], json!(e.sequence), "body sequence");
        assert_eq!(body["type"], json!(e.kind), "body type");
    }
    assert_eq!(page.next, page.events.last().map(|e| e.cursor.clone()));
    assert_eq!(
        store.events_end().await.expect("events_end"),
        page.next,
        "the end is the last event's cursor"
    );

    // Paging by cursor.
    let first = store
        .events_after(&feed(2))
        .await
        .expect("first page")
        .events;
    assert_eq!(first.len(), 2);
    let rest = store
        .events_after(&EventQuery {
            after: Some(first[1].cursor.clone()),
            ..feed(100)
        })
        .await
        .expect("next page");
    assert_eq!(
        rest.events.iter().map(|e| &e.id).collect::<Vec<_>>(),
        page.events[2..].iter().map(|e| &e.id).collect::<Vec<_>>(),
        "the next page starts after the cursor"
    );
    let end = store
        .events_after(&EventQuery {
            after: page.next.clone(),
            ..feed(100)
        })
        .await
        .expect("past the end");
    assert!(end.events.is_empty(), "nothing after the last event");
    assert_eq!(end.next, page.next, "an empty page keeps the cursor");
    // Filters.
    let own = store
        .events_after(&EventQuery {
            owner_id: Some("owner-2".into()),
            ..feed(100)
        })
        .await
        .expect("own events");
    assert_eq!(
        own.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec![format!("evt_{}", hex_id(4)).as_str()],
        "only the owner's sessions"
    );
    let kinds = store
        .events_after(&EventQuery {
            kinds: vec!["session.status_changed".into()],
            ..feed(100)
        })
        .await
        .expect("by type");
    assert_eq!(kinds.events.len(), 2, "only the asked type");

    // --- fan-out: A selects created and status_changed of any workflow; B another workflow;
    // C is disabled ---
    let of = |id: String| async move {
        store
            .delivery_list(WebhookId::new(&id), None, 100)
            .await
            .expect("delivery_list")
    };
    let a_list = of(a.id.clone()).await;
    assert_eq!(
        a_list
            .iter()
            .map(|d| d.event_id.clone())
            .collect::<Vec<_>>(),
        [5, 4, 3, 1]
            .iter()
            .map(|n| format!("evt_{}", hex_id(*n)))
            .collect::<Vec<_>>(),
        "A gets the types it selects, newest first"
    );
    assert!(a_list.iter().all(|d| d.state == DeliveryState::Pending
        && d.attempts == 0
        && d.deadline == d.created_at + idv_store::DELIVERY_WINDOW_MS));
    assert!(
        of(b.id.clone()).await.is_empty(),
        "B selects another workflow"
    );
    assert!(of(c.id.clone()).await.is_empty(), "C is disabled");
    let older = store
        .delivery_list(
            WebhookId::new(&a.id),
            Some(DeliveryId::new(&a_list[1].id)),
            100,
        )
        .await
        .expect("before");
    assert_eq!(older, a_list[2..].to_vec(), "a page before an id");
    // One session's deliveries, whatever the endpoint.
    let of_session = |id: String, limit| async move {
        store
            .delivery_list_for_session(SessionId::new(&id), limit)
            .await
            .expect("delivery_list_for_session")
    };
    let want: Vec<DeliveryRecord> = a_list
        .iter()
        .filter(|d| d.session_id.as_deref() == Some(s1.id.as_str()))
        .cloned()
        .collect();
    assert_eq!(want.len(), 3, "events 5, 3 and 1 are s1's");
    assert_eq!(
        of_session(s1.id.clone(), 100).await,
        want,
        "s1's, newest first"
    );
    assert_eq!(
        of_session(s1.id.clone(), 2).await,
        want[..2].to_vec(),
        "a limit"
    );
    assert_eq!(
        of_session(s2.id.clone(), 100)
            .await
            .iter()
            .map(|d| d.event_id.clone())
            .collect::<Vec<_>>(),
        [format!("evt_{}", hex_id(4))],
        "s2's one"
    );
    assert!(
        of_session(hex_id(0xeb_5999), 100).await.is_empty(),
        "none for an unknown session"
    );

    // --- the backlog: every pending delivery, and the oldest one's creation ---
    let mut pending = Vec::new();
    for w in store.webhook_list().await.expect("webhook_list") {
        for d in store
            .delivery_list(WebhookId::new(&w.id), None, 1_000)
            .await
            .expect("delivery_list")
        {
            if d.state == idv_store::DeliveryState::Pending {
                pending.push(d.created_at);
            }
        }
    }
    assert!(!pending.is_empty(), "the deliveries above are pending");
    assert_eq!(
        store.delivery_backlog().await.expect("delivery_backlog"),
        idv_store::Backlog {
            pending: pending.len() as i64,
            oldest_created_at: pending.iter().min().copied(),
        },
        "the backlog counts the pending deliveries"
    );

    // --- claims: one delivery per (endpoint, session) at a time, in sequence order ---
    let now = 1_000;
    let claimed = store.delivery_claim(now, 500, 10).await.expect("claim");
    let heads: BTreeSet<String> = claimed.iter().map(|d| d.event_id.clone()).collect();
    assert_eq!(
        heads,
        [1, 4]
            .iter()
            .map(|n| format!("evt_{}", hex_id(*n)))
            .collect(),
        "only the first delivery of each session"
    );
    for d in &claimed {
        assert_eq!(d.locked_until, Some(1_500));
        assert_eq!(d.attempts, 1);
        let body: Value = serde_json::from_str(&d.body).expect("a claim carries the body");
        assert_eq!(body["id"], json!(d.event_id));
    }
    assert!(
        store
            .delivery_claim(now, 500, 10)
            .await
            .expect("claim again")
            .is_empty(),
        "leased heads block their sessions"
    );
    assert_eq!(
        store.delivery_next_due().await.expect("next due"),
        Some(1_501),
        "after the lease"
    );
    let s1_head = claimed
        .iter()
        .find(|d| d.session_id.as_deref() == Some(s1.id.as_str()))
        .expect("s1's head")
        .clone();
    let s2_head = claimed
        .iter()
        .find(|d| d.session_id.as_deref() == Some(s2.id.as_str()))
        .expect("s2's head")
        .clone();
    // A stale claim token does not finish the delivery, but the attempt is recorded.
    let stale = DeliveryRecord {
        locked_until: Some(1),
        ..s1_head.clone()
    };
    assert_eq!(
        store
            .delivery_finish(
                &stale,
                &attempt(&stale, 1_010, Some(200)),
                &outcome(DeliveryState::Delivered, 0, true)
            )
            .await
            .expect("stale finish"),
        None,
        "a lost claim"
    );
    assert_eq!(
        store
            .delivery_finish(
                &s1_head,
                &attempt(&s1_head, 1_020, Some(200)),
                &outcome(DeliveryState::Delivered, 1_020, true)
            )
            .await
            .expect("finish"),
        Some(false)
    );
    let next = store.delivery_claim(1_030, 500, 10).await.expect("claim");
    assert_eq!(
        next.iter().map(|d| d.sequence).collect::<Vec<_>>(),
        vec![3],
        "s1's next delivery once its head is done"
    );
    // A failure schedules a retry and marks the endpoint failing.
    assert_eq!(
        store
            .delivery_finish(
                &next[0],
                &attempt(&next[0], 1_040, None),
                &outcome(DeliveryState::Pending, 50_000, false)
            )
            .await
            .expect("retry later"),
        Some(false)
    );
    assert_eq!(
        store
            .webhook_get(WebhookId::new(&a.id))
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        Some(1_040)
    );
    let behind = store
        .delivery_list(WebhookId::new(&a.id), None, 100)
        .await
        .expect("list")
        .into_iter()
        .find(|d| d.sequence == 4 && d.session_id.as_deref() == Some(s1.id.as_str()))
        .expect("s1's last delivery");
    assert_eq!(
        behind.next_at, 50_000,
        "a retry puts off the rest of its chain as far"
    );
    assert!(
        store
            .delivery_claim(1_400, 500, 10)
            .await
            .expect("claim")
            .is_empty(),
        "s1 waits for its head's retry; s2's head is still leased"
    );
    let attempts = store
        .delivery_attempts(&[s1_head.id.clone(), next[0].id.clone()])
        .await
        .expect("attempts");
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.delivery_id.clone(), a.at, a.status_code))
            .collect::<Vec<_>>(),
        vec![
            (s1_head.id.clone(), 1_010, Some(200)),
            (s1_head.id.clone(), 1_020, Some(200)),
            (next[0].id.clone(), 1_040, None),
        ],
        "every attempt, oldest first"
    );
    assert_eq!(attempts[2].error.as_deref(), Some("connection refused"));

    // Disabling: only when failing since before the given time.
    let d2 = store
        .delivery_claim(2_000 + 500, 500, 10)
        .await
        .expect("s2's head again after its lease");
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].id, s2_head.id);
    assert_eq!(d2[0].attempts, 2);
    let mut disable = outcome(DeliveryState::Pending, 60_000, false);
    disable.disable = Some("failing for a day".into());
    disable.disable_if_failing_since_before = Some(1_040);
    assert_eq!(
        store
            .delivery_finish(&d2[0], &attempt(&d2[0], 2_600, Some(500)), &disable)
            .await
            .expect("finish"),
        Some(true),
        "failing since 1040, not after 1040: disabled"
    );
    let a_now = store
        .webhook_get(WebhookId::new(&a.id))
        .await
        .unwrap()
        .unwrap();
    assert!(!a_now.enabled);
    assert_eq!(a_now.disabled_reason.as_deref(), Some("failing for a day"));
    assert_eq!(a_now.disabled_at, Some(2_600));
    assert!(
        store
            .delivery_claim(i64::MAX / 4, 500, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a disabled endpoint's deliveries wait"
    );
    assert_eq!(store.delivery_next_due().await.expect("next due"), None);

    // Retry one now, after re-enabling.
    let mut a_on = a_now.clone();
    a_on.enabled = true;
    a_on.disabled_reason = None;
    a_on.disabled_at = None;
    a_on.updated_at = 3_000;
    assert!(store.webhook_update(&a_on).await.expect("update"));
    assert_eq!(
        store.webhook_get(WebhookId::new(&a.id)).await.unwrap(),
        Some(a_on.clone())
    );
    assert!(
        store
            .delivery_retry(
                WebhookId::new(&a.id),
                DeliveryId::new(&s1_head.id),
                3_000,
                9_000
            )
            .await
            .expect("retry"),
        "a delivered one can go again"
    );
    assert!(
        !store
            .delivery_retry(
                WebhookId::new(&b.id),
                DeliveryId::new(&s1_head.id),
                3_000,
                9_000
            )
            .await
            .expect("retry"),
        "only under its own endpoint"
    );
    assert!(
        !store
            .delivery_retry(
                WebhookId::new(&a.id),
                DeliveryId::new("no-such-id"),
                3_000,
                9_000
            )
            .await
            .expect("retry"),
        "an unknown id"
    );
    let again = store
        .delivery_get(WebhookId::new(&a.id), DeliveryId::new(&s1_head.id))
        .await
        .expect("get")
        .expect("listed");
    assert_eq!(
        (again.state, again.next_at, again.deadline, again.attempts),
        (DeliveryState::Pending, 3_000, 9_000, 0),
        "queued again, its backoff starting over"
    );
    assert_eq!(
        store
            .delivery_get(WebhookId::new(&b.id), DeliveryId::new(&s1_head.id))
            .await
            .unwrap(),
        None
    );

    // Replay: B selects nothing until it takes every workflow.
    assert_eq!(
        store
            .delivery_replay(WebhookId::new(&b.id), 0, 4_000, 10_000)
            .await
            .unwrap(),
        0
    );
    let mut b_all = b.clone();
    b_all.workflow_ids = vec![];
    assert!(store.webhook_update(&b_all).await.unwrap());
    assert_eq!(
        store
            .delivery_replay(WebhookId::new(&b.id), 101, 4_000, 10_000)
            .await
            .unwrap(),
        4,
        "every kept event since 101"
    );

    // A test event goes to one endpoint and stays out of the feed.
    let test = NewEvent {
        id: "evt_test".into(),
        kind: "webhook.test".into(),
        created_at: 5_000,
        session_id: None,
        workflow_id: None,
        owner_id: None,
        data: json!({"webhookId": c.id}),
    };
    let test_delivery = store
        .event_publish(&test, WebhookId::new(&c.id))
        .await
        .expect("publish");
    let c_list = of(c.id.clone()).await;
    assert_eq!(c_list.len(), 1);
    assert_eq!(c_list[0].id, test_delivery);
    assert_eq!(c_list[0].event_kind, "webhook.test");
    assert_eq!(
        store.events_after(&feed(100)).await.unwrap().events.len(),
        5,
        "webhook.test is not in the feed"
    );

    // Deletion writes session.deleted with the row's data.
    let deleted = NewEvent {
        data: json!({"sessionId": s1.id}),
        ..event(6, "session.deleted", &s1, 6_000)
    };
    store
        .session_delete(
            SessionId::new(&s1.id),
            &Deleter {
                id: None,
                name: "retention".into(),
                kind: "retention".into(),
            },
            6_000,
            None,
            None,
            Some(&deleted),
        )
        .await
        .expect("delete");
    let last = settled(
        store,
        &EventQuery {
            after: page.next.clone(),
            ..feed(100)
        },
        1,
    )
    .await
    .events;
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].kind, "session.deleted");
    assert_eq!(last[0].sequence, 5, "after s1's four events");
    let body: Value = serde_json::from_str(&last[0].body).unwrap();
    assert_eq!(body["data"]["status"], json!(s1c.status));
    assert_eq!(body["data"]["step"], json!(s1c.current_step));
    assert_eq!(body["data"]["workflowId"], json!(WORKFLOW));

    // Pruning keeps what pending deliveries need.
    store.outbox_prune(i64::MAX / 4).await.expect("prune");
    assert!(
        !store
            .events_after(&feed(100))
            .await
            .unwrap()
            .events
            .is_empty(),
        "events of pending deliveries stay"
    );
    for w in [&a, &b, &c] {
        assert!(
            store
                .webhook_delete(WebhookId::new(&w.id))
                .await
                .expect("delete")
        );
        assert!(
            !store
                .webhook_delete(WebhookId::new(&w.id))
                .await
                .expect("delete again")
        );
        assert_eq!(
            store.webhook_get(WebhookId::new(&w.id)).await.unwrap(),
            None
        );
        assert!(of(w.id.clone()).await.is_empty(), "deliveries go with it");
    }
    assert!(
        store
            .delivery_attempts(std::slice::from_ref(&s1_head.id))
            .await
            .unwrap()
            .is_empty(),
        "attempts go with their deliveries"
    );
    store.outbox_prune(i64::MAX / 4).await.expect("prune");
    assert!(
        store
            .events_after(&feed(100))
            .await
            .unwrap()
            .events
            .is_empty()
    );
    store
        .session_delete(
            SessionId::new(&s2.id),
            &Deleter {
                id: None,
                name: "retention".into(),
                kind: "retention".into(),
            },
            7_000,
            None,
            None,
            None,
        )
        .await
        .expect("delete s2");
}

/// Two claimers (two connections or processes) racing over many due deliveries never get the
/// same one. Tables: as [`check_outbox`].
pub async fn check_delivery_claim_race(one: Arc<dyn Store>, two: Arc<dyn Store>) {
    let w = webhook(0xeb_0009, &["*"], &[], true);
    one.webhook_create(&w).await.expect("webhook");
    let mut sessions = vec![];
    for n in 0..40u64 {
        let s = open_session(0xeb_6000 + n);
        one.session_create(&s, &[event(0x600 + n, "session.created", &s, 10)])
            .await
            .expect("create");
        sessions.push(s);
    }
    let claim = |store: Arc<dyn Store>| async move {
        let mut got = vec![];
        for _ in 0..20 {
            for d in store.delivery_claim(100, 60_000, 3).await.expect("claim") {
                got.push(d.id);
            }
        }
        got
    };
    let (x, y) = tokio::join!(claim(one.clone()), claim(two.clone()));
    let all: BTreeSet<String> = x.iter().chain(y.iter()).cloned().collect();
    assert_eq!(all.len(), x.len() + y.len(), "no delivery claimed twice");
    assert_eq!(all.len(), 40, "every delivery claimed");
    assert!(one.webhook_delete(WebhookId::new(&w.id)).await.unwrap());
    for s in sessions {
        one.session_delete(
            SessionId::new(&s.id),
            &Deleter {
                id: None,
                name: "retention".into(),
                kind: "retention".into(),
            },
            1,
            None,
            None,
            None,
        )
        .await
        .expect("delete");
    }
    one.outbox_prune(i64::MAX / 4).await.expect("prune");
}

/// `webhook_reseal` swaps the secret columns alone, and only from the values read: a changed
/// secret or header document leaves the row as it is. Headers may be stored as a JSON string.
pub async fn check_webhook_reseal(store: &dyn Store) {
    let mut w = webhook(9_001, &["*"], &[], true);
    w.previous_secret = Some("whsec_before".into());
    w.previous_secret_until = Some(5);
    store.webhook_create(&w).await.expect("webhook_create");
    let old = WebhookSecrets::of(&w);
    let new = WebhookSecrets {
        secret: "sealed:secret".into(),
        previous_secret: Some("sealed:previous".into()),
        headers: json!("sealed:headers"),
    };
    let mut stale = old.clone();
    stale.headers = json!({"x-tenant": "other"});
    assert!(
        !store
            .webhook_reseal(WebhookId::new(&w.id), &stale, &new)
            .await
            .unwrap(),
        "headers changed"
    );
    stale = old.clone();
    stale.previous_secret = None;
    assert!(
        !store
            .webhook_reseal(WebhookId::new(&w.id), &stale, &new)
            .await
            .unwrap(),
        "previous changed"
    );
    assert!(
        !store
            .webhook_reseal(WebhookId::new("nope"), &old, &new)
            .await
            .unwrap(),
        "unknown id"
    );
    assert_eq!(
        store
            .webhook_get(WebhookId::new(&w.id))
            .await
            .unwrap()
            .unwrap(),
        w,
        "left alone"
    );

    assert!(
        store
            .webhook_reseal(WebhookId::new(&w.id), &old, &new)
            .await
            .unwrap()
    );
    let got = store
        .webhook_get(WebhookId::new(&w.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(WebhookSecrets::of(&got), new);
    let mut expected = w.clone();
    expected.secret = new.secret.clone();
    expected.previous_secret = new.previous_secret.clone();
    expected.headers = new.headers.clone();
    assert_eq!(got, expected, "every other column kept");
    assert_eq!(
        store
            .webhook_list()
            .await
            .unwrap()
            .iter()
            .filter(|x| x.id == w.id)
            .count(),
        1
    );
    assert!(
        !store
            .webhook_reseal(WebhookId::new(&w.id), &old, &new)
            .await
            .unwrap(),
        "once only"
    );

    // A null previous secret compares equal to null.
    let back = WebhookSecrets {
        secret: "sealed:2".into(),
        previous_secret: None,
        headers: json!({}),
    };
    assert!(
        store
            .webhook_reseal(WebhookId::new(&w.id), &new, &back)
            .await
            .unwrap()
    );
    let again = WebhookSecrets {
        secret: "sealed:3".into(),
        previous_secret: None,
        headers: json!({}),
    };
    assert!(
        store
            .webhook_reseal(WebhookId::new(&w.id), &back, &again)
            .await
            .unwrap()
    );
    assert!(store.webhook_delete(WebhookId::new(&w.id)).await.unwrap());
}
