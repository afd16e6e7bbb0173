//! `GET /metrics` on `metrics.prometheus.listen`: counters move with traffic, the text is
//! valid Prometheus text format, and the API's port does not serve it.

use super::prom::{Scrape, parse};
use crate::support::{self, FORM_WORKFLOW, FORM_WORKFLOW_ID, serve};
use reqwest::Method;
use serde_json::json;

async fn scrape(s: &support::Serve) -> Scrape {
    let url = s.metrics.as_ref().expect("the metrics listener is on");
    let r = s.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&r.text().await.unwrap())
}

const REQUESTS: &str = "idv_api_http_request_total";

#[tokio::test]
async fn metrics_move_with_traffic_on_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    let s = serve(
        dir.path(),
        &db,
        "serve.log",
        &[
            ("IDV_CONFIG__METRICS__PROMETHEUS__ENABLED", "true"),
            ("IDV_CONFIG__METRICS__PROMETHEUS__LISTEN", "127.0.0.1:0"),
        ],
    );
    s.ready().await;
    s.load_workflow(FORM_WORKFLOW).await;
    let health = [
        ("method", "GET"),
        ("route", "/api/health"),
        ("status", "200"),
    ];
    let missing = [
        ("method", "GET"),
        ("route", "/api/sessions/{id}"),
        ("status", "404"),
    ];
    let started = [("workflow", FORM_WORKFLOW_ID)];
    let finished = [
        ("workflow", FORM_WORKFLOW_ID),
        ("status", "verified"),
        ("end", "completed"),
    ];
    let before = scrape(&s).await;
    for _ in 0..3 {
        let r = s
            .http
            .get(format!("{}/api/health", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = s
        .req(Method::GET, "/api/sessions/00000000000000000000dead")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .req(
            Method::POST,
            &format!("/api/sessions?workflowId={FORM_WORKFLOW_ID}"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .req(
            Method::POST,
            &format!("/api/sessions/{id}/step/FORM?type=data"),
        )
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The API's port has no /metrics.
    let r = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let after = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(delta(REQUESTS, &health), 3.0, "three health checks");
    assert_eq!(
        delta(REQUESTS, &missing),
        1.0,
        "one 404 under its route template"
    );
    assert_eq!(
        delta(
            "idv_api_http_duration_count",
            &[("method", "GET"), ("route", "/api/health")]
        ),
        3.0
    );
    assert_eq!(
        delta(REQUESTS, &[("route", "unmatched"), ("status", "404")]),
        1.0,
        "GET /metrics on the API's port is an unmatched route"
    );
    assert_eq!(delta("idv_sessions_started_total", &started), 1.0);
    assert_eq!(delta("idv_sessions_finished_total", &finished), 1.0);
    assert_eq!(after.types["idv_api_http_duration"], "histogram");
    assert_eq!(after.types[REQUESTS], "counter");
    assert!(after.value("idv_db_pool_connections", &[("state", "max")]) >= 1.0);
    assert_eq!(after.value("idv_webhook_backlog", &[]), 0.0);
    // Only /metrics on the metrics listener.
    let other = s
        .metrics
        .as_ref()
        .unwrap()
        .replace("/metrics", "/api/health");
    assert_eq!(s.http.get(other).send().await.unwrap().status(), 404);
}
