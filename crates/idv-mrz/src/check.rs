//! The character set and check digits (Doc 9303 Part 3, section 4.9).

/// The value of an MRZ character in a check digit: `0`–`9` are 0–9, `A`–`Z` are 10–35 and the
/// filler `<` is 0; `None` for any other character.
pub(crate) fn char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '<' => Some(0),
        _ => None,
    }
}

/// Whether `c` belongs to the MRZ character set `A-Z0-9<`.
pub(crate) fn is_mrz_char(c: char) -> bool {
    char_value(c).is_some()
}

/// The check digit of `field`: the sum of its character values weighted 7, 3, 1, 7, 3, 1, …
/// modulo 10, as a character `'0'`–`'9'`. `None` when the field holds a character outside
/// `A-Z0-9<`.
///
/// ```
/// assert_eq!(idv_mrz::check_digit("L898902C3"), Some('6'));
/// assert_eq!(idv_mrz::check_digit("740812"), Some('2'));
/// assert_eq!(idv_mrz::check_digit("l898902c3"), None);
/// ```
pub fn check_digit(field: &str) -> Option<char> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        sum += char_value(c)? * WEIGHTS[i % 3];
    }
    char::from_digit(sum % 10, 10)
}
