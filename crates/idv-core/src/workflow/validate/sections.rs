//! Building the sections other than steps: properties, files (with their JSON Schemas), rules
//! (statements and scripts), transformers, actions and normalizers.

use std::sync::Arc;

use serde_json::Value;

use super::{Checker, Entry, Obj};
use crate::workflow::easyjson::EasyRule;
use crate::workflow::load::join;
use crate::workflow::model::*;
use crate::workflow::{script, transform};

impl Checker<'_> {
    pub(super) fn property(&mut self, e: &Entry<'_>) -> Option<Property> {
        let ty = self.text(e.map, "type", &e.path, true)?;
        let kind = PropertyType::parse(&ty);
        if kind.is_none() {
            self.report(
                &join(&e.path, "type"),
                format!(
                    "unknown property type `{ty}` (expected str, int, bool, decimal or binary)"
                ),
            );
        }
        Some(Property {
            id: e.id.clone(),
            kind: kind?,
        })
    }

    pub(super) fn file(&mut self, e: &Entry<'_>) -> Option<FileSpec> {
        let kind = self
            .text(e.map, "type", &e.path, false)
            .unwrap_or_else(|| "UNKNOWN".into());
        let content_type = self.text(e.map, "contentType", &e.path, false);
        let schema_path = join(&e.path, "jsonSchema");
        let schema = match e.map.get("jsonSchema") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(schema) => Some(schema),
                Err(err) => {
                    self.report(
                        &schema_path,
                        format!("`jsonSchema` is not valid JSON: {err}"),
                    );
                    return None;
                }
            },
            // A schema written as YAML rather than as JSON text is accepted as is.
            Some(schema @ Value::Object(_)) => Some(schema.clone()),
            Some(_) => {
                self.report(&schema_path, "`jsonSchema` must be JSON text");
                return None;
            }
        };
        // Compiled once here; `$schema` picks the draft (Regula's files say draft-04).
        let json_schema = match schema.as_ref().map(jsonschema::validator_for) {
            None => None,
            Some(Ok(validator)) => Some(Arc::new(validator)),
            Some(Err(err)) => {
                self.report(
                    &schema_path,
                    format!("`jsonSchema` is not a valid schema: {err}"),
                );
                return None;
            }
        };
        Some(FileSpec {
            id: e.id.clone(),
            kind,
            content_type,
            json_schema,
            schema: schema.map(Arc::new),
        })
    }

    pub(super) fn rule(&mut self, e: &Entry<'_>) -> Option<Rule> {
        let name = self
            .text(e.map, "name", &e.path, false)
            .unwrap_or_else(|| e.id.clone());
        let precondition = match e.map.get("precondition") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.predicate(v, &join(&e.path, "precondition"))),
        };
        let condition_path = join(&e.path, "condition");
        let condition = match e.map.get("condition") {
            None | Some(Value::Null) => {
                self.report(&condition_path, "missing `condition`");
                None
            }
            Some(v) => self.predicate(v, &condition_path),
        };
        let precondition = match precondition {
            None => None,
            Some(p) => Some(p?),
        };
        Some(Rule {
            id: e.id.clone(),
            name,
            precondition,
            condition: condition?,
        })
    }

    pub(super) fn predicate(&mut self, v: &Value, path: &str) -> Option<Predicate> {
        let m = self.object(v, path)?;
        let kind = self.text(m, "type", path, false);
        let kind = kind.as_deref().unwrap_or(if m.contains_key("script") {
            "script"
        } else {
            "statement"
        });
        match kind {
            "statement" => self.statement(m, path).map(Predicate::Statement),
            "script" => {
                let source = self.text(m, "script", path, true)?;
                match script::parse(&source) {
                    Ok(expr) => Some(Predicate::Script(Script { source, expr })),
                    Err(err) => {
                        self.report(&join(path, "script"), format!("invalid script: {err}"));
                        None
                    }
                }
            }
            other => {
                let msg =
                    format!("unknown condition type `{other}` (expected statement or script)");
                self.report(&join(path, "type"), msg);
                None
            }
        }
    }

    pub(super) fn logic(&mut self, m: &Obj, path: &str) -> Option<Logic> {
        match self.text(m, "op", path, false).as_deref() {
            None | Some("$and") => Some(Logic::And),
            Some("$or") => Some(Logic::Or),
            Some(other) => {
                self.report(
                    &join(path, "op"),
                    format!("unknown operator `{other}` (expected $and or $or)"),
                );
                None
            }
        }
    }

    pub(super) fn statement(&mut self, m: &Obj, path: &str) -> Option<Statement> {
        let op = self.logic(m, path);
        if !m.contains_key("groups") {
            self.report(&join(path, "groups"), "missing `groups`");
        }
        let mut groups = Vec::new();
        let mut ok = true;
        for (i, g) in self.list(m, "groups", path).iter().enumerate() {
            let gp = format!("{}[{i}]", join(path, "groups"));
            let Some(gm) = self.object(g, &gp) else {
                ok = false;
                continue;
            };
            let gop = self.logic(gm, &gp);
            let mut conditions = Vec::new();
            for (j, c) in self.list(gm, "conditions", &gp).iter().enumerate() {
                let cp = format!("{}[{j}]", join(&gp, "conditions"));
                match self.clause(c, &cp) {
                    Some(clause) => conditions.push(clause),
                    None => ok = false,
                }
            }
            match gop {
                Some(op) => groups.push(Group { op, conditions }),
                None => ok = false,
            }
        }
        ok.then_some(Statement { op: op?, groups })
    }

    pub(super) fn clause(&mut self, v: &Value, path: &str) -> Option<Clause> {
        let m = self.object(v, path)?;
        let property = self.text(m, "property", path, true);
        let op_text = self.text(m, "op", path, true)?;
        let Some(op) = Operator::parse(&op_text) else {
            let msg = format!(
                "unknown operator `{op_text}` (expected $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte or $exists)"
            );
            self.report(&join(path, "op"), msg);
            return None;
        };
        let value = m.get("value").cloned();
        match (&value, op) {
            (None, Operator::Exists) => {}
            (None, _) => self.report(&join(path, "value"), format!("`{op_text}` needs a `value`")),
            (Some(Value::Array(_)), Operator::In | Operator::Nin) => {}
            (Some(_), Operator::In | Operator::Nin) => {
                self.report(&join(path, "value"), format!("`{op_text}` needs a list"));
            }
            _ => {}
        }
        Some(Clause {
            property: property?,
            op,
            value,
        })
    }

    pub(super) fn transformer(&mut self, e: &Entry<'_>) -> Option<Transformer> {
        let name = self
            .text(e.map, "name", &e.path, false)
            .unwrap_or_else(|| e.id.clone());
        let kind = match self.text(e.map, "type", &e.path, true)?.as_str() {
            "json" => TransformerKind::Json,
            "easyjson" => TransformerKind::EasyJson,
            "binary" => TransformerKind::Binary,
            other => TransformerKind::Other(other.to_owned()),
        };
        let mut extracts = Vec::new();
        for (i, x) in self.list(e.map, "extracts", &e.path).iter().enumerate() {
            let p = format!("{}.extracts[{i}]", e.path);
            let Some(xm) = self.object(x, &p) else {
                continue;
            };
            let Some(property) = self.text(xm, "id", &p, true) else {
                continue;
            };
            if !self.known.properties.contains(&property) {
                self.report(&join(&p, "id"), format!("unknown property `{property}`"));
            }
            let rule = if kind == TransformerKind::Json {
                let Some(source) = self.text(xm, "rule", &p, true) else {
                    continue;
                };
                match transform::compile_jsonpath(&source) {
                    Ok(path) => ExtractRule::JsonPath { source, path },
                    Err(err) => {
                        self.report(
                            &join(&p, "rule"),
                            format!("invalid JSONPath `{source}`: {err}"),
                        );
                        continue;
                    }
                }
            } else {
                let raw = xm.get("rule").cloned().unwrap_or(Value::Null);
                // Checked here so a bad rule is a load-time problem, never a runtime surprise.
                if kind == TransformerKind::EasyJson
                    && let Err(err) = EasyRule::parse(&raw)
                {
                    self.report(&join(&p, "rule"), err);
                    continue;
                }
                ExtractRule::Raw(raw)
            };
            extracts.push(Extract { property, rule });
        }
        Some(Transformer {
            id: e.id.clone(),
            name,
            kind,
            extracts,
        })
    }

    pub(super) fn file_ref(&mut self, m: &Obj, path: &str) -> Option<String> {
        let file_id = self.text(m, "fileId", path, false)?;
        if !self.known.files.contains(&file_id) {
            self.report(&join(path, "fileId"), format!("unknown file `{file_id}`"));
        }
        Some(file_id)
    }

    pub(super) fn action(&mut self, e: &Entry<'_>) -> Option<Action> {
        let name = self
            .text(e.map, "name", &e.path, false)
            .unwrap_or_else(|| e.id.clone());
        let kind_text = self
            .text(e.map, "type", &e.path, false)
            .unwrap_or_else(|| "http".into());
        let Some(kind) = ActionKind::parse(&kind_text) else {
            let known: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
            self.report(
                &join(&e.path, "type"),
                format!(
                    "unknown action type `{kind_text}` (expected {})",
                    known.join(" or ")
                ),
            );
            return None;
        };
        let file_id = self.file_ref(e.map, &e.path);
        let transformers = self.refs(
            e.map,
            "transformers",
            &e.path,
            |k| &k.transformers,
            "transformer",
        );
        let options = e.map.get("options").cloned().unwrap_or(Value::Null);
        self.templates(&options, &join(&e.path, "options"));
        if kind == ActionKind::Mrz {
            self.mrz_options(&options, &join(&e.path, "options"));
        }
        let when = match e.map.get("when") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.predicate(v, &join(&e.path, "when"))?),
        };
        let retry = e.map.get("retry").filter(|v| !v.is_null()).cloned();
        Some(Action {
            id: e.id.clone(),
            name,
            kind,
            file_id,
            transformers,
            options,
            retry,
            when,
        })
    }

    /// An `mrz` action takes one option, `mrz`: the template of the text to read.
    fn mrz_options(&mut self, options: &Value, path: &str) {
        const HINT: &str = "the MRZ text to read, a template such as \"{{ MRZ_TEXT }}\"";
        let Some(m) = options.as_object() else {
            self.report(
                path,
                format!("an mrz action needs `options` with `mrz`: {HINT}"),
            );
            return;
        };
        for key in m.keys().filter(|k| k.as_str() != "mrz") {
            self.report(
                &join(path, key),
                format!("unknown option `{key}` of an mrz action (it takes only `mrz`: {HINT})"),
            );
        }
        let p = join(path, "mrz");
        match m.get("mrz") {
            None | Some(Value::Null) => self.report(&p, format!("missing `mrz`: {HINT}")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.report(&p, format!("`mrz` must not be empty: {HINT}"));
            }
            Some(Value::String(_)) => {}
            Some(_) => self.report(&p, format!("`mrz` must be text: {HINT}")),
        }
    }

    pub(super) fn normalizer(&mut self, e: &Entry<'_>) -> Option<Normalizer> {
        let name = self
            .text(e.map, "name", &e.path, false)
            .unwrap_or_else(|| e.id.clone());
        let rules = self.rule_refs(e.map, "rules", &e.path);
        let kind = self.text(e.map, "type", &e.path, true)?;
        let raw = Value::Object(e.map.clone());
        Some(Normalizer {
            id: e.id.clone(),
            name,
            kind,
            rules,
            raw,
        })
    }
}
