//! Splitting the lines of each format into fields (Doc 9303 Parts 4 to 7).

use chrono::NaiveDate;

use crate::check::{check_digit, is_mrz_char};
use crate::{Check, CheckField, Format, Mrz, MrzError, Sex, dates};

/// Parses an MRZ typed or pasted as printed.
///
/// The text is split on newlines; whitespace around the text and around each line is trimmed
/// and blank lines are skipped. The format is chosen by the number of lines and their length
/// (a 2-line MRZ starting with `V` is a visa). Two-digit years are resolved against `today`:
/// a birth date to the latest date not after `today`, an expiry date to `today`'s century
/// unless that is more than 50 years ahead.
///
/// Wrong check digits are not errors: they are reported in [`Mrz::checks`]. Errors are for
/// text that is not an MRZ at all: empty, no known format, a character outside `A-Z0-9<`,
/// letters in a date, an unknown sex.
pub fn parse(text: &str, today: NaiveDate) -> Result<Mrz, MrzError> {
    let lines: Vec<String> = text
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    parse_lines(lines, today)
}

/// Parses lines already split (and trimmed).
pub(crate) fn parse_lines(lines: Vec<String>, today: NaiveDate) -> Result<Mrz, MrzError> {
    let format = detect(&lines)?;
    for (i, line) in lines.iter().enumerate() {
        if let Some((j, c)) = line.chars().enumerate().find(|(_, c)| !is_mrz_char(*c)) {
            return Err(MrzError::BadCharacter {
                line: i + 1,
                column: j + 1,
                found: c,
            });
        }
    }
    // From here on every line is ASCII, so byte slices are character slices.
    match format {
        Format::Td1 => td1(lines, today),
        _ => two_lines(format, lines, today),
    }
}

/// The format of these lines, by their count and length.
pub(crate) fn detect(lines: &[String]) -> Result<Format, MrzError> {
    if lines.is_empty() {
        return Err(MrzError::Empty);
    }
    let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    let all = |n: usize| lengths.iter().all(|&l| l == n);
    let visa = lines[0].starts_with('V');
    match lines.len() {
        3 if all(30) => Ok(Format::Td1),
        2 if all(44) => Ok(if visa { Format::MrvA } else { Format::Td3 }),
        2 if all(36) => Ok(if visa { Format::MrvB } else { Format::Td2 }),
        n => Err(MrzError::UnknownFormat { lines: n, lengths }),
    }
}

/// Columns `from` to `to` of a line, counted from 1 and inclusive as in Doc 9303.
pub(crate) fn cols(line: &str, from: usize, to: usize) -> &str {
    &line[from - 1..to]
}

/// The character at column `col` (from 1).
fn at(line: &str, col: usize) -> char {
    char::from(line.as_bytes()[col - 1])
}

/// A field without its trailing fillers.
fn text(field: &str) -> String {
    field.trim_end_matches('<').to_string()
}

/// A check digit over `data`, printed as `expected`. With `empty_filler`, a `<` is accepted in
/// place of the digit when the data is all fillers.
fn check(field: CheckField, data: &str, expected: char, empty_filler: bool) -> Check {
    let computed = check_digit(data).unwrap_or('?');
    let valid = expected == computed
        || (empty_filler && expected == '<' && data.bytes().all(|b| b == b'<'));
    Check {
        field,
        expected,
        computed,
        valid,
    }
}

/// The primary and secondary identifiers of a name field: `<<` separates them, `<` separates
/// name parts (turned into spaces), trailing fillers are dropped.
pub(crate) fn names(field: &str) -> (String, String) {
    let t = field.trim_end_matches('<');
    let (primary, secondary) = match t.find("<<") {
        Some(i) => (&t[..i], &t[i + 2..]),
        None => (t, ""),
    };
    let words = |s: &str| {
        s.split('<')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (words(primary), words(secondary))
}

/// A date field: six digits or fillers (`<` for an unknown part), else an error.
fn date_field(
    field: &'static str,
    line: &str,
    line_no: usize,
    col: usize,
) -> Result<String, MrzError> {
    let value = cols(line, col, col + 5);
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'<') {
        Ok(value.to_string())
    } else {
        Err(MrzError::BadDate {
            field,
            line: line_no,
            column: col,
            value: value.to_string(),
        })
    }
}

fn sex(line: &str, line_no: usize, col: usize) -> Result<Sex, MrzError> {
    let c = at(line, col);
    Sex::from_mrz(c).ok_or(MrzError::BadSex {
        line: line_no,
        column: col,
        found: c,
    })
}

/// A document number with the long-number rule of TD1 and TD2: when the check digit position
/// holds `<`, the number continues in the optional data and its check digit follows it.
/// Returns the number as checked, its check, and the optional data left.
fn document_number(number: &str, cd: char, optional: &str) -> (String, Check, String) {
    let rest = optional.trim_end_matches('<');
    if cd == '<' && rest.len() >= 2 {
        let (continuation, last) = rest.split_at(rest.len() - 1);
        let full = format!("{number}{continuation}");
        let last = last.chars().next().unwrap_or('<');
        let c = check(CheckField::DocumentNumber, &full, last, false);
        (full, c, String::new())
    } else {
        let c = check(CheckField::DocumentNumber, number, cd, false);
        (number.to_string(), c, text(optional))
    }
}

fn td1(lines: Vec<String>, today: NaiveDate) -> Result<Mrz, MrzError> {
    let (l1, l2, l3) = (&lines[0], &lines[1], &lines[2]);
    let birth_raw = date_field("birth date", l2, 2, 1)?;
    let sex = sex(l2, 2, 8)?;
    let expiry_raw = date_field("expiry date", l2, 2, 9)?;
    let (number, number_check, optional) =
        document_number(cols(l1, 6, 14), at(l1, 15), cols(l1, 16, 30));
    let composite_data = format!(
        "{}{}{}{}",
        cols(l1, 6, 30),
        cols(l2, 1, 7),
        cols(l2, 9, 15),
        cols(l2, 19, 29)
    );
    let checks = vec![
        number_check,
        check(CheckField::BirthDate, &birth_raw, at(l2, 7), false),
        check(CheckField::ExpiryDate, &expiry_raw, at(l2, 15), false),
        check(CheckField::Composite, &composite_data, at(l2, 30), false),
    ];
    let (surname, given_names) = names(l3);
    Ok(Mrz {
        format: Format::Td1,
        document_code: text(cols(l1, 1, 2)),
        issuing_state: text(cols(l1, 3, 5)),
        surname,
        given_names,
        document_number: text(&number),
        nationality: text(cols(l2, 16, 18)),
        birth_date: dates::birth(&birth_raw, today),
        birth_date_raw: birth_raw,
        sex,
        expiry_date: dates::expiry(&expiry_raw, today),
        expiry_date_raw: expiry_raw,
        optional_data: optional,
        optional_data_2: text(cols(l2, 19, 29)),
        checks,
        lines,
    })
}

/// TD2, TD3, MRV-A and MRV-B: the name on line 1, the same fields in columns 1–28 of line 2,
/// then optional data and (TD2, TD3) check digits.
fn two_lines(format: Format, lines: Vec<String>, today: NaiveDate) -> Result<Mrz, MrzError> {
    let (l1, l2) = (&lines[0], &lines[1]);
    let len = format.line_length();
    let birth_raw = date_field("birth date", l2, 2, 14)?;
    let sex = sex(l2, 2, 21)?;
    let expiry_raw = date_field("expiry date", l2, 2, 22)?;
    let birth_check = check(CheckField::BirthDate, &birth_raw, at(l2, 20), false);
    let expiry_check = check(CheckField::ExpiryDate, &expiry_raw, at(l2, 28), false);
    let (number, optional, checks) = match format {
        Format::Td3 => {
            let personal = cols(l2, 29, 42);
            let composite_data = format!(
                "{}{}{}",
                cols(l2, 1, 10),
                cols(l2, 14, 20),
                cols(l2, 22, 43)
            );
            let checks = vec![
                check(
                    CheckField::DocumentNumber,
                    cols(l2, 1, 9),
                    at(l2, 10),
                    false,
                ),
                birth_check,
                expiry_check,
                check(CheckField::OptionalData, personal, at(l2, 43), true),
                check(CheckField::Composite, &composite_data, at(l2, 44), false),
            ];
            (cols(l2, 1, 9).to_string(), text(personal), checks)
        }
        Format::Td2 => {
            let (number, number_check, optional) =
                document_number(cols(l2, 1, 9), at(l2, 10), cols(l2, 29, 35));
            let composite_data = format!(
                "{}{}{}",
                cols(l2, 1, 10),
                cols(l2, 14, 20),
                cols(l2, 22, 35)
            );
            let checks = vec![
                number_check,
                birth_check,
                expiry_check,
                check(CheckField::Composite, &composite_data, at(l2, 36), false),
            ];
            (number, optional, checks)
        }
        _ => {
            let checks = vec![
                check(
                    CheckField::DocumentNumber,
                    cols(l2, 1, 9),
                    at(l2, 10),
                    false,
                ),
                birth_check,
                expiry_check,
            ];
            (cols(l2, 1, 9).to_string(), text(cols(l2, 29, len)), checks)
        }
    };
    let (surname, given_names) = names(cols(l1, 6, len));
    Ok(Mrz {
        format,
        document_code: text(cols(l1, 1, 2)),
        issuing_state: text(cols(l1, 3, 5)),
        surname,
        given_names,
        document_number: text(&number),
        nationality: text(cols(l2, 11, 13)),
        birth_date: dates::birth(&birth_raw, today),
        birth_date_raw: birth_raw,
        sex,
        expiry_date: dates::expiry(&expiry_raw, today),
        expiry_date_raw: expiry_raw,
        optional_data: optional,
        optional_data_2: String::new(),
        checks,
        lines,
    })
}
