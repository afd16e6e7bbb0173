//! Loading: the file, then `IDV_CONFIG__…` variables, over the defaults; then the checks that
//! span several keys. Every error names the key and where its value came from.

use super::Config;
use serde_json::{Map, Value};
use std::path::Path;

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
    // Regula's keys that idv accepts without using them, met on the way (for the notices).
    let mut unused: Vec<(&'static str, Value)> = Vec::new();

    if let Some(path) = &file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        let value = yaml_to_json(&text)
            .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
        let source = format!("config file {}", path.display());
        match value {
            Value::Null => {}
            Value::Object(map) => {
                let mut seen = Seen {
                    source: &source,
                    sources: &mut sources,
                    unused: &mut unused,
                };
                merge(&mut merged, &defaults, map, "", &mut seen)?;
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
        if let Some((key, _)) = super::compat::entry_for(&segments.join("."))
            && !known_path(&defaults, &segments)
        {
            unused.push((key, parse_scalar(&raw)));
            continue;
        }
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
    let mut config = config;
    config.notices = super::compat::notices(&config, &unused);
    Ok(config)
}

/// True when the defaults hold the key the segments name (matched case-insensitively).
fn known_path(defaults: &Value, segments: &[&str]) -> bool {
    let mut here = defaults;
    for seg in segments {
        let Some(next) = here
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg)))
        else {
            return false;
        };
        here = next.1;
    }
    true
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
    config.capture.validate().map_err(ConfigError)?;
    config.portal.validate().map_err(ConfigError)?;
    config.services.api.cors.validate().map_err(ConfigError)?;
    config.services.api.proxies().map_err(ConfigError)?;
    config.mobile.validate().map_err(ConfigError)?;
    config.logging.validate().map_err(ConfigError)?;
    config.metrics.validate().map_err(ConfigError)?;
    config.storage.validate().map_err(ConfigError)?;
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

/// Where a file's keys are being merged from, and what the merge records on the way.
struct Seen<'a> {
    source: &'a str,
    /// Which source set each key.
    sources: &'a mut Vec<(String, String)>,
    /// Regula's accepted-but-unused keys met, with their values.
    unused: &'a mut Vec<(&'static str, Value)>,
}

/// Merges a file's mapping into the defaults, refusing keys the defaults do not have unless
/// they are Regula's keys that idv accepts without using ([`super::compat`]).
fn merge(
    target: &mut Value,
    defaults: &Value,
    map: Map<String, Value>,
    prefix: &str,
    seen: &mut Seen<'_>,
) -> Result<(), ConfigError> {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let compat = super::compat::entry_for(&path).map(|(k, _)| *k);
        if let Some(entry) = compat {
            seen.unused.push((entry, value.clone()));
        }
        let Some(default) = defaults.get(&key) else {
            if compat.is_some() {
                continue;
            }
            let known: Vec<&String> = defaults
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            return Err(ConfigError(format!(
                "unknown key `{path}` in {}; known keys here: {}",
                seen.source,
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
                merge(slot, default, inner, &path, seen)?;
            }
            (Value::Object(_), Value::Null) => {}
            (_, value) => {
                target[&key] = value;
                seen.sources.push((path, seen.source.to_string()));
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
