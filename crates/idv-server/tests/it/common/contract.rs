//! Every answer the HTTP test suites receive is checked against the OpenAPI document: the
//! server hands each answer of a route to [`observe`] (see `idv_server::observe`), which
//! validates a JSON body against the schema the document gives for that route and status,
//! and keeps the outcome per server. A server's mismatches fail the test that started it when
//! it stops or is dropped ([`check`]), naming the route, the status and the path of the
//! mismatch.

use idv_server::observe::Observed;
use jsonschema::Validator;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

/// What one server's answers came to.
#[derive(Default, Clone, Debug)]
pub struct Log {
    /// Answers whose body matched its schema.
    pub validated: usize,
    /// `METHOD route status` of every validated answer.
    pub routes: BTreeSet<String>,
    /// Answers the document gives no schema for (files, streams, untyped routes).
    pub unchecked: usize,
    pub failures: Vec<String>,
}

static LOGS: LazyLock<Mutex<HashMap<String, Log>>> = LazyLock::new(Default::default);

static DOCUMENT: LazyLock<Value> =
    LazyLock::new(|| idv_server::openapi::document("http://localhost:8000"));

type Key = (String, &'static str, u16);
/// Per answer: its validator, the reason it cannot be answered at all, or nothing to check.
type Compiled = Option<Result<Arc<Validator>, String>>;
static VALIDATORS: LazyLock<Mutex<HashMap<Key, Compiled>>> = LazyLock::new(Default::default);

/// The outcome of checking one answer.
#[derive(Debug)]
pub enum Outcome {
    Valid,
    /// The document has no JSON schema for this answer.
    Unchecked,
    Invalid(String),
}

/// Installs the check (once per process).
pub fn install() {
    idv_server::observe::install(observe);
}

/// The routes of pages for browsers (`.page()` rows), which the API's document leaves out.
fn is_page(method: &str, route: &str) -> bool {
    static PAGES: std::sync::OnceLock<Vec<(String, &'static str)>> = std::sync::OnceLock::new();
    PAGES
        .get_or_init(|| {
            idv_server::routes::table()
                .into_iter()
                .filter(|d| d.page)
                .map(|d| (d.method.to_string(), d.path))
                .collect()
        })
        .iter()
        .any(|(m, p)| m == method && *p == route)
}

fn observe(seen: &Observed<'_>) {
    let outcome = match seen.body {
        _ if is_page(seen.method.as_str(), seen.route) => Outcome::Unchecked,
        None | Some([]) => Outcome::Unchecked,
        Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
            Ok(body) => validate(seen.method.as_str(), seen.route, seen.status, &body),
            Err(e) => Outcome::Invalid(format!("the body is not JSON: {e}")),
        },
    };
    let mut logs = LOGS.lock().unwrap();
    let log = logs.entry(seen.host.to_owned()).or_default();
    match outcome {
        Outcome::Valid => {
            log.validated += 1;
            log.routes
                .insert(format!("{} {} {}", seen.method, seen.route, seen.status));
        }
        Outcome::Unchecked => log.unchecked += 1,
        Outcome::Invalid(why) => {
            let text = format!(
                "{} {} answered {} with a body the OpenAPI document does not allow: {why}",
                seen.method, seen.route, seen.status
            );
            eprintln!("{text}");
            log.failures.push(text);
        }
    }
}

/// The log of the server at `host` (`127.0.0.1:port`) so far.
pub fn log_of(host: &str) -> Log {
    LOGS.lock().unwrap().get(host).cloned().unwrap_or_default()
}

/// Panics with every mismatch of the server at `host`, and forgets its log.
pub fn check(host: &str) {
    let log = LOGS.lock().unwrap().remove(host).unwrap_or_default();
    if !log.failures.is_empty() && !std::thread::panicking() {
        panic!(
            "{} answer(s) do not match the OpenAPI document:\n{}",
            log.failures.len(),
            log.failures.join("\n")
        );
    }
}

/// The response object of `method route` for `status`: the status itself, else its range
/// (`2XX`), else `default`; a `$ref` to `components/responses` is followed. `None`: the
/// document does not list this answer, which fails the check (every status a route answers is
/// in the document).
fn response_of<'a>(doc: &'a Value, method: &str, route: &str, status: u16) -> Option<&'a Value> {
    let path = route.replace("{*", "{");
    let op = doc["paths"].get(&path)?.get(method.to_ascii_lowercase())?;
    let responses = op.get("responses")?;
    let found = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .or_else(|| responses.get("default"))?;
    match found.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')),
        None => Some(found),
    }
}

/// A validator for `schema` that resolves the document's `#/components/...` references.
fn compile(doc: &Value, schema: &Value) -> Validator {
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        Value::from("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("allOf".into(), Value::Array(vec![schema.clone()]));
    root.insert("components".into(), doc["components"].clone());
    jsonschema::draft202012::new(&Value::Object(root))
        .unwrap_or_else(|e| panic!("the document's schema {schema} does not compile: {e}"))
}

/// Checks one answer's body against the document.
pub fn validate(method: &str, route: &'static str, status: u16, body: &Value) -> Outcome {
    let key = (method.to_owned(), route, status);
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap();
        cache
            .entry(key)
            .or_insert_with(|| {
                let doc = &*DOCUMENT;
                let Some(response) = response_of(doc, method, route, status) else {
                    return Some(Err(format!(
                        "the document lists no answer {status} for this route"
                    )));
                };
                let content = response.get("content")?.as_object()?;
                let schema = content
                    .iter()
                    .find(|(media, _)| media.contains("json"))
                    .and_then(|(_, c)| c.get("schema"))?;
                Some(Ok(Arc::new(compile(doc, schema))))
            })
            .clone()
    };
    let validator = match validator {
        None => return Outcome::Unchecked,
        Some(Err(why)) => return Outcome::Invalid(why),
        Some(Ok(v)) => v,
    };
    let errors: Vec<String> = validator
        .iter_errors(body)
        .take(5)
        .map(|e| format!("at `{}`: {e}", e.instance_path))
        .collect();
    if errors.is_empty() {
        Outcome::Valid
    } else {
        Outcome::Invalid(errors.join("; "))
    }
}
