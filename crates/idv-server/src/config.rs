//! Configuration: `config.yaml` with Regula's key names where they exist, every key overridable
//! by an `IDV_CONFIG__PATH__TO__KEY` environment variable (matched case-insensitively), and
//! built-in defaults for the rest. An unknown key or a bad value stops start-up with a message
//! that names the key and where it came from.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The whole configuration. Field names are the YAML keys (camelCase).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// The public URL of this server, used in file URLs and workflow templates. Empty: derived
    /// from the address the server listens on.
    pub base_url: String,
    pub basic_auth: BasicAuth,
    pub services: Services,
    pub storage: Storage,
    pub database: Database,
    pub oauth2: OAuth2,
    pub outbound: Outbound,
    /// `rateLimit`: request limits per credential and client address.
    pub rate_limit: crate::ratelimit::RateLimitConfig,
    /// `fernetKey` (Regula's key name): encrypts the secrets the database keeps. Absent: a key
    /// generated in the data folder ([`crate::secrets`]).
    pub fernet_key: Option<crate::secrets::config::SecretText>,
    /// `secrets.previousKeys`: former keys, for reading only.
    pub secrets: crate::secrets::config::SecretsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct BasicAuth {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Services {
    pub api: Api,
    pub docreader: Gateway,
    pub faceapi: Gateway,
    pub workflow: WorkflowService,
    pub scheduler: crate::scheduler::SchedulerConfig,
    /// `services.audit`: the audit log and its retention.
    pub audit: crate::audit::AuditConfig,
    /// `services.webhooks`: webhook delivery and event retention.
    pub webhooks: crate::webhooks::config::WebhooksConfig,
}

/// `services.workflow`: the background runner of `async: true` workflow actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WorkflowService {
    /// False: this instance runs no background actions (another instance must).
    pub enabled: bool,
    /// Accepted for Regula compatibility (`auto` or a number); one worker loop per instance.
    pub workers: serde_json::Value,
    /// Background actions run at once by this instance.
    pub threads: usize,
    /// Seconds a claimed action is reserved for its instance; after a crash another instance
    /// takes it over when this runs out.
    pub job_lease: u64,
}

impl Default for WorkflowService {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: serde_json::Value::String("auto".into()),
            threads: 32,
            job_lease: 120,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Api {
    pub host: String,
    pub port: u16,
    /// Largest request body, e.g. `64Mi`, `10M`, `1048576`.
    pub max_body_size: ByteSize,
    /// Most parts one multipart upload may hold (each part is a file).
    pub max_upload_parts: u32,
    /// Seconds the gateways wait for a service's response to begin.
    pub timeout: u64,
    /// Seconds an idle keep-alive connection stays open between requests; 0 turns keep-alive
    /// off (one request per connection).
    pub keepalive: u64,
    /// Seconds a client may take to send a request's headers (counted from the first byte, or
    /// from the connection's start for its first request); the connection is closed after.
    pub header_read_timeout: u64,
    /// Longest pause, in seconds, between the bytes of a request body; the request then
    /// answers 408 `request_timeout`.
    pub body_read_timeout: u64,
    /// Open connections kept at most; past it the oldest connection without a request in
    /// flight is closed for the newcomer. 0: automatic, below the process's open-file limit.
    pub max_connections: u64,
}

/// A Regula service block (`services.docreader`, `services.faceapi`): workflows read `prefix`
/// and `url` in their templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Gateway {
    pub enabled: bool,
    pub prefix: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Storage {
    /// Only `fs` for now.
    #[serde(rename = "type")]
    pub kind: StorageType,
    pub fs: FsStorage,
    pub workflows: Location,
    pub locales: Location,
    /// Workflow assets: uploaded bytes are kept under this prefix, and image files placed
    /// directly in this folder load as assets at start.
    pub assets: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Fs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FsStorage {
    pub path: String,
}

/// Regula's storage location block; with `fs` storage, `prefix` is a folder under `fs.path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Location {
    pub location: LocationPrefix,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocationPrefix {
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://./idv-data/idv.db` (default) or `postgres://user@host:5432/db`.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OAuth2 {
    /// Seconds an access token from `POST /api/auth/login` stays valid.
    pub access_token_ttl: u64,
    /// Seconds a refresh token stays valid.
    pub refresh_token_ttl: u64,
}

/// Outbound HTTP calls (workflow actions, webhooks, the service gateways).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Outbound {
    /// Allow calls to private, loopback and link-local addresses. Off by default: a workflow or
    /// webhook URL could otherwise reach internal services. The configured service URLs are
    /// always allowed.
    pub allow_private_addresses: bool,
}

impl Default for BasicAuth {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for Services {
    fn default() -> Self {
        Self {
            api: Api::default(),
            docreader: Gateway {
                enabled: false,
                prefix: "drapi".into(),
                url: String::new(),
            },
            faceapi: Gateway {
                enabled: false,
                prefix: "faceapi".into(),
                url: String::new(),
            },
            workflow: WorkflowService::default(),
            scheduler: Default::default(),
            audit: Default::default(),
            webhooks: Default::default(),
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8000,
            max_body_size: ByteSize(64 * 1024 * 1024),
            max_upload_parts: 100,
            timeout: 120,
            keepalive: 120,
            header_read_timeout: 30,
            body_read_timeout: 60,
            max_connections: 0,
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            kind: StorageType::Fs,
            fs: FsStorage::default(),
            workflows: Location {
                location: LocationPrefix {
                    prefix: "workflows".into(),
                },
            },
            locales: Location {
                location: LocationPrefix {
                    prefix: "localization".into(),
                },
            },
            assets: Location {
                location: LocationPrefix {
                    prefix: "assets".into(),
                },
            },
        }
    }
}

impl Default for FsStorage {
    fn default() -> Self {
        Self {
            path: "./idv-data".into(),
        }
    }
}

impl Default for Location {
    fn default() -> Self {
        Self {
            location: LocationPrefix {
                prefix: String::new(),
            },
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Self {
            url: "sqlite://./idv-data/idv.db".into(),
        }
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

impl Config {
    /// The folder holding session files and, below it, the workflows and localization folders.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.storage.fs.path)
    }

    /// Folders whose workflow and localization files load at start.
    pub fn workflow_dirs(&self) -> Vec<PathBuf> {
        let root = self.data_dir();
        let mut dirs = vec![root.join(&self.storage.workflows.location.prefix)];
        let locales = root.join(&self.storage.locales.location.prefix);
        if !dirs.contains(&locales) {
            dirs.push(locales);
        }
        dirs
    }

    /// The assets folder (`storage.fs.path` / `storage.assets.location.prefix`).
    pub fn assets_dir(&self) -> PathBuf {
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

/// A size in bytes, written as `64Mi`, `10M`, `512Ki`, `1G` or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}` is not a size like 64Mi"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "k" | "KB" => 1000,
            "Ki" | "KiB" => 1 << 10,
            "M" | "MB" => 1_000_000,
            "Mi" | "MiB" => 1 << 20,
            "G" | "GB" => 1_000_000_000,
            "Gi" | "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` in `{text}` (use Ki, Mi, Gi, K, M or G)"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        if n > 0 && n.is_multiple_of(1 << 20) {
            s.serialize_str(&format!("{}Mi", n >> 20))
        } else {
            s.serialize_u64(n)
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Number(n) => n
                .as_u64()
                .map(ByteSize)
                .ok_or_else(|| serde::de::Error::custom("a size must be a whole number of bytes")),
            Value::String(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "a size must be a number or a string like 64Mi",
            )),
        }
    }
}

/// Why the configuration could not be loaded. The message names the key and its source.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

const ENV_PREFIX: &str = "IDV_CONFIG__";

/// Loads the configuration: `explicit` (from `--config`), else `./config.yaml` when present,
/// else defaults only; then `IDV_CONFIG__…` variables from `env`.
pub fn load(
    explicit: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let default_file = Path::new("config.yaml");
    let file = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None if default_file.exists() => Some(default_file.to_path_buf()),
        None => None,
    };
    let defaults = serde_json::to_value(Config::default()).expect("defaults serialize");
    let mut merged = defaults.clone();
    // Which source set each key, for error messages.
    let mut sources: Vec<(String, String)> = Vec::new();

    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let value = yaml_to_json(&text)
            .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
        let source = format!("config file {}", path.display());
        match value {
            Value::Null => {}
            Value::Object(map) => {
                merge(&mut merged, &defaults, map, "", &source, &mut sources)?;
            }
            _ => {
                return Err(ConfigError(format!(
                    "{source}: the top level must be a mapping of keys"
                )));
            }
        }
    }

    let mut env_vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.to_ascii_uppercase().starts_with(ENV_PREFIX))
        .collect();
    env_vars.sort();
    for (name, raw) in env_vars {
        let segments: Vec<&str> = name[ENV_PREFIX.len()..].split("__").collect();
        let (path, slot) = resolve_env_path(&mut merged, &defaults, &segments)
            .map_err(|e| ConfigError(format!("environment variable {name}: {e}")))?;
        *slot = parse_scalar(&raw);
        sources.push((path, format!("environment variable {name}")));
    }

    let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = e.path().to_string();
        let source = sources
            .iter()
            .rev()
            .find(|(p, _)| *p == key || key.starts_with(&format!("{p}.")))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| "the configuration".into());
        ConfigError(format!("bad value for `{key}` in {source}: {}", e.inner()))
    })?;
    validate(&config)?;
    Ok(config)
}

fn validate(config: &Config) -> Result<(), ConfigError> {
    let url = &config.database.url;
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(ConfigError(format!(
            "bad value for `database.url`: `{}` must start with sqlite:// or postgres://",
            redact_url(url)
        )));
    }
    if !(config.base_url.is_empty()
        || config.base_url.starts_with("http://")
        || config.base_url.starts_with("https://"))
    {
        return Err(ConfigError(format!(
            "bad value for `baseUrl`: `{}` must start with http:// or https://",
            config.base_url
        )));
    }
    for (key, url) in [
        ("services.docreader.url", &config.services.docreader.url),
        ("services.faceapi.url", &config.services.faceapi.url),
    ] {
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError(format!(
                "bad value for `{key}`: `{url}` must start with http:// or https://"
            )));
        }
    }
    let (dr, fa) = (&config.services.docreader, &config.services.faceapi);
    for (key, prefix) in [
        ("services.docreader.prefix", &dr.prefix),
        ("services.faceapi.prefix", &fa.prefix),
    ] {
        let ok = !prefix.is_empty()
            && prefix != "api"
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ConfigError(format!(
                "bad value for `{key}`: `{prefix}` must be one path segment of letters, digits, - or _ (and not `api`)"
            )));
        }
    }
    if dr.prefix == fa.prefix {
        return Err(ConfigError(format!(
            "`services.docreader.prefix` and `services.faceapi.prefix` are both `{}`; give them different values",
            dr.prefix
        )));
    }
    if config.services.api.timeout == 0 {
        return Err(ConfigError(
            "bad value for `services.api.timeout`: must be at least 1 (seconds)".into(),
        ));
    }
    for (key, value) in [
        (
            "services.api.headerReadTimeout",
            config.services.api.header_read_timeout,
        ),
        (
            "services.api.bodyReadTimeout",
            config.services.api.body_read_timeout,
        ),
    ] {
        if value == 0 {
            return Err(ConfigError(format!(
                "bad value for `{key}`: must be at least 1 (seconds)"
            )));
        }
    }
    config.services.scheduler.validate().map_err(ConfigError)?;
    config.services.webhooks.validate().map_err(ConfigError)?;
    config.rate_limit.validate().map_err(ConfigError)?;
    let assets = &config.storage.assets.location.prefix;
    if assets.is_empty()
        || assets.starts_with('/')
        || assets.ends_with('/')
        || assets.contains('\\')
        || assets
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(ConfigError(format!(
            "bad value for `storage.assets.location.prefix`: `{assets}` must be a relative folder name like assets"
        )));
    }
    if [
        &config.storage.workflows.location.prefix,
        &config.storage.locales.location.prefix,
    ]
    .contains(&assets)
    {
        return Err(ConfigError(format!(
            "`storage.assets.location.prefix` is `{assets}`, the same folder as workflows or localization files; give assets a folder of their own"
        )));
    }
    if config.services.api.max_body_size.0 < 1024 {
        return Err(ConfigError(
            "bad value for `services.api.maxBodySize`: must be at least 1Ki".into(),
        ));
    }
    if config.services.api.max_upload_parts == 0 {
        return Err(ConfigError(
            "bad value for `services.api.maxUploadParts`: must be at least 1".into(),
        ));
    }
    Ok(())
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Merges a file's mapping into the defaults, refusing keys the defaults do not have.
fn merge(
    target: &mut Value,
    defaults: &Value,
    map: Map<String, Value>,
    prefix: &str,
    source: &str,
    sources: &mut Vec<(String, String)>,
) -> Result<(), ConfigError> {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let Some(default) = defaults.get(&key) else {
            let known: Vec<&String> = defaults
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "unknown key `{path}` in {source}; known keys here: {}",
                known
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        match (default, value) {
            (Value::Object(_), Value::Object(inner)) => {
                let slot = target.get_mut(&key).expect("default has key");
                merge(slot, default, inner, &path, source, sources)?;
            }
            (Value::Object(_), Value::Null) => {}
            (_, value) => {
                target[&key] = value;
                sources.push((path, source.to_string()));
            }
        }
    }
    Ok(())
}

/// Finds the config slot an environment variable names, matching each segment
/// case-insensitively against the known keys.
fn resolve_env_path<'a>(
    target: &'a mut Value,
    defaults: &Value,
    segments: &[&str],
) -> Result<(String, &'a mut Value), String> {
    let mut path = String::new();
    let mut slot = target;
    let mut default = defaults;
    for seg in segments {
        let Some(map) = default.as_object() else {
            return Err(format!("`{path}` has no sub-keys"));
        };
        let Some(key) = map.keys().find(|k| k.eq_ignore_ascii_case(seg)).cloned() else {
            let here = if path.is_empty() {
                "the top level".to_string()
            } else {
                format!("`{path}`")
            };
            return Err(format!(
                "unknown key `{}` under {here}; known keys: {}",
                seg.to_ascii_lowercase(),
                map.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&key);
        default = &map[&key];
        slot = slot
            .get_mut(&key)
            .expect("merged config has every default key");
    }
    if default.is_object() {
        return Err(format!("`{path}` is a section; name one of its keys"));
    }
    Ok((path, slot))
}

/// An environment value as YAML would read it: numbers and booleans typed, the rest a string.
fn parse_scalar(raw: &str) -> Value {
    match yaml_to_json(raw) {
        Ok(v @ (Value::Bool(_) | Value::Number(_))) => v,
        _ => Value::String(raw.to_string()),
    }
}

/// Converts one YAML document to JSON.
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    fn conv(y: &Yaml) -> Value {
        match y {
            Yaml::Real(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::String(s.clone())),
            Yaml::Integer(i) => Value::from(*i),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Boolean(b) => Value::Bool(*b),
            Yaml::Array(a) => Value::Array(a.iter().map(conv).collect()),
            Yaml::Hash(h) => Value::Object(
                h.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Yaml::String(s) => s.clone(),
                            Yaml::Integer(i) => i.to_string(),
                            Yaml::Boolean(b) => b.to_string(),
                            Yaml::Real(r) => r.clone(),
                            _ => String::new(),
                        };
                        (key, conv(v))
                    })
                    .collect(),
            ),
            Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
        }
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("YAML error: {e}"))?;
    Ok(docs.first().map(conv).unwrap_or(Value::Null))
}

/// A commented example configuration (`idv config example`). It parses to the defaults.
pub const EXAMPLE: &str = r#"# idv configuration. Every key may be overridden by an environment variable:
# IDV_CONFIG__SERVICES__API__PORT=9000 sets services.api.port (names are case-insensitive).

# The public URL of this server, used in file URLs and in workflow templates
# ({{ config.baseUrl }}). Empty: http://localhost:<port>.
baseUrl: ""

basicAuth:
  # Accept "Authorization: Basic ..." for users. false turns Basic off everywhere.
  enabled: true

services:
  api:
    host: 0.0.0.0
    port: 8000
    # Largest request body (JSON or upload): 64Mi, 10M, 1048576 ...
    maxBodySize: 64Mi
    # Most files (parts) in one multipart upload to a step; the parts together are bounded by
    # maxBodySize.
    maxUploadParts: 100
    # Seconds the /drapi and /faceapi gateways wait for the service's response to begin.
    timeout: 120
    # Seconds an idle keep-alive connection stays open between requests (0: no keep-alive).
    keepalive: 120
    # Seconds a client may take to send a request's headers; the connection is closed after.
    headerReadTimeout: 30
    # Longest pause, in seconds, between the bytes of a request body (then 408).
    bodyReadTimeout: 60
    # Open connections kept at most; past it the oldest idle one is closed for a newcomer.
    # 0: automatic, below the open-file limit (which is raised to its hard limit at start).
    maxConnections: 0
  # Regula Document Reader and Face API web services, as workflows reference them
  # ({{ config.services.docreader.url }}). With enabled: true, requests to /<prefix>/...
  # are relayed to <url>/... (the mobile SDKs call these).
  docreader:
    enabled: false
    prefix: drapi
    url: ""
  faceapi:
    enabled: false
    prefix: faceapi
    url: ""
  # The background runner of workflow actions marked `async: true`.
  workflow:
    enabled: true
    workers: auto
    # Background actions this instance runs at once.
    threads: 32
    # Seconds a claimed action stays reserved for this instance; after a crash another
    # instance takes it over once this runs out.
    jobLease: 120
  # Jobs run on a cron schedule (UTC): 6 fields with seconds first, or 5 with minutes first.
  # Each field: *, */n, a-b, a,b or a number. An empty cron turns a job off. Every Regula job
  # name is accepted; this server runs reloadWorkflows (the workflows and localization folders;
  # a broken file keeps the last good revision).
  scheduler:
    enabled: true
    jobs:
      cleanSessions:
        cron: "0 0 3 * * *"
        # Absent: sessions are kept for ever.
        keepFor: null
      cronWorkflow:
        cron: "*/30 * * * * *"
        keepFor: null
      expireDeviceLogs:
        cron: "*/5 * * * *"
        keepFor: 30d
      expireSessions:
        cron: "*/10 * * * * *"
        keepFor: null
      reloadLocales:
        cron: "*/15 * * * * *"
        keepFor: null
      reloadWorkflows:
        cron: "*/15 * * * * *"
        keepFor: null
      tempFilesCleanup:
        cron: "* */1 * * *"
        keepFor: 1d
  # The audit log: session reads, file downloads, status changes, deletions, API key, user and
  # role changes, logins. Entries older than keepFor are removed from the start of the chain
  # (every 10 minutes); null keeps them for ever.
  audit:
    enabled: true
    wsEnabled: false
    workers: auto
    threads: 32
    # Entries made by users (and the CLI).
    user:
      keepFor: 90d
    # Entries made with API keys.
    api:
      keepFor: 90d
    backoffice:
      keepFor: null
  # Webhook delivery: every session event is stored with the change that caused it and sent to
  # each matching endpoint (POST /api/webhooks), signed, retried with backoff for 3 days.
  webhooks:
    # false: this instance sends no webhooks (another instance must); events are still stored.
    enabled: true
    # Deliveries this instance sends at once.
    concurrency: 16
    # Seconds a delivery being sent stays reserved for this instance; after a crash another
    # instance sends it again once this runs out. Must exceed timeout.
    lease: 60
    # Seconds one attempt may take (connect, send, read the answer).
    timeout: 10
    # Milliseconds between looks for deliveries queued by other instances.
    pollInterval: 1000
    # Milliseconds waited after the first failed attempt; each further failure doubles it
    # (up to 12h), and a receiver's Retry-After is honoured.
    retryBase: 5000
    # Events and finished deliveries older than this are removed (every 10 minutes).
    keepEventsFor: 30d

storage:
  # fs: files in a local folder.
  type: fs
  fs:
    path: ./idv-data
  # Workflow and localization files in these folders (under storage.fs.path) load at start.
  workflows:
    location:
      prefix: workflows
  locales:
    location:
      prefix: localization
  # Workflow assets (images served at /api/v1/assets/<id>/content): files placed directly in
  # this folder load at start, named by their file name without extension.
  assets:
    location:
      prefix: assets

database:
  # sqlite://PATH (embedded default) or postgres://USER:PASSWORD@HOST:PORT/DB
  url: sqlite://./idv-data/idv.db

oauth2:
  # Lifetimes, in seconds, of the tokens from POST /api/auth/login.
  accessTokenTtl: 600
  refreshTokenTtl: 604800

outbound:
  # Workflow HTTP actions and webhooks may not call private, loopback or link-local addresses
  # (10.0.0.0/8, 127.0.0.1, 169.254.169.254, fc00::/7 ...) unless this is true. The service
  # URLs above are always allowed.
  allowPrivateAddresses: false

# Encrypts the secrets the database keeps (webhook secrets, webhook header values, the webhook
# signing key): url-safe base64 of 32 bytes, as `idv secrets new-key` prints. null: a key made
# on first start in storage.fs.path (fernet.key). Instances sharing a PostgreSQL database must
# all have the same fernetKey.
fernetKey: null
secrets:
  # Former fernetKeys, kept only to read values stored under them: each start re-encrypts
  # those under fernetKey, after which they can be removed.
  previousKeys: []

# Requests per window, counted per credential and per client address (both must pass), in each
# process on its own. s: logins and minting keys or tokens; m: other writes; l: reads. Health,
# readiness, the OpenAPI document and asset content are not limited.
rateLimit:
  enabled: true
  profiles:
    s:
      window: 1m
      limit: 10
    m:
      window: 1m
      limit: 100
    l:
      window: 1m
      limit: 1000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("config.yaml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn example_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, EXAMPLE);
        assert_eq!(load(Some(&p), vec![]).unwrap(), Config::default());
    }

    #[test]
    fn env_overrides_case_insensitively_and_types_values() {
        let env = vec![
            (
                "IDV_CONFIG__SERVICES__API__PORT".to_string(),
                "9000".to_string(),
            ),
            (
                "idv_config__basicauth__ENABLED".to_string(),
                "false".to_string(),
            ),
            (
                "IDV_CONFIG__SERVICES__API__MAXBODYSIZE".to_string(),
                "1Mi".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = load(None, env).unwrap();
        assert_eq!(c.services.api.port, 9000);
        assert!(!c.basic_auth.enabled);
        assert_eq!(c.services.api.max_body_size.0, 1 << 20);
    }

    #[test]
    fn upload_part_limit_is_set_and_checked() {
        assert_eq!(Config::default().services.api.max_upload_parts, 100);
        let env = |v: &str| {
            vec![(
                "IDV_CONFIG__SERVICES__API__MAXUPLOADPARTS".to_string(),
                v.to_string(),
            )]
        };
        assert_eq!(
            load(None, env("7")).unwrap().services.api.max_upload_parts,
            7
        );
        let e = load(None, env("0")).unwrap_err().0;
        assert!(e.contains("services.api.maxUploadParts"), "{e}");
    }

    #[test]
    fn unknown_file_key_names_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "services:\n  api:\n    prot: 1\n");
        let e = load(Some(&p), vec![]).unwrap_err().0;
        assert!(e.contains("unknown key `services.api.prot`"), "{e}");
        assert!(e.contains("config.yaml"), "{e}");
    }

    #[test]
    fn unknown_env_key_names_variable() {
        let env = vec![(
            "IDV_CONFIG__SERVICES__API__PROT".to_string(),
            "1".to_string(),
        )];
        let e = load(None, env).unwrap_err().0;
        assert!(e.contains("IDV_CONFIG__SERVICES__API__PROT"), "{e}");
        assert!(e.contains("unknown key `prot`"), "{e}");
    }

    #[test]
    fn bad_value_names_key_and_source() {
        let env = vec![(
            "IDV_CONFIG__SERVICES__API__PORT".to_string(),
            "eighty".to_string(),
        )];
        let e = load(None, env).unwrap_err().0;
        assert!(e.contains("`services.api.port`"), "{e}");
        assert!(e.contains("IDV_CONFIG__SERVICES__API__PORT"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "services:\n  api:\n    maxBodySize: lots\n");
        let e = load(Some(&p), vec![]).unwrap_err().0;
        assert!(
            e.contains("services.api.maxBodySize") && e.contains("config file"),
            "{e}"
        );
        let p = write(&dir, "database:\n  url: mysql://x\n");
        assert!(
            load(Some(&p), vec![])
                .unwrap_err()
                .0
                .contains("database.url")
        );
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(ByteSize::parse("64Mi").unwrap().0, 64 << 20);
        assert_eq!(ByteSize::parse("10M").unwrap().0, 10_000_000);
        assert_eq!(ByteSize::parse("2048").unwrap().0, 2048);
        assert!(ByteSize::parse("1Qi").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }
}
