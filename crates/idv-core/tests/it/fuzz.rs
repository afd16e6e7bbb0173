//! Property tests: no panic and no unbounded work on any input, through the public API only.
//!
//! - the rule evaluator: random statements (known and unknown operators, values of every JSON
//!   type) and random scripts, loaded as a workflow and evaluated against random properties;
//! - the template renderer: random template soups in a step's `client`, rendered;
//! - the YAML loader: random bytes, YAML-ish soups, deep nesting and alias bombs.
//!
//! "Bounded" is asserted through the documented limits (a script over 1024 bytes or 64 levels
//! deep, a template using loops or `~`, a document expanding past its node or byte limit is
//! refused), never through wall-clock time. Case counts keep the file well under a minute in an
//! unoptimised build.

use std::collections::HashMap;

use idv_core::workflow::{Loaded, RenderContext, Workflow, load};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

/// `n` cases; a failure prints its minimal input rather than saving it beside the sources.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- strategies

/// Any JSON value, a few levels deep, with the strings that comparisons treat specially.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "true", "TRUE", "false", "18", " 18 ", "0.8", "1e400", "-0", "NaN", "inf", "", "null",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Ea-e]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const NAMES: &[&str] = &["A", "B", "AGE", "CONTINUE", "X_completed"];

/// Random session properties over a few names.
fn properties() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::sample::select(NAMES), json_value(), 0..5)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

const CLAUSE_OPS: &[&str] = &[
    "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists",
];
const LOGIC_OPS: &[&str] = &["$and", "$or"];

/// An operator: mostly known ones, sometimes something else.
fn op(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(known).prop_map(str::to_string),
        1 => prop::sample::select(vec!["$regex", "$and", "eq", "", "$EQ", "$where"])
            .prop_map(str::to_string),
        1 => "\\PC{0,6}",
    ]
}

fn clause() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(NAMES),
        op(CLAUSE_OPS),
        prop::option::of(json_value()),
    )
        .prop_map(|(property, op, value)| {
            let mut c = json!({"property": property, "op": op});
            if let Some(v) = value {
                c["value"] = v;
            }
            c
        })
}

fn statement() -> impl Strategy<Value = Value> {
    let group = (op(LOGIC_OPS), prop::collection::vec(clause(), 0..4))
        .prop_map(|(op, conditions)| json!({"op": op, "conditions": conditions}));
    (op(LOGIC_OPS), prop::collection::vec(group, 0..4))
        .prop_map(|(op, groups)| json!({"type": "statement", "op": op, "groups": groups}))
}

/// Scripts: pieces of the language (and some that are not) in any order.
fn script_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "(",
        ")",
        "and",
        "or",
        "not",
        "!",
        "&&",
        "||",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "-",
        "1",
        "0",
        "1.5",
        "2.5e1",
        "1e308",
        "1e999",
        ".",
        "1.2.3",
        "99999999999999999999999",
        "9223372036854775807",
        "'str'",
        "\"q\\\"\"",
        "'",
        "A",
        "AGE",
        "CONTINUE",
        "true",
        "null",
        "None",
        "False",
        " ",
        "=",
        "&",
        "|",
        "f(1)",
        ";",
        "é",
    ]);
    prop::collection::vec(token, 1..24).prop_map(|t| t.join(" "))
}

fn any_script() -> impl Strategy<Value = String> {
    prop_oneof![3 => script_soup(), 1 => "\\PC{0,40}"]
}

/// A workflow whose step A moves to B when rule `r` is `decision`; `rule` is the rule's
/// `condition` (and optionally `precondition`).
fn workflow_with_rule(condition: Value, precondition: Option<Value>, decision: bool) -> Value {
    let mut rule = json!({"id": "r", "condition": condition});
    if let Some(p) = precondition {
        rule["precondition"] = p;
    }
    json!({
        "id": "00000000-0000-0000-0000-000000000001",
        "name": "fuzz",
        "steps": [
            {"id": "A", "type": "DATA", "conditions": [
                {"name": "go", "transit": {"step": "B"}, "rules": [{"id": "r", "decision": decision}]}
            ]},
            {"id": "B", "type": "DATA", "final": true}
        ],
        "rules": [rule]
    })
}

fn uses_only_known_ops(statement: &Value) -> bool {
    let logic = |v: &Value| v["op"].as_str().is_some_and(|o| LOGIC_OPS.contains(&o));
    logic(statement)
        && statement["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|g| {
                logic(g)
                    && g["conditions"].as_array().into_iter().flatten().all(|c| {
                        let op = c["op"].as_str().unwrap_or("");
                        CLAUSE_OPS.contains(&op)
                            && (op == "$exists" || c.get("value").is_some())
                            && (!matches!(op, "$in" | "$nin") || c["value"].is_array())
                    })
            })
}

/// Loads `def` and evaluates step A's conditions; `None` when the workflow was refused.
fn evaluate(def: Value, props: &Map<String, Value>) -> Option<Option<String>> {
    match Workflow::from_definition(def) {
        Ok(wf) => {
            let step = wf.step("A").expect("step A");
            Some(wf.evaluate_conditions(step, props).map(|t| t.step))
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|p| !p.message.is_empty()));
            None
        }
    }
}

// ---------------------------------------------------------------- the rule evaluator

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn statements_load_exactly_when_their_operators_are_known(
        condition in statement(),
        precondition in prop::option::of(statement()),
        decision in any::<bool>(),
        props in properties(),
    ) {
        let known = uses_only_known_ops(&condition)
            && precondition.as_ref().is_none_or(uses_only_known_ops);
        let outcome = evaluate(workflow_with_rule(condition, precondition, decision), &props);
        prop_assert_eq!(outcome.is_some(), known);
        if let Some(Some(step)) = outcome {
            prop_assert_eq!(step, "B");
        }
    }

    #[test]
    fn scripts_never_panic(
        script in any_script(),
        decision in any::<bool>(),
        props in properties(),
    ) {
        let condition = json!({"type": "script", "script": script});
        let outcome = evaluate(workflow_with_rule(condition, None, decision), &props);
        if script.len() > 1024 {
            prop_assert!(outcome.is_none(), "over the length limit: {script}");
        }
        if let Some(Some(step)) = outcome {
            prop_assert_eq!(step, "B");
        }
    }

    #[test]
    fn script_nesting_is_refused_past_its_limit(depth in 0usize..200, negations in any::<bool>()) {
        let script = if negations {
            format!("{}A", "not ".repeat(depth))
        } else {
            format!("{}A == 1{}", "(".repeat(depth), ")".repeat(depth))
        };
        let condition = json!({"type": "script", "script": script});
        let outcome = evaluate(workflow_with_rule(condition, None, true), &Map::new());
        prop_assert_eq!(outcome.is_some(), depth <= 64 && script.len() <= 1024, "{}", script);
    }

    #[test]
    fn chains_up_to_the_length_limit_evaluate(n in 1usize..400, or in any::<bool>()) {
        // The longest flat expressions the limit allows: left-nested, evaluated recursively.
        let join = if or { " || " } else { " && " };
        let script = vec!["A"; n].join(join);
        let condition = json!({"type": "script", "script": script});
        let props: Map<String, Value> = [("A".to_string(), json!(true))].into_iter().collect();
        let outcome = evaluate(workflow_with_rule(condition, None, true), &props);
        if script.len() <= 1024 {
            prop_assert_eq!(outcome, Some(Some("B".to_string())));
        } else {
            prop_assert!(outcome.is_none());
        }
    }
}

// ---------------------------------------------------------------- the template renderer

/// Template pieces, including every way to loop, recurse, repeat or call.
fn template_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "-",
        "+",
        " ",
        "for",
        "i",
        "in",
        "range(10**9)",
        "range(100000)",
        "endfor",
        "macro",
        "m()",
        "endmacro",
        "set",
        "=",
        "~",
        "*",
        "**",
        "x",
        "'a'",
        "\"b\"",
        "'",
        "\"",
        "|",
        "upper",
        "length",
        "tojson",
        "center(1000000000)",
        "replace('', 'xx')",
        "join",
        "if",
        "elif",
        "else",
        "endif",
        "1000000000",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "A",
        "B",
        "locale.K",
        "config.baseUrl",
        "session.locale",
        "raw",
        "endraw",
        "with",
        "lipsum(100)",
        "namespace()",
        "loop",
        ".",
        "is",
        "defined",
        "not",
        "and",
        "or",
        "==",
        "+ 1",
        "\\",
        "default('z')",
    ]);
    prop::collection::vec(token, 1..30).prop_map(|t| t.concat())
}

fn any_template() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => template_soup(),
        1 => "\\PC{0,40}".prop_map(|s| format!("{{{{{s}}}}}")),
        1 => "\\PC{0,40}".prop_map(|s| format!("{{%{s}%}}")),
    ]
}

fn workflow_with_client(client: Value) -> Value {
    json!({
        "id": "00000000-0000-0000-0000-000000000002",
        "name": "fuzz",
        "steps": [{"id": "A", "type": "DATA", "client": client}]
    })
}

/// Renders step A's client with `props`; `None` when the workflow was refused.
fn render(def: Value, props: &Map<String, Value>) -> Option<Result<Value, String>> {
    let wf = Workflow::from_definition(def).ok()?;
    let locale: HashMap<String, String> = [("K".to_string(), "Hello".to_string())].into();
    let config = json!({"baseUrl": "http://localhost:8000"});
    let session = json!({"locale": "en-us"});
    let ctx = RenderContext {
        locale: &locale,
        config: &config,
        session: &session,
        properties: props,
    };
    let step = wf.step("A").expect("step A");
    Some(
        wf.render_client(step, &ctx)
            .map(|v| v.expect("a client"))
            .map_err(|e| e.message),
    )
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn templates_never_panic_and_output_stays_linear(
        template in any_template(),
        props in properties(),
    ) {
        let forbidden = ["~", "*", "for", "macro", "set", "range", "lipsum", "center", "replace"];
        let def = workflow_with_client(json!({"text": template, "list": [template]}));
        if let Some(rendered) = render(def, &props) {
            // Nothing that loops, grows or calls got past validation inside a tag (tags holding
            // quotes are skipped: a word inside a string literal is only text).
            for tag in tags(&template) {
                if tag.contains(['\'', '"', '\\']) {
                    continue;
                }
                // Whole words only: `offset` is a fine variable name, `set` is a statement.
                let words: Vec<&str> = tag
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .collect();
                for word in forbidden {
                    let found = if word.len() == 1 {
                        tag.contains(word)
                    } else {
                        words.contains(&word)
                    };
                    prop_assert!(!found, "{} passed in {}", word, template);
                }
            }
            if let Ok(out) = rendered {
                let data = serde_json::to_string(&props).unwrap().len() + 64;
                let text = out["text"].as_str().unwrap_or("");
                prop_assert!(text.len() <= template.len() * 8 * data, "{} bytes", text.len());
                prop_assert_eq!(&out["list"][0], &out["text"]);
            }
        }
    }
}

/// The tag bodies of a template (between `{{`/`{%` and the next `}}`/`%}`), as a reader sees
/// them, for the assertion above.
fn tags(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            Some(b'#') => {
                rest = after.find("#}").map_or("", |end| &after[end + 2..]);
                continue;
            }
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let end = body.find(close).unwrap_or(body.len());
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

#[test]
fn templates_doing_unbounded_work_are_refused_at_load() {
    for template in [
        "{% for i in range(1000000000) %}x{% endfor %}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
        "{% macro d(s, n) %}{{ d(s ~ s, n - 1) }}{% endmacro %}{{ d('x', 60) }}",
        "{{ 'x' * 100000000 }}",
        "{% set a = 'xx' %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}",
        "{{ A | center(1000000000000) }}",
        "{{ lipsum(1000000) }}",
        "{{ namespace(a=1) }}",
    ] {
        let problems = Workflow::from_definition(workflow_with_client(json!({"t": template})))
            .err()
            .unwrap_or_else(|| panic!("{template} loaded"));
        assert!(
            problems
                .iter()
                .any(|p| p.path == "steps[0].client.t" && p.message.contains("template error")),
            "{template}: {problems:?}"
        );
    }
}

#[test]
fn long_templates_run_out_of_fuel_rather_than_run_on() {
    // Within the subset but long: at least 2 steps per tag, 100,000 steps of fuel.
    let template = "{{ A }}".repeat(60_000);
    let rendered = render(workflow_with_client(json!({"t": template})), &Map::new())
        .expect("the subset allows it");
    let err = rendered.unwrap_err();
    assert!(err.contains("too much work"), "{err}");
}

// ---------------------------------------------------------------- the YAML loader

fn yaml_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "[",
        "]",
        "{",
        "}",
        ":",
        ": ",
        ",",
        "- ",
        " ",
        "\n",
        "\n  ",
        "\n    ",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "a",
        "id",
        "steps",
        "'x'",
        "\"y\"",
        "? ",
        "!!str ",
        "!!binary ",
        "!custom ",
        "---",
        "...",
        "|",
        ">",
        "#",
        "\t",
        "%YAML 1.2\n",
        "0x1F",
        ".inf",
        "~",
        "@",
        "`",
        "\\",
        "\"",
        "'",
    ]);
    prop::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

/// `load` returns; a refusal carries at least one problem, each with a message.
fn loads_or_explains(text: &str) -> Result<Loaded, Vec<idv_core::workflow::Problem>> {
    let result = load(text);
    if let Err(problems) = &result {
        assert!(!problems.is_empty(), "{text:?}");
        assert!(problems.iter().all(|p| !p.message.is_empty()));
    }
    result
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = loads_or_explains(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_soups_never_panic(text in yaml_soup()) {
        let _ = loads_or_explains(&text);
    }

    #[test]
    fn workflow_shaped_soups_never_panic(
        steps in prop::collection::vec(json_value(), 0..4),
        rules in json_value(),
        extra in yaml_soup(),
    ) {
        // A JSON document (valid YAML) with random sections, then the same with noise after it.
        let doc = json!({"id": "x", "name": "n", "steps": steps, "rules": rules}).to_string();
        let _ = loads_or_explains(&doc);
        let _ = loads_or_explains(&format!("{doc}\n{extra}"));
    }
}

proptest! {
    #![proptest_config(cases(40))]

    #[test]
    fn deep_nesting_is_refused_past_the_limit(depth in 1usize..2000, mapping in any::<bool>()) {
        let text = if mapping {
            format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))
        } else {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        };
        let result = loads_or_explains(&text);
        let too_deep = result
            .as_ref()
            .err()
            .is_some_and(|p| p[0].message.contains("nested too deeply"));
        prop_assert_eq!(too_deep, depth > 128);
    }

    #[test]
    fn alias_bombs_are_refused(fan_out in 2usize..12, levels in 1usize..10) {
        // a0 holds fan_out scalars; each level repeats the previous one fan_out times.
        let items = |s: &str| vec![s; fan_out].join(", ");
        let mut text = format!("a0: &a0 [{}]\n", items("x"));
        for i in 1..=levels {
            text.push_str(&format!("a{i}: &a{i} [{}]\n", items(&format!("*a{}", i - 1))));
        }
        let expanded: f64 = (1..=levels + 1).map(|l| (fan_out as f64).powi(l as i32)).sum();
        let result = loads_or_explains(&text);
        let too_large = result
            .as_ref()
            .err()
            .is_some_and(|p| p[0].message.contains("too large"));
        if expanded > 1_100_000.0 {
            prop_assert!(too_large);
        } else if expanded * 3.0 < 1_000_000.0 {
            prop_assert!(!too_large);
        }
    }

}

proptest! {
    // Each case copies up to 64 MiB.
    #![proptest_config(cases(12))]

    #[test]
    fn string_bombs_are_refused(kib in 64usize..512, copies in 1usize..400) {
        let long = "x".repeat(kib * 1024);
        let text = format!("s: &s {long}\nl: [{}]\n", vec!["*s"; copies].join(", "));
        let result = loads_or_explains(&text);
        let too_large = result
            .as_ref()
            .err()
            .is_some_and(|p| p[0].message.contains("too large"));
        if (copies + 1) * kib > 65 * 1024 {
            prop_assert!(too_large);
        } else if (copies + 1) * kib < 63 * 1024 {
            prop_assert!(!too_large);
        }
    }
}
