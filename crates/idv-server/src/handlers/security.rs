//! Users and roles under `/api/security`.

use super::Caller;
use crate::api::accounts::{RoleInput, RoleView, UserInput, UserPatchInput, UserView};
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::users::{self, NewUser, UserPatch};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use idv_core::ErrorCode;
use idv_core::permission::{BUILTIN_ROLES, PermissionSet};
use idv_store::UserId;

pub(crate) async fn list_roles(State(state): State<AppState>) -> ApiResult<Json<Vec<RoleView>>> {
    let mut out: Vec<RoleView> = BUILTIN_ROLES
        .iter()
        .map(|(name, perms)| {
            let set = PermissionSet::parse(perms).unwrap_or_default();
            RoleView::builtin(name, set.to_strings())
        })
        .collect();
    for r in state.store.role_list().await? {
        out.push(RoleView::from(&r));
    }
    Ok(Json(out))
}

pub(crate) async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<RoleInput>,
) -> ApiResult<(Extension<Note>, Json<RoleView>)> {
    let r = users::create_role(
        &state,
        Some(&caller),
        &input.name,
        input.description,
        &input.permissions,
    )
    .await?;
    Ok((Extension(Note::target(&r.name)), Json(RoleView::from(&r))))
}

pub(crate) async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
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

pub(crate) async fn create_user(
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

pub(crate) async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let u = state
        .store
        .user_get(UserId::new(&id))
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(UserView::from(&u)))
}

pub(crate) async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input, _): JsonBody<UserPatchInput>,
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

pub(crate) async fn delete_user(
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
        .user_get(UserId::new(&id))
        .await?
        .ok_or_else(|| not_found(&id))?;
    users::delete_by_name(&state, &u.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
