//! The session counters the dashboard reads: sessions per day and status, and per step the
//! sessions that reached it and those in it now, following creates, status changes, step moves
//! and deletions.

use super::sessions::bare_session;
use idv_store::{DayCount, Deleter, SessionId, SessionRecord, StepCount, Store, WorkflowId};
use serde_json::json;

const WF: &str = "c0c0c0c0-0000-4000-8000-000000000001";
const OTHER: &str = "c0c0c0c0-0000-4000-8000-000000000002";
/// A day far from every other check's sessions (2024-10-04).
const DAY: i64 = 20_000;
const MS_PER_DAY: i64 = 86_400_000;

fn session(
    n: u64,
    workflow: &str,
    day: i64,
    status: i64,
    current: &str,
    done: &[&str],
) -> SessionRecord {
    let at = day * MS_PER_DAY + 3_600_000 + n as i64;
    SessionRecord {
        workflow_id: workflow.to_owned(),
        status,
        current_step: Some(current.to_owned()),
        steps: json!(
            done.iter()
                .map(|s| json!({"id": s, "attempt": 1, "completedAt": "2024-10-04T01:00:00.000Z"}))
                .collect::<Vec<_>>()
        ),
        ended: false,
        created_at: at,
        updated_at: at,
        ..bare_session(n)
    }
}

fn day(day: i64, status: i64, count: i64) -> DayCount {
    DayCount { day, status, count }
}

fn step(step: &str, reached: i64, here: i64) -> StepCount {
    StepCount {
        step: step.to_owned(),
        reached,
        here,
    }
}

async fn days(store: &dyn Store, workflow: Option<&str>) -> Vec<DayCount> {
    store
        .session_day_counts(DAY - 1, DAY + 1, workflow.map(WorkflowId::new))
        .await
        .expect("session_day_counts")
}

async fn steps(store: &dyn Store, workflow: &str) -> Vec<StepCount> {
    store
        .session_step_counts(WorkflowId::new(workflow))
        .await
        .expect("session_step_counts")
}

async fn update(store: &dyn Store, s: &mut SessionRecord, change: impl FnOnce(&mut SessionRecord)) {
    change(s);
    s.revision += 1;
    assert!(
        store.session_update(s, &[]).await.expect("session_update"),
        "the update is written"
    );
}

/// Runs the counters' compaction and checks that every count reads the same after it.
async fn compact_keeps_counts(store: &dyn Store) {
    let before = (
        days(store, None).await,
        days(store, Some(WF)).await,
        steps(store, WF).await,
        steps(store, OTHER).await,
    );
    store
        .session_counts_compact()
        .await
        .expect("session_counts_compact");
    let after = (
        days(store, None).await,
        days(store, Some(WF)).await,
        steps(store, WF).await,
        steps(store, OTHER).await,
    );
    assert_eq!(before, after, "a compaction changes no count");
    assert_eq!(
        store
            .session_counts_compact()
            .await
            .expect("session_counts_compact"),
        0,
        "a second compaction right after the first has nothing left to sum"
    );
}

async fn delete(store: &dyn Store, id: &str) {
    let by = Deleter {
        id: None,
        name: "counts".to_owned(),
        kind: "retention".to_owned(),
    };
    store
        .session_delete(SessionId::new(id), &by, 1, None, None, None)
        .await
        .expect("session_delete");
}

/// `session_day_counts`, `session_step_counts` and `session_counted_workflows` follow every
/// session write: a create counts the session on its creation day and status and in every
/// step it reached; a status change moves it between statuses; a step move adds the new step
/// to `reached` and moves `here`; a revisited step is not counted twice; a write that changes
/// neither touches nothing; a deletion takes the session away. Tables: sessions, its own
/// workflow ids only (it deletes its sessions at the end).
pub async fn check_session_counts(store: &dyn Store) {
    let mut a = session(0xc0_0001, WF, DAY, 0, "intro", &[]);
    let mut b = session(0xc0_0002, WF, DAY, 0, "scan", &["intro"]);
    let c = session(0xc0_0003, WF, DAY + 1, 1, "intro", &[]);
    let d = session(0xc0_0004, OTHER, DAY, 0, "start", &[]);
    for s in [&a, &b, &c, &d] {
        store.session_create(s, &[]).await.expect("session_create");
    }
    assert_eq!(
        days(store, Some(WF)).await,
        [day(DAY, 0, 2), day(DAY + 1, 1, 1)],
        "created sessions count on their UTC day and status"
    );
    assert_eq!(
        days(store, None).await,
        [day(DAY, 0, 3), day(DAY + 1, 1, 1)],
        "without a workflow: the sums over all workflows"
    );
    assert_eq!(
        steps(store, WF).await,
        [step("intro", 3, 2), step("scan", 1, 1)],
        "a completed step and the current one count as reached; here counts the current"
    );
    assert_eq!(steps(store, OTHER).await, [step("start", 1, 1)]);
    let counted = store
        .session_counted_workflows()
        .await
        .expect("session_counted_workflows");
    assert!(
        counted.contains(&WF.to_owned()) && counted.contains(&OTHER.to_owned()),
        "both workflows are counted: {counted:?}"
    );
    assert!(
        counted.windows(2).all(|w| w[0] < w[1]),
        "in byte order, once each: {counted:?}"
    );

    compact_keeps_counts(store).await;

    // A review: the status moves, the steps stay.
    update(store, &mut b, |s| s.status = 3).await;
    assert_eq!(
        days(store, Some(WF)).await,
        [day(DAY, 0, 1), day(DAY, 3, 1), day(DAY + 1, 1, 1)],
        "a status change moves the session between statuses"
    );
    // A step move: scan completed, now in done.
    update(store, &mut b, |s| {
        s.steps = json!([{"id": "intro", "attempt": 1}, {"id": "scan", "attempt": 1}]);
        s.current_step = Some("done".to_owned());
        s.ended = true;
    })
    .await;
    assert_eq!(
        steps(store, WF).await,
        [step("done", 1, 1), step("intro", 3, 2), step("scan", 1, 0)],
        "a step move adds the new step and moves here"
    );
    // Back to a step it reached before, a second attempt: reached does not count it again.
    update(store, &mut a, |s| {
        s.steps = json!([{"id": "intro", "attempt": 1}]);
        s.current_step = Some("scan".to_owned());
    })
    .await;
    update(store, &mut a, |s| {
        s.steps = json!([{"id": "intro", "attempt": 1}, {"id": "scan", "attempt": 1}]);
        s.current_step = Some("intro".to_owned());
    })
    .await;
    assert_eq!(
        steps(store, WF).await,
        [step("done", 1, 1), step("intro", 3, 2), step("scan", 2, 0)],
        "a step reached again is counted once"
    );
    compact_keeps_counts(store).await;
    // A write that changes neither status nor steps leaves the counts.
    update(store, &mut a, |s| {
        s.properties = json!({"name": "changed"});
        s.updated_at += 1;
    })
    .await;
    assert_eq!(
        days(store, Some(WF)).await,
        [day(DAY, 0, 1), day(DAY, 3, 1), day(DAY + 1, 1, 1)]
    );
    assert_eq!(
        steps(store, WF).await,
        [step("done", 1, 1), step("intro", 3, 2), step("scan", 2, 0)]
    );

    // Deletions take the sessions away from every count.
    delete(store, &b.id).await;
    assert_eq!(
        days(store, Some(WF)).await,
        [day(DAY, 0, 1), day(DAY + 1, 1, 1)],
        "a deleted session is no longer counted"
    );
    assert_eq!(
        steps(store, WF).await,
        [step("intro", 2, 2), step("scan", 1, 0)],
        "nor in the steps it reached; steps no session reached are left out"
    );
    compact_keeps_counts(store).await;
    for s in [&a, &c, &d] {
        delete(store, &s.id).await;
    }
    compact_keeps_counts(store).await;
    assert_eq!(days(store, None).await, [], "all deleted");
    assert_eq!(steps(store, WF).await, []);
    let counted = store
        .session_counted_workflows()
        .await
        .expect("session_counted_workflows");
    assert!(
        !counted.contains(&WF.to_owned()) && !counted.contains(&OTHER.to_owned()),
        "a workflow whose sessions are all deleted is no longer listed: {counted:?}"
    );
}
