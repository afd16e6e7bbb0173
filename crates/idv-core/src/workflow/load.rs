//! YAML (or JSON) text → `serde_json::Value`, with an index from each node's path
//! (`steps[3].conditions[0].transit.step`) to its 1-based line, built from yaml-rust2's events.
//!
//! Scalars follow the YAML 1.2 core schema as yaml-rust2 reads it: a quoted or block scalar is
//! always a string (`'true'` stays text), a plain one may be null, a bool, an int or a float.
//! Infinite and NaN floats have no JSON form and stay text.

use std::collections::HashMap;
use std::str::Chars;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

use super::Problem;

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;
/// Nodes a document may expand to, aliases included (refuses "billion laughs" documents).
const MAX_NODES: usize = 1_000_000;
/// Bytes a document may expand to: its scalars and keys (aliases included, so a long string
/// aliased many times counts every time) and the paths of its line index (a long key above a
/// long list repeats in every item's path).
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// Path → line, for attaching lines to problems found after parsing.
#[derive(Debug, Default)]
pub(crate) struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// The line of `path`, or of its nearest ancestor that has one (a missing key's problem
    /// points at the mapping that lacks it).
    pub(crate) fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some(*line);
            }
            p = parent(p)?;
        }
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → `""` → None.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind(['.', '[']).map_or("", |i| &path[..i]))
}

/// Joins a mapping key onto a path.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A parsed document: its JSON value, where each node was, and non-fatal problems (duplicate
/// keys) that the caller reports along with its own.
pub(crate) struct Document {
    pub value: Value,
    pub lines: LineIndex,
    pub problems: Vec<Problem>,
}

/// Parses one YAML document. A syntax error is a single problem carrying the scanner's line.
pub(crate) fn parse(text: &str) -> Result<Document, Problem> {
    let mut b = Builder {
        parser: Parser::new_from_str(text),
        lines: HashMap::new(),
        anchors: HashMap::new(),
        nodes: 0,
        value_bytes: 0,
        index_bytes: 0,
        problems: Vec::new(),
    };
    let value = b.document()?;
    Ok(Document {
        value,
        lines: LineIndex { lines: b.lines },
        problems: b.problems,
    })
}

fn problem(line: usize, message: impl Into<String>) -> Problem {
    Problem {
        path: String::new(),
        line: Some(line),
        message: message.into(),
    }
}

fn scan_problem(e: &ScanError) -> Problem {
    // The scanner looks ahead and has a nesting limit of its own; say the same as ours.
    if e.info().contains("recursion limit") {
        return problem(e.marker().line(), "the document is nested too deeply");
    }
    problem(
        e.marker().line(),
        format!("YAML syntax error: {}", e.info()),
    )
}

struct Builder<'a> {
    parser: Parser<Chars<'a>>,
    lines: HashMap<String, usize>,
    /// Anchor id → (value, node count, bytes of scalars and keys).
    anchors: HashMap<usize, (Value, usize, usize)>,
    nodes: usize,
    /// Bytes of scalars and keys so far, aliases expanded.
    value_bytes: usize,
    /// Bytes of the paths in the line index.
    index_bytes: usize,
    problems: Vec<Problem>,
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), Problem> {
        self.parser.next_token().map_err(|e| scan_problem(&e))
    }

    fn document(&mut self) -> Result<Value, Problem> {
        let mut root = None;
        loop {
            let (ev, mark) = self.next()?;
            match ev {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
                Event::StreamEnd => break,
                Event::DocumentStart if root.is_some() => {
                    return Err(problem(mark.line(), "only one YAML document is allowed"));
                }
                Event::DocumentStart => {
                    let (ev, mark) = self.next()?;
                    self.lines.insert(String::new(), mark.line());
                    root = Some(self.node(ev, mark, "", 0)?);
                }
                _ => return Err(problem(mark.line(), "unexpected YAML event")),
            }
        }
        root.ok_or_else(|| problem(1, "the document is empty"))
    }

    /// Spends `nodes` nodes and `bytes` bytes of value; refuses a document over the limits.
    fn count(&mut self, nodes: usize, bytes: usize, mark: Marker) -> Result<(), Problem> {
        self.nodes = self.nodes.saturating_add(nodes);
        self.value_bytes = self.value_bytes.saturating_add(bytes);
        self.check(mark)
    }

    fn check(&self, mark: Marker) -> Result<(), Problem> {
        if self.nodes > MAX_NODES {
            return Err(problem(
                mark.line(),
                format!(
                    "the document is too large (more than {MAX_NODES} nodes, aliases expanded)"
                ),
            ));
        }
        if self.value_bytes.saturating_add(self.index_bytes) > MAX_BYTES {
            return Err(problem(
                mark.line(),
                format!(
                    "the document is too large (it expands to more than {} MiB)",
                    MAX_BYTES >> 20
                ),
            ));
        }
        Ok(())
    }

    /// Records the line of `path`.
    fn index(&mut self, path: String, line: usize, mark: Marker) -> Result<(), Problem> {
        self.index_bytes = self.index_bytes.saturating_add(path.len());
        self.check(mark)?;
        self.lines.insert(path, line);
        Ok(())
    }

    fn node(
        &mut self,
        ev: Event,
        mark: Marker,
        path: &str,
        depth: usize,
    ) -> Result<Value, Problem> {
        if depth > MAX_DEPTH {
            return Err(problem(mark.line(), "the document is nested too deeply"));
        }
        let (start_nodes, start_bytes) = (self.nodes, self.value_bytes);
        let (value, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, text.len(), mark)?;
                (scalar(text, style, tag.as_ref()), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1, 0, mark)?;
                let mut items = Vec::new();
                loop {
                    let (ev, mark) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    let item_path = format!("{path}[{}]", items.len());
                    self.index(item_path.clone(), mark.line(), mark)?;
                    items.push(self.node(ev, mark, &item_path, depth + 1)?);
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.count(1, 0, mark)?;
                (Value::Object(self.mapping(path, depth)?), anchor)
            }
            Event::Alias(id) => {
                let Some(&(_, nodes, bytes)) = self.anchors.get(&id) else {
                    return Err(problem(mark.line(), "alias to an unknown anchor"));
                };
                // Counted before the copy is made, so a refused expansion costs nothing.
                self.count(nodes, bytes, mark)?;
                (self.anchors[&id].0.clone(), 0)
            }
            _ => return Err(problem(mark.line(), "unexpected YAML event")),
        };
        if anchor != 0 {
            let weight = (self.nodes - start_nodes, self.value_bytes - start_bytes);
            self.anchors
                .insert(anchor, (value.clone(), weight.0, weight.1));
        }
        Ok(value)
    }

    fn mapping(&mut self, path: &str, depth: usize) -> Result<Map<String, Value>, Problem> {
        let mut map = Map::new();
        loop {
            let (ev, mark) = self.next()?;
            let key = match ev {
                Event::MappingEnd => break,
                Event::Scalar(text, ..) => text,
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some((Value::String(s), ..)) => s.clone(),
                    Some((v @ (Value::Number(_) | Value::Bool(_)), ..)) => v.to_string(),
                    _ => return Err(problem(mark.line(), "mapping keys must be scalars")),
                },
                _ => return Err(problem(mark.line(), "mapping keys must be scalars")),
            };
            self.count(0, key.len(), mark)?;
            let key_path = join(path, &key);
            let (ev, value_mark) = self.next()?;
            let value = self.node(ev, value_mark, &key_path, depth + 1)?;
            if map.contains_key(&key) {
                self.problems.push(Problem {
                    path: key_path.clone(),
                    line: Some(mark.line()),
                    message: format!("duplicate key `{key}`"),
                });
            }
            // The key's line, not the value's: for a nested block the value starts a line later.
            self.index(key_path, mark.line(), mark)?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

const CORE_TAG: &str = "tag:yaml.org,2002:";

fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match tag {
        None => plain(text),
        Some(tag) if tag.handle == CORE_TAG => match tag.suffix.as_str() {
            "str" => Value::String(text),
            "null" | "bool" | "int" | "float" => plain(text),
            _ => Value::String(text),
        },
        Some(_) => Value::String(text),
    }
}

/// A plain scalar under the YAML 1.2 core schema.
fn plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let radix = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else {
        None
    };
    if let Some(i) = radix.or_else(|| text.parse::<i64>().ok()) {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    if text.bytes().any(|b| b.is_ascii_digit())
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> Value {
        parse(text)
            .map(|d| d.value)
            .unwrap_or_else(|p| panic!("{p}"))
    }

    #[test]
    fn scalars_follow_yaml_types() {
        let v = value(
            "a: 'true'\nb: true\nc: 18\nd: 0.8\ne: null\nf: ~\ng: ''\nh: \"18\"\ni: 1.0.0\nj: 0x1F\n\
             k: .inf\nl: -3\nm: !!str 12\nn: |\n  text\n",
        );
        assert_eq!(
            v,
            json!({"a": "true", "b": true, "c": 18, "d": 0.8, "e": null, "f": null, "g": "",
                   "h": "18", "i": "1.0.0", "j": 31, "k": ".inf", "l": -3, "m": "12", "n": "text\n"})
        );
        assert!(v["c"].is_i64());
        assert!(v["d"].is_f64());
    }

    #[test]
    fn json_is_accepted() {
        let v = value(r#"{"steps": [{"id": "A", "n": 1.5, "b": false}], "x": null}"#);
        assert_eq!(
            v,
            json!({"steps": [{"id": "A", "n": 1.5, "b": false}], "x": null})
        );
    }

    #[test]
    fn lines_are_indexed_by_path() {
        let text = "id: x\nsteps:\n  - id: A\n    transit:\n      step: B\n  - id: C\n";
        let doc = parse(text).unwrap();
        assert_eq!(doc.lines.line("id"), Some(1));
        assert_eq!(doc.lines.line("steps"), Some(2));
        assert_eq!(doc.lines.line("steps[0]"), Some(3));
        assert_eq!(doc.lines.line("steps[0].transit"), Some(4));
        assert_eq!(doc.lines.line("steps[0].transit.step"), Some(5));
        assert_eq!(doc.lines.line("steps[1].id"), Some(6));
        // A missing key falls back to its nearest ancestor.
        assert_eq!(doc.lines.line("steps[1].name"), Some(6));
        assert_eq!(doc.lines.line("steps[0].transit.status"), Some(4));
    }

    #[test]
    fn syntax_errors_carry_their_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").err().unwrap();
        assert!(err.line.is_some_and(|l| l >= 2), "{err:?}");
        assert!(err.message.contains("YAML syntax error"), "{err:?}");
        let err = parse("a: 1\n  b: 2\n").err().unwrap();
        assert_eq!(err.line, Some(2), "{err:?}");
    }

    #[test]
    fn duplicate_keys_are_problems() {
        let doc = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(doc.problems.len(), 1);
        assert_eq!(doc.problems[0].path, "a");
        assert_eq!(doc.problems[0].line, Some(3));
    }

    #[test]
    fn anchors_expand_and_bombs_are_refused() {
        assert_eq!(
            value("a: &x [1, 2]\nb: *x\n"),
            json!({"a": [1, 2], "b": [1, 2]})
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&bomb).err().unwrap();
        assert!(err.message.contains("too large"), "{err:?}");
    }

    #[test]
    fn expansion_is_bounded_in_bytes_too() {
        // Few nodes, but a 256 KiB string aliased 300 times.
        let long = "x".repeat(256 << 10);
        let aliases = vec!["*s"; 300].join(", ");
        let err = parse(&format!("s: &s {long}\nl: [{aliases}]\n"))
            .err()
            .unwrap();
        assert!(err.message.contains("more than 64 MiB"), "{err:?}");
        assert_eq!(err.line, Some(2));
        // The same as keys.
        let keys: String = (0..300).map(|i| format!("  *s : {i}\n")).collect();
        let err = parse(&format!("s: &s {long}\nm:\n{keys}")).err().unwrap();
        assert!(err.message.contains("more than 64 MiB"), "{err:?}");
        // A long (explicit) key above a long list: every item's path repeats the key.
        let key = "k".repeat(64 * 1024);
        let items = vec!["1"; 2000].join(",");
        let err = parse(&format!("? {key}\n: [{items}]\n")).err().unwrap();
        assert!(err.message.contains("more than 64 MiB"), "{err:?}");
        // Ten aliases of it are fine.
        let ten = ["*s"; 10].join(", ");
        assert!(parse(&format!("s: &s {long}\nl: [{ten}]\n")).is_ok());
    }

    #[test]
    fn deep_nesting_and_odd_documents_are_refused() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let err = parse(&deep).err().unwrap();
        assert!(err.message.contains("nested too deeply"), "{err:?}");
        assert!(parse("").err().unwrap().message.contains("empty"));
        assert!(
            parse("a: 1\n---\nb: 2\n")
                .err()
                .unwrap()
                .message
                .contains("one YAML document")
        );
        assert!(
            parse("? [a]\n: 1\n")
                .err()
                .unwrap()
                .message
                .contains("keys must be scalars")
        );
    }
}
