//! When a failed webhook delivery is tried again, and when it is given up.
//!
//! A delivery that fails is retried with exponential backoff (5 s, 10 s, 20 s … up to 12 h;
//! the first wait is `services.webhooks.retryBase`) spread by random jitter, so that many deliveries that failed together do not all come back
//! at the same moment. A receiver's `Retry-After` is honoured when it asks for longer (up to a
//! day). After [`idv_store::DELIVERY_WINDOW_MS`] a delivery has failed for good; an endpoint that has failed
//! for [`DISABLE_AFTER_FAILING_MS`] is disabled, and so is one that answers 410 Gone.
//!
//! Everything here is pure: the caller passes the clock and the random number, so the tests
//! are deterministic.

use chrono::{DateTime, NaiveDateTime};

/// The longest wait backoff alone leads to (before jitter).
pub(crate) const MAX_BACKOFF_MS: i64 = 12 * 60 * 60 * 1000;
// `services.webhooks.retryBase` is accepted up to the longest backoff.
const _: () = assert!(MAX_BACKOFF_MS as u64 == crate::config::webhooks::MAX_RETRY_BASE_MS);
/// The longest wait a receiver's `Retry-After` is followed to.
pub(crate) const MAX_RETRY_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// An endpoint whose deliveries have failed for this long without one success is disabled.
pub(crate) const DISABLE_AFTER_FAILING_MS: i64 = 24 * 60 * 60 * 1000;

/// The wait in ms after failed attempt number `attempt` (1 for the first): `base_ms` (`services.webhooks.retryBase`,
/// 5 s by default) doubling with each attempt, capped at
/// [`MAX_BACKOFF_MS`], then multiplied by a jitter factor in [0.75, 1.25) drawn from `rand01` (a
/// uniform number in [0, 1)). A base below 1 ms counts as 1 ms.
pub(crate) fn backoff_ms(base_ms: i64, attempt: u32, rand01: f64) -> i64 {
    // 2^30 × the base is far past the cap already; stopping there keeps the shift in range,
    // and the multiplication saturates for a huge base.
    let doublings = attempt.saturating_sub(1).min(30);
    let base = base_ms
        .max(1)
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS);
    // In whole ms: 0.75 × base (rounded up) plus a share of the half-base span below its end,
    // so the factor stays in [0.75, 1.25) whatever floating-point rounding or a number outside
    // [0, 1) (or NaN) would do. For a base that is a multiple of 4 (the default and the cap)
    // both parts are exact.
    let r = if rand01.is_nan() {
        0.5
    } else {
        rand01.clamp(0.0, 1.0)
    };
    let span = base / 2;
    if span == 0 {
        // A 1 ms wait has nothing to spread.
        return base;
    }
    base - base / 4 + ((span as f64 * r).floor() as i64).min(span - 1)
}

/// The delay in ms an HTTP `Retry-After` value asks for: delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, or the two obsolete forms RFC 9110 still asks recipients
/// to accept). A date in the past is no delay; a value that is neither form is `None`.
pub(crate) fn retry_after_ms(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time", not garbage.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        let ms = seconds.saturating_mul(1000).min(i64::MAX as u64);
        return Some(ms as i64);
    }
    let at_ms = http_date_ms(value)?;
    Some(at_ms.saturating_sub(now_ms).max(0))
}

/// An HTTP-date in ms since the epoch.
fn http_date_ms(value: &str) -> Option<i64> {
    // IMF-fixdate, the form servers send: `Sun, 06 Nov 1994 08:49:37 GMT`.
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.timestamp_millis());
    }
    // The obsolete RFC 850 form `Sunday, 06-Nov-94 08:49:37 GMT` and the asctime form
    // `Sun Nov  6 08:49:37 1994`, both in GMT.
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|at| at.and_utc().timestamp_millis())
}

/// What a delivery attempt's HTTP status means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the receiver has the message.
    Delivered,
    /// Anything else but 410: try again later.
    Retry,
    /// 410 Gone: the receiver wants no more messages; the endpoint is disabled.
    Gone,
}

/// The [`Verdict`] for a response status.
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        _ => Verdict::Retry,
    }
}

/// When to try again after failed attempt number `attempt`, at `now_ms`: after the backoff
/// from `base_ms` (see [`backoff_ms`]) or after the receiver's `Retry-After` delay
/// (`retry_after`, in ms, at most [`MAX_RETRY_AFTER_MS`]), whichever is later. `None` when that
/// time is past `deadline_ms` (normally the time the delivery was first due plus
/// [`idv_store::DELIVERY_WINDOW_MS`]): the delivery has failed for good.
pub(crate) fn next_attempt_at(
    now_ms: i64,
    base_ms: i64,
    attempt: u32,
    retry_after: Option<i64>,
    deadline_ms: i64,
    rand01: f64,
) -> Option<i64> {
    let backoff = backoff_ms(base_ms, attempt, rand01);
    let asked = retry_after.map_or(0, |ms| ms.clamp(0, MAX_RETRY_AFTER_MS));
    let at = now_ms.saturating_add(backoff.max(asked));
    (at <= deadline_ms).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: i64 = 1000;
    const HOUR: i64 = 3600 * SECOND;
    /// The default `services.webhooks.retryBase`.
    const B: i64 = 5_000;

    #[test]
    fn the_default_retry_base_is_five_seconds() {
        assert_eq!(
            crate::config::webhooks::WebhooksConfig::default().retry_base_ms(),
            B
        );
    }

    #[test]
    fn backoff_doubles_from_five_seconds_without_jitter() {
        // rand01 = 0.5 is the factor 1.0.
        let waits: Vec<i64> = (1..=5).map(|a| backoff_ms(B, a, 0.5)).collect();
        assert_eq!(
            waits,
            [
                5 * SECOND,
                10 * SECOND,
                20 * SECOND,
                40 * SECOND,
                80 * SECOND
            ]
        );
        // Attempt 0 (nothing tried yet) waits as long as the first retry.
        assert_eq!(backoff_ms(B, 0, 0.5), 5 * SECOND);
    }

    #[test]
    fn backoff_is_capped_at_twelve_hours() {
        // 5 s × 2^13 = 11.4 h is still under the cap; the next doubling is not.
        assert_eq!(backoff_ms(B, 14, 0.5), 5 * SECOND * (1 << 13));
        assert_eq!(backoff_ms(B, 15, 0.5), 12 * HOUR);
        assert_eq!(backoff_ms(B, u32::MAX, 0.5), 12 * HOUR);
        assert_eq!(backoff_ms(B, u32::MAX, 0.0), 9 * HOUR);
        assert!(backoff_ms(B, u32::MAX, 0.999_999) < 15 * HOUR);
    }

    #[test]
    fn jitter_ends_are_exact_and_bad_numbers_stay_inside() {
        assert_eq!(backoff_ms(B, 1, 0.0), 3750);
        assert_eq!(backoff_ms(B, 1, 0.999_999_999), 6249);
        assert_eq!(backoff_ms(B, 1, 1.0), 6249);
        assert_eq!(backoff_ms(B, 1, -3.0), 3750);
        assert_eq!(backoff_ms(B, 1, 7.0), 6249);
        assert_eq!(backoff_ms(B, 1, f64::NAN), 5000);
    }

    #[test]
    fn backoff_scales_with_its_base() {
        // A small base (tests, `retryBase: 100`) doubles the same way.
        let waits: Vec<i64> = (1..=4).map(|a| backoff_ms(100, a, 0.5)).collect();
        assert_eq!(waits, [100, 200, 400, 800]);
        assert_eq!(backoff_ms(100, 1, 0.0), 75);
        assert_eq!(backoff_ms(100, 1, 0.999), 124);
        // Below 1 ms counts as 1 ms; 1 ms has no jitter.
        assert_eq!(backoff_ms(0, 1, 0.9), 1);
        assert_eq!(backoff_ms(-5, 3, 0.0), 3);
        // A huge base is capped, never overflowed.
        assert_eq!(backoff_ms(i64::MAX, 40, 0.5), MAX_BACKOFF_MS);
    }

    proptest! {
        #[test]
        fn backoff_stays_within_its_jitter_bounds(attempt in 0u32..200, r in 0.0f64..1.0) {
            let base = backoff_ms(B, attempt, 0.5);
            let wait = backoff_ms(B, attempt, r);
            prop_assert!(wait as f64 >= (base as f64 * 0.75).floor());
            prop_assert!((wait as f64) < base as f64 * 1.25);
            prop_assert!(wait <= MAX_BACKOFF_MS * 5 / 4);
        }

        #[test]
        fn any_base_keeps_the_jitter_factor(base in 1i64..100_000, attempt in 1u32..40, r in 0.0f64..1.0) {
            let exact = base.saturating_mul(1 << (attempt - 1).min(30)).min(MAX_BACKOFF_MS);
            let wait = backoff_ms(base, attempt, r);
            prop_assert!(wait as f64 >= exact as f64 * 0.75);
            prop_assert!(wait as f64 <= exact as f64 * 1.25);
            prop_assert!(wait >= 1);
        }

        #[test]
        fn backoff_never_shrinks_as_attempts_grow(attempt in 0u32..200, r in 0.0f64..1.0) {
            prop_assert!(backoff_ms(B, attempt + 1, r) >= backoff_ms(B, attempt, r));
        }

        #[test]
        fn next_attempt_is_never_before_backoff_or_retry_after(
            now in 0i64..4_000_000_000_000,
            attempt in 1u32..40,
            asked in proptest::option::of(-10_000i64..200_000_000),
            r in 0.0f64..1.0,
        ) {
            let far = i64::MAX;
            let at = next_attempt_at(now, B, attempt, asked, far, r).unwrap();
            prop_assert!(at >= now + backoff_ms(B, attempt, r));
            if let Some(ms) = asked {
                prop_assert!(at >= now + ms.min(MAX_RETRY_AFTER_MS));
            }
            prop_assert!(at <= now + MAX_RETRY_AFTER_MS.max(backoff_ms(B, attempt, r)));
        }
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(retry_after_ms("120", 0), Some(120 * SECOND));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        assert_eq!(
            retry_after_ms("99999999999999999999999", 0),
            Some(i64::MAX),
            "a huge number is a long wait, capped later"
        );
        for bad in ["", "-5", "1.5", "soon", "12 s", "+3"] {
            assert_eq!(retry_after_ms(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_dates() {
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 s after the epoch.
        let at = 1_445_412_480 * SECOND;
        let now = at - 90 * SECOND;
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(90 * SECOND)
        );
        assert_eq!(
            retry_after_ms("Wednesday, 21-Oct-15 07:28:00 GMT", now),
            Some(90 * SECOND)
        );
        assert_eq!(
            retry_after_ms("Wed Oct 21 07:28:00 2015", now),
            Some(90 * SECOND)
        );
        assert_eq!(
            retry_after_ms("Sun Nov  6 08:49:37 1994", 784_111_777 * SECOND - 1),
            Some(1)
        );
        // A date already past is no delay, never a negative one.
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", at + HOUR),
            Some(0)
        );
        assert_eq!(retry_after_ms("Wed, 32 Oct 2015 07:28:00 GMT", now), None);
        assert_eq!(retry_after_ms("21 October 2015", now), None);
    }

    #[test]
    fn verdicts() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(verdict(s), Verdict::Delivered, "{s}");
        }
        assert_eq!(verdict(410), Verdict::Gone);
        for s in [100, 199, 300, 301, 400, 401, 404, 408, 429, 500, 502, 503] {
            assert_eq!(verdict(s), Verdict::Retry, "{s}");
        }
    }

    #[test]
    fn next_attempt_takes_the_later_of_backoff_and_retry_after() {
        let now = 1_000_000;
        let far = now + idv_store::DELIVERY_WINDOW_MS;
        // No Retry-After: the backoff.
        assert_eq!(
            next_attempt_at(now, B, 2, None, far, 0.5),
            Some(now + 10 * SECOND)
        );
        // A shorter Retry-After does not shorten the backoff.
        assert_eq!(
            next_attempt_at(now, B, 2, Some(SECOND), far, 0.5),
            Some(now + 10 * SECOND)
        );
        // A longer one is followed as given.
        assert_eq!(
            next_attempt_at(now, B, 2, Some(7 * HOUR), far, 0.5),
            Some(now + 7 * HOUR)
        );
        // But no further than a day.
        assert_eq!(
            next_attempt_at(now, B, 2, Some(30 * 24 * HOUR), far, 0.5),
            Some(now + 24 * HOUR)
        );
        assert_eq!(
            next_attempt_at(now, B, 2, Some(-HOUR), far, 0.5),
            Some(now + 10 * SECOND)
        );
    }

    #[test]
    fn next_attempt_gives_up_past_the_deadline() {
        let now = 5_000_000;
        let wait = 10 * SECOND;
        assert_eq!(
            next_attempt_at(now, B, 2, None, now + wait, 0.5),
            Some(now + wait)
        );
        assert_eq!(next_attempt_at(now, B, 2, None, now + wait - 1, 0.5), None);
        assert_eq!(
            next_attempt_at(now, B, 2, Some(2 * HOUR), now + HOUR, 0.5),
            None
        );
    }

    #[test]
    fn a_delivery_is_tried_nineteen_times_over_three_days() {
        // Without jitter, from the first failure on: 14 growing waits add up to ~22.8 h, then
        // the capped wait gives a try every 12 h (at ~34.8, 46.8, 58.8 and 70.8 h) until the
        // next would fall past the 3-day window.
        let start = 0;
        let deadline = start + idv_store::DELIVERY_WINDOW_MS;
        let (mut now, mut attempt) = (start, 1);
        while let Some(at) = next_attempt_at(now, B, attempt, None, deadline, 0.5) {
            now = at;
            attempt += 1;
        }
        assert_eq!(attempt, 19);
        assert!(now > deadline - 12 * HOUR && now <= deadline);
    }

    #[test]
    fn constants() {
        assert_eq!(idv_store::DELIVERY_WINDOW_MS, 72 * HOUR);
        assert_eq!(DISABLE_AFTER_FAILING_MS, 24 * HOUR);
    }
}
