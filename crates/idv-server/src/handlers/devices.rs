//! Server-side starts: `POST /api/device/ephemeral`, `POST /api/v1/deeplink`,
//! `GET /api/deeplink/qrcode` and `POST /api/deeplink/exchange`. Every answer carries a
//! credential, so none may be cached.

use super::Caller;
use crate::body::{JsonBody, accepts_json, is_json_type};
use crate::error::{ApiError, ApiResult};
use crate::ops::devices::{self, DeeplinkInput};
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idv_core::ErrorCode;
use idv_core::time::iso;
use serde::Deserialize;
use serde_json::{Value, json};

/// Where one-time tokens are exchanged; the only route that accepts them.
pub const EXCHANGE_PATH: &str = "/api/deeplink/exchange";

fn no_store(value: Value) -> Response {
    let mut resp = Json(value).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EphemeralInput {
    #[serde(default)]
    ttl: Option<i64>,
}

pub async fn ephemeral(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<EphemeralInput>,
) -> ApiResult<Response> {
    let issued = devices::ephemeral(&state, &caller, input.ttl).await?;
    let t = &issued.token;
    Ok(no_store(json!({
        "authorization": issued.authorization(),
        "id": t.principal_id,
        "createdAt": iso(t.created_at),
        "expiresAt": iso(t.expires_at),
        "ttl": (t.expires_at - t.created_at) / 1_000,
    })))
}

/// The query string as pairs, so `workflowId` may repeat.
type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn pairs(q: Pairs) -> ApiResult<Vec<(String, String)>> {
    q.map(|Query(p)| p).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the query string cannot be read: {e}"),
        )
    })
}

fn workflow_ids(pairs: &[(String, String)]) -> ApiResult<Vec<String>> {
    devices::workflow_ids(
        pairs
            .iter()
            .filter(|(k, _)| k == "workflowId")
            .map(|(_, v)| v.as_str()),
    )
}

pub async fn deeplink(
    State(state): State<AppState>,
    caller: Caller,
    q: Pairs,
    JsonBody(input, _): JsonBody<DeeplinkInput>,
) -> ApiResult<Response> {
    let ids = workflow_ids(&pairs(q)?)?;
    let link = devices::deeplink(&state, &caller, ids, input, false).await?;
    let t = &link.issued.token;
    Ok(no_store(json!({
        "url": link.url,
        "createdAt": iso(t.created_at),
        "expiresAt": iso(t.expires_at),
        "workflowIds": t.workflow_ids,
        "sessionId": link.session.id,
    })))
}

/// True when `Accept` asks for a PNG (`image/png` or `image/*`) and names no JSON type.
fn wants_png(headers: &HeaderMap) -> bool {
    let mut png = false;
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let mt = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if parts.any(|p| {
                let p = p.replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            }) {
                continue;
            }
            if is_json_type(&mt) {
                return false;
            }
            png |= mt == "image/png" || mt == "image/*";
        }
    }
    png
}

pub async fn qrcode(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    q: Pairs,
) -> ApiResult<Response> {
    let png_wanted = wants_png(&headers);
    if !png_wanted && !accepts_json(&headers) {
        return Err(ApiError::new(
            ErrorCode::NotAcceptable,
            "this endpoint answers application/json or, when asked for, image/png",
        ));
    }
    let pairs = pairs(q)?;
    let ids = workflow_ids(&pairs)?;
    let mut input = DeeplinkInput::default();
    for (k, v) in &pairs {
        match k.as_str() {
            "ttl" => {
                input.ttl = Some(v.trim().parse().map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!(
                            "`ttl` is `{v}`; it must be a whole number of seconds from {} to {}",
                            devices::MIN_TTL,
                            devices::MAX_TTL
                        ),
                    )
                })?)
            }
            "locale" => input.locale = Some(v.clone()),
            _ => {}
        }
    }
    let link = devices::deeplink(&state, &caller, ids, input, true).await?;
    let image = crate::qr_png::png(&link.url).map_err(|e| ApiError::new(ErrorCode::Internal, e))?;
    let t = &link.issued.token;
    if png_wanted {
        let mut resp = image.into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&link.session.id) {
            h.insert("x-session-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&iso(t.expires_at)) {
            h.insert("x-expires-at", v);
        }
        return Ok(resp);
    }
    Ok(no_store(json!({
        "token": link.issued.text,
        "url": link.url,
        "sessionId": link.session.id,
        "createdAt": iso(t.created_at),
        "expiresAt": iso(t.expires_at),
        "workflowIds": t.workflow_ids,
        "qrcode": format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&image)
        ),
    })))
}

pub async fn exchange(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let issued = devices::exchange(&state, &caller).await?;
    let t = &issued.token;
    Ok(no_store(json!({
        "authorization": issued.authorization(),
        "sessionId": t.session_id,
        "expiresAt": iso(t.expires_at),
        "workflowIds": t.workflow_ids,
    })))
}

#[cfg(test)]
mod tests {
    use super::wants_png;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn png_only_when_asked_for() {
        assert!(!wants_png(&HeaderMap::new()));
        assert!(!wants_png(&accept("*/*")));
        assert!(!wants_png(&accept("application/json")));
        assert!(wants_png(&accept("image/png")));
        assert!(wants_png(&accept("image/*, */*;q=0.8")));
        assert!(!wants_png(&accept("image/png, application/json")));
        assert!(!wants_png(&accept("image/png;q=0, */*")));
    }
}
