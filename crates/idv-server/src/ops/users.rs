//! Users and roles: creation with validated roles, role changes without privilege escalation,
//! and the first administrator.

use crate::auth::{Principal, hash_password_blocking};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::{BUILTIN_ROLES, PermissionSet, builtin_role};
use idv_store::UserId;
use idv_store::{Role, StoreError, User};

pub struct NewUser {
    pub name: String,
    pub password: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
}

pub(crate) const MIN_PASSWORD_LEN: usize = 8;

/// Checks that every role exists; returns the union of their permissions.
pub(crate) async fn resolve_roles(state: &AppState, roles: &[String]) -> ApiResult<PermissionSet> {
    let custom = state.store.role_list().await?;
    let mut set = PermissionSet::default();
    let mut unknown = Vec::new();
    for r in roles {
        if let Some(p) = builtin_role(r) {
            set.extend(&p);
        } else if let Some(c) = custom.iter().find(|c| &c.name == r) {
            set.extend(&PermissionSet::parse(&c.permissions).unwrap_or_default());
        } else {
            unknown.push(r.clone());
        }
    }
    if !unknown.is_empty() {
        let mut known: Vec<String> = BUILTIN_ROLES.iter().map(|(n, _)| n.to_string()).collect();
        known.extend(custom.into_iter().map(|c| c.name));
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "unknown role(s) {}; known roles: {}",
                unknown.join(", "),
                known.join(", ")
            ),
        ));
    }
    Ok(set)
}

fn check_escalation(by: Option<&Principal>, wanted: &PermissionSet, what: &str) -> ApiResult<()> {
    if let Some(p) = by
        && !p.permissions.covers(wanted)
    {
        return Err(ApiError::new(
            ErrorCode::PermissionEscalation,
            format!(
                "you cannot {what} with permissions you do not hold: {}",
                p.permissions.missing_from(wanted).join(", ")
            ),
        ));
    }
    Ok(())
}

/// Creates a user. `by` is the HTTP caller (None for the CLI, which runs with the database's
/// own authority).
pub async fn create(state: &AppState, by: Option<&Principal>, input: NewUser) -> ApiResult<User> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c == ':') {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "a user name must be 1 to 128 characters, without `:` or control characters",
        ));
    }
    if input.password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if let Some(e) = &input.email
        && !e.contains('@')
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`{e}` is not an email address"),
        ));
    }
    let perms = resolve_roles(state, &input.roles).await?;
    check_escalation(by, &perms, "create a user")?;
    if state.store.user_by_name(&name).await?.is_some() {
        return Err(ApiError::new(
            ErrorCode::UserExists,
            format!("User {name} already exists"),
        ));
    }
    let now = state.clock.now_ms();
    let user = User {
        id: idv_core::ids::new_id(),
        name: name.clone(),
        email: input.email,
        password_hash: hash_password_blocking(input.password).await?,
        roles: input.roles,
        active: true,
        created_at: now,
        updated_at: now,
    };
    match state.store.user_create(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict { .. }) => Err(ApiError::new(
            ErrorCode::UserExists,
            format!("User {name} already exists"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// What a PATCH may change.
#[derive(Default)]
pub struct UserPatch {
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub email: Option<String>,
    pub password: Option<String>,
}

pub async fn update(
    state: &AppState,
    by: Option<&Principal>,
    id: &str,
    patch: UserPatch,
) -> ApiResult<User> {
    let mut user = state
        .store
        .user_get(UserId::new(id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, format!("no user with id {id}")))?;
    if let Some(roles) = patch.roles {
        let perms = resolve_roles(state, &roles).await?;
        check_escalation(by, &perms, "give a user roles")?;
        user.roles = roles;
    }
    if let Some(a) = patch.active {
        user.active = a;
    }
    if let Some(e) = patch.email {
        user.email = Some(e);
    }
    if let Some(p) = patch.password {
        if p.chars().count() < MIN_PASSWORD_LEN {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the password must have at least {MIN_PASSWORD_LEN} characters"),
            ));
        }
        user.password_hash = hash_password_blocking(p).await?;
    }
    user.updated_at = state.clock.now_ms();
    if !state.store.user_update(&user).await? {
        return Err(ApiError::new(
            ErrorCode::UserNotFound,
            format!("no user with id {id}"),
        ));
    }
    state.changed(crate::cluster::Change::Users).await;
    Ok(user)
}

pub async fn delete_by_name(state: &AppState, name: &str) -> ApiResult<User> {
    let user = state.store.user_by_name(name).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::UserNotFound,
            format!("User {name} does not exist"),
        )
    })?;
    state.store.user_delete(UserId::new(&user.id)).await?;
    state.changed(crate::cluster::Change::Users).await;
    Ok(user)
}

/// Creates a custom role.
pub(crate) async fn create_role(
    state: &AppState,
    by: Option<&Principal>,
    name: &str,
    description: Option<String>,
    permissions: &[String],
) -> ApiResult<Role> {
    let name = name.trim();
    if name.is_empty() || name.len() > 128 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "a role name must be 1 to 128 characters",
        ));
    }
    if builtin_role(name).is_some() {
        return Err(ApiError::new(
            ErrorCode::RoleExists,
            format!("{name} is a built-in role"),
        ));
    }
    let set = PermissionSet::parse(permissions)?;
    check_escalation(by, &set, "create a role")?;
    let role = Role {
        name: name.to_string(),
        description,
        permissions: set.to_strings(),
        created_at: state.clock.now_ms(),
    };
    match state.store.role_create(&role).await {
        Ok(()) => {
            // Users may already hold the name: their permissions change now.
            state.changed(crate::cluster::Change::Users).await;
            Ok(role)
        }
        Err(StoreError::Conflict { .. }) => Err(ApiError::new(
            ErrorCode::RoleExists,
            format!("role {name} already exists"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// On an empty database, creates `admin` with `IDV_ADMIN_PASSWORD` or a random password.
/// Returns the generated password (to print once) when one was generated.
pub(crate) async fn ensure_admin(
    state: &AppState,
    env_password: Option<String>,
) -> ApiResult<Option<String>> {
    if state.store.user_count().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match env_password.filter(|p| !p.is_empty()) {
        Some(p) => (p, false),
        None => (idv_core::ids::random_base36(24), true),
    };
    let input = NewUser {
        name: "admin".into(),
        password: password.clone(),
        email: None,
        roles: vec!["admin".into()],
    };
    match create(state, None, input).await {
        Ok(_) => Ok(generated.then_some(password)),
        // Another instance created it first.
        Err(ApiError(e)) if e.code == ErrorCode::UserExists => Ok(None),
        Err(e) => Err(e),
    }
}
