//! `idv workflow run` as a workflow author uses it: Regula's General KYC driven offline through
//! its happy path, an under-age person, a missing canned response, retries and expiry, refused
//! submissions and broken steps files, each checked on the printed transcript and exit status.

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

use crate::support::regula;

use regula::general_kyc;

const BIN: &str = env!("CARGO_BIN_EXE_idv");

/// A few bytes that start like a JPEG file.
fn jpeg(label: &str) -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    b.extend_from_slice(label.as_bytes());
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

/// Document Reader results with what general_kyc's easyjson transformer reads: the document
/// type, the text fields (lcid 0), the portrait (fieldType 201, containerType 6), the overall
/// status and the chip page.
fn doc_results(age: u32, portrait: &[u8]) -> Value {
    let field = |t: u32, v: &str| json!({"fieldType": t, "lcid": 0, "value": v});
    json!({
        "ChipPage": 0,
        "ContainerList": {"List": [
            {"result_type": 9, "OneCandidate": {"FDSIDList": {"dType": 11}}},
            {"result_type": 36, "Text": {"fieldList": [
                // A native-script name first: only lcid 0 counts.
                {"fieldType": 25, "lcid": 1049, "value": "ДЖОН СМИТ"},
                field(25, "JOHN SMITH"),
                field(9, "JOHN"),
                field(8, "SMITH"),
                field(2, "P1234567"),
                field(5, "01/02/1994"),
                field(11, "Utopia"),
                field(185, &age.to_string()),
            ]}},
            {"result_type": 37, "Images": {"fieldList": [{"fieldType": 201, "valueList": [
                {"containerType": 6, "value": base64::engine::general_purpose::STANDARD.encode(portrait)}
            ]}]}},
            {"result_type": 33, "Status": {"overallStatus": 1, "detailsOptical": {"mrz": 1}}},
        ]}
    })
}

/// The five submissions of the happy path.
fn happy_steps() -> Value {
    json!([
        {"step": "ONBOARDING", "data": {"continue": true}},
        {"step": "PREPARE_DOCUMENT", "data": {"continue": true}},
        {"step": "DOC_READER", "data": {"transactionId": "tx-1", "cancel": false, "has_nfc": false}},
        {"step": "PREPARE_LIVENESS", "data": {"continue": true}},
        {"step": "LIVENESS", "data": {"transactionId": "live-1", "cancel": false}},
    ])
}

/// A steps file for general_kyc with every action answered; the selfie is a `bodyFile`.
fn kyc_steps(dir: &Path, age: u32) -> Value {
    std::fs::write(dir.join("selfie.jpg"), jpeg("selfie")).unwrap();
    json!({
        "locale": "en-us",
        "metadata": {"externalUserId": "user-42"},
        "config": {"services": {"docreader": {"url": "http://docreader"}, "faceapi": {"url": "http://faceapi"}}},
        "steps": happy_steps(),
        "actions": {
            "DOCREADER_SCENARIO": {"status": 200, "body": {"ProcessingFinished": 1}},
            "GET_DOCREADER_RESULTS": {"status": 200, "body": doc_results(age, &jpeg("document portrait"))},
            "GET_DOC_VIDEO": {"status": 404},
            "LIVENESS_STATUS": {"status": 200, "body": {"status": 0}},
            "GET_LIVENESS_PORTRAIT": {"status": 200, "bodyFile": "selfie.jpg", "contentType": "image/jpeg"},
            "GET_LIVENESS_VIDEO": {"status": 404},
            "MATCH_DOC_AND_LIVENESS": {"status": 200, "body": {"code": 0, "results": [{"similarity": 0.93}]}},
        },
    })
}

struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

/// Writes `steps` to `dir/steps.json` and runs `idv workflow run WORKFLOW --data` on it.
fn run(dir: &Path, workflow: &str, steps: &Value, extra: &[&str]) -> Ran {
    let data = dir.join("steps.json");
    std::fs::write(&data, serde_json::to_vec_pretty(steps).unwrap()).unwrap();
    run_file(dir, workflow, &data, extra)
}

fn run_file(dir: &Path, workflow: &str, data: &Path, extra: &[&str]) -> Ran {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(["workflow", "run", workflow, "--data"])
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    Ran {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The transcript's lines about where the session goes (no property lines).
fn moves(out: &str) -> Vec<&str> {
    let words = [
        "start ",
        "submit ",
        "background ",
        "expire ",
        "  enter ",
        "  waiting ",
        "  action ",
        "  queued ",
        "  skip ",
        "  error ",
        "  retry ",
        "  refused",
    ];
    out.lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| words.iter().any(|w| l.starts_with(w)))
        .collect()
}

#[test]
fn general_kyc_happy_path_is_verified() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let steps = kyc_steps(dir.path(), 30);
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let expected = [
        "start  session in ONBOARDING (status 0 not_completed)",
        r#"submit ONBOARDING {"continue":true}"#,
        r#"  enter PREPARE_DOCUMENT via "Prepare OK""#,
        "  waiting in PREPARE_DOCUMENT",
        r#"submit PREPARE_DOCUMENT {"continue":true}"#,
        r#"  enter DOC_READER via "Prepare passport OK""#,
        "  waiting in DOC_READER",
        r#"submit DOC_READER {"transactionId":"tx-1","cancel":false,"has_nfc":false}"#,
        "  action DOCREADER_SCENARIO POST http://docreader/api/v2/transaction/tx-1/process?useCache=true → 200",
        "  queued GET_DOCREADER_RESULTS",
        "  queued GET_DOC_VIDEO",
        // The results come from a background action; the step waits for them.
        "  waiting in DOC_READER",
        "background GET_DOCREADER_RESULTS (queued in DOC_READER)",
        "  action GET_DOCREADER_RESULTS GET http://docreader/api/v2/transaction/tx-1/results?withImages=true → 200",
        r#"  enter PREPARE_LIVENESS via "Valid doc without rfid""#,
        "  waiting in PREPARE_LIVENESS",
        "background GET_DOC_VIDEO (queued in DOC_READER)",
        "  action GET_DOC_VIDEO GET http://docreader/api/v2/transaction/tx-1/file?name=in/video.mp4&logRequest=false → 404",
        r#"submit PREPARE_LIVENESS {"continue":true}"#,
        r#"  enter LIVENESS via "Liveness is ok""#,
        "  waiting in LIVENESS",
        r#"submit LIVENESS {"transactionId":"live-1","cancel":false}"#,
        "  action LIVENESS_STATUS GET http://faceapi/api/v2/liveness?transactionId=live-1&logRequest=false → 200",
        "  skip MATCH_DOC_AND_LIVENESS: its `when` does not hold",
        "  action GET_LIVENESS_PORTRAIT GET http://faceapi/api/v2/liveness/portrait?transactionId=live-1&logRequest=false → 200",
        "  action GET_LIVENESS_VIDEO GET http://faceapi/api/v2/liveness/video?transactionId=live-1&logRequest=false → 404",
        // One submission crosses three server steps.
        r#"  enter PERFORM_DATA_EXTRACTION via "Continue""#,
        "  queued LIVENESS_STATUS",
        "  queued GET_LIVENESS_VIDEO",
        "  queued GET_LIVENESS_PORTRAIT",
        r#"  enter PERFORM_MATCH via "Next""#,
        "  action MATCH_DOC_AND_LIVENESS POST http://faceapi/api/match?logRequest=false → 200",
        r#"  enter PERFORM_CHECKS via "Next""#,
        r#"  enter KYC_COMPLETED via "All Good" (status 2 verified)"#,
        // Background actions queued on the way finish after the session ended.
        "background LIVENESS_STATUS (queued in PERFORM_DATA_EXTRACTION)",
        "  action LIVENESS_STATUS GET http://faceapi/api/v2/liveness?transactionId=live-1&logRequest=false → 200",
        "background GET_LIVENESS_VIDEO (queued in PERFORM_DATA_EXTRACTION)",
        "  action GET_LIVENESS_VIDEO GET http://faceapi/api/v2/liveness/video?transactionId=live-1&logRequest=false → 404",
        "background GET_LIVENESS_PORTRAIT (queued in PERFORM_DATA_EXTRACTION)",
        "  action GET_LIVENESS_PORTRAIT GET http://faceapi/api/v2/liveness/portrait?transactionId=live-1&logRequest=false → 200",
    ];
    assert_eq!(moves(&r.out), expected, "{}", r.out);
    let lines: Vec<&str> = r.out.lines().collect();
    let portrait = jpeg("document portrait").len();
    for line in [
        "  property CONTINUE = true",
        r#"  property TRANSACTION_ID = "tx-1""#,
        "  property AGE = 30",
        "  property DOCTYPE = 11",
        &format!("  property DOC_PHOTO = <file {portrait} bytes>"),
        "  property LIVENESS_DOC_SIMILARITY = 0.93",
        // The summary.
        "step       KYC_COMPLETED (final)",
        "status     2 verified",
        "ended      yes",
        "  AGE = 30",
        r#"  FULL_NAME = "JOHN SMITH""#,
        r#"  DOCUMENT_NUMBER = "P1234567""#,
        "  CHIP_PAGE = 0",
        "  FULL_AUTH_OVERALL_STATUS = 1",
        "  LIVENESS_STATUS = 0",
        &format!("  DOC_PHOTO = <file {portrait} bytes>"),
        &format!(
            "  LIVENESS_PORTRAIT = <file {} bytes>",
            jpeg("selfie").len()
        ),
        "  LIVENESS_DOC_SIMILARITY = 0.93",
        "errors     0",
        "normalized 3",
        "  document (DOCUMENT): passed",
        "  liveness (LIVENESS): passed",
        "  face_match (FACE_MATCH): passed",
        r#"  title: "JOHN SMITH""#,
        &format!("  photo: <file {portrait} bytes>"),
        r#"  Document number: "P1234567""#,
    ] {
        assert!(lines.contains(&line), "no line `{line}` in:\n{}", r.out);
    }
    // The same run prints the same thing.
    let again = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(again.out, r.out);
}

#[test]
fn under_age_is_not_verified() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), general_kyc(), &kyc_steps(dir.path(), 16), &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let lines: Vec<&str> = r.out.lines().collect();
    for line in [
        "  property AGE = 16",
        r#"  enter KYC_COMPLETED via "Not Good" (status 1 not_verified)"#,
        "step       KYC_COMPLETED (final)",
        "status     1 not_verified",
        "  document (DOCUMENT): failed (valid_age is false)",
        "  face_match (FACE_MATCH): passed",
    ] {
        assert!(lines.contains(&line), "no line `{line}` in:\n{}", r.out);
    }
}

#[test]
fn a_missing_canned_response_leads_to_the_error_step() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let mut steps = kyc_steps(dir.path(), 30);
    steps["actions"]
        .as_object_mut()
        .unwrap()
        .remove("GET_DOCREADER_RESULTS");
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    let message = "GET http://docreader/api/v2/transaction/tx-1/results?withImages=true failed: \
                   no canned response for action GET_DOCREADER_RESULTS";
    let moved = moves(&r.out);
    let at = moved
        .iter()
        .position(|l| *l == "background GET_DOCREADER_RESULTS (queued in DOC_READER)")
        .unwrap_or_else(|| panic!("{}", r.out));
    assert!(
        moved[at + 1].starts_with(&format!(
            "  error in DOC_READER (GET_DOCREADER_RESULTS): {message}"
        )),
        "{}",
        r.out
    );
    assert_eq!(
        moved[at + 2],
        r#"  enter ERROR via "events.onError" (status 1 not_verified)"#
    );
    // The next submission is refused: the session has ended.
    assert_eq!(r.code, Some(1), "{}{}", r.out, r.err);
    assert!(
        r.out.contains(
            "submit PREPARE_LIVENESS {\"continue\":true}\n  refused: the session has ended in \
             step ERROR; nothing more can be submitted\n"
        ),
        "{}",
        r.out
    );
    let lines: Vec<&str> = r.out.lines().collect();
    assert!(lines.contains(&"step       ERROR (final)"), "{}", r.out);
    assert!(lines.contains(&"status     1 not_verified"), "{}", r.out);
    assert!(lines.contains(&"errors     1"), "{}", r.out);

    // Without the refused submissions the run itself succeeds.
    steps["steps"] = json!(steps["steps"].as_array().unwrap()[..3]);
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(r.out.contains("step       ERROR (final)"), "{}", r.out);
}

#[test]
fn answer_lists_retries_timeouts_and_expiry() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let mut steps = kyc_steps(dir.path(), 30);
    // DOCREADER_SCENARIO has `retry: {}`: three more tries.
    steps["actions"]["DOCREADER_SCENARIO"] = json!([
        {"status": 503},
        {"error": "timeout"},
        {"status": 200, "body": {}},
    ]);
    steps["steps"] = json!(steps["steps"].as_array().unwrap()[..4]);
    steps["expire"] = json!(true);
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let moved = moves(&r.out);
    let at = moved
        .iter()
        .position(|l| l.starts_with("submit DOC_READER"))
        .unwrap();
    assert_eq!(
        moved[at + 1..at + 4],
        [
            "  retry DOCREADER_SCENARIO after 1 s: HTTP 503",
            "  retry DOCREADER_SCENARIO after 1 s: timed out after 30 s (the action's timeout)",
            "  action DOCREADER_SCENARIO POST http://docreader/api/v2/transaction/tx-1/process?useCache=true → 200",
        ],
        "{}",
        r.out
    );
    assert_eq!(
        moved[moved.len() - 2..],
        [
            "expire lifetime ends in LIVENESS",
            r#"  enter ABORT via "events.onTimeout" (status 0 not_completed)"#,
        ],
        "{}",
        r.out
    );
    assert!(r.out.contains("step       ABORT (final)"), "{}", r.out);

    // A timeout every time: the error step, after the tries run out.
    steps["actions"]["DOCREADER_SCENARIO"] = json!({"error": "timeout"});
    steps["steps"] = json!(steps["steps"].as_array().unwrap()[..3]);
    steps["expire"] = json!(false);
    let r = run(dir.path(), general_kyc(), &steps, &["--expire"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert_eq!(
        r.out.matches("  retry DOCREADER_SCENARIO").count(),
        3,
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains(r#"  enter ERROR via "events.onError" (status 1 not_verified)"#),
        "{}",
        r.out
    );
    // An ended session has no lifetime left.
    assert!(
        r.out
            .contains("expire the session has ended in ERROR: its lifetime no longer applies"),
        "{}",
        r.out
    );
}

#[test]
fn json_prints_the_final_state_on_stdout() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        general_kyc(),
        &kyc_steps(dir.path(), 30),
        &["--json"],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    let state: Value = serde_json::from_str(&r.out).expect("stdout is one JSON document");
    assert_eq!(state["currentStep"], "KYC_COMPLETED");
    assert_eq!(state["status"], 2);
    assert_eq!(state["statusName"], "verified");
    assert_eq!(state["ended"], true);
    assert_eq!(state["properties"]["AGE"], 30);
    assert_eq!(state["refused"], Value::Null);
    let photo = state["properties"]["DOC_PHOTO"].as_str().unwrap();
    let file = state["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == photo)
        .unwrap();
    assert_eq!(file["size"], jpeg("document portrait").len());
    assert_eq!(file["contentType"], "image/jpeg");
    assert_eq!(state["view"]["photo"]["fileId"], photo);
    // The events went to standard error.
    assert!(
        r.err
            .contains(r#"  enter KYC_COMPLETED via "All Good" (status 2 verified)"#),
        "{}",
        r.err
    );
}

#[test]
fn refused_submissions_exit_1() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let mut steps = kyc_steps(dir.path(), 30);
    steps["steps"][2]["data"] = json!({"transactionId": 5, "cancel": false});
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(r.code, Some(1), "{}{}", r.out, r.err);
    assert!(
        r.out.contains(
            "submit DOC_READER {\"transactionId\":5,\"cancel\":false}\n  refused: the data does \
             not match the schema of step DOC_READER:\n    /transactionId: 5 is not of type \
             \"string\"\n    /: \"has_nfc\" is a required property\n"
        ),
        "{}",
        r.out
    );
    // The state it stopped in is still printed.
    assert!(r.out.contains("step       DOC_READER\n"), "{}", r.out);

    // A step that is not the current one.
    steps["steps"] = json!([{"step": "LIVENESS", "data": {"transactionId": "x", "cancel": false}}]);
    let r = run(dir.path(), general_kyc(), &steps, &["--json"]);
    assert_eq!(r.code, Some(1), "{}{}", r.out, r.err);
    let state: Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(
        state["refused"]["message"],
        "the session waits in step ONBOARDING, not LIVENESS"
    );
    // A step the workflow does not have.
    steps["steps"] = json!([{"step": "NOWHERE", "data": {}}]);
    let r = run(dir.path(), general_kyc(), &steps, &[]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.out
            .contains("  refused: the workflow has no step NOWHERE"),
        "{}",
        r.out
    );

    // An invalid workflow.
    let broken = std::fs::read_to_string(general_kyc()).unwrap().replacen(
        "step: PREPARE_DOCUMENT",
        "step: NOWHERE",
        1,
    );
    std::fs::write(dir.path().join("broken.yaml"), broken).unwrap();
    let r = run(dir.path(), "broken.yaml", &steps, &[]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.err.contains("broken.yaml: line ") && r.err.contains("unknown step `NOWHERE`"),
        "{}",
        r.err
    );
}

#[test]
fn bad_steps_files_exit_2_and_say_where() {
    regula_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            json!({"steps": [], "actions": {"LIVENESS_STATUS": [{"status": 200}, {"staus": 200}]}}),
            "steps.json: actions.LIVENESS_STATUS[1].staus: unknown field `staus`, expected one of",
        ),
        (
            json!({"steps": [{"step": "ONBOARDING"}]}),
            "steps.json: steps[0]: missing field `data`",
        ),
        (
            json!({"actions": {"GET_RESULTS": {"status": 200}}}),
            "steps.json: actions.GET_RESULTS: the workflow has no action GET_RESULTS; its actions \
             are: DOCREADER_SCENARIO, GET_DOCREADER_RESULTS,",
        ),
        (
            json!({"actions": {"GET_DOC_VIDEO": {"bodyFile": "video.mp4"}}}),
            "steps.json: actions.GET_DOC_VIDEO.bodyFile: cannot read",
        ),
        (
            json!({"actions": {"GET_DOC_VIDEO": {"status": 42}}}),
            "steps.json: actions.GET_DOC_VIDEO.status: 42 is not an HTTP status",
        ),
    ];
    for (steps, expected) in cases {
        let r = run(dir.path(), general_kyc(), &steps, &[]);
        assert_eq!(r.code, Some(2), "{steps}: {}{}", r.out, r.err);
        assert!(r.err.contains(expected), "{steps}: {}", r.err);
        assert!(r.out.is_empty(), "nothing ran: {}", r.out);
    }
    // Not JSON at all.
    std::fs::write(dir.path().join("text.json"), "steps: []\n").unwrap();
    let r = run_file(
        dir.path(),
        general_kyc(),
        &dir.path().join("text.json"),
        &[],
    );
    assert_eq!(r.code, Some(2));
    assert!(
        r.err
            .contains("text.json: expected value at line 1 column 1"),
        "{}",
        r.err
    );
    // Unreadable files.
    let r = run_file(
        dir.path(),
        general_kyc(),
        &dir.path().join("none.json"),
        &[],
    );
    assert_eq!(r.code, Some(2));
    assert!(r.err.contains("none.json: cannot read"), "{}", r.err);
    let r = run(dir.path(), "missing.yaml", &json!({}), &[]);
    assert_eq!(r.code, Some(2));
    assert!(r.err.contains("missing.yaml: cannot read"), "{}", r.err);
}

/// A small workflow whose action renders the locale, the session's metadata and the config.
const GREETER: &str = r#"
id: greeter
name: Greeter
steps:
  - id: ASK
    type: DATA
    transformers: [{id: NAME}]
    actions: [{id: GREET}]
    conditions:
      - {name: Greeted, transit: {step: DONE, status: approved}, rules: [{id: greeted, decision: true}]}
  - id: DONE
    type: DATA
    final: true
properties:
  - {id: NAME, type: str}
  - {id: REPLY, type: str}
transformers:
  - {id: NAME, name: NAME, type: json, extracts: [{id: NAME, rule: $.name}]}
  - {id: REPLY, name: REPLY, type: json, extracts: [{id: REPLY, rule: $.reply}]}
actions:
  - id: GREET
    name: GREET
    type: http
    transformers: [{id: REPLY}]
    options:
      url: "{{ config.services.greeter.url }}/greet?user={{ session.metadata.user }}"
      method: post
      headers: {x-trace: "t-1", authorization: "Bearer {{ config.token }}"}
      body: '{"text": "{{ locale.HELLO }}, {{ NAME }}"}'
rules:
  - id: greeted
    name: Greeted
    condition: {type: statement, op: $and, groups: [{op: $and, conditions: [{property: REPLY, op: $exists}]}]}
"#;

#[test]
fn verbose_shows_rendered_requests_with_translations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greeter.yaml"), GREETER).unwrap();
    std::fs::write(
        dir.path().join("texts.yaml"),
        "- {key: HELLO, code: en-us, value: Hello}\n- {key: HELLO, code: pt-br, value: Olá}\n",
    )
    .unwrap();
    let steps = json!({
        "locale": "pt",
        "metadata": {"user": "u-7"},
        "config": {"token": "s3cret", "services": {"greeter": {"url": "http://greeter"}}},
        "steps": [{"step": "ASK", "data": {"name": "Ana"}}],
        "actions": {"GREET": {"body": {"reply": "hi"}}},
    });
    let r = run(
        dir.path(),
        "greeter.yaml",
        &steps,
        &["--verbose", "--locale-file", "texts.yaml"],
    );
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(
        r.out.contains(
            "  request GREET POST http://greeter/greet?user=u-7\n    x-trace: t-1\n    \
             authorization: <hidden, 13 characters>\n    body:\n      {\"text\": \"Olá, Ana\"}\n  \
             action GREET POST http://greeter/greet?user=u-7 → 200\n"
        ),
        "{}",
        r.out
    );
    assert!(!r.out.contains("s3cret"), "{}", r.out);
    assert!(
        r.out
            .contains(r#"  enter DONE via "Greeted" (status 3 approved)"#),
        "{}",
        r.out
    );
    // No view block in the workflow: no view in the summary.
    assert!(!r.out.contains("\nview\n"), "{}", r.out);
    // Without a `lifetime` nothing expires.
    let r = run(dir.path(), "greeter.yaml", &json!({}), &["--expire"]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    assert!(
        r.out.contains("expire no lifetime is running in ASK"),
        "{}",
        r.out
    );
    assert!(r.out.contains("ended      no"), "{}", r.out);
}

#[test]
fn help_documents_the_steps_file() {
    let out = Command::new(BIN)
        .args(["workflow", "run", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in [
        "--data <STEPS.json>",
        "--locale-file <FILE>",
        "--expire",
        "--json",
        "bodyBase64",
        "bodyFile",
        "\"error\": \"timeout\"",
        "one per call, the last one repeats",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
}

/// A form that takes a typed MRZ and an `mrz` action that reads it.
const MRZ_WORKFLOW: &str = r#"
id: mrz-run
name: MRZ run
steps:
  - id: ENTER_MRZ
    name: Type the MRZ
    type: DATA
    transformers: [{id: FORM_T}]
    actions: [{id: READ_MRZ}]
    conditions:
      - name: Valid
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: valid, decision: true}]
      - name: Not valid
        transit: {step: REJECTED, status: NOT_VERIFIED}
        rules: [{id: valid, decision: false}]
  - {id: DONE, name: DONE, type: DATA, final: true}
  - {id: REJECTED, name: REJECTED, type: DATA, final: true}
properties:
  - {id: MRZ_TEXT, type: str}
  - {id: DOCUMENT_NUMBER, type: str}
  - {id: MRZ_VALID, type: bool}
transformers:
  - {id: FORM_T, type: json, extracts: [{id: MRZ_TEXT, rule: $.mrz}]}
  - id: MRZ_T
    type: json
    extracts:
      - {id: DOCUMENT_NUMBER, rule: $.documentNumber}
      - {id: MRZ_VALID, rule: $.validNotExpired}
actions:
  - {id: READ_MRZ, type: mrz, transformers: [{id: MRZ_T}], options: {mrz: "{{ MRZ_TEXT }}"}}
rules:
  - id: valid
    name: Valid
    condition: {type: script, script: "MRZ_VALID == true"}
"#;

#[test]
fn mrz_actions_run_natively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mrz.yaml"), MRZ_WORKFLOW).unwrap();
    // Expires at the end of 2070, which stays in this century until 2020 + 50.
    let mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
               L898902C36UTO7408122F7012314ZE184226B<<<<<10";
    let steps = json!({"steps": [{"step": "ENTER_MRZ", "data": {"mrz": mrz}}]});
    let r = run(dir.path(), "mrz.yaml", &steps, &[]);
    assert_eq!(r.code, Some(0), "{}{}", r.out, r.err);
    let moved = moves(&r.out);
    assert!(moved[1].starts_with("submit ENTER_MRZ"), "{}", r.out);
    assert_eq!(
        moved[2..],
        [
            "  action READ_MRZ (mrz) → TD3 valid",
            "  enter DONE via \"Valid\" (status 2 verified)",
        ],
        "{}",
        r.out
    );
    assert!(
        r.out.contains("property DOCUMENT_NUMBER = \"L898902C3\""),
        "{}",
        r.out
    );
    // A wrong check digit.
    let wrong = mrz.replace("7408122", "7408123");
    let steps = json!({"steps": [{"step": "ENTER_MRZ", "data": {"mrz": wrong}}]});
    let r = run(dir.path(), "mrz.yaml", &steps, &[]);
    assert!(
        r.out.contains("  action READ_MRZ (mrz) → TD3 not valid"),
        "{}",
        r.out
    );
    assert!(r.out.contains("  enter REJECTED"), "{}", r.out);
    // A canned response for it is a mistake in the steps file.
    let steps = json!({"steps": [], "actions": {"READ_MRZ": {"status": 200}}});
    let r = run(dir.path(), "mrz.yaml", &steps, &[]);
    assert_eq!(r.code, Some(2), "{}{}", r.out, r.err);
    assert!(
        r.err
            .contains("actions.READ_MRZ: action READ_MRZ is not an HTTP action"),
        "{}",
        r.err
    );
}
