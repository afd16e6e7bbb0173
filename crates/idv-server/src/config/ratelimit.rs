//! `rateLimit`: the three rate-limit profiles (`s`, `m`, `l`), each a number of requests per
//! window. Which route has which profile, and the counting, are in the server's `ratelimit`.

use super::scheduler::Period;
use serde::{Deserialize, Serialize};

/// `rateLimit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub profiles: Profiles,
}

/// `rateLimit.profiles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Profiles {
    pub s: ProfileConfig,
    pub m: ProfileConfig,
    pub l: ProfileConfig,
}

/// One profile: at most `limit` requests per `window` (`1m`, `30s`, `1h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    pub window: Period,
    pub limit: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            profiles: Profiles::default(),
        }
    }
}

impl Default for Profiles {
    fn default() -> Self {
        let p = |limit| ProfileConfig {
            window: Period(60),
            limit,
        };
        Self {
            s: p(10),
            m: p(100),
            l: p(1000),
        }
    }
}

impl RateLimitConfig {
    /// Windows of at least a second and limits of at least one; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("s", &self.profiles.s),
            ("m", &self.profiles.m),
            ("l", &self.profiles.l),
        ] {
            if p.window.seconds() == 0 {
                return Err(format!(
                    "bad value for `rateLimit.profiles.{name}.window`: must be at least 1s"
                ));
            }
            if p.limit == 0 {
                return Err(format!(
                    "bad value for `rateLimit.profiles.{name}.limit`: must be at least 1 (turn limits off with rateLimit.enabled: false)"
                ));
            }
        }
        Ok(())
    }
}
