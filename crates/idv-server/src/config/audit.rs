//! `services.audit` (Regula's keys): whether the audit log records, and how long entries are
//! kept.

use super::scheduler::Period;
use serde::{Deserialize, Serialize};

/// `services.audit` (Regula's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuditConfig {
    /// False: nothing is recorded (the log and `GET /api/audit` stay).
    pub enabled: bool,
    /// How long entries made by users (and the CLI and anonymous callers) are kept.
    pub user: KeepFor,
    /// How long entries made with API keys are kept.
    pub api: KeepFor,
}

/// `{keepFor: 90d}`; absent (`null`): kept for ever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct KeepFor {
    pub keep_for: Option<Period>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        let days90 = KeepFor {
            keep_for: Some(Period(90 * 86_400)),
        };
        Self {
            enabled: true,
            user: days90.clone(),
            api: days90,
        }
    }
}
