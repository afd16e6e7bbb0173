//! `metrics`: the Prometheus endpoint of this server (`metrics.prometheus`), and Regula's
//! blocks (`statsd`, `database`, `alerts`), which are accepted so a Regula `config.yaml` loads
//! unchanged but do nothing here (the start-up log names them when they are turned on).

use serde::{Deserialize, Serialize};

/// The `metrics` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Metrics {
    /// `GET /metrics` in Prometheus text format, on a listener of its own.
    pub prometheus: Prometheus,
    /// Regula's StatsD sender: accepted, not used (scrape `metrics.prometheus` instead).
    pub statsd: Statsd,
    /// Regula's database-backed metrics: accepted, not used.
    pub database: Toggle,
    /// Regula's Prometheus alerts in its portal: accepted, not used.
    pub alerts: Alerts,
}

/// `metrics.prometheus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Prometheus {
    /// Serve `GET /metrics` on `listen`.
    pub enabled: bool,
    /// The address and port of the metrics listener (never the API's port); keep it on
    /// loopback or a private network.
    pub listen: String,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            enabled: false,
            listen: "127.0.0.1:9100".into(),
        }
    }
}

/// `metrics.statsd` (Regula's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Statsd {
    pub enabled: bool,
    pub host: Option<String>,
    pub port: u16,
    pub prefix: String,
}

impl Default for Statsd {
    fn default() -> Self {
        Statsd {
            enabled: false,
            host: None,
            port: 9125,
            prefix: "idv".into(),
        }
    }
}

/// A block with only `enabled`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Toggle {
    pub enabled: bool,
}

/// `metrics.alerts` (Regula's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Alerts {
    pub enabled: bool,
    pub source: String,
    pub prometheus: AlertsPrometheus,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            enabled: false,
            source: "prometheus".into(),
            prometheus: AlertsPrometheus::default(),
        }
    }
}

/// `metrics.alerts.prometheus` (Regula's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertsPrometheus {
    pub url: String,
    pub filter: AlertsFilter,
}

/// `metrics.alerts.prometheus.filter` (Regula's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertsFilter {
    pub groups: Vec<String>,
}

impl Default for AlertsFilter {
    fn default() -> Self {
        AlertsFilter {
            groups: vec!["idv.rules".into()],
        }
    }
}

impl Metrics {
    /// `metrics.prometheus.listen` must be an address with a port.
    pub fn validate(&self) -> Result<(), String> {
        if self.prometheus.enabled
            && self
                .prometheus
                .listen
                .parse::<std::net::SocketAddr>()
                .is_err()
        {
            return Err(format!(
                "bad value for `metrics.prometheus.listen`: `{}`; give an address and port such as 127.0.0.1:9100",
                self.prometheus.listen
            ));
        }
        Ok(())
    }

    /// The keys that are on but have no effect here, for the start-up warning.
    pub fn unused_keys(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.statsd.enabled {
            out.push("metrics.statsd");
        }
        if self.database.enabled {
            out.push("metrics.database");
        }
        if self.alerts.enabled {
            out.push("metrics.alerts");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_must_be_an_address_when_enabled() {
        let mut m = Metrics::default();
        m.prometheus.listen = "nowhere".into();
        assert!(m.validate().is_ok(), "off: not read");
        m.prometheus.enabled = true;
        let e = m.validate().unwrap_err();
        assert!(e.contains("metrics.prometheus.listen"), "{e}");
        m.prometheus.listen = "0.0.0.0:9100".into();
        assert!(m.validate().is_ok());
    }
}
