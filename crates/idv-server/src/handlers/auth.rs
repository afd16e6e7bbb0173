//! Login, token refresh and logout for Bearer access tokens.

use super::Caller;
use crate::api::accounts::{LoginInput, RefreshInput, TokenPair};
use crate::audit::Note;
use crate::auth::{new_token_pair, sha256_hex, verify_password_blocking};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use idv_core::ErrorCode;
use idv_store::TokenFamilyId;
use idv_store::{AuthToken, TokenKind};

async fn issue(state: &AppState, user_id: &str) -> ApiResult<TokenPair> {
    let (access, refresh) = new_token_pair();
    let now = state.clock.now_ms();
    let family = idv_core::ids::new_id();
    let ttl = state.config.oauth2.access_token_ttl as i64;
    for (text, kind, ttl_s) in [
        (&access, TokenKind::Access, ttl),
        (
            &refresh,
            TokenKind::Refresh,
            state.config.oauth2.refresh_token_ttl as i64,
        ),
    ] {
        state
            .store
            .token_create(&AuthToken {
                hash: sha256_hex(text),
                kind,
                family: family.clone(),
                user_id: user_id.to_string(),
                created_at: now,
                expires_at: now + ttl_s * 1000,
            })
            .await?;
    }
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: ttl,
    })
}

/// Logs in; the answer notes the user name tried (and the user id on success) for the audit
/// log, never the password.
pub async fn login(
    State(state): State<AppState>,
    JsonBody(input, _): JsonBody<LoginInput>,
) -> (Extension<Note>, ApiResult<Json<TokenPair>>) {
    let tried = input.username.clone();
    let (result, user_id) = check_login(&state, input).await;
    let note = Note {
        actor: Some((user_id, tried)),
        ..Note::default()
    };
    (Extension(note), result)
}

async fn check_login(
    state: &AppState,
    input: LoginInput,
) -> (ApiResult<Json<TokenPair>>, Option<String>) {
    match verify_login(state, &input.username, input.password).await {
        (Ok(user), id) => (issue(state, &user.id).await.map(Json), id),
        (Err(e), id) => (Err(e), id),
    }
}

/// Checks a user name and password as every login does (the API's and the portal's): the
/// user when the password is right and the user active, else `invalid_credentials`; with the
/// user id when the name is known (for the audit log). An unknown name costs as much as a
/// known one, so timing does not reveal which names exist.
pub(crate) async fn verify_login(
    state: &AppState,
    username: &str,
    password: String,
) -> (ApiResult<idv_store::User>, Option<String>) {
    let invalid = || ApiError::new(ErrorCode::InvalidCredentials, "wrong user name or password");
    let user = match state.store.user_by_name(username).await {
        Ok(u) => u,
        Err(e) => return (Err(e.into()), None),
    };
    let Some(user) = user else {
        let _ = crate::auth::hash_password_blocking(password).await;
        return (Err(invalid()), None);
    };
    if !verify_password_blocking(user.password_hash.clone(), password).await || !user.active {
        let id = Some(user.id);
        return (Err(invalid()), id);
    }
    let id = Some(user.id.clone());
    (Ok(user), id)
}

/// Rotates a token pair; the answer notes the user the refresh token belonged to (id and
/// name) for the audit log, since the caller is not otherwise authenticated.
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(input, _): JsonBody<RefreshInput>,
) -> (Extension<Note>, ApiResult<Json<TokenPair>>) {
    let mut note = Note::default();
    let result = check_refresh(&state, input, &mut note).await;
    (Extension(note), result)
}

async fn check_refresh(
    state: &AppState,
    input: RefreshInput,
    note: &mut Note,
) -> ApiResult<Json<TokenPair>> {
    let t = state
        .store
        .token_get(&sha256_hex(&input.refresh_token))
        .await?
        .filter(|t| t.kind == TokenKind::Refresh)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "unknown refresh token"))?;
    let name = match state
        .store
        .user_get(idv_store::UserId::new(&t.user_id))
        .await?
    {
        Some(u) => u.name,
        None => t.user_id.clone(),
    };
    note.actor = Some((Some(t.user_id.clone()), name));
    note.target = Some(t.user_id.clone());
    // Rotation: the old pair ends whatever happens next.
    state
        .store
        .token_delete_family(TokenFamilyId::new(&t.family))
        .await?;
    if t.expires_at <= state.clock.now_ms() {
        return Err(ApiError::new(
            ErrorCode::ExpiredCredentials,
            "the refresh token has expired; log in again",
        ));
    }
    Ok(Json(issue(state, &t.user_id).await?))
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    match &caller.token_family {
        Some(f) => {
            state
                .store
                .token_delete_family(TokenFamilyId::new(f))
                .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "logout ends Bearer logins; Basic and API key callers have nothing to end",
        )),
    }
}
