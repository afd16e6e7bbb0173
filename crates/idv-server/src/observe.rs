//! A seam for contract tests: once an observer is installed (the integration-test harness
//! installs one per process), every answer of a route of the table is handed to it with the
//! route's method and path template, so the tests can check each real answer against the
//! OpenAPI document. Without an observer this costs one atomic load per request and changes
//! nothing; JSON answers are buffered only while one is installed.

use axum::body::Body;
use axum::http::{Method, header};
use axum::response::Response;
use std::sync::OnceLock;

/// One answer as the observer sees it.
pub struct Observed<'a> {
    pub method: &'a Method,
    /// The route's path template (`/api/sessions/{id}`).
    pub route: &'static str,
    pub status: u16,
    /// The request's `Host`: which server answered, when several run in one process.
    pub host: &'a str,
    pub content_type: Option<&'a str>,
    /// The body of a JSON answer; `None` for other media types (files, streams), which are
    /// not read.
    pub body: Option<&'a [u8]>,
}

pub type Observer = fn(&Observed<'_>);

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the process's observer; false when one is already installed.
pub fn install(observer: Observer) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// True once an observer is installed.
pub(crate) fn installed() -> bool {
    OBSERVER.get().is_some()
}

/// Hands `resp` to the observer, if one is installed, and answers it unchanged.
pub(crate) async fn tap(
    method: &Method,
    route: &'static str,
    host: &str,
    resp: Response,
) -> Response {
    let Some(observer) = OBSERVER.get() else {
        return resp;
    };
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .is_some_and(crate::body::is_json_type);
    let mut seen = Observed {
        method,
        route,
        status: resp.status().as_u16(),
        host,
        content_type: content_type.as_deref(),
        body: None,
    };
    if !json {
        observer(&seen);
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    seen.body = Some(&bytes);
    observer(&seen);
    Response::from_parts(parts, Body::from(bytes))
}
