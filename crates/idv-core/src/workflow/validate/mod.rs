//! Builds the typed [`Workflow`] from its JSON form, collecting every problem on the way (never
//! stopping at the first): shapes and types of fields, unique ids, references between steps,
//! rules, transformers, actions, files, normalizers and properties, statuses, operators,
//! JSONPath rules, JSON Schemas, scripts and template syntax.
//!
//! Unknown extra keys are allowed: Regula files carry client styling and more.
//!
//! This file holds the checker and its field readers; `sections` builds the id-keyed sections
//! other than steps, `steps` builds steps and events.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::Problem;
use super::load::{LineIndex, join};
use super::model::*;

mod sections;
mod steps;

type Obj = Map<String, Value>;

/// The ids declared in each section, for checking references before the sections are built.
#[derive(Default)]
struct Known {
    steps: HashSet<String>,
    rules: HashSet<String>,
    transformers: HashSet<String>,
    actions: HashSet<String>,
    files: HashSet<String>,
    normalizers: HashSet<String>,
    properties: HashSet<String>,
}

/// One entry of an id-keyed section (`steps[3]`), after its id checked out.
struct Entry<'v> {
    path: String,
    map: &'v Obj,
    id: String,
}

struct Checker<'l> {
    lines: Option<&'l LineIndex>,
    problems: Vec<Problem>,
    known: Known,
}

/// Validates `def` and builds the workflow; `lines` attaches source lines to problems.
pub(crate) fn build(def: Value, lines: Option<&LineIndex>) -> Result<Workflow, Vec<Problem>> {
    let mut c = Checker {
        lines,
        problems: Vec::new(),
        known: Known::default(),
    };
    let Some(root) = def.as_object() else {
        c.report("", "a workflow must be a mapping");
        return Err(c.problems);
    };
    let built = c.workflow(root);
    if !c.problems.is_empty() {
        // Source order reads best; problems without a line keep their discovery order.
        c.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        return Err(c.problems);
    }
    let parts = built.ok_or_else(|| vec![problem_without("", "the workflow is invalid")])?;
    Ok(parts.into_workflow(def))
}

fn problem_without(path: &str, message: &str) -> Problem {
    Problem {
        path: path.into(),
        line: None,
        message: message.into(),
    }
}

/// Everything but the definition, which moves in last.
struct Parts {
    id: String,
    name: String,
    description: Option<String>,
    version: Option<String>,
    default_locale: Option<String>,
    lifetime: Option<i64>,
    steps: Vec<Step>,
    properties: Vec<Property>,
    rules: HashMap<String, Rule>,
    transformers: HashMap<String, Transformer>,
    actions: HashMap<String, Action>,
    files: HashMap<String, FileSpec>,
    normalizers: HashMap<String, Normalizer>,
    events: Events,
}

impl Parts {
    fn into_workflow(self, definition: Value) -> Workflow {
        let step_index = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let property_index = self
            .properties
            .iter()
            .map(|p| (p.id.clone(), p.kind))
            .collect();
        Workflow {
            definition,
            id: self.id,
            name: self.name,
            description: self.description,
            version: self.version,
            default_locale: self.default_locale,
            lifetime: self.lifetime,
            steps: self.steps,
            step_index,
            properties: self.properties,
            property_index,
            rules: self.rules,
            transformers: self.transformers,
            actions: self.actions,
            files: self.files,
            normalizers: self.normalizers,
            events: self.events,
        }
    }
}

impl Checker<'_> {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        let line = self.lines.and_then(|l| l.line(path));
        self.problems.push(Problem {
            path: path.to_owned(),
            line,
            message: message.into(),
        });
    }

    fn workflow(&mut self, root: &Obj) -> Option<Parts> {
        let id = self.text(root, "id", "", true);
        let name = self.text(root, "name", "", true);
        let description = self.text(root, "description", "", false);
        let version = self.text(root, "version", "", false);
        let default_locale = self.text(root, "defaultLocale", "", false);
        let lifetime = self.int(root, "lifetime", "");

        // Ids first, so references can be checked whatever the order of sections.
        let steps = self.section(root, "steps", "step");
        let rules = self.section(root, "rules", "rule");
        let transformers = self.section(root, "transformers", "transformer");
        let actions = self.section(root, "actions", "action");
        let files = self.section(root, "files", "file");
        let normalizers = self.section(root, "normalizers", "normalizer");
        let properties = self.section(root, "properties", "property");
        let ids = |entries: &[Entry<'_>]| entries.iter().map(|e| e.id.clone()).collect();
        self.known = Known {
            steps: ids(&steps),
            rules: ids(&rules),
            transformers: ids(&transformers),
            actions: ids(&actions),
            files: ids(&files),
            normalizers: ids(&normalizers),
            properties: ids(&properties),
        };
        if root
            .get("steps")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            self.report("steps", "the workflow has no steps");
        }

        let properties: Vec<Property> =
            properties.iter().filter_map(|e| self.property(e)).collect();
        let files = by_id(files.iter().filter_map(|e| self.file(e)), |f: &FileSpec| {
            &f.id
        });
        let rules = by_id(rules.iter().filter_map(|e| self.rule(e)), |r: &Rule| &r.id);
        let transformers = by_id(
            transformers.iter().filter_map(|e| self.transformer(e)),
            |t| &t.id,
        );
        let actions = by_id(actions.iter().filter_map(|e| self.action(e)), |a| &a.id);
        let normalizers = by_id(normalizers.iter().filter_map(|e| self.normalizer(e)), |n| {
            &n.id
        });
        let steps: Vec<Step> = steps.iter().filter_map(|e| self.step(e)).collect();
        let events = self.events(root);

        Some(Parts {
            id: id?,
            name: name?,
            description,
            version,
            default_locale,
            lifetime,
            steps,
            properties,
            rules,
            transformers,
            actions,
            files,
            normalizers,
            events,
        })
    }

    // ---- field readers: each reports what is wrong and returns None / a default ----

    fn text(&mut self, m: &Obj, key: &str, path: &str, required: bool) -> Option<String> {
        let p = join(path, key);
        match m.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.report(&p, format!("missing `{key}`"));
                }
                None
            }
            Some(Value::String(s)) if required && s.trim().is_empty() => {
                self.report(&p, format!("`{key}` must not be empty"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
            Some(_) => {
                self.report(&p, format!("`{key}` must be text"));
                None
            }
        }
    }

    /// A bool (or `"true"`/`"false"`); absent is `default`.
    fn flag(&mut self, m: &Obj, key: &str, path: &str, default: bool) -> bool {
        match m.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                self.report(&join(path, key), format!("`{key}` must be true or false"));
                default
            }
        }
    }

    fn int(&mut self, m: &Obj, key: &str, path: &str) -> Option<i64> {
        let v = m.get(key).filter(|v| !v.is_null())?;
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.report(&join(path, key), format!("`{key}` must be a whole number"));
        }
        parsed
    }

    fn list<'v>(&mut self, m: &'v Obj, key: &str, path: &str) -> &'v [Value] {
        match m.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.report(&join(path, key), format!("`{key}` must be a list"));
                &[]
            }
        }
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Obj> {
        let m = v.as_object();
        if m.is_none() {
            self.report(path, "expected a mapping");
        }
        m
    }

    /// The entries of an id-keyed section; bad and duplicate ids are reported and skipped.
    fn section<'v>(&mut self, root: &'v Obj, key: &str, label: &str) -> Vec<Entry<'v>> {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for (i, item) in self.list(root, key, "").iter().enumerate() {
            let path = format!("{key}[{i}]");
            let Some(map) = self.object(item, &path) else {
                continue;
            };
            let Some(id) = self.text(map, "id", &path, true) else {
                continue;
            };
            if let Some(first) = seen.get(&id) {
                let msg = format!("duplicate {label} id `{id}` (first declared at {first})");
                self.report(&join(&path, "id"), msg);
                continue;
            }
            seen.insert(id.clone(), path.clone());
            out.push(Entry { path, map, id });
        }
        out
    }

    /// `[{id}]` (or bare ids) naming entries of another section.
    fn refs(
        &mut self,
        m: &Obj,
        key: &str,
        path: &str,
        known: fn(&Known) -> &HashSet<String>,
        label: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (i, item) in self.list(m, key, path).iter().enumerate() {
            let item_path = format!("{}[{i}]", join(path, key));
            let id = match item {
                Value::String(s) => Some(s.clone()),
                other => self
                    .object(other, &item_path)
                    .and_then(|r| self.text(r, "id", &item_path, true)),
            };
            let Some(id) = id else { continue };
            if !known(&self.known).contains(&id) {
                self.report(&join(&item_path, "id"), format!("unknown {label} `{id}`"));
            }
            out.push(id);
        }
        out
    }

    /// `[{id, decision}]` naming rules.
    fn rule_refs(&mut self, m: &Obj, key: &str, path: &str) -> Vec<RuleRef> {
        let mut out = Vec::new();
        for (i, item) in self.list(m, key, path).iter().enumerate() {
            let p = format!("{}[{i}]", join(path, key));
            let Some(r) = self.object(item, &p) else {
                continue;
            };
            let Some(id) = self.text(r, "id", &p, true) else {
                continue;
            };
            if !self.known.rules.contains(&id) {
                self.report(&join(&p, "id"), format!("unknown rule `{id}`"));
            }
            if r.get("decision").is_none_or(Value::is_null) {
                self.report(&join(&p, "decision"), "missing `decision`");
            }
            let decision = self.flag(r, "decision", &p, true);
            out.push(RuleRef { id, decision });
        }
        out
    }

    /// `{step, status?}` naming a step and a status name or number.
    fn transit(&mut self, v: &Value, path: &str) -> Option<Transit> {
        let m = self.object(v, path)?;
        let step = self.text(m, "step", path, true);
        if let Some(s) = &step
            && !self.known.steps.contains(s)
        {
            self.report(&join(path, "step"), format!("unknown step `{s}`"));
        }
        let status = match m.get("status") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                let parsed = crate::status::parse(&text);
                if parsed.is_none() {
                    self.report(
                        &join(path, "status"),
                        format!(
                            "unknown status `{text}` (expected not_completed, not_verified, \
                             verified, approved, pending, rejected or their numbers)"
                        ),
                    );
                }
                parsed
            }
        };
        Some(Transit {
            step: step?,
            status,
        })
    }
}

/// Collects built entries by id.
fn by_id<T>(items: impl Iterator<Item = T>, id: impl Fn(&T) -> &String) -> HashMap<String, T> {
    items.map(|t| (id(&t).clone(), t)).collect()
}
