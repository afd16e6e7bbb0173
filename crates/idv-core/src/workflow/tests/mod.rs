//! Workflow tests against Regula's real `general_kyc.yaml` and broken copies of it: loading and
//! validation here, submitting and rendering in `runtime`. Regula's files are not part of the
//! repository: they are read from the folder named by `IDV_REGULA_DIR` (the test command sets
//! it when they sit beside the checkout), and without it those tests say they were skipped.
//! The project's own example workflows (`examples/`) are loaded here too.

mod actions;
mod mrz;
mod runtime;

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::*;

/// The folder holding Regula's files, when `IDV_REGULA_DIR` names one.
fn regula_dir() -> Option<String> {
    std::env::var("IDV_REGULA_DIR")
        .ok()
        .filter(|d| !d.is_empty())
}

fn regula_file(name: &str) -> String {
    let dir = regula_dir().expect("IDV_REGULA_DIR is set (checked by regula_or_skip!)");
    std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
}

/// Returns from the calling test, saying so, when Regula's files are not at hand.
macro_rules! regula_or_skip {
    () => {
        if crate::workflow::tests::regula_dir().is_none() {
            eprintln!(
                "{}: skipped, IDV_REGULA_DIR does not name Regula's workflow folder",
                module_path!()
            );
            return;
        }
    };
}
use regula_or_skip;

/// Regula's General KYC workflow.
static KYC: LazyLock<String> = LazyLock::new(|| regula_file("general_kyc.yaml"));
/// Its translations.
static KYC_LOCALE: LazyLock<String> = LazyLock::new(|| regula_file("general_kyc_locale.yaml"));

/// The project's own example workflows and their translations.
const EXAMPLES: [(&str, &str, &str); 2] = [
    (
        "examples/kyc",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/kyc/workflow.yaml"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/kyc/locale.yaml"
        )),
    ),
    (
        "examples/age_gate",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/age_gate/workflow.yaml"
        )),
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/age_gate/locale.yaml"
        )),
    ),
];

fn kyc() -> Workflow {
    match load(&KYC) {
        Ok(Loaded::Workflow(w)) => *w,
        Ok(Loaded::Translations(_)) => panic!("general_kyc.yaml read as translations"),
        Err(problems) => panic!("general_kyc.yaml: {}", lines(&problems)),
    }
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

fn problems_of(text: &str) -> Vec<Problem> {
    match load(text) {
        Ok(_) => panic!("expected problems"),
        Err(p) => p,
    }
}

fn props(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// 1-based line of the first occurrence of `needle`, plus `offset` lines into it.
fn line_of(text: &str, needle: &str, offset: usize) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in text"));
    text[..at].matches('\n').count() + 1 + offset
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` not in text");
    text.replacen(from, to, 1)
}

#[test]
fn project_examples_load_with_their_translations() {
    for (name, workflow, locale) in EXAMPLES {
        let w = match load(workflow) {
            Ok(Loaded::Workflow(w)) => *w,
            Ok(Loaded::Translations(_)) => panic!("{name}: workflow read as translations"),
            Err(problems) => panic!("{name}: {}", lines(&problems)),
        };
        let Ok(Loaded::Translations(entries)) = load(locale) else {
            panic!("{name}: locale.yaml is not a translations file");
        };
        // Every locale the workflow offers has every `locale.KEY` it uses.
        let codes: Vec<&str> = w.definition()["locales"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["code"].as_str().unwrap())
            .collect();
        assert!(codes.len() >= 2, "{name}: {codes:?}");
        let used: std::collections::BTreeSet<&str> = workflow
            .match_indices("locale.")
            .map(|(at, _)| {
                let rest = &workflow[at + "locale.".len()..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..len]
            })
            .filter(|key| key.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        assert!(!used.is_empty(), "{name}");
        for code in &codes {
            for key in &used {
                assert!(
                    entries.iter().any(|e| e.key == *key && e.code == *code),
                    "{name}: no {code} text for {key}"
                );
            }
        }
        assert!(w.steps().iter().any(|s| s.is_final), "{name}");
    }
    let kyc = match load(EXAMPLES[0].1) {
        Ok(Loaded::Workflow(w)) => *w,
        _ => unreachable!("loaded above"),
    };
    assert_eq!(kyc.first_step().id, "ONBOARDING");
    assert_eq!(kyc.property_type("SELFIE"), Some(PropertyType::Binary));
    assert_eq!(kyc.property_type("AGE"), Some(PropertyType::Int));
    assert_eq!(
        kyc.step("DOCUMENT_CHECK").unwrap().kind,
        StepKind::Processing
    );
}

#[test]
fn general_kyc_loads_with_its_model() {
    regula_or_skip!();
    let w = kyc();
    assert_eq!(w.id(), "edda0192-b890-11ef-a348-17da751a6a22");
    assert_eq!(w.name(), "General KYC");
    assert_eq!(w.version(), Some("latest"));
    assert_eq!(w.description(), Some("General KYC demo flow"));
    assert_eq!(w.default_locale(), Some("en-us"));
    assert_eq!(w.lifetime(), Some(1000));
    assert_eq!(w.first_step().id, "ONBOARDING");
    assert_eq!(w.steps().len(), 16);
    assert_eq!(w.property_type("AGE"), Some(PropertyType::Int));
    assert_eq!(w.property_type("CONTINUE"), Some(PropertyType::Bool));
    assert_eq!(
        w.property_type("LIVENESS_DOC_SIMILARITY"),
        Some(PropertyType::Decimal)
    );
    assert_eq!(
        w.property_type("DOC_PHOTO").map(PropertyType::as_str),
        Some("binary")
    );
    assert_eq!(w.property_type("NOPE"), None);

    let onboarding = w.step("ONBOARDING").unwrap();
    assert_eq!(onboarding.kind, StepKind::Data);
    assert_eq!(onboarding.file_id.as_deref(), Some("is_continue_file"));
    assert!(!onboarding.is_final && !onboarding.cancel_lifetime_timer);
    assert_eq!(
        onboarding.conditions[1].transit,
        Transit {
            step: "ABORT".into(),
            status: Some(0)
        }
    );

    let checks = w.step("PERFORM_CHECKS").unwrap();
    assert_eq!(checks.kind.as_str(), "PROCESSING");
    assert_eq!(checks.conditions[1].operator, MatchOperator::Any);
    assert_eq!(checks.normalizers, ["liveness", "face_match", "document"]);
    assert!(w.step("KYC_COMPLETED").unwrap().is_final);
    assert!(w.step("ERROR").unwrap().client.is_none());

    let doc_reader = w.step("DOC_READER").unwrap();
    let asyncs: Vec<bool> = doc_reader.actions.iter().map(|a| a.is_async).collect();
    assert_eq!(asyncs, [false, true, true]);
    let attempts = doc_reader.attempts.as_ref().unwrap();
    assert_eq!((attempts.count, attempts.transit.status), (3, Some(1)));

    assert_eq!(
        w.events().on_error,
        Some(Transit {
            step: "ERROR".into(),
            status: Some(1)
        })
    );
    assert_eq!(
        w.events().on_timeout,
        Some(Transit {
            step: "ABORT".into(),
            status: Some(0)
        })
    );
    assert_eq!(
        w.transformer("GET_DOC_READER_RESULTS").unwrap().kind,
        TransformerKind::EasyJson
    );
    let action = w.action("MATCH_DOC_AND_LIVENESS").unwrap();
    assert_eq!(action.file_id.as_deref(), Some("match_doc_and_liveness"));
    assert!(action.when.is_some());
    assert_eq!(w.normalizer("document").unwrap().rules.len(), 3);
    assert!(w.file("liveness").unwrap().json_schema.is_some());
    assert!(w.file("liveness_status").unwrap().json_schema.is_none());
    assert!(matches!(
        w.rule("constant_true_rule").unwrap().condition,
        Predicate::Script(_)
    ));
    assert_eq!(w.definition()["steps"][0]["id"], "ONBOARDING");
}

#[test]
fn workflow_is_shareable_and_rebuilds_from_its_definition() {
    regula_or_skip!();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Workflow>();
    let w = kyc();
    let again = Workflow::from_definition(w.definition().clone()).unwrap();
    assert_eq!(again.steps().len(), w.steps().len());

    let mut broken = w.definition().clone();
    broken["steps"][0]["conditions"][0]["transit"]["step"] = json!("NOPE");
    let problems = Workflow::from_definition(broken).unwrap_err();
    assert_eq!(problems.len(), 1, "{}", lines(&problems));
    assert_eq!(problems[0].path, "steps[0].conditions[0].transit.step");
    assert_eq!(problems[0].line, None);
    assert_eq!(
        problems[0].to_string(),
        "steps[0].conditions[0].transit.step: unknown step `NOPE`"
    );
}

#[test]
fn broken_copy_reports_every_problem_with_path_and_line() {
    regula_or_skip!();
    let w = kyc();
    let index = |id: &str| w.steps().iter().position(|s| s.id == id).unwrap();
    let mut text = KYC.to_owned();
    // 1. A transit to a step that does not exist (ONBOARDING's first condition).
    text = replace_once(
        &text,
        "          step: PREPARE_DOCUMENT\n",
        "          step: NOPE\n",
    );
    // 2. A duplicate step id: ERROR becomes a second ABORT, so events.onError dangles too.
    text = replace_once(
        &text,
        "  - id: ERROR\n    name: ERROR\n",
        "  - id: ABORT\n    name: ERROR\n",
    );
    // 3. A bad property type.
    text = replace_once(
        &text,
        "  - id: AGE\n    type: int\n",
        "  - id: AGE\n    type: integer\n",
    );
    // 4. A condition naming an unknown rule (PERFORM_CHECKS, "All Good").
    text = replace_once(
        &text,
        "          - id: valid_age\n            decision: true\n",
        "          - id: valid_agee\n            decision: true\n",
    );
    // 5. An unknown status, 6. an unknown operator, 7. a bad JSONPath, 8. a schema that is not JSON.
    text = replace_once(
        &text,
        "        step: KYC_FAILED\n        status: NOT_VERIFIED\n",
        "        step: KYC_FAILED\n        status: DONE\n",
    );
    text = replace_once(
        &text,
        "              op: $gte\n              value: 18\n",
        "              op: $atleast\n              value: 18\n",
    );
    text = replace_once(&text, "        rule: $..cancel\n", "        rule: $..[\n");
    text = replace_once(
        &text,
        "        \"$schema\": \"http://json-schema.org/draft-04/schema#\",\n        \"type\": \"object\",\n        \"properties\": {\n          \"continue\": {\n            \"type\": \"boolean\"\n          }\n        },\n        \"required\": [\n          \"continue\"\n        ]",
        "        \"type\": \"object\",,",
    );

    let problems = problems_of(&text);
    let got: Vec<(String, Option<usize>)> =
        problems.iter().map(|p| (p.path.clone(), p.line)).collect();
    let error_step = index("ERROR");
    let expect = vec![
        (
            "steps[0].conditions[0].transit.step".to_owned(),
            line_of(&text, "step: NOPE", 0),
        ),
        (
            "steps[1].attempts.transit.status".to_owned(),
            line_of(&text, "status: DONE", 0),
        ),
        (
            format!(
                "steps[{}].conditions[0].rules[2].id",
                index("PERFORM_CHECKS")
            ),
            line_of(&text, "id: valid_agee", 0),
        ),
        (
            format!("steps[{error_step}].id"),
            line_of(&text, "  - id: ABORT\n    name: ERROR", 0),
        ),
        (
            "rules[8].condition.groups[0].conditions[0].op".to_owned(),
            line_of(&text, "op: $atleast", 0),
        ),
        (
            "events.onError.transit.step".to_owned(),
            line_of(&text, "      step: ERROR\n      status: not_verified", 0),
        ),
        (
            "properties[13].type".to_owned(),
            line_of(&text, "type: integer", 0),
        ),
        (
            "transformers[9].extracts[0].rule".to_owned(),
            line_of(&text, "rule: $..[", 0),
        ),
        (
            "files[2].jsonSchema".to_owned(),
            line_of(&text, "  - id: is_continue_file", 3),
        ),
    ];
    let expect: Vec<(String, Option<usize>)> =
        expect.into_iter().map(|(p, l)| (p, Some(l))).collect();
    assert_eq!(got, expect, "{}", lines(&problems));
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages[0], "unknown step `NOPE`");
    assert!(messages[1].starts_with("unknown status `DONE`"));
    assert_eq!(messages[2], "unknown rule `valid_agee`");
    assert!(messages[3].starts_with("duplicate step id `ABORT`"));
    assert!(messages[4].starts_with("unknown operator `$atleast`"));
    assert_eq!(messages[5], "unknown step `ERROR`");
    assert!(messages[6].starts_with("unknown property type `integer`"));
    assert!(messages[7].starts_with("invalid JSONPath `$..[`"));
    assert!(messages[8].starts_with("`jsonSchema` is not valid JSON"));
    let shown = problems[0].to_string();
    assert_eq!(
        shown,
        format!(
            "line {}: steps[0].conditions[0].transit.step: unknown step `NOPE`",
            expect[0].1.unwrap()
        )
    );
}

#[test]
fn reference_problems_in_steps_and_sections() {
    regula_or_skip!();
    let w = kyc();
    let index = |id: &str| w.steps().iter().position(|s| s.id == id).unwrap();
    let mut text = KYC.to_owned();
    text = replace_once(
        &text,
        "    transformers:\n      - id: CONTINUE_TRANSFORMER\n",
        "    transformers:\n      - id: NO_TRANSFORMER\n",
    );
    text = replace_once(&text, "    fileId: doc_reader\n", "    fileId: no_file\n");
    text = replace_once(&text, "    type: PROCESSING\n", "    type: BATCH\n");
    text = replace_once(
        &text,
        "      - id: DOCREADER_SCENARIO\n      - id: GET_DOCREADER",
        "      - id: NO_ACTION\n      - id: GET_DOCREADER",
    );
    text = replace_once(&text, "      script: 1 == 1\n", "      script: 1 === 1\n");
    text = replace_once(
        &text,
        "      - id: CANCEL\n        rule: $..cancel\n",
        "      - id: CANCELLED\n        rule: $..cancel\n",
    );
    text = replace_once(
        &text,
        "      - id: document\n    attempts:",
        "      - id: documents\n    attempts:",
    );
    let problems = problems_of(&text);
    let got: Vec<(String, Option<usize>)> =
        problems.iter().map(|p| (p.path.clone(), p.line)).collect();
    let doc_reader = index("DOC_READER");
    let expect = vec![
        (
            "steps[0].transformers[0].id".to_owned(),
            line_of(&text, "- id: NO_TRANSFORMER", 0),
        ),
        (
            format!("steps[{doc_reader}].fileId"),
            line_of(&text, "fileId: no_file", 0),
        ),
        (
            format!("steps[{doc_reader}].actions[0].id"),
            line_of(&text, "- id: NO_ACTION", 0),
        ),
        (
            format!("steps[{doc_reader}].normalizers[0].id"),
            line_of(&text, "- id: documents", 0),
        ),
        (
            format!("steps[{}].type", index("PERFORM_DATA_EXTRACTION")),
            line_of(&text, "type: BATCH", 0),
        ),
        (
            "rules[1].condition.script".to_owned(),
            line_of(&text, "script: 1 === 1", 0),
        ),
        (
            "transformers[9].extracts[0].id".to_owned(),
            line_of(&text, "- id: CANCELLED", 0),
        ),
    ];
    let expect: Vec<_> = expect.into_iter().map(|(p, l)| (p, Some(l))).collect();
    assert_eq!(got, expect, "{}", lines(&problems));
}

#[test]
fn structural_problems_are_reported_together() {
    let problems = problems_of("description: nothing here\nrules:\n  - name: no id\n");
    let got: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("id", "missing `id`"),
            ("name", "missing `name`"),
            ("steps", "the workflow has no steps"),
            ("rules[0].id", "missing `id`"),
        ]
    );
    assert_eq!(problems[3].line, Some(3));
    let problems = problems_of("id: x\nname: y\nsteps: []\nsteps: [1]\n");
    assert!(
        problems
            .iter()
            .any(|p| p.message == "duplicate key `steps`" && p.line == Some(4))
    );
    assert!(
        problems_of("42\n")[0]
            .message
            .starts_with("expected a workflow")
    );
}

const MINI: &str = r#"{
  "id": "w1", "name": "Mini",
  "steps": [
    {"id": "A", "type": "DATA", "fileId": "f", "transformers": [{"id": "T"}],
     "conditions": [
       {"name": "go", "transit": {"step": "B", "status": 2}, "rules": [{"id": "r", "decision": true}]},
       {"name": "fallback", "transit": {"step": "B"}}
     ]},
    {"id": "B", "type": "DATA", "final": true}
  ],
  "rules": [{"id": "r", "condition": {"type": "script", "script": "N > 2 && (S == 'x' || not F)"}}],
  "properties": [{"id": "N", "type": "int"}, {"id": "S", "type": "str"}, {"id": "F", "type": "bool"}],
  "transformers": [{"id": "T", "type": "json", "extracts": [
    {"id": "N", "rule": "$.n"}, {"id": "S", "rule": "$..s"}, {"id": "F", "rule": "$.f"}]}],
  "files": [{"id": "f", "jsonSchema": "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"dependentRequired\": {\"a\": [\"b\"]}}"}]
}"#;

#[test]
fn json_workflows_load_and_scripts_decide() {
    let Ok(Loaded::Workflow(w)) = load(MINI) else {
        panic!("MINI did not load")
    };
    let a = w.step("A").unwrap();
    let out = w
        .submit(a, &json!({"n": "3", "s": 5, "f": "TRUE"}), &Map::new())
        .unwrap();
    assert_eq!(out.properties, props(json!({"N": 3, "S": "5", "F": true})));
    assert_eq!(
        out.transition,
        Some(Transition {
            step: "B".into(),
            status: None,
            condition: "fallback".into()
        })
    );
    let out = w
        .submit(a, &json!({"n": 3, "s": "x", "f": true}), &Map::new())
        .unwrap();
    let t = out.transition.unwrap();
    assert_eq!((t.condition.as_str(), t.status), ("go", Some(2)));
    // Later drafts are honoured: `dependentRequired` is a 2019-09+ keyword.
    assert!(w.validate_step_data(a, &json!({"a": 1, "b": 2})).is_ok());
    let v = w.validate_step_data(a, &json!({"a": 1})).unwrap_err();
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains('b'), "{}", v[0].message);
    // A step without a file accepts anything.
    assert!(
        w.validate_step_data(w.step("B").unwrap(), &json!([1, 2]))
            .is_ok()
    );
}

#[test]
fn bad_schemas_are_problems() {
    let bad = MINI.replace(
        r#"\"dependentRequired\": {\"a\": [\"b\"]}"#,
        r#"\"type\": 12"#,
    );
    let problems = problems_of(&bad);
    assert_eq!(problems.len(), 1, "{}", lines(&problems));
    assert_eq!(problems[0].path, "files[0].jsonSchema");
    assert!(
        problems[0].message.contains("not a valid schema"),
        "{}",
        problems[0].message
    );
}

#[test]
fn problem_display() {
    let p = Problem {
        path: "steps[3].id".into(),
        line: Some(12),
        message: "duplicate".into(),
    };
    assert_eq!(p.to_string(), "line 12: steps[3].id: duplicate");
    let p = Problem {
        path: String::new(),
        line: None,
        message: "empty".into(),
    };
    assert_eq!(p.to_string(), "empty");
    assert_eq!(
        serde_json::to_value(&p).unwrap(),
        json!({"path": "", "line": null, "message": "empty"})
    );

    regula_or_skip!();
    let text = KYC.replacen(
        "          step: PREPARE_DOCUMENT\n",
        "          step: NOPE\n",
        1,
    );
    let problems = problems_of(&text.replacen("    type: int\n", "    type: long\n", 1));
    let err = problems_error(crate::ErrorCode::InvalidWorkflow, &problems);
    assert_eq!(err.code.http_status(), 400);
    assert!(
        err.message
            .ends_with("unknown step `NOPE` (and 1 more problems)"),
        "{}",
        err.message
    );
    let details = err.details.unwrap();
    assert_eq!(details[1]["path"], "properties[4].type");
    assert!(details[1]["line"].is_u64());
}

#[test]
fn truncated_and_misshapen_documents_never_panic() {
    // Cutting a real file anywhere gives a workflow, problems, or a syntax error: never a
    // panic. The project's examples always; Regula's General KYC when it is at hand.
    let mut texts: Vec<&str> = EXAMPLES.iter().map(|(_, workflow, _)| *workflow).collect();
    if regula_dir().is_some() {
        texts.push(&KYC);
    } else {
        eprintln!(
            "truncated_and_misshapen_documents_never_panic: General KYC skipped, IDV_REGULA_DIR does not name Regula's workflow folder"
        );
    }
    for text in texts {
        let step = text.len() / 40;
        for cut in (1..text.len()).step_by(step) {
            if let Ok(Loaded::Workflow(w)) = load(&text[..cut]) {
                assert!(!w.steps().is_empty());
            }
        }
    }
    let garbage = json!({
        "id": [], "name": {}, "steps": "many", "rules": {"a": 1}, "properties": [1, null],
        "transformers": [{"id": "T", "type": "json", "extracts": "x"}], "events": 3,
        "files": [{"id": "f", "jsonSchema": 5}], "normalizers": [{"id": "n", "rules": [{}]}],
        "actions": [{"id": "a", "when": {"type": "magic"}, "transformers": [7]}]
    });
    let problems = Workflow::from_definition(garbage).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "id",
        "name",
        "steps",
        "rules",
        "properties[0]",
        "properties[1]",
        "events",
        "transformers[0].extracts",
        "files[0].jsonSchema",
        "normalizers[0].type",
        "normalizers[0].rules[0].id",
        "actions[0].when.type",
        "actions[0].transformers[0]",
    ] {
        assert!(
            paths.contains(&expected),
            "no problem at {expected}: {}",
            lines(&problems)
        );
    }
}
