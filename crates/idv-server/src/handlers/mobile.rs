//! `GET /.well-known/apple-app-site-association` and `GET /.well-known/assetlinks.json`: the
//! files that let the customer's iOS and Android apps open this server's links, from the
//! `mobile` config block. Without it configured: 404 `mobile_app_not_configured`.

use crate::api::mobile::{AppleAppSiteAssociation, AssetLink};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use idv_core::ErrorCode;

pub async fn apple(State(state): State<AppState>) -> ApiResult<Json<AppleAppSiteAssociation>> {
    let apple = &state.config.mobile.apple;
    if !apple.configured() {
        return Err(ApiError::new(
            ErrorCode::MobileAppNotConfigured,
            "no iOS app is configured: set mobile.apple.bundleId and mobile.apple.appId",
        ));
    }
    Ok(Json(AppleAppSiteAssociation::new(
        &apple.app_id,
        &apple.bundle_id,
    )))
}

pub async fn android(State(state): State<AppState>) -> ApiResult<Json<Vec<AssetLink>>> {
    let android = &state.config.mobile.android;
    if !android.configured() {
        return Err(ApiError::new(
            ErrorCode::MobileAppNotConfigured,
            "no Android app is configured: set mobile.android.bundleId and mobile.android.sha256",
        ));
    }
    Ok(Json(vec![AssetLink::new(
        &android.bundle_id,
        &android.sha256,
    )]))
}
