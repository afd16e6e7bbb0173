//! The hot writes that PostgreSQL runs as one statement each: a session start with its events,
//! a session change with its files, jobs and events, and the end of a webhook attempt. Beyond
//! the conformance suite: the fan-out of several events at once, exact bodies, one transaction
//! per write in the feed, and that a stale or clashing change writes nothing at all.

use crate::conformance::{connect, with_fresh_database};
use idv_store::prelude::*;
use idv_store::{
    AttemptOutcome, AttemptRecord, DeliveryRecord, DeliveryState, EventQuery, EventRecord,
    FileRecord, JobRecord, NewEvent, SessionRecord, StoreError, WebhookRecord,
};
use idv_store::{JobId, SessionId, WebhookId};
use serde_json::json;

const WORKFLOW: &str = "0b6f3c52-0000-4000-8000-0000000000aa";

fn session(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        workflow_id: WORKFLOW.to_owned(),
        workflow_revision: 1,
        workflow_name: "Writes".to_owned(),
        workflow_version: Some("1.0".to_owned()),
        status: 1,
        locale: "en".to_owned(),
        metadata: json!({"z": 1, "a": "é"}),
        properties: json!({}),
        current_step: Some("capture".to_owned()),
        steps: json!([]),
        ended: false,
        owner_id: Some("owner".to_owned()),
        created_at: 1_000,
        updated_at: 1_000,
        revision: 1,
        engine: json!({}),
        expires_at: None,
        history: json!([]),
        legal_hold: false,
    }
}

fn next(s: &SessionRecord) -> SessionRecord {
    SessionRecord {
        revision: s.revision + 1,
        updated_at: s.updated_at + 1,
        status: s.status + 1,
        ..s.clone()
    }
}

fn event(n: u32, kind: &str, s: &SessionRecord) -> NewEvent {
    NewEvent {
        id: format!("evt_{n:024x}"),
        kind: kind.to_owned(),
        created_at: s.updated_at,
        session_id: Some(s.id.clone()),
        workflow_id: Some(s.workflow_id.clone()),
        owner_id: s.owner_id.clone(),
        data: json!({"sessionId": s.id, "n": n, "text": "\"quoted\" — ✓"}),
    }
}

fn file(id: &str, s: &SessionRecord, inline: Option<&[u8]>) -> FileRecord {
    FileRecord {
        id: id.to_owned(),
        session_id: s.id.clone(),
        name: format!("{id}.jpg"),
        step: Some("capture".to_owned()),
        property: None,
        content_type: "image/jpeg".to_owned(),
        size: 3,
        sha256: "0".repeat(64),
        object_key: format!("sessions/{}/files/{id}", s.id),
        created_at: s.updated_at,
        inline: inline.map(<[u8]>::to_vec),
    }
}

fn job(id: &str, s: &SessionRecord) -> JobRecord {
    JobRecord {
        id: id.to_owned(),
        session_id: s.id.clone(),
        step: "verify@1".to_owned(),
        action: "check".to_owned(),
        run_at: 5_000,
        attempts: 0,
        locked_until: None,
        last_error: Some("before — ✓".to_owned()),
        created_at: s.updated_at,
    }
}

fn webhook(id: &str, events: &[&str], workflows: &[&str], enabled: bool) -> WebhookRecord {
    WebhookRecord {
        id: id.to_owned(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.iter().map(|e| e.to_string()).collect(),
        enabled,
        description: None,
        headers: json!({}),
        workflow_ids: workflows.iter().map(|w| w.to_string()).collect(),
        secret: "whsec_x".to_owned(),
        previous_secret: None,
        previous_secret_until: None,
        ed25519: false,
        owner_id: None,
        created_at: 1,
        updated_at: 1,
        failing_since: None,
        disabled_reason: None,
        disabled_at: None,
    }
}

/// Endpoints: `all` takes every event, `created` only `session.created`, `other` another
/// workflow's and `off` is disabled.
async fn endpoints(store: &dyn Store) {
    for w in [
        webhook("all", &["*"], &[], true),
        webhook("created", &["session.created"], &[WORKFLOW], true),
        webhook("other", &["*"], &["another-workflow"], true),
        webhook("off", &["*"], &[], false),
    ] {
        store.webhook_create(&w).await.expect("webhook_create");
    }
}

/// The feed once it shows `n` events (a feed page waits for older transactions anywhere on
/// the server, which other tests may hold open for seconds: the search plan test seeds 50,000
/// sessions in one).
async fn feed(store: &dyn Store, n: usize) -> Vec<EventRecord> {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page = store
            .events_after(&EventQuery {
                limit: 100,
                ..EventQuery::default()
            })
            .await
            .expect("events_after");
        if page.events.len() >= n || std::time::Instant::now() > give_up {
            return page.events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The deliveries of session `id` as (endpoint, event, sequence), oldest first.
async fn deliveries(store: &dyn Store, id: &str) -> Vec<(String, String, i64)> {
    let mut list = store
        .delivery_list_for_session(SessionId::new(id), 100)
        .await
        .expect("delivery_list_for_session");
    list.reverse();
    list.into_iter()
        .map(|d| (d.webhook_id, d.event_id, d.sequence))
        .collect()
}

/// The transaction id in a feed cursor (`<tx>.<pos>`).
fn tx(e: &EventRecord) -> u64 {
    let (tx, _) = e.cursor.split_once('.').expect("a cursor");
    tx.parse().expect("a transaction id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_and_a_change_fan_out_each_event_once_per_matching_endpoint() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        endpoints(&store).await;
        let s1 = session("s1");
        let started = [
            event(1, "session.created", &s1),
            event(2, "session.status_changed", &s1),
        ];
        store.session_create(&s1, &started).await.expect("create");

        let s2 = next(&s1);
        let changed = [
            event(3, "session.step_completed", &s2),
            event(4, "session.status_changed", &s2),
            event(5, "session.completed", &s2),
        ];
        let files = [file("f1", &s2, Some(b"abc")), file("f2", &s2, None)];
        let jobs = [job("j1", &s2), job("j2", &s2)];
        assert!(
            store
                .session_advance(&s2, &files, &jobs, None, &changed)
                .await
                .expect("advance"),
            "the change matches the stored revision"
        );
        assert_eq!(
            store.session_get(SessionId::new("s1")).await.unwrap(),
            Some(s2.clone())
        );
        let listed = store
            .file_list(SessionId::new("s1"))
            .await
            .expect("file_list");
        assert_eq!(
            listed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["f1", "f2"],
            "files in the order given"
        );
        assert_eq!(
            store
                .file_content(SessionId::new("s1"), idv_store::FileId::new("f1"))
                .await
                .expect("file_content"),
            Some(b"abc".to_vec()),
            "inline bytes are stored"
        );
        assert_eq!(
            store.job_list(SessionId::new("s1")).await.expect("jobs"),
            jobs.to_vec()
        );

        let events = feed(&store, 5).await;
        let all: Vec<&NewEvent> = started.iter().chain(&changed).collect();
        assert_eq!(events.len(), 5, "every event is in the feed");
        for (i, (got, sent)) in events.iter().zip(&all).enumerate() {
            let seq = i as i64 + 1;
            assert_eq!(got.id, sent.id, "the feed keeps the order given");
            assert_eq!(got.sequence, seq, "consecutive sequences from 1");
            assert_eq!(got.body, sent.body(seq), "the exact body of {}", sent.id);
        }
        assert_eq!(tx(&events[0]), tx(&events[1]), "a start is one transaction");
        assert!(
            events[2..].iter().all(|e| tx(e) == tx(&events[2])),
            "a change is one transaction"
        );
        assert!(tx(&events[0]) < tx(&events[2]), "the start committed first");

        let want: Vec<(String, String, i64)> = [
            ("all", 1),
            ("created", 1),
            ("all", 2),
            ("all", 3),
            ("all", 4),
            ("all", 5),
        ]
        .iter()
        .map(|(w, n)| (w.to_string(), all[*n - 1].id.clone(), *n as i64))
        .collect();
        assert_eq!(
            deliveries(&store, "s1").await,
            want,
            "one delivery per event and matching, enabled endpoint"
        );
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_change_writes_nothing() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        endpoints(&store).await;
        let s1 = session("s1");
        store
            .session_create(&s1, &[event(1, "session.created", &s1)])
            .await
            .expect("create");
        let s2 = next(&s1);
        let kept = job("kept", &s2);
        assert!(
            store
                .session_advance(&s2, &[], std::slice::from_ref(&kept), None, &[])
                .await
                .expect("advance")
        );
        // Another writer's view, one revision behind: it loses.
        let stale = SessionRecord {
            status: 99,
            ..next(&s1)
        };
        assert!(
            !store
                .session_advance(
                    &stale,
                    &[file("f1", &stale, None)],
                    &[job("j1", &stale)],
                    Some(JobId::new("kept")),
                    &[event(2, "session.status_changed", &stale)],
                )
                .await
                .expect("stale advance"),
            "a stale revision loses"
        );
        assert_eq!(
            store.session_get(SessionId::new("s1")).await.unwrap(),
            Some(s2.clone()),
            "the row is unchanged"
        );
        assert!(
            store
                .file_list(SessionId::new("s1"))
                .await
                .unwrap()
                .is_empty(),
            "no file"
        );
        assert_eq!(
            store.job_list(SessionId::new("s1")).await.unwrap(),
            vec![kept],
            "no job, and the finished one is not deleted"
        );
        assert_eq!(
            deliveries(&store, "s1").await.len(),
            2,
            "only the start's deliveries"
        );
        // The next change takes sequence 2: the stale one used no number.
        let s3 = next(&s2);
        let e3 = event(3, "session.status_changed", &s3);
        assert!(
            store
                .session_update(&s3, std::slice::from_ref(&e3))
                .await
                .expect("update")
        );
        let events = feed(&store, 2).await;
        let e1 = event(1, "session.created", &s1);
        assert_eq!(
            events
                .iter()
                .map(|e| (e.id.as_str(), e.sequence))
                .collect::<Vec<_>>(),
            [(e1.id.as_str(), 1), (e3.id.as_str(), 2)],
            "no event of the stale change"
        );
        assert_eq!(events[1].body, e3.body(2));
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_id_in_a_change_is_a_conflict_and_writes_nothing() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        endpoints(&store).await;
        let s1 = session("s1");
        store
            .session_create(&s1, &[event(1, "session.created", &s1)])
            .await
            .expect("create");
        store
            .file_create(&file("taken", &s1, None))
            .await
            .expect("file_create");
        // A start with a taken session id, or a taken event id, writes nothing either.
        let taken_session = store
            .session_create(&s1, &[event(7, "session.created", &s1)])
            .await;
        assert!(
            matches!(&taken_session, Err(StoreError::Conflict { message, .. }) if message == "session s1"),
            "{taken_session:?}"
        );
        let s9 = session("s9");
        let taken_event = store
            .session_create(&s9, &[event(8, "session.created", &s9), event(1, "x", &s9)])
            .await;
        assert!(
            matches!(&taken_event, Err(StoreError::Conflict { message, .. }) if message.starts_with("event ")),
            "{taken_event:?}"
        );
        assert_eq!(store.session_get(SessionId::new("s9")).await.unwrap(), None);
        assert!(deliveries(&store, "s9").await.is_empty());

        let s2 = next(&s1);
        let changes = [
            // A file id already stored.
            vec![file("new", &s2, None), file("taken", &s2, None)],
            // One id twice in the same change.
            vec![file("twice", &s2, None), file("twice", &s2, None)],
        ];
        for files in &changes {
            match store
                .session_advance(
                    &s2,
                    files,
                    &[job("j1", &s2)],
                    None,
                    &[event(2, "session.status_changed", &s2)],
                )
                .await
            {
                Err(e @ StoreError::Conflict { .. }) => {
                    assert!(std::error::Error::source(&e).is_some(), "the source is kept");
                    assert!(
                        e.to_string().contains(&files[1].id),
                        "the conflict names the file: {e}"
                    );
                }
                other => panic!("expected a Conflict, got {other:?}"),
            }
        }
        assert_eq!(
            store.session_get(SessionId::new("s1")).await.unwrap(),
            Some(s1.clone()),
            "the session row is unchanged"
        );
        assert_eq!(
            store
                .file_list(SessionId::new("s1"))
                .await
                .unwrap()
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>(),
            ["taken"],
            "no file of the change"
        );
        assert!(
            store.job_list(SessionId::new("s1")).await.unwrap().is_empty(),
            "no job"
        );
        assert_eq!(deliveries(&store, "s1").await.len(), 2, "no delivery");
        // The same change without the clash goes through, with the sequence the failed ones
        // did not take.
        assert!(
            store
                .session_advance(
                    &s2,
                    &[file("new", &s2, None)],
                    &[job("j1", &s2)],
                    None,
                    &[event(2, "session.status_changed", &s2)],
                )
                .await
                .expect("advance")
        );
        let events = feed(&store, 2).await;
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].sequence, 2);
        store.close().await;
    })
    .await;
}

fn attempt(d: &DeliveryRecord, at: i64, status: Option<i32>) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.id.clone(),
        webhook_id: d.webhook_id.clone(),
        at,
        status_code: status,
        latency_ms: 7,
        response: None,
        error: status.is_none().then(|| "refused".to_owned()),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_ends_with_its_lease_health_and_disable() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        store
            .webhook_create(&webhook("all", &["*"], &[], true))
            .await
            .expect("webhook_create");
        let s1 = session("s1");
        store
            .session_create(
                &s1,
                &[
                    event(1, "session.created", &s1),
                    event(2, "session.status_changed", &s1),
                ],
            )
            .await
            .expect("create");
        let all = || async {
            store
                .webhook_get(WebhookId::new("all"))
                .await
                .unwrap()
                .unwrap()
        };

        // A failure on a healthy endpoint: retried later, its chain put off, failing since.
        let head = store.delivery_claim(2_000, 500, 10).await.expect("claim");
        assert_eq!(head.len(), 1, "only the head of the chain");
        assert_eq!(
            store
                .delivery_finish(
                    &head[0],
                    &attempt(&head[0], 2_100, None),
                    &outcome(DeliveryState::Pending, 9_000, false)
                )
                .await
                .expect("finish"),
            Some(false)
        );
        assert_eq!(all().await.failing_since, Some(2_100));
        let list = store
            .delivery_list_for_session(SessionId::new("s1"), 10)
            .await
            .unwrap();
        assert!(
            list.iter()
                .all(|d| d.next_at == 9_000 && d.locked_until.is_none()),
            "the chain waits for its head: {list:?}"
        );

        // A lost lease: the attempt is kept, the delivery and its chain are not touched.
        let again = store.delivery_claim(9_000, 500, 10).await.expect("claim");
        assert_eq!(again.len(), 1);
        let mut lost = again[0].clone();
        lost.locked_until = Some(1);
        assert_eq!(
            store
                .delivery_finish(
                    &lost,
                    &attempt(&lost, 9_100, Some(500)),
                    &outcome(DeliveryState::Pending, 30_000, false)
                )
                .await
                .expect("finish"),
            None,
            "the lease was lost"
        );
        let d = store
            .delivery_get(WebhookId::new("all"), idv_store::DeliveryId::new(&lost.id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.next_at, d.locked_until, d.last_status),
            (9_000, again[0].locked_until, None)
        );
        let list = store
            .delivery_list_for_session(SessionId::new("s1"), 10)
            .await
            .unwrap();
        assert!(list.iter().all(|d| d.next_at == 9_000), "{list:?}");
        assert_eq!(
            store
                .delivery_attempts(std::slice::from_ref(&lost.id))
                .await
                .unwrap()
                .len(),
            2,
            "every attempt is recorded"
        );

        // A disable asked for an endpoint failing only since after the limit: not disabled.
        let mut cautious = outcome(DeliveryState::Pending, 20_000, false);
        cautious.disable = Some("failing for a day".into());
        cautious.disable_if_failing_since_before = Some(2_000);
        assert_eq!(
            store
                .delivery_finish(&again[0], &attempt(&again[0], 9_200, None), &cautious)
                .await
                .expect("finish"),
            Some(false)
        );
        let w = all().await;
        assert!(w.enabled && w.disabled_reason.is_none());
        assert_eq!(
            w.failing_since,
            Some(2_100),
            "failing since the first failure"
        );

        // A success clears the failing state; a 410 then disables at once.
        let third = store.delivery_claim(20_000, 500, 10).await.expect("claim");
        assert_eq!(
            store
                .delivery_finish(
                    &third[0],
                    &attempt(&third[0], 20_100, Some(200)),
                    &outcome(DeliveryState::Delivered, 20_100, true)
                )
                .await
                .expect("finish"),
            Some(false)
        );
        assert_eq!(all().await.failing_since, None);
        let fourth = store.delivery_claim(20_200, 500, 10).await.expect("claim");
        assert_eq!(fourth.len(), 1, "the chain's next event");
        assert_eq!(fourth[0].sequence, 2);
        let mut gone = outcome(DeliveryState::Failed, 20_300, false);
        gone.disable = Some("410 Gone".into());
        assert_eq!(
            store
                .delivery_finish(&fourth[0], &attempt(&fourth[0], 20_300, Some(410)), &gone)
                .await
                .expect("finish"),
            Some(true)
        );
        let w = all().await;
        assert!(!w.enabled);
        assert_eq!(w.disabled_reason.as_deref(), Some("410 Gone"));
        assert_eq!((w.disabled_at, w.updated_at), (Some(20_300), 20_300));
        assert_eq!(w.failing_since, Some(20_300));
        store.close().await;
    })
    .await;
}
