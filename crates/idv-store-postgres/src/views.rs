//! Saved views: one row per (namespace, key); visibility by user ids is filtered in SQL.

use crate::Db;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::list_col;
use crate::convert::list_text;
use crate::convert::{backend, col, json_col, json_text, map_rows};
use idv_store::{StoreResult, ViewRecord};

const COLUMNS: &str = "namespace, key, value::text AS value, group_ids, user_ids, owner_id, \
     created_at, updated_at";

pub(crate) async fn put(db: &Db, v: &ViewRecord, only_owner: Option<&str>) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO views (namespace, key, value, group_ids, user_ids, owner_id, created_at, \
         updated_at) VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8) \
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, \
         group_ids = excluded.group_ids, user_ids = excluded.user_ids, \
         updated_at = excluded.updated_at \
         WHERE $9::text IS NULL OR views.owner_id = $9::text",
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
        "SELECT {COLUMNS} FROM views WHERE namespace = $1 AND key = $2"
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

/// `$2` is the viewer, or NULL for every view.
const VISIBLE: &str = "($2::text IS NULL OR cardinality(user_ids) = 0 OR owner_id = $2::text \
     OR $2::text = ANY(user_ids))";

pub(crate) async fn list(
    db: &Db,
    namespace: &str,
    viewer: Option<&str>,
    limit: i64,
    skip: i64,
) -> StoreResult<(Vec<ViewRecord>, i64)> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM views WHERE namespace = $1 AND {VISIBLE} ORDER BY key \
         LIMIT $3 OFFSET $4"
    ))
    .bind(namespace)
    .bind(viewer)
    .bind(limit)
    .bind(skip)
    .fetch_all(db)
    .await
    .map_err(backend)?;
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM views WHERE namespace = $1 AND {VISIBLE}"
    ))
    .bind(namespace)
    .bind(viewer)
    .fetch_one(db)
    .await
    .map_err(backend)?;
    Ok((map_rows(rows, from_row)?, total))
}

pub(crate) async fn delete(
    db: &Db,
    namespace: &str,
    key: &str,
    only_owner: Option<&str>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "DELETE FROM views WHERE namespace = $1 AND key = $2 \
         AND ($3::text IS NULL OR owner_id = $3::text)",
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
