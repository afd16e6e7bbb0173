//! `idv workflow lint FILE...`: checks workflow and translations files offline, without a
//! database, and prints one line per problem as `FILE:LINE: PATH: MESSAGE`.
//!
//! Errors are what loading refuses (`idv_core::workflow::load`). Warnings are things loading
//! accepts but that are almost certainly mistakes: a step nothing leads to, a step a session can
//! never leave, a condition that an earlier catch-all shadows, a rule nothing uses. They print as
//! `FILE:LINE: PATH: warning: MESSAGE` and fail the run only with `--deny-warnings`.
//!
//! Exit status: 0 when every file is fine, 1 when any has problems, 2 when any cannot be read.

use idv_core::workflow::{ActionKind, Loaded, Problem, TransformerKind, Workflow};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use yaml_rust2::parser::{Event, Parser};

/// Lints every file and prints the report on stdout.
pub fn run(files: &[PathBuf], deny_warnings: bool) -> ExitCode {
    let mut unreadable = false;
    let mut failed = false;
    for file in files {
        let shown = file.display().to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                println!("{shown}: cannot read: {e}");
                unreadable = true;
                continue;
            }
        };
        match idv_core::workflow::load(&text) {
            Err(problems) => {
                for p in &problems {
                    println!("{}", line(&shown, p, false));
                }
                failed = true;
            }
            Ok(Loaded::Translations(entries)) => {
                let mut codes: Vec<&str> = entries.iter().map(|e| e.code.as_str()).collect();
                codes.sort_unstable();
                codes.dedup();
                println!(
                    "{shown}: ok (translations, {} entries for {})",
                    entries.len(),
                    codes.join(", ")
                );
            }
            Ok(Loaded::Workflow(wf)) => {
                let lines = LineFinder::new(&text);
                let found = warnings(&wf);
                for (path, message) in &found {
                    let p = Problem {
                        line: lines.line(path),
                        path: path.clone(),
                        message: message.clone(),
                    };
                    println!("{}", line(&shown, &p, true));
                }
                if deny_warnings && !found.is_empty() {
                    failed = true;
                } else {
                    println!(
                        "{shown}: ok (workflow {} {}, {} steps{})",
                        wf.id(),
                        wf.name(),
                        wf.steps().len(),
                        match found.len() {
                            0 => String::new(),
                            1 => ", 1 warning".into(),
                            n => format!(", {n} warnings"),
                        }
                    );
                }
            }
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `FILE:LINE: PATH: MESSAGE`, leaving out what is unknown.
fn line(file: &str, p: &Problem, warning: bool) -> String {
    let mut out = file.to_string();
    if let Some(l) = p.line {
        out.push_str(&format!(":{l}"));
    }
    out.push_str(": ");
    if !p.path.is_empty() {
        out.push_str(&p.path);
        out.push_str(": ");
    }
    if warning {
        out.push_str("warning: ");
    }
    out.push_str(&p.message);
    out
}

/// What loading accepts but is almost certainly a mistake, as `(path, message)` in step order.
pub fn warnings(wf: &Workflow) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let steps = wf.steps();
    let mut reached: HashSet<&str> = HashSet::new();
    if let Some(first) = steps.first() {
        reached.insert(&first.id);
    }
    for t in [&wf.events().on_error, &wf.events().on_timeout]
        .into_iter()
        .flatten()
    {
        reached.insert(&t.step);
    }
    let mut used_rules: HashSet<&str> = HashSet::new();
    for step in steps {
        for c in &step.conditions {
            reached.insert(&c.transit.step);
            used_rules.extend(c.rules.iter().map(|r| r.id.as_str()));
        }
        if let Some(a) = &step.attempts {
            reached.insert(&a.transit.step);
        }
        for n in &step.normalizers {
            if let Some(n) = wf.normalizer(n) {
                used_rules.extend(n.rules.iter().map(|r| r.id.as_str()));
            }
        }
    }
    for (i, step) in steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        if !reached.contains(step.id.as_str()) {
            out.push((
                path.clone(),
                format!(
                    "step `{}` is never reached: no condition, attempts limit or event leads to it",
                    step.id
                ),
            ));
        }
        if !step.is_final && step.conditions.is_empty() && step.attempts.is_none() {
            out.push((
                path.clone(),
                format!(
                    "step `{}` is not final and has no conditions: a session that enters it \
                     never leaves",
                    step.id
                ),
            ));
        }
        // A condition without rules always matches; the ones after it never get a turn.
        if let Some(catch_all) = step.conditions.iter().position(|c| c.rules.is_empty())
            && catch_all + 1 < step.conditions.len()
        {
            for j in catch_all + 1..step.conditions.len() {
                out.push((
                    format!("{path}.conditions[{j}]"),
                    format!(
                        "condition `{}` is never evaluated: `{}` before it has no rules and \
                         always matches",
                        step.conditions[j].name, step.conditions[catch_all].name
                    ),
                ));
            }
        }
    }
    // Native actions make no call: what only an HTTP call uses does nothing there.
    let actions = wf.definition()["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, raw) in actions.iter().enumerate() {
        let Some(action) = raw["id"].as_str().and_then(|id| wf.action(id)) else {
            continue;
        };
        if action.kind == ActionKind::Http {
            continue;
        }
        let kind = action.kind.as_str();
        if action.retry.is_some() {
            out.push((
                format!("actions[{i}].retry"),
                format!(
                    "`retry` has no effect on action `{}`: a {kind} action makes no call that \
                     could fail and be tried again",
                    action.id
                ),
            ));
        }
        for (j, tid) in action.transformers.iter().enumerate() {
            if wf
                .transformer(tid)
                .is_some_and(|t| t.kind == TransformerKind::Binary)
            {
                out.push((
                    format!("actions[{i}].transformers[{j}]"),
                    format!(
                        "transformer `{tid}` is binary, but action `{}` ({kind}) answers JSON: \
                         use a json or easyjson transformer",
                        action.id
                    ),
                ));
            }
        }
    }
    let rules = wf.definition()["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let Some(id) = rule["id"].as_str() else {
            continue;
        };
        // Actions' `when` guards hold their predicates inline, so only ids matter here.
        if !used_rules.contains(id) {
            out.push((
                format!("rules[{i}]"),
                format!("rule `{id}` is never used by a condition or normalizer"),
            ));
        }
    }
    out
}

/// Lines of nodes by path (`steps[3].conditions[1]`), the convention of loading's problems: a
/// mapping entry is on its key's line, a list item on its first line. Only for documents that
/// already loaded, so within the loader's size and depth limits.
struct LineFinder {
    lines: HashMap<String, usize>,
}

impl LineFinder {
    fn new(text: &str) -> Self {
        let mut lines = HashMap::new();
        let mut parser = Parser::new_from_str(text);
        // Per open collection: its path, and the next item index (lists) or the pending key
        // (mappings: `None` while a key is expected).
        enum Open {
            List(String, usize),
            Map(String, Option<String>),
        }
        let mut stack: Vec<Open> = Vec::new();
        while let Ok((event, mark)) = parser.next_token() {
            // The path of the node this event starts, if it starts one.
            let here = match stack.last_mut() {
                None => Some(String::new()),
                Some(Open::List(path, next)) => {
                    let p = format!("{path}[{next}]");
                    lines.insert(p.clone(), mark.line());
                    *next += 1;
                    Some(p)
                }
                Some(Open::Map(path, key)) => match key.take() {
                    Some(k) => Some(if path.is_empty() {
                        k
                    } else {
                        format!("{path}.{k}")
                    }),
                    None => {
                        // This event is a key.
                        if let Event::Scalar(k, ..) = &event {
                            let p = if path.is_empty() {
                                k.clone()
                            } else {
                                format!("{path}.{k}")
                            };
                            lines.insert(p, mark.line());
                            *key = Some(k.clone());
                        }
                        None
                    }
                },
            };
            match event {
                Event::StreamEnd => break,
                Event::SequenceStart(..) => stack.push(Open::List(here.unwrap_or_default(), 0)),
                Event::MappingStart(..) => stack.push(Open::Map(here.unwrap_or_default(), None)),
                Event::SequenceEnd | Event::MappingEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        LineFinder { lines }
    }

    /// The line of `path` or of its nearest ancestor that has one.
    fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            p = &p[..p.rfind(['.', '['])?];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_loaders_convention() {
        let text = "id: x\nsteps:\n  - id: A\n    conditions:\n      - name: c\n        x: 1\n      \
                    - name: d\n  - id: B\nrules: [{id: r}]\n";
        let f = LineFinder::new(text);
        assert_eq!(f.line("id"), Some(1));
        assert_eq!(f.line("steps"), Some(2));
        assert_eq!(f.line("steps[0]"), Some(3));
        assert_eq!(f.line("steps[0].conditions[0]"), Some(5));
        assert_eq!(f.line("steps[0].conditions[1]"), Some(7));
        assert_eq!(f.line("steps[1]"), Some(8));
        assert_eq!(f.line("steps[1].missing"), Some(8));
        assert_eq!(f.line("rules[0]"), Some(9));
    }

    #[test]
    fn warnings_name_what_is_wrong() {
        let text = r#"
id: w
name: W
steps:
  - id: A
    type: DATA
    conditions:
      - {name: always, transit: {step: C}, rules: []}
      - {name: shadowed, transit: {step: C}, rules: [{id: used, decision: true}]}
  - id: ORPHAN
    type: DATA
    final: true
  - id: C
    type: DATA
rules:
  - {id: used, condition: {type: script, script: "1 == 1"}}
  - {id: unused, condition: {type: script, script: "1 == 1"}}
"#;
        let Ok(Loaded::Workflow(wf)) = idv_core::workflow::load(text) else {
            panic!("loads")
        };
        let found: Vec<String> = warnings(&wf)
            .into_iter()
            .map(|(p, m)| format!("{p}: {m}"))
            .collect();
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("steps[0].conditions[1]: condition `shadowed`"));
        assert!(found[1].starts_with("steps[1]: step `ORPHAN` is never reached"));
        assert!(found[2].starts_with("steps[2]: step `C` is not final"));
        // `used` counts as used even though its condition is shadowed.
        assert!(found[3].starts_with("rules[1]: rule `unused` is never used"));
    }

    #[test]
    fn native_actions_warn_about_what_only_http_uses() {
        let text = r#"
id: w
name: W
properties:
  - {id: MRZ_TEXT, type: str}
  - {id: PHOTO, type: binary}
steps:
  - id: A
    type: DATA
    final: true
    actions: [{id: READ}, {id: CALL}]
transformers:
  - {id: AS_FILE, type: binary, extracts: [{id: PHOTO}]}
actions:
  - {id: READ, type: mrz, options: {mrz: "{{ MRZ_TEXT }}"}, retry: {count: 2},
     transformers: [{id: AS_FILE}]}
  - {id: CALL, type: http, options: {url: "http://x"}, retry: {count: 2},
     transformers: [{id: AS_FILE}]}
"#;
        let Ok(Loaded::Workflow(wf)) = idv_core::workflow::load(text) else {
            panic!("loads")
        };
        let found: Vec<String> = warnings(&wf)
            .into_iter()
            .map(|(p, m)| format!("{p}: {m}"))
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with("actions[0].retry: `retry` has no effect on action `READ`"));
        assert!(
            found[1].starts_with("actions[0].transformers[0]: transformer `AS_FILE` is binary")
        );
    }
}
