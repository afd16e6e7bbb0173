//! Server-side starts: ephemeral devices, deeplinks and one-time QR tokens.
//!
//! - An **ephemeral device** token (`idvdt_…`) acts as a principal of its own: it starts
//!   sessions (owned by it), submits their steps and reads them, nothing else, until its TTL
//!   ends; the sessions it starts end no later than it does.
//! - A **deeplink** starts a session at once and hands out a token bound to that one session,
//!   in a URL for the person's device; the session and the token share the TTL.
//! - A **QR code** is a deeplink whose URL holds a one-time `tr-` token instead. The device
//!   exchanges it once (`POST /api/deeplink/exchange`) for a token bound to the session; the
//!   exchange is one transaction in the store, so of two concurrent exchanges exactly one wins.
//!
//! Tokens are stored only as the keyed hash of their text ([`crate::auth::Auth::hash_secret`],
//! the key API key secrets are hashed with).

use crate::api::devices::DeeplinkInput;
use crate::auth::{Principal, PrincipalKind};
use crate::error::{ApiError, ApiResult};
use crate::ops::sessions::{self, StartInput};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_store::DeviceTokenId;
use idv_store::{DeviceToken, DeviceTokenKind, SessionRecord};

/// The TTL when none is given, in seconds.
pub(crate) const DEFAULT_TTL: i64 = 3_600;
/// The shortest TTL, in seconds.
pub(crate) const MIN_TTL: i64 = 60;
/// The longest TTL (7 days), in seconds.
pub(crate) const MAX_TTL: i64 = 7 * 24 * 3_600;
/// At most this many `workflowId`s on one deeplink.
pub(crate) const MAX_WORKFLOWS: usize = 20;

/// `ttl` checked against the bounds, or the default.
pub(crate) fn check_ttl(ttl: Option<i64>) -> ApiResult<i64> {
    match ttl {
        None => Ok(DEFAULT_TTL),
        Some(t) if (MIN_TTL..=MAX_TTL).contains(&t) => Ok(t),
        Some(t) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "`ttl` is {t}; it must be a number of seconds from {MIN_TTL} to {MAX_TTL} (7 days), or left out for {DEFAULT_TTL}"
            ),
        )),
    }
}

/// A token just issued: its stored record and its text, shown once.
pub struct Issued {
    pub token: DeviceToken,
    pub text: String,
}

impl Issued {
    /// The `Authorization` header value that uses it.
    pub fn authorization(&self) -> String {
        format!("Token {}", self.text)
    }
}

/// Mints an ephemeral device token for `by`.
pub async fn ephemeral(state: &AppState, by: &Principal, ttl: Option<i64>) -> ApiResult<Issued> {
    let ttl = check_ttl(ttl)?;
    let now = state.clock.now_ms();
    let id = idv_core::ids::new_id();
    let (text, secret_hash) = state.auth.new_device_token();
    let token = DeviceToken {
        id: id.clone(),
        kind: DeviceTokenKind::Ephemeral,
        secret_hash,
        principal_id: id,
        session_id: None,
        workflow_ids: Vec::new(),
        created_by: Some(by.id.clone()),
        created_at: now,
        expires_at: now.saturating_add(ttl * 1_000),
        used_at: None,
    };
    state.store.device_token_create(&token).await?;
    Ok(Issued { token, text })
}

/// A deeplink (or QR code) just issued.
pub struct Deeplink {
    pub(crate) issued: Issued,
    pub session: SessionRecord,
    /// `<baseUrl>/mobile?authorization=Token%20<token>&sessionId=<id>`.
    pub url: String,
}

/// The URL a device opens: Regula's shape, the token URL-encoded in the `authorization`
/// parameter (token texts are letters, digits, `_` and `-`, which need no escaping).
pub(crate) fn mobile_url(state: &AppState, token: &str, session_id: &str) -> String {
    format!(
        "{}/mobile?authorization=Token%20{token}&sessionId={session_id}",
        state.base_url
    )
}

/// The workflow ids of `workflowId` parameters: each value may also hold several, separated
/// by commas. Order kept, duplicates dropped.
pub fn workflow_ids<'a>(values: impl IntoIterator<Item = &'a str>) -> ApiResult<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    for id in values.into_iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    if ids.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "name the workflow: ?workflowId=<id> (repeat it for several)",
        ));
    }
    if ids.len() > MAX_WORKFLOWS {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "{} workflowId values given; at most {MAX_WORKFLOWS}",
                ids.len()
            ),
        ));
    }
    Ok(ids)
}

/// Starts a session of the first of `workflow_ids` (every one must exist) owned by a new token
/// bound to it; `one_time` makes that a `tr-` token to exchange, else a session token.
pub async fn deeplink(
    state: &AppState,
    by: &Principal,
    workflow_ids: Vec<String>,
    input: DeeplinkInput,
    one_time: bool,
) -> ApiResult<Deeplink> {
    deeplink_minted_by(state, Some(by.id.clone()), workflow_ids, input, one_time).await
}

/// [`deeplink`] with the token's `created_by` given: the caller's id, or, when a start link is
/// opened, the id of whoever created the link.
pub(crate) async fn deeplink_minted_by(
    state: &AppState,
    created_by: Option<String>,
    workflow_ids: Vec<String>,
    input: DeeplinkInput,
    one_time: bool,
) -> ApiResult<Deeplink> {
    let ttl = check_ttl(input.ttl)?;
    let Some(first) = workflow_ids.first().cloned() else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "name the workflow: ?workflowId=<id>",
        ));
    };
    for id in &workflow_ids {
        state.workflows.current(state.store.as_ref(), id).await?;
    }
    let now = state.clock.now_ms();
    let expires_at = now.saturating_add(ttl * 1_000);
    let id = idv_core::ids::new_id();
    // The session is started by the principal the token will be, not bound yet, so it owns
    // the session and bounds its expiry.
    let starter = Principal {
        id: id.clone(),
        kind: PrincipalKind::Device {
            token_id: id.clone(),
            session: None,
            expires_at,
            workflows: workflow_ids.clone(),
        },
        name: "deeplink".into(),
        permissions: idv_core::permission::PermissionSet::parse(crate::auth::DEVICE_PERMISSIONS)?,
        token_family: None,
    };
    let session = sessions::start(
        state,
        &starter,
        &first,
        StartInput {
            metadata: input.metadata,
            locale: input.locale,
        },
    )
    .await?;
    let (text, secret_hash) = if one_time {
        state.auth.new_one_time_token()
    } else {
        state.auth.new_device_token()
    };
    let token = DeviceToken {
        id: id.clone(),
        kind: if one_time {
            DeviceTokenKind::Short
        } else {
            DeviceTokenKind::Session
        },
        secret_hash,
        principal_id: id,
        session_id: Some(session.id.clone()),
        workflow_ids,
        created_by,
        created_at: now,
        expires_at,
        used_at: None,
    };
    state.store.device_token_create(&token).await?;
    let url = mobile_url(state, &text, &session.id);
    Ok(Deeplink {
        issued: Issued { token, text },
        session,
        url,
    })
}

/// Exchanges the caller's one-time token for a token bound to the same session until the same
/// expiry. Works once.
pub async fn exchange(state: &AppState, by: &Principal) -> ApiResult<Issued> {
    let PrincipalKind::OneTime { token_id, .. } = &by.kind else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only a one-time tr- token (from GET /api/deeplink/qrcode) is exchanged here; send it as Authorization: Token tr-...",
        ));
    };
    let used = || {
        ApiError::new(
            ErrorCode::InvalidCredentials,
            "this one-time token was already used or has expired; ask for a new QR code",
        )
    };
    let short = state
        .store
        .device_token_get(DeviceTokenId::new(token_id))
        .await?
        .ok_or_else(used)?;
    let now = state.clock.now_ms();
    let (text, secret_hash) = state.auth.new_device_token();
    let token = DeviceToken {
        id: idv_core::ids::new_id(),
        kind: DeviceTokenKind::Session,
        secret_hash,
        principal_id: short.principal_id,
        session_id: short.session_id,
        workflow_ids: short.workflow_ids,
        created_by: short.created_by,
        created_at: now,
        expires_at: short.expires_at,
        used_at: None,
    };
    if !state
        .store
        .device_token_exchange(DeviceTokenId::new(&short.id), now, &token)
        .await?
    {
        return Err(used());
    }
    Ok(Issued { token, text })
}

/// Deletes device tokens that expired more than `grace_ms` ago; returns how many.
pub(crate) async fn delete_expired(state: &AppState, grace_ms: i64) -> ApiResult<u64> {
    let before = state.clock.now_ms().saturating_sub(grace_ms);
    Ok(state.store.device_token_delete_expired(before).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_bounds() {
        assert_eq!(check_ttl(None).ok(), Some(DEFAULT_TTL));
        assert_eq!(check_ttl(Some(MIN_TTL)).ok(), Some(MIN_TTL));
        assert_eq!(check_ttl(Some(MAX_TTL)).ok(), Some(MAX_TTL));
        for bad in [MIN_TTL - 1, MAX_TTL + 1, 0, -5, i64::MAX] {
            let e = check_ttl(Some(bad)).expect_err("refused");
            assert_eq!(e.0.code, ErrorCode::InvalidRequest);
            assert!(e.0.message.contains("`ttl`"), "{}", e.0.message);
        }
    }

    #[test]
    fn workflow_ids_repeat_or_list() {
        assert_eq!(
            workflow_ids(["a", "b,c", " a ", ""]).ok(),
            Some(vec!["a".to_string(), "b".into(), "c".into()])
        );
        assert!(workflow_ids(["", " , "]).is_err());
        let many: Vec<String> = (0..=MAX_WORKFLOWS).map(|i| i.to_string()).collect();
        assert!(workflow_ids(many.iter().map(String::as_str)).is_err());
    }
}
