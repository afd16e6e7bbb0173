//! Users and roles under `/api/security`.

use super::Caller;
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::users::{self, NewUser, UserPatch, UserView};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use idv_core::ErrorCode;
use idv_core::permission::{BUILTIN_ROLES, PermissionSet};
use serde::Deserialize;
use serde_json::{Value, json};

fn custom_role_json(r: &idv_store::Role) -> Value {
    json!({"name": r.name, "description": r.description, "builtIn": false, "permissions": r.permissions, "createdAt": idv_core::time::iso(r.created_at)})
}

pub async fn list_roles(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let mut out: Vec<Value> = BUILTIN_ROLES
        .iter()
        .map(|(name, perms)| {
            let set = PermissionSet::parse(perms).unwrap_or_default();
            json!({"name": name, "builtIn": true, "permissions": set.to_strings()})
        })
        .collect();
    for r in state.store.role_list().await? {
        out.push(custom_role_json(&r));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    name: String,
    #[serde(default)]
    description: Option<String>,
    permissions: Vec<String>,
}

pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<RoleInput>,
) -> ApiResult<(Extension<Note>, Json<Value>)> {
    let r = users::create_role(
        &state,
        Some(&caller),
        &input.name,
        input.description,
        &input.permissions,
    )
    .await?;
    Ok((Extension(Note::target(&r.name)), Json(custom_role_json(&r))))
}

pub async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
    Ok(Json(
        state
            .store
            .user_list()
            .await?
            .iter()
            .map(UserView::from)
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    name: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<UserInput>,
) -> ApiResult<(Extension<Note>, Json<UserView>)> {
    let u = users::create(
        &state,
        Some(&caller),
        NewUser {
            name: input.name,
            password: input.password,
            email: input.email,
            roles: input.roles,
        },
    )
    .await?;
    Ok((Extension(Note::target(&u.id)), Json(UserView::from(&u))))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::UserNotFound, format!("no user with id {id}"))
}

pub async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let u = state
        .store
        .user_get(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(UserView::from(&u)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchInput {
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

pub async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input, _): JsonBody<PatchInput>,
) -> ApiResult<Json<UserView>> {
    let patch = UserPatch {
        roles: input.roles,
        active: input.active,
        email: input.email,
        password: input.password,
    };
    let u = users::update(&state, Some(&caller), &id, patch).await?;
    Ok(Json(UserView::from(&u)))
}

pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if caller.id == id {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "you cannot delete the user you are logged in as",
        ));
    }
    let u = state
        .store
        .user_get(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    users::delete_by_name(&state, &u.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
