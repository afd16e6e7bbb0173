//! The `AccountStore` port: users and custom roles (the built-in roles live in code).

use crate::{Role, StoreResult, User, UserId};
use async_trait::async_trait;

/// Users and custom roles (the built-in roles live in code).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Inserts a user; `Conflict` when the name is taken.
    async fn user_create(&self, user: &User) -> StoreResult<()>;

    async fn user_get(&self, id: UserId<'_>) -> StoreResult<Option<User>>;

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;

    /// All users, oldest first.
    async fn user_list(&self) -> StoreResult<Vec<User>>;

    /// Replaces email, password hash, roles, active and updated_at of the user with `user.id`.
    /// Returns false when there is no such user.
    async fn user_update(&self, user: &User) -> StoreResult<bool>;

    /// Deletes the user and every access token it holds. Returns false when there was none.
    async fn user_delete(&self, id: UserId<'_>) -> StoreResult<bool>;

    async fn user_count(&self) -> StoreResult<i64>;

    /// Inserts a role; `Conflict` when the name is taken.
    async fn role_create(&self, role: &Role) -> StoreResult<()>;

    /// All custom roles, by name.
    async fn role_list(&self) -> StoreResult<Vec<Role>>;

    /// The custom roles whose names are among `names`, by name, each once; names with no
    /// custom role (built-in or unknown) are left out. What checking a principal's roles needs,
    /// without reading every role.
    async fn roles_named(&self, names: &[String]) -> StoreResult<Vec<Role>>;
}
