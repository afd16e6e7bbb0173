//! Session export and import: paging through session ids, imported workflow revisions that
//! never become current, and a session written whole with its files and jobs, or not at all.

use super::assert_conflict;
use super::engine::job;
use super::sessions::{file, full_session};
use idv_store::{FileId, SessionId, WorkflowId};
use idv_store::{
    FileRecord, JobRecord, NewWorkflow, SessionImport, SessionRecord, Store, WorkflowRecord,
};
use serde_json::json;

/// Ids of this check start with `ee`, above those of every other check (theirs start with
/// zeros), so its pages hold only its own sessions.
fn ee_id(n: u64) -> String {
    format!("ee{n:022x}")
}

fn session(n: u64) -> SessionRecord {
    SessionRecord {
        id: ee_id(n),
        ..full_session(n)
    }
}

fn file_of(n: u64, s: &SessionRecord) -> FileRecord {
    FileRecord {
        id: ee_id(0x100 + n),
        object_key: format!("sessions/{}/files/{}", s.id, ee_id(0x100 + n)),
        ..file(n, s, 100 + n as i64)
    }
}

fn inline_file_of(n: u64, s: &SessionRecord, bytes: &[u8]) -> FileRecord {
    FileRecord {
        object_key: idv_store::INLINE_KEY.to_owned(),
        size: bytes.len() as i64,
        inline: Some(bytes.to_vec()),
        content_type: "application/json".to_owned(),
        ..file_of(n, s)
    }
}

fn imported_workflow(id: &str, marker: u32) -> NewWorkflow {
    NewWorkflow {
        id: id.to_owned(),
        name: format!("Imported — {marker}"),
        description: None,
        version: Some("latest".to_owned()),
        default_locale: Some("en-us".to_owned()),
        // Keys out of alphabetical order: the definition keeps them.
        definition: json!({"id": id, "name": "Imported", "steps": [{"id": "s", "final": true}],
                           "marker": marker, "alpha": true}),
        owner_id: None,
        created_at: 5_000 + i64::from(marker),
    }
}

fn as_record(def: &NewWorkflow, revision: i64) -> WorkflowRecord {
    WorkflowRecord {
        id: def.id.clone(),
        revision,
        name: def.name.clone(),
        description: def.description.clone(),
        version: def.version.clone(),
        default_locale: def.default_locale.clone(),
        definition: def.definition.clone(),
        owner_id: def.owner_id.clone(),
        created_at: def.created_at,
    }
}

/// Imported revisions are numbered -1, -2, … , stay readable, never become current, and do not
/// disturb the revisions `workflow_put` gives. Tables: workflows, workflow_revisions (ids of
/// its own).
pub async fn check_workflow_import(store: &dyn Store) {
    // An id the store has never seen: present only for the sessions that pin it.
    let unknown = "eeeeeeee-0000-4000-8000-000000000001";
    let a = imported_workflow(unknown, 1);
    let rev = store
        .workflow_import_revision(&a)
        .await
        .expect("workflow_import_revision");
    assert_eq!(rev, -1, "the first imported revision is -1");
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(unknown), -1)
            .await
            .expect("get_revision"),
        Some(as_record(&a, -1)),
        "an imported revision reads back exactly"
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(unknown))
            .await
            .expect("workflow_get"),
        None,
        "importing does not publish a workflow"
    );
    assert!(
        !store
            .workflow_list()
            .await
            .expect("workflow_list")
            .iter()
            .any(|w| w.id == unknown),
        "an imported-only workflow is not listed"
    );
    let b = imported_workflow(unknown, 2);
    assert_eq!(
        store.workflow_import_revision(&b).await.expect("import b"),
        -2
    );
    // Uploading it afterwards publishes revision 1, as for a new id.
    let put = imported_workflow(unknown, 3);
    assert_eq!(store.workflow_put(&put).await.expect("workflow_put"), 1);
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(unknown))
            .await
            .expect("workflow_get"),
        Some(as_record(&put, 1)),
        "the uploaded revision is current"
    );
    let c = imported_workflow(unknown, 4);
    assert_eq!(
        store.workflow_import_revision(&c).await.expect("import c"),
        -3
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(unknown))
            .await
            .expect("workflow_get")
            .map(|w| w.revision),
        Some(1),
        "an import leaves the current revision alone"
    );
    assert_eq!(
        store.workflow_put(&put).await.expect("workflow_put again"),
        2,
        "uploads keep counting 1, 2, … past imported revisions"
    );
    assert_eq!(
        store
            .workflow_revisions(WorkflowId::new(unknown))
            .await
            .expect("workflow_revisions"),
        vec![
            as_record(&c, -3),
            as_record(&b, -2),
            as_record(&a, -1),
            as_record(&put, 1),
            as_record(&put, 2)
        ],
        "workflow_revisions lists every revision by number"
    );
    assert!(
        store
            .workflow_revisions(WorkflowId::new("eeeeeeee-0000-4000-8000-00000000ffff"))
            .await
            .expect("workflow_revisions of an unknown id")
            .is_empty()
    );
}

/// `session_import`: writes the session, its files (inline bytes too) and jobs as given;
/// leaves an existing one alone unless told to replace it, then answers its old files; a
/// clash on a file id writes nothing. Tables: sessions, files, jobs (ids of its own).
pub async fn check_session_import(store: &dyn Store) {
    let s = session(0x20);
    let files = vec![
        inline_file_of(1, &s, b"{\"continue\": true}"),
        file_of(2, &s),
    ];
    // Far in the future, so no later claim picks it.
    let jobs = vec![JobRecord {
        id: ee_id(0x200),
        ..job(0, &s, 4_102_444_800_000)
    }];
    let got = store
        .session_import(&s, &files, &jobs, false)
        .await
        .expect("session_import");
    assert_eq!(got, SessionImport::Created);
    assert_eq!(
        store
            .session_get(SessionId::new(&s.id))
            .await
            .expect("session_get"),
        Some(s.clone()),
        "an imported session keeps every field"
    );
    let listed: Vec<FileRecord> = files
        .iter()
        .map(|f| FileRecord {
            inline: None,
            ..f.clone()
        })
        .collect();
    assert_eq!(
        store
            .file_list(SessionId::new(&s.id))
            .await
            .expect("file_list"),
        listed,
        "imported file rows keep every field, in the order given"
    );
    assert_eq!(
        store
            .file_content(SessionId::new(&s.id), FileId::new(&files[0].id))
            .await
            .expect("file_content"),
        Some(b"{\"continue\": true}".to_vec()),
        "inline bytes are imported"
    );
    assert_eq!(
        store
            .job_list(SessionId::new(&s.id))
            .await
            .expect("job_list"),
        jobs
    );

    // Without replace: nothing changes.
    let changed = SessionRecord {
        status: 2,
        revision: 9,
        properties: json!({"changed": true}),
        ..s.clone()
    };
    let other_file = file_of(3, &changed);
    assert_eq!(
        store
            .session_import(&changed, std::slice::from_ref(&other_file), &[], false)
            .await
            .expect("session_import existing"),
        SessionImport::Exists
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&s.id))
            .await
            .expect("session_get"),
        Some(s.clone()),
        "an existing session is left alone without replace"
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&s.id))
            .await
            .expect("file_list"),
        listed
    );

    // With replace: the old session, files and jobs go, the new ones are written.
    assert_eq!(
        store
            .session_import(&changed, std::slice::from_ref(&other_file), &[], true)
            .await
            .expect("session_import replace"),
        SessionImport::Replaced(listed.clone()),
        "replacing answers the old file rows"
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&s.id))
            .await
            .expect("session_get"),
        Some(changed.clone())
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&s.id))
            .await
            .expect("file_list"),
        vec![other_file.clone()]
    );
    assert!(
        store
            .job_list(SessionId::new(&s.id))
            .await
            .expect("job_list")
            .is_empty(),
        "the replaced session's jobs are gone"
    );

    // A file id another session holds: nothing of the import is written.
    let t = session(0x21);
    let clash = FileRecord {
        session_id: t.id.clone(),
        ..other_file.clone()
    };
    assert_conflict(
        store.session_import(&t, &[clash], &[], false).await,
        "session_import with a taken file id",
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&t.id))
            .await
            .expect("session_get"),
        None,
        "a refused import writes no session"
    );
    // And the replace path rolls back whole too: the stored session stays as it was.
    let replaced_again = SessionRecord {
        status: 4,
        ..changed.clone()
    };
    let taken = FileRecord {
        id: files[0].id.clone(),
        ..file_of(9, &replaced_again)
    };
    store
        .session_create(&t, &[])
        .await
        .expect("session_create holder");
    store
        .file_create(&FileRecord {
            session_id: t.id.clone(),
            ..taken.clone()
        })
        .await
        .expect("file_create holder");
    assert_conflict(
        store
            .session_import(&replaced_again, &[taken], &[], true)
            .await,
        "replacing with a taken file id",
    );
    assert_eq!(
        store
            .session_get(SessionId::new(&s.id))
            .await
            .expect("session_get"),
        Some(changed),
        "a refused replace keeps the stored session"
    );
    assert_eq!(
        store
            .file_list(SessionId::new(&s.id))
            .await
            .expect("file_list"),
        vec![other_file],
        "a refused replace keeps the stored files"
    );
}
