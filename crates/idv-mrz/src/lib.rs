//! Machine readable zones (MRZ) of travel documents, after ICAO Doc 9303 (Parts 3 to 7).
//!
//! [`parse`] reads an MRZ typed or pasted exactly as printed; [`read_ocr`] reads the lines an
//! OCR engine returned, cleaning up the usual misreadings first. Both give an [`Mrz`]: its fields,
//! its dates resolved against a given day, and the result of every check digit.
//!
//! Layouts:
//!
//! | Format | Lines | Document | Composite check digit |
//! |--------|-------|----------|-----------------------|
//! | TD1    | 3 × 30 | identity cards (Part 5) | yes |
//! | TD2    | 2 × 36 | identity cards (Part 6) | yes |
//! | TD3    | 2 × 44 | passports (Part 4) | yes |
//! | MRV-A  | 2 × 44 | visas (Part 7) | no |
//! | MRV-B  | 2 × 36 | visas (Part 7) | no |
//!
//! The format is chosen by the number of lines and their length; a 2-line MRZ whose first
//! character is `V` is a visa.

mod check;
mod dates;
mod json;
mod ocr;
mod parse;

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

pub use check::check_digit;
pub use ocr::read_ocr;
pub use parse::parse;

/// The layout of a machine readable zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// 3 lines of 30 characters (identity cards, Doc 9303 Part 5).
    #[serde(rename = "TD1")]
    Td1,
    /// 2 lines of 36 characters (identity cards, Part 6).
    #[serde(rename = "TD2")]
    Td2,
    /// 2 lines of 44 characters (passports, Part 4).
    #[serde(rename = "TD3")]
    Td3,
    /// 2 lines of 44 characters, first character `V` (visas, Part 7).
    #[serde(rename = "MRV-A")]
    MrvA,
    /// 2 lines of 36 characters, first character `V` (visas, Part 7).
    #[serde(rename = "MRV-B")]
    MrvB,
}

impl Format {
    /// The name used in Doc 9303: `TD1`, `TD2`, `TD3`, `MRV-A` or `MRV-B`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Td1 => "TD1",
            Format::Td2 => "TD2",
            Format::Td3 => "TD3",
            Format::MrvA => "MRV-A",
            Format::MrvB => "MRV-B",
        }
    }

    /// How many lines the MRZ has.
    pub fn line_count(self) -> usize {
        match self {
            Format::Td1 => 3,
            _ => 2,
        }
    }

    /// How many characters each line has.
    pub fn line_length(self) -> usize {
        match self {
            Format::Td1 => 30,
            Format::Td2 | Format::MrvB => 36,
            Format::Td3 | Format::MrvA => 44,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The holder's sex as printed in the MRZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `<` or `X`.
    Unspecified,
}

impl Sex {
    /// `M`, `F` or `X` (unspecified).
    pub fn code(self) -> char {
        match self {
            Sex::Male => 'M',
            Sex::Female => 'F',
            Sex::Unspecified => 'X',
        }
    }

    /// The sex an MRZ character stands for: `M`, `F`, or `<`/`X` for unspecified.
    pub fn from_mrz(c: char) -> Option<Sex> {
        match c {
            'M' => Some(Sex::Male),
            'F' => Some(Sex::Female),
            '<' | 'X' => Some(Sex::Unspecified),
            _ => None,
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The field a check digit protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckField {
    /// The document number (with its continuation in the optional data for long numbers).
    DocumentNumber,
    /// The date of birth.
    BirthDate,
    /// The date of expiry (or "valid until" on a visa).
    ExpiryDate,
    /// The optional data that has its own check digit: the personal number of a TD3.
    OptionalData,
    /// The composite check digit over the upper and middle machine readable lines.
    Composite,
}

impl CheckField {
    /// The field's name in JSON: `documentNumber`, `birthDate`, `expiryDate`, `optionalData`,
    /// `composite`.
    pub fn key(self) -> &'static str {
        match self {
            CheckField::DocumentNumber => "documentNumber",
            CheckField::BirthDate => "birthDate",
            CheckField::ExpiryDate => "expiryDate",
            CheckField::OptionalData => "optionalData",
            CheckField::Composite => "composite",
        }
    }
}

/// One check digit: the digit printed in the MRZ and the one computed from its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The field the check digit protects.
    pub field: CheckField,
    /// The character printed in the MRZ.
    pub expected: char,
    /// The check digit computed from the field.
    pub computed: char,
    /// Whether the printed character matches (a `<` counts where Doc 9303 allows it for an
    /// empty field).
    pub valid: bool,
}

/// A machine readable zone, split into its fields.
///
/// Text fields have their trailing fillers removed; names have `<` turned into spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    /// The layout.
    pub format: Format,
    /// The lines as read (after OCR clean-up for [`read_ocr`]).
    pub lines: Vec<String>,
    /// The document code, e.g. `P`, `I`, `ID`, `V`.
    pub document_code: String,
    /// The issuing state or organisation (three letters, e.g. `UTO`, or `D` for Germany).
    pub issuing_state: String,
    /// The primary identifier, name parts separated by spaces.
    pub surname: String,
    /// The secondary identifier, name parts separated by spaces.
    pub given_names: String,
    /// The document number (long numbers of TD1/TD2 joined with their continuation).
    pub document_number: String,
    /// The nationality (three letters).
    pub nationality: String,
    /// The date of birth as printed, YYMMDD (`<` for unknown parts).
    pub birth_date_raw: String,
    /// The date of birth, `None` when the printed date does not exist.
    pub birth_date: Option<NaiveDate>,
    /// The sex.
    pub sex: Sex,
    /// The date of expiry as printed, YYMMDD.
    pub expiry_date_raw: String,
    /// The date of expiry, `None` when the printed date does not exist.
    pub expiry_date: Option<NaiveDate>,
    /// The optional data: line 1 of a TD1, the personal number of a TD3, the optional data
    /// of a TD2 or visa.
    pub optional_data: String,
    /// The second optional data of a TD1 (line 2); empty for the other formats.
    pub optional_data_2: String,
    /// Every check digit of the format, in the order they appear.
    pub checks: Vec<Check>,
}

impl Mrz {
    /// Whether every check digit passes.
    pub fn checks_valid(&self) -> bool {
        self.checks.iter().all(|c| c.valid)
    }

    /// Whether both dates exist on the calendar.
    pub fn dates_valid(&self) -> bool {
        self.birth_date.is_some() && self.expiry_date.is_some()
    }

    /// The holder's age in whole years on `today` (a birthday counts from its day on);
    /// `None` when the birth date is unknown or after `today`.
    pub fn age_on(&self, today: NaiveDate) -> Option<u32> {
        let birth = self.birth_date?;
        if birth > today {
            return None;
        }
        let mut age = today.year() - birth.year();
        if (today.month(), today.day()) < (birth.month(), birth.day()) {
            age -= 1;
        }
        u32::try_from(age).ok()
    }

    /// Whether the document has expired on `today` (it is still valid on its expiry date);
    /// `None` when the expiry date is unknown.
    pub fn expired_on(&self, today: NaiveDate) -> Option<bool> {
        self.expiry_date.map(|expiry| expiry < today)
    }

    /// The MRZ as JSON, with its age and expiry on `today`.
    ///
    /// Shape (camelCase keys):
    /// `format` (`"TD3"`…), `lines`, `documentCode`, `issuingState`, `surname`, `givenNames`,
    /// `documentNumber`, `nationality`, `birthDate` (`yyyy-mm-dd` or null), `birthDateRaw`,
    /// `sex` (`"M"`, `"F"`, `"X"`), `expiryDate`, `expiryDateRaw`, `optionalData`,
    /// `optionalData2`, `age` (number or null), `expired` (bool or null),
    /// `checks` (an object: field key → bool, for the check digits of the format),
    /// `checkDigits` (the list of [`Check`]s: field, expected, computed, valid),
    /// `datesValid` (both dates exist), `checksValid` (every check digit passes),
    /// `valid` (`checksValid` and `datesValid`) and `validNotExpired` (`valid` and not expired).
    pub fn to_json(&self, today: NaiveDate) -> serde_json::Value {
        json::mrz_to_json(self, today)
    }
}

/// Why a text is not a machine readable zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    /// No text at all.
    #[error("the MRZ is empty: give the 2 or 3 lines of the machine readable zone")]
    Empty,
    /// The lines do not have the count and length of any format.
    #[error(
        "unknown MRZ format: found {lines} line(s) of length {lengths:?}; expected 3 lines of 30 characters (TD1), 2 lines of 36 (TD2, MRV-B) or 2 lines of 44 (TD3, MRV-A)"
    )]
    UnknownFormat {
        /// How many lines were found.
        lines: usize,
        /// Their lengths in characters.
        lengths: Vec<usize>,
    },
    /// A character outside `A-Z`, `0-9` and `<`.
    #[error(
        "bad character {found:?} at line {line}, column {column}: an MRZ holds only capital letters A-Z, digits 0-9 and the filler <"
    )]
    BadCharacter {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// The character found.
        found: char,
    },
    /// A date field that is not six digits.
    #[error("bad {field} {value:?} at line {line}, column {column}: a date is six digits YYMMDD")]
    BadDate {
        /// `birth date` or `expiry date`.
        field: &'static str,
        /// The line, from 1.
        line: usize,
        /// The first column of the date, from 1.
        column: usize,
        /// The six characters found.
        value: String,
    },
    /// A sex character other than `M`, `F`, `X` or `<`.
    #[error("bad sex {found:?} at line {line}, column {column}: expected M, F, X or <")]
    BadSex {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// The character found.
        found: char,
    },
}

impl MrzError {
    /// A short machine-readable code: `empty`, `unknown_format`, `bad_character`, `bad_date`,
    /// `bad_sex`.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::Empty => "empty",
            MrzError::UnknownFormat { .. } => "unknown_format",
            MrzError::BadCharacter { .. } => "bad_character",
            MrzError::BadDate { .. } => "bad_date",
            MrzError::BadSex { .. } => "bad_sex",
        }
    }

    /// The error as the JSON body of a failed reading:
    /// `{"valid": false, "error": {"code": "...", "message": "..."}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "valid": false,
            "validNotExpired": false,
            "error": { "code": self.code(), "message": self.to_string() },
        })
    }
}
