//! The `mrz` action: loading and its problems, and a run through the engine where a form step
//! takes an MRZ, the action reads it natively with the clock's date, its JSON result goes
//! through a `json` transformer into properties and is stored as the action's file.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::{lines, problems_of};
use crate::workflow::engine::*;
use crate::workflow::*;

pub(super) const WORKFLOW: &str = r#"
id: 0b6d2f0e-5a8c-4f39-9d1e-6a2b4c8e0f11
name: MRZ check
steps:
  - id: ENTER_MRZ
    name: Type the MRZ
    type: DATA
    fileId: mrz_form
    transformers: [{id: FORM_T}]
    actions: [{id: READ_MRZ}]
    conditions:
      - name: Adult with a valid document
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: mrz_ok, decision: true}]
      - name: Expired document
        transit: {step: EXPIRED, status: NOT_VERIFIED}
        rules: [{id: expired_rule, decision: true}]
      - name: Anything else
        transit: {step: REJECTED, status: NOT_VERIFIED}
        rules: []
  - {id: DONE, name: DONE, type: DATA, final: true}
  - {id: EXPIRED, name: EXPIRED, type: DATA, final: true}
  - {id: REJECTED, name: REJECTED, type: DATA, final: true}
properties:
  - {id: MRZ_TEXT, type: str}
  - {id: DOCUMENT_NUMBER, type: str}
  - {id: AGE, type: int}
  - {id: MRZ_VALID, type: bool}
  - {id: EXPIRED, type: bool}
  - {id: MRZ_ERROR, type: str}
transformers:
  - id: FORM_T
    type: json
    extracts: [{id: MRZ_TEXT, rule: $.mrz}]
  - id: MRZ_T
    type: json
    extracts:
      - {id: DOCUMENT_NUMBER, rule: $.documentNumber}
      - {id: AGE, rule: $.age}
      - {id: MRZ_VALID, rule: $.valid}
      - {id: EXPIRED, rule: $.expired}
      - {id: MRZ_ERROR, rule: $.error.code}
actions:
  - id: READ_MRZ
    name: Read the MRZ
    type: mrz
    fileId: mrz_result
    transformers: [{id: MRZ_T}]
    options:
      mrz: "{{ MRZ_TEXT }}"
rules:
  - id: mrz_ok
    name: Valid, not expired, adult
    condition: {type: script, script: "MRZ_VALID == true and EXPIRED == false and AGE >= 18"}
  - id: expired_rule
    name: Valid but expired
    condition: {type: script, script: "MRZ_VALID == true and EXPIRED == true"}
files:
  - id: mrz_form
    type: UNKNOWN
    contentType: application/json
    jsonSchema: '{"type": "object", "properties": {"mrz": {"type": "string"}}, "required": ["mrz"]}'
  - id: mrz_result
    type: UNKNOWN
    contentType: application/json
"#;

fn workflow() -> Workflow {
    match load(WORKFLOW) {
        Ok(Loaded::Workflow(w)) => *w,
        Ok(Loaded::Translations(_)) => panic!("read as translations"),
        Err(problems) => panic!("{}", lines(&problems)),
    }
}

/// Effects without any service: an HTTP call fails the test; files are kept in memory.
struct NoServices {
    now_ms: i64,
    calls: usize,
    stored: Vec<NewFile>,
}

impl Effects for NoServices {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }
    async fn call(
        &mut self,
        action: &str,
        _request: &RenderedRequest,
    ) -> Result<ActionResponse, CallError> {
        self.calls += 1;
        Err(CallError {
            message: format!("{action} made an HTTP call"),
            retryable: false,
        })
    }
    async fn load_file(&mut self, file_id: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {file_id}"))
    }
    async fn store_file(&mut self, file: NewFile) -> Result<String, String> {
        self.stored.push(file);
        Ok(format!("file-{}", self.stored.len()))
    }
    fn enqueue(&mut self, _step: &str, _action: &str, _visit: usize) {}
    async fn sleep(&mut self, _d: Duration) {}
}

/// Runs a future that never waits (the effects above answer at once) to its end.
fn finish<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the engine waited with effects that never wait"),
    }
}

fn ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn yymmdd(d: NaiveDate) -> String {
    d.format("%y%m%d").to_string()
}

fn cd(s: &str) -> char {
    idv_mrz::check_digit(s).unwrap()
}

/// A TD3 passport MRZ (Utopia, Eriksson) with these fields and correct check digits.
pub(super) fn passport(number: &str, birth: NaiveDate, expiry: NaiveDate) -> String {
    let number = format!("{number:<<9}");
    let (b, e) = (yymmdd(birth), yymmdd(expiry));
    let personal = "ZE184226B<<<<<";
    let mut l2 = format!(
        "{number}{}UTO{b}{}F{e}{}{personal}{}",
        cd(&number),
        cd(&b),
        cd(&e),
        cd(personal)
    );
    let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
    l2.push(cd(&composite));
    format!("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n{l2}")
}

/// Submits `mrz` to a new session on `today` (noon UTC); answers the session and the effects.
fn submit(wf: &Workflow, mrz: &str, today: NaiveDate) -> (Run, NoServices) {
    let mut fx = NoServices {
        now_ms: ms(today),
        calls: 0,
        stored: Vec::new(),
    };
    let mut run = Run {
        properties: Map::new(),
        current_step: "ENTER_MRZ".into(),
        status: 0,
        ended: false,
        steps: Vec::new(),
        engine: Map::new(),
        expires_at: None,
    };
    let scope = TemplateScope::default();
    finish(Engine::new(wf, &scope, &mut fx).submit(&mut run, "ENTER_MRZ", &json!({"mrz": mrz})))
        .unwrap();
    assert_eq!(fx.calls, 0, "an mrz action makes no HTTP call");
    (run, fx)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn the_action_loads_as_mrz() {
    let wf = workflow();
    let action = wf.action("READ_MRZ").unwrap();
    assert_eq!(action.kind, ActionKind::Mrz);
    assert_eq!(action.kind.as_str(), "mrz");
    assert_eq!(action.options, json!({"mrz": "{{ MRZ_TEXT }}"}));
}

#[test]
fn a_typed_mrz_fills_properties_and_decides_the_status() {
    let wf = workflow();
    let today = day(2026, 12, 6);
    let mrz = passport("L898902C3", day(1974, 8, 12), day(2030, 4, 15));
    let (run, fx) = submit(&wf, &mrz, today);
    assert_eq!((run.current_step.as_str(), run.status), ("DONE", 2));
    assert_eq!(run.properties["DOCUMENT_NUMBER"], "L898902C3");
    assert_eq!(run.properties["AGE"], 52);
    assert_eq!(run.properties["MRZ_VALID"], true);
    assert_eq!(run.properties["EXPIRED"], false);
    assert_eq!(run.properties["READ_MRZ_completed"], true);
    assert!(run.properties.get("MRZ_ERROR").is_none());
    // The JSON result is stored as the action's file, under the file's content type.
    assert_eq!(fx.stored.len(), 1);
    let file = &fx.stored[0];
    assert_eq!(
        (file.name.as_str(), file.content_type.as_str()),
        ("mrz_result", "application/json")
    );
    let body: Value = serde_json::from_slice(&file.bytes).unwrap();
    assert_eq!(body["format"], "TD3");
    assert_eq!(body["birthDate"], "1974-08-12");
    assert_eq!(body["expiryDate"], "2030-04-15");
    assert_eq!(body["validNotExpired"], true);
    assert_eq!(run.engine["actionFiles"]["READ_MRZ"], "file-1");
}

#[test]
fn expired_wrong_and_unreadable_mrzs_take_other_ways() {
    let wf = workflow();
    let today = day(2026, 12, 6);
    // Expired yesterday: valid, but expired.
    let mrz = passport("L898902C3", day(1974, 8, 12), day(2026, 12, 5));
    let (run, _) = submit(&wf, &mrz, today);
    assert_eq!((run.current_step.as_str(), run.status), ("EXPIRED", 1));
    assert_eq!(run.properties["MRZ_VALID"], true);
    assert_eq!(run.properties["EXPIRED"], true);
    // Expiring today is still valid.
    let mrz = passport("L898902C3", day(1974, 8, 12), today);
    let (run, _) = submit(&wf, &mrz, today);
    assert_eq!(run.current_step, "DONE");
    // A wrong check digit (the document number's: 6 → 7).
    let good = passport("L898902C3", day(1974, 8, 12), day(2030, 4, 15));
    let bad = good.replacen("L898902C36", "L898902C37", 1);
    let (run, fx) = submit(&wf, &bad, today);
    assert_eq!((run.current_step.as_str(), run.status), ("REJECTED", 1));
    assert_eq!(run.properties["MRZ_VALID"], false);
    assert_eq!(run.properties["DOCUMENT_NUMBER"], "L898902C3");
    let body: Value = serde_json::from_slice(&fx.stored[0].bytes).unwrap();
    assert_eq!(body["checks"]["documentNumber"], false);
    assert_eq!(body["checks"]["composite"], false);
    assert_eq!(body["checks"]["birthDate"], true);
    // Not an MRZ at all: the error body's code reaches a property; no data does.
    let (run, fx) = submit(&wf, "P<UTOERIKSSON<<ANNA", today);
    assert_eq!((run.current_step.as_str(), run.status), ("REJECTED", 1));
    assert_eq!(run.properties["MRZ_VALID"], false);
    assert_eq!(run.properties["MRZ_ERROR"], "unknown_format");
    assert!(run.properties.get("DOCUMENT_NUMBER").is_none());
    let body: Value = serde_json::from_slice(&fx.stored[0].bytes).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 line(s) of length [19]"),
        "{body}"
    );
    // A minor with a valid document.
    let mrz = passport("X1234567", day(2010, 1, 1), day(2030, 1, 1));
    let (run, _) = submit(&wf, &mrz, today);
    assert_eq!(run.properties["AGE"], 16);
    assert_eq!(run.current_step, "REJECTED");
}

#[test]
fn the_age_follows_the_clock() {
    let wf = workflow();
    // 18 tomorrow (7 December 2008): the date comes from the engine's clock, not the system's.
    let mrz = passport("L898902C3", day(2008, 12, 7), day(2030, 1, 1));
    let (run, _) = submit(&wf, &mrz, day(2026, 12, 6));
    assert_eq!(run.properties["AGE"], 17);
    assert_eq!(run.current_step, "REJECTED");
    let (run, _) = submit(&wf, &mrz, day(2026, 12, 7));
    assert_eq!(run.properties["AGE"], 18);
    assert_eq!(run.current_step, "DONE");
    // Years resolve against the clock too: on a clock in 2001, a birth in "081207" is 1908.
    let (run, _) = submit(&wf, &mrz, day(2001, 1, 1));
    assert_eq!(run.properties["AGE"], 92);
}

#[test]
fn load_problems_of_mrz_actions() {
    let cases = [
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "    options:\n      text: \"{{ MRZ_TEXT }}\"\n",
            // In line order: the missing key is reported on its mapping's line.
            vec![
                "actions[0].options.mrz: missing `mrz`: the MRZ text to read",
                "actions[0].options.text: unknown option `text` of an mrz action (it takes only `mrz`",
            ],
        ),
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n      url: http://x\n",
            vec!["actions[0].options.url: unknown option `url` of an mrz action"],
        ),
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "",
            vec!["actions[0].options: an mrz action needs `options` with `mrz`"],
        ),
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "    options:\n      mrz: [1, 2]\n",
            vec!["actions[0].options.mrz: `mrz` must be text"],
        ),
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "    options:\n      mrz: \"  \"\n",
            vec!["actions[0].options.mrz: `mrz` must not be empty"],
        ),
        (
            "    options:\n      mrz: \"{{ MRZ_TEXT }}\"\n",
            "    options:\n      mrz: \"{{ MRZ_TEXT \"\n",
            vec!["actions[0].options.mrz:"],
        ),
        (
            "    type: mrz\n",
            "    type: ocr\n",
            vec!["actions[0].type: unknown action type `ocr` (expected http or mrz)"],
        ),
    ];
    for (from, to, expected) in cases {
        let text = super::replace_once(WORKFLOW, from, to);
        let problems = problems_of(&text);
        let found: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        assert_eq!(found.len(), expected.len(), "{to:?}: {found:#?}");
        for (f, e) in found.iter().zip(&expected) {
            assert!(f.starts_with(e), "{to:?}: `{f}` does not start with `{e}`");
        }
        // Every problem has its line.
        assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
    }
    // The type is case-insensitive, like step types.
    let text = super::replace_once(WORKFLOW, "    type: mrz\n", "    type: MRZ\n");
    assert!(load(&text).is_ok());
}
