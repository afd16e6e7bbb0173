//! The typed contract: the OpenAPI document is generated from the route table and the body
//! types, a snapshot of it is kept in the repository, and every answer of the HTTP suites is
//! checked against it (see `common::contract`).

use crate::common::contract::{self, Outcome};
use crate::common::*;
use serde_json::{Value, json};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

/// The document as committed. `IDV_UPDATE_SNAPSHOTS=1 cargo test -p idv-server --test it --
/// contract::` writes the current one.
#[test]
fn openapi_document_matches_its_snapshot() {
    let doc = idv_server::openapi::document("http://localhost:8000");
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("IDV_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(SNAPSHOT).parent().unwrap()).unwrap();
        std::fs::write(SNAPSHOT, &text).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if kept != text {
        let first = kept
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| kept.lines().count().min(text.lines().count()));
        panic!(
            "the OpenAPI document differs from {SNAPSHOT} from line {} on:\n  kept: {}\n  now:  {}\n\
             If the change is intended, write the new snapshot with \
             IDV_UPDATE_SNAPSHOTS=1 cargo test -p idv-server --test it -- contract:: and commit it.",
            first + 1,
            kept.lines().nth(first).unwrap_or("(end)"),
            text.lines().nth(first).unwrap_or("(end)"),
        );
    }
}

/// Every schema the document references exists, and every typed route's bodies reference one.
#[test]
fn every_reference_resolves() {
    let doc = idv_server::openapi::document("http://localhost:8000");
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{}", all.len());
    for r in all {
        assert!(
            doc.pointer(r.trim_start_matches('#')).is_some(),
            "{r} does not resolve"
        );
    }
    let session = &doc["paths"]["/api/sessions/{id}"]["get"]["responses"];
    assert_eq!(
        session["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Session"
    );
    assert_eq!(
        session["410"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

/// The check refuses a body that does not fit, naming where: it cannot pass silently.
#[test]
fn the_answer_check_refuses_a_wrong_body() {
    let wrong = json!({"id": 7, "status": "approved"});
    match contract::validate("GET", "/api/sessions/{id}", 200, &wrong) {
        Outcome::Invalid(why) => assert!(why.contains("/id") || why.contains("required"), "{why}"),
        other => panic!("a wrong session body was not refused: {other:?}"),
    }
    let not_an_error = json!({"error": {"message": "no code"}});
    assert!(matches!(
        contract::validate("GET", "/api/sessions/{id}", 404, &not_an_error),
        Outcome::Invalid(_)
    ));
    let error = json!({"error": {"code": "session_not_found", "message": "no session"}});
    assert!(matches!(
        contract::validate("GET", "/api/sessions/{id}", 404, &error),
        Outcome::Valid
    ));
    // A status the document does not list is refused whatever the body.
    assert!(matches!(
        contract::validate("GET", "/api/sessions/{id}", 418, &error),
        Outcome::Invalid(_)
    ));
}

/// Real answers of a session's life are validated (not merely seen).
#[tokio::test(flavor = "multi_thread")]
async fn real_answers_are_validated() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let s = srv
        .start_session(&key, json!({"metadata": {"k": "v"}}))
        .await;
    let id = s["id"].as_str().unwrap();
    srv.session(&format!("ApiKey {key}"), id).await;
    let r = srv
        .post("/api/sessions/search")
        .header("authorization", format!("ApiKey {key}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .get("/api/sessions/000000000000000000000000")
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let log = contract::log_of(srv.host());
    for route in [
        "POST /api/sessions 200",
        "GET /api/sessions/{id} 200",
        "POST /api/sessions/search 200",
        "GET /api/sessions/{id} 404",
    ] {
        assert!(log.routes.contains(route), "{route} not validated: {log:?}");
    }
    assert!(log.failures.is_empty(), "{:?}", log.failures);
    srv.stop().await;
}
