//! The workflow model and engine: a Regula workflow YAML (or its JSON form) becomes a validated,
//! typed [`Workflow`]; step data is checked against the step's JSON Schema, turned into typed
//! properties by the step's transformers, and the step's conditions pick the next step.
//!
//! - `load`: YAML → JSON with a path → line index, so every [`Problem`] names its line.
//! - `validate`: builds the typed model from JSON and collects every problem (never the first).
//! - `rules` / `script`: the rule evaluator (statements and the tiny safe script language).
//! - `transform`: JSONPath extraction and coercion to the declared property types.
//! - `template`: rendering a step's `client` descriptor with minijinja.
//! - `locale`: translation files and the locale fallback chain.

mod action;
mod easyjson;
pub mod engine;
mod load;
mod locale;
mod model;
mod rules;
mod script;
mod template;
mod transform;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

pub use action::{ActionContext, DEFAULT_TIMEOUT, RenderedRequest};
pub use locale::{locale_chain, translations_for};
pub use model::{
    Action, ActionKind, Attempts, Clause, Condition, Events, Extract, ExtractRule, FileSpec, Group,
    Logic, MatchOperator, Normalizer, Operator, Predicate, Property, PropertyType, Rule, RuleRef,
    Script, Statement, Step, StepAction, StepKind, Transformer, TransformerKind, Transit, Workflow,
};

/// One thing wrong with a workflow or translations document.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Where in the document, e.g. `steps[3].conditions[0].transit.step` (`""` for the root).
    pub path: String,
    /// 1-based line in the source text, when the document came from text.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// A client error carrying every problem: the message names the first and how many more; the
/// details hold them all (`[{path, line, message}]`). `code` is `InvalidWorkflow` or
/// `InvalidTranslations`.
pub fn problems_error(code: crate::ErrorCode, problems: &[Problem]) -> crate::Error {
    let message = match problems {
        [] => "the document is invalid".to_owned(),
        [only] => only.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more problems)", rest.len()),
    };
    let details = serde_json::to_value(problems).unwrap_or(Value::Null);
    crate::Error::new(code, message).with_details(details)
}

/// One localized string: `key` in locale `code` (lower-cased, e.g. `en-us`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationEntry {
    pub key: String,
    pub code: String,
    pub value: String,
}

/// What [`load`] recognised the document as.
#[derive(Debug)]
pub enum Loaded {
    Workflow(Box<Workflow>),
    Translations(Vec<TranslationEntry>),
}

/// Parses a YAML document (JSON is accepted too: it is YAML) and recognises it by shape: a
/// top-level sequence (of `{key, code, value}` mappings) is a translations file; a mapping is a
/// workflow. On failure returns every problem found, each with its path and its line in `text`.
pub fn load(text: &str) -> Result<Loaded, Vec<Problem>> {
    let doc = load::parse(text).map_err(|p| vec![p])?;
    match &doc.value {
        Value::Array(_) => {
            let result = locale::parse_translations(&doc.value, Some(&doc.lines));
            match (result, doc.problems.is_empty()) {
                (Ok(entries), true) => Ok(Loaded::Translations(entries)),
                (Ok(_), false) => Err(doc.problems),
                (Err(mut problems), _) => {
                    problems.splice(0..0, doc.problems);
                    Err(problems)
                }
            }
        }
        Value::Object(_) => {
            let load::Document {
                value,
                lines,
                problems: parse_problems,
            } = doc;
            match (
                validate::build(value, Some(&lines)),
                parse_problems.is_empty(),
            ) {
                (Ok(workflow), true) => Ok(Loaded::Workflow(Box::new(workflow))),
                (Ok(_), false) => Err(parse_problems),
                (Err(mut problems), _) => {
                    problems.splice(0..0, parse_problems);
                    Err(problems)
                }
            }
        }
        _ => Err(vec![Problem {
            path: String::new(),
            line: Some(1),
            message: "expected a workflow (a mapping with `steps`) or translations (a list of \
                      {key, code, value})"
                .into(),
        }]),
    }
}

/// Where a step goes next, and the session status it sets, chosen by the named condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub step: String,
    pub status: Option<i64>,
    /// The name of the condition that matched.
    pub condition: String,
}

/// The result of submitting data to a step.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitOutcome {
    /// The full new property map.
    pub properties: Map<String, Value>,
    /// `None` when no condition matched (the session stays on the step).
    pub transition: Option<Transition>,
}

/// One JSON Schema violation in submitted step data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Violation {
    /// JSON pointer into the submitted data (`""` for the root, `/continue`).
    pub path: String,
    pub message: String,
}

/// Why submitted step data could not be turned into properties.
#[derive(Debug)]
pub enum SubmitError {
    /// A value could not be coerced to its property's declared type.
    Coercion { property: String, message: String },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Coercion { property, message } => {
                write!(f, "property `{property}`: {message}")
            }
        }
    }
}

impl std::error::Error for SubmitError {}

impl From<SubmitError> for crate::Error {
    fn from(e: SubmitError) -> Self {
        let details = match &e {
            SubmitError::Coercion { property, .. } => serde_json::json!({ "property": property }),
        };
        crate::Error::new(crate::ErrorCode::StepFailed, e.to_string()).with_details(details)
    }
}

/// What running one transformer over an action's response gives
/// ([`Workflow::run_transformer`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TransformOutcome {
    /// Property updates: only the properties that received a value, already coerced.
    Properties(Map<String, Value>),
    /// A `binary` transformer: store the whole response body as one file and set each of these
    /// (binary) properties to its file id.
    StoreBinary(Vec<String>),
    /// The transformer does not exist, or has a type this server does not run.
    Skipped { reason: String },
}

/// What a step's `client` templates can see.
pub struct RenderContext<'a> {
    /// Translations for the session's locale (already resolved along the fallback chain).
    pub locale: &'a HashMap<String, String>,
    /// The platform config as JSON (`baseUrl`, `services.docreader.prefix` …).
    pub config: &'a Value,
    /// The session as JSON (`locale` …).
    pub session: &'a Value,
    /// The session's properties, visible as bare names.
    pub properties: &'a Map<String, Value>,
}

impl Workflow {
    /// Builds and validates a workflow from a stored JSON definition (problems have no line).
    pub fn from_definition(def: Value) -> Result<Workflow, Vec<Problem>> {
        validate::build(def, None)
    }

    /// The JSON Schema of the data a step takes (its file's `jsonSchema`), as written.
    pub fn step_schema(&self, step: &Step) -> Option<&Value> {
        step.file_id
            .as_deref()
            .and_then(|id| self.file(id))
            .and_then(|f| f.schema.as_deref())
    }

    /// Validates `data` against the JSON Schema of the step's file, if it has one.
    pub fn validate_step_data(&self, step: &Step, data: &Value) -> Result<(), Vec<Violation>> {
        let Some(validator) = step
            .file_id
            .as_deref()
            .and_then(|id| self.file(id))
            .and_then(|f| f.json_schema.as_deref())
        else {
            return Ok(());
        };
        let violations: Vec<Violation> = validator
            .iter_errors(data)
            .map(|e| Violation {
                path: e.instance_path.to_string(),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Runs the step's `json` transformers over `data`, merges the extracted values (coerced to
    /// their declared types) into a copy of `properties`, then evaluates the step's conditions.
    pub fn submit(
        &self,
        step: &Step,
        data: &Value,
        properties: &Map<String, Value>,
    ) -> Result<SubmitOutcome, SubmitError> {
        let properties = transform::apply_step_transformers(self, step, data, properties)?;
        let transition = self.evaluate_conditions(step, &properties);
        Ok(SubmitOutcome {
            properties,
            transition,
        })
    }

    /// Evaluates the step's conditions in order; the first that matches gives the transition.
    pub fn evaluate_conditions(
        &self,
        step: &Step,
        properties: &Map<String, Value>,
    ) -> Option<Transition> {
        rules::first_matching(self, step, properties)
    }

    /// The transition forced by the `attempts` limit of `step`, the step a transition is about
    /// to enter, given how many submissions of `step` this session has already completed.
    ///
    /// The rule (Regula: "after `count` entries into or submissions of this step, force that
    /// transition"): a step may be submitted `count` times. Each submission is handled normally
    /// (its own conditions decide, so a successful last try still moves on). When a transition
    /// would enter `step` again once `completed_submissions >= count`, the session goes to
    /// `attempts.transit` instead. Example: DOC_READER has `count: 3`; after three scans that
    /// led to ERROR_DOC, the way back into DOC_READER leads to KYC_FAILED. The caller applies
    /// the check to the target of every transition, including a step's own loop back to itself,
    /// and again to a forced target that has its own limit. `None`: no limit or not reached.
    pub(crate) fn attempts_exceeded(
        &self,
        step: &Step,
        completed_submissions: usize,
    ) -> Option<Transition> {
        let attempts = step.attempts.as_ref()?;
        let count = usize::try_from(attempts.count).unwrap_or(usize::MAX);
        (completed_submissions >= count).then(|| Transition {
            step: attempts.transit.step.clone(),
            status: attempts.transit.status,
            condition: format!("{}.attempts", step.id),
        })
    }

    /// Renders the workflow's own waiting screen, the `PROGRESS` entry of `client.steps` (what
    /// Regula's SDKs show while the server works), or `None` when the workflow has none.
    pub fn render_progress(&self, ctx: &RenderContext<'_>) -> Result<Option<Value>, crate::Error> {
        let found = self
            .definition
            .pointer("/client/steps")
            .and_then(Value::as_array)
            .and_then(|all| {
                all.iter()
                    .find(|s| s.get("templateId").and_then(Value::as_str) == Some("PROGRESS"))
            });
        match found {
            None => Ok(None),
            Some(client) => template::render(client, ctx, "client.steps.PROGRESS").map(Some),
        }
    }

    /// Renders the step's `client` descriptor (`None` when the step has none).
    pub fn render_client(
        &self,
        step: &Step,
        ctx: &RenderContext<'_>,
    ) -> Result<Option<Value>, crate::Error> {
        match &step.client {
            None => Ok(None),
            Some(client) => {
                template::render(client, ctx, &format!("steps.{}.client", step.id)).map(Some)
            }
        }
    }
}
