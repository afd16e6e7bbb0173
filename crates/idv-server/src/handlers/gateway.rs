//! The Document Reader and Face API gateways. Regula's mobile SDKs call
//! `{baseUrl}/{services.docreader.prefix}/...` and `{baseUrl}/{services.faceapi.prefix}/...`
//! (`/drapi/...`, `/faceapi/...` by default); with the block's `enabled: true` the request is
//! relayed to the block's `url` with the prefix removed: `/drapi/api/process?x=1` becomes
//! `{services.docreader.url}/api/process?x=1`.
//!
//! Both bodies stream: nothing is held whole, so document images and liveness videos pass
//! through at any size up to `services.api.maxBodySize` (requests). The method, the rest of the
//! path, the query and end-to-end headers are forwarded; hop-by-hop headers and the caller's
//! `Authorization`, `Cookie` and `authorization` query parameter are not, so the service never
//! sees credentials for this server. Connecting is bounded by 10 s and the wait for the
//! response to begin by `services.api.timeout`; a response body that stalls for that long is
//! cut. Redirects from the service are passed to the caller as they are.

use crate::config::Gateway;
use crate::error::{ApiError, ApiResult};
use crate::outbound::OutboundError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use idv_core::ErrorCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Which service a gateway relays to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DocReader,
    FaceApi,
}

impl Service {
    /// The route table's path for this gateway (the default prefix); the router mounts it at
    /// the configured prefix instead (see [`mount_path`]).
    pub const fn default_prefix(self) -> &'static str {
        match self {
            Service::DocReader => "drapi",
            Service::FaceApi => "faceapi",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::DocReader => "Document Reader",
            Service::FaceApi => "Face API",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Service::DocReader => "services.docreader",
            Service::FaceApi => "services.faceapi",
        }
    }

    fn config(self, state: &AppState) -> &Gateway {
        match self {
            Service::DocReader => &state.config.services.docreader,
            Service::FaceApi => &state.config.services.faceapi,
        }
    }
}

/// Where the router mounts a route of the table: gateway routes move to the configured
/// prefix (`services.docreader.prefix`, `services.faceapi.prefix`), every other path stays.
pub fn mount_path(config: &crate::config::Config, path: &str) -> String {
    for (service, block) in [
        (Service::DocReader, &config.services.docreader),
        (Service::FaceApi, &config.services.faceapi),
    ] {
        let default = format!("/{}/", service.default_prefix());
        if let Some(rest) = path.strip_prefix(&default) {
            return format!("/{}/{rest}", block.prefix);
        }
    }
    path.to_string()
}

/// Any method on `/{services.docreader.prefix}/{*path}`.
pub async fn docreader(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    relay(&state, Service::DocReader, req).await
}

/// Any method on `/{services.faceapi.prefix}/{*path}`.
pub async fn faceapi(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    relay(&state, Service::FaceApi, req).await
}

async fn relay(state: &AppState, service: Service, req: Request) -> ApiResult<Response> {
    let block = service.config(state);
    let key = service.key();
    if !block.enabled || block.url.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::GatewayDisabled,
            format!(
                "the {} gateway is off on this server; to relay /{}/... set {key}.enabled: true and {key}.url to the service's address (e.g. http://localhost:8080)",
                service.name(),
                block.prefix
            ),
        ));
    }
    let target = target_url(block, req.uri())?;
    let limit = state.config.services.api.max_body_size.0;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large(limit));
    }
    let headers = request_headers(req.headers(), &state.base_url, &block.prefix);
    let (parts, body) = req.into_parts();
    // The request body streams to the service, counted on the way: past the limit the stream
    // fails, which aborts the upstream request.
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let mut sent: u64 = 0;
    let counted = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        sent += chunk.len() as u64;
        if sent > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "request body over services.api.maxBodySize",
            ));
        }
        Ok(chunk)
    });
    let wait = Duration::from_secs(state.config.services.api.timeout);
    let upstream = state
        .outbound
        .stream(
            parts.method,
            &target,
            headers,
            reqwest::Body::wrap_stream(counted),
            wait,
        )
        .await
        .map_err(|e| {
            if exceeded.load(Ordering::Relaxed) {
                return too_large(limit);
            }
            upstream_error(service, &block.url, wait, e)
        })?;
    Ok(relay_response(upstream, wait))
}

/// The service URL for a request: the service base, the path after the prefix as the caller
/// wrote it (still percent-encoded), and the query without `authorization`.
fn target_url(block: &Gateway, uri: &axum::http::Uri) -> ApiResult<String> {
    let prefix = format!("/{}", block.prefix);
    let rest = uri.path().strip_prefix(&prefix).unwrap_or(uri.path());
    // `..` would climb out of a base path in the service URL.
    if rest.split('/').any(|seg| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    }) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the gateway path may not hold `.` or `..` segments",
        ));
    }
    let mut target = format!("{}{rest}", block.url.trim().trim_end_matches('/'));
    if let Some(query) = uri.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                !name.is_empty() && !name.eq_ignore_ascii_case("authorization")
            })
            .collect();
        if !kept.is_empty() {
            target.push('?');
            target.push_str(&kept.join("&"));
        }
    }
    Ok(target)
}

/// Hop-by-hop headers (RFC 9110 7.6.1) and others that describe one connection, not the
/// message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers named in `Connection` are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The caller's end-to-end headers, without its credentials, cookies or forwarding claims;
/// then this server's own `X-Forwarded-*`.
fn request_headers(incoming: &HeaderMap, base_url: &str, prefix: &str) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len() + 3);
    for (name, value) in incoming {
        let n = name.as_str();
        let dropped = HOP_BY_HOP.contains(&n)
            || listed.iter().any(|l| l == n)
            || n == "host"
            || n == "authorization"
            || n == "cookie"
            || n == "expect"
            || n == "forwarded"
            || n == "x-real-ip"
            || n.starts_with("x-forwarded-");
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    if let Some(host) = incoming.get(header::HOST) {
        out.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    let proto = if base_url.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    out.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(proto),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/{prefix}")) {
        out.insert(HeaderName::from_static("x-forwarded-prefix"), v);
    }
    out
}

/// The service's answer, streamed back: status, end-to-end headers (no cookies: they would be
/// scoped to this server), body.
fn relay_response(upstream: reqwest::Response, idle: Duration) -> Response {
    let status = upstream.status();
    let listed = connection_listed(upstream.headers());
    let mut headers = HeaderMap::with_capacity(upstream.headers().len());
    for (name, value) in upstream.headers() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || listed.iter().any(|l| l == n)
            || n == "set-cookie"
            // This server's request id answers instead.
            || n == "x-request-id"
        {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    // Each chunk must come within `idle`, so a stalled service cannot hold the caller forever.
    let body = futures::stream::unfold(Some(upstream), move |state| async move {
        let mut upstream = state?;
        match tokio::time::timeout(idle, upstream.chunk()).await {
            Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(upstream))),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some((Err(std::io::Error::other(e)), None)),
            Err(_) => Some((
                Err(std::io::Error::other(
                    "the service stopped sending its answer",
                )),
                None,
            )),
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the request body is larger than services.api.maxBodySize ({limit} bytes)"),
    )
}

fn upstream_error(service: Service, url: &str, wait: Duration, e: OutboundError) -> ApiError {
    let name = service.name();
    let key = service.key();
    match e {
        OutboundError::Timeout => ApiError::new(
            ErrorCode::GatewayTimeout,
            format!(
                "the {name} service did not answer within {} s (services.api.timeout); it may be overloaded",
                wait.as_secs()
            ),
        ),
        other => {
            tracing::warn!(service = name, error = %other, "gateway call failed");
            ApiError::new(
                ErrorCode::BadGateway,
                format!(
                    "cannot reach the {name} service at {}: {other}; check {key}.url and that the service runs",
                    crate::outbound::public_url_text(url)
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(url: &str) -> Gateway {
        Gateway {
            enabled: true,
            prefix: "drapi".into(),
            url: url.into(),
        }
    }

    fn target(url: &str, uri: &str) -> Result<String, String> {
        target_url(&block(url), &uri.parse().unwrap()).map_err(|e| e.0.message)
    }

    #[test]
    fn targets_keep_the_rest_of_the_path_and_the_query_without_credentials() {
        assert_eq!(
            target("http://dr:8080", "/drapi/api/process").unwrap(),
            "http://dr:8080/api/process"
        );
        assert_eq!(
            target("http://dr:8080/base/", "/drapi/api/v2/transaction/1/results?withImages=true&authorization=Token%20x&Authorization=y").unwrap(),
            "http://dr:8080/base/api/v2/transaction/1/results?withImages=true"
        );
        assert_eq!(
            target("http://dr", "/drapi/a%20b/c?authorization=ApiKey+k").unwrap(),
            "http://dr/a%20b/c"
        );
        assert!(target("http://dr/base", "/drapi/../admin").is_err());
        assert!(target("http://dr/base", "/drapi/%2E%2e/admin").is_err());
        assert!(target("http://dr/base", "/drapi/a/./b").is_err());
        assert!(target("http://dr/base", "/drapi/a..b").is_ok());
    }

    #[test]
    fn credentials_and_hop_by_hop_headers_stay_here() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "ApiKey secret"),
            ("cookie", "a=b"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("host", "idv.example.com"),
            ("x-forwarded-for", "1.2.3.4"),
            ("content-type", "application/json"),
            ("content-length", "12"),
            ("x-request-id", "abc"),
        ] {
            h.append(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let out = request_headers(&h, "https://idv.example.com", "drapi");
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        for gone in [
            "authorization",
            "cookie",
            "connection",
            "x-private",
            "transfer-encoding",
            "host",
            "x-forwarded-for",
        ] {
            assert!(!names.contains(&gone), "{gone} forwarded");
        }
        assert_eq!(out["content-type"], "application/json");
        assert_eq!(out["content-length"], "12");
        assert_eq!(out["x-request-id"], "abc");
        assert_eq!(out["x-forwarded-host"], "idv.example.com");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["x-forwarded-prefix"], "/drapi");
    }

    #[test]
    fn gateway_routes_mount_at_the_configured_prefix() {
        let mut c = crate::config::Config::default();
        assert_eq!(mount_path(&c, "/drapi/{*path}"), "/drapi/{*path}");
        c.services.docreader.prefix = "docreader".into();
        assert_eq!(mount_path(&c, "/drapi/{*path}"), "/docreader/{*path}");
        assert_eq!(mount_path(&c, "/faceapi/{*path}"), "/faceapi/{*path}");
        assert_eq!(mount_path(&c, "/api/health"), "/api/health");
    }
}
