//! What the workflow engine relies on for background jobs: claims go to due jobs in order and
//! hold under a lease, releases reschedule, and racing claimers never share a job.

use super::engine::{bumped, finish_all, job, jobs_of, open_session};
use super::hex_id;
use idv_store::JobId;
use idv_store::{JobRecord, Store};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Claims: only due jobs, smallest `run_at` first then id; a lease keeps a job from every other
/// claim until it has passed; each claim counts an attempt; a release reschedules and records
/// the error; `job_next_due` follows. Tables: jobs (empty before, left empty), and a session of
/// its own.
pub async fn check_job_claims(store: &dyn Store) {
    assert_eq!(
        store.job_next_due().await.expect("next due"),
        None,
        "no jobs"
    );
    assert_eq!(
        store.job_claim(i64::MAX / 2, 1).await.expect("claim"),
        None,
        "nothing to claim"
    );
    let s = open_session(0xc1_0001);
    store.session_create(&s, &[]).await.expect("create");
    // Ids sort against insertion order: ties on run_at go by id, not by insertion.
    let a = job(0xc1_0b02, &s, 100);
    let b = job(0xc1_0b01, &s, 100);
    let c = job(0xc1_0b03, &s, 300);
    let s = bumped(&s);
    assert!(
        store
            .session_advance(&s, &[], &[c.clone(), a.clone(), b.clone()], None, &[])
            .await
            .expect("advance"),
        "jobs written"
    );
    let next_due = || async { store.job_next_due().await.expect("next due") };
    let claim =
        |now: i64, lease: i64| async move { store.job_claim(now, lease).await.expect("claim") };
    let session_id = s.id.clone();
    let listed = |id: String| {
        let session_id = &session_id;
        async move {
            jobs_of(store, session_id)
                .await
                .into_iter()
                .find(|j| j.id == id)
                .expect("the job is listed")
        }
    };

    assert_eq!(next_due().await, Some(100), "the earliest run_at");
    assert_eq!(claim(99, 1_000).await, None, "nothing due before run_at");

    let got = claim(100, 1_000).await.expect("b is due at its run_at");
    let want = JobRecord {
        attempts: 1,
        locked_until: Some(1_100),
        ..b.clone()
    };
    assert_eq!(
        got, want,
        "ties on run_at go by id; the claim leases and counts"
    );
    assert_eq!(listed(b.id.clone()).await, want, "the claim is stored");
    assert_eq!(next_due().await, Some(100), "a is still due");
    let got = claim(100, 1_000).await.expect("a is due");
    assert_eq!(got.id, a.id, "the other job of the same run_at");
    assert_eq!(
        claim(100, 1_000).await,
        None,
        "leased jobs are not claimed again"
    );
    assert_eq!(
        next_due().await,
        Some(300),
        "leased jobs are next due after their lease"
    );
    assert_eq!(claim(299, 1_000).await, None, "c is not due yet");
    let got = claim(300, 1_000).await.expect("c is due");
    assert_eq!((got.id, got.locked_until), (c.id.clone(), Some(1_300)));
    assert_eq!(
        next_due().await,
        Some(1_101),
        "the first lease ends after 1100"
    );

    assert_eq!(
        claim(1_100, 10).await,
        None,
        "a lease still holds at locked_until"
    );
    let got = claim(1_101, 10).await.expect("b's lease has passed");
    assert_eq!(
        got,
        JobRecord {
            attempts: 2,
            locked_until: Some(1_111),
            ..b.clone()
        },
        "claimed again after the lease, with a second attempt"
    );

    store
        .job_release(JobId::new(&b.id), 5_000, Some("HTTP 502 — ✗"))
        .await
        .expect("release");
    let released = JobRecord {
        run_at: 5_000,
        attempts: 2,
        locked_until: None,
        last_error: Some("HTTP 502 — ✗".to_owned()),
        ..b.clone()
    };
    assert_eq!(
        listed(b.id.clone()).await,
        released,
        "released: rescheduled, unleased, the error kept"
    );
    let got = claim(1_102, 1_000).await.expect("a's lease has passed");
    assert_eq!((got.id.clone(), got.attempts), (a.id.clone(), 2));
    assert_eq!(
        claim(1_102, 1_000).await,
        None,
        "c is leased, b rescheduled"
    );
    store
        .job_release(JobId::new(&a.id), 2_000, None)
        .await
        .expect("release");
    store
        .job_release(JobId::new(&hex_id(0xc1_0bff)), 1, Some("gone"))
        .await
        .expect("releasing an unknown job is no error");
    assert_eq!(
        next_due().await,
        Some(1_301),
        "c after its lease, a at 2000, b at 5000"
    );

    let got = claim(2_000, 10_000).await.expect("c and a are due");
    assert_eq!(got.id, c.id, "smallest run_at first, even after a lease");
    assert_eq!(got.attempts, 2);
    let got = claim(2_000, 10_000).await.expect("a is due");
    assert_eq!(
        got,
        JobRecord {
            run_at: 2_000,
            attempts: 3,
            locked_until: Some(12_000),
            ..a.clone()
        },
        "a release without an error clears it"
    );
    assert_eq!(claim(4_999, 1).await, None, "b is not due before 5000");
    let got = claim(5_000, 1).await.expect("b is due");
    assert_eq!(
        got,
        JobRecord {
            attempts: 3,
            locked_until: Some(5_001),
            ..released.clone()
        },
        "a claim keeps the last error"
    );

    finish_all(store, s).await;
    assert_eq!(next_due().await, None, "no jobs left");
}

/// Many claimers at once, on `a` and `b` alternately (one store twice, or two stores on one
/// database as two processes would be): every job is handed out exactly once. Tables: jobs
/// (empty before, left empty), and a session of its own.
pub async fn check_job_claim_race(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const JOBS: u64 = 20;
    const CLAIMERS: usize = 8;
    let s = open_session(0xc2_0001);
    a.session_create(&s, &[]).await.expect("create");
    let jobs: Vec<JobRecord> = (0..JOBS)
        .map(|i| job(0xc2_0b00 + i, &s, 1 + i as i64 % 3))
        .collect();
    let s = bumped(&s);
    assert!(
        a.session_advance(&s, &[], &jobs, None, &[])
            .await
            .expect("advance"),
        "jobs written"
    );

    let mut tasks = Vec::new();
    for i in 0..CLAIMERS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(j) = store.job_claim(100, 1_000_000).await.expect("claim") {
                claimed.push(j);
                tokio::task::yield_now().await;
            }
            claimed
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("claimer task"));
    }
    let mut ids: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    ids.sort_unstable();
    let distinct: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "no job was claimed twice: {ids:?}"
    );
    let all: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, all, "every job was claimed");
    assert!(
        claimed
            .iter()
            .all(|j| j.attempts == 1 && j.locked_until == Some(1_000_100)),
        "each claimed once, under the lease"
    );
    assert_eq!(
        a.job_claim(100, 1).await.expect("claim"),
        None,
        "all are leased"
    );
    finish_all(a.as_ref(), s).await;
}
