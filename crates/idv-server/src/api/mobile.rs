//! Bodies of the apps' `.well-known` files, from the `mobile` config block.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /.well-known/apple-app-site-association` | — | 200 [`AppleAppSiteAssociation`] |
//! | `GET /.well-known/assetlinks.json` | — | 200 a list of [`AssetLink`] |

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The paths the apps open: the capture page's entry points and start links.
pub const APP_PATHS: [&str; 3] = ["/mobile*", "/capture*", "/l/*"];

/// Apple's universal links file.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppleAppSiteAssociation {
    pub applinks: AppLinks,
}

/// `applinks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppLinks {
    /// Always empty (Apple's format wants it).
    pub apps: Vec<String>,
    pub details: Vec<AppLinkDetail>,
}

/// One app and the paths it opens.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppLinkDetail {
    /// `<appId>.<bundleId>` (the older key).
    #[serde(rename = "appID")]
    pub app_id: String,
    /// The same, as a list (the newer key).
    #[serde(rename = "appIDs")]
    pub app_ids: Vec<String>,
    /// The paths (the older key).
    pub paths: Vec<String>,
    /// The paths as components: `{"/": "<path>"}` each.
    pub components: Vec<BTreeMap<String, String>>,
}

impl AppleAppSiteAssociation {
    pub fn new(app_id: &str, bundle_id: &str) -> Self {
        let id = format!("{}.{}", app_id.trim(), bundle_id.trim());
        AppleAppSiteAssociation {
            applinks: AppLinks {
                apps: vec![],
                details: vec![AppLinkDetail {
                    app_id: id.clone(),
                    app_ids: vec![id],
                    paths: APP_PATHS.iter().map(|p| p.to_string()).collect(),
                    components: APP_PATHS
                        .iter()
                        .map(|p| BTreeMap::from([("/".to_string(), p.to_string())]))
                        .collect(),
                }],
            },
        }
    }
}

/// One statement of Android's Digital Asset Links file.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetLink {
    /// `["delegate_permission/common.handle_all_urls"]`.
    pub relation: Vec<String>,
    pub target: AssetTarget,
}

/// The Android app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetTarget {
    /// `android_app`.
    pub namespace: String,
    pub package_name: String,
    /// Fingerprints of its signing certificates.
    pub sha256_cert_fingerprints: Vec<String>,
}

impl AssetLink {
    pub fn new(package: &str, fingerprints: &[String]) -> Self {
        AssetLink {
            relation: vec!["delegate_permission/common.handle_all_urls".into()],
            target: AssetTarget {
                namespace: "android_app".into(),
                package_name: package.trim().to_string(),
                sha256_cert_fingerprints: fingerprints
                    .iter()
                    .map(|f| f.trim().to_ascii_uppercase())
                    .collect(),
            },
        }
    }
}
