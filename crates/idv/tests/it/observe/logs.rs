//! `logging.formatter: json`: every line of the log is one JSON object, the lines of a request
//! carry the id its answer's `X-Request-Id` names, a credential in the query is not in them,
//! and `logging.file` writes the same lines to `path/idv.log`.

use crate::support::serve;
use serde_json::Value;

const SECRET: &str = "query-credential-7f3a9c";

#[tokio::test]
async fn json_lines_carry_the_request_id_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    let logs = dir.path().join("logs");
    let mut s = serve(
        dir.path(),
        &db,
        "serve.log",
        &[
            ("IDV_CONFIG__LOGGING__FORMATTER", "json"),
            ("IDV_CONFIG__LOGGING__LEVEL", "DEBUG"),
            ("IDV_CONFIG__LOGGING__FILE", "true"),
            ("IDV_CONFIG__LOGGING__PATH", logs.to_str().unwrap()),
            ("IDV_LOG", ""),
        ],
    );
    s.ready().await;
    let r = s
        .http
        .get(format!(
            "{}/api/sessions/00000000000000000000dead?authorization=Token%20{SECRET}",
            s.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty());
    // A second request: its id differs, and so do its lines.
    let r = s
        .http
        .get(format!("{}/api/health", s.url))
        .send()
        .await
        .unwrap();
    let other = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, other);
    // The lines are written as the request ends; wait for the last one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stderr = loop {
        let text = std::fs::read_to_string(&s.log).unwrap();
        if text.contains(&other) || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    s.kill();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == id.as_str())
        .collect();
    assert!(
        of_request.len() >= 2,
        "the request's start and end lines name its id {id}: {stderr}"
    );
    for l in &of_request {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
        assert_eq!(
            l["span"]["uri"], "/api/sessions/00000000000000000000dead?authorization=[redacted]",
            "{l}"
        );
    }
    assert!(!stderr.contains(SECRET), "a credential reached the log");
    // The file holds the same JSON lines.
    let file = std::fs::read_to_string(logs.join("idv.log")).unwrap();
    assert!(!file.contains(SECRET));
    let in_file = file
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["span"]["request_id"] == id.as_str())
        .count();
    assert_eq!(in_file, of_request.len());
}
