//! Workflow and translation loading over HTTP, and the OpenAPI document against the router.

use crate::common;

use common::*;
use idv_server::routes::table;
use serde_json::{Value, json};

#[tokio::test]
async fn workflows_load_list_refuse_and_delete() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let admin = |rb| srv.admin(rb);

    // YAML under each accepted media type, and JSON.
    for ct in ["application/yaml", "application/x-yaml", "text/yaml"] {
        let r = admin(srv.post("/api/workflows"))
            .header("content-type", ct)
            .body(KYC)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ct}");
    }
    let list: Value = admin(srv.get("/api/workflows")).send_json().await;
    assert_eq!(
        list,
        json!([{"id": KYC_ID, "name": "Example KYC", "description": "Form, document photos, selfie and a document check", "version": "1", "defaultLocale": "en-us"}])
    );
    let one: Value = admin(srv.get(&format!("/api/workflows/{KYC_ID}")))
        .send_json()
        .await;
    assert_eq!(
        one["revision"], 1,
        "the same definition three times is one revision"
    );
    assert_eq!(one["definition"]["steps"][0]["id"], "ONBOARDING");
    let mut as_json = one["definition"].clone();
    as_json["id"] = json!("11111111-2222-3333-4444-555555555555");
    as_json["name"] = json!("From JSON");
    let r = admin(srv.post("/api/workflows"))
        .json(&as_json)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // A broken definition: every problem, each with its path and line; nothing stored.
    let broken = KYC
        .replacen("step: PERSONAL_DETAILS", "step: NOWHERE", 1)
        .replacen(
            "id: continue_rule\n            decision: true",
            "id: no_such_rule\n            decision: true",
            1,
        )
        .replacen("type: bool", "type: boolean", 1)
        .replace(
            "id: 6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84",
            "id: 99999999-8d4b-4f7a-b0c9-5e2d1a7f3b84",
        );
    let r = admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(broken)
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (400, "invalid_workflow"));
    let problems = body["error"]["details"].as_array().unwrap();
    assert!(problems.len() >= 3, "{body}");
    let text = body.to_string();
    for needle in ["NOWHERE", "no_such_rule", "boolean"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(
        problems
            .iter()
            .all(|p| p["line"].as_u64().is_some_and(|l| l > 0)
                && !p["path"].as_str().unwrap().is_empty()),
        "{body}"
    );
    let transit = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("NOWHERE"))
        .unwrap();
    let line = transit["line"].as_u64().unwrap() as usize;
    assert!(
        KYC.lines()
            .nth(line - 1)
            .unwrap()
            .contains("step: PERSONAL_DETAILS"),
        "line {line}"
    );
    assert_eq!(
        admin(srv.get("/api/workflows/99999999-8d4b-4f7a-b0c9-5e2d1a7f3b84"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Wrong media type; a translations file sent as a workflow; YAML syntax errors.
    let r = admin(srv.post("/api/workflows"))
        .header("content-type", "text/plain")
        .body(KYC)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 415);
    let r = admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(KYC_LOCALE)
        .send()
        .await
        .unwrap();
    let (st, _, body) = error_of(r).await;
    assert_eq!(st, 400);
    assert!(body.to_string().contains("/api/translations"), "{body}");
    let r = admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body("id: x\nsteps: [\n  - id: A\n")
        .send()
        .await
        .unwrap();
    let (st, _, body) = error_of(r).await;
    assert_eq!(st, 400);
    assert!(
        body["error"]["details"][0]["line"].as_u64().is_some(),
        "{body}"
    );

    // Deleting a workflow does not break a session already running on it.
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let s = srv.start_session(&key, json!({})).await;
    let r = admin(srv.delete(&format!("/api/workflows/{KYC_ID}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        admin(srv.get(&format!("/api/workflows/{KYC_ID}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = srv
        .post(&format!("/api/sessions?workflowId={KYC_ID}"))
        .header("authorization", format!("ApiKey {key}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "workflow_not_found");
    let r = srv
        .submit(
            &format!("ApiKey {key}"),
            s["id"].as_str().unwrap(),
            "ONBOARDING",
            json!({"continue": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    srv.stop().await;
}

#[tokio::test]
async fn locale_falls_back_to_region_then_default() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_kyc().await;
    let key = srv.key(&["session:read", "session:write"]).await;
    let title = |locale: &'static str| {
        let srv = &srv;
        let key = key.clone();
        async move {
            let s = srv.start_session(&key, json!({"locale": locale})).await;
            let r = srv
                .submit(
                    &format!("ApiKey {key}"),
                    s["id"].as_str().unwrap(),
                    "ONBOARDING",
                    json!({"continue": true}),
                )
                .await;
            let v: Value = r.json().await.unwrap();
            v["client"]["templateLayout"]["title"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(title("en").await, "Tell us about yourself");
    let es = title("es").await;
    assert_ne!(es, "Tell us about yourself", "es falls back to es-es");
    assert!(!es.starts_with("KYC_"), "{es}");
    assert_eq!(
        title("xx-yy").await,
        "Tell us about yourself",
        "unknown locales fall back to the workflow default"
    );
    srv.stop().await;
}

#[tokio::test]
async fn openapi_document_matches_the_router() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let doc: Value = srv.get("/api/openapi.json").send_json().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            // Every documented operation is served: the router knows it (no route_not_found,
            // no method_not_allowed), whatever else it answers.
            let concrete = path
                .replace("{id}", "0123456789abcdef01234567")
                .replace("{step}", "ONBOARDING")
                .replace("{file}", "0123456789abcdef01234567");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = srv
                .client
                .request(m, format!("{}{concrete}", srv.url))
                .send()
                .await
                .unwrap();
            let (_, code, _) = error_of(r).await;
            assert!(
                code != "route_not_found" && code != "method_not_allowed",
                "{method} {path}: {code}"
            );
        }
    }
    assert_eq!(documented, table().iter().filter(|d| !d.page).count());
    // Regula's examples are in it.
    let key_example =
        &paths["/api/apikey"]["post"]["requestBody"]["content"]["application/json"]["example"];
    assert_eq!(key_example["permissions"][0], "session_all:read");
    assert_eq!(
        paths["/api/sessions/{id}"]["get"]["x-permissions-any-of"],
        json!(["session:read", "session_all:read"])
    );
    // Unknown routes and methods answer JSON errors.
    let (st, code, _) = error_of(srv.get("/api/nothing-here").send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "route_not_found"));
    let (st, code, _) = error_of(
        srv.client
            .put(format!("{}/api/health", srv.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (405, "method_not_allowed"));
    srv.stop().await;
}
