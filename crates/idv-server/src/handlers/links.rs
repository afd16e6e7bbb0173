//! Shareable start links: `POST /api/links`, `GET /api/links`, `GET /api/links/{id}`,
//! `DELETE /api/links/{id}` and the public `GET /l/{code}`, which starts a session and
//! redirects to the capture page, or answers an HTML page saying why it cannot.

use super::Caller;
use crate::api::links::{StartLinkCreated, StartLinkInput, StartLinkList, StartLinkView};
use crate::audit::Note;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::links::{self, Opened, Refused};
use crate::params::Query;
use crate::state::AppState;
use crate::web::notice::notice;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use serde::Deserialize;

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input, _): JsonBody<StartLinkInput>,
) -> ApiResult<(
    StatusCode,
    Extension<Note>,
    [(header::HeaderName, &'static str); 1],
    Json<StartLinkCreated>,
)> {
    let created = links::create(&state, Some(&caller), input).await?;
    Ok((
        StatusCode::CREATED,
        Extension(Note::target(&created.link.id)),
        // The URL is a credential: no cache keeps it.
        [(header::CACHE_CONTROL, "no-store")],
        Json(StartLinkCreated::new(&created.link, created.url)),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(rename = "workflowId")]
    workflow_id: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<StartLinkList>> {
    let all = links::list(&state, q.workflow_id.as_deref()).await?;
    Ok(Json(StartLinkList {
        items: all.iter().map(StartLinkView::from).collect(),
        total: all.len(),
    }))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StartLinkView>> {
    Ok(Json(StartLinkView::from(&links::get(&state, &id).await?)))
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StartLinkView>> {
    Ok(Json(StartLinkView::from(
        &links::revoke(&state, &id).await?,
    )))
}

const ASK_AGAIN: &str = "Ask whoever sent it to you for a new link.";

/// True when `Accept` names HTML (a browser's navigation): refusals are then pages, otherwise
/// JSON errors (an SDK or a script following the link).
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|v| {
        v.to_str().unwrap_or("").split(',').any(|item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            !refused && (media == "text/html" || media == "application/xhtml+xml")
        })
    })
}

/// `GET /l/{code}`: a fresh session and a redirect to the capture page with its token, or,
/// when it cannot be used, a page saying why (a JSON error for a client that does not accept
/// HTML).
pub async fn open(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    // A HEAD (a link preview) says whether the link works, and neither counts an opening nor
    // starts a session.
    if method == Method::HEAD {
        let status = match links::peek(&state, &code).await {
            Ok(None) => StatusCode::OK,
            Ok(Some(Refused::Unknown)) => StatusCode::NOT_FOUND,
            Ok(Some(_)) => StatusCode::GONE,
            Err(e) => return e.into_response(),
        };
        let mut resp = status.into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return resp;
    }
    let html = wants_html(&headers);
    let refuse = |status: StatusCode, code: ErrorCode, title: &str, text: &str| {
        if html {
            notice(status, title, text)
        } else {
            let mut resp = ApiError::new(code, text.to_string()).into_response();
            *resp.status_mut() = status;
            resp
        }
    };
    let opened = match links::open(&state, &code).await {
        Ok(o) => o,
        Err(e) if e.0.code == ErrorCode::WorkflowNotFound => {
            return refuse(
                StatusCode::NOT_FOUND,
                ErrorCode::WorkflowNotFound,
                "Link no longer available",
                &format!("The process this link starts no longer exists. {ASK_AGAIN}"),
            );
        }
        Err(e) if !html => return e.into_response(),
        Err(e) => {
            tracing::error!("a start link could not be opened: {}", e.0.message);
            return notice(
                StatusCode::from_u16(e.0.code.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "Something went wrong",
                "The verification could not be started. Try the link again in a few minutes.",
            );
        }
    };
    match opened {
        Opened::Started(started) => {
            let links::Started { link, deeplink } = *started;
            let mut resp = StatusCode::SEE_OTHER.into_response();
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&deeplink.url) {
                h.insert(header::LOCATION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            resp.extensions_mut().insert(Note {
                target: Some(link.id),
                details: Some(serde_json::json!({
                    "sessionId": deeplink.session.id,
                    "tokenId": deeplink.issued.token.id,
                })),
                ..Note::default()
            });
            resp
        }
        Opened::Refused(Refused::Unknown) => refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::StartLinkNotFound,
            "Link not found",
            &format!(
                "This link does not exist. Check that you opened the whole address. {ASK_AGAIN}"
            ),
        ),
        Opened::Refused(Refused::Revoked) => refuse(
            StatusCode::GONE,
            ErrorCode::StartLinkGone,
            "Link withdrawn",
            &format!(
                "This link has been withdrawn and no longer starts a verification. {ASK_AGAIN}"
            ),
        ),
        Opened::Refused(Refused::Expired) => refuse(
            StatusCode::GONE,
            ErrorCode::StartLinkGone,
            "Link expired",
            &format!("This link has expired. {ASK_AGAIN}"),
        ),
        Opened::Refused(Refused::UsedUp) => refuse(
            StatusCode::GONE,
            ErrorCode::StartLinkGone,
            "Link used up",
            &format!("This link has been used as many times as it allows. {ASK_AGAIN}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::wants_html;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn pages_for_browsers_only() {
        assert!(!wants_html(&HeaderMap::new()));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/json")));
        assert!(wants_html(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_html(&accept("text/html;q=0, application/json")));
    }
}
