//! The workflow engine beyond the example workflows, through HTTP: `$or`, `$lt`, `$nin` and
//! `script` rules, attempts, the lifetime with an injected clock, a cycle of server steps,
//! background actions across a restart, the outbound address guard, and a value that cannot
//! take its property's type.

use crate::common;
use idv_store::SessionId;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::{Backend, TestServer};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WF_ID: &str = "6a0f7f20-0001-11ef-8000-00000000e001";

/// A small service the workflow's actions call.
#[derive(Default)]
struct Service {
    score: Mutex<Value>,
    delay_ms: AtomicU64,
    calls: AtomicUsize,
}

async fn serve_service(svc: Arc<Service>) -> String {
    async fn score(State(s): State<Arc<Service>>) -> axum::Json<Value> {
        s.calls.fetch_add(1, Ordering::SeqCst);
        let d = s.delay_ms.load(Ordering::SeqCst);
        if d > 0 {
            tokio::time::sleep(Duration::from_millis(d)).await;
        }
        axum::Json(json!({"result": {"score": s.score.lock().unwrap().clone()}}))
    }
    let app = Router::new().route("/score", get(score)).with_state(svc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The workflow under test. `direct` is a URL the guard should treat as private (not a
/// configured service).
fn workflow(direct: &str) -> String {
    format!(
        r#"
id: {WF_ID}
name: Engine checks
version: "1"
lifetime: 60
defaultLocale: en-us
steps:
  - id: FORM
    name: FORM
    type: DATA
    fileId: form
    transformers:
      - id: FORM_T
    conditions:
      - name: Again
        transit: {{step: FORM}}
        rules: [{{id: again_rule, decision: true}}]
      - name: Minor or unknown country
        transit: {{step: REFUSED, status: NOT_VERIFIED}}
        rules: [{{id: minor_rule, decision: true}}]
      - name: Outside the allowed countries
        transit: {{step: REVIEW}}
        rules: [{{id: foreign_rule, decision: true}}]
      - name: Big amount
        transit: {{step: SCORE}}
        rules: [{{id: big_rule, decision: true}}]
      - name: Loop
        transit: {{step: LOOP_A}}
        rules: [{{id: loop_rule, decision: true}}]
      - name: Direct
        transit: {{step: DIRECT}}
        rules: [{{id: direct_rule, decision: true}}]
      - name: Background
        transit: {{step: WAIT}}
        rules: [{{id: background_rule, decision: true}}]
      - name: Small amount
        transit: {{step: DONE, status: VERIFIED}}
        rules: [{{id: big_rule, decision: false}}]
    attempts:
      count: 2
      transit: {{step: LOCKED, status: NOT_VERIFIED}}
  - id: SCORE
    name: SCORE
    type: PROCESSING
    actions:
      - id: GET_SCORE
    conditions:
      - name: Good score
        transit: {{step: DONE, status: VERIFIED}}
        rules: [{{id: good_score, decision: true}}]
      - name: Bad score
        transit: {{step: DONE, status: NOT_VERIFIED}}
        rules: [{{id: good_score, decision: false}}]
  - id: DIRECT
    name: DIRECT
    type: PROCESSING
    actions:
      - id: GET_DIRECT
    conditions:
      - name: Next
        transit: {{step: DONE, status: VERIFIED}}
        rules: [{{id: always, decision: true}}]
  - id: WAIT
    name: WAIT
    type: PROCESSING
    actions:
      - id: GET_SCORE
        async: true
    conditions:
      - name: Scored
        transit: {{step: DONE, status: VERIFIED}}
        rules: [{{id: scored, decision: true}}]
  - id: LOOP_A
    name: LOOP_A
    type: PROCESSING
    conditions:
      - name: To B
        transit: {{step: LOOP_B}}
        rules: [{{id: always, decision: true}}]
  - id: LOOP_B
    name: LOOP_B
    type: PROCESSING
    conditions:
      - name: To A
        transit: {{step: LOOP_A}}
        rules: [{{id: always, decision: true}}]
  - id: REFUSED
    name: REFUSED
    type: DATA
    final: true
  - id: REVIEW
    name: REVIEW
    type: DATA
    final: true
  - id: DONE
    name: DONE
    type: DATA
    final: true
  - id: LOCKED
    name: LOCKED
    type: DATA
    final: true
  - id: ERROR
    name: ERROR
    type: DATA
    final: true
  - id: TIMED_OUT
    name: TIMED_OUT
    type: DATA
    final: true
events:
  onError:
    transit: {{step: ERROR, status: NOT_VERIFIED}}
  onTimeout:
    transit: {{step: TIMED_OUT, status: NOT_COMPLETED}}
properties:
  - {{id: AGE, type: int}}
  - {{id: COUNTRY, type: str}}
  - {{id: AMOUNT, type: decimal}}
  - {{id: MODE, type: str}}
  - {{id: AGAIN, type: bool}}
  - {{id: SCORE, type: int}}
transformers:
  - id: FORM_T
    name: FORM_T
    type: json
    extracts:
      - {{id: AGE, rule: $.age}}
      - {{id: COUNTRY, rule: $.country}}
      - {{id: AMOUNT, rule: $.amount}}
      - {{id: MODE, rule: $.mode}}
      - {{id: AGAIN, rule: $.again}}
  - id: SCORE_T
    name: SCORE_T
    type: json
    extracts:
      - {{id: SCORE, rule: $..score}}
actions:
  - id: GET_SCORE
    name: GET_SCORE
    type: http
    fileId: score_file
    transformers: [{{id: SCORE_T}}]
    options:
      url: '{{{{ config.services.docreader.url }}}}/score'
      method: get
      timeout: 10
  - id: GET_DIRECT
    name: GET_DIRECT
    type: http
    options:
      url: '{direct}/score'
      method: get
      timeout: 5
rules:
  - id: always
    name: Always
    condition: {{type: script, script: "1 == 1"}}
  - id: again_rule
    name: Again
    condition:
      type: statement
      op: $and
      groups: [{{op: $and, conditions: [{{property: AGAIN, op: $eq, value: true}}]}}]
  - id: minor_rule
    name: Minor or unknown country
    precondition:
      type: statement
      groups: [{{op: $and, conditions: [{{property: AGE, op: $exists}}]}}]
    condition:
      type: statement
      op: $or
      groups:
        - op: $and
          conditions: [{{property: AGE, op: $lt, value: 18}}]
        - op: $and
          conditions: [{{property: COUNTRY, op: $eq, value: '??'}}]
  - id: foreign_rule
    name: Outside the allowed countries
    condition:
      type: statement
      groups: [{{op: $and, conditions: [{{property: COUNTRY, op: $nin, value: [de, fr, us]}}]}}]
  - id: big_rule
    name: Big amount for an adult
    condition: {{type: script, script: "AMOUNT > 1000 and (AGE >= 21 or COUNTRY == 'us')"}}
  - id: good_score
    name: Good score
    condition: {{type: script, script: "SCORE >= 50"}}
  - id: scored
    name: Scored
    precondition:
      type: statement
      groups: [{{op: $and, conditions: [{{property: GET_SCORE_completed, op: $exists}}]}}]
    condition: {{type: script, script: "SCORE >= 0"}}
  - id: loop_rule
    name: Loop
    condition: {{type: script, script: "MODE == 'loop'"}}
  - id: direct_rule
    name: Direct
    condition: {{type: script, script: "MODE == 'direct'"}}
  - id: background_rule
    name: Background
    condition: {{type: script, script: "MODE == 'background'"}}
files:
  - id: score_file
    type: UNKNOWN
    contentType: application/json
  - id: form
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {{"type": "object", "properties": {{"age": {{"type": "integer"}}, "country": {{"type": "string"}}}}, "required": ["age", "country"]}}
"#
    )
}

struct Env {
    srv: TestServer,
    svc: Arc<Service>,
    auth: String,
}

async fn env(backend: Backend, allow_private: bool) -> Env {
    // Expiry runs when a test says so (see the scheduled-expiry test for the job itself).
    env_with_expiry(backend, allow_private, "").await
}

/// [`env`] with the `expireSessions` job's cron (`""`: never). A stop interrupts background
/// actions at once (`services.api.shutdownTimeout` 0), so a restart puts them back.
async fn env_with_expiry(backend: Backend, allow_private: bool, expiry_cron: &str) -> Env {
    env_stopping_within(backend, allow_private, expiry_cron, 0).await
}

/// [`env_with_expiry`] whose stops give requests and background actions `shutdown_timeout`
/// seconds to finish.
async fn env_stopping_within(
    backend: Backend,
    allow_private: bool,
    expiry_cron: &str,
    shutdown_timeout: u64,
) -> Env {
    let expiry_cron = expiry_cron.to_owned();
    let svc = Arc::new(Service::default());
    *svc.score.lock().unwrap() = json!(80);
    let svc_url = serve_service(svc.clone()).await;
    // The same service through a name that is not the configured one: `localhost` vs
    // `127.0.0.1` is a different origin, so only the guard decides.
    let direct = svc_url.replace("127.0.0.1", "localhost");
    let svc_cfg = svc_url.clone();
    let srv = TestServer::start_with(backend, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = svc_cfg;
        c.outbound.allow_private_addresses = allow_private;
        c.services.api.shutdown_timeout = shutdown_timeout;
        c.services
            .scheduler
            .jobs
            .get_mut("expireSessions")
            .unwrap()
            .cron = expiry_cron;
    })
    .await;
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(workflow(&direct))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    Env {
        srv,
        svc,
        auth: format!("ApiKey {key}"),
    }
}

impl Env {
    async fn start(&self) -> String {
        let r = self
            .srv
            .post(&format!("/api/sessions?workflowId={WF_ID}"))
            .header("authorization", &self.auth)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn form(&self, id: &str, data: Value) -> Value {
        let r = self.srv.submit(&self.auth, id, "FORM", data).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn session(&self, id: &str) -> Value {
        self.srv.session(&self.auth, id).await
    }

    /// Starts a session, submits `data` and returns `(step reached, session)`.
    async fn run(&self, data: Value) -> (String, Value) {
        let id = self.start().await;
        let step = self.form(&id, data).await;
        (
            step["id"].as_str().unwrap().to_owned(),
            self.session(&id).await,
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_and_scripts_pick_the_first_matching_condition() {
    let e = env(Backend::Sqlite, false).await;
    // $lt in an $or group.
    let (step, s) = e.run(json!({"age": 16, "country": "de"})).await;
    assert_eq!((step.as_str(), &s["status"]), ("REFUSED", &json!(1)));
    // The other $or group.
    let (step, _) = e.run(json!({"age": 40, "country": "??"})).await;
    assert_eq!(step, "REFUSED");
    // $nin.
    let (step, _) = e.run(json!({"age": 40, "country": "br"})).await;
    assert_eq!(step, "REVIEW");
    // script with and/or and parentheses; SCORE from an action through a PROCESSING step.
    let (step, s) = e
        .run(json!({"age": 40, "country": "de", "amount": 5000}))
        .await;
    assert_eq!(step, "DONE");
    assert_eq!(s["status"], 2);
    assert_eq!(s["properties"]["SCORE"], 80);
    assert_eq!(s["properties"]["GET_SCORE_completed"], true);
    assert!(
        s["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "score_file")
    );
    // 20-year-old: `AGE >= 21 or COUNTRY == 'us'` is false → small amount path.
    let (step, s) = e
        .run(json!({"age": 20, "country": "de", "amount": 5000}))
        .await;
    assert_eq!((step.as_str(), &s["status"]), ("DONE", &json!(2)));
    assert!(s["properties"].get("SCORE").is_none());
    // A low score.
    *e.svc.score.lock().unwrap() = json!(10);
    let (_, s) = e
        .run(json!({"age": 20, "country": "us", "amount": 5000}))
        .await;
    assert_eq!(
        (&s["currentStep"], &s["status"]),
        (&json!("DONE"), &json!(1))
    );
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attempts_are_counted_per_step() {
    let e = env(Backend::Sqlite, false).await;
    let id = e.start().await;
    let again = json!({"age": 30, "country": "de", "again": true});
    assert_eq!(e.form(&id, again.clone()).await["id"], "FORM");
    // The second submission would loop back a third time: the limit sends it to LOCKED.
    let s = e.form(&id, again).await;
    assert_eq!(s["id"], "LOCKED");
    let s = e.session(&id).await;
    assert_eq!(s["status"], 1);
    assert_eq!(s["steps"].as_array().unwrap().len(), 2);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lifetime_ends_with_on_timeout() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let e = env(backend, false).await;
        let waiting = e.start().await;
        let scanned = e.start().await;
        let s = e.session(&waiting).await;
        assert!(s["expiresAt"].is_string());
        // 61 s later by the server's clock (the workflow's lifetime is 60 s).
        e.srv.clock.advance(61_000);
        // A client arriving late finds the session ended in TIMED_OUT.
        let r = e
            .srv
            .submit(
                &e.auth,
                &waiting,
                "FORM",
                json!({"age": 30, "country": "de"}),
            )
            .await;
        let (status, code, _) = common::error_of(r).await;
        assert_eq!((status, code.as_str()), (409, "session_ended"));
        let s = e.session(&waiting).await;
        assert_eq!(s["currentStep"], "TIMED_OUT");
        assert_eq!(s["status"], 0);
        // The expireSessions job ends the other one without any request.
        let state = idv_server::state::AppState::open_with_clock(
            e.srv.config.clone(),
            e.srv.url.clone(),
            e.srv.clock.clone(),
        )
        .await
        .unwrap();
        assert_eq!(idv_server::flow::expire_due(&state).await.unwrap(), 1);
        let s = e.session(&scanned).await;
        assert_eq!(s["currentStep"], "TIMED_OUT");
        assert!(s["expiresAt"].is_null());
        assert_eq!(idv_server::flow::expire_due(&state).await.unwrap(), 0);
        e.srv.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cycle_of_server_steps_is_an_error_not_a_hang() {
    let e = env(Backend::Sqlite, false).await;
    let (step, s) = e
        .run(json!({"age": 30, "country": "de", "mode": "loop"}))
        .await;
    assert_eq!(step, "ERROR");
    assert_eq!(s["status"], 1);
    let msg = s["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("cycle"), "{msg}");
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn private_addresses_are_refused_unless_allowed() {
    let e = env(Backend::Sqlite, false).await;
    let (step, s) = e
        .run(json!({"age": 30, "country": "de", "mode": "direct"}))
        .await;
    assert_eq!(step, "ERROR");
    assert_eq!(s["errors"][0]["action"], "GET_DIRECT");
    let msg = s["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("allowPrivateAddresses"), "{msg}");
    assert_eq!(e.svc.calls.load(Ordering::SeqCst), 0, "nothing was sent");
    e.srv.stop().await;

    let e = env(Backend::Sqlite, true).await;
    let (step, s) = e
        .run(json!({"age": 30, "country": "de", "mode": "direct"}))
        .await;
    assert_eq!(step, "DONE", "{s:#}");
    assert_eq!(e.svc.calls.load(Ordering::SeqCst), 1);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_that_cannot_take_its_type_is_an_error_event() {
    let e = env(Backend::Sqlite, false).await;
    *e.svc.score.lock().unwrap() = json!("very good");
    let (step, s) = e
        .run(json!({"age": 40, "country": "de", "amount": 5000}))
        .await;
    assert_eq!(step, "ERROR");
    let msg = s["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("SCORE"), "the property is named: {msg}");
    assert_eq!(s["errors"][0]["step"], "SCORE");
    // Client data that cannot take its type is refused and changes nothing.
    let id = e.start().await;
    let r = e
        .srv
        .submit(
            &e.auth,
            &id,
            "FORM",
            json!({"age": 30, "country": "de", "amount": "lots"}),
        )
        .await;
    let (status, code, body) = common::error_of(r).await;
    assert_eq!((status, code.as_str()), (422, "step_failed"), "{body}");
    assert_eq!(body["error"]["details"]["property"], "AMOUNT");
    let s = e.session(&id).await;
    assert_eq!(s["currentStep"], "FORM");
    assert_eq!(s["files"], json!([]));
    e.srv.stop().await;
}

/// Starts a session whose step waits for its background action, and returns its id once the
/// worker has made the (slow) call, exactly once.
async fn in_a_background_call(e: &mut Env) -> String {
    let id = e.start().await;
    let s = e
        .form(
            &id,
            json!({"age": 30, "country": "de", "mode": "background"}),
        )
        .await;
    // The step waits for its background action.
    assert_eq!(s["id"], "WAIT");
    for _ in 0..3000 {
        if e.svc.calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(e.svc.calls.load(Ordering::SeqCst), 1);
    id
}

async fn background_actions_survive_a_restart(backend: Backend) {
    let mut e = env(backend, false).await;
    e.svc.delay_ms.store(1_500, Ordering::SeqCst);
    let id = in_a_background_call(&mut e).await;
    // Restart the server in the middle of the call.
    e.srv.restart().await;
    e.svc.delay_ms.store(0, Ordering::SeqCst);
    let mut s = Value::Null;
    for _ in 0..1200 {
        s = e.session(&id).await;
        if s["currentStep"] == "DONE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s["currentStep"], "DONE", "{s:#}");
    assert_eq!(s["status"], 2);
    assert_eq!(s["properties"]["SCORE"], 80);
    // Called again after the restart, completed once: one response file, one completion.
    assert!(e.svc.calls.load(Ordering::SeqCst) >= 2);
    let score_files = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] == "score_file")
        .count();
    assert_eq!(score_files, 1, "{s:#}");
    let state = e.srv.state().await;
    assert!(
        state
            .store
            .job_list(SessionId::new(&id))
            .await
            .unwrap()
            .is_empty()
    );
    e.srv.stop().await;
}

/// A graceful stop lets a background action that is running finish (within
/// `services.api.shutdownTimeout`): the service is called once, and the session is done.
async fn background_actions_finish_during_a_graceful_stop(backend: Backend) {
    let mut e = env_stopping_within(backend, false, "", 30).await;
    e.svc.delay_ms.store(1_500, Ordering::SeqCst);
    let id = in_a_background_call(&mut e).await;
    // The stop waits for the call (1.5 s) to end and its result to be stored.
    e.srv.restart().await;
    let s = e.session(&id).await;
    assert_eq!(s["currentStep"], "DONE", "{s:#}");
    assert_eq!(s["properties"]["SCORE"], 80);
    assert_eq!(e.svc.calls.load(Ordering::SeqCst), 1, "not called again");
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn background_actions_finish_during_a_graceful_stop_sqlite() {
    background_actions_finish_during_a_graceful_stop(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn background_actions_finish_during_a_graceful_stop_postgres() {
    background_actions_finish_during_a_graceful_stop(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn background_actions_survive_a_restart_sqlite() {
    background_actions_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn background_actions_survive_a_restart_postgres() {
    background_actions_survive_a_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_expire_sessions_job_ends_lifetimes_on_its_schedule() {
    let e = env_with_expiry(Backend::Sqlite, false, "* * * * * *").await;
    let (srv, auth) = (&e.srv, e.auth.as_str());
    let id = e.start().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(srv.session(auth, &id).await["currentStep"], "FORM");
    srv.clock.advance(61_000);
    let mut s = Value::Null;
    for _ in 0..600 {
        s = srv.session(auth, &id).await;
        if s["currentStep"] == "TIMED_OUT" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s["currentStep"], "TIMED_OUT", "{s:#}");
    assert!(s["engine"].is_null(), "internal state stays internal");
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_runs_the_definition_it_started_with() {
    let e = env(Backend::Sqlite, false).await;
    let old = e.start().await;
    // Replace the workflow: small amounts now go to REVIEW.
    let svc_url = e.srv.config.services.docreader.url.clone();
    let v2 = workflow(&svc_url.replace("127.0.0.1", "localhost")).replace(
        "      - name: Small amount\n        transit: {step: DONE, status: VERIFIED}",
        "      - name: Small amount\n        transit: {step: REVIEW}",
    );
    assert_ne!(v2, workflow(&svc_url.replace("127.0.0.1", "localhost")));
    let r = e
        .srv
        .admin(e.srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(v2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let small = json!({"age": 30, "country": "de", "amount": 10});
    assert_eq!(e.form(&old, small.clone()).await["id"], "DONE");
    let new = e.start().await;
    assert_eq!(e.form(&new, small).await["id"], "REVIEW");
    e.srv.stop().await;
}
