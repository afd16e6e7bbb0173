//! The specimens of ICAO Doc 9303 and the rules of each layout.

use chrono::NaiveDate;
use idv_mrz::{CheckField, Format, Sex, check_digit, parse};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const TD3: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";

#[test]
fn passport_specimen_parses() {
    let m = parse(TD3, day(2026, 12, 6)).unwrap();
    assert_eq!(m.format, Format::Td3);
    assert_eq!(m.surname, "ERIKSSON");
    assert_eq!(m.given_names, "ANNA MARIA");
    assert_eq!(m.document_number, "L898902C3");
    assert_eq!(m.sex, Sex::Female);
    assert_eq!(m.birth_date, Some(day(1974, 8, 12)));
    assert_eq!(m.expiry_date, Some(day(2012, 4, 15)));
    assert_eq!(m.optional_data, "ZE184226B");
    assert!(m.checks_valid(), "{:?}", m.checks);
    assert_eq!(m.checks.len(), 5);
    assert_eq!(m.checks[4].field, CheckField::Composite);
    assert_eq!(check_digit("L898902C3"), Some('6'));
}
