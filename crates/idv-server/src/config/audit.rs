//! `services.audit` (Regula's keys): whether the audit log records, and how long entries are
//! kept.

use super::scheduler::Period;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `services.audit` (Regula's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuditConfig {
    /// False: nothing is recorded (the log and `GET /api/audit` stay).
    pub enabled: bool,
    /// Accepted for Regula compatibility; there is no audit WebSocket feed.
    pub(crate) ws_enabled: bool,
    /// Accepted for Regula compatibility (`auto` or a number); one writer per process.
    pub workers: Value,
    /// Accepted for Regula compatibility.
    pub threads: Value,
    /// How long entries made by users (and the CLI and anonymous callers) are kept.
    pub user: KeepFor,
    /// How long entries made with API keys are kept.
    pub api: KeepFor,
    /// Accepted for Regula compatibility; not used.
    pub(crate) backoffice: KeepFor,
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
            ws_enabled: false,
            workers: Value::String("auto".into()),
            threads: Value::from(32),
            user: days90.clone(),
            api: days90,
            backoffice: KeepFor::default(),
        }
    }
}
