//! Helpers of the webhook delivery tests: a server with a two-step workflow loaded and quick
//! retries, an endpoint pointed at a [`Receiver`], sessions that make events, and the delivery
//! log as the API shows it.

use crate::common::*;
use crate::support::receiver::{Receiver, wait_for};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const WF_ID: &str = "6a0f7f20-0002-11ef-8000-00000000e002";

/// Two steps: a form, then a final step with status VERIFIED. A session makes
/// `session.created`, then on submit `session.step_completed`, `session.status_changed` and
/// `session.completed`.
pub const WORKFLOW: &str = r#"
id: 6a0f7f20-0002-11ef-8000-00000000e002
name: Webhook checks
version: "1"
lifetime: 3600
defaultLocale: en-us
steps:
  - id: FORM
    name: FORM
    type: DATA
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: always, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;

pub async fn server(
    backend: Backend,
    tweak: impl FnOnce(&mut idv_server::config::Config),
) -> TestServer {
    let s = TestServer::start_with(backend, |c| {
        c.outbound.allow_private_addresses = true;
        c.services.webhooks.retry_base = 100;
        c.services.webhooks.poll_interval = 100;
        tweak(c);
    })
    .await;
    let r = s
        .admin(s.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(WORKFLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    s
}

/// Creates an endpoint for the receiver (all events unless `extra` says otherwise) and tells
/// the receiver its secret; returns the endpoint's id.
pub async fn hook(s: &TestServer, rx: &Receiver, extra: Value) -> String {
    let mut body = json!({"url": rx.url(), "events": ["*"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = s
        .admin(s.post("/api/webhooks"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let made: Value = r.json().await.unwrap();
    rx.set_secret(made["secret"].as_str().unwrap());
    made["id"].as_str().unwrap().to_owned()
}

pub async fn start_session(s: &TestServer) -> String {
    let r = s
        .admin(s.post(&format!("/api/sessions?workflowId={WF_ID}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn submit_form(s: &TestServer, id: &str) {
    let r = s
        .admin(s.post(&format!("/api/sessions/{id}/step/FORM?type=data")))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// The whole delivery log of an endpoint, newest first.
pub async fn log(s: &TestServer, hook: &str) -> Vec<Value> {
    let r = s
        .admin(s.get(&format!("/api/webhooks/{hook}/deliveries?limit=500")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn endpoint(s: &TestServer, hook: &str) -> Value {
    s.admin(s.get(&format!("/api/webhooks/{hook}")))
        .send_json()
        .await
}

/// Waits until every delivery in the log is delivered, and returns the log.
pub async fn all_delivered(s: &TestServer, hook: &str, secs: u64) -> Vec<Value> {
    wait_for(secs, "every delivery to be delivered", || async {
        log(s, hook).await.iter().all(|d| d["state"] == "delivered")
    })
    .await;
    log(s, hook).await
}

/// The sequences each session's events arrived with, in arrival order (accepted hits only).
pub fn arrivals(rx: &Receiver) -> BTreeMap<String, Vec<(i64, String)>> {
    let mut out: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for h in rx.accepted() {
        if let Some(sid) = &h.session_id {
            out.entry(sid.clone())
                .or_default()
                .push((h.sequence, h.kind));
        }
    }
    out
}

pub fn ms(iso: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}
