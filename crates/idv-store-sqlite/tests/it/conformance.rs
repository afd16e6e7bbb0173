//! The store conformance suite against a fresh SQLite file, and what is SQLite's own: the file
//! and its folder are created, a second store on the same file shares its data, migrations
//! run again harmlessly, WAL journaling is on.

use idv_store::prelude::*;
use idv_store::{NewWorkflow, User};
use idv_store::{UserId, WorkflowId};
use idv_store_conformance as conformance;
use idv_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A database path in a folder that does not exist yet, so `connect` must create it.
fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("not-yet").join("here").join("idv.db")
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn user(id: &str, name: &str) -> User {
    User {
        id: id.to_owned(),
        name: name.to_owned(),
        email: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        roles: vec!["admin".to_owned()],
        active: true,
        created_at: 1,
        updated_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_a_fresh_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = SqliteStore::connect(&url(&path)).await.expect("connect");
    assert!(path.is_file(), "connect creates the folder and the file");
    assert_eq!(store.backend(), "sqlite");
    conformance::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_in_memory() {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("connect");
    conformance::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_setting_inserts_agree_within_and_across_stores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    let a = SqliteStore::connect(&url).await.expect("connect a");
    let b = SqliteStore::connect(&url).await.expect("connect b");

    let (x, y) = futures::join!(
        a.setting_get_or_insert("same-store", "one"),
        a.setting_get_or_insert("same-store", "two")
    );
    let (x, y) = (x.expect("insert one"), y.expect("insert two"));
    assert_eq!(x, y, "two calls on one store agree");
    assert!(x == "one" || x == "two");

    // Two stores are two connection sets on one file, as two processes would be.
    conformance::check_setting_race(&a, &b).await;
    assert_eq!(
        b.setting_get_or_insert("same-store", "three")
            .await
            .expect("read through b"),
        x,
        "the other store sees the stored value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_sees_the_data_and_reapplies_no_migration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    let first = SqliteStore::connect(&url).await.expect("connect first");
    let alice = user("000000000000000000000001", "alice");
    first.user_create(&alice).await.expect("create");

    // While the first store is still open, and again after it closed.
    let second = SqliteStore::connect(&url)
        .await
        .expect("connect again: migrations idempotent");
    assert_eq!(
        second.user_get(UserId::new(&alice.id)).await.expect("get"),
        Some(alice.clone())
    );
    second
        .user_create(&user("000000000000000000000002", "bob"))
        .await
        .expect("create");
    assert_eq!(
        first.user_count().await.expect("count"),
        2,
        "writes are shared both ways"
    );
    first.close().await;
    second.close().await;

    let third = SqliteStore::connect(&url)
        .await
        .expect("reopen a closed file");
    assert_eq!(
        third.user_by_name("alice").await.expect("by name"),
        Some(alice)
    );
    assert_eq!(third.user_count().await.expect("count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_is_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = SqliteStore::connect(&url(&path)).await.expect("connect");
    store.setting_get_or_insert("k", "v").await.expect("write");
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(
        wal.is_file(),
        "a WAL file sits beside the database while it is open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_racing_across_stores_get_consecutive_revisions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    let a = Arc::new(SqliteStore::connect(&url).await.expect("connect a"));
    let b = Arc::new(SqliteStore::connect(&url).await.expect("connect b"));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let def = NewWorkflow {
                id: "raced".to_owned(),
                name: format!("upload {i}"),
                description: None,
                version: None,
                default_locale: None,
                definition: serde_json::json!({"upload": i}),
                owner_id: None,
                created_at: i,
            };
            store.workflow_put(&def).await.expect("put")
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.push(task.await.expect("task"));
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=8).collect::<Vec<i64>>());
    let current = a
        .workflow_get(WorkflowId::new("raced"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(current.revision, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_claimed_through_two_stores_go_out_once_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    // Two stores are two writer connections on one file, as two processes would be.
    let a = SqliteStore::connect(&url).await.expect("connect a");
    let b = SqliteStore::connect(&url).await.expect("connect b");
    conformance::check_job_claim_race(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_appends_and_idempotency_keys_through_two_stores_stay_consistent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    // Two stores are two writer connections on one file, as two processes would be.
    let a: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("connect a"));
    let b: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("connect b"));
    conformance::check_audit_append_race(a.clone(), b.clone()).await;
    conformance::check_idempotency_race(a, b).await;
}

#[tokio::test]
async fn an_uncreatable_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a folder").expect("write");
    let result = SqliteStore::connect(&url(&blocker.join("idv.db"))).await;
    match result {
        Err(idv_store::StoreError::Backend { message, source }) => {
            assert!(
                message.contains("a-file"),
                "the message names the path: {message}"
            );
            let source = source.expect("the error keeps its cause");
            assert!(
                source.downcast_ref::<std::io::Error>().is_some(),
                "the cause is the file system's error: {source:?}"
            );
        }
        Err(other) => panic!("expected a Backend error, got {other:?}"),
        Ok(_) => panic!("a database under a regular file cannot open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_tokens_exchanged_through_two_stores_go_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    // Two stores are two writer connections on one file, as two processes would be.
    let a = SqliteStore::connect(&url).await.expect("connect a");
    let b = SqliteStore::connect(&url).await.expect("connect b");
    conformance::check_device_token_exchange_race(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_claimed_through_two_stores_go_out_once_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(&db_path(&dir));
    let a = SqliteStore::connect(&url).await.expect("connect a");
    let b = SqliteStore::connect(&url).await.expect("connect b");
    conformance::check_delivery_claim_race(Arc::new(a), Arc::new(b)).await;
}
