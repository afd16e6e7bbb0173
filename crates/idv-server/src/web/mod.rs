//! Pages for people, beside the JSON API: the hosted capture page ([`capture`]) where the person
//! being verified goes through a workflow, and the operator's portal at `/` ([`portal`]). Its routes are rows of the route table like every
//! other (marked `.page()`, so the OpenAPI document leaves them out); its HTML, CSS and JS are
//! files under `web/capture/assets/`, compiled into the binary.

pub(crate) mod capture;
pub(crate) mod embedded;
pub(crate) mod notice;
pub(crate) mod portal;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The security headers of a page: a strict Content-Security-Policy (scripts, styles and
/// connections to this origin only, no inline script), `frame-ancestors` from
/// `capture.frameAncestors`, no Referer ever (the address may carry a token), the camera
/// allowed here and nothing else.
pub(crate) fn page_headers(resp: &mut Response, frame_ancestors: &[String]) {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'; media-src 'self' blob:; font-src 'self'; manifest-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}

/// A server-rendered page (the notices, the portal): `title` as the `<title>`, `heading` as the
/// one `<h1>` (both text, escaped here), `body` (HTML, already escaped by the caller) below it,
/// with the capture page's stylesheet, [`page_headers`] and `Cache-Control: no-store`.
pub(crate) fn html_page(status: StatusCode, title: &str, heading: &str, body: &str) -> Response {
    let (title, heading) = (notice::escape(title), notice::escape(heading));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/static/capture/capture.css\">\n</head>\n\
         <body>\n<main class=\"notice\">\n<h1>{heading}</h1>\n{body}</main>\n</body>\n</html>\n"
    );
    let mut resp = (status, html).into_response();
    page_headers(&mut resp, &[]);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
