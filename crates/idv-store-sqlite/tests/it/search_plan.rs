//! The query plan of a session search on SQLite: status + workflow + createdAt range, newest
//! first, limit 100, over seeded sessions (the benchmark's seed SQL). The page must be an index
//! range scan in sort order on `sessions_by_workflow_status`: no full scan, no sort step.

use idv_core::search::{Cmp, Column, Condition, Field, Filter, Scalar, normalize_sort};
use idv_store::SessionQuery;
use idv_store::prelude::*;
use idv_store_sqlite::SqliteStore;
use sqlx::Connection;

const SEED: &str = include_str!("../../../../bench/sql/seed_sessions_sqlite.sql");
const MAIN_WF: &str = "edda0192-b890-11ef-a348-17da751a6a22";
/// One of the seed's smaller workflows (10 % of the sessions); with status 4 (1 in 7) the
/// filter keeps 1.4 % of the rows, where only the composite index avoids reading many.
const WF: &str = "bench-wf-1";
const T0: i64 = 1_767_225_600_000;

/// The seed SQL with its placeholders filled in.
fn seed_sql(n: i64) -> String {
    SEED.replace(":wf0", &format!("'{MAIN_WF}'"))
        .replace(":wf", "'bench-wf-'")
        .replace(":t0", &T0.to_string())
        .replace(":n", &n.to_string())
}

fn column(c: Column, cmp: Cmp, v: Scalar) -> Filter {
    Filter::Condition(Condition::Compare {
        field: Field::Column(c),
        cmp,
        value: v,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_workflow_time_range_uses_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("idv.db").display());
    let store = SqliteStore::connect(&url).await.expect("connect");
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("seed");
    let n = 20_000;
    sqlx::query(&seed_sql(n))
        .execute(&mut conn)
        .await
        .expect("seed");
    sqlx::query("ANALYZE")
        .execute(&mut conn)
        .await
        .expect("analyze");
    conn.close().await.expect("close");

    // Regula's filter shape: workflow.id $in [one], plus status and a time range.
    let filter = Filter::And(vec![
        Filter::Condition(Condition::In {
            field: Field::Column(Column::WorkflowId),
            values: vec![Scalar::Text(WF.into())],
            negated: false,
        }),
        column(Column::Status, Cmp::Eq, Scalar::Int(4)),
        column(Column::CreatedAt, Cmp::Gte, Scalar::Int(T0 + 2_000_000)),
        column(Column::CreatedAt, Cmp::Lt, Scalar::Int(T0 + 12_000_000)),
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
    println!("EXPLAIN QUERY PLAN (SQLite):\n  {}", plan.join("\n  "));
    let text = plan.join("\n");
    assert!(
        text.contains("USING INDEX sessions_by_workflow_status")
            || text.contains("USING COVERING INDEX sessions_by_workflow_status"),
        "the search uses sessions_by_workflow_status:\n{text}"
    );
    assert!(
        text.contains("workflow_id=? AND status=? AND created_at>? AND created_at<?"),
        "the index range covers workflow, status and the time range:\n{text}"
    );
    assert!(
        !text.contains("TEMP B-TREE"),
        "rows come in sort order, without a sort step:\n{text}"
    );

    // A view's own query: its workflow, no other condition, newest first.
    let view_query = SessionQuery {
        filter: None,
        ..query.clone()
    };
    let plan = store.session_search_plan(&view_query).await.expect("plan");
    println!(
        "EXPLAIN QUERY PLAN (SQLite, a view's query):\n  {}",
        plan.join("\n  ")
    );
    let text = plan.join("\n");
    assert!(
        text.contains("INDEX sessions_by_workflow_created (workflow_id=?)"),
        "a view's query walks sessions_by_workflow_created:\n{text}"
    );
    assert!(!text.contains("TEMP B-TREE"), "no sort step:\n{text}");

    // And the answer is right: status 1, the workflow, the range, newest first.
    let page = store.session_search(&query).await.expect("search");
    assert_eq!(page.items.len(), 100);
    assert!(page.total > 100);
    assert!(page.items.iter().all(|s| s.status == 4
        && s.workflow_id == WF
        && (T0 + 2_000_000..T0 + 12_000_000).contains(&s.created_at)));
    assert!(
        page.items
            .windows(2)
            .all(|w| w[0].created_at > w[1].created_at)
    );
}
