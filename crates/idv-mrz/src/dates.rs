//! Six-digit MRZ dates (YYMMDD) resolved to calendar dates.

use chrono::{Datelike, NaiveDate};

/// Year, month and day numbers of a six-digit date; `None` unless all six are digits.
fn numbers(raw: &str) -> Option<(i32, u32, u32)> {
    if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| raw[r].parse::<u32>().ok();
    Some((i32::try_from(n(0..2)?).ok()?, n(2..4)?, n(4..6)?))
}

/// The first year of `today`'s century (2000 for 2026).
fn century(today: NaiveDate) -> i32 {
    today.year() - today.year().rem_euclid(100)
}

/// A date of birth: the latest date with these two year digits that is not after `today`.
/// `None` when the date does not exist (month 13, 30 February…).
pub(crate) fn birth(raw: &str, today: NaiveDate) -> Option<NaiveDate> {
    let (yy, month, day) = numbers(raw)?;
    let mut year = century(today) + yy;
    if (year, month, day) > (today.year(), today.month(), today.day()) {
        year -= 100;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A date of expiry: in `today`'s century unless that puts it more than 50 years after
/// `today` (then the century before) or more than 50 years before (then the century after).
pub(crate) fn expiry(raw: &str, today: NaiveDate) -> Option<NaiveDate> {
    let (yy, month, day) = numbers(raw)?;
    let mut year = century(today) + yy;
    if year > today.year() + 50 {
        year -= 100;
    } else if year < today.year() - 50 {
        year += 100;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn birth_is_never_after_today() {
        let today = d(2026, 12, 6);
        assert_eq!(birth("740812", today), Some(d(1974, 8, 12)));
        assert_eq!(birth("261206", today), Some(d(2026, 12, 6)));
        assert_eq!(birth("261207", today), Some(d(1926, 12, 7)));
        assert_eq!(birth("000229", today), Some(d(2000, 2, 29)));
        assert_eq!(birth("991231", d(2000, 1, 1)), Some(d(1999, 12, 31)));
        assert_eq!(birth("000101", d(2000, 1, 1)), Some(d(2000, 1, 1)));
    }

    #[test]
    fn expiry_stays_within_fifty_years() {
        let today = d(2026, 12, 6);
        assert_eq!(expiry("120415", today), Some(d(2012, 4, 15)));
        assert_eq!(expiry("760101", today), Some(d(2076, 1, 1)));
        assert_eq!(expiry("770101", today), Some(d(1977, 1, 1)));
        assert_eq!(expiry("050101", d(2080, 6, 1)), Some(d(2105, 1, 1)));
    }

    #[test]
    fn impossible_dates_are_none() {
        let today = d(2026, 12, 6);
        assert_eq!(birth("991340", today), None);
        assert_eq!(expiry("991340", today), None);
        assert_eq!(birth("990230", today), None);
        assert_eq!(birth("990001", today), None);
        assert_eq!(birth("99<<<<", today), None);
        assert_eq!(expiry("2502", today), None);
    }
}
