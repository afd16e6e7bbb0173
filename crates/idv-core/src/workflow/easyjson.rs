//! The `easyjson` extractor: a path-and-filter lookup over Document Reader results.
//!
//! A rule is `{key, path?, filters?}`, e.g.
//! `{key: value, path: ContainerList.List.Images.fieldList.valueList,
//!   filters: {fieldList: {fieldType: 201}, valueList: {containerType: 6}}}`.
//!
//! - `path` is walked one dot-separated segment at a time. Arrays are searched through wherever
//!   they appear (between segments and at the end): each element is tried in order, depth-first,
//!   and the first that yields a value wins. So `ContainerList.List.Text` finds the first
//!   container in `List` that has a `Text`.
//! - At a segment named in `filters`, only the elements (or the single object) reached through it
//!   whose fields equal *all* the filter's values are kept. Numbers compare numerically (`0` and
//!   `0.0` are equal), everything else exactly (`"25"` is not `25`).
//! - At the end of the path, `key` is read.
//! - Without `path`, `key` is searched for anywhere: the first object holding it, in document
//!   order, depth-first (an object's own field before its children's). Filters still apply to
//!   the fields they name on the way down.
//!
//! A `null` is not a value: the search carries on past it.

use serde_json::{Map, Value};

/// A parsed `easyjson` extract rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EasyRule {
    pub key: String,
    /// Empty when the rule has no `path`.
    pub path: Vec<String>,
    /// Segment name → the fields an element reached through it must have.
    pub filters: Map<String, Value>,
}

impl EasyRule {
    /// Reads `{key, path?, filters?}`; the error says what is wrong.
    pub(crate) fn parse(rule: &Value) -> Result<EasyRule, String> {
        let Value::Object(m) = rule else {
            return Err("an easyjson rule must be a mapping with `key`".into());
        };
        let key = match m.get("key") {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            _ => return Err("an easyjson rule needs a non-empty string `key`".into()),
        };
        let path = match m.get("path") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(p)) if p.split('.').all(|s| !s.is_empty()) => {
                p.split('.').map(str::to_owned).collect()
            }
            Some(_) => {
                return Err(
                    "`path` must be dot-separated field names, e.g. `ContainerList.List`".into(),
                );
            }
        };
        let filters = match m.get("filters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(f)) => {
                if let Some((name, _)) = f.iter().find(|(_, v)| !v.is_object()) {
                    return Err(format!(
                        "`filters.{name}` must be a mapping of field → value"
                    ));
                }
                f.clone()
            }
            Some(_) => return Err("`filters` must be a mapping of segment → fields".into()),
        };
        Ok(EasyRule { key, path, filters })
    }

    /// The first value the rule finds in `doc`, or `None`.
    pub(crate) fn extract<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        if self.path.is_empty() {
            self.anywhere(doc)
        } else {
            self.walk(doc, &self.path)
        }
    }

    fn walk<'v>(&self, node: &'v Value, rest: &[String]) -> Option<&'v Value> {
        match node {
            Value::Array(items) => items.iter().find_map(|item| self.walk(item, rest)),
            Value::Object(m) => match rest.split_first() {
                None => m.get(&self.key).filter(|v| !v.is_null()),
                Some((segment, rest)) => {
                    let child = m.get(segment)?;
                    self.descend(segment, child, |v| self.walk(v, rest))
                }
            },
            _ => None,
        }
    }

    fn anywhere<'v>(&self, node: &'v Value) -> Option<&'v Value> {
        match node {
            Value::Array(items) => items.iter().find_map(|item| self.anywhere(item)),
            Value::Object(m) => {
                if let Some(v) = m.get(&self.key).filter(|v| !v.is_null()) {
                    return Some(v);
                }
                m.iter()
                    .find_map(|(name, child)| self.descend(name, child, |v| self.anywhere(v)))
            }
            _ => None,
        }
    }

    /// Goes on into `child` (reached through field `segment`), keeping only what its filter
    /// allows: matching elements of an array, or the object itself when it matches.
    fn descend<'v>(
        &self,
        segment: &str,
        child: &'v Value,
        go: impl Fn(&'v Value) -> Option<&'v Value>,
    ) -> Option<&'v Value> {
        let Some(Value::Object(filter)) = self.filters.get(segment) else {
            return go(child);
        };
        match child {
            Value::Array(items) => items
                .iter()
                .filter(|item| matches_filter(item, filter))
                .find_map(go),
            other if matches_filter(other, filter) => go(other),
            _ => None,
        }
    }
}

/// True when `item` is an object whose fields equal every value in `filter`.
fn matches_filter(item: &Value, filter: &Map<String, Value>) -> bool {
    let Value::Object(fields) = item else {
        return false;
    };
    filter
        .iter()
        .all(|(name, want)| fields.get(name).is_some_and(|have| same(have, want)))
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> EasyRule {
        EasyRule::parse(&v).unwrap()
    }

    #[test]
    fn parse_rejects_malformed_rules() {
        assert!(EasyRule::parse(&json!("value")).is_err());
        assert!(EasyRule::parse(&json!({"path": "a.b"})).is_err());
        assert!(EasyRule::parse(&json!({"key": ""})).is_err());
        assert!(EasyRule::parse(&json!({"key": "v", "path": "a..b"})).is_err());
        assert!(EasyRule::parse(&json!({"key": "v", "path": 3})).is_err());
        assert!(EasyRule::parse(&json!({"key": "v", "filters": {"a": 1}})).is_err());
        assert!(EasyRule::parse(&json!({"key": "v", "filters": [1]})).is_err());
        let r = rule(json!({"key": "v", "path": "a.b", "filters": {"b": {"t": 1}}}));
        assert_eq!(r.path, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(r.filters.len(), 1);
    }

    #[test]
    fn arrays_are_searched_and_filters_must_all_match() {
        let doc = json!({"L": [
            {"Other": {"x": 1}},
            {"T": {"f": [
                {"t": 25, "l": 1, "v": "wrong lcid"},
                {"t": 25.0, "l": 0, "v": null},
                {"t": 25, "l": 0, "v": "ANNA"},
                {"t": 25, "l": 0, "v": "second"}
            ]}}
        ]});
        let r = rule(json!({"key": "v", "path": "L.T.f", "filters": {"f": {"t": 25, "l": 0}}}));
        assert_eq!(r.extract(&doc), Some(&json!("ANNA")));
        let r = rule(json!({"key": "v", "path": "L.T.f", "filters": {"f": {"t": "25"}}}));
        assert_eq!(r.extract(&doc), None);
        let r = rule(json!({"key": "v", "path": "L.T.f", "filters": {"f": {"t": 9}}}));
        assert_eq!(r.extract(&doc), None);
        let r = rule(json!({"key": "x", "path": "L.Other"}));
        assert_eq!(r.extract(&doc), Some(&json!(1)));
        let r = rule(json!({"key": "x", "path": "L.Missing"}));
        assert_eq!(r.extract(&doc), None);
    }

    #[test]
    fn a_filter_on_an_object_keeps_or_drops_it() {
        let doc = json!({"a": {"kind": 1, "v": "yes"}});
        assert_eq!(
            rule(json!({"key": "v", "path": "a", "filters": {"a": {"kind": 1}}})).extract(&doc),
            Some(&json!("yes"))
        );
        assert_eq!(
            rule(json!({"key": "v", "path": "a", "filters": {"a": {"kind": 2}}})).extract(&doc),
            None
        );
    }

    #[test]
    fn without_a_path_the_key_is_found_anywhere_depth_first() {
        let doc = json!({"List": [
            {"a": {"deep": {"ChipPage": 1}}},
            {"ChipPage": 2},
            {"ChipPage": null}
        ], "ChipPage": null});
        assert_eq!(
            rule(json!({"key": "ChipPage"})).extract(&doc),
            Some(&json!(1))
        );
        assert_eq!(rule(json!({"key": "nope"})).extract(&doc), None);
        let doc = json!({"ChipPage": 0, "List": [{"ChipPage": 2}]});
        assert_eq!(
            rule(json!({"key": "ChipPage"})).extract(&doc),
            Some(&json!(0))
        );
    }
}
