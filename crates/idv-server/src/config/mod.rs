//! Configuration: `config.yaml` with Regula's key names where they exist, every key overridable
//! by an `IDV_CONFIG__PATH__TO__KEY` environment variable (matched case-insensitively), and
//! built-in defaults for the rest. An unknown key or a bad value stops start-up with a message
//! that names the key and where it came from.
//!
//! This module tree is a leaf: it uses nothing from the rest of the server (only std, serde,
//! the YAML reader and chrono; a test checks), so the configuration can be read, checked and
//! tested on its own, and the server's modules import their settings from here. A file per
//! area:
//!
//! - `services.api.cors`: [`cors`]; `mobile` (the apps' `.well-known` files): [`mobile`].
//! - `services.api`, the gateways (`docreader`, `faceapi`), `services.workflow`, and sizes
//!   ([`ByteSize`]): [`services`].
//! - `storage`, `database`: [`storage`].
//! - `basicAuth`, `oauth2`: [`auth`].
//! - `outbound`: [`outbound`](mod@outbound).
//! - `rateLimit`: [`ratelimit`].
//! - `services.scheduler` and [`Period`]: [`scheduler`]; cron expressions: [`cron`].
//! - `services.audit`: [`audit`].
//! - `services.webhooks`: [`webhooks`].
//! - `capture` (the person's page): [`capture`].
//! - `portal` (the operator's portal): [`portal`].
//! - `fernetKey`, `secrets`: [`secrets`].
//! - Regula's keys that idv accepts without using (`mongo`, `messageBroker`, …): [`compat`].
//! - `logging` (the binary's log): [`logging`]; `metrics` (the Prometheus endpoint, Regula's
//!   StatsD and alerts blocks): [`metrics`](mod@metrics).
//! - Reading the file and the environment, and the checks across keys: [`load`](mod@load).
//!
//! The commented example, [`EXAMPLE`], is `config/idv.example.yaml` at the repository root
//! (`idv config example` prints it); a test loads it and compares it with the defaults.
//!
//! A new key: a field (with its default) in its area's file here, a check in that area's
//! `validate` or in [`load`](mod@load) when some values are refused, and a line with a comment
//! in `config/idv.example.yaml`. The tests fail when the example misses the key or its comment.

pub mod audit;
pub mod auth;
pub mod capture;
pub mod compat;
pub mod cors;
pub mod cron;
pub mod load;
pub mod logging;
pub mod metrics;
pub mod mobile;
pub mod outbound;
pub mod portal;
pub mod ratelimit;
pub mod scheduler;
pub mod secrets;
pub mod services;
pub mod storage;
pub mod webhooks;

#[cfg(test)]
mod tests;

pub use auth::{BasicAuth, OAuth2};
pub use load::{ConfigError, load, redact_url, yaml_to_json};
pub use outbound::Outbound;
pub use scheduler::Period;
pub use services::{Api, ByteSize, Gateway, Services, WorkflowService};
pub use storage::{Database, FsStorage, Location, LocationPrefix, Storage, StorageType};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole configuration. Field names are the YAML keys (camelCase).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// The public URL of this server, used in file URLs and workflow templates. Empty: derived
    /// from the address the server listens on.
    pub(crate) base_url: String,
    pub basic_auth: BasicAuth,
    pub services: Services,
    pub storage: Storage,
    pub database: Database,
    pub(crate) oauth2: OAuth2,
    pub outbound: Outbound,
    /// `rateLimit`: request limits per credential and client address.
    pub rate_limit: ratelimit::RateLimitConfig,
    /// `fernetKey` (Regula's key name): encrypts the secrets the database keeps. Absent: a key
    /// generated in the data folder (the server's `secrets` module).
    pub fernet_key: Option<secrets::SecretText>,
    /// `secrets.previousKeys`: former keys, for reading only.
    pub secrets: secrets::SecretsConfig,
    /// `capture`: the hosted capture page.
    pub capture: capture::Capture,
    /// `portal`: the operator's portal at `/`.
    pub portal: portal::Portal,
    /// `mobile` (Regula's block): the iOS and Android apps that open this server's links.
    pub mobile: mobile::Mobile,
    /// Regula's keys met while loading that idv accepts without using, each with what idv uses
    /// instead; `idv serve` logs them at start ([`compat`]).
    #[serde(skip)]
    pub notices: Vec<compat::Notice>,
    /// `logging` (Regula's block): level, format and destinations of the log.
    pub logging: logging::Logging,
    /// `metrics`: the Prometheus endpoint; Regula's StatsD and alerts blocks.
    pub metrics: metrics::Metrics,
}

impl Config {
    /// The folder holding session files and, below it, the workflows and localization folders.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.storage.fs.path)
    }

    /// Folders whose workflow and localization files load at start.
    pub(crate) fn workflow_dirs(&self) -> Vec<PathBuf> {
        let root = self.data_dir();
        let mut dirs = vec![root.join(&self.storage.workflows.location.prefix)];
        let locales = root.join(&self.storage.locales.location.prefix);
        if !dirs.contains(&locales) {
            dirs.push(locales);
        }
        dirs
    }

    /// The assets folder (`storage.fs.path` / `storage.assets.location.prefix`).
    pub(crate) fn assets_dir(&self) -> PathBuf {
        self.data_dir().join(&self.storage.assets.location.prefix)
    }

    /// `baseUrl` without a trailing slash, or one derived from the listening address.
    pub fn effective_base_url(&self, listening: Option<std::net::SocketAddr>) -> String {
        if !self.base_url.is_empty() {
            return self.base_url.trim_end_matches('/').to_string();
        }
        match listening {
            Some(addr) if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
            Some(addr) => format!("http://{addr}"),
            None => format!("http://localhost:{}", self.services.api.port),
        }
    }
}

/// A commented example configuration (`idv config example`): `config/idv.example.yaml` at the
/// repository root. Every key is in it, with a comment, at its default value.
pub const EXAMPLE: &str = include_str!("../../../../config/idv.example.yaml");
