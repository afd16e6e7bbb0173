//! Shareable start links of workflows, for the API and the CLI (`idv link`). A link's URL is
//! `<baseUrl>/l/<code>`; only the SHA-256 of the random code is stored. Each opening is
//! counted by one guarded update in the store (not while revoked, expired or used up), then
//! starts a fresh session of the link's workflow with the link's metadata plus `startLinkId`
//! and mints a token bound to it, as `POST /api/v1/deeplink` does.

use crate::api::devices::DeeplinkInput;
use crate::api::links::StartLinkInput;
use crate::auth::{Principal, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::ops::devices::{self, Deeplink};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_store::{StartLink, StartLinkUse};
use serde_json::{Map, Value};

/// Letters and digits of a link's code (about 165 bits).
const CODE_LEN: usize = 32;
/// The most openings a link may allow.
pub const MAX_USES: i64 = 1_000_000_000;
/// The shortest and longest `expiresIn`, in seconds.
pub const MIN_EXPIRES_IN: i64 = 60;
pub const MAX_EXPIRES_IN: i64 = 365 * 86_400;

/// A link just created, with its code (shown once).
pub struct Created {
    pub link: StartLink,
    /// `<baseUrl>/l/<code>`.
    pub url: String,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::StartLinkNotFound,
        format!("no start link with id {id}"),
    )
}

/// Creates a link of an existing workflow.
pub async fn create(
    state: &AppState,
    by: Option<&Principal>,
    input: StartLinkInput,
) -> ApiResult<Created> {
    let workflow_id = input.workflow_id.trim().to_string();
    if workflow_id.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`workflowId` is empty; name the workflow the link starts",
        ));
    }
    state
        .workflows
        .current(state.store.as_ref(), &workflow_id)
        .await?;
    if let Some(n) = input.max_uses
        && !(1..=MAX_USES).contains(&n)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`maxUses` is {n}; it must be from 1 to {MAX_USES}, or left out for no limit"),
        ));
    }
    if let Some(s) = input.expires_in
        && !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&s)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "`expiresIn` is {s}; it must be a number of seconds from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN} (a year), or left out for a link that does not expire"
            ),
        ));
    }
    let metadata = match input.metadata {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(m @ Value::Object(_)) => m,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "`metadata` must be a JSON object",
            ));
        }
    };
    let locale = match input
        .locale
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
    {
        Some(l) if crate::ops::sessions::valid_locale(&l) => {
            Some(l.to_ascii_lowercase().replace('_', "-"))
        }
        Some(l) => {
            return Err(ApiError::new(
                ErrorCode::InvalidLocale,
                format!("`{l}` is not a locale code such as en or en-us"),
            ));
        }
        None => None,
    };
    let now = state.clock.now_ms();
    let code = idv_core::ids::random_base36(CODE_LEN);
    let link = StartLink {
        id: idv_core::ids::new_id(),
        workflow_id,
        code_hash: sha256_hex(&code),
        metadata,
        locale,
        max_uses: input.max_uses,
        uses: 0,
        expires_at: input
            .expires_in
            .map(|s| now.saturating_add(s.saturating_mul(1_000))),
        revoked_at: None,
        created_by: by.map(|p| p.id.clone()),
        created_at: now,
    };
    state.store.start_link_create(&link).await?;
    Ok(Created {
        url: format!("{}/l/{code}", state.base_url),
        link,
    })
}

/// Links, newest first (only one workflow's when given).
pub async fn list(state: &AppState, workflow_id: Option<&str>) -> ApiResult<Vec<StartLink>> {
    Ok(state
        .store
        .start_link_list(workflow_id.map(idv_store::WorkflowId::new))
        .await?)
}

pub async fn get(state: &AppState, id: &str) -> ApiResult<StartLink> {
    state
        .store
        .start_link_get(idv_store::StartLinkId::new(id))
        .await?
        .ok_or_else(|| not_found(id))
}

/// Revokes a link (again: no change); answers it as it is now.
pub async fn revoke(state: &AppState, id: &str) -> ApiResult<StartLink> {
    if !state
        .store
        .start_link_revoke(idv_store::StartLinkId::new(id), state.clock.now_ms())
        .await?
    {
        return Err(not_found(id));
    }
    get(state, id).await
}

/// Why a link cannot be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Revoked,
    Expired,
    UsedUp,
}

/// A session started by opening a link.
pub struct Started {
    /// The link as it is after this opening.
    pub link: StartLink,
    pub deeplink: Deeplink,
}

/// What opening a link gives.
pub enum Opened {
    Started(Box<Started>),
    Refused(Refused),
}

/// Whether the link with this code would open now, without counting an opening (a `HEAD`
/// request, as link previews send).
pub async fn peek(state: &AppState, code: &str) -> ApiResult<Option<Refused>> {
    let link = state
        .store
        .start_link_by_code_hash(&sha256_hex(code))
        .await?;
    let Some(l) = link else {
        return Ok(Some(Refused::Unknown));
    };
    let now = state.clock.now_ms();
    Ok(if l.revoked_at.is_some() {
        Some(Refused::Revoked)
    } else if l.expires_at.is_some_and(|e| e <= now) {
        Some(Refused::Expired)
    } else if l.max_uses.is_some_and(|m| l.uses >= m) {
        Some(Refused::UsedUp)
    } else {
        None
    })
}

/// Opens the link with this code: counts the opening, starts the session and mints its token.
pub async fn open(state: &AppState, code: &str) -> ApiResult<Opened> {
    let Some(link) = state
        .store
        .start_link_by_code_hash(&sha256_hex(code))
        .await?
    else {
        return Ok(Opened::Refused(Refused::Unknown));
    };
    let link = match state
        .store
        .start_link_use(idv_store::StartLinkId::new(&link.id), state.clock.now_ms())
        .await?
    {
        StartLinkUse::Used(l) => *l,
        StartLinkUse::NotFound => return Ok(Opened::Refused(Refused::Unknown)),
        StartLinkUse::Revoked => return Ok(Opened::Refused(Refused::Revoked)),
        StartLinkUse::Expired => return Ok(Opened::Refused(Refused::Expired)),
        StartLinkUse::UsedUp => return Ok(Opened::Refused(Refused::UsedUp)),
    };
    let mut metadata = match &link.metadata {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    metadata.insert("startLinkId".into(), Value::String(link.id.clone()));
    let deeplink = devices::deeplink_minted_by(
        state,
        link.created_by.clone(),
        vec![link.workflow_id.clone()],
        DeeplinkInput {
            metadata: Some(Value::Object(metadata)),
            locale: link.locale.clone(),
            ttl: None,
        },
        false,
    )
    .await?;
    Ok(Opened::Started(Box::new(Started { link, deeplink })))
}
