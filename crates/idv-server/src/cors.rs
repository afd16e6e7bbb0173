//! Cross-origin requests (`services.api.cors`, Regula's keys): a layer around the whole
//! application that answers preflights to API paths (`/api/…` and the gateways' prefixes)
//! itself, before routing, so a preflight needs no credentials and never reaches the guard or
//! its rate limiter; and that adds `Access-Control-Allow-Origin` and
//! `Access-Control-Expose-Headers` to the answers of requests from an allowed origin. A request
//! from another origin gets no CORS header (the browser then keeps the answer from the page),
//! and its preflight answers 403 `cors_origin_not_allowed`. Off: nothing is added and
//! preflights are routed like any request.

use crate::config::Config;
use crate::config::cors::Cors;
use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use std::sync::Arc;

/// The methods a preflight allows when `methods` is `*`: every method of the API.
const ANY_METHOD: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// Answer headers a page's script may read.
const EXPOSED: &str = "ETag, X-Request-Id, Location, Retry-After, X-Session-Id, X-Expires-At, \
Content-Disposition, Content-Range, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";

/// The policy of one server, built once from its configuration.
pub(crate) struct Policy {
    cors: Cors,
    /// Path prefixes CORS applies to: `/api/` and the gateways' `/<prefix>/`.
    prefixes: Vec<String>,
    allow_methods: HeaderValue,
}

impl Policy {
    /// The policy, or `None` when CORS is off.
    pub(crate) fn of(config: &Config) -> Option<Arc<Policy>> {
        let cors = &config.services.api.cors;
        if !cors.enabled {
            return None;
        }
        let methods = if cors.methods.is_any() {
            ANY_METHOD.to_string()
        } else {
            cors.methods.0.join(", ")
        };
        Some(Arc::new(Policy {
            cors: cors.clone(),
            prefixes: vec![
                "/api/".into(),
                format!("/{}/", config.services.docreader.prefix),
                format!("/{}/", config.services.faceapi.prefix),
            ],
            allow_methods: HeaderValue::from_str(&methods)
                .unwrap_or(HeaderValue::from_static(ANY_METHOD)),
        }))
    }

    fn covers(&self, path: &str) -> bool {
        path == "/api" || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }

    fn allows(&self, origin: &str) -> bool {
        self.cors.origins.is_any() || self.cors.origins.0.iter().any(|o| o == origin)
    }

    fn preflight(&self, origin: HeaderValue, headers: &HeaderMap) -> Response {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        let allow_headers = if self.cors.headers.is_any() {
            headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned()
        } else {
            HeaderValue::from_str(&self.cors.headers.0.join(", ")).ok()
        };
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            self.allow_methods.clone(),
        );
        if let Some(v) = allow_headers {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.cors.max_age),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        resp
    }
}

/// The layer's function: see the module's comment.
pub(crate) async fn apply(policy: Arc<Policy>, req: Request, next: Next) -> Response {
    if !policy.covers(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let allowed = origin.to_str().is_ok_and(|o| policy.allows(o));
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        if !allowed {
            return ApiError::new(
                ErrorCode::CorsOriginNotAllowed,
                format!(
                    "the origin {} may not call this API from a browser; add it to services.api.cors.origins",
                    String::from_utf8_lossy(origin.as_bytes())
                ),
            )
            .into_response();
        }
        return policy.preflight(origin, req.headers());
    }
    let mut resp = next.run(req).await;
    if allowed {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}
