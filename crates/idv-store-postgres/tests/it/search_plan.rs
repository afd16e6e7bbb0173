//! The query plan of a session search on PostgreSQL: status + workflow + createdAt range,
//! newest first, limit 100, over 50,000 seeded sessions (the benchmark's seed SQL) after
//! ANALYZE. The page must be an index scan on `sessions_by_workflow_status` in sort order: no
//! sequential scan, no sort step.

use idv_core::search::{Cmp, Column, Condition, Field, Filter, Scalar, normalize_sort};
use idv_store::SessionQuery;
use idv_store::prelude::*;
use idv_store_postgres::PgStore;
use sqlx::{Connection, Executor, PgConnection};

const SEED: &str = include_str!("../../../../bench/sql/seed_sessions_postgres.sql");
const MAIN_WF: &str = "edda0192-b890-11ef-a348-17da751a6a22";
/// One of the seed's smaller workflows (10 % of the sessions); with status 4 (1 in 7) the
/// filter keeps 1.4 % of the rows, where only the composite index avoids reading many.
const WF: &str = "bench-wf-1";
const T0: i64 = 1_767_225_600_000;

fn seed_sql(n: i64) -> String {
    SEED.replace(":wf0", &format!("'{MAIN_WF}'"))
        .replace(":wf", "'bench-wf-'")
        .replace(":t0", &T0.to_string())
        .replace(":n", &n.to_string())
}

fn server_url() -> String {
    std::env::var("IDV_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn column(c: Column, cmp: Cmp, v: Scalar) -> Filter {
    Filter::Condition(Condition::Compare {
        field: Field::Column(c),
        cmp,
        value: v,
    })
}

async fn check_plan(url: String) {
    let store = PgStore::connect(&url).await.expect("connect");
    let mut conn = PgConnection::connect(&url).await.expect("seed connection");
    conn.execute(seed_sql(50_000).as_str()).await.expect("seed");
    conn.execute("ANALYZE sessions").await.expect("analyze");
    conn.close().await.expect("close");

    let filter = Filter::And(vec![
        Filter::Condition(Condition::In {
            field: Field::Column(Column::WorkflowId),
            values: vec![Scalar::Text(WF.into())],
            negated: false,
        }),
        column(Column::Status, Cmp::Eq, Scalar::Int(4)),
        column(Column::CreatedAt, Cmp::Gte, Scalar::Int(T0 + 2_000_000)),
        column(Column::CreatedAt, Cmp::Lt, Scalar::Int(T0 + 40_000_000)),
    ]);
    let query = SessionQuery {
        filter: Some(filter),
        workflows: vec![WF.into()],
        owner_id: None,
        sort: normalize_sort(vec![]),
        after: None,
        skip: 0,
        limit: 100,
        count_limit: 10_000,
    };
    let plan = store.session_search_plan(&query).await.expect("plan");
    println!("EXPLAIN (PostgreSQL):\n  {}", plan.join("\n  "));
    let text = plan.join("\n");
    assert!(
        text.contains("Index Scan Backward using sessions_by_workflow_status")
            || text.contains("Index Only Scan Backward using sessions_by_workflow_status"),
        "the search walks sessions_by_workflow_status in sort order:\n{text}"
    );
    let cond = text
        .lines()
        .find(|l| l.trim_start().starts_with("Index Cond:"))
        .unwrap_or("");
    assert!(
        [
            "workflow_id = ",
            "status = ",
            "created_at >= ",
            "created_at < "
        ]
        .iter()
        .all(|part| cond.contains(part)),
        "the index condition covers workflow, status and the time range:\n{text}"
    );
    assert!(!text.contains("Seq Scan"), "no sequential scan:\n{text}");
    assert!(!text.contains("Sort"), "no sort step:\n{text}");

    // A view's own query: its workflow, no other condition, newest first.
    let view_query = SessionQuery {
        filter: None,
        workflows: vec![MAIN_WF.into()],
        ..query.clone()
    };
    let plan = store.session_search_plan(&view_query).await.expect("plan");
    println!(
        "EXPLAIN (PostgreSQL, a view's query):\n  {}",
        plan.join("\n  ")
    );
    let text = plan.join("\n");
    assert!(text.contains("Index Scan"), "an index scan:\n{text}");
    assert!(!text.contains("Seq Scan"), "no sequential scan:\n{text}");
    assert!(!text.contains("Sort"), "no sort step:\n{text}");

    let page = store.session_search(&query).await.expect("search");
    assert_eq!(page.items.len(), 100);
    assert!(page.items.iter().all(|s| s.status == 4
        && s.workflow_id == WF
        && (T0 + 2_000_000..T0 + 40_000_000).contains(&s.created_at)));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_workflow_time_range_uses_the_index() {
    let server = server_url();
    let name = format!("idv_test_{}", idv_core::ids::new_id());
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running for this test: {e}"));
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create database");
    let base = server
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .expect("url");
    let outcome = tokio::spawn(check_plan(format!("{base}/{name}"))).await;
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
