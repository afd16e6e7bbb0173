//! Rendering a step's `client` descriptor: every string holding a `{{ … }}` (or `{% … %}`) is a
//! minijinja template over `locale.KEY`, `config.*`, `session.*` and bare property ids.
//!
//! A missing locale key renders as the key itself, so a screen is never blank; an undefined
//! config value or property (at any depth: `config.services.x.prefix`) renders empty. Nothing is
//! HTML-escaped: the output is JSON for an SDK, not a web page.
//!
//! Templates are a deliberately small subset of Jinja, so that rendering one costs at most time
//! and memory linear in its text and its data, whatever a workflow author writes:
//! - statements: only `if` / `elif` / `else` / `endif` (no `for`, `set`, `with`, `macro`,
//!   `call`, `include` …: without loops, assignments or recursion nothing can repeat);
//! - no `~` and no `*` (string concatenation and repetition, the ways a value grows), no
//!   function calls (the environment has no globals: no `range`, `lipsum`, `namespace`);
//! - filters: [`FILTERS`] (none of which output more than a constant factor of its input) plus
//!   the action filters `loadFromStorage` and `b64encode`;
//! - and, as a second line of defence, every render has [`FUEL`] instructions and writes at most
//!   [`MAX_OUTPUT`] bytes.
//!
//! Regula's own files use only `{{ name.path }}` and `{{ X | loadFromStorage | b64encode }}`.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use minijinja::value::{Object, Value as Jv};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use super::RenderContext;
use crate::{Error, ErrorCode};

/// Instructions one template string may execute. `{{ a.b | f }}` costs a handful; the most a
/// restricted template can need is about one per token of its text.
pub(crate) const FUEL: u64 = 100_000;
/// Bytes one template string may render to (an action body carrying a base64 image fits).
pub(crate) const MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// Nested calls (filters inside filters) before rendering stops.
const RECURSION_LIMIT: usize = 64;

/// The only statements a template may use.
const STATEMENTS: &[&str] = &["if", "elif", "else", "endif"];

/// The built-in filters a template may use; see [`environment`].
pub(crate) const FILTERS: &[&str] = &[
    "default",
    "d",
    "lower",
    "upper",
    "title",
    "capitalize",
    "trim",
    "length",
    "count",
    "string",
    "int",
    "float",
    "round",
    "abs",
    "first",
    "last",
    "bool",
    "tojson",
];

/// Filters the action environment adds (`action.rs`): allowed by the syntax check too.
const ACTION_FILTERS: &[&str] = &["loadFromStorage", "b64encode"];

/// True for strings that need rendering.
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The environment every workflow template renders in (`action` adds its filters to it): no
/// globals, the [`FILTERS`], a few tests, fuel and a recursion limit.
pub(crate) fn environment() -> Environment<'static> {
    use minijinja::{filters, tests};
    let mut env = Environment::empty();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_keep_trailing_newline(true);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("lower", filters::lower);
    env.add_filter("upper", filters::upper);
    env.add_filter("title", filters::title);
    env.add_filter("capitalize", filters::capitalize);
    env.add_filter("trim", filters::trim);
    env.add_filter("length", filters::length);
    env.add_filter("count", filters::length);
    env.add_filter("string", filters::string);
    env.add_filter("int", filters::int);
    env.add_filter("float", filters::float);
    env.add_filter("round", filters::round);
    env.add_filter("abs", filters::abs);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("bool", filters::bool);
    // Compact JSON only: minijinja's own `tojson` takes an indent, which multiplies the output.
    env.add_filter("tojson", |v: Jv| {
        serde_json::to_string(&v).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })
    });
    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.add_test("number", tests::is_number);
    env.add_test("string", tests::is_string);
    env.add_test("boolean", tests::is_boolean);
    env.add_test("true", tests::is_true);
    env.add_test("false", tests::is_false);
    env
}

/// Checks a template's syntax and the subset rules (for validation at load time).
pub(crate) fn check_syntax(source: &str) -> Result<(), String> {
    check_subset(source)?;
    let env = environment();
    env.template_from_str(source)
        .map(|_| ())
        .map_err(|e| syntax_message(&e))
}

fn syntax_message(e: &minijinja::Error) -> String {
    match e.kind() {
        minijinja::ErrorKind::OutOfFuel => {
            return format!(
                "template error: the template does too much work (more than {FUEL} steps)"
            );
        }
        minijinja::ErrorKind::WriteFailure => {
            return format!(
                "template error: the output is larger than {} MiB",
                MAX_OUTPUT >> 20
            );
        }
        _ => {}
    }
    match e.detail() {
        Some(detail) => format!("template error: {detail}"),
        None => format!("template error: {e}"),
    }
}

/// Enforces the subset (see the module docs) over the tags of `source`.
///
/// This scans tags the way minijinja's lexer does (tags end at `}}` / `%}` only outside strings
/// and brackets; strings take backslash escapes). Wherever the two could disagree, this scan
/// treats more of the text as code, never less, so it can refuse a harmless template but cannot
/// pass a forbidden one.
fn check_subset(source: &str) -> Result<(), String> {
    let b = source.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] != b'{' {
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'#' => match source[i + 2..].find("#}") {
                Some(end) => i += 2 + end + 2,
                // minijinja refuses an unclosed comment.
                None => return Ok(()),
            },
            b'{' => i = check_tag(source, i + 2, false)?,
            b'%' => i = check_tag(source, i + 2, true)?,
            _ => i += 1,
        }
    }
    Ok(())
}

fn subset_error(what: impl std::fmt::Display) -> String {
    format!("template error: {what} is not allowed in workflow templates")
}

/// Scans one tag whose body starts at `start`; returns where the text after it starts.
fn check_tag(source: &str, start: usize, statement: bool) -> Result<usize, String> {
    let b = source.as_bytes();
    let mut i = start;
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    if statement {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let word = identifier(&b[i..]);
        if !STATEMENTS.contains(&std::str::from_utf8(word).unwrap_or("")) {
            let shown = String::from_utf8_lossy(word);
            return Err(if shown.is_empty() {
                subset_error("a statement without a name")
            } else {
                format!(
                    "template error: `{{% {shown} %}}` is not allowed in workflow templates \
                     (only if, elif, else and endif)"
                )
            });
        }
        i += word.len();
    }
    let close: &[u8] = if statement { b"%}" } else { b"}}" };
    let mut depth: i64 = 0;
    let mut after_pipe = false;
    while i < b.len() {
        let c = b[i];
        if depth <= 0 {
            let rest = &b[i..];
            let modifier = matches!(c, b'-' | b'+') && rest[1..].starts_with(close);
            if modifier || rest.starts_with(close) {
                return Ok(i + close.len() + usize::from(modifier));
            }
        }
        match c {
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                after_pipe = false;
                continue;
            }
            b'~' => return Err(subset_error("`~`")),
            b'*' => return Err(subset_error("`*`")),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'|' => {
                after_pipe = true;
                i += 1;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let word = identifier(&b[i..]);
                let name = std::str::from_utf8(word).unwrap_or("");
                if after_pipe && !FILTERS.contains(&name) && !ACTION_FILTERS.contains(&name) {
                    return Err(format!(
                        "template error: unknown filter `{name}` (workflow templates may use {} \
                         and {})",
                        FILTERS.join(", "),
                        ACTION_FILTERS.join(", ")
                    ));
                }
                // A call other than a filter's arguments: there is nothing to call.
                if !after_pipe && b.get(i + word.len()) == Some(&b'(') && !is_keyword(name) {
                    return Err(subset_error(format_args!("calling `{name}`")));
                }
                i += word.len();
                after_pipe = false;
                continue;
            }
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => {}
        }
        after_pipe = false;
        i += 1;
    }
    // An unclosed tag: minijinja refuses it.
    Ok(b.len())
}

/// Words after which `(` groups an expression rather than calling something.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "elif" | "else" | "and" | "or" | "not" | "in" | "is"
    )
}

/// The identifier (minijinja's: `[A-Za-z_][A-Za-z0-9_]*`) at the start of `b`.
fn identifier(b: &[u8]) -> &[u8] {
    let len = b
        .iter()
        .enumerate()
        .take_while(|&(j, c)| {
            c.is_ascii_alphabetic() || *c == b'_' || (j > 0 && c.is_ascii_digit())
        })
        .count();
    &b[..len]
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
    let failed =
        |message: String| Error::new(ErrorCode::InvalidWorkflow, format!("{path}: {message}"));
    // Validation ran the same check at load time; running it again keeps the bounds true for
    // any caller.
    check_subset(source).map_err(failed)?;
    let template = env
        .template_from_str(source)
        .map_err(|e| failed(syntax_message(&e)))?;
    let mut out = Capped {
        bytes: Vec::new(),
        limit: MAX_OUTPUT,
    };
    template
        .render_captured_to(vars, &mut out)
        .map_err(|e| failed(syntax_message(&e)))?;
    // minijinja writes only `str` pieces, so the bytes are UTF-8.
    String::from_utf8(out.bytes).map_err(|e| failed(e.to_string()))
}

/// An output buffer that refuses to grow past `limit` bytes.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            return Err(io::Error::other(format!(
                "the output is larger than {} MiB",
                self.limit >> 20
            )));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

    #[test]
    fn the_subset_allows_what_workflows_use() {
        for ok in [
            "{{ locale.HELLO }}",
            "{{ config.services.docreader.url }}/api?x={{ TX }}",
            "{{ DOC_PHOTO | loadFromStorage | b64encode }}",
            "{%- if AGE >= 18 -%}adult{% elif AGE is defined %}minor{% else %}?{% endif %}",
            "{{ NAME | default('n/a') | upper }} {{ {'a': {'b': 1}} | tojson }}",
            "{{ AGE + 1 }} {{ [1, 2][0] }} {{ 'x' if (A or B) else 'y' }} {# a ~ comment #}",
            "5 * 3 ~ text outside tags {{ '~*' }} {{ \"\\\"~\" }}",
        ] {
            assert_eq!(check_syntax(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn the_subset_refuses_what_could_repeat_or_grow() {
        for (bad, why) in [
            ("{% for i in range(10) %}x{% endfor %}", "for"),
            ("{% set a = 1 %}", "set"),
            ("{%- macro m() %}{{ m() }}{% endmacro %}", "macro"),
            ("{% with a = 1 %}{% endwith %}", "with"),
            ("{% raw %}{% endraw %}", "raw"),
            ("{% include 'x' %}", "include"),
            ("{{ 'x' * 100000000 }}", "`*`"),
            ("{{ 2 ** 10 }}", "`*`"),
            ("{{ A ~ A }}", "`~`"),
            ("{% if A ~ B %}{% endif %}", "`~`"),
            ("{{ range(1000000000) }}", "calling `range`"),
            ("{{ lipsum(1000) }}", "calling `lipsum`"),
            ("{{ NAME.replace('a', 'bb') }}", "calling `replace`"),
            ("{{ NAME | replace('', 'xx') }}", "unknown filter `replace`"),
            ("{{ NAME | center(1000000000) }}", "unknown filter `center`"),
            ("{{ {'a': '}}'} ~ x }}", "`~`"),
            ("{{ 'it''s' }}{{ x ~ y }}", "`~`"),
        ] {
            let err = check_syntax(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn rendering_is_bounded_even_without_validation() {
        // `render_str` runs the subset check itself.
        let env = environment();
        let err = render_str(
            "{% for i in range(9) %}{% endfor %}",
            &env,
            &Jv::UNDEFINED,
            "p",
        )
        .unwrap_err();
        assert!(
            err.message.starts_with("p: template error"),
            "{}",
            err.message
        );
        // The output cap: a large value rendered many times.
        let big = "x".repeat(MAX_OUTPUT / 4 + 1);
        let vars: Jv = [("BIG", Jv::from(big))].into_iter().collect();
        let err = render_str("{{ BIG }}{{ BIG }}{{ BIG }}{{ BIG }}", &env, &vars, "p").unwrap_err();
        assert!(
            err.message.contains("larger than 64 MiB"),
            "{}",
            err.message
        );
        // Fuel: a long template runs out before it finishes.
        let long = "{{ A }}".repeat(FUEL as usize / 2);
        let err = render_str(&long, &env, &Jv::UNDEFINED, "p").unwrap_err();
        assert!(err.message.contains("too much work"), "{}", err.message);
        assert_eq!(
            render_str("{{ BIG | length }}", &env, &vars, "p").unwrap(),
            (MAX_OUTPUT / 4 + 1).to_string()
        );
    }
}
