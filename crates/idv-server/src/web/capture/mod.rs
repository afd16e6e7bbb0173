//! The hosted capture page: `GET /mobile?authorization=Token%20…&sessionId=…` (the link of
//! `POST /api/v1/deeplink` and of the QR code) and `GET /capture?url=<link>` (Regula's older
//! form) answer the same small HTML document; its script reads the token from the address,
//! takes it out of the address bar at once, and drives the session through the same API an SDK
//! uses (`GET /api/sessions/{id}/step`, `POST /api/sessions/{id}/step/{step}`). Each template
//! the page can show is one module under `assets/templates/`, registered by `templateId` in
//! `assets/templates/registry.js`.

use super::embedded::{self, Asset, embed_assets};
use super::page_headers;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// Every file the page loads, by its name under `/static/capture/`.
const ASSETS: &[Asset] = embed_assets![
    "capture.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "ui.js" => "text/javascript; charset=utf-8",
    "templates/registry.js" => "text/javascript; charset=utf-8",
    "templates/common.js" => "text/javascript; charset=utf-8",
    "templates/info.js" => "text/javascript; charset=utf-8",
    "templates/status.js" => "text/javascript; charset=utf-8",
    "templates/progress.js" => "text/javascript; charset=utf-8",
    "templates/form.js" => "text/javascript; charset=utf-8",
    "templates/camera.js" => "text/javascript; charset=utf-8",
    "templates/doc_reader.js" => "text/javascript; charset=utf-8",
    "templates/unsupported.js" => "text/javascript; charset=utf-8",
];

const SHELL: &str = include_str!("assets/index.html");

/// The `ETag` of each asset (a digest of its bytes), computed once.
fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| embedded::etags(ASSETS))
}

/// The page's HTML, its asset links carrying the digest of their content (`?v=`), so a new
/// binary's assets are never mixed with an old one's.
fn shell() -> &'static str {
    static SHELL_HTML: OnceLock<String> = OnceLock::new();
    SHELL_HTML.get_or_init(|| SHELL.replace("{{v}}", &embedded::version(ASSETS)))
}

/// `GET /mobile` and `GET /capture`: the page. It never caches (it is how a token arrives).
pub async fn page(State(state): State<AppState>) -> Response {
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        shell(),
    )
        .into_response();
    page_headers(&mut resp, &state.config.capture.frame_ancestors);
    resp
}

/// `GET /static/capture/{*file}`: an embedded asset, with its `ETag` (`If-None-Match` answers
/// 304). Cached for a day; the page links each with its digest, so a change is seen at once.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    embedded::serve(ASSETS, etags(), "capture page", &file, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_imports_is_embedded() {
        // Each `import ... from "./x.js"` and each link in the HTML names an embedded file.
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            let dir = a.name.rsplit_once('/').map_or("", |(d, _)| d);
            for part in text.split("from \"").skip(1) {
                let rel = part.split('"').next().unwrap();
                let target = match (rel.strip_prefix("./"), rel.strip_prefix("../")) {
                    (Some(r), _) if !dir.is_empty() => format!("{dir}/{r}"),
                    (Some(r), _) => r.to_string(),
                    (_, Some(r)) => r.to_string(),
                    _ => panic!("{} imports {rel}: only relative imports", a.name),
                };
                assert!(
                    names.contains(&target.as_str()),
                    "{} imports {rel}, which is not embedded",
                    a.name
                );
            }
        }
        for link in ["capture.css", "app.js"] {
            assert!(
                shell().contains(&format!("/static/capture/{link}?v=")),
                "{link}"
            );
        }
        assert!(!shell().contains("{{v}}"));
    }

    #[test]
    fn no_inline_script_or_style() {
        let html = shell();
        assert!(!html.contains("<script>"), "inline script");
        assert!(!html.contains("style="), "inline style");
        assert!(!html.contains("<style"), "inline style");
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            assert!(
                !text.contains("innerHTML"),
                "{}: builds HTML from strings",
                a.name
            );
            assert!(!text.contains("eval("), "{}: eval", a.name);
        }
    }
}
