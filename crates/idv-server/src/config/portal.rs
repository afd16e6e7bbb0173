//! `portal`: the operator's web portal at `/` (sign-in and its cookie session).

use serde::{Deserialize, Serialize};

/// The operator's portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Portal {
    /// Seconds a signed-in session lasts without a request; each request extends it (up to
    /// an absolute lifetime of 12 hours from sign-in).
    pub idle_timeout: u64,
}

impl Default for Portal {
    fn default() -> Self {
        Portal { idle_timeout: 1800 }
    }
}

impl Portal {
    /// At least a minute, at most the 12-hour absolute lifetime.
    pub fn validate(&self) -> Result<(), String> {
        if !(60..=43_200).contains(&self.idle_timeout) {
            return Err(format!(
                "portal.idleTimeout is {}; give seconds from 60 to 43200",
                self.idle_timeout
            ));
        }
        Ok(())
    }
}
