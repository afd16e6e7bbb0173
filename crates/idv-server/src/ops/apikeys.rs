//! API keys: minting (never with more than the caller holds), listing without secrets, revoking.

use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::{Op, PermissionSet};
use idv_store::ApiKey;
use idv_store::{ApiKeyId, PrincipalId};

/// Mints a key. Returns the stored row and the key text, which is shown only now.
pub async fn create(
    state: &AppState,
    by: Option<&Principal>,
    name: &str,
    ttl: Option<i64>,
    permissions: &[String],
) -> ApiResult<(ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`name` must be 1 to 200 characters",
        ));
    }
    if permissions.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidPermission,
            "`permissions` must list at least one scope:operation, e.g. session_all:read",
        ));
    }
    if let Some(t) = ttl
        && t <= 0
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`ttl` must be a positive number of seconds, or left out for a key that never expires",
        ));
    }
    let set = PermissionSet::parse(permissions)?;
    if let Some(p) = by
        && !p.permissions.covers(&set)
    {
        return Err(ApiError::new(
            ErrorCode::PermissionEscalation,
            format!(
                "you cannot give a key permissions you do not hold: {}",
                p.permissions.missing_from(&set).join(", ")
            ),
        ));
    }
    let now = state.clock.now_ms();
    let id = idv_core::ids::new_id();
    let (text, secret_hash) = state.auth.new_api_key(&id);
    let key = ApiKey {
        id,
        name: name.to_string(),
        secret_hash,
        permissions: set.to_strings(),
        owner_id: by.map(|p| p.id.clone()),
        ttl,
        created_at: now,
        expires_at: ttl.map(|t| now.saturating_add(t.saturating_mul(1000))),
        revoked_at: None,
        last_used_at: None,
    };
    state.store.apikey_create(&key).await?;
    Ok((key, text))
}

/// The keys a caller may see: all with `apikey_all:read`, else its own.
pub async fn list(state: &AppState, by: &Principal) -> ApiResult<Vec<ApiKey>> {
    let reach = by
        .reach("apikey_all", "apikey", Op::Read)
        .unwrap_or(Reach::Own);
    let owner = (reach == Reach::Own).then_some(by.id.as_str());
    Ok(state.store.apikey_list(owner.map(PrincipalId::new)).await?)
}

/// One key the caller may act on with `op`; 404 for keys it may not see.
pub(crate) async fn get_for(
    state: &AppState,
    by: &Principal,
    id: &str,
    op: Op,
) -> ApiResult<ApiKey> {
    let reach = by.reach("apikey_all", "apikey", op).unwrap_or(Reach::Own);
    state
        .store
        .apikey_get(ApiKeyId::new(id))
        .await?
        .filter(|k| by.may_touch(reach, k.owner_id.as_deref()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ApiKeyNotFound,
                format!("no API key with id {id}"),
            )
        })
}

/// Revokes a key; it stops working at once. Returns the revocation time it asked for (a key
/// revoked before keeps its first time).
pub async fn revoke(state: &AppState, id: &str) -> ApiResult<i64> {
    let now = state.clock.now_ms();
    if !state.store.apikey_revoke(ApiKeyId::new(id), now).await? {
        return Err(ApiError::new(
            ErrorCode::ApiKeyNotFound,
            format!("no API key with id {id}"),
        ));
    }
    state.changed(crate::cluster::Change::ApiKey(id)).await;
    Ok(now)
}
