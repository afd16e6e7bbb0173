//! Session statuses: Regula's integers and the names workflow files use for them.

/// The statuses a session can have. The integers are Regula's and are what the API returns.
pub const NOT_COMPLETED: i64 = 0;
pub const NOT_VERIFIED: i64 = 1;
pub const VERIFIED: i64 = 2;
pub(crate) const APPROVED: i64 = 3;
pub(crate) const PENDING: i64 = 4;
pub(crate) const REJECTED: i64 = 1000;

const NAMES: &[(&str, i64)] = &[
    ("not_completed", NOT_COMPLETED),
    ("not_verified", NOT_VERIFIED),
    ("verified", VERIFIED),
    ("approved", APPROVED),
    ("pending", PENDING),
    ("rejected", REJECTED),
];

/// Every status integer, in Regula's order.
pub const ALL: [i64; 6] = [
    NOT_COMPLETED,
    NOT_VERIFIED,
    VERIFIED,
    APPROVED,
    PENDING,
    REJECTED,
];

/// True when `status` is one of Regula's status integers.
pub fn is_known(status: i64) -> bool {
    ALL.contains(&status)
}

/// Parses a status name (case-insensitive, `NOT_VERIFIED` or `not_verified`) or its integer.
pub fn parse(name: &str) -> Option<i64> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some((_, v)) = NAMES.iter().find(|(n, _)| *n == lower) {
        return Some(*v);
    }
    lower
        .parse::<i64>()
        .ok()
        .filter(|v| NAMES.iter().any(|(_, n)| n == v))
}

/// The lower-case name of a status integer.
pub fn name(status: i64) -> Option<&'static str> {
    NAMES.iter().find(|(_, v)| *v == status).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_regula_integers() {
        assert_eq!(parse("NOT_VERIFIED"), Some(1));
        assert_eq!(parse("not_completed"), Some(0));
        assert_eq!(parse("Verified"), Some(2));
        assert_eq!(parse("REJECTED"), Some(1000));
        assert_eq!(parse("1000"), Some(1000));
        assert_eq!(parse("5"), None);
        assert_eq!(parse("done"), None);
        assert_eq!(name(4), Some("pending"));
        assert!(is_known(1000) && is_known(0));
        assert!(!is_known(5) && !is_known(-1));
    }
}
