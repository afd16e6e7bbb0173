//! `services.webhooks`: how this instance delivers webhooks (the worker in the server's
//! `webhooks::worker`) and how long delivered events are kept.

use super::scheduler::Period;
use serde::{Deserialize, Serialize};

/// `services.webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// False: this instance delivers nothing (another instance must); events are still stored.
    pub enabled: bool,
    /// Deliveries sent at once by this instance.
    pub concurrency: usize,
    /// Seconds a claimed delivery stays reserved for this instance; after a crash another
    /// instance sends it again once this runs out. Must exceed `timeout`.
    pub lease: u64,
    /// Seconds one delivery attempt may take (connecting, sending, reading the answer).
    pub timeout: u64,
    /// Milliseconds between looks for deliveries queued by other instances (this instance's
    /// own are sent at once).
    pub poll_interval: u64,
    /// Milliseconds waited after the first failed attempt; each further failure doubles it.
    pub retry_base: u64,
    /// How long events and finished deliveries are kept.
    pub(crate) keep_events_for: Period,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 16,
            lease: 60,
            timeout: 10,
            poll_interval: 1000,
            retry_base: 5000,
            keep_events_for: Period(30 * 86_400),
        }
    }
}

/// The longest `retryBase` accepted: 12 hours, the longest backoff (the server's
/// `webhooks::policy::MAX_BACKOFF_MS`, which is checked to be the same).
pub(crate) const MAX_RETRY_BASE_MS: u64 = 12 * 60 * 60 * 1000;

impl WebhooksConfig {
    /// Checks the values; the error names the key and what to change.
    pub fn validate(&self) -> Result<(), String> {
        let key = |k: &str| format!("bad value for `services.webhooks.{k}`");
        if !(1..=1024).contains(&self.concurrency) {
            return Err(format!("{}: must be from 1 to 1024", key("concurrency")));
        }
        if self.timeout == 0 || self.timeout > 3600 {
            return Err(format!(
                "{}: must be from 1 to 3600 (seconds)",
                key("timeout")
            ));
        }
        if self.lease <= self.timeout || self.lease > 86_400 {
            return Err(format!(
                "{}: {} must be longer than `timeout` ({} s) and at most 86400 (seconds), so a delivery is never sent twice at once",
                key("lease"),
                self.lease,
                self.timeout
            ));
        }
        if !(10..=3_600_000).contains(&self.poll_interval) {
            return Err(format!(
                "{}: must be from 10 to 3600000 (milliseconds)",
                key("pollInterval")
            ));
        }
        if !(1..=MAX_RETRY_BASE_MS).contains(&self.retry_base) {
            return Err(format!(
                "{}: must be from 1 to {MAX_RETRY_BASE_MS} (milliseconds)",
                key("retryBase")
            ));
        }
        if self.keep_events_for.seconds() == 0 {
            return Err(format!(
                "{}: must be longer than 0, like 30d",
                key("keepEventsFor")
            ));
        }
        Ok(())
    }

    /// `lease` in milliseconds.
    pub(crate) fn lease_ms(&self) -> i64 {
        secs_ms(self.lease)
    }

    /// `timeout` as a duration.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout)
    }

    /// `retryBase` in milliseconds.
    pub(crate) fn retry_base_ms(&self) -> i64 {
        i64::try_from(self.retry_base).unwrap_or(i64::MAX)
    }

    /// `keepEventsFor` in milliseconds.
    pub(crate) fn keep_events_ms(&self) -> i64 {
        secs_ms(self.keep_events_for.seconds())
    }
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = WebhooksConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.lease_ms(), 60_000);
        assert_eq!(c.keep_events_ms(), 30 * 86_400_000);
    }

    #[test]
    fn bad_values_name_their_key() {
        type Change = fn(&mut WebhooksConfig);
        let cases: [(&str, Change); 6] = [
            ("concurrency", |c| c.concurrency = 0),
            ("timeout", |c| c.timeout = 0),
            ("lease", |c| c.lease = c.timeout),
            ("pollInterval", |c| c.poll_interval = 0),
            ("retryBase", |c| c.retry_base = 0),
            ("keepEventsFor", |c| c.keep_events_for = Period(0)),
        ];
        for (key, change) in cases {
            let mut c = WebhooksConfig::default();
            change(&mut c);
            let e = c.validate().unwrap_err();
            assert!(e.contains(&format!("`services.webhooks.{key}`")), "{e}");
        }
    }
}
