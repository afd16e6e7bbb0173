//! Sessions (round trip, optimistic concurrency) and their file records.

use super::{assert_conflict, hex_id};
use idv_store::{FileId, SessionId};
use idv_store::{FileRecord, SessionRecord, Store};
use serde_json::json;

pub(super) fn full_session(id: u64) -> SessionRecord {
    SessionRecord {
        id: hex_id(id),
        workflow_id: "edda0192-b890-11ef-a348-17da751a6a22".to_owned(),
        workflow_revision: 2,
        workflow_name: "General KYC — 🌍".to_owned(),
        workflow_version: Some("latest".to_owned()),
        status: 0,
        locale: "en-us".to_owned(),
        metadata: json!({
            "customer": {
                "id": 42,
                "tags": ["vip", "ünïcode ✓", "日本語"],
                "nested": {"deep": [1, 2.5, -3, null, true, false, {"k": "v"}, [[]]]}
            },
            "quote": "it's \"fine\" \\ \n\t",
            "big": 9_007_199_254_740_993_i64,
            "negative": -9_007_199_254_740_993_i64,
            "small": 1.5e-7,
            "emoji": "🙂👍🏽",
            "empty": {},
            "list": []
        }),
        properties: json!({
            "firstName": "Ёжик",
            "age": 30,
            "document": {"type": "passport", "score": 0.875, "pages": [1, 2]},
            "consent": true
        }),
        current_step: Some("capture".to_owned()),
        steps: json!([
            {"id": "start", "attempt": 1, "completedAt": "2025-01-01T00:00:00.000Z"},
            {"id": "consent", "attempt": 2, "completedAt": "2025-01-01T00:00:01.500Z",
             "extra": {"by": "engine"}}
        ]),
        ended: false,
        owner_id: Some(hex_id(0xabc)),
        created_at: 1_000,
        updated_at: 1_001,
        revision: 1,
        engine: json!({
            "errors": [{"step": "capture", "code": 7, "message": "glare — retake ✓"}],
            "normalized": [{"id": "capture", "data": {"score": 0.25, "none": null}}],
            "actionFiles": {"verify": [hex_id(0xf1), hex_id(0xf2)]}
        }),
        // Far beyond every time the expiry check scans for (see `check_session_expiry`).
        expires_at: Some(4_102_444_800_000),
        history: json!([
            {"at": "2025-01-01T00:00:02.000Z", "by": {"id": hex_id(0xabc), "name": "Zoë", "kind": "user"},
             "from": 0, "to": 3, "comment": "looks fine — ✓"},
            {"at": "2025-01-01T00:00:03.000Z", "by": {"kind": "workflow"}, "from": 3, "to": 1000}
        ]),
        legal_hold: true,
    }
}

pub(super) fn bare_session(id: u64) -> SessionRecord {
    SessionRecord {
        id: hex_id(id),
        workflow_id: "0b6f3c52-0000-4000-8000-000000000002".to_owned(),
        workflow_revision: 1,
        workflow_name: "Bare".to_owned(),
        workflow_version: None,
        status: 1000,
        locale: "ar-bh".to_owned(),
        metadata: json!({}),
        properties: json!({}),
        current_step: None,
        steps: json!([]),
        ended: true,
        owner_id: None,
        created_at: 2_000,
        updated_at: 2_000,
        revision: 7,
        engine: json!({}),
        expires_at: None,
        history: json!([]),
        legal_hold: false,
    }
}

async fn get(store: &dyn Store, id: &str) -> Option<SessionRecord> {
    store
        .session_get(SessionId::new(id))
        .await
        .expect("session_get")
}

/// Sessions: every field round-trips; `session_update` succeeds only when the stored revision
/// is the new one minus one, so of two writers that read the same revision exactly one wins,
/// and the loser changes nothing. Tables: sessions.
pub async fn check_sessions(store: &dyn Store) {
    let full = full_session(0x5e55_0001);
    let bare = bare_session(0x5e55_0002);
    store
        .session_create(&full, &[])
        .await
        .expect("create full session");
    store
        .session_create(&bare, &[])
        .await
        .expect("create bare session");
    assert_eq!(
        get(store, &full.id).await,
        Some(full.clone()),
        "every field round-trips"
    );
    assert_eq!(
        get(store, &bare.id).await,
        Some(bare.clone()),
        "None and empty round-trip"
    );
    assert_eq!(
        get(store, &hex_id(0x5e55_ffff)).await,
        None,
        "unknown session"
    );
    let clash = SessionRecord {
        status: 3,
        ..full_session(0x5e55_0001)
    };
    assert_conflict(
        store.session_create(&clash, &[]).await,
        "a taken session id",
    );
    assert_eq!(
        get(store, &full.id).await,
        Some(full.clone()),
        "a failed create changes nothing"
    );

    // A normal update: the caller bumps the revision and may change anything but the id.
    let read = get(store, &full.id).await.expect("exists");
    let mut next = read.clone();
    next.revision = read.revision + 1;
    next.status = 1;
    next.current_step = Some("review".to_owned());
    next.properties["lastName"] = json!("Иванов");
    next.properties["document"]["score"] = json!(0.5);
    next.metadata["customer"]["tags"] = json!([]);
    next.steps
        .as_array_mut()
        .expect("steps is an array")
        .push(json!({"id": "capture", "attempt": 1, "completedAt": "2025-01-01T00:00:02.000Z"}));
    next.locale = "ru-ru".to_owned();
    next.workflow_version = None;
    next.owner_id = None;
    next.updated_at = 2_000;
    next.engine["errors"] = json!([]);
    next.engine["normalized"]
        .as_array_mut()
        .expect("normalized is an array")
        .push(json!({"id": "review", "data": {"ok": true}}));
    next.expires_at = None;
    next.history
        .as_array_mut()
        .expect("history is an array")
        .push(
            json!({"at": "2025-01-01T00:00:04.000Z", "by": {"kind": "apikey"}, "legalHold": false}),
        );
    next.legal_hold = false;
    assert!(
        store.session_update(&next, &[]).await.expect("update"),
        "revision 1 → 2 succeeds"
    );
    assert_eq!(
        get(store, &full.id).await,
        Some(next.clone()),
        "the update is stored whole"
    );

    // Two writers from the same (now stale) read: the first wins, the second changes nothing.
    let stale = get(store, &full.id).await.expect("exists");
    let first = SessionRecord {
        revision: stale.revision + 1,
        status: 2,
        properties: json!({"winner": "first"}),
        updated_at: 3_000,
        ..stale.clone()
    };
    let second = SessionRecord {
        revision: stale.revision + 1,
        status: 3,
        properties: json!({"winner": "second"}),
        ended: true,
        updated_at: 3_001,
        ..stale.clone()
    };
    assert!(
        store.session_update(&first, &[]).await.expect("update"),
        "the first writer wins"
    );
    assert!(
        !store.session_update(&second, &[]).await.expect("update"),
        "the second writer's revision is stale"
    );
    assert_eq!(
        get(store, &full.id).await,
        Some(first.clone()),
        "the loser changed nothing"
    );

    let same = SessionRecord {
        status: 4,
        ..first.clone()
    };
    assert!(
        !store.session_update(&same, &[]).await.expect("update"),
        "revision not bumped"
    );
    let skipped = SessionRecord {
        revision: first.revision + 2,
        status: 4,
        ..first.clone()
    };
    assert!(
        !store.session_update(&skipped, &[]).await.expect("update"),
        "revision skipped one"
    );
    let behind = SessionRecord {
        revision: first.revision - 1,
        status: 4,
        ..first.clone()
    };
    assert!(
        !store.session_update(&behind, &[]).await.expect("update"),
        "revision went back"
    );
    assert_eq!(
        get(store, &full.id).await,
        Some(first.clone()),
        "failed updates change nothing"
    );

    let ghost = SessionRecord {
        revision: 2,
        ..full_session(0x5e55_fffe)
    };
    assert!(
        !store
            .session_update(&ghost, &[])
            .await
            .expect("update unknown"),
        "no such session"
    );
    assert_eq!(get(store, &ghost.id).await, None, "update never inserts");

    // The same race, truly concurrent: exactly one of two writers wins.
    let stale = get(store, &full.id).await.expect("exists");
    let left = SessionRecord {
        revision: stale.revision + 1,
        owner_id: Some("left".to_owned()),
        ..stale.clone()
    };
    let right = SessionRecord {
        revision: stale.revision + 1,
        owner_id: Some("right".to_owned()),
        ..stale.clone()
    };
    let (l, r) = futures::join!(
        store.session_update(&left, &[]),
        store.session_update(&right, &[])
    );
    let (l, r) = (
        l.expect("racing update (left)"),
        r.expect("racing update (right)"),
    );
    assert!(
        l != r,
        "exactly one racing writer wins (left: {l}, right: {r})"
    );
    let winner = if l { left } else { right };
    assert_eq!(
        get(store, &full.id).await,
        Some(winner),
        "the winner's write is stored"
    );
    assert_eq!(
        get(store, &bare.id).await,
        Some(bare),
        "other sessions are untouched"
    );
}

pub(super) fn file(id: u64, session: &SessionRecord, created_at: i64) -> FileRecord {
    let file_id = hex_id(id);
    FileRecord {
        object_key: format!("sessions/{}/files/{file_id}", session.id),
        id: file_id,
        session_id: session.id.clone(),
        name: "passport front — ✓.jpg".to_owned(),
        step: Some("capture".to_owned()),
        property: Some("documentImage".to_owned()),
        content_type: "image/jpeg".to_owned(),
        size: 5 * 1024 * 1024 * 1024,
        sha256: format!("{:064x}", id),
        created_at,
        inline: None,
    }
}

/// Files: create, list of one session oldest first (ties in insertion order), get only within
/// its own session. Tables: files, and two sessions of its own.
pub async fn check_files(store: &dyn Store) {
    let a = bare_session(0xf11e_000a);
    let b = bare_session(0xf11e_000b);
    store
        .session_create(&a, &[])
        .await
        .expect("create session a");
    store
        .session_create(&b, &[])
        .await
        .expect("create session b");
    assert!(
        store
            .file_list(SessionId::new(&a.id))
            .await
            .expect("list")
            .is_empty(),
        "no files yet"
    );

    // Ids sort against creation order; only (created_at, insertion) gives f2, f1, f3.
    let f1 = file(0x20, &a, 2_000);
    let f2 = FileRecord {
        step: None,
        property: None,
        name: "upload.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        size: 0,
        ..file(0x30, &a, 1_000)
    };
    let f3 = file(0x10, &a, 2_000);
    let fb = file(0x40, &b, 500);
    for f in [&f1, &f2, &f3, &fb] {
        store.file_create(f).await.expect("create file");
    }
    assert_eq!(
        store
            .file_list(SessionId::new(&a.id))
            .await
            .expect("list a"),
        vec![f2.clone(), f1.clone(), f3.clone()],
        "a session's files, oldest first, ties in insertion order"
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&b.id))
            .await
            .expect("list b"),
        vec![fb.clone()]
    );
    assert!(
        store
            .file_list(SessionId::new(&hex_id(0xf11e_ffff)))
            .await
            .expect("list")
            .is_empty()
    );
    // The combined read agrees with the two separate ones.
    let stored_a = store
        .session_get(SessionId::new(&a.id))
        .await
        .expect("get a")
        .expect("a exists");
    assert_eq!(
        store
            .session_with_files(SessionId::new(&a.id))
            .await
            .expect("read a"),
        Some((stored_a, vec![f2.clone(), f1.clone(), f3.clone()])),
        "a session with its files, oldest first"
    );
    assert_eq!(
        store
            .session_with_files(SessionId::new(&hex_id(0xf11e_ffff)))
            .await
            .expect("read"),
        None,
        "an unknown session"
    );
    assert!(
        store
            .session_with_files_text(SessionId::new(&hex_id(0xf11e_ffff)))
            .await
            .expect("read")
            .is_none(),
        "an unknown session, read with its documents as text"
    );
    same_as_text_read(store, &a.id).await;

    for f in [&f1, &f2, &f3, &fb] {
        assert_eq!(
            store
                .file_get(SessionId::new(&f.session_id), FileId::new(&f.id))
                .await
                .expect("get"),
            Some(f.clone()),
            "every field round-trips"
        );
    }
    assert_eq!(
        store
            .file_get(SessionId::new(&b.id), FileId::new(&f1.id))
            .await
            .expect("get"),
        None,
        "another session's"
    );
    assert_eq!(
        store
            .file_get(SessionId::new(&a.id), FileId::new(&fb.id))
            .await
            .expect("get"),
        None,
        "another session's"
    );
    assert_eq!(
        store
            .file_get(SessionId::new(&a.id), FileId::new(&hex_id(0x99)))
            .await
            .expect("get"),
        None,
        "unknown file"
    );
    assert_conflict(
        store.file_create(&file(0x20, &a, 9_000)).await,
        "a taken file id",
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&a.id))
            .await
            .expect("list")
            .len(),
        3,
        "a failed create adds none"
    );

    // A small file kept in its row: the bytes come back only through file_content.
    let bytes = b"{\"continue\":true}\x00\xff".to_vec();
    let small = FileRecord {
        object_key: idv_store_inline_key(),
        size: bytes.len() as i64,
        inline: Some(bytes.clone()),
        ..file(0x50, &b, 3_000)
    };
    store.file_create(&small).await.expect("create inline file");
    let read = store
        .file_get(SessionId::new(&b.id), FileId::new(&small.id))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(read.inline, None, "records leave the bytes out");
    assert_eq!(read.object_key, idv_store::INLINE_KEY);
    assert_eq!(
        store
            .file_content(SessionId::new(&b.id), FileId::new(&small.id))
            .await
            .expect("content"),
        Some(bytes),
        "the bytes round-trip"
    );
    assert_eq!(
        store
            .file_content(SessionId::new(&a.id), FileId::new(&small.id))
            .await
            .expect("content"),
        None,
        "only within its session"
    );
    assert_eq!(
        store
            .file_content(SessionId::new(&b.id), FileId::new(&fb.id))
            .await
            .expect("content"),
        None,
        "a stored-file record has no bytes in the row"
    );
}

fn idv_store_inline_key() -> String {
    idv_store::INLINE_KEY.to_owned()
}

/// `session_with_files_text` agrees with `session_with_files`: the same files, and either the
/// same record (no texts) or the record with the four documents taken out (`Null`) and those
/// documents as JSON text that parses to the stored values.
pub(crate) async fn same_as_text_read(store: &dyn Store, id: &str) {
    let (parsed, files) = store
        .session_with_files(SessionId::new(id))
        .await
        .expect("read")
        .expect("the session exists");
    let (record, texts, text_files) = store
        .session_with_files_text(SessionId::new(id))
        .await
        .expect("text read")
        .expect("the session exists in the text read");
    assert_eq!(text_files, files, "the files of the text read");
    let Some(texts) = texts else {
        assert_eq!(record, parsed, "the record of the text read");
        return;
    };
    let expected = SessionRecord {
        metadata: serde_json::Value::Null,
        properties: serde_json::Value::Null,
        steps: serde_json::Value::Null,
        history: serde_json::Value::Null,
        ..parsed.clone()
    };
    assert_eq!(record, expected, "the record of the text read");
    for (name, text, value) in [
        ("metadata", &texts.metadata, &parsed.metadata),
        ("properties", &texts.properties, &parsed.properties),
        ("steps", &texts.steps, &parsed.steps),
        ("history", &texts.history, &parsed.history),
    ] {
        let stored: serde_json::Value =
            serde_json::from_str(text.get()).expect("the text read gives JSON");
        assert_eq!(&stored, value, "{name} of the text read");
    }
}
