//! `GET /api/ready`: 200 with each check while the database and storage answer; 503 naming
//! the database once its PostgreSQL database is gone (dropped, its connections ended).

use crate::support::{PgDatabase, serve};
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDatabase::create("idv_ready").await;
    let s = serve(dir.path(), &pg.url, "serve.log", &[]);
    s.ready().await;
    let get = || async {
        let r = s
            .http
            .get(format!("{}/api/ready", s.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    let (status, body) = get().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "postgres");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["storage"]["status"], "ok");
    assert_eq!(body["failing"], serde_json::json!([]));

    pg.drop_now().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body) = get().await;
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "still {status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["failing"], serde_json::json!(["database"]), "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "ok");
    let error = body["checks"]["database"]["error"].as_str().unwrap();
    assert!(error.contains("database"), "{error}");
    // Liveness is not readiness: the process still answers.
    let r = s
        .http
        .get(format!("{}/api/health", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
