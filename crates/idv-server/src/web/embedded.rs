//! Files compiled into the binary and served with an `ETag` (a digest of their bytes), for
//! the capture page and the portal.

use crate::error::{ApiError, ApiResult};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use sha2::{Digest, Sha256};

/// One embedded file.
pub(crate) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// `[Asset]` of files under `assets/` beside the calling module.
macro_rules! embed_assets {
    ($($name:literal => $ct:literal),* $(,)?) => {
        &[$($crate::web::embedded::Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("assets/", $name)),
        }),*]
    };
}
pub(crate) use embed_assets;

/// The `ETag` of each asset, in order.
pub(crate) fn etags(assets: &[Asset]) -> Vec<String> {
    assets
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..20]))
        .collect()
}

/// A short digest of all the assets together, for the `?v=` of their links: a new binary's
/// files are never mixed with an old one's.
pub(crate) fn version(assets: &[Asset]) -> String {
    let mut all = Sha256::new();
    for a in assets {
        all.update(a.body);
    }
    hex::encode(all.finalize())[..12].to_string()
}

/// Answers the asset named `file` (`If-None-Match` answers 304), cached for a day.
pub(crate) fn serve(
    assets: &[Asset],
    etags: &[String],
    what: &str,
    file: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let Some(i) = assets.iter().position(|a| a.name == file) else {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no file {file} in the {what}'s assets"),
        ));
    };
    let a = &assets[i];
    let etag = &etags[i];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, a.content_type)], a.body).into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}
