//! Building steps (conditions, attempts, action references, client templates) and events.

use serde_json::Value;

use super::{Checker, Entry, Obj};
use crate::workflow::load::join;
use crate::workflow::model::*;
use crate::workflow::template;

impl Checker<'_> {
    pub(super) fn step(&mut self, e: &Entry<'_>) -> Option<Step> {
        let (m, path) = (e.map, e.path.as_str());
        let name = self
            .text(m, "name", path, false)
            .unwrap_or_else(|| e.id.clone());
        let kind_text = self.text(m, "type", path, true);
        let kind = kind_text.as_deref().and_then(StepKind::parse);
        if let (Some(text), None) = (&kind_text, kind) {
            self.report(
                &join(path, "type"),
                format!("unknown step type `{text}` (expected DATA or PROCESSING)"),
            );
        }
        let is_final = self.flag(m, "final", path, false);
        let file_id = self.file_ref(m, path);
        let cancel_lifetime_timer = self.flag(m, "cancelLifetimeTimer", path, false);
        let client = m.get("client").filter(|v| !v.is_null()).cloned();
        if let Some(client) = &client {
            self.templates(client, &join(path, "client"));
        }
        let transformers = self.refs(m, "transformers", path, |k| &k.transformers, "transformer");
        let normalizers = self.refs(m, "normalizers", path, |k| &k.normalizers, "normalizer");
        let actions = self.step_actions(m, path);
        let conditions = self.conditions(m, path);
        let attempts = match m.get("attempts") {
            None | Some(Value::Null) => None,
            Some(v) => self.attempts(v, &join(path, "attempts")),
        };
        Some(Step {
            id: e.id.clone(),
            name,
            kind: kind?,
            is_final,
            file_id,
            cancel_lifetime_timer,
            client,
            transformers,
            actions,
            conditions,
            normalizers,
            attempts,
        })
    }

    pub(super) fn step_actions(&mut self, m: &Obj, path: &str) -> Vec<StepAction> {
        let mut out = Vec::new();
        for (i, item) in self.list(m, "actions", path).iter().enumerate() {
            let p = format!("{path}.actions[{i}]");
            let Some(am) = self.object(item, &p) else {
                continue;
            };
            let Some(id) = self.text(am, "id", &p, true) else {
                continue;
            };
            if !self.known.actions.contains(&id) {
                self.report(&join(&p, "id"), format!("unknown action `{id}`"));
            }
            let is_async = self.flag(am, "async", &p, false);
            out.push(StepAction { id, is_async });
        }
        out
    }

    pub(super) fn conditions(&mut self, m: &Obj, path: &str) -> Vec<Condition> {
        let mut out = Vec::new();
        for (i, c) in self.list(m, "conditions", path).iter().enumerate() {
            let p = format!("{path}.conditions[{i}]");
            let Some(cm) = self.object(c, &p) else {
                continue;
            };
            let name = self
                .text(cm, "name", &p, false)
                .unwrap_or_else(|| format!("conditions[{i}]"));
            let operator = match self.text(cm, "operator", &p, false).as_deref() {
                None | Some("all") => Some(MatchOperator::All),
                Some("any") => Some(MatchOperator::Any),
                Some(other) => {
                    self.report(
                        &join(&p, "operator"),
                        format!("unknown operator `{other}` (expected all or any)"),
                    );
                    None
                }
            };
            let rules = self.rule_refs(cm, "rules", &p);
            let transit = match cm.get("transit") {
                None | Some(Value::Null) => {
                    self.report(&join(&p, "transit"), "missing `transit`");
                    None
                }
                Some(v) => self.transit(v, &join(&p, "transit")),
            };
            if let (Some(transit), Some(operator)) = (transit, operator) {
                out.push(Condition {
                    name,
                    transit,
                    operator,
                    rules,
                });
            }
        }
        out
    }

    pub(super) fn attempts(&mut self, v: &Value, path: &str) -> Option<Attempts> {
        let m = self.object(v, path)?;
        let count = match self.int(m, "count", path) {
            Some(n) => u32::try_from(n).ok().or_else(|| {
                self.report(&join(path, "count"), "`count` must not be negative");
                None
            }),
            None if m.get("count").is_none_or(Value::is_null) => {
                self.report(&join(path, "count"), "missing `count`");
                None
            }
            None => None,
        };
        let transit = match m.get("transit") {
            None | Some(Value::Null) => {
                self.report(&join(path, "transit"), "missing `transit`");
                None
            }
            Some(t) => self.transit(t, &join(path, "transit")),
        };
        Some(Attempts {
            count: count?,
            transit: transit?,
        })
    }

    pub(super) fn events(&mut self, root: &Obj) -> Events {
        let Some(v) = root.get("events").filter(|v| !v.is_null()) else {
            return Events::default();
        };
        let Some(m) = self.object(v, "events") else {
            return Events::default();
        };
        let mut one = |key: &str| {
            let p = join("events", key);
            let em = m.get(key).filter(|v| !v.is_null())?;
            let em = self.object(em, &p)?;
            match em.get("transit") {
                None | Some(Value::Null) => {
                    self.report(&join(&p, "transit"), "missing `transit`");
                    None
                }
                Some(t) => self.transit(t, &join(&p, "transit")),
            }
        };
        Events {
            on_error: one("onError"),
            on_timeout: one("onTimeout"),
        }
    }

    /// Every template string under `v` must parse.
    pub(super) fn templates(&mut self, v: &Value, path: &str) {
        match v {
            Value::String(s) if template::is_template(s) => {
                if let Err(err) = template::check_syntax(s) {
                    self.report(path, err);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.templates(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    self.templates(item, &join(path, k));
                }
            }
            _ => {}
        }
    }
}
