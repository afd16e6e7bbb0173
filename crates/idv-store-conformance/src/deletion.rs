//! Deletion with tombstones, legal hold, and the reads retention and the orphan sweep rely on.
//!
//! These checks run after the others in [`super::run_all`], whose sessions stay in the table:
//! the sessions made here have negative `updated_at` values, which sort before every other
//! check's, so the retention selection sees only them below its limits.

use super::engine::job;
use super::hex_id;
use super::sessions::{bare_session, file, full_session};
use idv_store::{Deleter, FileRecord, SessionDeletion, SessionRecord, Store, TombstoneRecord};
use idv_store::{FileId, SessionId};

fn user(name: &str) -> Deleter {
    Deleter {
        id: Some(hex_id(0xde1e_7e00)),
        name: name.to_owned(),
        kind: "user".to_owned(),
    }
}

fn retention() -> Deleter {
    Deleter {
        id: None,
        name: "retention".to_owned(),
        kind: "retention".to_owned(),
    }
}

async fn delete(
    store: &dyn Store,
    id: &str,
    by: &Deleter,
    at: i64,
    reason: Option<&str>,
    updated_before: Option<i64>,
) -> SessionDeletion {
    store
        .session_delete(SessionId::new(id), by, at, reason, updated_before, None)
        .await
        .expect("session_delete")
}

async fn tombstone(store: &dyn Store, id: &str) -> Option<TombstoneRecord> {
    store
        .tombstone_get(SessionId::new(id))
        .await
        .expect("tombstone_get")
}

/// `session_delete`: removes the session, its file rows and its jobs in one go and leaves a
/// tombstone made from the row; a repeat answers the first tombstone; legal hold and a
/// session updated since `updated_before` are refused without a change; an unknown id is
/// `NotFound`; a deleted session takes no further writes. Tables: sessions, files, jobs,
/// tombstones (its own rows only).
pub async fn check_session_deletion(store: &dyn Store) {
    let session = SessionRecord {
        legal_hold: false,
        updated_at: -5_000,
        ..full_session(0xde1e_0001)
    };
    store.session_create(&session, &[]).await.expect("create");
    let stored_file = file(0xde1e_f001, &session, 10);
    let inline_file = FileRecord {
        object_key: idv_store::INLINE_KEY.to_owned(),
        inline: Some(b"{\"continue\": true}".to_vec()),
        size: 18,
        ..file(0xde1e_f002, &session, 11)
    };
    let mut next = session.clone();
    next.revision += 1;
    assert!(
        store
            .session_advance(
                &next,
                &[stored_file.clone(), inline_file.clone()],
                &[job(0xde1e_0b01, &session, 50)],
                None,
                &[],
            )
            .await
            .expect("advance"),
        "the files and the job are written"
    );
    let other = bare_session(0xde1e_0002);
    store
        .session_create(&other, &[])
        .await
        .expect("create other");
    store
        .file_create(&file(0xde1e_f003, &other, 12))
        .await
        .expect("other's file");

    let by = user("Zoë — operator");
    let outcome = delete(
        store,
        &session.id,
        &by,
        7_000,
        Some("asked by the person"),
        None,
    )
    .await;
    let expected = TombstoneRecord {
        id: session.id.clone(),
        workflow_id: session.workflow_id.clone(),
        status: session.status,
        owner_id: session.owner_id.clone(),
        deleted_at: 7_000,
        deleted_by: by.clone(),
        reason: Some("asked by the person".to_owned()),
    };
    let listed_inline = FileRecord {
        inline: None,
        ..inline_file.clone()
    };
    assert_eq!(
        outcome,
        SessionDeletion::Deleted {
            tombstone: expected.clone(),
            files: vec![stored_file.clone(), listed_inline],
        },
        "the deletion answers the tombstone and the deleted file rows (without inline bytes)"
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&session.id))
            .await
            .expect("get"),
        None
    );
    assert!(
        store
            .file_list(SessionId::new(&session.id))
            .await
            .expect("file_list")
            .is_empty(),
        "file rows are gone"
    );
    assert_eq!(
        store
            .file_content(SessionId::new(&session.id), FileId::new(&inline_file.id))
            .await
            .expect("file_content"),
        None,
        "inline bytes are gone with their row"
    );
    assert!(
        store
            .job_list(SessionId::new(&session.id))
            .await
            .expect("job_list")
            .is_empty(),
        "jobs are gone"
    );
    assert_eq!(tombstone(store, &session.id).await, Some(expected.clone()));
    assert_eq!(
        store
            .file_list(SessionId::new(&other.id))
            .await
            .expect("other files")
            .len(),
        1,
        "another session's files stay"
    );

    // Idempotent: the first tombstone, whoever asks again.
    assert_eq!(
        delete(store, &session.id, &retention(), 9_000, None, None).await,
        SessionDeletion::AlreadyDeleted(expected.clone()),
        "a repeat answers the first tombstone"
    );
    assert_eq!(tombstone(store, &session.id).await, Some(expected));
    assert_eq!(
        delete(store, &hex_id(0xde1e_ffff), &by, 9_000, None, None).await,
        SessionDeletion::NotFound,
        "an id never seen"
    );
    assert_eq!(tombstone(store, &hex_id(0xde1e_ffff)).await, None);

    // A deleted session takes no further writes.
    let mut late = next.clone();
    late.revision += 1;
    assert!(
        !store
            .session_update(&late, &[])
            .await
            .expect("update of a deleted session"),
        "the compare-and-swap finds no row"
    );
    assert!(
        !store
            .session_advance(&late, &[], &[job(0xde1e_0b02, &session, 60)], None, &[])
            .await
            .expect("advance of a deleted session"),
        "an advance finds no row and writes nothing"
    );
    assert!(
        store
            .job_list(SessionId::new(&session.id))
            .await
            .expect("jobs")
            .is_empty()
    );
    assert!(
        store
            .file_create(&file(0xde1e_f004, &session, 13))
            .await
            .is_err(),
        "a file row for a deleted session is refused"
    );

    // Legal hold: nothing changes until it is lifted.
    let held = SessionRecord {
        legal_hold: true,
        updated_at: -5_000,
        ..bare_session(0xde1e_0003)
    };
    store.session_create(&held, &[]).await.expect("create held");
    store
        .file_create(&file(0xde1e_f005, &held, 14))
        .await
        .expect("held file");
    assert_eq!(
        delete(store, &held.id, &by, 7_000, None, None).await,
        SessionDeletion::LegalHold
    );
    assert_eq!(
        delete(store, &held.id, &retention(), 7_000, None, Some(0)).await,
        SessionDeletion::LegalHold,
        "retention is refused too"
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&held.id))
            .await
            .expect("get held"),
        Some(held.clone())
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&held.id))
            .await
            .expect("files")
            .len(),
        1
    );
    assert_eq!(tombstone(store, &held.id).await, None);
    let lifted = SessionRecord {
        legal_hold: false,
        revision: held.revision + 1,
        ..held.clone()
    };
    assert!(
        store
            .session_update(&lifted, &[])
            .await
            .expect("lift the hold")
    );
    assert!(matches!(
        delete(store, &held.id, &by, 7_001, None, None).await,
        SessionDeletion::Deleted { .. }
    ));

    // `updated_before`: a session updated at or after the limit stays.
    let recent = SessionRecord {
        updated_at: -4_000,
        ..bare_session(0xde1e_0004)
    };
    store
        .session_create(&recent, &[])
        .await
        .expect("create recent");
    assert_eq!(
        delete(store, &recent.id, &retention(), 7_000, None, Some(-4_000)).await,
        SessionDeletion::Recent
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&recent.id))
            .await
            .expect("get recent"),
        Some(recent.clone())
    );
    match delete(
        store,
        &recent.id,
        &retention(),
        7_002,
        Some("kept for 30d"),
        Some(-3_999),
    )
    .await
    {
        SessionDeletion::Deleted { tombstone, files } => {
            assert!(files.is_empty());
            assert_eq!(tombstone.deleted_by, retention(), "no id round-trips");
            assert_eq!(tombstone.owner_id, None);
            assert_eq!(tombstone.status, recent.status);
        }
        other => panic!("a session updated before the limit is deleted, got {other:?}"),
    }
}

/// `session_stale` picks sessions not under legal hold updated strictly before the limit, least
/// recently updated first, then by id, at most `limit`; `session_existing` keeps the ids that
/// have a session row. Tables: sessions (its own rows, with negative `updated_at`).
pub async fn check_retention_selection(store: &dyn Store) {
    let at = |id: u64, updated_at: i64, legal_hold: bool| SessionRecord {
        updated_at,
        legal_hold,
        ..bare_session(id)
    };
    let oldest = at(0xa6e_0001, -900_000, false);
    let held = at(0xa6e_0002, -800_000, true);
    let tie_b = at(0xa6e_0004, -700_000, false);
    let tie_a = at(0xa6e_0003, -700_000, false);
    let at_limit = at(0xa6e_0005, -100_000, false);
    for s in [&oldest, &held, &tie_b, &tie_a, &at_limit] {
        store.session_create(s, &[]).await.expect("create");
    }
    let stale = |before: i64, limit: i64| async move {
        store
            .session_stale(before, limit)
            .await
            .expect("session_stale")
    };
    assert_eq!(
        stale(-100_000, 10).await,
        vec![oldest.id.clone(), tie_a.id.clone(), tie_b.id.clone()],
        "held and not-yet-stale sessions are left out; ties by id"
    );
    assert_eq!(
        stale(-100_000, 2).await,
        vec![oldest.id.clone(), tie_a.id.clone()],
        "at most `limit`"
    );
    assert_eq!(stale(-900_000, 10).await, Vec::<String>::new());
    let released = SessionRecord {
        legal_hold: false,
        revision: held.revision + 1,
        ..held.clone()
    };
    assert!(store.session_update(&released, &[]).await.expect("release"));
    assert_eq!(
        stale(-100_000, 2).await,
        vec![oldest.id.clone(), held.id.clone()],
        "a released session is picked again"
    );

    let deleted = hex_id(0xde1e_0001);
    let mut existing = store
        .session_existing(&[
            tie_b.id.clone(),
            hex_id(0xa6e_ffff),
            deleted,
            oldest.id.clone(),
        ])
        .await
        .expect("session_existing");
    existing.sort();
    assert_eq!(existing, vec![oldest.id.clone(), tie_b.id.clone()]);
    assert!(
        store
            .session_existing(&[])
            .await
            .expect("no ids")
            .is_empty()
    );
    for s in [&oldest, &released, &tie_a, &tie_b, &at_limit] {
        assert!(matches!(
            store
                .session_delete(SessionId::new(&s.id), &retention(), 1, None, None, None)
                .await
                .expect("clean up"),
            SessionDeletion::Deleted { .. }
        ));
    }
    assert_eq!(
        stale(-100_000, 10).await,
        Vec::<String>::new(),
        "deleted sessions are no longer picked"
    );
}
