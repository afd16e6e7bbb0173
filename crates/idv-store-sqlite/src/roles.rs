//! Custom roles (the built-in ones live in code).

use crate::Db;
use crate::convert::{backend, col, list_col, list_text, map_rows, unique_or_backend};
use idv_store::{Role, StoreResult};
use sqlx::sqlite::SqliteRow;

fn from_row(row: &SqliteRow) -> StoreResult<Role> {
    Ok(Role {
        name: col(row, "name")?,
        description: col(row, "description")?,
        permissions: list_col(row, "permissions")?,
        created_at: col(row, "created_at")?,
    })
}

pub(crate) async fn create(db: &Db, role: &Role) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO roles (name, description, permissions, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&role.name)
    .bind(&role.description)
    .bind(list_text(&role.permissions)?)
    .bind(role.created_at)
    .execute(&db.write)
    .await
    .map_err(unique_or_backend(|| format!("role {:?}", role.name)))?;
    Ok(())
}

pub(crate) async fn list(db: &Db) -> StoreResult<Vec<Role>> {
    let rows =
        sqlx::query("SELECT name, description, permissions, created_at FROM roles ORDER BY name")
            .fetch_all(&db.read)
            .await
            .map_err(backend)?;
    map_rows(rows, from_row)
}
