//! What the workflow engine relies on for sessions: its state and the session lifetime
//! round-trip, a session change commits with its files and jobs or not at all, and the expiry
//! scan finds exactly the sessions whose time is up. The job checks are in `jobs`.

use super::sessions::{bare_session, file, full_session};
use super::{assert_conflict, hex_id};
use idv_store::{FileRecord, JobRecord, SessionRecord, Store};
use idv_store::{JobId, SessionId};
use serde_json::json;

pub(super) fn job(id: u64, session: &SessionRecord, run_at: i64) -> JobRecord {
    JobRecord {
        id: hex_id(id),
        session_id: session.id.clone(),
        step: "verify".to_owned(),
        action: "documentReader — ✓".to_owned(),
        run_at,
        attempts: 0,
        locked_until: None,
        last_error: None,
        created_at: 10,
    }
}

/// A session that has not ended and never expires, at revision 1.
pub(super) fn open_session(id: u64) -> SessionRecord {
    SessionRecord {
        ended: false,
        current_step: Some("verify".to_owned()),
        revision: 1,
        ..bare_session(id)
    }
}

/// `s` as its next revision.
pub(super) fn bumped(s: &SessionRecord) -> SessionRecord {
    SessionRecord {
        revision: s.revision + 1,
        updated_at: s.updated_at + 1,
        ..s.clone()
    }
}

async fn get(store: &dyn Store, id: &str) -> Option<SessionRecord> {
    store
        .session_get(SessionId::new(id))
        .await
        .expect("session_get")
}

pub(super) async fn jobs_of(store: &dyn Store, session_id: &str) -> Vec<JobRecord> {
    store
        .job_list(SessionId::new(session_id))
        .await
        .expect("job_list")
}

async fn files_of(store: &dyn Store, session_id: &str) -> Vec<FileRecord> {
    store
        .file_list(SessionId::new(session_id))
        .await
        .expect("file_list")
}

/// Deletes every job of `session` through `session_advance`, one revision per job, and returns
/// the session as stored afterwards.
pub(super) async fn finish_all(store: &dyn Store, mut session: SessionRecord) -> SessionRecord {
    for j in jobs_of(store, &session.id).await {
        let next = bumped(&session);
        assert!(
            store
                .session_advance(&next, &[], &[], Some(JobId::new(&j.id)), &[])
                .await
                .expect("advance"),
            "finishing job {} commits",
            j.id
        );
        session = next;
    }
    assert!(jobs_of(store, &session.id).await.is_empty());
    session
}

/// Engine state and expiry round-trip through create, get, update and the combined read with
/// files; a new session's `{}` comes back as `{}`. Tables: sessions of its own.
pub async fn check_engine_state(store: &dyn Store) {
    let plain = open_session(0xe5_0001);
    store
        .session_create(&plain, &[])
        .await
        .expect("create plain");
    let stored = get(store, &plain.id).await.expect("plain exists");
    assert_eq!(stored.engine, json!({}), "empty engine state round-trips");
    assert_eq!(stored.expires_at, None, "no expiry round-trips");

    let rich = SessionRecord {
        ended: true,
        expires_at: Some(1_234_567),
        ..full_session(0xe5_0002)
    };
    store.session_create(&rich, &[]).await.expect("create rich");
    assert_eq!(
        get(store, &rich.id).await,
        Some(rich.clone()),
        "create, get"
    );
    assert_eq!(
        store
            .session_with_files(SessionId::new(&rich.id))
            .await
            .expect("read"),
        Some((rich.clone(), vec![])),
        "create, combined read"
    );

    let mut next = bumped(&rich);
    next.engine = json!({
        "errors": [],
        "normalized": [{"id": "capture", "data": [1, "two", {"three": 3.5}]}],
        "actionFiles": {"verify": [], "face": [hex_id(0xf3)]},
        "extra": "kept"
    });
    next.expires_at = Some(9_876_543_210_000);
    assert!(
        store.session_update(&next, &[]).await.expect("update"),
        "update"
    );
    assert_eq!(
        get(store, &rich.id).await,
        Some(next.clone()),
        "update, get"
    );
    let mut cleared = bumped(&next);
    cleared.engine = json!({});
    cleared.expires_at = None;
    assert!(
        store.session_update(&cleared, &[]).await.expect("update"),
        "update"
    );
    assert_eq!(
        get(store, &rich.id).await,
        Some(cleared.clone()),
        "state emptied, expiry removed"
    );

    // The combined read after an update, with a file beside it.
    let f = file(0xe5_0f01, &plain, 5);
    let mut next = bumped(&stored);
    next.engine = json!({"errors": [{"code": 1}], "normalized": [], "actionFiles": {}});
    next.expires_at = Some(5_000_000_000);
    assert!(
        store
            .session_advance(&next, std::slice::from_ref(&f), &[], None, &[])
            .await
            .expect("advance"),
        "advance with a file"
    );
    assert_eq!(
        store
            .session_with_files(SessionId::new(&plain.id))
            .await
            .expect("read"),
        Some((next, vec![f])),
        "advance, combined read"
    );
    crate::sessions::same_as_text_read(store, &plain.id).await;
    crate::sessions::same_as_text_read(store, &rich.id).await;
}

/// `session_advance`: the session, files and jobs commit together; a stale revision or a
/// failed insert writes nothing at all; `done_job` is deleted, an unknown one is no error.
/// Tables: jobs (left empty), and sessions and files of its own.
pub async fn check_session_advance(store: &dyn Store) {
    let s = open_session(0xad_0001);
    let other = open_session(0xad_0002);
    store.session_create(&s, &[]).await.expect("create");
    store
        .session_create(&other, &[])
        .await
        .expect("create other");

    // Everything at once. Jobs are stored as given, whatever their fields.
    let f1 = file(0xad_0f01, &s, 20);
    let j1 = job(0xad_0b01, &s, 500);
    let j2 = JobRecord {
        attempts: 3,
        locked_until: Some(9_000_000_000_000),
        last_error: Some("HTTP 503 — retry ✓".to_owned()),
        ..job(0xad_0b02, &s, 400)
    };
    let mut rev2 = bumped(&s);
    rev2.current_step = Some("review".to_owned());
    rev2.engine = json!({"actionFiles": {"verify": [f1.id.clone()]}});
    rev2.status = 1;
    assert!(
        store
            .session_advance(
                &rev2,
                std::slice::from_ref(&f1),
                &[j1.clone(), j2.clone()],
                None,
                &[]
            )
            .await
            .expect("advance"),
        "revision 1 → 2 commits"
    );
    assert_eq!(
        get(store, &s.id).await,
        Some(rev2.clone()),
        "session written"
    );
    assert_eq!(
        files_of(store, &s.id).await,
        vec![f1.clone()],
        "file written"
    );
    assert_eq!(
        jobs_of(store, &s.id).await,
        vec![j2.clone(), j1.clone()],
        "jobs written, by run_at"
    );
    assert!(jobs_of(store, &other.id).await.is_empty(), "only its own");

    // A stale revision: no session change, no file, no job, no delete.
    let stale = SessionRecord {
        status: 2,
        ..rev2.clone()
    };
    let f2 = file(0xad_0f02, &s, 30);
    let j3 = job(0xad_0b03, &s, 100);
    assert!(
        !store
            .session_advance(
                &stale,
                std::slice::from_ref(&f2),
                std::slice::from_ref(&j3),
                Some(JobId::new(&j1.id)),
                &[]
            )
            .await
            .expect("advance"),
        "a stale revision loses"
    );
    assert_eq!(
        get(store, &s.id).await,
        Some(rev2.clone()),
        "session unchanged"
    );
    assert_eq!(
        files_of(store, &s.id).await,
        vec![f1.clone()],
        "no file written"
    );
    assert_eq!(
        jobs_of(store, &s.id).await,
        vec![j2.clone(), j1.clone()],
        "no job written, none deleted"
    );
    let ghost = bumped(&open_session(0xad_ffff));
    assert!(
        !store
            .session_advance(
                &ghost,
                &[],
                std::slice::from_ref(&job(0xad_0bff, &ghost, 1)),
                None,
                &[]
            )
            .await
            .expect("advance unknown"),
        "no such session"
    );
    assert_eq!(get(store, &ghost.id).await, None, "advance never inserts");

    // A failed insert (a taken file id) undoes the session change and everything else.
    let rev3 = SessionRecord {
        status: 3,
        ..bumped(&rev2)
    };
    assert_conflict(
        store
            .session_advance(
                &rev3,
                &[f2.clone(), file(0xad_0f01, &s, 40)],
                std::slice::from_ref(&j3),
                Some(JobId::new(&j1.id)),
                &[],
            )
            .await,
        "a taken file id",
    );
    assert_eq!(
        get(store, &s.id).await,
        Some(rev2.clone()),
        "session unchanged"
    );
    assert_eq!(
        files_of(store, &s.id).await,
        vec![f1.clone()],
        "no file written"
    );
    assert_eq!(
        jobs_of(store, &s.id).await,
        vec![j2.clone(), j1.clone()],
        "no job written, none deleted"
    );
    // A taken job id, likewise.
    assert_conflict(
        store
            .session_advance(
                &rev3,
                std::slice::from_ref(&f2),
                &[j3.clone(), job(0xad_0b01, &s, 1)],
                None,
                &[],
            )
            .await,
        "a taken job id",
    );
    assert_eq!(
        get(store, &s.id).await,
        Some(rev2.clone()),
        "session unchanged"
    );
    assert_eq!(
        files_of(store, &s.id).await,
        vec![f1.clone()],
        "no file written"
    );

    // The session alone, then a finished job replaced by the next one.
    assert!(
        store
            .session_advance(&rev3, &[], &[], None, &[])
            .await
            .expect("advance"),
        "the session alone commits"
    );
    assert_eq!(get(store, &s.id).await, Some(rev3.clone()));
    let rev4 = bumped(&rev3);
    assert!(
        store
            .session_advance(
                &rev4,
                &[],
                std::slice::from_ref(&j3),
                Some(JobId::new(&j1.id)),
                &[]
            )
            .await
            .expect("advance"),
        "finishing a job commits"
    );
    assert_eq!(get(store, &s.id).await, Some(rev4.clone()));
    assert_eq!(
        jobs_of(store, &s.id).await,
        vec![j3.clone(), j2.clone()],
        "the done job is gone, the new one is there"
    );
    let rev5 = bumped(&rev4);
    assert!(
        store
            .session_advance(&rev5, &[], &[], Some(JobId::new(&j1.id)), &[])
            .await
            .expect("advance"),
        "a done job that is already gone is no error"
    );
    assert_eq!(get(store, &s.id).await, Some(rev5.clone()));
    assert_eq!(jobs_of(store, &s.id).await, vec![j3.clone(), j2.clone()]);
    assert_eq!(files_of(store, &s.id).await, vec![f1], "files only grow");
    finish_all(store, rev5).await;
}

/// The expiry scan: sessions that have not ended and whose `expires_at <= now`, earliest first
/// (ties by id), at most `limit`; ending a session or removing its expiry takes it out. Tables:
/// sessions of its own; no other session may have an `expires_at` before 1_000_000.
pub async fn check_session_expiry(store: &dyn Store) {
    let expiring = |id: u64, at: Option<i64>| SessionRecord {
        expires_at: at,
        ..open_session(id)
    };
    let e1 = expiring(0xe0_0002, Some(50));
    let e2 = expiring(0xe0_0001, Some(50));
    let e3 = expiring(0xe0_0003, Some(100));
    let ended = SessionRecord {
        ended: true,
        ..expiring(0xe0_0004, Some(10))
    };
    let never = expiring(0xe0_0005, None);
    let late = expiring(0xe0_0006, Some(1_000));
    for s in [&late, &e3, &ended, &e1, &never, &e2] {
        store.session_create(s, &[]).await.expect("create");
    }
    let expired = |now: i64, limit: i64| async move {
        store
            .session_expired(now, limit)
            .await
            .expect("session_expired")
    };
    assert_eq!(expired(49, 10).await, Vec::<String>::new(), "none yet");
    assert_eq!(
        expired(50, 10).await,
        vec![e2.id.clone(), e1.id.clone()],
        "expires_at <= now; ties by id; ended sessions never"
    );
    assert_eq!(
        expired(999, 10).await,
        vec![e2.id.clone(), e1.id.clone(), e3.id.clone()],
        "earliest expiry first"
    );
    assert_eq!(
        expired(999, 2).await,
        vec![e2.id.clone(), e1.id.clone()],
        "at most limit"
    );
    assert_eq!(expired(999, 0).await, Vec::<String>::new(), "limit 0");
    assert_eq!(
        expired(999_999, 10).await,
        vec![e2.id.clone(), e1.id.clone(), e3.id.clone(), late.id.clone()],
        "sessions that never expire never show"
    );

    let e3_ended = SessionRecord {
        ended: true,
        ..bumped(&e3)
    };
    assert!(store.session_update(&e3_ended, &[]).await.expect("update"));
    let e1_kept = SessionRecord {
        expires_at: None,
        ..bumped(&e1)
    };
    assert!(
        store
            .session_advance(&e1_kept, &[], &[], None, &[])
            .await
            .expect("advance")
    );
    let never_now = SessionRecord {
        expires_at: Some(60),
        ..bumped(&never)
    };
    assert!(store.session_update(&never_now, &[]).await.expect("update"));
    assert_eq!(
        expired(999_999, 10).await,
        vec![e2.id.clone(), never.id.clone(), late.id.clone()],
        "ending a session or removing its expiry takes it out; setting one puts it in"
    );
}
