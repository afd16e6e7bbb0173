//! Statements of the adapters' `users` modules.

/// Run by `users::create`.
pub const CREATE: &str = "INSERT INTO users (id, name, email, password_hash, roles, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Run by `users::get`.
pub const GET: &str = "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE id = $1";

/// Run by `users::by_name`.
pub const BY_NAME: &str = "SELECT id, name, email, password_hash, roles, active, created_at, updated_at \
         FROM users WHERE name = $1";

/// Run by `users::update`.
pub const UPDATE: &str = "UPDATE users SET email = $2, password_hash = $3, roles = $4, active = $5, updated_at = $6 \
         WHERE id = $1";

/// Run by `users::delete`.
pub const DELETE: &str = "DELETE FROM users WHERE id = $1";

/// Run by `users::count`.
pub const COUNT: &str = "SELECT COUNT(*) AS n FROM users";

/// Run by `users::create_role`.
pub const CREATE_ROLE: &str =
    "INSERT INTO roles (name, description, permissions, created_at) VALUES ($1, $2, $3, $4)";

/// Run by `users::list_roles`.
pub const LIST_ROLES: &str =
    "SELECT name, description, permissions, created_at FROM roles ORDER BY name";

/// The functions of the adapters' `users` modules that are the same in both, word for word:
/// `from_row`, `create`, `get`, `by_name`, `update`, `delete`, `count`, `role_from_row`,
/// `create_role`, `list_roles`. Expanded inside each adapter's module, so the names they use
/// (`Db`, `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! users_fns {
    () => {
        fn from_row(row: &DbRow) -> StoreResult<User> {
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
            sqlx::query(idv_store_sql::users::CREATE)
                .bind(&user.id)
                .bind(&user.name)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(list_text(&user.roles)?)
                .bind(user.active)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(db.write())
                .await
                .map_err(unique_or_backend(|| format!("user {:?}", user.name)))?;
            Ok(())
        }

        pub(crate) async fn get(db: &Db, id: &str) -> StoreResult<Option<User>> {
            sqlx::query(idv_store_sql::users::GET)
                .bind(id)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?
                .as_ref()
                .map(from_row)
                .transpose()
        }

        pub(crate) async fn by_name(db: &Db, name: &str) -> StoreResult<Option<User>> {
            sqlx::query(idv_store_sql::users::BY_NAME)
                .bind(name)
                .fetch_optional(db.read())
                .await
                .map_err(backend)?
                .as_ref()
                .map(from_row)
                .transpose()
        }

        /// Name, id and creation time never change.
        pub(crate) async fn update(db: &Db, user: &User) -> StoreResult<bool> {
            let done = sqlx::query(idv_store_sql::users::UPDATE)
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(list_text(&user.roles)?)
                .bind(user.active)
                .bind(user.updated_at)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn delete(db: &Db, id: &str) -> StoreResult<bool> {
            let done = sqlx::query(idv_store_sql::users::DELETE)
                .bind(id)
                .execute(db.write())
                .await
                .map_err(backend)?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn count(db: &Db) -> StoreResult<i64> {
            let row = sqlx::query(idv_store_sql::users::COUNT)
                .fetch_one(db.read())
                .await
                .map_err(backend)?;
            col(&row, "n")
        }

        fn role_from_row(row: &DbRow) -> StoreResult<Role> {
            Ok(Role {
                name: col(row, "name")?,
                description: col(row, "description")?,
                permissions: list_col(row, "permissions")?,
                created_at: col(row, "created_at")?,
            })
        }

        pub(crate) async fn create_role(db: &Db, role: &Role) -> StoreResult<()> {
            sqlx::query(idv_store_sql::users::CREATE_ROLE)
                .bind(&role.name)
                .bind(&role.description)
                .bind(list_text(&role.permissions)?)
                .bind(role.created_at)
                .execute(db.write())
                .await
                .map_err(unique_or_backend(|| format!("role {:?}", role.name)))?;
            Ok(())
        }

        pub(crate) async fn list_roles(db: &Db) -> StoreResult<Vec<Role>> {
            let rows = sqlx::query(idv_store_sql::users::LIST_ROLES)
                .fetch_all(db.read())
                .await
                .map_err(backend)?;
            map_rows(rows, role_from_row)
        }
    };
}
