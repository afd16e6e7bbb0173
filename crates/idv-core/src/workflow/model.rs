//! The typed workflow model. Built only by `validate::build`, so every reference in it (step,
//! rule, transformer, action, file, normalizer, property) is known to resolve.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use serde_json_path::JsonPath;

use super::script::Expr;

/// A validated workflow. Cheap to share: the server keeps it in an `Arc`.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub(crate) definition: Value,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) default_locale: Option<String>,
    pub(crate) lifetime: Option<i64>,
    pub(crate) steps: Vec<Step>,
    pub(crate) step_index: HashMap<String, usize>,
    pub(crate) properties: Vec<Property>,
    pub(crate) property_index: HashMap<String, PropertyType>,
    pub(crate) rules: HashMap<String, Rule>,
    pub(crate) transformers: HashMap<String, Transformer>,
    pub(crate) actions: HashMap<String, Action>,
    pub(crate) files: HashMap<String, FileSpec>,
    pub(crate) normalizers: HashMap<String, Normalizer>,
    pub(crate) events: Events,
}

impl Workflow {
    /// The whole document as JSON, exactly as loaded.
    pub fn definition(&self) -> &Value {
        &self.definition
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    pub fn default_locale(&self) -> Option<&str> {
        self.default_locale.as_deref()
    }
    /// Session lifetime from the workflow's `lifetime` (Regula's unit: seconds).
    pub fn lifetime(&self) -> Option<i64> {
        self.lifetime
    }
    /// The step a new session starts on. Validation guarantees there is one.
    pub fn first_step(&self) -> &Step {
        &self.steps[0]
    }
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.step_index.get(id).and_then(|i| self.steps.get(*i))
    }
    pub fn properties(&self) -> &[Property] {
        &self.properties
    }
    pub fn property_type(&self, id: &str) -> Option<PropertyType> {
        self.property_index.get(id).copied()
    }
    /// Whether any property is binary (holds a file id).
    pub fn has_binary_properties(&self) -> bool {
        self.property_index
            .values()
            .any(|t| *t == PropertyType::Binary)
    }
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id)
    }
    pub fn transformer(&self, id: &str) -> Option<&Transformer> {
        self.transformers.get(id)
    }
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.get(id)
    }
    pub fn file(&self, id: &str) -> Option<&FileSpec> {
        self.files.get(id)
    }
    pub fn normalizer(&self, id: &str) -> Option<&Normalizer> {
        self.normalizers.get(id)
    }
    /// Global transitions on error and on lifetime timeout.
    pub fn events(&self) -> &Events {
        &self.events
    }
}

/// `DATA` steps wait for the client; `PROCESSING` steps run on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Data,
    Processing,
}

impl StepKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepKind::Data => "DATA",
            StepKind::Processing => "PROCESSING",
        }
    }

    /// Case-insensitive, as a hand-written file might say `data`.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "DATA" => Some(StepKind::Data),
            "PROCESSING" => Some(StepKind::Processing),
            _ => None,
        }
    }
}

/// A property's declared type (`properties[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    Str,
    Int,
    Bool,
    Decimal,
    Binary,
}

impl PropertyType {
    pub const fn as_str(self) -> &'static str {
        match self {
            PropertyType::Str => "str",
            PropertyType::Int => "int",
            PropertyType::Bool => "bool",
            PropertyType::Decimal => "decimal",
            PropertyType::Binary => "binary",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "str" => Some(PropertyType::Str),
            "int" => Some(PropertyType::Int),
            "bool" => Some(PropertyType::Bool),
            "decimal" => Some(PropertyType::Decimal),
            "binary" => Some(PropertyType::Binary),
            _ => None,
        }
    }
}

/// A declared property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub id: String,
    pub kind: PropertyType,
}

/// A step of the workflow.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub kind: StepKind,
    pub is_final: bool,
    /// The `files[]` entry the submitted data is stored as and validated against.
    pub file_id: Option<String>,
    pub(crate) cancel_lifetime_timer: bool,
    /// The raw, unrendered UI descriptor.
    pub client: Option<Value>,
    /// Transformer ids run over the submitted data.
    pub transformers: Vec<String>,
    pub actions: Vec<StepAction>,
    pub conditions: Vec<Condition>,
    /// Normalizer ids.
    pub normalizers: Vec<String>,
    pub attempts: Option<Attempts>,
}

/// A step's reference to an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAction {
    pub id: String,
    /// `async: true`: runs in the background.
    pub(crate) is_async: bool,
}

/// A transition target: `transit: {step, status?}`; the status is already a Regula integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transit {
    pub step: String,
    pub status: Option<i64>,
}

/// After `count` attempts at a step, force `transit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    pub count: u32,
    pub transit: Transit,
}

/// One ordered transition of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The condition's `name`; `conditions[i]` when the file gives none.
    pub name: String,
    pub transit: Transit,
    pub operator: MatchOperator,
    pub rules: Vec<RuleRef>,
}

/// How a condition combines its rule entries. With no entries, `All` matches and `Any` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOperator {
    All,
    Any,
}

/// `{id, decision}`: matches when the rule is applicable and evaluates to `decision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub id: String,
    pub decision: bool,
}

/// A named predicate over properties. When the precondition is false the rule is not
/// applicable: it matches neither decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub precondition: Option<Predicate>,
    pub condition: Predicate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Statement(Statement),
    Script(Script),
}

/// `{op, groups: [{op, conditions: [...]}]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub op: Logic,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub op: Logic,
    pub conditions: Vec<Clause>,
}

/// `$and` / `$or`. Over nothing, `$and` is true and `$or` false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    And,
    Or,
}

/// `{property, op, value?}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub property: String,
    pub op: Operator,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    In,
    Nin,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
}

impl Operator {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "$eq" => Operator::Eq,
            "$ne" => Operator::Ne,
            "$in" => Operator::In,
            "$nin" => Operator::Nin,
            "$gt" => Operator::Gt,
            "$gte" => Operator::Gte,
            "$lt" => Operator::Lt,
            "$lte" => Operator::Lte,
            "$exists" => Operator::Exists,
            _ => return None,
        })
    }
}

/// A `type: script` condition, parsed once at load.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub source: String,
    pub(crate) expr: Expr,
}

/// Extracts values into properties.
#[derive(Debug, Clone)]
pub struct Transformer {
    pub id: String,
    pub name: String,
    pub kind: TransformerKind,
    pub extracts: Vec<Extract>,
}

/// `json` runs over step data; `easyjson` and `binary` belong to HTTP action responses. Other
/// types are kept (a newer file may carry them) and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformerKind {
    Json,
    EasyJson,
    Binary,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Extract {
    /// The declared property the value goes into.
    pub property: String,
    pub rule: ExtractRule,
}

#[derive(Debug, Clone)]
pub enum ExtractRule {
    /// A `json` transformer's JSONPath (`source` as written, `path` compiled).
    JsonPath { source: String, path: JsonPath },
    /// Any other transformer's rule, as written (`Null` when absent).
    Raw(Value),
}

/// What an action does (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// `http`: an HTTP call to a service; its response goes through the transformers.
    Http,
    /// `mrz` (an idv extension): reads a machine readable zone (ICAO Doc 9303) from the
    /// rendered `options.mrz` text, natively, without any call; the JSON result goes through
    /// the transformers like an HTTP response.
    Mrz,
}

impl ActionKind {
    /// Every type, as written in a workflow.
    pub const ALL: &[ActionKind] = &[ActionKind::Http, ActionKind::Mrz];

    pub const fn as_str(self) -> &'static str {
        match self {
            ActionKind::Http => "http",
            ActionKind::Mrz => "mrz",
        }
    }

    /// Case-insensitive.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A server-side action (an HTTP call, or a native reading such as `mrz`), kept mostly raw for
/// the engine that runs it.
#[derive(Debug, Clone)]
pub struct Action {
    pub id: String,
    pub name: String,
    /// `http` (the default) or `mrz`.
    pub kind: ActionKind,
    pub file_id: Option<String>,
    pub transformers: Vec<String>,
    /// Unrendered. `http`: `url`, `method`, `headers`, `successCodes`, `body`, `timeout` …;
    /// `mrz`: `mrz`, the template of the text to read.
    pub options: Value,
    pub retry: Option<Value>,
    /// Runs only when this holds.
    pub when: Option<Predicate>,
}

/// A declared session file kind, with its compiled JSON Schema.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub id: String,
    pub kind: String,
    pub content_type: Option<String>,
    pub(crate) json_schema: Option<Arc<jsonschema::Validator>>,
    /// The JSON Schema as written, for clients that build a form from it.
    pub schema: Option<Arc<Value>>,
}

/// Maps results to the standard blocks (DOCUMENT, LIVENESS, FACE_MATCH); `raw` keeps `options`,
/// `identifier`, `group` for the engine that runs them.
#[derive(Debug, Clone)]
pub struct Normalizer {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub rules: Vec<RuleRef>,
    pub raw: Value,
}

/// `events.onError` / `events.onTimeout`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    pub on_error: Option<Transit>,
    pub on_timeout: Option<Transit>,
}
