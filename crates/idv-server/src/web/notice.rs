//! A notice page: what happened and what to do, for a link that cannot be used (unknown,
//! revoked, expired, used up) and the like. Server-rendered HTML without script, with the
//! capture page's stylesheet; every text is HTML-escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The page: `title` as the `<title>` and the one `<h1>`, `text` as the sentence below it.
pub(crate) fn notice(status: StatusCode, title: &str, text: &str) -> Response {
    let (title, text) = (escape(title), escape(text));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/static/capture/capture.css\">\n</head>\n\
         <body>\n<main class=\"notice\">\n<h1>{title}</h1>\n<p>{text}</p>\n</main>\n</body>\n</html>\n"
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'",
        ),
    );
    resp
}

/// `text` with `&`, `<`, `>`, `"` and `'` as character references.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn escapes_and_has_one_heading() {
        let resp = notice(
            StatusCode::GONE,
            "Link <used> up",
            "Ask \"them\" for a new one & retry",
        );
        assert_eq!(resp.status(), StatusCode::GONE);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<title>Link &lt;used&gt; up</title>"));
        assert_eq!(html.matches("<h1>").count(), 1);
        assert!(html.contains("Ask &quot;them&quot; for a new one &amp; retry"));
        assert!(!html.contains("<script"));
        assert!(html.contains("href=\"/static/capture/capture.css\""));
    }
}
