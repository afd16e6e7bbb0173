//! The session flow under kills: the call pattern of `bench/session_flow.sh` (its load
//! generator, `bench/loadgen`), with 16 clients that each, as fast as they can, start a session
//! (`POST /api/sessions?workflowId=…` with `{"locale": "en"}`) and send its first step
//! (`POST /api/sessions/{id}/step/ONBOARDING?type=data` with `{"continue": true}`), both as
//! `admin` with HTTP Basic auth. Afterwards every session whose start was answered is there;
//! every one whose step was answered is in PREPARE_DOCUMENT with the step's data; one whose
//! step was cut off by a kill is in either step, whole; and sessions that nobody was told of
//! are only those whose start was cut off, still in ONBOARDING.

use super::harness::{Outcome, Run, Shared, check_all, drive, figure};
use super::load::sha256_hex;
use crate::support::PASSWORD;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Concurrent clients, as the benchmark's first concurrency.
const CLIENTS: usize = 16;
const WF_ID: &str = "6a0f7f20-0006-11ef-8000-00000000e006";
/// The start of a KYC flow, in the shape of Regula's General KYC: the ONBOARDING screen
/// (a client descriptor with texts from the translations), whose `{"continue": true}` moves
/// the session to PREPARE_DOCUMENT and `{"continue": false}` ends it. Each step's data is
/// kept as its `continue_file` and sets the property `CONTINUE`.
const WORKFLOW: &str = r#"
id: 6a0f7f20-0006-11ef-8000-00000000e006
name: Crash flow checks
version: "1"
description: The first steps of a KYC flow
lifetime: 86400
defaultLocale: en-us
locales:
  - {code: en-us, value: English}
  - {code: es-es, value: Spanish}
client:
  layout:
    screen: {backgroundColor: '#F4F4F6'}
    heading: {fontSize: 26, fontColor: '#1C1C1E', alignment: CENTER}
    main_button: {backgroundColor: '#2D5BD7', cornerRadius: 12}
    main_button_title: {fontSize: 17, fontColor: '#FFFFFF'}
  steps:
    - templateId: PROGRESS
      templateLayout:
        progressView:
          title: {text: "{{ locale.CF_WORKING }}"}
steps:
  - id: ONBOARDING
    name: ONBOARDING
    fileId: continue_file
    cancelLifetimeTimer: false
    type: DATA
    client:
      templateId: INFO_DETAILS
      templateLayout:
        title: {text: "{{ locale.CF_WELCOME }}", layout: [heading]}
        details:
          items:
            - title: {text: "{{ locale.CF_SCAN }}"}
              description: {text: "{{ locale.CF_SCAN_HINT }}"}
              image: {imageURL: '{{ config.baseUrl }}/api/v1/assets/cfScan/content'}
        buttons:
          - title: {text: "{{ locale.CF_START }}", layout: [main_button_title]}
            responseBody: {continue: true}
            layout: [main_button]
        layout: [screen]
    transformers:
      - id: CONTINUE_T
    conditions:
      - name: Go on
        transit: {step: PREPARE_DOCUMENT}
        rules: [{id: continue_rule, decision: true}]
      - name: Stop
        transit: {step: ABORT, status: NOT_COMPLETED}
        rules: [{id: continue_rule, decision: false}]
  - id: PREPARE_DOCUMENT
    name: PREPARE_DOCUMENT
    fileId: continue_file
    type: DATA
    client:
      templateId: INFO
      locale: '{{ session.locale }}'
      templateLayout:
        title: {text: "{{ locale.CF_SCAN }}", layout: [heading]}
        buttons:
          - title: {text: "{{ locale.CF_CONTINUE }}", layout: [main_button_title]}
            responseBody: {continue: true}
            layout: [main_button]
        layout: [screen]
    transformers:
      - id: CONTINUE_T
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: continue_rule, decision: true}]
  - {id: ABORT, name: ABORT, type: DATA, final: true}
  - {id: DONE, name: DONE, type: DATA, final: true}
properties:
  - {id: CONTINUE, type: bool}
transformers:
  - id: CONTINUE_T
    name: CONTINUE_T
    type: json
    extracts:
      - {id: CONTINUE, rule: $..continue}
rules:
  - id: continue_rule
    name: Continue
    precondition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - {property: CONTINUE, op: $exists}
    condition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - {property: CONTINUE, op: $eq, value: 'true'}
files:
  - id: continue_file
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {"type": "object", "properties": {"continue": {"type": "boolean"}}, "required": ["continue"]}
"#;
/// Its texts.
const TRANSLATIONS: &str = r#"
- {key: CF_WELCOME, code: en-us, value: "Let's check who you are"}
- {key: CF_SCAN, code: en-us, value: "Scan your document"}
- {key: CF_SCAN_HINT, code: en-us, value: "Hold it inside the frame."}
- {key: CF_START, code: en-us, value: "Start"}
- {key: CF_CONTINUE, code: en-us, value: "Continue"}
- {key: CF_WORKING, code: en-us, value: "Working"}
- {key: CF_WELCOME, code: es-es, value: "Comprobemos quién es"}
- {key: CF_SCAN, code: es-es, value: "Escanee su documento"}
- {key: CF_SCAN_HINT, code: es-es, value: "Manténgalo dentro del marco."}
- {key: CF_START, code: es-es, value: "Empezar"}
- {key: CF_CONTINUE, code: es-es, value: "Continuar"}
- {key: CF_WORKING, code: es-es, value: "Procesando"}
"#;
/// The two bodies, byte for byte as the benchmark's load generator sends them.
const START: &[u8] = br#"{"locale": "en"}"#;
const CONTINUE: &[u8] = br#"{"continue": true}"#;
/// PREPARE_DOCUMENT's title in English, as its answer shows it.
const SCAN_TITLE: &str = "Scan your document";

/// What became of a session's ONBOARDING step.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Answered 200: the session moved to PREPARE_DOCUMENT.
    Answered,
    /// Sent and cut off by a kill: it may or may not have happened.
    InDoubt,
    /// Refused (a problem of its own): the session stayed in ONBOARDING.
    Refused,
}

/// A session whose start was answered.
#[derive(Debug, Clone)]
struct Started {
    id: String,
    step: Step,
}

#[derive(Debug, Default)]
struct Counts {
    creates: usize,
    steps: usize,
    create_doubts: usize,
    step_doubts: usize,
    /// Answers that break a promise, or non-2xx answers.
    problems: Vec<String>,
}

/// One client: starts a session and sends its step, over and over, until told to stop (the
/// pair it is in is finished first).
async fn client(shared: Arc<Shared>) -> (Vec<Started>, Counts) {
    let mut url_rx = shared.url.clone();
    let mut started = vec![];
    let mut c = Counts::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let Some(url) = shared.up(&mut url_rx).await else {
            break;
        };
        let rb = shared
            .http
            .post(format!("{url}/api/sessions?workflowId={WF_ID}"))
            .header("content-type", "application/json")
            .body(START);
        let id = match shared.send(rb, "start a session").await {
            Outcome::Ack(body) => {
                let s: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let Some(id) = s["id"].as_str() else {
                    c.problems
                        .push(format!("start a session: answer without id: {s}"));
                    continue;
                };
                if s["currentStep"] != "ONBOARDING" || s["locale"] != "en" {
                    c.problems.push(format!("start a session: answer {s}"));
                }
                c.creates += 1;
                id.to_owned()
            }
            Outcome::Refused(m) => {
                c.problems.push(m);
                continue;
            }
            // Its id never arrived: the listing afterwards may show it.
            Outcome::Doubt => {
                c.create_doubts += 1;
                continue;
            }
            // The server is down, and is marked so: the next round waits for its next start.
            Outcome::NotSent => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // The step, sent again while the server is down (nothing was sent then).
        let what = format!("ONBOARDING of {id}");
        let step = loop {
            let Some(url) = shared.up(&mut url_rx).await else {
                break Step::Refused;
            };
            let rb = shared
                .http
                .post(format!("{url}/api/sessions/{id}/step/ONBOARDING?type=data"))
                .header("content-type", "application/json")
                .body(CONTINUE);
            match shared.send(rb, &what).await {
                Outcome::Ack(body) => {
                    let next: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let client = &next["client"];
                    if next["id"] != "PREPARE_DOCUMENT"
                        || client["locale"] != "en"
                        || client["templateLayout"]["title"]["text"] != SCAN_TITLE
                    {
                        c.problems.push(format!("{what}: answer {next}"));
                    }
                    c.steps += 1;
                    break Step::Answered;
                }
                Outcome::Refused(m) => {
                    c.problems.push(m);
                    break Step::Refused;
                }
                Outcome::Doubt => {
                    c.step_doubts += 1;
                    break Step::InDoubt;
                }
                Outcome::NotSent => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        started.push(Started { id, step });
    }
    (started, c)
}

/// Where a session stands: `Ok(false)` untouched in ONBOARDING, `Ok(true)` moved on to
/// PREPARE_DOCUMENT with everything the step leaves, `Err` anything else.
fn stands(s: &Value) -> Result<bool, String> {
    let common = s["status"] == 0
        && s["workflow"]["id"] == WF_ID
        && s["locale"] == "en"
        && s["history"] == json!([])
        && s["errors"] == json!([]);
    let untouched = s["currentStep"] == "ONBOARDING"
        && s["properties"] == json!({})
        && s["files"] == json!([])
        && s["steps"] == json!([]);
    let file = &s["files"][0];
    let step = &s["steps"][0];
    let moved = s["currentStep"] == "PREPARE_DOCUMENT"
        && s["properties"] == json!({"CONTINUE": true})
        && s["files"].as_array().is_some_and(|f| f.len() == 1)
        && file["name"] == "continue_file"
        && file["step"] == "ONBOARDING"
        && file["contentType"] == "application/json"
        && file["size"] == CONTINUE.len()
        && file["sha256"] == sha256_hex(CONTINUE).as_str()
        && s["steps"].as_array().is_some_and(|s| s.len() == 1)
        && step["id"] == "ONBOARDING"
        && step["attempt"] == 1
        && step["completedAt"].is_string();
    match (common, untouched, moved) {
        (true, true, _) => Ok(false),
        (true, _, true) => Ok(true),
        _ => Err(format!("neither untouched nor moved on whole: {s}")),
    }
}

/// Reads a session as `admin`, and where it stands; for one that moved on, also its step's
/// data file, which must hold the bytes sent.
async fn read(http: &reqwest::Client, url: &str, id: &str) -> Result<bool, String> {
    let r = http
        .get(format!("{url}/api/sessions/{id}"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .map_err(|e| format!("session {id}: {e}"))?;
    let status = r.status();
    let s: Value = r.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!("session {id}: {status} {s}"));
    }
    let moved = stands(&s).map_err(|e| format!("session {id}: {e}"))?;
    if moved {
        let file = s["files"][0]["id"].as_str().unwrap_or_default();
        let r = http
            .get(format!("{url}/api/sessions/{id}/files/{file}"))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await
            .map_err(|e| format!("session {id} file {file}: {e}"))?;
        let status = r.status();
        let bytes = r.bytes().await.unwrap_or_default();
        if status != 200 || bytes != CONTINUE {
            return Err(format!(
                "session {id}: its step's data file answers {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    Ok(moved)
}

/// Checks one session against what the answers promised: whether it moved on, when it stands
/// as they allow, else the problem.
async fn check(http: &reqwest::Client, url: &str, t: &Started) -> Result<bool, String> {
    let moved = read(http, url, &t.id).await?;
    match (t.step, moved) {
        (Step::Answered, false) => Err(format!(
            "session {}: its step was answered, and it is still in ONBOARDING",
            t.id
        )),
        (Step::Refused, true) => Err(format!(
            "session {}: its step was refused, and it moved on",
            t.id
        )),
        _ => Ok(moved),
    }
}

/// Every session of the workflow the server lists, with its current step.
async fn listed(http: &reqwest::Client, url: &str) -> Result<Vec<(String, String)>, String> {
    let mut all = vec![];
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("{url}/api/sessions/search?limit=1000");
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let r = http
            .post(path)
            .basic_auth("admin", Some(PASSWORD))
            .json(&json!({"workflows": [WF_ID]}))
            .send()
            .await
            .map_err(|e| format!("search: {e}"))?;
        let status = r.status();
        let page: Value = r.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("search: {status} {page}"));
        }
        for s in page["items"].as_array().into_iter().flatten() {
            all.push((
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["currentStep"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return Ok(all),
        }
    }
}

/// The session flow on `database` under kills, then the check of every session.
pub(super) async fn run(backend: &'static str, dir: PathBuf, database: String) {
    let label = format!("crash-flow[{backend}]");
    let run = Run::new(label.clone(), dir, database);
    let loaded = drive(
        &run,
        &[
            ("/api/workflows", WORKFLOW),
            ("/api/translations", TRANSLATIONS),
        ],
        CLIENTS,
        |shared, _| client(shared),
    )
    .await;
    let mut sessions = vec![];
    let mut counts = Counts::default();
    for (s, c) in loaded.results {
        sessions.extend(s);
        counts.problems.extend(c.problems);
        counts.creates += c.creates;
        counts.steps += c.steps;
        counts.create_doubts += c.create_doubts;
        counts.step_doubts += c.step_doubts;
    }
    let (http, url) = (loaded.http.clone(), loaded.serve.url.clone());

    // Every session started, checked by several tasks at once.
    let known: HashSet<String> = sessions.iter().map(|t| t.id.clone()).collect();
    let step_in_doubt = sessions
        .iter()
        .filter(|t| t.step == Step::InDoubt)
        .map(|t| t.id.clone())
        .collect::<HashSet<_>>();
    let (h, u) = (http.clone(), url.clone());
    let checked = check_all(sessions, CLIENTS, move |t| {
        let (http, url) = (h.clone(), u.clone());
        async move { (t.id.clone(), check(&http, &url, &t).await) }
    })
    .await;
    let mut lost = vec![];
    let mut moved_in_doubt = 0;
    for (id, c) in checked {
        match c {
            Ok(true) if step_in_doubt.contains(&id) => moved_in_doubt += 1,
            Ok(_) => {}
            Err(e) => lost.push(e),
        }
    }

    // The listing: every session started is in it, and any other is one whose start was cut
    // off (at most as many), never touched since.
    let mut strays = 0;
    match listed(&http, &url).await {
        Err(e) => lost.push(e),
        Ok(all) => {
            let ids: HashSet<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
            if ids.len() != all.len() {
                lost.push(format!(
                    "the listing shows {} sessions, {} of them different",
                    all.len(),
                    ids.len()
                ));
            }
            let missing = known.iter().filter(|id| !ids.contains(id.as_str())).count();
            if missing > 0 {
                lost.push(format!("{missing} sessions started are not listed"));
            }
            for (id, _) in all.iter().filter(|(id, _)| !known.contains(id)) {
                strays += 1;
                match read(&http, &url, id).await {
                    Ok(false) => {}
                    Ok(true) => lost.push(format!("stray session {id} moved on")),
                    Err(e) => lost.push(format!("stray {e}")),
                }
            }
            if strays > counts.create_doubts {
                lost.push(format!(
                    "{strays} sessions nobody was told of, {} starts cut off",
                    counts.create_doubts
                ));
            }
        }
    }
    let mut serve = loaded.serve;
    serve.kill();

    // The audit chain, verified by the CLI over the same database after the last kill.
    let (audit_ok, audit) = run.audit_verify();

    figure(format_args!(
        "{label}: {} kills at {}; load {:.1} s",
        run.kills,
        loaded.kill_points.join(", "),
        loaded.load_secs
    ));
    figure(format_args!(
        "{label}: {} kills, {} acknowledged writes (creates {}, steps {}), {} in doubt \
         (creates {}, of which {strays} made a session; steps {}, of which {moved_in_doubt} \
         moved on), {} lost, {}, {:.1} s",
        run.kills,
        counts.creates + counts.steps,
        counts.creates,
        counts.steps,
        counts.create_doubts + counts.step_doubts,
        counts.create_doubts,
        counts.step_doubts,
        lost.len(),
        audit,
        run.secs()
    ));
    assert!(
        counts.problems.is_empty(),
        "{label} (seed {}): {} writes answered wrongly, first: {:#?}",
        run.seed,
        counts.problems.len(),
        &counts.problems[..counts.problems.len().min(10)]
    );
    assert!(
        lost.is_empty(),
        "{label} (seed {}): {} broken promises, first: {:#?}",
        run.seed,
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(audit_ok, "{label}: {audit}");
    assert!(counts.creates > 0, "{label}: no session start acknowledged");
    assert!(counts.steps > 0, "{label}: no step acknowledged");
}
