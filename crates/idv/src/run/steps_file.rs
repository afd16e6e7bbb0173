//! The steps file of `idv workflow run` (`--data STEPS.json`): the session's locale, metadata
//! and template config, the step submissions in order, and the canned answers of the
//! workflow's HTTP actions. The format is described in [`super::STEPS_HELP`].
//!
//! Everything is checked before the run starts, and every problem names where it is
//! (`actions.LIVENESS_STATUS[1].status: …`), so a typo never turns into a puzzling run.

use base64::Engine as _;
use idv_core::workflow::engine::{ActionResponse, sniff_content_type};
use idv_core::workflow::{ActionKind, Workflow};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// One step submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub step: String,
    pub data: Value,
}

/// What a canned action call answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Canned {
    Response(ActionResponse),
    /// The call fails before any response: `timeout`, or a transport error with this message.
    Error(String),
}

/// A checked steps file.
#[derive(Debug)]
pub struct StepsFile {
    /// As given (normalized like the server's: lower case, `-`), if given.
    pub locale: Option<String>,
    pub metadata: Map<String, Value>,
    /// What templates see as `config`: the defaults with the file's `config` merged over them.
    pub config: Value,
    pub steps: Vec<Submission>,
    /// Action id → its answers, one per call; the last one repeats.
    pub actions: HashMap<String, Vec<Canned>>,
    pub expire: bool,
}

/// The `config` templates see when the steps file gives none: the server's shape
/// (`flow::template_config`) with made-up service addresses.
pub fn default_config() -> Value {
    json!({
        "baseUrl": "http://localhost:8000",
        "services": {
            "docreader": {"enabled": true, "prefix": "drapi", "url": "http://docreader"},
            "faceapi": {"enabled": true, "prefix": "faceapi", "url": "http://faceapi"},
        },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    config: Option<Map<String, Value>>,
    #[serde(default)]
    steps: Vec<Submission>,
    #[serde(default)]
    actions: BTreeMap<String, Responses>,
    #[serde(default)]
    expire: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawResponse {
    status: Option<u16>,
    body: Option<Value>,
    body_base64: Option<String>,
    body_file: Option<String>,
    content_type: Option<String>,
    error: Option<String>,
}

/// One response object or a list of them (`listed`), so paths can say `[i]` only for lists.
struct Responses {
    items: Vec<RawResponse>,
    listed: bool,
}

impl<'de> Deserialize<'de> for Responses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Responses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a response object or a list of them (one per call)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Responses, A::Error> {
                let one =
                    RawResponse::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Responses {
                    items: vec![one],
                    listed: false,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Responses, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Responses {
                    items,
                    listed: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses and checks a steps file; `dir` is where `bodyFile` paths start. The error says
/// where the problem is and what to change.
pub fn parse(text: &str, dir: &Path, wf: &Workflow) -> Result<StepsFile, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: RawFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })?;
    de.end().map_err(|e| e.to_string())?;

    let mut config = default_config();
    if let Some(c) = raw.config {
        merge(&mut config, Value::Object(c));
    }
    let mut actions = HashMap::new();
    for (id, responses) in raw.actions {
        if wf.action(&id).is_none() {
            let mut known: Vec<&str> = wf
                .definition()
                .get("actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|a| a.get("id")?.as_str()).collect())
                .unwrap_or_default();
            known.sort_unstable();
            return Err(format!(
                "actions.{id}: the workflow has no action {id}; its actions are: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        if wf.action(&id).is_some_and(|a| a.kind != ActionKind::Http) {
            return Err(format!(
                "actions.{id}: action {id} is not an HTTP action (type {}): it runs natively and \
                 takes no canned response; remove this entry",
                wf.action(&id).map_or("", |a| a.kind.as_str())
            ));
        }
        if responses.items.is_empty() {
            return Err(format!(
                "actions.{id}: the list is empty; give at least one response"
            ));
        }
        let mut canned = Vec::with_capacity(responses.items.len());
        for (i, r) in responses.items.into_iter().enumerate() {
            let path = if responses.listed {
                format!("actions.{id}[{i}]")
            } else {
                format!("actions.{id}")
            };
            canned.push(response(r, &path, dir)?);
        }
        actions.insert(id, canned);
    }
    let locale = raw
        .locale
        .map(|l| l.trim().to_ascii_lowercase().replace('_', "-"))
        .filter(|l| !l.is_empty());
    Ok(StepsFile {
        locale,
        metadata: raw.metadata.unwrap_or_default(),
        config,
        steps: raw.steps,
        actions,
        expire: raw.expire,
    })
}

fn response(r: RawResponse, path: &str, dir: &Path) -> Result<Canned, String> {
    let bodies = [
        r.body.is_some(),
        r.body_base64.is_some(),
        r.body_file.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    if let Some(error) = r.error {
        if r.status.is_some() || bodies > 0 || r.content_type.is_some() {
            return Err(format!(
                "{path}: `error` stands for a call that got no response; leave out status, \
                 body and contentType, or leave out `error`"
            ));
        }
        if error.trim().is_empty() {
            return Err(format!(
                "{path}.error: say what failed: \"timeout\" or a transport error message"
            ));
        }
        return Ok(Canned::Error(error));
    }
    if bodies > 1 {
        return Err(format!(
            "{path}: give one of body, bodyBase64 and bodyFile, not several"
        ));
    }
    let status = r.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(format!(
            "{path}.status: {status} is not an HTTP status (100 to 599)"
        ));
    }
    let (body, content_type) = if let Some(body) = r.body {
        let bytes = serde_json::to_vec(&body).map_err(|e| format!("{path}.body: {e}"))?;
        (bytes, Some("application/json".to_owned()))
    } else if let Some(text) = r.body_base64 {
        let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.as_bytes())
            })
            .map_err(|e| format!("{path}.bodyBase64: not standard base64: {e}"))?;
        let sniffed = sniff_content_type(&bytes).to_owned();
        (bytes, Some(sniffed))
    } else if let Some(file) = r.body_file {
        let full = dir.join(&file);
        let bytes = std::fs::read(&full)
            .map_err(|e| format!("{path}.bodyFile: cannot read {}: {e}", full.display()))?;
        let sniffed = sniff_content_type(&bytes).to_owned();
        (bytes, Some(sniffed))
    } else {
        (Vec::new(), None)
    };
    Ok(Canned::Response(ActionResponse {
        status,
        content_type: r.content_type.or(content_type),
        body,
    }))
}

/// Merges `over` into `base`: objects key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow() -> Workflow {
        let text = r#"
id: w
name: W
steps:
  - {id: A, type: DATA, final: true}
actions:
  - {id: CALL, name: CALL, type: http, options: {url: "http://x"}}
  - {id: PHOTO, name: PHOTO, type: http, options: {url: "http://x"}}
  - {id: READ, name: READ, type: mrz, options: {mrz: "{{ MRZ }}"}}
"#;
        match idv_core::workflow::load(text) {
            Ok(idv_core::workflow::Loaded::Workflow(wf)) => *wf,
            other => panic!("{other:?}"),
        }
    }

    fn parse_str(text: &str) -> Result<StepsFile, String> {
        parse(text, Path::new("."), &workflow())
    }

    #[test]
    fn single_responses_lists_and_errors() {
        let f = parse_str(
            r#"{"config": {"services": {"docreader": {"url": "http://dr"}}},
                "steps": [{"step": "A", "data": {"x": 1}}],
                "actions": {"CALL": [{"status": 500}, {"body": {"ok": true}}],
                            "PHOTO": {"bodyBase64": "/9j/4A==", "status": 404}},
                "expire": true}"#,
        )
        .unwrap();
        assert!(f.expire);
        assert_eq!(f.config["services"]["docreader"]["url"], "http://dr");
        // Defaults stay where the file says nothing.
        assert_eq!(f.config["services"]["docreader"]["prefix"], "drapi");
        assert_eq!(f.config["baseUrl"], "http://localhost:8000");
        let call = &f.actions["CALL"];
        assert_eq!(call.len(), 2);
        assert_eq!(
            call[1],
            Canned::Response(ActionResponse {
                status: 200,
                content_type: Some("application/json".into()),
                body: br#"{"ok":true}"#.to_vec(),
            })
        );
        let Canned::Response(photo) = &f.actions["PHOTO"][0] else {
            panic!()
        };
        assert_eq!(photo.status, 404);
        assert_eq!(photo.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(photo.body, vec![0xFF, 0xD8, 0xFF, 0xE0]);
        let f = parse_str(r#"{"actions": {"CALL": {"error": "timeout"}}}"#).unwrap();
        assert_eq!(f.actions["CALL"], vec![Canned::Error("timeout".into())]);
    }

    #[test]
    fn problems_name_their_place() {
        let cases = [
            (
                r#"{"actions": {"CALL": [{"status": 200}, {"staus": 200}]}}"#,
                "actions.CALL[1].staus: unknown field `staus`",
            ),
            (
                r#"{"actions": {"CALL": {"status": 700}}}"#,
                "actions.CALL.status: 700 is not an HTTP status",
            ),
            (
                r#"{"actions": {"CAL": {"status": 200}}}"#,
                "actions.CAL: the workflow has no action CAL; its actions are: CALL, PHOTO, READ",
            ),
            (
                r#"{"actions": {"READ": {"status": 200}}}"#,
                "actions.READ: action READ is not an HTTP action (type mrz): it runs natively",
            ),
            (
                r#"{"steps": [{"step": "A"}]}"#,
                "steps[0]: missing field `data`",
            ),
            (
                r#"{"actions": {"CALL": {"error": "timeout", "status": 200}}}"#,
                "actions.CALL: `error` stands for a call",
            ),
            (
                r#"{"actions": {"CALL": {"body": 1, "bodyFile": "x"}}}"#,
                "actions.CALL: give one of body",
            ),
            (
                r#"{"actions": {"CALL": {"bodyFile": "no-such-file.bin"}}}"#,
                "actions.CALL.bodyFile: cannot read ./no-such-file.bin",
            ),
            (
                r#"{"actions": {"CALL": []}}"#,
                "actions.CALL: the list is empty",
            ),
            (r#"{"steps": 3}"#, "steps: invalid type: integer `3`"),
            (r#"{"steps": []} x"#, "trailing characters"),
        ];
        for (text, expected) in cases {
            let e = parse_str(text).unwrap_err();
            assert!(
                e.starts_with(expected) || e.contains(expected),
                "{text}: {e}"
            );
        }
    }
}
