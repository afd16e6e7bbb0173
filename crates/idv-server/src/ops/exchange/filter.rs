//! A small built-in session filter for choosing sessions to export, in the shape of the
//! session-search filter (`{"op": "$and", "conditions": [{"field", "op", "value"}], "groups":
//! [...]}`), over the fields `status`, `workflow.id` and `createdAt` only. A bare condition
//! `{"field", "op", "value"}` is accepted too, and so is a search body holding `filter`.
//!
//! Operators: `$eq $ne $in $nin $gt $gte $lt $lte`; groups: `$and`, `$or`. `createdAt` takes an
//! ISO-8601 time (`2026-01-31T00:00:00Z`) or milliseconds since the epoch.

use idv_store::SessionRecord;
use serde_json::Value;
use std::cmp::Ordering;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFilter(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Condition {
        field: Field,
        op: Op,
        values: Vec<Scalar>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Status,
    WorkflowId,
    CreatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    In,
    Nin,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Scalar {
    Int(i64),
    Str(String),
}

impl SessionFilter {
    /// Parses the filter; the error says which part to fix.
    pub fn parse(value: &Value) -> Result<SessionFilter, String> {
        let value = value.get("filter").unwrap_or(value);
        parse_node(value, "filter").map(SessionFilter)
    }

    pub fn matches(&self, s: &SessionRecord) -> bool {
        eval(&self.0, s)
    }
}

fn parse_node(v: &Value, at: &str) -> Result<Node, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object"))?;
    if obj.contains_key("field") {
        return parse_condition(v, at);
    }
    let op = obj.get("op").and_then(Value::as_str).unwrap_or("$and");
    let mut children = Vec::new();
    for key in ["conditions", "groups"] {
        match obj.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    children.push(parse_node(item, &format!("{at}.{key}[{i}]"))?);
                }
            }
            Some(_) => return Err(format!("{at}.{key}: expected a list")),
        }
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "op" | "conditions" | "groups") {
            return Err(format!(
                "{at}.{key}: unknown key; a group has op, conditions and groups"
            ));
        }
    }
    match op {
        "$and" => Ok(Node::All(children)),
        "$or" => Ok(Node::Any(children)),
        other => Err(format!("{at}.op: `{other}` is not $and or $or")),
    }
}

fn parse_condition(v: &Value, at: &str) -> Result<Node, String> {
    let field = match v.get("field").and_then(Value::as_str) {
        Some("status") => Field::Status,
        Some("workflow.id") => Field::WorkflowId,
        Some("createdAt") => Field::CreatedAt,
        other => {
            return Err(format!(
                "{at}.field: {} is not one of status, workflow.id, createdAt",
                other.map_or_else(|| "missing".to_owned(), |f| format!("`{f}`"))
            ));
        }
    };
    let op = match v.get("op").and_then(Value::as_str) {
        Some("$eq") => Op::Eq,
        Some("$ne") => Op::Ne,
        Some("$in") => Op::In,
        Some("$nin") => Op::Nin,
        Some("$gt") => Op::Gt,
        Some("$gte") => Op::Gte,
        Some("$lt") => Op::Lt,
        Some("$lte") => Op::Lte,
        other => {
            return Err(format!(
                "{at}.op: {} is not one of $eq $ne $in $nin $gt $gte $lt $lte",
                other.map_or_else(|| "missing".to_owned(), |o| format!("`{o}`"))
            ));
        }
    };
    let value = v
        .get("value")
        .ok_or_else(|| format!("{at}.value: missing"))?;
    let values = match (op, value) {
        (Op::In | Op::Nin, Value::Array(items)) => items
            .iter()
            .map(|i| scalar(field, i, &format!("{at}.value")))
            .collect::<Result<Vec<_>, _>>()?,
        (Op::In | Op::Nin, _) => return Err(format!("{at}.value: $in and $nin take a list")),
        (_, single) => vec![scalar(field, single, &format!("{at}.value"))?],
    };
    Ok(Node::Condition { field, op, values })
}

fn scalar(field: Field, v: &Value, at: &str) -> Result<Scalar, String> {
    match (field, v) {
        (Field::Status, Value::Number(n)) => n
            .as_i64()
            .map(Scalar::Int)
            .ok_or_else(|| format!("{at}: a status is an integer such as 0, 2 or 1000")),
        (Field::Status, _) => Err(format!("{at}: a status is an integer such as 0, 2 or 1000")),
        (Field::WorkflowId, Value::String(s)) => Ok(Scalar::Str(s.clone())),
        (Field::WorkflowId, _) => Err(format!("{at}: a workflow id is a string")),
        (Field::CreatedAt, Value::Number(n)) => n
            .as_i64()
            .map(Scalar::Int)
            .ok_or_else(|| format!("{at}: milliseconds since the epoch are an integer")),
        (Field::CreatedAt, Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Scalar::Int(t.timestamp_millis()))
            .map_err(|e| {
                format!("{at}: `{s}` is not an ISO-8601 time such as 2026-01-31T00:00:00Z ({e})")
            }),
        (Field::CreatedAt, _) => Err(format!(
            "{at}: a time is an ISO-8601 string or milliseconds since the epoch"
        )),
    }
}

fn eval(node: &Node, s: &SessionRecord) -> bool {
    match node {
        Node::All(children) => children.iter().all(|c| eval(c, s)),
        Node::Any(children) => children.iter().any(|c| eval(c, s)),
        Node::Condition { field, op, values } => {
            let actual = match field {
                Field::Status => Scalar::Int(s.status),
                Field::WorkflowId => Scalar::Str(s.workflow_id.clone()),
                Field::CreatedAt => Scalar::Int(s.created_at),
            };
            let cmp = |v: &Scalar| actual.partial_cmp(v);
            match op {
                Op::Eq | Op::In => values.contains(&actual),
                Op::Ne | Op::Nin => values.iter().all(|v| actual != *v),
                Op::Gt => values.iter().all(|v| cmp(v) == Some(Ordering::Greater)),
                Op::Gte => values
                    .iter()
                    .all(|v| matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal))),
                Op::Lt => values.iter().all(|v| cmp(v) == Some(Ordering::Less)),
                Op::Lte => values
                    .iter()
                    .all(|v| matches!(cmp(v), Some(Ordering::Less | Ordering::Equal))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(status: i64, workflow: &str, created_at: i64) -> SessionRecord {
        SessionRecord {
            id: "000000000000000000000001".into(),
            workflow_id: workflow.into(),
            workflow_revision: 1,
            workflow_name: "w".into(),
            workflow_version: None,
            status,
            locale: "en".into(),
            metadata: json!({}),
            properties: json!({}),
            current_step: None,
            steps: json!([]),
            ended: false,
            owner_id: None,
            created_at,
            updated_at: created_at,
            revision: 1,
            engine: json!({}),
            expires_at: None,
            history: json!([]),
            legal_hold: false,
        }
    }

    #[test]
    fn conditions_and_groups() {
        let f = SessionFilter::parse(&json!({"op": "$and", "conditions": [
            {"field": "status", "op": "$in", "value": [2, 3]},
            {"field": "createdAt", "op": "$gte", "value": "2026-01-01T00:00:00Z"},
            {"field": "createdAt", "op": "$lt", "value": 1_769_904_000_000_i64}
        ], "groups": [{"op": "$or", "conditions": [
            {"field": "workflow.id", "op": "$eq", "value": "a"},
            {"field": "workflow.id", "op": "$eq", "value": "b"}
        ]}]}))
        .unwrap();
        let jan = 1_767_225_600_000 + 1000; // 2026-01-01T00:00:01Z
        assert!(f.matches(&session(2, "a", jan)));
        assert!(f.matches(&session(3, "b", jan)));
        assert!(!f.matches(&session(0, "a", jan)), "status");
        assert!(!f.matches(&session(2, "c", jan)), "workflow");
        assert!(!f.matches(&session(2, "a", 1_767_225_599_999)), "before");
        assert!(
            !f.matches(&session(2, "a", 1_769_904_000_000)),
            "at the end"
        );
    }

    #[test]
    fn bare_conditions_and_search_bodies() {
        let f = SessionFilter::parse(&json!({"field": "status", "op": "$ne", "value": 0})).unwrap();
        assert!(f.matches(&session(2, "a", 0)));
        assert!(!f.matches(&session(0, "a", 0)));
        let f = SessionFilter::parse(&json!({"filter": {"op": "$and", "conditions": [
            {"field": "workflow.id", "op": "$nin", "value": ["x"]}]}}))
        .unwrap();
        assert!(f.matches(&session(0, "a", 0)));
        assert!(!f.matches(&session(0, "x", 0)));
    }

    #[test]
    fn mistakes_are_named() {
        for (bad, needle) in [
            (
                json!({"field": "properties.AGE", "op": "$eq", "value": 1}),
                "field",
            ),
            (json!({"field": "status", "op": "$regex", "value": 1}), "op"),
            (json!({"field": "status", "op": "$in", "value": 1}), "list"),
            (
                json!({"field": "status", "op": "$eq", "value": "two"}),
                "integer",
            ),
            (
                json!({"field": "createdAt", "op": "$gt", "value": "yesterday"}),
                "ISO-8601",
            ),
            (json!({"op": "$xor", "conditions": []}), "$and or $or"),
            (json!({"op": "$and", "conditions": {}}), "list"),
            (json!({"op": "$and", "where": []}), "unknown key"),
            (json!([1]), "object"),
        ] {
            let err = SessionFilter::parse(&bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
