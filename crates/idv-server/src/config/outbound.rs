//! `outbound`: which addresses the server's own HTTP calls may reach.

use serde::{Deserialize, Serialize};

/// Outbound HTTP calls (workflow actions, webhooks, the service gateways).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Outbound {
    /// Allow calls to private, loopback and link-local addresses. Off by default: a workflow or
    /// webhook URL could otherwise reach internal services. The configured service URLs are
    /// always allowed.
    pub allow_private_addresses: bool,
}
