//! Server-side starts: `POST /api/device/ephemeral`, `POST /api/v1/deeplink`,
//! `GET /api/deeplink/qrcode` and `POST /api/deeplink/exchange`. Every answer carries a
//! credential, so none may be cached.

use super::Caller;
use crate::api::devices::{
    DeeplinkInput, DeeplinkView, EphemeralDevice, EphemeralInput, ExchangeView, QrCodeView,
};
use crate::audit::Note;
use crate::body::{JsonBody, accepts_json, is_json_type};
use crate::error::{ApiError, ApiResult};
use crate::ops::devices;
use crate::state::AppState;
use axum::Json;
use axum::extract::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use idv_core::ErrorCode;
use idv_core::time::iso;

/// Where one-time tokens are exchanged; the only route that accepts them.
pub(crate) const EXCHANGE_PATH: &str = "/api/deeplink/exchange";

/// A JSON answer that no cache may keep (it carries a credential).
pub(crate) type NoStore<T> = ([(HeaderName, &'static str); 1], Json<T>);

fn no_store<T>(value: T) -> NoStore<T> {
    ([(header::CACHE_CONTROL, "no-store")], Json(value))
}

/// The audit note of an answer that minted `t`: the token's id as the target, and the session
/// it is bound to, if any.
fn minted(t: &idv_store::DeviceToken) -> Extension<Note> {
    Extension(Note {
        target: Some(t.id.clone()),
        details: t
            .session_id
            .as_ref()
            .map(|s| serde_json::json!({"sessionId": s})),
        ..Note::default()
    })
}

pub async fn ephemeral(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<EphemeralInput>,
) -> ApiResult<(Extension<Note>, NoStore<EphemeralDevice>)> {
    let issued = devices::ephemeral(&state, &caller, input.ttl).await?;
    Ok((
        minted(&issued.token),
        no_store(EphemeralDevice::new(&issued.token, issued.authorization())),
    ))
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
) -> ApiResult<(Extension<Note>, NoStore<DeeplinkView>)> {
    let ids = workflow_ids(&pairs(q)?)?;
    let link = devices::deeplink(&state, &caller, ids, input, false).await?;
    let t = &link.issued.token;
    Ok((
        minted(t),
        no_store(DeeplinkView {
            url: link.url,
            created_at: iso(t.created_at),
            expires_at: iso(t.expires_at),
            workflow_ids: t.workflow_ids.clone(),
            session_id: link.session.id,
        }),
    ))
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
    let note = minted(t);
    if png_wanted {
        let mut resp = (note, image).into_response();
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
    Ok((
        note,
        no_store(QrCodeView {
            token: link.issued.text.clone(),
            url: link.url,
            session_id: link.session.id,
            created_at: iso(t.created_at),
            expires_at: iso(t.expires_at),
            workflow_ids: t.workflow_ids.clone(),
            qrcode: format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&image)
            ),
        }),
    )
        .into_response())
}

pub async fn exchange(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(Extension<Note>, NoStore<ExchangeView>)> {
    let issued = devices::exchange(&state, &caller).await?;
    let t = &issued.token;
    Ok((
        minted(t),
        no_store(ExchangeView {
            authorization: issued.authorization(),
            session_id: t.session_id.clone(),
            expires_at: iso(t.expires_at),
            workflow_ids: t.workflow_ids.clone(),
        }),
    ))
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

    #[test]
    fn query_parameters_are_declared() {
        use crate::api::devices::{DeeplinkQuery, QrCodeQuery};
        use utoipa::IntoParams;
        use utoipa::openapi::Required;
        let declared = |params: Vec<utoipa::openapi::path::Parameter>| -> Vec<(String, bool)> {
            params
                .into_iter()
                .map(|p| (p.name, matches!(p.required, Required::True)))
                .collect()
        };
        let want = |list: &[(&str, bool)]| -> Vec<(String, bool)> {
            list.iter().map(|(n, r)| (n.to_string(), *r)).collect()
        };
        assert_eq!(
            declared(QrCodeQuery::into_params(|| None)),
            want(&[("workflowId", true), ("ttl", false), ("locale", false)])
        );
        assert_eq!(
            declared(DeeplinkQuery::into_params(|| None)),
            want(&[("workflowId", true)])
        );
    }
}
