//! The request log: the span every request is logged in, with the request id that its answer's
//! `X-Request-Id` header and error bodies carry; at DEBUG (`IDV_LOG=debug` shows its start and
//! end) also the method, the path, and the query with every credential-bearing value replaced
//! by `[redacted]`.
//!
//! Credentials may arrive in the query (`?authorization=Token%20…` is documented, for links that
//! cannot set a header), so the URL is never logged as it came. Headers are not logged at all.

use axum::http::{Request, Uri};
use tower_http::trace::MakeSpan;
use tracing::Span;

/// What replaces a secret value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Query parameter names (lower-cased) that carry, or may carry, a credential. A name matches
/// when it contains one of these.
const SECRET_NAMES: &[&str] = &[
    "auth",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "signature",
    "sig",
    "session_key",
    "private",
];

/// True when a query parameter of this name may carry a credential.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let lower = decode_lossy(name).to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s))
}

/// The path and query of `uri` for a log line: each value of a credential-bearing parameter is
/// replaced with [`REDACTED`]; everything else is kept as sent.
pub(crate) fn redacted_uri(uri: &Uri) -> String {
    let path = uri.path();
    match uri.query() {
        None => path.to_string(),
        Some(q) => format!("{path}?{}", redacted_query(q)),
    }
}

/// [`redacted_uri`] for a query string (without the `?`).
pub(crate) fn redacted_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            // A bare credential-looking word without `=` is kept: it has no value to hide.
            _ => out.push_str(pair),
        }
    }
    out
}

/// Percent-decoding for matching names only (so `%61uthorization` cannot slip past).
fn decode_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The span of one request. It is at INFO, so every line logged while the request is served
/// (at any level that is on) names its `request_id`, the id its answer's `X-Request-Id`
/// header carries. The method, the redacted URI and the HTTP version are added only when
/// DEBUG is on (`IDV_LOG=debug` shows the request's start and end lines too): at INFO a
/// request costs one span with one short field, and no URI is formatted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &Request<B>) -> Span {
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = tracing::field::Empty,
            uri = tracing::field::Empty,
            version = tracing::field::Empty,
        );
        if tracing::enabled!(tracing::Level::DEBUG) && !span.is_disabled() {
            span.record("method", tracing::field::display(req.method()));
            span.record("uri", tracing::field::display(redacted_uri(req.uri())));
            span.record("version", tracing::field::debug(req.version()));
        }
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(u: &str) -> String {
        redacted_uri(&u.parse::<Uri>().unwrap())
    }

    #[test]
    fn credentials_in_the_query_are_redacted() {
        assert_eq!(
            r("/mobile?authorization=Token%20idvdt_abc&sessionId=42"),
            "/mobile?authorization=[redacted]&sessionId=42"
        );
        assert_eq!(
            r("/api/x?Authorization=Basic+YWRtaW46cHc="),
            "/api/x?Authorization=[redacted]"
        );
        assert_eq!(
            r("/api/x?%61uthorization=ApiKey%20k&b=1"),
            "/api/x?%61uthorization=[redacted]&b=1"
        );
        assert_eq!(
            r("/api/x?access_token=t&apiKey=k"),
            "/api/x?access_token=[redacted]&apiKey=[redacted]"
        );
        assert_eq!(
            r("/api/x?password=p&x-amz-signature=s"),
            "/api/x?password=[redacted]&x-amz-signature=[redacted]"
        );
    }

    #[test]
    fn other_parameters_are_kept() {
        assert_eq!(
            r("/api/sessions?workflowId=abc&limit=5"),
            "/api/sessions?workflowId=abc&limit=5"
        );
        assert_eq!(r("/api/health"), "/api/health");
        assert_eq!(r("/api/x?flag&a=%00"), "/api/x?flag&a=%00");
    }
}
