//! Every session change stores the events that describe it, with the change: a session's life
//! through HTTP (start, a step, a review, expiry, deletion) leaves `session.created`,
//! `session.step_completed`, `session.status_changed`, `session.completed`, `session.expired`
//! and `session.deleted` in the outbox, numbered per session, with their data; a change that
//! loses its compare-and-swap leaves none.

use crate::common;

use common::{Backend, TestServer};
use idv_store::{EventQuery, EventRecord};
use serde_json::{Value, json};
use std::time::Duration;

const WF_ID: &str = "6a0f7f20-0001-11ef-8000-00000000e0e5";

const WORKFLOW: &str = r#"
id: 6a0f7f20-0001-11ef-8000-00000000e0e5
name: Outbox checks
version: "1"
lifetime: 60
defaultLocale: en-us
steps:
  - id: FORM
    name: FORM
    type: DATA
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: always, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
  - id: TIMED_OUT
    name: TIMED_OUT
    type: DATA
    final: true
events:
  onTimeout:
    transit: {step: TIMED_OUT, status: NOT_COMPLETED}
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;

/// The events of one session in the outbox, once at least `n` are visible.
async fn events_of(srv: &TestServer, session: &str, n: usize) -> Vec<EventRecord> {
    let store = srv.state().await.store.clone();
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page = store
            .events_after(&EventQuery {
                after: None,
                limit: 1000,
                kinds: vec![],
                owner_id: None,
            })
            .await
            .unwrap();
        let mine: Vec<EventRecord> = page
            .events
            .into_iter()
            .filter(|e| e.session_id.as_deref() == Some(session))
            .collect();
        if mine.len() >= n || std::time::Instant::now() > give_up {
            return mine;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn body(e: &EventRecord) -> Value {
    serde_json::from_str(&e.body).unwrap()
}

async fn start(srv: &TestServer, auth: &str) -> String {
    let r = srv
        .post(&format!("/api/sessions?workflowId={WF_ID}"))
        .header("authorization", auth)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn lifecycle(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(WORKFLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let key = srv
        .key(&[
            "session:read",
            "session:write",
            "session_all_patch:write",
            "session_all:delete",
        ])
        .await;
    let auth = format!("ApiKey {key}");

    // Start, submit the step (it completes the session), review, delete.
    let done = start(&srv, &auth).await;
    let r = srv.submit(&auth, &done, "FORM", json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = srv
        .patch(&format!("/api/sessions/{done}"))
        .header("authorization", &auth)
        .json(&json!({"status": 1000, "comment": "rejected by hand"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // A change that moves neither status nor step (a legal hold set and lifted) makes no event.
    for hold in [true, false] {
        let r = srv
            .patch(&format!("/api/sessions/{done}"))
            .header("authorization", &auth)
            .json(&json!({"legalHold": hold}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let r = srv
        .delete(&format!("/api/sessions/{done}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let events = events_of(&srv, &done, 6).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "session.created",
            "session.step_completed",
            "session.status_changed",
            "session.completed",
            "session.status_changed",
            "session.deleted",
        ],
        "one event per change, in order"
    );
    let seqs: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6], "numbered per session");
    let bodies: Vec<Value> = events.iter().map(body).collect();
    for (b, e) in bodies.iter().zip(&events) {
        assert_eq!(b["id"], json!(e.id));
        assert!(e.id.starts_with("evt_"));
        assert_eq!(b["type"], json!(e.kind));
        assert_eq!(b["sequence"], json!(e.sequence));
        assert_eq!(b["data"]["sessionId"], json!(done));
        assert_eq!(b["data"]["workflowId"], json!(WF_ID));
        assert!(b["createdAt"].as_str().unwrap().ends_with('Z'));
        let keys: Vec<&String> = b["data"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "sessionId",
                "workflowId",
                "status",
                "previousStatus",
                "step"
            ],
            "a thin payload: no properties, no metadata"
        );
    }
    assert_eq!(bodies[0]["data"]["status"], 0);
    assert_eq!(bodies[0]["data"]["previousStatus"], Value::Null);
    assert_eq!(bodies[0]["data"]["step"], "FORM");
    assert_eq!(bodies[1]["data"]["step"], "FORM", "the step completed");
    assert_eq!(
        (
            &bodies[2]["data"]["previousStatus"],
            &bodies[2]["data"]["status"]
        ),
        (&json!(0), &json!(2))
    );
    assert_eq!(bodies[3]["data"]["step"], "DONE");
    assert_eq!(
        (
            &bodies[4]["data"]["previousStatus"],
            &bodies[4]["data"]["status"]
        ),
        (&json!(2), &json!(1000)),
        "the review"
    );
    assert_eq!(bodies[5]["data"]["status"], 1000, "deleted as it was");
    assert_eq!(bodies[5]["data"]["step"], "DONE");

    // Expiry: the lifetime ends, the session moves to TIMED_OUT.
    let waiting = start(&srv, &auth).await;
    srv.clock.advance(61_000);
    let r = srv.submit(&auth, &waiting, "FORM", json!({})).await;
    assert_eq!(r.status(), 409, "the lifetime is over");
    let events = events_of(&srv, &waiting, 3).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["session.created", "session.expired", "session.completed"],
        "expiry to a final step; the status stays NOT_COMPLETED so no status change"
    );
    assert_eq!(body(&events[1])["data"]["step"], "TIMED_OUT");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sessions_life_leaves_its_events_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sessions_life_leaves_its_events_postgres() {
    lifecycle(Backend::Postgres).await;
}
