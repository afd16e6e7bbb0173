//! Actions as data: rendering an HTTP action's `options` into the request to send (an `mrz`
//! action's `options.mrz` into the text it reads), its `when` guard, and the templates' two
//! extra filters.
//!
//! Templates see what `client` templates see (`locale`, `config`, `session`, bare property ids;
//! see `template`) plus:
//! - `loadFromStorage`: a binary property's value (a file id) → that file's bytes, looked up in
//!   the map the caller pre-loaded ([`ActionContext::binaries`]). An unset property or a file id
//!   that is not in the map is an error: sending an empty image to a service only hides the bug.
//! - `b64encode`: standard base64 (with padding) of bytes, or of a string's UTF-8.
//!
//! `options` keys: `url` (required), `method` (default `GET`, sent upper-case), `headers`
//! (`null`, a mapping name → value, or a list of `{name, value}`), `body` (`null`, a template
//! string, or a mapping/list whose strings are templates, sent as JSON), `successCodes` (default
//! `[200]`), `timeout` in seconds (default [`DEFAULT_TIMEOUT`]). Every string is rendered.
//!
//! Errors while rendering (a filter's, since syntax was checked at load) are `StepFailed`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use minijinja::value::Value as Jv;
use minijinja::{Environment, ErrorKind};
use serde_json::{Map, Value};

use super::{RenderContext, Workflow, template};
use crate::{Error, ErrorCode};

/// The timeout of an action whose `options.timeout` is absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What an action's templates can see.
pub struct ActionContext<'a> {
    /// Translations for the session's locale (already resolved along the fallback chain).
    pub locale: &'a HashMap<String, String>,
    /// The platform config as JSON (`services.docreader.url` …).
    pub config: &'a Value,
    /// The session as JSON.
    pub session: &'a Value,
    /// The session's properties, visible as bare names.
    pub properties: &'a Map<String, Value>,
    /// File id → contents, for the binary properties the action's templates load.
    pub(crate) binaries: &'a HashMap<String, Vec<u8>>,
}

/// An action rendered into the HTTP request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRequest {
    /// Upper-case, e.g. `POST`.
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Response statuses that count as success (`[200]` unless the action says otherwise).
    pub success_codes: Vec<u16>,
    pub timeout: Duration,
    /// The `files[]` entry the response is stored as.
    pub file_id: Option<String>,
}

impl Workflow {
    /// Renders action `action_id`'s `options` into a request.
    pub(crate) fn render_action(
        &self,
        action_id: &str,
        ctx: &ActionContext<'_>,
    ) -> Result<RenderedRequest, Error> {
        let action = self.action(action_id).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidWorkflow,
                format!("the workflow has no action `{action_id}`"),
            )
        })?;
        let options = &action.options;
        let renderer = Renderer::new(action_id, ctx);
        let text = |v: &Value, path: &str| renderer.text(v, path);

        let url = match options.get("url") {
            Some(v) => text(v, "url")?,
            None => None,
        }
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidWorkflow,
                format!("action `{action_id}` has no `options.url`"),
            )
        })?;
        let method = match options.get("method") {
            Some(v) => text(v, "method")?,
            None => None,
        }
        .map_or_else(|| "GET".to_owned(), |m| m.trim().to_ascii_uppercase());

        let mut headers = Vec::new();
        match options.get("headers") {
            Some(Value::Object(m)) => {
                for (name, value) in m {
                    if let Some(value) = text(value, &format!("headers.{name}"))? {
                        headers.push((name.clone(), value));
                    }
                }
            }
            Some(Value::Array(list)) => {
                for (i, h) in list.iter().enumerate() {
                    let (Some(Value::String(name)), Some(value)) = (h.get("name"), h.get("value"))
                    else {
                        continue;
                    };
                    if let Some(value) = text(value, &format!("headers[{i}].value"))? {
                        headers.push((name.clone(), value));
                    }
                }
            }
            _ => {}
        }

        let body = match options.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => text(b, "body")?,
        };

        let success_codes = match options.get("successCodes") {
            Some(Value::Array(codes)) => codes
                .iter()
                .filter_map(Value::as_u64)
                .filter(|c| (100..=599).contains(c))
                .filter_map(|c| u16::try_from(c).ok())
                .collect(),
            _ => Vec::new(),
        };
        let success_codes = if success_codes.is_empty() {
            vec![200]
        } else {
            success_codes
        };

        let timeout = options
            .get("timeout")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(DEFAULT_TIMEOUT);

        Ok(RenderedRequest {
            method,
            url,
            headers,
            body,
            success_codes,
            timeout,
            file_id: action.file_id.clone(),
        })
    }

    /// Renders an `mrz` action's `options.mrz` into the text to read (`""` when it renders to
    /// nothing).
    pub(crate) fn render_mrz(
        &self,
        action_id: &str,
        ctx: &ActionContext<'_>,
    ) -> Result<String, Error> {
        let action = self.action(action_id).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidWorkflow,
                format!("the workflow has no action `{action_id}`"),
            )
        })?;
        let Some(template) = action.options.get("mrz") else {
            return Err(Error::new(
                ErrorCode::InvalidWorkflow,
                format!("action `{action_id}` has no `options.mrz`"),
            ));
        };
        Ok(Renderer::new(action_id, ctx)
            .text(template, "mrz")?
            .unwrap_or_default())
    }

    /// Whether action `action_id` should run: its `when` holds over `properties` (no `when`:
    /// always). An unknown action never applies.
    pub(crate) fn action_applies(&self, action_id: &str, properties: &Map<String, Value>) -> bool {
        self.action(action_id)
            .is_some_and(|a| a.when.as_ref().is_none_or(|w| w.evaluate(properties)))
    }
}

/// Renders the strings of one action's options.
struct Renderer {
    label: String,
    env: Environment<'static>,
    vars: Jv,
}

impl Renderer {
    fn new(action_id: &str, ctx: &ActionContext<'_>) -> Self {
        Renderer {
            label: format!("actions.{action_id}.options"),
            env: environment(ctx),
            vars: template::variables(&RenderContext {
                locale: ctx.locale,
                config: ctx.config,
                session: ctx.session,
                properties: ctx.properties,
            }),
        }
    }

    /// `v` rendered (strings are templates, mappings and lists rendered throughout) as text:
    /// `None` for null, JSON for anything that is not a string. A render error is `StepFailed`.
    fn text(&self, v: &Value, path: &str) -> Result<Option<String>, Error> {
        let rendered = template::walk(v, &self.env, &self.vars, &format!("{}.{path}", self.label))
            .map_err(|mut e| {
                e.code = ErrorCode::StepFailed;
                e
            })?;
        Ok(match rendered {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }
}

/// The template environment plus `loadFromStorage` and `b64encode`.
fn environment(ctx: &ActionContext<'_>) -> Environment<'static> {
    let mut env = template::environment();
    // Filters must own their data; only the files some property points at are copied.
    let referenced: HashMap<String, Vec<u8>> = ctx
        .binaries
        .iter()
        .filter(|(id, _)| {
            ctx.properties
                .values()
                .any(|v| v.as_str() == Some(id.as_str()))
        })
        .map(|(id, bytes)| (id.clone(), bytes.clone()))
        .collect();
    let files = Arc::new(referenced);
    env.add_filter("loadFromStorage", move |v: Jv| {
        load_from_storage(&files, &v)
    });
    env.add_filter("b64encode", |v: Jv| b64encode(&v));
    env
}

fn load_from_storage(files: &HashMap<String, Vec<u8>>, v: &Jv) -> Result<Jv, minijinja::Error> {
    if v.is_undefined() || v.is_none() {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "loadFromStorage: the property is not set",
        ));
    }
    let Some(id) = v.as_str() else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("loadFromStorage: expected a file id, got {}", v.kind()),
        ));
    };
    files
        .get(id)
        .map(|b| Jv::from_bytes(b.clone()))
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("loadFromStorage: file `{id}` was not loaded"),
            )
        })
}

fn b64encode(v: &Jv) -> Result<String, minijinja::Error> {
    v.as_bytes()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("b64encode: expected bytes or a string, got {}", v.kind()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let files: HashMap<String, Vec<u8>> = [("f1".to_owned(), b"\x00\xffhi".to_vec())].into();
        let bytes = load_from_storage(&files, &Jv::from("f1")).unwrap();
        assert_eq!(bytes.as_bytes(), Some(&b"\x00\xffhi"[..]));
        assert_eq!(b64encode(&bytes).unwrap(), "AP9oaQ==");
        assert_eq!(b64encode(&Jv::from("hé")).unwrap(), "aMOp");
        assert!(b64encode(&Jv::from(3)).is_err());
        assert!(load_from_storage(&files, &Jv::from("f2")).is_err());
        assert!(load_from_storage(&files, &Jv::UNDEFINED).is_err());
        assert!(load_from_storage(&files, &Jv::from(1)).is_err());
    }
}
