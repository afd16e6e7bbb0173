//! Rendering a step's `client` descriptor: every string holding a `{{ … }}` (or `{% … %}`) is a
//! minijinja template over `locale.KEY`, `config.*`, `session.*` and bare property ids.
//!
//! A missing locale key renders as the key itself, so a screen is never blank; an undefined
//! config value or property (at any depth: `config.services.x.prefix`) renders empty. Nothing is
//! HTML-escaped: the output is JSON for an SDK, not a web page.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::{Object, Value as Jv};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use super::RenderContext;
use crate::{Error, ErrorCode};

/// True for strings that need rendering.
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The environment every workflow template renders in (`action` adds its filters to it).
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env
}

/// Checks a template's syntax (for validation at load time); the error is minijinja's.
pub(crate) fn check_syntax(source: &str) -> Result<(), String> {
    let env = environment();
    env.template_from_str(source)
        .map(|_| ())
        .map_err(|e| syntax_message(&e))
}

fn syntax_message(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("template error: {detail}"),
        None => format!("template error: {e}"),
    }
}

/// Translations, answering a missing key with the key.
#[derive(Debug)]
struct Locale(HashMap<String, String>);

impl Object for Locale {
    fn get_value(self: &Arc<Self>, key: &Jv) -> Option<Jv> {
        let key = key.as_str()?;
        Some(Jv::from(self.0.get(key).map_or(key, String::as_str)))
    }
}

/// Renders every template string in `client`; `label` names the descriptor in errors.
pub(crate) fn render(client: &Value, ctx: &RenderContext<'_>, label: &str) -> Result<Value, Error> {
    walk(client, &environment(), &variables(ctx), label)
}

/// The template variables: `locale`, `config`, `session` and the bare property ids.
pub(crate) fn variables(ctx: &RenderContext<'_>) -> Jv {
    // Properties first so the namespaces win over a property that happens to share a name.
    let mut vars: Vec<(String, Jv)> = ctx
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), Jv::from_serialize(v)))
        .collect();
    vars.push(("locale".into(), Jv::from_object(Locale(ctx.locale.clone()))));
    vars.push(("config".into(), Jv::from_serialize(ctx.config)));
    vars.push(("session".into(), Jv::from_serialize(ctx.session)));
    vars.into_iter().collect()
}

/// Renders one template string; `path` names it in errors.
pub(crate) fn render_str(
    source: &str,
    env: &Environment<'_>,
    vars: &Jv,
    path: &str,
) -> Result<String, Error> {
    env.render_str(source, vars).map_err(|e| {
        Error::new(
            ErrorCode::InvalidWorkflow,
            format!("{path}: {}", syntax_message(&e)),
        )
    })
}

/// Renders every template string inside `v`.
pub(crate) fn walk(
    v: &Value,
    env: &Environment<'_>,
    vars: &Jv,
    path: &str,
) -> Result<Value, Error> {
    Ok(match v {
        Value::String(s) if is_template(s) => Value::String(render_str(s, env, vars, path)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| walk(item, env, vars, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, item)| Ok((k.clone(), walk(item, env, vars, &format!("{path}.{k}"))?)))
                .collect::<Result<_, Error>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_with(client: Value, props: Value) -> Result<Value, Error> {
        let locale: HashMap<String, String> = [("HELLO".to_string(), "Hello <b>&".to_string())]
            .into_iter()
            .collect();
        let config =
            json!({"baseUrl": "http://h:8000", "services": {"docreader": {"prefix": "drapi"}}});
        let session = json!({"locale": "en-us"});
        let Value::Object(properties) = props else {
            panic!()
        };
        let ctx = RenderContext {
            locale: &locale,
            config: &config,
            session: &session,
            properties: &properties,
        };
        render(&client, &ctx, "client")
    }

    #[test]
    fn renders_namespaces_and_properties() {
        let out = render_with(
            json!({
                "t": "{{ locale.HELLO }}",
                "missing": "{{ locale.NOPE }}",
                "url": "{{ config.baseUrl }}/{{ config.services.docreader.prefix }}",
                "undefined": "[{{ config.services.faceapi.prefix }}]",
                "lang": "{{ session.locale }}",
                "prop": "{{ TRANSACTION_ID }}-{{ UNSET }}",
                "list": ["{{ AGE + 1 }}", 3, true, null],
                "plain": "no template",
                "nl": "{{ AGE }}\n"
            }),
            json!({"TRANSACTION_ID": "tx1", "AGE": 20, "config": "shadowed"}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "t": "Hello <b>&",
                "missing": "NOPE",
                "url": "http://h:8000/drapi",
                "undefined": "[]",
                "lang": "en-us",
                "prop": "tx1-",
                "list": ["21", 3, true, null],
                "plain": "no template",
                "nl": "20\n"
            })
        );
    }

    #[test]
    fn template_errors_name_the_path() {
        let err = render_with(json!({"a": [{"b": "{{ 1 + }}"}]}), json!({})).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidWorkflow);
        assert!(
            err.message.starts_with("client.a[0].b: template error"),
            "{}",
            err.message
        );
        assert!(check_syntax("{{ x | b64encode }}").is_ok());
        assert!(check_syntax("{% if %}").is_err());
    }
}
