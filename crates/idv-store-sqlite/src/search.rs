//! Session search: the checked filter tree becomes one `WHERE` clause with every value bound as
//! a parameter (JSON paths too; their keys are `[A-Za-z0-9_-]` by construction, see
//! `idv_core::search`). Pages are keyset ranges on the sort key and the id, so a page deep in
//! the list costs what the first one does. Runs on the sqlx read pool, off the async runtime's
//! threads.

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, json_col};
use async_trait::async_trait;
use idv_core::search::{Cmp, Column, Condition, Document, Field, Filter, Scalar, SortValue};
use idv_store::PrincipalId;
use idv_store::SearchStore;
use idv_store::{SessionPage, SessionQuery, SessionSummary, StoreResult};

/// A bound parameter.
#[derive(Debug, Clone)]
enum Param {
    Int(i64),
    Float(f64),
    Text(String),
}

/// SQL text and its parameters, in order of appearance (`?` placeholders).
#[derive(Default)]
pub(crate) struct Sql {
    text: String,
    params: Vec<Param>,
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, p: Param) {
        self.text.push('?');
        self.params.push(p);
    }

    fn scalar(&mut self, v: &Scalar) {
        match v {
            Scalar::Int(i) => self.bind(Param::Int(*i)),
            Scalar::Float(f) => self.bind(Param::Float(*f)),
            Scalar::Text(s) => self.bind(Param::Text(s.clone())),
            // Null and booleans are matched through json_type, never bound.
            Scalar::Null => self.push("NULL"),
            Scalar::Bool(b) => self.push(if *b { "1" } else { "0" }),
        }
    }
}

/// `$."a"."b"`: keys are quoted, and hold no quote (checked when parsed).
fn json_path(keys: &[String]) -> String {
    let mut p = String::from("$");
    for k in keys {
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    p
}

/// `json_type(doc, ?)` / `json_extract(doc, ?)` with the path bound.
fn json_fn(sql: &mut Sql, func: &str, doc: Document, keys: &[String]) {
    sql.push(func);
    sql.push("(");
    sql.push(document(doc));
    sql.push(", ");
    sql.bind(Param::Text(json_path(keys)));
    sql.push(")");
}

/// True when the JSON value at the path equals `v` (same JSON type); never NULL.
fn json_eq(sql: &mut Sql, doc: Document, keys: &[String], v: &Scalar) {
    match v {
        Scalar::Null => {
            // An explicit null or a missing key.
            json_fn(sql, "json_extract", doc, keys);
            sql.push(" IS NULL");
        }
        Scalar::Bool(b) => {
            sql.push("COALESCE(");
            json_fn(sql, "json_type", doc, keys);
            sql.push(if *b {
                " = 'true', 0)"
            } else {
                " = 'false', 0)"
            });
        }
        _ => json_compare(sql, doc, keys, Cmp::Eq, v),
    }
}

/// A type-strict comparison with a number or a string; NULL-free (0 when the key is missing).
fn json_compare(sql: &mut Sql, doc: Document, keys: &[String], cmp: Cmp, v: &Scalar) {
    sql.push("COALESCE(");
    json_fn(sql, "json_type", doc, keys);
    sql.push(match v {
        Scalar::Text(_) => " = 'text'",
        _ => " IN ('integer', 'real')",
    });
    sql.push(" AND ");
    json_fn(sql, "json_extract", doc, keys);
    sql.push(" ");
    sql.push(cmp.sql());
    sql.push(" ");
    sql.scalar(v);
    sql.push(", 0)");
}

fn condition(sql: &mut Sql, c: &Condition) {
    match c {
        Condition::Compare {
            field: Field::Column(col),
            cmp,
            value,
        } => {
            sql.push(column(*col));
            sql.push(" ");
            sql.push(cmp.sql());
            sql.push(" ");
            sql.scalar(value);
        }
        // One value: a plain comparison, which an index serves in sort order.
        Condition::In {
            field: Field::Column(col),
            values,
            negated,
        } if values.len() == 1 => condition(
            sql,
            &Condition::Compare {
                field: Field::Column(*col),
                cmp: if *negated { Cmp::Ne } else { Cmp::Eq },
                value: values[0].clone(),
            },
        ),
        Condition::In {
            field: Field::Column(col),
            values,
            negated,
        } => {
            if values.is_empty() {
                sql.push(if *negated { "1" } else { "0" });
                return;
            }
            sql.push(column(*col));
            sql.push(if *negated { " NOT IN (" } else { " IN (" });
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.scalar(v);
            }
            sql.push(")");
        }
        // Columns are never NULL.
        Condition::Exists {
            field: Field::Column(_),
            exists,
        } => sql.push(if *exists { "1" } else { "0" }),
        Condition::Compare {
            field: Field::Json(doc, keys),
            cmp,
            value,
        } => match cmp {
            Cmp::Eq => json_eq(sql, *doc, keys, value),
            Cmp::Ne => {
                sql.push("NOT ");
                json_eq(sql, *doc, keys, value);
            }
            _ => json_compare(sql, *doc, keys, *cmp, value),
        },
        Condition::In {
            field: Field::Json(doc, keys),
            values,
            negated,
        } => {
            if values.is_empty() {
                sql.push(if *negated { "1" } else { "0" });
                return;
            }
            sql.push(if *negated { "NOT (" } else { "(" });
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                json_eq(sql, *doc, keys, v);
            }
            sql.push(")");
        }
        Condition::Exists {
            field: Field::Json(doc, keys),
            exists,
        } => {
            json_fn(sql, "json_type", *doc, keys);
            sql.push(if *exists { " IS NOT NULL" } else { " IS NULL" });
        }
    }
}

fn filter(sql: &mut Sql, f: &Filter) {
    match f {
        Filter::Condition(c) => condition(sql, c),
        Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => sql.push("1"),
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(f, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joint);
                }
                filter(sql, p);
            }
            sql.push(")");
        }
    }
}

/// Rows strictly after `after` in the order of `q.sort`: one row-value comparison when every
/// key runs the same way (an index range), else the expanded form.
fn keyset(sql: &mut Sql, q: &SessionQuery, after: &[SortValue]) {
    let keys = &q.sort;
    let desc = keys[0].descending;
    if keys.iter().all(|k| k.descending == desc) {
        sql.push("(");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(column(k.column));
        }
        sql.push(if desc { ") < (" } else { ") > (" });
        for (i, v) in after.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sort_value(sql, v);
        }
        sql.push(")");
        return;
    }
    sql.push("(");
    for i in 0..keys.len() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push("(");
        for (k, v) in keys.iter().zip(after).take(i) {
            sql.push(column(k.column));
            sql.push(" = ");
            sort_value(sql, v);
            sql.push(" AND ");
        }
        sql.push(column(keys[i].column));
        sql.push(if keys[i].descending { " < " } else { " > " });
        sort_value(sql, &after[i]);
        sql.push(")");
    }
    sql.push(")");
}

/// The `WHERE` clause of a query (without the cursor).
fn where_clause(sql: &mut Sql, q: &SessionQuery) {
    sql.push(" WHERE 1");
    if let Some(owner) = &q.owner_id {
        sql.push(" AND owner_id = ");
        sql.bind(Param::Text(owner.clone()));
    }
    if let [one] = q.workflows.as_slice() {
        sql.push(" AND workflow_id = ");
        sql.bind(Param::Text(one.clone()));
    } else if !q.workflows.is_empty() {
        sql.push(" AND workflow_id IN (");
        for (i, w) in q.workflows.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Param::Text(w.clone()));
        }
        sql.push(")");
    }
    if let Some(f) = &q.filter {
        sql.push(" AND ");
        filter(sql, f);
    }
}

const SUMMARY_COLUMNS: &str = "id, workflow_id, workflow_revision, workflow_name, workflow_version, \
     status, current_step, ended, metadata, properties, owner_id, created_at, updated_at";

/// The page query of `q`.
pub(crate) fn page_sql(q: &SessionQuery) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ");
    sql.push(SUMMARY_COLUMNS);
    sql.push(" FROM sessions");
    where_clause(&mut sql, q);
    if let Some(after) = &q.after
        && after.len() == q.sort.len()
        && !after.is_empty()
    {
        sql.push(" AND ");
        keyset(&mut sql, q, after);
    }
    sql.push(" ORDER BY ");
    for (i, k) in q.sort.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(column(k.column));
        sql.push(if k.descending { " DESC" } else { " ASC" });
    }
    sql.push(" LIMIT ");
    sql.bind(Param::Int(q.limit.max(0)));
    sql.push(" OFFSET ");
    sql.bind(Param::Int(q.skip.max(0)));
    sql
}

/// The capped count of `q`: at most `count_limit + 1` index entries are visited.
fn count_sql(q: &SessionQuery) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT count(*) AS n FROM (SELECT 1 FROM sessions");
    where_clause(&mut sql, q);
    sql.push(" LIMIT ");
    sql.bind(Param::Int(q.count_limit.max(0).saturating_add(1)));
    sql.push(")");
    sql
}

fn query(sql: &Sql) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    let mut query = sqlx::query(&sql.text);
    for p in &sql.params {
        query = match p {
            Param::Int(i) => query.bind(*i),
            Param::Float(f) => query.bind(*f),
            Param::Text(s) => query.bind(s.as_str()),
        };
    }
    query
}

pub(crate) async fn search(db: &Db, q: &SessionQuery) -> StoreResult<SessionPage> {
    let page = page_sql(q);
    let rows = query(&page).fetch_all(db.read()).await.map_err(backend)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let count = count_sql(q);
    let total: i64 = col(
        &query(&count).fetch_one(db.read()).await.map_err(backend)?,
        "n",
    )?;
    Ok(SessionPage { items, total })
}

/// `EXPLAIN QUERY PLAN` of the page query of `q`: one line per plan step.
pub(crate) async fn plan(db: &Db, q: &SessionQuery) -> StoreResult<Vec<String>> {
    let page = page_sql(q);
    let text = format!("EXPLAIN QUERY PLAN {}", page.text);
    let explained = Sql {
        text,
        params: page.params,
    };
    let rows = query(&explained)
        .fetch_all(db.read())
        .await
        .map_err(backend)?;
    rows.iter().map(|r| col::<String>(r, "detail")).collect()
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn session_search(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<idv_store::SessionPage> {
        crate::search::search(&self.db, query).await
    }

    async fn view_put(
        &self,
        view: &idv_store::ViewRecord,
        only_owner: Option<PrincipalId<'_>>,
    ) -> StoreResult<bool> {
        crate::views::put(&self.db, view, only_owner.map(PrincipalId::as_str)).await
    }

    async fn view_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> StoreResult<Option<idv_store::ViewRecord>> {
        crate::views::get(&self.db, namespace, key).await
    }

    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<PrincipalId<'_>>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<idv_store::ViewRecord>, i64)> {
        crate::views::list(
            &self.db,
            namespace,
            viewer.map(PrincipalId::as_str),
            limit,
            skip,
        )
        .await
    }

    async fn view_delete(
        &self,
        namespace: &str,
        key: &str,
        only_owner: Option<PrincipalId<'_>>,
    ) -> StoreResult<bool> {
        crate::views::delete(
            &self.db,
            namespace,
            key,
            only_owner.map(PrincipalId::as_str),
        )
        .await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::search_fns!();
