//! How callers sign in: `basicAuth` (users' passwords) and `oauth2` (the tokens of
//! `POST /api/auth/login`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BasicAuth {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OAuth2 {
    /// Seconds an access token from `POST /api/auth/login` stays valid.
    pub(crate) access_token_ttl: u64,
    /// Seconds a refresh token stays valid.
    pub(crate) refresh_token_ttl: u64,
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for OAuth2 {
    fn default() -> Self {
        Self {
            access_token_ttl: 600,
            refresh_token_ttl: 604_800,
        }
    }
}
