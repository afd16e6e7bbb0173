//! Webhook endpoints (`/api/webhooks` and `idv webhook`): where session events are delivered,
//! signed with the Standard Webhooks scheme.
//!
//! An endpoint is `{url, events, enabled, description, headers, workflowIds, ed25519}`. Its
//! signing secret (`whsec_…`) is generated here and shown once, in the answer that creates or
//! rotates it; a rotation keeps the old secret signing beside the new one for an overlap
//! window, so a receiver can switch without dropping events. Signing needs the secret itself,
//! so it is kept encrypted (with the values of `headers`) under the server's key
//! ([`crate::secrets`]): the store only ever sees the encrypted form ([`save`], [`load`]).
//!
//! Header values are write-only: `POST` and `PATCH` take `headers` as an object of names and
//! values (a `PATCH` with `headers` replaces them all), and every answer shows only their names,
//! as `headerNames`. Deliveries send the values.
//!
//! Endpoints are platform-wide: any caller with `webhook:*` manages all of them (the scope has
//! no own/all split), and an endpoint receives the events of every session its filters select.

pub use crate::api::webhooks::WebhookInput;
use crate::api::webhooks::{WebhookView, WebhookWithSecret};
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::state::AppState;
use crate::webhooks::{sign, target};
use idv_core::ErrorCode;
use idv_core::time::iso;
use idv_store::WebhookId;
use idv_store::WebhookRecord;
use serde_json::{Map, Value, json};

const MAX_DESCRIPTION: usize = 1000;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE: usize = 1024;
const MAX_WORKFLOWS: usize = 100;
const MAX_ID: usize = 128;
/// How long the old secret signs beside the new one after a rotation, unless asked.
pub(crate) const DEFAULT_OVERLAP_S: i64 = 86_400;
pub(crate) const MAX_OVERLAP_S: i64 = 7 * 86_400;

/// Headers the delivery sets itself or that HTTP owns: an endpoint cannot set them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "user-agent",
];

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

/// Event types: each one of [`events::ALL`] or `*`, no repeats, at least one.
pub(crate) fn check_events(list: &[String]) -> ApiResult<Vec<String>> {
    if list.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidEventType,
            format!(
                "events must name at least one event type: {} (or * for all)",
                events::ALL.join(", ")
            ),
        ));
    }
    let mut out: Vec<String> = vec![];
    for (i, e) in list.iter().enumerate() {
        if e != "*" && !events::ALL.contains(&e.as_str()) {
            return Err(ApiError(
                idv_core::Error::new(
                    ErrorCode::InvalidEventType,
                    format!(
                        "events[{i}]: unknown event type `{e}`; use one of {} (or * for all)",
                        events::ALL.join(", ")
                    ),
                )
                .with_details(json!({"eventType": e})),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    if out.iter().any(|e| e == "*") {
        return Ok(vec!["*".into()]);
    }
    Ok(out)
}

fn check_headers(headers: &Map<String, Value>) -> ApiResult<Value> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "headers: at most {MAX_HEADERS} headers, not {}",
            headers.len()
        )));
    }
    let mut out = Map::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(format!(
                "headers: `{name}` is not a valid header name"
            )));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("webhook-") {
            return Err(invalid(format!(
                "headers: `{name}` is set by the delivery itself; choose another header"
            )));
        }
        let Value::String(v) = value else {
            return Err(invalid(format!(
                "headers.{name} must be a string, not {value}"
            )));
        };
        if v.len() > MAX_HEADER_VALUE || axum::http::HeaderValue::from_str(v).is_err() {
            return Err(invalid(format!(
                "headers.{name} must be visible ASCII text of at most {MAX_HEADER_VALUE} bytes"
            )));
        }
        out.insert(name.clone(), Value::String(v.clone()));
    }
    Ok(Value::Object(out))
}

fn check_workflows(ids: &[String]) -> ApiResult<Vec<String>> {
    if ids.len() > MAX_WORKFLOWS {
        return Err(invalid(format!(
            "workflowIds: at most {MAX_WORKFLOWS} ids, not {}",
            ids.len()
        )));
    }
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || id.len() > MAX_ID || id.contains(',') {
            return Err(invalid(format!(
                "workflowIds[{i}] must be a workflow id (1 to {MAX_ID} characters, no commas), not `{id}`"
            )));
        }
    }
    Ok(ids.to_vec())
}

fn check_description(d: Option<String>) -> ApiResult<Option<String>> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(invalid(format!(
            "description: at most {MAX_DESCRIPTION} characters"
        ))),
        Some(d) if d.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The names of an endpoint's own headers, in their order.
pub(crate) fn header_names(w: &WebhookRecord) -> Vec<String> {
    w.headers
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// An endpoint as the API shows it, never with its secret or its header values.
pub fn view(w: &WebhookRecord) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        url: w.url.clone(),
        events: w.events.clone(),
        enabled: w.enabled,
        description: w.description.clone(),
        header_names: header_names(w),
        workflow_ids: w.workflow_ids.clone(),
        ed25519: w.ed25519,
        created_at: iso(w.created_at),
        updated_at: iso(w.updated_at),
        failing_since: w.failing_since.map(iso),
        disabled_reason: w.disabled_reason.clone(),
        disabled_at: w.disabled_at.map(iso),
        previous_secret_expires_at: w.previous_secret_until.map(iso),
    }
}

/// [`view`] with the secret: only the answers that create or rotate it.
pub fn view_with_secret(w: &WebhookRecord) -> WebhookWithSecret {
    WebhookWithSecret {
        webhook: view(w),
        secret: w.secret.clone(),
    }
}

/// Stores a new endpoint, its secrets encrypted.
async fn save_new(state: &AppState, w: &WebhookRecord) -> ApiResult<()> {
    let sealed = crate::secrets::records::seal_webhook(&state.secrets, w);
    Ok(state.store.webhook_create(&sealed).await?)
}

/// Stores a changed endpoint, its secrets encrypted. False when it is gone.
async fn save(state: &AppState, w: &WebhookRecord) -> ApiResult<bool> {
    let sealed = crate::secrets::records::seal_webhook(&state.secrets, w);
    Ok(state.store.webhook_update(&sealed).await?)
}

/// An endpoint as stored, in the clear (`None` when unknown). A secret that cannot be read (a
/// key not configured) is an error naming what to configure.
pub async fn load(state: &AppState, id: &str) -> ApiResult<Option<WebhookRecord>> {
    match state.store.webhook_get(WebhookId::new(id)).await? {
        Some(w) => Ok(Some(open(state, w)?)),
        None => Ok(None),
    }
}

fn open(state: &AppState, w: WebhookRecord) -> ApiResult<WebhookRecord> {
    crate::secrets::records::open_webhook(&state.secrets, w).map_err(|e| {
        tracing::error!("{e}");
        ApiError::new(ErrorCode::Internal, e.to_string())
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::WebhookNotFound,
        format!("no webhook with id {id}"),
    )
}

/// Creates an endpoint: `url` and `events` are required; the URL must be one we may deliver to.
pub async fn create(
    state: &AppState,
    owner: Option<&str>,
    input: WebhookInput,
) -> ApiResult<WebhookRecord> {
    let url = input
        .url
        .ok_or_else(|| invalid("url is required: the https URL that receives the events"))?;
    let events = check_events(input.events.as_deref().ok_or_else(|| {
        invalid(format!(
            "events is required: a list of event types ({}) or [\"*\"]",
            events::ALL.join(", ")
        ))
    })?)?;
    let description = check_description(input.description.flatten())?;
    let headers = check_headers(&input.headers.unwrap_or_default())?;
    let workflow_ids = check_workflows(&input.workflow_ids.unwrap_or_default())?;
    // Last: it may wait on DNS.
    let url = target::check_url(&url, state.outbound.allows_private_addresses())
        .await
        .map_err(ApiError)?;
    let now = state.clock.now_ms();
    let webhook = WebhookRecord {
        id: idv_core::ids::new_id(),
        url: url.to_string(),
        events,
        enabled: input.enabled.unwrap_or(true),
        description,
        headers,
        workflow_ids,
        secret: sign::new_secret(),
        previous_secret: None,
        previous_secret_until: None,
        ed25519: input.ed25519.unwrap_or(false),
        owner_id: owner.map(str::to_owned),
        created_at: now,
        updated_at: now,
        failing_since: None,
        disabled_reason: None,
        disabled_at: None,
    };
    save_new(state, &webhook).await?;
    tracing::info!(webhook = %webhook.id, url = %crate::outbound::public_url(&url), "webhook created");
    Ok(webhook)
}

pub async fn get(state: &AppState, id: &str) -> ApiResult<WebhookRecord> {
    load(state, id).await?.ok_or_else(|| not_found(id))
}

pub async fn list(state: &AppState) -> ApiResult<Vec<WebhookRecord>> {
    state
        .store
        .webhook_list()
        .await?
        .into_iter()
        .map(|w| open(state, w))
        .collect()
}

/// Changes the fields given. Enabling an endpoint the server disabled clears why it was
/// disabled, so it starts afresh.
pub async fn update(state: &AppState, id: &str, input: WebhookInput) -> ApiResult<WebhookRecord> {
    let mut w = get(state, id).await?;
    if let Some(list) = input.events {
        w.events = check_events(&list)?;
    }
    if let Some(d) = input.description {
        w.description = check_description(d)?;
    }
    if let Some(h) = input.headers {
        w.headers = check_headers(&h)?;
    }
    if let Some(ids) = input.workflow_ids {
        w.workflow_ids = check_workflows(&ids)?;
    }
    if let Some(e) = input.ed25519 {
        w.ed25519 = e;
    }
    if let Some(url) = input.url {
        // Last: it may wait on DNS.
        w.url = target::check_url(&url, state.outbound.allows_private_addresses())
            .await
            .map_err(ApiError)?
            .to_string();
    }
    if let Some(enabled) = input.enabled {
        if enabled && !w.enabled {
            w.failing_since = None;
            w.disabled_reason = None;
            w.disabled_at = None;
        }
        w.enabled = enabled;
    }
    w.updated_at = state.clock.now_ms();
    if !save(state, &w).await? {
        return Err(not_found(id));
    }
    Ok(w)
}

pub async fn delete(state: &AppState, id: &str) -> ApiResult<()> {
    if !state.store.webhook_delete(WebhookId::new(id)).await? {
        return Err(not_found(id));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(())
}

/// Gives the endpoint a new secret; the old one keeps signing for `overlap_s` seconds.
pub(crate) async fn rotate_secret(
    state: &AppState,
    id: &str,
    overlap_s: Option<i64>,
) -> ApiResult<WebhookRecord> {
    let overlap = overlap_s.unwrap_or(DEFAULT_OVERLAP_S);
    if !(0..=MAX_OVERLAP_S).contains(&overlap) {
        return Err(invalid(format!(
            "overlapSeconds must be from 0 to {MAX_OVERLAP_S} (7 days), not {overlap}"
        )));
    }
    let mut w = get(state, id).await?;
    let now = state.clock.now_ms();
    let old = std::mem::replace(&mut w.secret, sign::new_secret());
    if overlap > 0 {
        w.previous_secret = Some(old);
        w.previous_secret_until = Some(now + overlap * 1000);
    } else {
        w.previous_secret = None;
        w.previous_secret_until = None;
    }
    w.updated_at = now;
    if !save(state, &w).await? {
        return Err(not_found(id));
    }
    tracing::info!(webhook = %id, overlap_s = overlap, "webhook secret rotated");
    Ok(w)
}

/// The secrets that sign a delivery at `now`: the current one, and the previous one while its
/// overlap lasts.
pub(crate) fn signing_secrets(w: &WebhookRecord, now: i64) -> Vec<&str> {
    let mut out = vec![w.secret.as_str()];
    if let (Some(old), Some(until)) = (&w.previous_secret, w.previous_secret_until)
        && until > now
    {
        out.push(old.as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists() {
        assert_eq!(
            check_events(&["session.created".into(), "session.created".into()]).unwrap(),
            vec!["session.created".to_string()]
        );
        assert_eq!(
            check_events(&["session.created".into(), "*".into()]).unwrap(),
            vec!["*".to_string()]
        );
        let e = check_events(&["session.created".into(), "session.exploded".into()]).unwrap_err();
        assert_eq!(e.0.code, ErrorCode::InvalidEventType);
        assert!(e.0.message.contains("events[1]"), "{}", e.0.message);
        assert!(e.0.message.contains("session.exploded"), "{}", e.0.message);
        assert!(check_events(&[]).is_err());
    }

    #[test]
    fn headers_are_checked() {
        let ok: Map<String, Value> = serde_json::from_value(json!({"X-Tenant": "acme"})).unwrap();
        assert_eq!(check_headers(&ok).unwrap(), json!({"X-Tenant": "acme"}));
        for bad in [
            json!({"Content-Type": "text/plain"}),
            json!({"webhook-id": "x"}),
            json!({"bad header": "x"}),
            json!({"X-A": 1}),
            json!({"X-A": "line\nbreak"}),
        ] {
            let m: Map<String, Value> = serde_json::from_value(bad.clone()).unwrap();
            assert!(check_headers(&m).is_err(), "{bad} refused");
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        let e =
            crate::body::from_value::<WebhookInput>(json!({"url": "https://x", "colour": "red"}))
                .unwrap_err();
        assert!(e.0.message.contains("colour"), "{}", e.0.message);
        let e = crate::body::from_value::<WebhookInput>(json!({"events": "session.created"}))
            .unwrap_err();
        assert!(e.0.message.contains("events"), "{}", e.0.message);
        let i = crate::body::from_value::<WebhookInput>(json!({"description": null})).unwrap();
        assert_eq!(i.description, Some(None));
        let i = crate::body::from_value::<WebhookInput>(json!({})).unwrap();
        assert_eq!(i.description, None);
    }

    #[test]
    fn the_old_secret_signs_only_during_the_overlap() {
        let w = WebhookRecord {
            id: "w".into(),
            url: "https://x".into(),
            events: vec!["*".into()],
            enabled: true,
            description: None,
            headers: json!({}),
            workflow_ids: vec![],
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_until: Some(100),
            ed25519: false,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            failing_since: None,
            disabled_reason: None,
            disabled_at: None,
        };
        assert_eq!(signing_secrets(&w, 99), vec!["whsec_new", "whsec_old"]);
        assert_eq!(signing_secrets(&w, 100), vec!["whsec_new"]);
    }

    #[test]
    fn views_keep_their_json_shape() {
        let w = WebhookRecord {
            id: "w".into(),
            url: "https://x".into(),
            events: vec!["session.created".into()],
            enabled: false,
            description: Some("d".into()),
            headers: json!({"X-B": "2", "X-A": "1"}),
            workflow_ids: vec!["wf".into()],
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_until: Some(2_000),
            ed25519: true,
            owner_id: None,
            created_at: 0,
            updated_at: 1_000,
            failing_since: Some(3_000),
            disabled_reason: None,
            disabled_at: None,
        };
        let expected = json!({
            "id": "w",
            "url": "https://x",
            "events": ["session.created"],
            "enabled": false,
            "description": "d",
            "headerNames": ["X-B", "X-A"],
            "workflowIds": ["wf"],
            "ed25519": true,
            "createdAt": "1970-01-01T00:00:00.000Z",
            "updatedAt": "1970-01-01T00:00:01.000Z",
            "failingSince": "1970-01-01T00:00:03.000Z",
            "disabledReason": null,
            "disabledAt": null,
            "previousSecretExpiresAt": "1970-01-01T00:00:02.000Z",
        });
        // Compared as text: the field order is part of the answer.
        assert_eq!(
            serde_json::to_string(&view(&w)).unwrap(),
            expected.to_string()
        );
        let mut with_secret = expected;
        with_secret["secret"] = json!("whsec_new");
        assert_eq!(
            serde_json::to_string(&view_with_secret(&w)).unwrap(),
            with_secret.to_string()
        );
    }
}
