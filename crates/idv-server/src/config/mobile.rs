//! `mobile`: Regula's block naming the customer's iOS and Android apps, so links to this
//! server (`/mobile`, `/capture`, `/l/…`) open in the app when it is installed. The server
//! publishes it as `/.well-known/apple-app-site-association` and
//! `/.well-known/assetlinks.json`.

use serde::{Deserialize, Serialize};

/// `mobile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Mobile {
    pub apple: Apple,
    pub android: Android,
}

/// `mobile.apple`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Apple {
    /// The app's bundle id (`com.example.kyc`).
    pub bundle_id: String,
    /// The Apple team id (app id prefix, `ABCDE12345`).
    pub app_id: String,
}

/// `mobile.android`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Android {
    /// The app's package name (`com.example.kyc`).
    pub bundle_id: String,
    /// SHA-256 fingerprints of the app's signing certificates (`AB:CD:…`).
    pub sha256: Vec<String>,
}

impl Apple {
    /// True when both ids are set.
    pub fn configured(&self) -> bool {
        !self.bundle_id.trim().is_empty() && !self.app_id.trim().is_empty()
    }
}

impl Android {
    /// True when the package and at least one fingerprint are set.
    pub fn configured(&self) -> bool {
        !self.bundle_id.trim().is_empty() && self.sha256.iter().any(|f| !f.trim().is_empty())
    }
}

impl Mobile {
    /// Checks the values; the error names the key and what to change.
    pub fn validate(&self) -> Result<(), String> {
        let a = &self.apple;
        if a.bundle_id.trim().is_empty() != a.app_id.trim().is_empty() {
            return Err(
                "`mobile.apple`: give both bundleId and appId (the team id), or neither".into(),
            );
        }
        let d = &self.android;
        if d.bundle_id.trim().is_empty() != d.sha256.is_empty() {
            return Err(
                "`mobile.android`: give both bundleId and sha256 (the signing certificates' fingerprints), or neither"
                    .into(),
            );
        }
        if let Some(bad) = d.sha256.iter().find(|f| {
            let hex: String = f.chars().filter(|c| *c != ':').collect();
            hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit())
        }) {
            return Err(format!(
                "bad value in `mobile.android.sha256`: `{bad}` is not a SHA-256 fingerprint (32 hex bytes, AB:CD:...)"
            ));
        }
        Ok(())
    }
}
