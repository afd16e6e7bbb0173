//! The portal's stylesheet and script, compiled into the binary.

use crate::error::ApiResult;
use crate::web::embedded::{self, Asset, embed_assets};
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::OnceLock;

/// Every file the portal's pages load, by its name under `/static/portal/`.
const ASSETS: &[Asset] = embed_assets![
    "portal.css" => "text/css; charset=utf-8",
    "portal.js" => "text/javascript; charset=utf-8",
];

fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| embedded::etags(ASSETS))
}

/// The digest the pages put in their links (`?v=`).
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| embedded::version(ASSETS))
}

/// `GET /static/portal/{*file}`.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    embedded::serve(ASSETS, etags(), "portal", &file, &headers)
}
