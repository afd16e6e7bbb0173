//! Regula's keys that idv accepts without using them, and what it says about each at start.
//!
//! A Regula `config.yaml` loads unchanged: keys that name parts idv replaces (MongoDB, the
//! message broker, the indexer) or does not have (SMTP, face search, LiveKit) are accepted,
//! and each block of them gives one [`Notice`] that says what idv uses instead. A key in
//! neither this list nor the configuration's own types stays an error that names it.
//!
//! A notice is a warning when the block is in use in Regula's terms, and a note (logged at
//! `info`) when the block says `enabled: false`: nothing is lost by ignoring a feature that was
//! off.

use super::Config;
use serde_json::Value;

/// One accepted-but-unused key, reported at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The key as written (`mongo`, `services.indexer`, `oauth2.providers`).
    pub key: String,
    /// The whole sentence: what the key was for and what idv uses instead.
    pub message: String,
    /// False when the block says `enabled: false` (a note rather than a warning).
    pub warn: bool,
}

/// A key (or block) of Regula's and the sentence saying what idv uses instead. The sentence
/// may read the loaded configuration.
type Entry = (&'static str, fn(&Config) -> String);

/// Regula's keys that idv accepts and does not use. An entry covers the key and every key
/// below it; it also covers a key that idv's own types hold only for compatibility.
pub(crate) const UNUSED: &[Entry] = &[
    ("mode", |_| {
        "mode is not used: every idv instance serves the API and runs background work; several instances share database.url and file storage (docs/deploy.md)".into()
    }),
    ("identifier", |_| "identifier is not used by idv".into()),
    ("tenant", |_| {
        "tenant is not used: one idv install is one tenant (its own database.url)".into()
    }),
    ("env", |_| "env is not used by idv".into()),
    ("mongo", |c| {
        format!(
            "mongo.url is not used: idv keeps its data in database.url, now {}",
            super::redact_url(&c.database.url)
        )
    }),
    ("messageBroker", |c| {
        format!(
            "messageBroker.url is not used: idv passes jobs and events through its database ({}); no message broker is needed",
            super::redact_url(&c.database.url)
        )
    }),
    ("topics", |_| {
        "topics is not used: idv has no message broker; events reach webhooks (services.webhooks) and GET /api/events/stream".into()
    }),
    ("smtp", |_| "smtp is not used: idv sends no e-mail".into()),
    ("faceSearch", |_| {
        "faceSearch is not used: idv has no face search database".into()
    }),
    ("textSearch", |_| {
        "textSearch is not used: idv searches sessions in its own database (GET /api/sessions?search=…); no OpenSearch is needed".into()
    }),
    ("saml", |_| {
        "saml is not used: users sign in with idv's own accounts (basicAuth, POST /api/auth/login)"
            .into()
    }),
    ("oauth2.enabled", |_| {
        "oauth2.enabled is not used: POST /api/auth/login always gives tokens (oauth2.accessTokenTtl, oauth2.refreshTokenTtl); there are no outside sign-in providers".into()
    }),
    ("oauth2.providers", |_| {
        "oauth2.providers is not used: users sign in with idv's own accounts; there are no outside sign-in providers".into()
    }),
    ("deviceRegistration", |_| {
        "deviceRegistration is not used: idv's device routes are always served to callers with the device role".into()
    }),
    ("authorizedKeys", |_| {
        "authorizedKeys is not used: API keys are managed with idv apikey and /api/apikeys".into()
    }),
    ("sentry", |_| {
        "sentry is not used: idv reports errors in its log and its metrics".into()
    }),
    ("services.api.enabled", |_| {
        "services.api.enabled is not used: idv serve always serves the API".into()
    }),
    ("services.api.openapi", |_| {
        "services.api.openapi is not used: the OpenAPI document is always at GET /api/openapi.json"
            .into()
    }),
    ("services.api.workers", |_| {
        "services.api.workers is not used: one idv process serves on every core (run more instances to scale out)".into()
    }),
    ("services.api.threads", |_| {
        "services.api.threads is not used: one idv process serves on every core".into()
    }),
    ("services.workflow.workers", |c| {
        format!(
            "services.workflow.workers is not used: each instance runs up to services.workflow.threads ({}) background actions at once",
            c.services.workflow.threads
        )
    }),
    ("services.audit.wsEnabled", |_| {
        "services.audit.wsEnabled is not used: the audit log is read through GET /api/audit; session events stream at GET /api/events/stream".into()
    }),
    ("services.audit.workers", |_| {
        "services.audit.workers is not used: one audit writer per process".into()
    }),
    ("services.audit.threads", |_| {
        "services.audit.threads is not used: one audit writer per process".into()
    }),
    ("services.audit.backoffice", |_| {
        "services.audit.backoffice is not used: idv keeps user entries for services.audit.user.keepFor and API-key entries for services.audit.api.keepFor".into()
    }),
    ("services.indexer", |_| {
        "services.indexer is not used: idv indexes sessions in its database as they are written"
            .into()
    }),
    ("services.ip2location", |_| {
        "services.ip2location is not used: idv does not look up where client addresses are".into()
    }),
    ("services.livekit", |_| {
        "services.livekit is not used: idv has no video calls".into()
    }),
    ("metrics.statsd", |c| {
        format!(
            "metrics.statsd is not used: idv serves Prometheus metrics at GET /metrics on metrics.prometheus.listen ({}, {})",
            c.metrics.prometheus.listen,
            if c.metrics.prometheus.enabled {
                "on"
            } else {
                "off: set metrics.prometheus.enabled"
            }
        )
    }),
    ("metrics.database", |_| {
        "metrics.database is not used: database pool use is among the Prometheus metrics (metrics.prometheus)".into()
    }),
    ("metrics.alerts", |_| {
        "metrics.alerts is not used: alert on idv's Prometheus metrics in Prometheus itself".into()
    }),
    ("services.faceapi.mode", |_| {
        "services.faceapi.mode is not used: workflows call the Face API as they define".into()
    }),
];

/// The entry covering `path` (the entry's key, or a key below it).
pub(crate) fn entry_for(path: &str) -> Option<&'static Entry> {
    UNUSED.iter().find(|(key, _)| {
        path.eq_ignore_ascii_case(key)
            || (path.len() > key.len()
                && path.as_bytes()[key.len()] == b'.'
                && path[..key.len()].eq_ignore_ascii_case(key))
    })
}

/// The notices for the entries met while loading (`met`: entry key and the value set there),
/// one per entry, in the order of [`UNUSED`].
pub(crate) fn notices(config: &Config, met: &[(&'static str, Value)]) -> Vec<Notice> {
    UNUSED
        .iter()
        .filter_map(|(key, say)| {
            let values: Vec<&Value> = met
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v)
                .collect();
            if values.is_empty() {
                return None;
            }
            // Off in Regula's own terms: the block, or its `enabled`, says false.
            let off = values.iter().all(|v| match v {
                Value::Object(m) => m.get("enabled") == Some(&Value::Bool(false)),
                Value::Bool(b) => !b && key.to_ascii_lowercase().ends_with("enabled"),
                Value::Null => true,
                Value::Array(a) => a.is_empty(),
                _ => false,
            });
            Some(Notice {
                key: (*key).to_string(),
                message: say(config),
                warn: !off,
            })
        })
        .collect()
}
