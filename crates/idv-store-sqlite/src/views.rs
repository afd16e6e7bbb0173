//! Saved views: one row per (namespace, key); visibility by user ids is filtered in SQL.

use crate::Db;
use crate::convert::DbRow;
use crate::convert::{backend, col, json_col, json_text, list_col, list_text, map_rows};
use idv_store::{StoreResult, ViewRecord};

const COLUMNS: &str =
    "namespace, key, value, group_ids, user_ids, owner_id, created_at, updated_at";

/// Views `?` may see (the viewer is bound twice): no user ids, owned, or listed.
const VISIBLE: &str = "(user_ids = '[]' OR owner_id = ? \
     OR EXISTS (SELECT 1 FROM json_each(views.user_ids) WHERE json_each.value = ?))";

pub(crate) async fn put(db: &Db, v: &ViewRecord, only_owner: Option<&str>) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO views (namespace, key, value, group_ids, user_ids, owner_id, created_at, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, \
         group_ids = excluded.group_ids, user_ids = excluded.user_ids, \
         updated_at = excluded.updated_at \
         WHERE ?9 IS NULL OR views.owner_id = ?9",
    )
    .bind(&v.namespace)
    .bind(&v.key)
    .bind(json_text(&v.value))
    .bind(list_text(&v.group_ids)?)
    .bind(list_text(&v.user_ids)?)
    .bind(&v.owner_id)
    .bind(v.created_at)
    .bind(v.updated_at)
    .bind(only_owner)
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn get(db: &Db, namespace: &str, key: &str) -> StoreResult<Option<ViewRecord>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM views WHERE namespace = ?1 AND key = ?2"
    ))
    .bind(namespace)
    .bind(key)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(
    db: &Db,
    namespace: &str,
    viewer: Option<&str>,
    limit: i64,
    skip: i64,
) -> StoreResult<(Vec<ViewRecord>, i64)> {
    let visible = if viewer.is_some() { VISIBLE } else { "1" };
    let list_sql = format!(
        "SELECT {COLUMNS} FROM views WHERE namespace = ? AND {visible} ORDER BY key LIMIT ? OFFSET ?"
    );
    let count_sql = format!("SELECT count(*) AS n FROM views WHERE namespace = ? AND {visible}");
    let mut rows_q = sqlx::query(&list_sql).bind(namespace);
    let mut count_q = sqlx::query(&count_sql).bind(namespace);
    if let Some(v) = viewer {
        rows_q = rows_q.bind(v).bind(v);
        count_q = count_q.bind(v).bind(v);
    }
    let rows = rows_q
        .bind(limit)
        .bind(skip)
        .fetch_all(db.read())
        .await
        .map_err(backend)?;
    let total: i64 = col(&count_q.fetch_one(db.read()).await.map_err(backend)?, "n")?;
    Ok((map_rows(rows, from_row)?, total))
}

pub(crate) async fn delete(
    db: &Db,
    namespace: &str,
    key: &str,
    only_owner: Option<&str>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "DELETE FROM views WHERE namespace = ?1 AND key = ?2 AND (?3 IS NULL OR owner_id = ?3)",
    )
    .bind(namespace)
    .bind(key)
    .bind(only_owner)
    .execute(db.write())
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::views_fns!();
