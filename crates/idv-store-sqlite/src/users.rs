//! Users and custom roles (the built-in roles live in code). A user's access tokens go with
//! it (`ON DELETE CASCADE`).

use crate::Db;
use crate::SqliteStore;
use crate::convert::{backend, col, list_col, list_text, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::{AccountStore, Role};
use idv_store::{StoreResult, User};
use sqlx::sqlite::SqliteRow;

fn from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: col(row, "id")?,
        name: col(row, "name")?,
        email: col(row, "email")?,
        password_hash: col(row, "password_hash")?,
        roles: list_col(row, "roles")?,
        active: col(row, "active")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

pub(crate) async fn create(db: &Db, user: &User) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, name, email, password_hash, roles, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&user.id)
    .bind(&user.name)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(list_text(&user.roles)?)
    .bind(user.active)
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(&db.write)
    .await
    .map_err(unique_or_backend(|| format!("user {:?}", user.name)))?;
    Ok(())
}

pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<User>> {
    sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.read)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn by_name(db: &Db, name: &str) -> StoreResult<Option<User>> {
    sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&db.read)
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(crate) async fn list(db: &Db) -> StoreResult<Vec<User>> {
    let rows = sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users ORDER BY created_at, rowid",
    )
    .fetch_all(&db.read)
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

/// Name, id and creation time never change.
pub(crate) async fn update(db: &Db, user: &User) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET email = $2, password_hash = $3, roles = $4, active = $5, updated_at = $6 \
         WHERE id = $1",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(list_text(&user.roles)?)
    .bind(user.active)
    .bind(user.updated_at)
    .execute(&db.write)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn delete(db: &Db, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&db.write)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn count(db: &Db) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.read)
        .await
        .map_err(backend)?;
    col(&row, "n")
}

// --- custom roles ---
fn role_from_row(row: &SqliteRow) -> StoreResult<Role> {
    Ok(Role {
        name: col(row, "name")?,
        description: col(row, "description")?,
        permissions: list_col(row, "permissions")?,
        created_at: col(row, "created_at")?,
    })
}

pub(crate) async fn create_role(db: &Db, role: &Role) -> StoreResult<()> {
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

pub(crate) async fn list_roles(db: &Db) -> StoreResult<Vec<Role>> {
    let rows =
        sqlx::query("SELECT name, description, permissions, created_at FROM roles ORDER BY name")
            .fetch_all(&db.read)
            .await
            .map_err(backend)?;
    map_rows(rows, role_from_row)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn user_create(&self, user: &User) -> StoreResult<()> {
        crate::users::create(&self.db, user).await
    }

    async fn user_get(&self, id: &str) -> StoreResult<Option<User>> {
        crate::users::get(&self.db, id).await
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        crate::users::by_name(&self.db, name).await
    }

    async fn user_list(&self) -> StoreResult<Vec<User>> {
        crate::users::list(&self.db).await
    }

    async fn user_update(&self, user: &User) -> StoreResult<bool> {
        crate::users::update(&self.db, user).await
    }

    async fn user_delete(&self, id: &str) -> StoreResult<bool> {
        crate::users::delete(&self.db, id).await
    }

    async fn user_count(&self) -> StoreResult<i64> {
        crate::users::count(&self.db).await
    }

    async fn role_create(&self, role: &Role) -> StoreResult<()> {
        create_role(&self.db, role).await
    }

    async fn role_list(&self) -> StoreResult<Vec<Role>> {
        list_roles(&self.db).await
    }
}
