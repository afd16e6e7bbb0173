//! Users and custom roles (the built-in roles live in code). A user's access tokens go with
//! it (`ON DELETE CASCADE`).

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, list_col, list_text, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::UserId;
use idv_store::{AccountStore, Role};
use idv_store::{StoreResult, User};

pub(crate) async fn list(db: &Db) -> StoreResult<Vec<User>> {
    let rows = sqlx::query(
        "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users ORDER BY created_at, rowid",
    )
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

// --- custom roles ---

#[async_trait]
impl AccountStore for SqliteStore {
    async fn user_create(&self, user: &User) -> StoreResult<()> {
        crate::users::create(&self.db, user).await
    }

    async fn user_get(&self, id: UserId<'_>) -> StoreResult<Option<User>> {
        crate::users::get(&self.db, id.as_str()).await
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

    async fn user_delete(&self, id: UserId<'_>) -> StoreResult<bool> {
        crate::users::delete(&self.db, id.as_str()).await
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

    async fn roles_named(&self, names: &[String]) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT name, description, permissions, created_at FROM roles \
             WHERE name IN (SELECT value FROM json_each($1)) ORDER BY name",
        )
        .bind(list_text(names)?)
        .fetch_all(self.db.read())
        .await
        .map_err(backend)?;
        map_rows(rows, role_from_row)
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::users_fns!();
