//! Session search: the checked filter tree becomes one `WHERE` clause with every value bound as
//! a parameter (JSON paths are bound as `text[]`, so no key ever reaches the SQL text). JSON
//! comparisons are type-strict through jsonb (`"5"` is not `5`); string ranges compare in byte
//! order (`COLLATE "C"`), as SQLite does. Pages are keyset ranges on the sort key and the id.

use crate::Db;
use crate::PgStore;
use crate::Pools;
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
    Text(String),
    Texts(Vec<String>),
    Ints(Vec<i64>),
}

/// SQL text and its parameters (`$n` placeholders).
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
        self.params.push(p);
        self.text.push('$');
        self.text.push_str(&self.params.len().to_string());
    }

    /// A column value: integers as bigint, strings as text.
    fn scalar(&mut self, v: &Scalar) {
        match v {
            Scalar::Int(i) => self.bind(Param::Int(*i)),
            Scalar::Text(s) => self.bind(Param::Text(s.clone())),
            // Columns never hold these (the parser refuses them); compare as JSON text.
            other => self.bind(Param::Text(other.to_json())),
        }
    }
}

/// The expression a sort orders by; workflow ids in byte order like SQLite's.
fn sort_expr(c: Column) -> &'static str {
    match c {
        Column::WorkflowId => "workflow_id COLLATE \"C\"",
        other => column(other),
    }
}

/// `(doc #> $n::text[])` (jsonb) or `(doc #>> $n::text[])` (text).
fn json_at(sql: &mut Sql, doc: Document, keys: &[String], as_text: bool) {
    sql.push("(");
    sql.push(document(doc));
    sql.push(if as_text { " #>> " } else { " #> " });
    sql.bind(Param::Texts(keys.to_vec()));
    sql.push("::text[])");
}

/// True when the JSON value at the path equals `v` (same JSON type); never NULL.
fn json_eq(sql: &mut Sql, doc: Document, keys: &[String], v: &Scalar) {
    if *v == Scalar::Null {
        // An explicit null or a missing key.
        sql.push("(");
        json_at(sql, doc, keys, false);
        sql.push(" IS NULL OR ");
        json_at(sql, doc, keys, false);
        sql.push(" = 'null'::jsonb)");
        return;
    }
    sql.push("COALESCE(");
    json_at(sql, doc, keys, false);
    sql.push(" = ");
    sql.bind(Param::Text(v.to_json()));
    sql.push("::jsonb, false)");
}

/// A type-strict range comparison with a number or a string; never NULL.
fn json_range(sql: &mut Sql, doc: Document, keys: &[String], cmp: Cmp, v: &Scalar) {
    sql.push("COALESCE(jsonb_typeof(");
    json_at(sql, doc, keys, false);
    match v {
        Scalar::Text(s) => {
            sql.push(") = 'string' AND ");
            json_at(sql, doc, keys, true);
            sql.push(" COLLATE \"C\" ");
            sql.push(cmp.sql());
            sql.push(" ");
            sql.bind(Param::Text(s.clone()));
        }
        _ => {
            sql.push(") = 'number' AND ");
            json_at(sql, doc, keys, false);
            sql.push(" ");
            sql.push(cmp.sql());
            sql.push(" ");
            sql.bind(Param::Text(v.to_json()));
            sql.push("::jsonb");
        }
    }
    sql.push(", false)");
}

fn condition(sql: &mut Sql, c: &Condition) {
    match c {
        Condition::Compare {
            field: Field::Column(col),
            cmp,
            value,
        } => {
            sql.push(column(*col));
            if col.is_text() && !matches!(cmp, Cmp::Eq | Cmp::Ne) {
                sql.push(" COLLATE \"C\"");
            }
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
            sql.push(if *negated { "NOT (" } else { "(" });
            sql.push(column(*col));
            sql.push(" = ANY(");
            if col.is_text() {
                let texts = values
                    .iter()
                    .filter_map(|v| match v {
                        Scalar::Text(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                sql.bind(Param::Texts(texts));
                sql.push("::text[]");
            } else {
                let ints = values
                    .iter()
                    .filter_map(|v| match v {
                        Scalar::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                sql.bind(Param::Ints(ints));
                sql.push("::bigint[]");
            }
            sql.push("))");
        }
        // Columns are never NULL.
        Condition::Exists {
            field: Field::Column(_),
            exists,
        } => sql.push(if *exists { "true" } else { "false" }),
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
            _ => json_range(sql, *doc, keys, *cmp, value),
        },
        Condition::In {
            field: Field::Json(doc, keys),
            values,
            negated,
        } => {
            if values.is_empty() {
                sql.push(if *negated { "true" } else { "false" });
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
            json_at(sql, *doc, keys, false);
            sql.push(if *exists { " IS NOT NULL" } else { " IS NULL" });
        }
    }
}

fn filter(sql: &mut Sql, f: &Filter) {
    match f {
        Filter::Condition(c) => condition(sql, c),
        Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => sql.push("true"),
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
            sql.push(sort_expr(k.column));
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
            sql.push(sort_expr(k.column));
            sql.push(" = ");
            sort_value(sql, v);
            sql.push(" AND ");
        }
        sql.push(sort_expr(keys[i].column));
        sql.push(if keys[i].descending { " < " } else { " > " });
        sort_value(sql, &after[i]);
        sql.push(")");
    }
    sql.push(")");
}

/// The `WHERE` clause of a query (without the cursor).
fn where_clause(sql: &mut Sql, q: &SessionQuery) {
    sql.push(" WHERE true");
    if let Some(owner) = &q.owner_id {
        sql.push(" AND owner_id = ");
        sql.bind(Param::Text(owner.clone()));
    }
    if let [one] = q.workflows.as_slice() {
        sql.push(" AND workflow_id = ");
        sql.bind(Param::Text(one.clone()));
    } else if !q.workflows.is_empty() {
        sql.push(" AND workflow_id = ANY(");
        sql.bind(Param::Texts(q.workflows.clone()));
        sql.push("::text[])");
    }
    if let Some(f) = &q.filter {
        sql.push(" AND ");
        filter(sql, f);
    }
}

const SUMMARY_COLUMNS: &str = "id, workflow_id, workflow_revision, workflow_name, workflow_version, \
     status, current_step, ended, metadata::text AS metadata, properties::text AS properties, \
     owner_id, created_at, updated_at";

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
        sql.push(sort_expr(k.column));
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
    sql.push(") AS capped");
    sql
}

fn query(sql: &Sql) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(&sql.text);
    for p in &sql.params {
        query = match p {
            Param::Int(i) => query.bind(*i),
            Param::Text(s) => query.bind(s.as_str()),
            Param::Texts(v) => query.bind(v.clone()),
            Param::Ints(v) => query.bind(v.clone()),
        };
    }
    query
}

pub(crate) async fn search(db: &Db, q: &SessionQuery) -> StoreResult<SessionPage> {
    let page = page_sql(q);
    let rows = query(&page).fetch_all(db.read()).await.map_err(backend)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let count = count_sql(q);
    let total: i64 = col(&query(&count).fetch_one(db).await.map_err(backend)?, "n")?;
    Ok(SessionPage { items, total })
}

/// `EXPLAIN` of the page query of `q`: one line per plan line.
pub(crate) async fn plan(db: &Db, q: &SessionQuery) -> StoreResult<Vec<String>> {
    let page = page_sql(q);
    let explained = Sql {
        text: format!("EXPLAIN {}", page.text),
        params: page.params,
    };
    let rows = query(&explained).fetch_all(db).await.map_err(backend)?;
    rows.iter()
        .map(|r| col::<String>(r, "QUERY PLAN"))
        .collect()
}

#[async_trait]
impl SearchStore for PgStore {
    async fn session_search(
        &self,
        query: &idv_store::SessionQuery,
    ) -> StoreResult<idv_store::SessionPage> {
        crate::search::search(&self.pool, query).await
    }

    async fn view_put(
        &self,
        view: &idv_store::ViewRecord,
        only_owner: Option<PrincipalId<'_>>,
    ) -> StoreResult<bool> {
        crate::views::put(&self.pool, view, only_owner.map(PrincipalId::as_str)).await
    }

    async fn view_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> StoreResult<Option<idv_store::ViewRecord>> {
        crate::views::get(&self.pool, namespace, key).await
    }

    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<PrincipalId<'_>>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<idv_store::ViewRecord>, i64)> {
        crate::views::list(
            &self.pool,
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
            &self.pool,
            namespace,
            key,
            only_owner.map(PrincipalId::as_str),
        )
        .await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::search_fns!();
