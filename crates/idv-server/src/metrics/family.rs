//! The building blocks: a histogram of fixed buckets, counters by a fixed route and status,
//! and counters by label values seen at run time. Recording is atomics only; the text is made
//! at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Bucket bounds of request latency, in microseconds (1 ms to 10 s).
pub(crate) const LATENCY_US: &[u64] = &[
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Bucket bounds of webhook delivery lag, in microseconds (100 ms to 1 day).
pub(crate) const LAG_US: &[u64] = &[
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    15_000_000,
    60_000_000,
    300_000_000,
    900_000_000,
    3_600_000_000,
    21_600_000_000,
    86_400_000_000,
];

/// A histogram in seconds with fixed bucket bounds.
pub(crate) struct Histogram {
    bounds: &'static [u64],
    /// One per bound, and one past the last (`+Inf`); not cumulative.
    counts: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [u64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = self.bounds.partition_point(|b| *b < us);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// `name_bucket`, `name_sum` and `name_count` lines; `labels` is `a="x",b="y"` or empty.
    pub(crate) fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut total = 0;
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Relaxed);
            let le = match self.bounds.get(i) {
                Some(b) => seconds(*b),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {total}");
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            seconds(self.sum_us.load(Relaxed))
        );
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Microseconds as seconds, without trailing zeros.
fn seconds(us: u64) -> String {
    let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// How many different statuses one route keeps apart; later ones count as `other`.
const STATUS_SLOTS: usize = 16;

/// One route's requests by status, and their latency.
pub(crate) struct RouteStats {
    pub(crate) method: &'static str,
    pub(crate) route: &'static str,
    /// `(status, count)`; a slot is taken by the first status that needs it (0: free).
    statuses: [(AtomicU16, AtomicU64); STATUS_SLOTS],
    other: AtomicU64,
    latency: Histogram,
}

impl RouteStats {
    pub(crate) fn new(method: &'static str, route: &'static str) -> Self {
        RouteStats {
            method,
            route,
            statuses: std::array::from_fn(|_| (AtomicU16::new(0), AtomicU64::new(0))),
            other: AtomicU64::new(0),
            latency: Histogram::new(LATENCY_US),
        }
    }

    /// One answer: a few atomic operations, no lock, no allocation.
    pub(crate) fn record(&self, status: u16, took: Duration) {
        self.latency.observe(took);
        for (code, count) in &self.statuses {
            let mut seen = code.load(Relaxed);
            if seen == 0 {
                seen = match code.compare_exchange(0, status, Relaxed, Relaxed) {
                    Ok(_) => status,
                    Err(now) => now,
                };
            }
            if seen == status {
                count.fetch_add(1, Relaxed);
                return;
            }
        }
        self.other.fetch_add(1, Relaxed);
    }

    /// Its lines of `requests` (a counter) and `duration` (a histogram).
    pub(crate) fn write(&self, requests: &mut String, duration: &mut String) {
        let (m, r) = (self.method, escape(self.route));
        for (code, count) in &self.statuses {
            let code = code.load(Relaxed);
            if code == 0 {
                break;
            }
            let _ = writeln!(
                requests,
                "idv_api_http_request_total{{method=\"{m}\",route=\"{r}\",status=\"{code}\"}} {}",
                count.load(Relaxed)
            );
        }
        let other = self.other.load(Relaxed);
        if other > 0 {
            let _ = writeln!(
                requests,
                "idv_api_http_request_total{{method=\"{m}\",route=\"{r}\",status=\"other\"}} {other}"
            );
        }
        if self.latency.counts.iter().any(|c| c.load(Relaxed) > 0) {
            self.latency.write(
                duration,
                "idv_api_http_duration",
                &format!("method=\"{m}\",route=\"{r}\""),
            );
        }
    }
}

/// Counters by label values known only at run time (workflow ids, job names). An increment
/// takes a read lock (a write lock the first time a label set is seen): for events far rarer
/// than requests.
#[derive(Default)]
pub(crate) struct Family {
    by_labels: RwLock<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Family {
    /// Adds one to the counter of these `(name, value)` labels.
    pub(crate) fn inc(&self, labels: &[(&str, &str)]) {
        let key = label_text(labels);
        if let Some(c) = self.by_labels.read().expect("metrics").get(&key) {
            c.fetch_add(1, Relaxed);
            return;
        }
        self.by_labels
            .write()
            .expect("metrics")
            .entry(key)
            .or_default()
            .fetch_add(1, Relaxed);
    }

    /// One line per label set.
    pub(crate) fn write(&self, out: &mut String, name: &str) {
        for (labels, c) in self.by_labels.read().expect("metrics").iter() {
            let _ = writeln!(out, "{name}{{{labels}}} {}", c.load(Relaxed));
        }
    }
}

/// `a="x",b="y"`, values escaped.
pub(crate) fn label_text(labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape(v));
    }
    out
}

/// A label value as the text format needs it: `\`, `"` and newlines escaped.
pub(crate) fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(LATENCY_US);
        h.observe(Duration::from_micros(800));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.write(&mut out, "x", "route=\"/a\"");
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"0.005\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"10\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_sum{route=\"/a\"} 60.0038\n"), "{out}");
        assert!(out.contains("x_count{route=\"/a\"} 3\n"), "{out}");
    }

    #[test]
    fn statuses_take_slots_and_overflow_to_other() {
        let r = RouteStats::new("GET", "/api/x");
        for s in 200..200 + STATUS_SLOTS as u16 + 2 {
            r.record(s, Duration::ZERO);
        }
        r.record(200, Duration::ZERO);
        let (mut a, mut b) = (String::new(), String::new());
        r.write(&mut a, &mut b);
        assert!(a.contains("status=\"200\"} 2\n"), "{a}");
        assert!(a.contains("status=\"other\"} 2\n"), "{a}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_text(&[("a", "x\"y\\z\nw"), ("b", "1")]),
            "a=\"x\\\"y\\\\z\\nw\",b=\"1\""
        );
    }
}
