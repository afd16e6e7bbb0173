//! `metrics`: the Prometheus endpoint of this server (`metrics.prometheus`). Regula's blocks
//! (`statsd`, `database`, `alerts`) load too, with a notice at start ([`super::compat`]).

use serde::{Deserialize, Serialize};

/// The `metrics` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Metrics {
    /// `GET /metrics` in Prometheus text format, on a listener of its own.
    pub prometheus: Prometheus,
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
