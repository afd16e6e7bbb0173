//! The store conformance suite against PostgreSQL. Each test creates a fresh database
//! `idv_test_<hex>` on the server named by `IDV_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drops it afterwards, pass or fail.
//! An unreachable server fails the tests: CI starts PostgreSQL, and a skipped suite would
//! pass silently.

use idv_store::prelude::*;
use idv_store::{NewWorkflow, User};
use idv_store::{UserId, WorkflowId};
use idv_store_conformance as conformance;
use idv_store_postgres::PgStore;
use sqlx::{Connection, Executor, PgConnection};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn server_url() -> String {
    std::env::var("IDV_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with any password replaced, for messages.
fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `url` pointing at database `name`, keeping host, credentials and parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((base, params)) => (base, Some(params)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match params {
        Some(params) => format!("{base}/{name}?{params}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin_connection(url: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "PostgreSQL is unreachable at {} ({e}). These tests need a running server: start \
             PostgreSQL or set IDV_TEST_PG_URL to a server where this user may create databases.",
            redacted(url)
        ),
        Err(_) => panic!(
            "PostgreSQL at {} did not answer within 10 s. These tests need a running server: \
             start PostgreSQL or set IDV_TEST_PG_URL.",
            redacted(url)
        ),
    }
}

/// Runs `test` with the URL of a fresh, empty database, then drops the database, also when
/// `test` panics (the panic is then passed on).
pub(crate) async fn with_fresh_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let server = server_url();
    let name = format!("idv_test_{}", idv_core::ids::new_id());
    let mut admin = admin_connection(&server).await;
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));

    let outcome = tokio::spawn(test(with_database(&server, &name))).await;

    // FORCE ends the connections a failed test left open.
    let dropped = admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await;
    admin.close().await.ok();
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
    dropped.unwrap_or_else(|e| panic!("cannot drop the test database {name}: {e}"));
}

pub(crate) async fn connect(url: &str) -> PgStore {
    PgStore::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", redacted(url)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_a_fresh_database() {
    with_fresh_database(|url| async move {
        let store = connect(&url).await;
        assert_eq!(store.backend(), "postgres");
        conformance::run_all(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_setting_inserts_agree_within_and_across_stores() {
    with_fresh_database(|url| async move {
        let a = connect(&url).await;
        let b = connect(&url).await;
        let (x, y) = futures::join!(
            a.setting_get_or_insert("same-store", "one"),
            a.setting_get_or_insert("same-store", "two")
        );
        let (x, y) = (x.expect("insert one"), y.expect("insert two"));
        assert_eq!(x, y, "two calls on one store agree");
        assert!(x == "one" || x == "two");
        // Two stores are two pools, as two `idv serve` processes would have.
        conformance::check_setting_race(&a, &b).await;
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_sees_the_data_and_reapplies_no_migration() {
    with_fresh_database(|url| async move {
        let first = connect(&url).await;
        let alice = User {
            id: "000000000000000000000001".to_owned(),
            name: "alice".to_owned(),
            email: Some("alice@example.com".to_owned()),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            roles: vec!["admin".to_owned()],
            active: true,
            created_at: 1,
            updated_at: 1,
        };
        first.user_create(&alice).await.expect("create");
        let second = connect(&url).await;
        assert_eq!(
            second.user_get(UserId::new(&alice.id)).await.expect("get"),
            Some(alice)
        );
        first.close().await;
        second.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_racing_across_stores_get_consecutive_revisions() {
    with_fresh_database(|url| async move {
        let a = Arc::new(connect(&url).await);
        let b = Arc::new(connect(&url).await);
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
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_claimed_through_two_stores_go_out_once_each() {
    with_fresh_database(|url| async move {
        // Two pools, as two `idv serve` processes would have.
        let a = Arc::new(connect(&url).await);
        let b = Arc::new(connect(&url).await);
        conformance::check_job_claim_race(a.clone(), b.clone()).await;
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_appends_and_idempotency_keys_through_two_stores_stay_consistent() {
    with_fresh_database(|url| async move {
        // Two pools, as two `idv serve` processes would have.
        let a: Arc<dyn Store> = Arc::new(connect(&url).await);
        let b: Arc<dyn Store> = Arc::new(connect(&url).await);
        conformance::check_audit_append_race(a.clone(), b.clone()).await;
        conformance::check_idempotency_race(a, b).await;
    })
    .await;
}

#[test]
fn urls_are_rewritten_and_redacted() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
    assert_eq!(
        redacted("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_tokens_exchanged_through_two_stores_go_once() {
    with_fresh_database(|url| async move {
        // Two pools, as two `idv serve` processes would have.
        let a = Arc::new(connect(&url).await);
        let b = Arc::new(connect(&url).await);
        conformance::check_device_token_exchange_race(a.clone(), b.clone()).await;
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_claimed_through_two_stores_go_out_once_each() {
    with_fresh_database(|url| async move {
        // Two pools, as two `idv serve` processes would have: SKIP LOCKED keeps them apart.
        let a = Arc::new(connect(&url).await);
        let b = Arc::new(connect(&url).await);
        conformance::check_delivery_claim_race(a.clone(), b.clone()).await;
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_leadership_reach_across_two_stores() {
    with_fresh_database(|url| async move {
        // Two pools, as two `idv serve` processes would have.
        let a = connect(&url).await;
        let b = connect(&url).await;
        conformance::check_cluster(&a, &b).await;
        a.close().await;
        b.close().await;
    })
    .await;
}
