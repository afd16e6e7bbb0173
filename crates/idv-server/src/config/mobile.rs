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
    /// SHA-256 fingerprints of the app's signing certificates (`AB:CD:…`). A list, or (from
    /// an environment variable) one text of fingerprints separated by commas.
    #[serde(deserialize_with = "list_or_text")]
    pub sha256: Vec<String>,
}

fn list_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(super::cors::List::deserialize(d)?.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    const FINGERPRINT: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

    #[test]
    fn both_halves_of_an_app_or_neither() {
        let mut m = Mobile::default();
        m.validate().unwrap();
        assert!(!m.apple.configured() && !m.android.configured());
        m.apple.bundle_id = "com.example.kyc".into();
        assert!(m.validate().unwrap_err().contains("mobile.apple"));
        m.apple.app_id = "ABCDE12345".into();
        m.validate().unwrap();
        assert!(m.apple.configured());
        m.android.bundle_id = "com.example.kyc".into();
        assert!(m.validate().unwrap_err().contains("mobile.android"));
        m.android.sha256 = vec!["AB:CD".into()];
        assert!(m.validate().unwrap_err().contains("`AB:CD`"));
        m.android.sha256 = vec![FINGERPRINT.into()];
        m.validate().unwrap();
        assert!(m.android.configured());
        let from_env: Android = serde_json::from_value(serde_json::json!({
            "bundleId": "com.example.kyc",
            "sha256": format!("{FINGERPRINT}, {FINGERPRINT}")
        }))
        .unwrap();
        assert_eq!(from_env.sha256, vec![FINGERPRINT, FINGERPRINT]);
    }
}
