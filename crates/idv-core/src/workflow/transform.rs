//! Transformers over step data: JSONPath extraction into properties, coerced to their types.
//!
//! Regula writes JSONPath loosely (`$..results.[0].similarity`, a dot before a bracket); such a
//! dot is dropped before the path is parsed as RFC 9535 JSONPath. A path that matches nothing
//! leaves the property unchanged; one that matches several nodes takes the first in document
//! order; a `null` match is treated as no match.

use serde_json::{Map, Number, Value};
use serde_json_path::JsonPath;

use super::easyjson::EasyRule;
use super::model::{ExtractRule, PropertyType, Step, TransformerKind};
use super::{SubmitError, TransformOutcome, Workflow};

/// Drops the dot of `.[` (but not of `..[`), outside quoted names.
pub(crate) fn normalize_jsonpath(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut quote: Option<char> = None;
    let mut chars = src.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q && prev != Some('\\') {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '.' && chars.peek() == Some(&'[') && prev != Some('.') {
                    prev = Some(c);
                    continue;
                }
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// Parses a transformer's JSONPath (after normalising it).
pub(crate) fn compile_jsonpath(src: &str) -> Result<JsonPath, String> {
    JsonPath::parse(&normalize_jsonpath(src)).map_err(|e| e.to_string())
}

/// Runs the step's `json` transformers over `data` and merges the results into a copy of
/// `properties`. Other transformer types belong to HTTP actions and are skipped here.
pub(crate) fn apply_step_transformers(
    workflow: &Workflow,
    step: &Step,
    data: &Value,
    properties: &Map<String, Value>,
) -> Result<Map<String, Value>, SubmitError> {
    let mut out = properties.clone();
    for id in &step.transformers {
        let Some(t) = workflow.transformer(id) else {
            continue;
        };
        if t.kind != TransformerKind::Json {
            continue;
        }
        for extract in &t.extracts {
            let ExtractRule::JsonPath { path, .. } = &extract.rule else {
                continue;
            };
            let Some(found) = path.query(data).first().filter(|v| !v.is_null()) else {
                continue;
            };
            let value = match workflow.property_type(&extract.property) {
                Some(ty) => coerce(found, ty).map_err(|message| SubmitError::Coercion {
                    property: extract.property.clone(),
                    message,
                })?,
                None => found.clone(),
            };
            out.insert(extract.property.clone(), value);
        }
    }
    Ok(out)
}

impl Workflow {
    /// Runs one transformer over an HTTP action's response `body` and returns what to change:
    ///
    /// - `json`: each extract's JSONPath; `easyjson`: each extract's path-and-filter rule (see
    ///   `easyjson`). Values are coerced to the declared property types. When several extracts
    ///   name the same property (general_kyc's `DOC_PHOTO`, tried with containerType 6, then
    ///   103), the first that yields a value wins and the later ones are not consulted. A rule
    ///   that finds nothing (or `null`) leaves its property out of the updates.
    /// - `binary`: [`TransformOutcome::StoreBinary`] with each extract's property: the caller
    ///   stores the whole body as one file and points those properties at it.
    /// - an unknown transformer id or another type: [`TransformOutcome::Skipped`].
    ///
    /// A `binary` property filled by `json`/`easyjson` receives the extracted value as is (for a
    /// Document Reader image, base64 text); turning that into a stored file is the caller's job.
    pub fn run_transformer(
        &self,
        transformer_id: &str,
        body: &Value,
    ) -> Result<TransformOutcome, SubmitError> {
        let Some(t) = self.transformer(transformer_id) else {
            return Ok(TransformOutcome::Skipped {
                reason: format!("no transformer `{transformer_id}`"),
            });
        };
        match &t.kind {
            TransformerKind::Json | TransformerKind::EasyJson => {}
            TransformerKind::Binary => {
                return Ok(TransformOutcome::StoreBinary(
                    t.extracts.iter().map(|x| x.property.clone()).collect(),
                ));
            }
            TransformerKind::Other(kind) => {
                return Ok(TransformOutcome::Skipped {
                    reason: format!("transformer type `{kind}` is not supported"),
                });
            }
        }
        let mut updates = Map::new();
        for extract in &t.extracts {
            if updates.contains_key(&extract.property) {
                continue;
            }
            let found = match &extract.rule {
                ExtractRule::JsonPath { path, .. } => path.query(body).first(),
                // Validation parsed every easyjson rule already, so for a loaded workflow this
                // never fails; if it did, the rule would simply find nothing.
                ExtractRule::Raw(raw) => EasyRule::parse(raw)
                    .ok()
                    .and_then(|rule| rule.extract(body)),
            };
            let Some(found) = found.filter(|v| !v.is_null()) else {
                continue;
            };
            let value = self.coerce_for(&extract.property, found)?;
            updates.insert(extract.property.clone(), value);
        }
        Ok(TransformOutcome::Properties(updates))
    }

    /// `found` coerced to `property`'s declared type (as is when it has none).
    fn coerce_for(&self, property: &str, found: &Value) -> Result<Value, SubmitError> {
        match self.property_type(property) {
            Some(ty) => coerce(found, ty).map_err(|message| SubmitError::Coercion {
                property: property.to_owned(),
                message,
            }),
            None => Ok(found.clone()),
        }
    }
}

/// Converts `v` to the JSON form of `ty`; the error says why it cannot.
pub(crate) fn coerce(v: &Value, ty: PropertyType) -> Result<Value, String> {
    let fail = || format!("cannot use {} as {}", describe(v), ty.as_str());
    match ty {
        PropertyType::Binary => Ok(v.clone()),
        PropertyType::Str => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(fail()),
        },
        PropertyType::Int => to_int(v).map(|i| Value::Number(i.into())).ok_or_else(fail),
        PropertyType::Decimal => to_float(v).map(Value::Number).ok_or_else(fail),
        PropertyType::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
            _ => Err(fail()),
        },
    }
}

fn describe(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        let short: String = text.chars().take(40).collect();
        format!("{short}…")
    } else {
        text
    }
}

/// Integers, floats with no fraction, and strings holding either.
fn to_int(v: &Value) -> Option<i64> {
    let from_float = |f: f64| {
        (f.is_finite() && f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64)
            .then_some(f as i64)
    };
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(from_float)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(from_float))
        }
        _ => None,
    }
}

/// Any finite number, or a string holding one, as a JSON float.
fn to_float(v: &Value) -> Option<Number> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    Number::from_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn regula_paths_are_normalised() {
        assert_eq!(
            normalize_jsonpath("$..results.[0].similarity"),
            "$..results[0].similarity"
        );
        assert_eq!(normalize_jsonpath("$..[0]"), "$..[0]");
        assert_eq!(normalize_jsonpath("$['a.[b']"), "$['a.[b']");
        assert_eq!(normalize_jsonpath("$.a.['b']"), "$.a['b']");
        let path = compile_jsonpath("$..results.[0].similarity").unwrap();
        let data = json!({"results": [{"similarity": 0.93}, {"similarity": 0.1}]});
        assert_eq!(path.query(&data).first(), Some(&json!(0.93)));
        assert!(compile_jsonpath("$..[").is_err());
        assert!(compile_jsonpath("transactionId").is_err());
    }

    #[test]
    fn descendant_paths_find_the_first_match() {
        let path = compile_jsonpath("$..continue").unwrap();
        assert_eq!(
            path.query(&json!({"continue": true})).first(),
            Some(&json!(true))
        );
        assert_eq!(path.query(&json!({"other": 1})).first(), None);
    }

    #[test]
    fn coercion_to_each_type() {
        use PropertyType::*;
        assert_eq!(coerce(&json!(12), Str), Ok(json!("12")));
        assert_eq!(coerce(&json!(true), Str), Ok(json!("true")));
        assert!(coerce(&json!({"a": 1}), Str).is_err());
        assert_eq!(coerce(&json!("18"), Int), Ok(json!(18)));
        assert_eq!(coerce(&json!(18.0), Int), Ok(json!(18)));
        assert_eq!(coerce(&json!(" 7 "), Int), Ok(json!(7)));
        assert!(coerce(&json!(18.5), Int).is_err());
        assert!(coerce(&json!("eighteen"), Int).is_err());
        assert!(coerce(&json!(true), Int).is_err());
        assert!(coerce(&json!(1e300), Int).is_err());
        assert_eq!(coerce(&json!("TRUE"), Bool), Ok(json!(true)));
        assert_eq!(coerce(&json!("false"), Bool), Ok(json!(false)));
        assert_eq!(coerce(&json!(1), Bool), Ok(json!(true)));
        assert_eq!(coerce(&json!(0), Bool), Ok(json!(false)));
        assert!(coerce(&json!("yes"), Bool).is_err());
        assert!(coerce(&json!(2), Bool).is_err());
        assert_eq!(coerce(&json!("0.93"), Decimal), Ok(json!(0.93)));
        assert_eq!(coerce(&json!(1), Decimal), Ok(json!(1.0)));
        assert!(coerce(&json!("NaN"), Decimal).is_err());
        assert!(coerce(&json!([1]), Decimal).is_err());
        assert_eq!(
            coerce(&json!({"file": "x"}), Binary),
            Ok(json!({"file": "x"}))
        );
    }
}
