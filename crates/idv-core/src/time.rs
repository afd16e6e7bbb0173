//! Time: milliseconds since the Unix epoch inside the system, ISO-8601 UTC with milliseconds and
//! `Z` on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now, on the system clock. Code reads a [`Clock`] instead:
/// `clippy.toml` forbids this function, and only the integration tests (which compare answers
/// with the real time) allow it.
pub fn now_ms() -> i64 {
    SystemClock.now_ms()
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

/// The wall clock: the one reader of the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // Everything else reads time through a `Clock` (clippy.toml: disallowed-methods).
    #[allow(clippy::disallowed_methods)]
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis()
    }
}

/// The wall clock moved by an adjustable offset: tests make a session's lifetime pass without
/// waiting for it.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl OffsetClock {
    /// Moves this clock forward by `ms` (negative: back).
    pub fn advance(&self, ms: i64) {
        self.offset_ms
            .fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_has_millis_and_z() {
        assert_eq!(super::iso(1_767_092_133_949), "2025-12-30T10:55:33.949Z");
    }
}
