//! Time: milliseconds since the Unix epoch inside the system, ISO-8601 UTC with milliseconds and
//! `Z` on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2025-12-30T10:55:33.949Z`.
pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A source of time, injected so that expiry can be tested without sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_has_millis_and_z() {
        assert_eq!(super::iso(1_767_092_133_949), "2025-12-30T10:55:33.949Z");
    }
}
