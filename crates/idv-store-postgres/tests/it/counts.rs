//! The dashboard's counters on PostgreSQL: every session write appends its change as rows of
//! its own, and the compaction sums each key's rows into one. Beyond the conformance suite
//! (which checks the counts read the same across a compaction): the rows really are summed,
//! and counts stay exact while sessions are written and two stores compact at the same time.

use crate::conformance::{connect, with_fresh_database};
use idv_store::prelude::*;
use idv_store::{SessionId, WorkflowId};
use idv_store::{SessionRecord, StepCount};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;

const WORKFLOW: &str = "0c0a0c0a-0000-4000-8000-0000000000c1";
const DAY_MS: i64 = 86_400_000;

fn session(n: usize) -> SessionRecord {
    let at = 20_100 * DAY_MS + n as i64;
    SessionRecord {
        id: format!("0c0a0c0a-0000-4000-8000-{n:012x}"),
        workflow_id: WORKFLOW.to_owned(),
        workflow_revision: 1,
        workflow_name: "Counts".to_owned(),
        workflow_version: None,
        status: 0,
        locale: "en".to_owned(),
        metadata: json!({}),
        properties: json!({}),
        current_step: Some("start".to_owned()),
        steps: json!([]),
        ended: false,
        owner_id: None,
        created_at: at,
        updated_at: at,
        revision: 1,
        engine: json!({}),
        expires_at: None,
        history: json!([]),
        legal_hold: false,
    }
}

/// The session's first step done: it moves from `start` to `next`.
async fn advance(store: &dyn Store, s: &mut SessionRecord) {
    s.steps = json!([{"id": "start", "attempt": 1}]);
    s.current_step = Some("next".to_owned());
    s.revision += 1;
    assert!(store.session_update(s, &[]).await.expect("session_update"));
}

async fn rows(url: &str) -> (i64, i64) {
    let mut c = PgConnection::connect(url).await.expect("connect");
    let day: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_day_counts")
        .fetch_one(&mut c)
        .await
        .expect("day rows");
    let step: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_step_counts")
        .fetch_one(&mut c)
        .await
        .expect("step rows");
    c.close().await.ok();
    (day, step)
}

async fn counts(store: &dyn Store) -> (i64, Vec<StepCount>) {
    let days = store
        .session_day_counts(20_100, 20_100, Some(WorkflowId::new(WORKFLOW)))
        .await
        .expect("session_day_counts");
    let total = days.iter().map(|d| d.count).sum();
    let steps = store
        .session_step_counts(WorkflowId::new(WORKFLOW))
        .await
        .expect("session_step_counts");
    (total, steps)
}

fn step(step: &str, reached: i64, here: i64) -> StepCount {
    StepCount {
        step: step.to_owned(),
        reached,
        here,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_rows_of_their_own_until_a_compaction_sums_them() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        let mut all = Vec::new();
        for n in 0..20 {
            let mut s = session(n);
            store.session_create(&s, &[]).await.expect("session_create");
            if n % 2 == 0 {
                advance(&store, &mut s).await;
            }
            all.push(s);
        }
        // 20 creates (one day row and one step row each) and 10 moves (one step row: `start`
        // here -1, `next` reached and here +1, so two rows).
        assert_eq!(rows(&url).await, (20, 40), "each change appended its rows");
        let before = counts(&store).await;
        assert_eq!(
            before,
            (20, vec![step("next", 10, 10), step("start", 20, 10)])
        );

        let replaced = store
            .session_counts_compact()
            .await
            .expect("session_counts_compact");
        assert_eq!(replaced, 60, "every row of a key with several was replaced");
        assert_eq!(rows(&url).await, (1, 2), "one row per key");
        assert_eq!(counts(&store).await, before, "the counts read the same");

        // A deletion appends its -1 rows; once summed, a key whose count is zero goes.
        for s in &all[1..] {
            store
                .session_delete(
                    SessionId::new(&s.id),
                    &idv_store::Deleter {
                        id: None,
                        name: "counts".to_owned(),
                        kind: "retention".to_owned(),
                    },
                    1,
                    None,
                    None,
                    None,
                )
                .await
                .expect("session_delete");
        }
        // all[0] stays: advanced, so it counts in `start` (reached) and `next` (reached, here).
        store.session_counts_compact().await.expect("compact");
        assert_eq!(
            counts(&store).await,
            (1, vec![step("next", 1, 1), step("start", 1, 0)])
        );
        assert_eq!(rows(&url).await, (1, 2));

        // The replaced rows do not stay behind as dead row versions (this server may run with
        // autovacuum off): ten rounds of 60 sessions, each compacted, leave tables of a page
        // or two, where 600 appended rows of each would need several.
        for round in 0..10 {
            for n in 0..60 {
                let s = session(1000 + round * 100 + n);
                store.session_create(&s, &[]).await.expect("session_create");
            }
            store.session_counts_compact().await.expect("compact");
        }
        assert_eq!(counts(&store).await.0, 601);
        let mut c = PgConnection::connect(&url).await.expect("connect");
        let (day_bytes, step_bytes): (i64, i64) = sqlx::query_as(
            "SELECT pg_relation_size('session_day_counts'), \
             pg_relation_size('session_step_counts')",
        )
        .fetch_one(&mut c)
        .await
        .expect("sizes");
        c.close().await.ok();
        assert!(
            day_bytes <= 16_384 && step_bytes <= 16_384,
            "the counters stay small: {day_bytes} and {step_bytes} bytes"
        );
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_stay_exact_while_writers_and_two_compactions_run_at_once() {
    with_fresh_database(|url| async move {
        let a = Arc::new(connect(&url).await);
        let b = Arc::new(connect(&url).await);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let compactors: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|store| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut runs = 0u32;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        store.session_counts_compact().await.expect("compact");
                        runs += 1;
                    }
                    runs
                })
            })
            .collect();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = if w % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move {
                    for i in 0..40 {
                        let mut s = session(w * 1000 + i);
                        store.session_create(&s, &[]).await.expect("create");
                        if i % 4 != 0 {
                            advance(store.as_ref(), &mut s).await;
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.expect("writer");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in compactors {
            assert!(c.await.expect("compactor") > 0, "each compactor ran");
        }
        // 320 sessions, 240 of them moved on to `next`.
        let expected = (320, vec![step("next", 240, 240), step("start", 320, 80)]);
        assert_eq!(counts(a.as_ref()).await, expected, "exact while compacting");
        a.session_counts_compact().await.expect("compact");
        assert_eq!(rows(&url).await, (1, 2), "one row per key once quiet");
        assert_eq!(counts(b.as_ref()).await, expected, "and exact after");
        a.close().await;
        b.close().await;
    })
    .await;
}
