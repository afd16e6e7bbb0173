//! `/api/v1/assets`: workflow images. The content route is public, since the SDKs and the
//! capture page load these as plain image URLs (`<img src>`); listing and changing them needs the
//! `assets` scope. Content answers carry the stored type, an `ETag` (the SHA-256),
//! `Cache-Control: public, max-age=300` (an asset may be replaced under the same id, so caches
//! check again after five minutes) and a sandboxing `Content-Security-Policy`, so an SVG opened
//! on its own runs no script on this origin.

use crate::api::assets::{AssetDeleted, AssetView};
use crate::error::ApiResult;
use crate::ops::assets;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

const CACHE_CONTROL: &str = "public, max-age=300";
const SANDBOX: &str =
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

/// `GET /api/v1/assets/{assetId}/content` (public).
pub async fn content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let a = assets::get(&state, &id).await?;
    let etag = format!("\"{}\"", a.sha256);
    let cache_headers = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, CACHE_CONTROL.to_string()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, cache_headers).into_response());
    }
    let stream = state.blobs.get(&a.object_key, None).await?;
    let mut resp = Response::new(Body::from_stream(stream.map_err(std::io::Error::other)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size));
    for (name, value) in cache_headers {
        h.insert(name, HeaderValue::from_str(&value).expect("ascii"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    Ok(resp)
}

/// `GET /api/v1/assets`.
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<AssetView>>> {
    let all = assets::list(&state).await?;
    Ok(Json(
        all.iter().map(|a| AssetView::new(&state, a)).collect(),
    ))
}

/// `GET /api/v1/assets/{assetId}`: the metadata.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetView>> {
    let a = assets::get(&state, &id).await?;
    Ok(Json(AssetView::new(&state, &a)))
}

/// `PUT /api/v1/assets/{assetId}`: the raw body is the asset, `Content-Type` its type (or the
/// one the id's extension implies). 201 when new, 200 when replaced.
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<AssetView>)> {
    assets::check_id(&id)?;
    let given = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("\u{7f}"));
    let content_type = assets::content_type(given, &id)?;
    let body = req.into_body().into_data_stream();
    let (a, created) = assets::put(&state, &id, content_type, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(AssetView::new(&state, &a))))
}

/// `DELETE /api/v1/assets/{assetId}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetDeleted>> {
    let gone = assets::delete(&state, &id).await?;
    Ok(Json(AssetDeleted {
        id: gone.id,
        deleted: true,
    }))
}
