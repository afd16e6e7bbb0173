//! Session search: the body of `POST /api/sessions/search` (Regula's shape: a view's value plus
//! `filter` and `sort`), checked and turned into a [`SearchRequest`] the store can run, and the
//! opaque paging cursor.
//!
//! The filter is a tree of groups (`{"op": "$and"|"$or", "groups": [...], "conditions": [...]}`)
//! over conditions `{field, op, value}`. Fields: `id`, `status`, `workflow.id`, `createdAt`,
//! `updatedAt` (columns) and `metadata.X`, `properties.X` (JSON paths of up to
//! [`MAX_PATH_SEGMENTS`] keys of `[A-Za-z0-9_-]`). Operators: `$eq $ne $in $nin $gt $gte $lt
//! $lte $exists`. Comparisons are type-strict: `"5"` never equals `5`; on a JSON field a range
//! operator only matches values of the same JSON type (numbers with numbers, strings with
//! strings, in byte order). `$eq null` matches an explicit `null` or a missing key; `$ne` and
//! `$nin` match a missing key; `$exists` is true for an explicit `null`. A group with nothing in
//! it restricts nothing.
//!
//! Every mistake is an [`ErrorCode::InvalidFilter`] naming the offending field or operator and
//! its place in the body (`filter.groups[0].conditions[1].op`). Sizes are bounded
//! ([`MAX_DEPTH`], [`MAX_CONDITIONS`], [`MAX_IN_VALUES`]) so one request cannot build an
//! unbounded query.

use crate::error::{Error, ErrorCode};
use base64::Engine;
use serde_json::{Map, Value};

/// Nesting of groups, the top-level filter counting as 1.
pub const MAX_DEPTH: usize = 5;
/// Conditions in one filter, all groups together.
pub const MAX_CONDITIONS: usize = 50;
/// Values in one `$in` / `$nin` list, and entries of `workflows`.
pub const MAX_IN_VALUES: usize = 100;
/// Keys in a `metadata.` / `properties.` path.
pub(crate) const MAX_PATH_SEGMENTS: usize = 4;
/// Longest key in such a path.
pub(crate) const MAX_KEY_LEN: usize = 64;
/// Sort keys a request may give (the id tiebreak comes on top).
pub(crate) const MAX_SORT_KEYS: usize = 3;
/// Entries of `columns`.
pub(crate) const MAX_COLUMNS: usize = 100;

/// Top-level keys of the body that are accepted and ignored: a view's value is posted as-is.
const IGNORED_KEYS: &[&str] = &["id", "title", "description", "groupIds", "userIds"];

/// A session column a filter or sort can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Id,
    Status,
    WorkflowId,
    CreatedAt,
    UpdatedAt,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Id,
        Column::Status,
        Column::WorkflowId,
        Column::CreatedAt,
        Column::UpdatedAt,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Status => "status",
            Column::WorkflowId => "workflow.id",
            Column::CreatedAt => "createdAt",
            Column::UpdatedAt => "updatedAt",
        }
    }

    fn parse(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }

    /// True for columns holding text (the others hold integers).
    pub fn is_text(self) -> bool {
        matches!(self, Column::Id | Column::WorkflowId)
    }
}

/// Which JSON document of the session a path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Metadata,
    Properties,
}

/// A field of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Column(Column),
    /// A path into `metadata` or `properties`; every key matches `[A-Za-z0-9_-]{1,64}`.
    Json(Document, Vec<String>),
}

/// A scalar value of a condition. Column conditions hold `Int` (status, times in ms) or `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    /// The value as JSON text (PostgreSQL compares jsonb values).
    pub fn to_json(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => Value::from(*f).to_string(),
            Scalar::Text(s) => Value::String(s.clone()).to_string(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    /// The SQL operator (for `Ne`, `<>`).
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }
}

/// One checked condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        field: Field,
        cmp: Cmp,
        value: Scalar,
    },
    /// `$in` (`negated: false`) or `$nin`.
    In {
        field: Field,
        values: Vec<Scalar>,
        negated: bool,
    },
    Exists {
        field: Field,
        exists: bool,
    },
}

/// A checked filter tree. `And(vec![])` matches everything.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Condition(Condition),
}

/// One sort key; only columns sort (JSON fields do not, see the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub column: Column,
    pub descending: bool,
}

/// A value of a sort key, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// A checked search body.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// `None` when the body has no filter or an empty one.
    pub filter: Option<Filter>,
    /// Non-empty: only sessions of these workflows.
    pub workflows: Vec<String>,
    /// The sort, always ending with `id` (the tiebreak), so it orders sessions totally.
    pub sort: Vec<SortKey>,
    /// The property ids the summaries carry (the view's `property` columns).
    pub properties: Vec<String>,
}

fn invalid(at: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidFilter, format!("{at}: {message}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl SearchRequest {
    /// Checks a search body. `Null` is read as `{}`.
    pub fn parse(body: &Value) -> Result<SearchRequest, Error> {
        let empty = Map::new();
        let obj = match body {
            Value::Null => &empty,
            Value::Object(m) => m,
            other => {
                return Err(invalid(
                    "the body",
                    format!("must be a JSON object, not {}", kind(other)),
                ));
            }
        };
        let mut request = SearchRequest {
            filter: None,
            workflows: Vec::new(),
            sort: Vec::new(),
            properties: Vec::new(),
        };
        for (key, value) in obj {
            match key.as_str() {
                "filter" => request.filter = parse_filter(value)?,
                "workflows" => request.workflows = parse_workflows(value)?,
                "sort" => request.sort = parse_sort(value)?,
                "columns" => request.properties = parse_columns(value, "columns")?.properties,
                k if IGNORED_KEYS.contains(&k) => {}
                other => {
                    return Err(invalid(
                        other,
                        "unknown key; a search body has filter, sort, workflows and columns (and a view's id, title, description, groupIds, userIds, which are ignored)",
                    ));
                }
            }
        }
        request.sort = normalize_sort(request.sort);
        Ok(request)
    }
}

/// The default order: newest first.
pub(crate) const DEFAULT_SORT: SortKey = SortKey {
    column: Column::CreatedAt,
    descending: true,
};

/// Drops repeated keys, puts the default first when empty, and ends the sort with `id` (in the
/// direction of the last key) unless `id` is already in it; keys after `id` cannot matter.
pub fn normalize_sort(keys: Vec<SortKey>) -> Vec<SortKey> {
    let mut out: Vec<SortKey> = Vec::new();
    for k in keys {
        if out.iter().any(|o| o.column == k.column) {
            continue;
        }
        out.push(k);
        if k.column == Column::Id {
            return out;
        }
    }
    if out.is_empty() {
        out.push(DEFAULT_SORT);
    }
    let last = out.last().map(|k| k.descending).unwrap_or(true);
    out.push(SortKey {
        column: Column::Id,
        descending: last,
    });
    out
}

fn parse_workflows(v: &Value) -> Result<Vec<String>, Error> {
    let Value::Array(items) = v else {
        return Err(invalid(
            "workflows",
            format!("must be a list of workflow ids, not {}", kind(v)),
        ));
    };
    if items.len() > MAX_IN_VALUES {
        return Err(invalid(
            "workflows",
            format!("at most {MAX_IN_VALUES} workflow ids"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, w)| match w {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            other => Err(invalid(
                &format!("workflows[{i}]"),
                format!(
                    "must be a workflow id (a non-empty string), not {}",
                    kind(other)
                ),
            )),
        })
        .collect()
}

/// The checked `columns` of a view or a search body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Columns {
    /// Built-in fields (`{"type": "field"}`), e.g. `status`.
    pub fields: Vec<String>,
    /// Workflow property ids (`{"type": "property"}`, or a bare string).
    pub properties: Vec<String>,
}

fn valid_column_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Checks a `columns` list: each entry is `{"type": "field"|"property", "name": "..."}` or a
/// bare string (a property id). Names are 1 to 128 of `[A-Za-z0-9_.-]`.
pub(crate) fn parse_columns(v: &Value, at: &str) -> Result<Columns, Error> {
    let Value::Array(items) = v else {
        return Err(invalid(at, format!("must be a list, not {}", kind(v))));
    };
    if items.len() > MAX_COLUMNS {
        return Err(invalid(at, format!("at most {MAX_COLUMNS} columns")));
    }
    let mut out = Columns::default();
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let (is_field, name) = match item {
            Value::String(s) => (false, s.as_str()),
            Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "type" | "name")) {
                    return Err(invalid(
                        &format!("{here}.{k}"),
                        "unknown key; a column is {\"type\": \"field\"|\"property\", \"name\": ...}",
                    ));
                }
                let is_field = match m.get("type") {
                    Some(Value::String(t)) if t == "field" => true,
                    Some(Value::String(t)) if t == "property" => false,
                    other => {
                        return Err(invalid(
                            &format!("{here}.type"),
                            format!(
                                "must be \"field\" or \"property\", not {}",
                                other
                                    .map(Value::to_string)
                                    .unwrap_or_else(|| "missing".into())
                            ),
                        ));
                    }
                };
                match m.get("name") {
                    Some(Value::String(n)) => (is_field, n.as_str()),
                    other => {
                        return Err(invalid(
                            &format!("{here}.name"),
                            format!(
                                "must be a string, not {}",
                                other.map(kind).unwrap_or("missing")
                            ),
                        ));
                    }
                }
            }
            other => {
                return Err(invalid(
                    &here,
                    format!(
                        "must be a property id or {{\"type\", \"name\"}}, not {}",
                        kind(other)
                    ),
                ));
            }
        };
        if !valid_column_name(name) {
            return Err(invalid(
                &here,
                format!("`{name}` is not a column name (1 to 128 of A-Z a-z 0-9 _ . -)"),
            ));
        }
        let list = if is_field {
            &mut out.fields
        } else {
            &mut out.properties
        };
        if !list.iter().any(|n| n == name) {
            list.push(name.to_string());
        }
    }
    Ok(out)
}

fn parse_sort(v: &Value) -> Result<Vec<SortKey>, Error> {
    let items: Vec<(String, &Value)> = match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("sort[{i}]"), x))
            .collect(),
        // A single key object is taken as a one-key list.
        Value::Object(_) => vec![("sort".to_string(), v)],
        other => {
            return Err(invalid(
                "sort",
                format!(
                    "must be a list like [{{\"field\": \"createdAt\", \"order\": \"desc\"}}], not {}",
                    kind(other)
                ),
            ));
        }
    };
    if items.len() > MAX_SORT_KEYS {
        return Err(invalid(
            "sort",
            format!("at most {MAX_SORT_KEYS} sort keys"),
        ));
    }
    items
        .into_iter()
        .map(|(at, item)| parse_sort_key(item, &at))
        .collect()
}

fn parse_direction(v: &Value, at: &str) -> Result<bool, Error> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("asc") => Ok(false),
        Value::String(s) if s.eq_ignore_ascii_case("desc") => Ok(true),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(false),
        Value::Number(n) if n.as_i64() == Some(-1) => Ok(true),
        other => Err(invalid(
            at,
            format!("must be \"asc\", \"desc\", 1 or -1, not {other}"),
        )),
    }
}

fn sort_column(name: &str, at: &str) -> Result<Column, Error> {
    if let Some(c) = Column::parse(name) {
        return Ok(c);
    }
    if name.starts_with("metadata.") || name.starts_with("properties.") {
        return Err(invalid(
            at,
            format!(
                "sorting by `{name}` is not supported; sort by id, status, workflow.id, createdAt or updatedAt"
            ),
        ));
    }
    Err(invalid(
        at,
        format!("unknown sort field `{name}`; use id, status, workflow.id, createdAt or updatedAt"),
    ))
}

fn parse_sort_key(item: &Value, at: &str) -> Result<SortKey, Error> {
    let Value::Object(m) = item else {
        return Err(invalid(
            at,
            format!(
                "must be {{\"field\": ..., \"order\": \"asc\"|\"desc\"}}, not {}",
                kind(item)
            ),
        ));
    };
    if let Some(field) = m.get("field") {
        let Value::String(name) = field else {
            return Err(invalid(
                &format!("{at}.field"),
                format!("must be a string, not {}", kind(field)),
            ));
        };
        let column = sort_column(name, &format!("{at}.field"))?;
        let mut descending = false;
        for (k, v) in m {
            match k.as_str() {
                "field" => {}
                "order" | "direction" => descending = parse_direction(v, &format!("{at}.{k}"))?,
                other => {
                    return Err(invalid(
                        &format!("{at}.{other}"),
                        "unknown key; a sort key has field and order (or direction)",
                    ));
                }
            }
        }
        return Ok(SortKey { column, descending });
    }
    // The short form {"createdAt": -1}.
    if m.len() == 1
        && let Some((name, dir)) = m.iter().next()
    {
        let column = sort_column(name, &format!("{at}.{name}"))?;
        let descending = parse_direction(dir, &format!("{at}.{name}"))?;
        return Ok(SortKey { column, descending });
    }
    Err(invalid(
        at,
        "must be {\"field\": ..., \"order\": \"asc\"|\"desc\"}",
    ))
}

/// Counts conditions while parsing, against [`MAX_CONDITIONS`].
struct Budget {
    conditions: usize,
}

fn parse_filter(v: &Value) -> Result<Option<Filter>, Error> {
    let mut budget = Budget { conditions: 0 };
    match v {
        Value::Null => Ok(None),
        _ => {
            let f = parse_group(v, "filter", 1, &mut budget)?;
            Ok(match f {
                Filter::And(items) if items.is_empty() => None,
                f => Some(f),
            })
        }
    }
}

fn parse_group(v: &Value, at: &str, depth: usize, budget: &mut Budget) -> Result<Filter, Error> {
    if depth > MAX_DEPTH {
        return Err(invalid(at, format!("groups nest at most {MAX_DEPTH} deep")));
    }
    let Value::Object(m) = v else {
        return Err(invalid(
            at,
            format!(
                "must be a group {{\"op\": \"$and\"|\"$or\", \"groups\": [...], \"conditions\": [...]}}, not {}",
                kind(v)
            ),
        ));
    };
    let mut or = false;
    let mut parts = Vec::new();
    for (k, value) in m {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "op" => {
                or = match value {
                    Value::String(s) if s == "$and" => false,
                    Value::String(s) if s == "$or" => true,
                    other => {
                        return Err(invalid(
                            &here,
                            format!("unknown group operator {other}; use \"$and\" or \"$or\""),
                        ));
                    }
                }
            }
            "groups" => {
                let Value::Array(groups) = value else {
                    return Err(invalid(
                        &here,
                        format!("must be a list of groups, not {}", kind(value)),
                    ));
                };
                for (i, g) in groups.iter().enumerate() {
                    let g = parse_group(g, &format!("{here}[{i}]"), depth + 1, budget)?;
                    // An empty group restricts nothing.
                    if g != Filter::And(vec![]) {
                        parts.push(g);
                    }
                }
            }
            "conditions" => {
                let Value::Array(conditions) = value else {
                    return Err(invalid(
                        &here,
                        format!("must be a list of conditions, not {}", kind(value)),
                    ));
                };
                for (i, c) in conditions.iter().enumerate() {
                    budget.conditions += 1;
                    if budget.conditions > MAX_CONDITIONS {
                        return Err(invalid(
                            &format!("{here}[{i}]"),
                            format!("a filter holds at most {MAX_CONDITIONS} conditions"),
                        ));
                    }
                    parts.push(Filter::Condition(parse_condition(
                        c,
                        &format!("{here}[{i}]"),
                    )?));
                }
            }
            _ => {
                return Err(invalid(
                    &here,
                    "unknown key; a group has op, groups and conditions",
                ));
            }
        }
    }
    if parts.is_empty() {
        return Ok(Filter::And(vec![]));
    }
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    Ok(if or {
        Filter::Or(parts)
    } else {
        Filter::And(parts)
    })
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEY_LEN
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses a field name of a condition.
pub(crate) fn parse_field(name: &str, at: &str) -> Result<Field, Error> {
    if let Some(c) = Column::parse(name) {
        return Ok(Field::Column(c));
    }
    let (doc, rest) = if let Some(rest) = name.strip_prefix("metadata.") {
        (Document::Metadata, rest)
    } else if let Some(rest) = name.strip_prefix("properties.") {
        (Document::Properties, rest)
    } else {
        return Err(invalid(
            at,
            format!(
                "unknown field `{name}`; use id, status, workflow.id, createdAt, updatedAt, metadata.<key> or properties.<key>"
            ),
        ));
    };
    let keys: Vec<String> = rest.split('.').map(str::to_string).collect();
    if keys.len() > MAX_PATH_SEGMENTS {
        return Err(invalid(
            at,
            format!("`{name}` is deeper than {MAX_PATH_SEGMENTS} keys"),
        ));
    }
    if let Some(bad) = keys.iter().find(|k| !valid_key(k)) {
        return Err(invalid(
            at,
            format!(
                "`{bad}` in `{name}` is not a key name (1 to {MAX_KEY_LEN} of A-Z a-z 0-9 _ -)"
            ),
        ));
    }
    Ok(Field::Json(doc, keys))
}

/// Parses an ISO-8601 time (`2025-01-31T10:00:00Z`, any offset, or a bare date) into ms.
fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// The value of a condition on `field`, checked for its type.
fn scalar_for(field: &Field, name: &str, v: &Value, at: &str) -> Result<Scalar, Error> {
    match field {
        Field::Column(Column::Id | Column::WorkflowId) => match v {
            Value::String(s) => Ok(Scalar::Text(s.clone())),
            other => Err(invalid(
                at,
                format!("`{name}` is compared with a string, not {}", kind(other)),
            )),
        },
        Field::Column(Column::Status) => match v.as_i64() {
            Some(i) => Ok(Scalar::Int(i)),
            None => Err(invalid(
                at,
                format!("`status` is compared with an integer, not {v}"),
            )),
        },
        Field::Column(Column::CreatedAt | Column::UpdatedAt) => match v {
            Value::Number(n) => n.as_i64().map(Scalar::Int).ok_or_else(|| {
                invalid(
                    at,
                    format!("`{name}` takes epoch milliseconds as an integer, not {n}"),
                )
            }),
            Value::String(s) => parse_time(s).map(Scalar::Int).ok_or_else(|| {
                invalid(
                    at,
                    format!(
                        "`{s}` is not an ISO-8601 time such as 2025-01-31T10:00:00.000Z (or give epoch milliseconds)"
                    ),
                )
            }),
            other => Err(invalid(
                at,
                format!(
                    "`{name}` is compared with an ISO-8601 time or epoch milliseconds, not {}",
                    kind(other)
                ),
            )),
        },
        Field::Json(..) => match v {
            Value::Null => Ok(Scalar::Null),
            Value::Bool(b) => Ok(Scalar::Bool(*b)),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Scalar::Int(i)),
                (None, Some(f)) => Ok(Scalar::Float(f)),
                _ => Err(invalid(at, format!("{n} is out of range"))),
            },
            Value::String(s) => Ok(Scalar::Text(s.clone())),
            other => Err(invalid(
                at,
                format!(
                    "`{name}` is compared with a string, number, boolean or null, not {}",
                    kind(other)
                ),
            )),
        },
    }
}

fn parse_condition(v: &Value, at: &str) -> Result<Condition, Error> {
    let Value::Object(m) = v else {
        return Err(invalid(
            at,
            format!(
                "must be a condition {{\"field\", \"op\", \"value\"}}, not {}",
                kind(v)
            ),
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "field" | "op" | "value"))
    {
        return Err(invalid(
            &format!("{at}.{k}"),
            "unknown key; a condition has field, op and value",
        ));
    }
    let name = match m.get("field") {
        Some(Value::String(s)) => s.as_str(),
        other => {
            return Err(invalid(
                &format!("{at}.field"),
                format!(
                    "must be a field name, not {}",
                    other.map(kind).unwrap_or("missing")
                ),
            ));
        }
    };
    let field = parse_field(name, &format!("{at}.field"))?;
    let op = match m.get("op") {
        Some(Value::String(s)) => s.as_str(),
        other => {
            return Err(invalid(
                &format!("{at}.op"),
                format!(
                    "must be an operator such as \"$eq\", not {}",
                    other.map(kind).unwrap_or("missing")
                ),
            ));
        }
    };
    let value_at = format!("{at}.value");
    let value = m.get("value").unwrap_or(&Value::Null);
    if !m.contains_key("value") && op != "$exists" {
        return Err(invalid(&value_at, "missing"));
    }
    let cmp = match op {
        "$eq" => Cmp::Eq,
        "$ne" => Cmp::Ne,
        "$gt" => Cmp::Gt,
        "$gte" => Cmp::Gte,
        "$lt" => Cmp::Lt,
        "$lte" => Cmp::Lte,
        "$in" | "$nin" => {
            let Value::Array(items) = value else {
                return Err(invalid(
                    &value_at,
                    format!("`{op}` takes a list, not {}", kind(value)),
                ));
            };
            if items.len() > MAX_IN_VALUES {
                return Err(invalid(
                    &value_at,
                    format!("`{op}` takes at most {MAX_IN_VALUES} values"),
                ));
            }
            let values = items
                .iter()
                .enumerate()
                .map(|(i, x)| scalar_for(&field, name, x, &format!("{value_at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Condition::In {
                field,
                values,
                negated: op == "$nin",
            });
        }
        "$exists" => {
            let exists = match value {
                Value::Bool(b) => *b,
                Value::Null if !m.contains_key("value") => true,
                other => {
                    return Err(invalid(
                        &value_at,
                        format!("`$exists` takes true or false, not {other}"),
                    ));
                }
            };
            return Ok(Condition::Exists { field, exists });
        }
        other => {
            return Err(invalid(
                &format!("{at}.op"),
                format!(
                    "unknown operator `{other}`; use $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte or $exists"
                ),
            ));
        }
    };
    let scalar = scalar_for(&field, name, value, &value_at)?;
    if matches!(cmp, Cmp::Gt | Cmp::Gte | Cmp::Lt | Cmp::Lte)
        && matches!(scalar, Scalar::Null | Scalar::Bool(_))
    {
        return Err(invalid(
            &value_at,
            format!("`{op}` compares numbers or strings, not {}", kind(value)),
        ));
    }
    Ok(Condition::Compare {
        field,
        cmp,
        value: scalar,
    })
}

/// The cursor of the row after which the next page starts: the row's value of every sort key,
/// bound to the sort it was made for.
pub fn encode_cursor(sort: &[SortKey], values: &[SortValue]) -> String {
    let vals: Vec<Value> = values
        .iter()
        .map(|v| match v {
            SortValue::Int(i) => Value::from(*i),
            SortValue::Text(s) => Value::from(s.as_str()),
        })
        .collect();
    let doc = serde_json::json!([sort_signature(sort), vals]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
}

fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            format!(
                "{}{}",
                if k.descending { "-" } else { "+" },
                k.column.name()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a cursor made by [`encode_cursor`] for the same sort; anything else is
/// [`ErrorCode::InvalidCursor`].
pub fn decode_cursor(sort: &[SortKey], cursor: &str) -> Result<Vec<SortValue>, Error> {
    let bad = |why: &str| {
        Error::new(
            ErrorCode::InvalidCursor,
            format!(
                "`after` {why}; pass the `next` value of the previous page unchanged, with the same sort"
            ),
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad("is not a cursor"))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| bad("is not a cursor"))?;
    let (Some(sig), Some(Value::Array(vals))) = (doc.get(0).and_then(Value::as_str), doc.get(1))
    else {
        return Err(bad("is not a cursor"));
    };
    if sig != sort_signature(sort) || vals.len() != sort.len() {
        return Err(bad("was made for another sort"));
    }
    sort.iter()
        .zip(vals)
        .map(|(k, v)| match (k.column.is_text(), v) {
            (true, Value::String(s)) => Ok(SortValue::Text(s.clone())),
            (false, Value::Number(n)) => n
                .as_i64()
                .map(SortValue::Int)
                .ok_or_else(|| bad("is not a cursor")),
            _ => Err(bad("is not a cursor")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(body: Value) -> String {
        let e = SearchRequest::parse(&body).expect_err("refused");
        assert_eq!(e.code, ErrorCode::InvalidFilter, "{}", e.message);
        e.message
    }

    fn cond(field: &str, op: &str, value: Value) -> Value {
        json!({"filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [{"field": field, "op": op, "value": value}]}]}})
    }

    #[test]
    fn regula_body_parses() {
        let body = json!({"id": "x", "title": "General KYC", "description": "d",
            "workflows": ["edda0192-b890-11ef-a348-17da751a6a22"], "columns": [], "sort": [],
            "filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [
                {"field": "workflow.id", "op": "$in", "value": ["edda0192-b890-11ef-a348-17da751a6a22"]}]}]},
            "groupIds": [], "userIds": []});
        let r = SearchRequest::parse(&body).unwrap();
        assert_eq!(r.workflows, ["edda0192-b890-11ef-a348-17da751a6a22"]);
        assert_eq!(
            r.filter,
            Some(Filter::Condition(Condition::In {
                field: Field::Column(Column::WorkflowId),
                values: vec![Scalar::Text("edda0192-b890-11ef-a348-17da751a6a22".into())],
                negated: false
            }))
        );
        assert_eq!(
            r.sort,
            [
                DEFAULT_SORT,
                SortKey {
                    column: Column::Id,
                    descending: true
                }
            ]
        );
    }

    #[test]
    fn mistakes_name_their_place() {
        assert!(err(json!({"bogus": 1})).starts_with("bogus:"));
        let m = err(cond("nope", "$eq", json!(1)));
        assert!(
            m.contains("filter.groups[0].conditions[0].field") && m.contains("nope"),
            "{m}"
        );
        let m = err(cond("status", "$like", json!(1)));
        assert!(
            m.contains("filter.groups[0].conditions[0].op") && m.contains("$like"),
            "{m}"
        );
        let m = err(cond("status", "$eq", json!("one")));
        assert!(
            m.contains("conditions[0].value") && m.contains("integer"),
            "{m}"
        );
        let m = err(cond("properties.a b", "$eq", json!(1)));
        assert!(m.contains("not a key name"), "{m}");
        let m = err(cond("createdAt", "$gt", json!("yesterday")));
        assert!(m.contains("ISO-8601"), "{m}");
        let m = err(cond("metadata.x", "$gt", json!(true)));
        assert!(m.contains("$gt"), "{m}");
        let m = err(cond("metadata.x", "$in", json!(1)));
        assert!(m.contains("list"), "{m}");
        let m = err(json!({"sort": [{"field": "properties.AGE", "order": "asc"}]}));
        assert!(m.contains("sort[0].field"), "{m}");
        let m = err(json!({"sort": [{"field": "status", "order": "up"}]}));
        assert!(m.contains("sort[0].order"), "{m}");
    }

    #[test]
    fn sizes_are_bounded() {
        let mut g = json!({"conditions": [{"field": "status", "op": "$eq", "value": 1}]});
        for _ in 0..MAX_DEPTH {
            g = json!({"op": "$or", "groups": [g]});
        }
        let m = err(json!({ "filter": g }));
        assert!(m.contains("nest"), "{m}");
        let many: Vec<Value> = (0..=MAX_CONDITIONS)
            .map(|i| json!({"field": "status", "op": "$eq", "value": i}))
            .collect();
        let m = err(json!({"filter": {"conditions": many}}));
        assert!(m.contains("at most"), "{m}");
        let m = err(cond(
            "status",
            "$in",
            json!((0..=MAX_IN_VALUES).collect::<Vec<_>>()),
        ));
        assert!(m.contains("at most"), "{m}");
    }

    #[test]
    fn values_are_typed() {
        let r = SearchRequest::parse(&cond(
            "createdAt",
            "$gte",
            json!("2025-01-31T10:00:00.000Z"),
        ))
        .unwrap();
        assert_eq!(
            r.filter,
            Some(Filter::Condition(Condition::Compare {
                field: Field::Column(Column::CreatedAt),
                cmp: Cmp::Gte,
                value: Scalar::Int(1_738_317_600_000)
            }))
        );
        let r = SearchRequest::parse(&cond("properties.doc.AGE", "$lt", json!(2.5))).unwrap();
        assert_eq!(
            r.filter,
            Some(Filter::Condition(Condition::Compare {
                field: Field::Json(Document::Properties, vec!["doc".into(), "AGE".into()]),
                cmp: Cmp::Lt,
                value: Scalar::Float(2.5)
            }))
        );
    }

    #[test]
    fn sorts_normalize_and_cursors_round_trip() {
        let r = SearchRequest::parse(
            &json!({"sort": [{"field": "status", "direction": 1}, {"updatedAt": "DESC"}]}),
        )
        .unwrap();
        assert_eq!(
            r.sort
                .iter()
                .map(|k| (k.column, k.descending))
                .collect::<Vec<_>>(),
            [
                (Column::Status, false),
                (Column::UpdatedAt, true),
                (Column::Id, true)
            ]
        );
        let vals = vec![
            SortValue::Int(2),
            SortValue::Int(1000),
            SortValue::Text("abc".into()),
        ];
        let c = encode_cursor(&r.sort, &vals);
        assert_eq!(decode_cursor(&r.sort, &c).unwrap(), vals);
        let other = normalize_sort(vec![]);
        assert_eq!(
            decode_cursor(&other, &c).unwrap_err().code,
            ErrorCode::InvalidCursor
        );
        assert_eq!(
            decode_cursor(&other, "%%%").unwrap_err().code,
            ErrorCode::InvalidCursor
        );
    }
}
