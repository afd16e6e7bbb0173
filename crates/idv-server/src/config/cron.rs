//! Cron expressions, the type of `services.scheduler.jobs.<name>.cron`: six fields with
//! seconds first (`*/15 * * * * *`), or five with minutes first and the seconds 0
//! (`*/5 * * * *`). Each field is a list (`a,b`) of `*`, `*/n`, `a-b`, `a-b/n`, `a/n` (from
//! `a` to the field's end) or a number; nothing else. Times are UTC. [`Cron::next_after`] is a pure function.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A parsed cron expression: a bit set of the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// The day-of-month field starts with `*`: with a restricted day of week, only that counts
    /// (and the reverse). With both restricted a day matching either fires, as in Unix cron.
    any_day: bool,
    any_weekday: bool,
}

/// Field names, ranges, for messages and parsing.
const FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    // 7 is Sunday too.
    ("day of week", 0, 7),
];

impl Cron {
    /// Parses six fields (seconds first) or five (minutes first, at second 0).
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let six: Vec<&str> = match parts.len() {
            6 => parts,
            5 => std::iter::once("0").chain(parts).collect(),
            n => {
                return Err(format!(
                    "`{expr}` has {n} fields; write 6 (second minute hour day month weekday) \
                     or 5 (minute hour day month weekday)"
                ));
            }
        };
        let mut masks = [0u64; 6];
        for (i, (text, (name, lo, hi))) in six.iter().zip(FIELDS).enumerate() {
            masks[i] =
                field(text, lo, hi).map_err(|e| format!("`{expr}`: {name} field `{text}`: {e}"))?;
        }
        // Sunday is 0 and 7.
        if masks[5] & (1 << 7) != 0 {
            masks[5] = (masks[5] | 1) & !(1 << 7);
        }
        let cron = Cron {
            seconds: masks[0],
            minutes: masks[1],
            hours: masks[2],
            days: masks[3],
            months: masks[4],
            weekdays: masks[5],
            any_day: six[3].starts_with('*'),
            any_weekday: six[5].starts_with('*'),
        };
        if cron
            .next_after(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap())
            .is_none()
        {
            return Err(format!("`{expr}` names a day that never comes"));
        }
        Ok(cron)
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let day = bit(self.days, t.day());
        let weekday = bit(self.weekdays, t.weekday().num_days_from_sunday());
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => weekday,
            (false, true) => day,
            (false, false) => day || weekday,
        }
    }

    /// The first fire time strictly after `t` (whole seconds), or `None` when there is none in
    /// the next eight years (only possible for days like February 30).
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let limit = t + Duration::days(8 * 366);
        let mut c = t.with_nanosecond(0)? + Duration::seconds(1);
        // Every mask is non-empty, so once a day matches, a time on that day does: this loop
        // runs at most a few thousand times.
        while c <= limit {
            if !bit(self.months, c.month()) {
                let (y, m) = if c.month() == 12 {
                    (c.year() + 1, 1)
                } else {
                    (c.year(), c.month() + 1)
                };
                c = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            } else if !self.day_matches(&c) {
                c = Utc.from_utc_datetime(&c.date_naive().and_hms_opt(0, 0, 0)?)
                    + Duration::days(1);
            } else if !bit(self.hours, c.hour()) {
                c = c.with_minute(0)?.with_second(0)? + Duration::hours(1);
            } else if !bit(self.minutes, c.minute()) {
                c = c.with_second(0)? + Duration::minutes(1);
            } else if !bit(self.seconds, c.second()) {
                c += Duration::seconds(1);
            } else {
                return Some(c);
            }
        }
        None
    }
}

fn bit(mask: u64, n: u32) -> bool {
    mask & (1 << n) != 0
}

/// One field: a comma list of `*`, `*/n`, `a-b` and numbers within `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32) -> Result<u64, String> {
    let number = |s: &str| -> Result<u32, String> {
        let n: u32 = s.parse().map_err(|_| {
            format!("`{s}` is not a number (allowed: *, */n, a-b, a-b/n, a/n, a,b, n)")
        })?;
        if n < lo || n > hi {
            return Err(format!("{n} is outside {lo}-{hi}"));
        }
        Ok(n)
    };
    let mut mask = 0u64;
    for item in text.split(',') {
        // `base/step`: every step-th value of the base; a single number as base runs to the
        // field's end (`0/10` in minutes: 0, 10, … 50), as in Regula's own schedules.
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| format!("`{item}`: the step must be a number from 1"))?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let (from, to) = if base == "*" {
            (lo, hi)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("`{item}` runs backwards"));
            }
            (a, b)
        } else {
            let n = number(base)?;
            (n, if step.is_some() { hi } else { n })
        };
        let step = step.unwrap_or(1);
        let mut v = from;
        while v <= to {
            mask |= 1 << v;
            v += step;
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr)
            .unwrap_or_else(|e| panic!("{e}"))
            .next_after(at(after))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    }

    #[test]
    fn regulas_defaults_fire_when_expected() {
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:00Z"),
            "2024-05-01T10:00:15Z"
        );
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:14.900Z"),
            "2024-05-01T10:00:15Z"
        );
        assert_eq!(
            next("*/15 * * * * *", "2024-05-01T10:00:59Z"),
            "2024-05-01T10:01:00Z"
        );
        assert_eq!(
            next("*/10 * * * * *", "2024-12-31T23:59:55Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 3 * * *", "2024-05-01T03:00:00Z"),
            "2024-05-02T03:00:00Z"
        );
        assert_eq!(
            next("0 0 3 * * *", "2024-05-01T02:59:59Z"),
            "2024-05-01T03:00:00Z"
        );
        // Five fields: minutes first, second 0.
        assert_eq!(
            next("*/5 * * * *", "2024-05-01T10:03:20Z"),
            "2024-05-01T10:05:00Z"
        );
        assert_eq!(
            next("* */1 * * *", "2024-05-01T10:03:20Z"),
            "2024-05-01T10:04:00Z"
        );
        assert_eq!(
            next("* * * * * *", "2024-05-01T10:03:20.5Z"),
            "2024-05-01T10:03:21Z"
        );
    }

    #[test]
    fn lists_ranges_days_and_months() {
        assert_eq!(
            next("0 0 9-17 * * *", "2024-05-01T17:30:00Z"),
            "2024-05-02T09:00:00Z"
        );
        assert_eq!(
            next("0 0,30 * * * *", "2024-05-01T10:00:00Z"),
            "2024-05-01T10:30:00Z"
        );
        // 29 February: the next leap year.
        assert_eq!(
            next("0 0 0 29 2 *", "2024-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        // Day of week only: 2024-05-01 is a Wednesday; Sunday is 0 and 7.
        assert_eq!(
            next("0 0 12 * * 0", "2024-05-01T00:00:00Z"),
            "2024-05-05T12:00:00Z"
        );
        assert_eq!(
            next("0 0 12 * * 7", "2024-05-01T00:00:00Z"),
            "2024-05-05T12:00:00Z"
        );
        // Both restricted: either matches (the 3rd, a Friday, comes before the next Monday).
        assert_eq!(
            next("0 0 0 3 * 1", "2024-05-01T00:00:00Z"),
            "2024-05-03T00:00:00Z"
        );
        assert_eq!(
            next("0 0 0 1 1 *", "2024-05-01T00:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("0 0 0 31 * *", "2024-04-01T00:00:00Z"),
            "2024-05-31T00:00:00Z"
        );
    }

    /// Steps from a start or over a range, as Regula's perf-tests config writes them.
    #[test]
    fn steps_from_a_start_or_over_a_range() {
        assert_eq!(
            next("* 0/10 * * * *", "2024-01-01T00:05:00Z"),
            "2024-01-01T00:10:00Z"
        );
        assert_eq!(
            next("0 5/20 * * * *", "2024-01-01T00:26:00Z"),
            "2024-01-01T00:45:00Z"
        );
        assert_eq!(
            next("0 0 1-5/2 * * *", "2024-01-01T01:00:00Z"),
            "2024-01-01T03:00:00Z"
        );
        assert_eq!(
            next("0 0 1-5/2 * * *", "2024-01-01T05:00:00Z"),
            "2024-01-02T01:00:00Z"
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for (bad, why) in [
            ("* * * *", "has 4 fields"),
            ("* * * * * * *", "has 7 fields"),
            ("60 * * * * *", "second field `60`: 60 is outside 0-59"),
            ("* * 24 * * *", "hour field"),
            ("* * * 0 * *", "day of month field `0`"),
            ("* * * * 13 *", "month field"),
            ("*/0 * * * * *", "step must be a number from 1"),
            ("5-1 * * * * *", "runs backwards"),
            ("1-5/0 * * * * *", "step must be a number from 1"),
            ("x/2 * * * * *", "not a number"),
            ("? * * * * *", "not a number"),
            ("* * * * JAN *", "not a number"),
            ("@hourly", "has 1 fields"),
            ("0 0 0 30 2 *", "never comes"),
            ("", "has 0 fields"),
        ] {
            let err = Cron::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn next_is_strictly_later_and_every_second_fires() {
        let c = Cron::parse("* * * * * *").unwrap();
        let t = at("2024-05-01T10:00:00Z");
        assert_eq!(c.next_after(t), Some(at("2024-05-01T10:00:01Z")));
        let c = Cron::parse("*/7 * * * * *").unwrap();
        let times: Vec<u32> = std::iter::successors(c.next_after(t), |t| c.next_after(*t))
            .take(10)
            .map(|t| t.second())
            .collect();
        assert_eq!(times, [7, 14, 21, 28, 35, 42, 49, 56, 0, 7]);
    }
}
