//! Users. A user's access tokens go with it (`ON DELETE CASCADE`).

use crate::convert::{backend, col, map_rows, unique_or_backend};
use idv_store::{StoreResult, User};
use sqlx::PgPool;
use sqlx::postgres::PgRow;

fn from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: col(row, "id")?,
        name: col(row, "name")?,
        email: col(row, "email")?,
        password_hash: col(row, "password_hash")?,
        roles: col(row, "roles")?,
        active: col(row, "active")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

pub(crate) async fn create(db: &PgPool, user: &User) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, name, email, password_hash, roles, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&user.id)
    .bind(&user.name)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.roles)
    .bind(user.active)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(db)
    .await
    .map_err(unique_or_backend(|| format!("user {:?}", user.name)))?;
    Ok(())
}

pub(crate) async fn get(db: &PgPool, id: &str) -> StoreResult<Option<User>> {
    sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn by_name(db: &PgPool, name: &str) -> StoreResult<Option<User>> {
    sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(db)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(db: &PgPool) -> StoreResult<Vec<User>> {
    let rows = sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users ORDER BY created_at, seq",
    )
    .fetch_all(db)
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

/// Name, id and creation time never change.
pub(crate) async fn update(db: &PgPool, user: &User) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET email = $2, password_hash = $3, roles = $4, active = $5, updated_at = $6 \
         WHERE id = $1",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.roles)
    .bind(user.active)
    .bind(user.updated_at)
    .execute(db)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete(db: &PgPool, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn count(db: &PgPool) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(db)
        .await
        .map_err(backend)?;
    col(&row, "n")
}
