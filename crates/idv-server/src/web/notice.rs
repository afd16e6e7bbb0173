//! A notice page: what happened and what to do, for a link that cannot be used (unknown,
//! revoked, expired, used up) and the like. Server-rendered HTML without script, with the
//! capture page's stylesheet; every text is HTML-escaped.

use axum::http::StatusCode;
use axum::response::Response;

/// The page: `title` as the `<title>` and the one `<h1>`, `text` as the sentence below it.
pub(crate) fn notice(status: StatusCode, title: &str, text: &str) -> Response {
    super::html_page(status, title, title, &format!("<p>{}</p>\n", escape(text)))
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
    use axum::http::header;

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
