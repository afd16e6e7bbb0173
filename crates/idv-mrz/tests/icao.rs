//! The specimens of ICAO Doc 9303 and the rules of each layout.
//!
//! Character values in check digits: `0`–`9` → 0–9, `A` → 10 … `Z` → 35, `<` → 0; weights
//! 7, 3, 1 repeating; the check digit is the weighted sum modulo 10. Each specimen's digits are
//! worked out by hand below (only the non-zero terms are written).

use chrono::{Datelike, NaiveDate};
use idv_mrz::{CheckField, Format, Mrz, MrzError, Sex, check_digit, parse, read_ocr};
use proptest::prelude::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const TODAY: (i32, u32, u32) = (2026, 12, 6);

fn today() -> NaiveDate {
    day(TODAY.0, TODAY.1, TODAY.2)
}

/// Doc 9303 Part 4, Appendix A: the passport of Anna Maria Eriksson of Utopia.
const TD3_L1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
const TD3_L2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
/// Part 5, Appendix A: the TD1 card.
const TD1: [&str; 3] = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
];
/// Part 6, Appendix A: the TD2 card.
const TD2: [&str; 2] = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
];
/// Part 7, Appendix A: the MRV-A and MRV-B visas.
const MRV_A: [&str; 2] = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
];
const MRV_B: [&str; 2] = [
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "L8988901C4XXX4009078F9612109<<<<<<<<",
];

fn td3() -> String {
    format!("{TD3_L1}\n{TD3_L2}")
}

fn invalid(m: &Mrz) -> Vec<CheckField> {
    m.checks
        .iter()
        .filter(|c| !c.valid)
        .map(|c| c.field)
        .collect()
}

/// Replaces the character at `col` (from 1) of line `line` (from 1).
fn with_char(lines: &[&str], line: usize, col: usize, c: char) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                let mut v: Vec<char> = l.chars().collect();
                v[col - 1] = c;
                v.into_iter().collect()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<String>>()
        .join("\n")
}

#[test]
fn specimen_check_digits() {
    // Passport document number L898902C3:
    // L=21·7 + 8·3 + 9·1 + 8·7 + 9·3 + 0 + 2·7 + C=12·3 + 3·1
    //  = 147 + 24 + 9 + 56 + 27 + 14 + 36 + 3 = 316 → 6
    assert_eq!(check_digit("L898902C3"), Some('6'));
    // Birth 740812: 7·7 + 4·3 + 0 + 8·7 + 1·3 + 2·1 = 49 + 12 + 56 + 3 + 2 = 122 → 2
    assert_eq!(check_digit("740812"), Some('2'));
    // Expiry 120415: 1·7 + 2·3 + 0 + 4·7 + 1·3 + 5·1 = 7 + 6 + 28 + 3 + 5 = 49 → 9
    assert_eq!(check_digit("120415"), Some('9'));
    // Personal number ZE184226B<<<<<:
    // Z=35·7 + E=14·3 + 1·1 + 8·7 + 4·3 + 2·1 + 2·7 + 6·3 + B=11·1
    //  = 245 + 42 + 1 + 56 + 12 + 2 + 14 + 18 + 11 = 401 → 1
    assert_eq!(check_digit("ZE184226B<<<<<"), Some('1'));
    // Passport composite over L898902C36 7408122 1204159ZE184226B<<<<<1 (39 characters, the
    // weights run 7,3,1 from its first character):
    // characters 1–9, the number, keep their weights: 316;
    // character 10, `6`, weight 7: 42;
    // characters 11–17, 7408122, weights 3,1,7,3,1,7,3: 21 + 4 + 0 + 24 + 1 + 14 + 6 = 70;
    // characters 18–24, 1204159, weights 1,7,3,1,7,3,1: 1 + 14 + 0 + 4 + 7 + 15 + 9 = 50;
    // characters 25–38, the personal number, start at weight 7 again: 401;
    // character 39, `1`, weight 1: 1.
    // 316 + 42 + 70 + 50 + 401 + 1 = 880 → 0
    let composite = "L898902C36".to_string() + "7408122" + "1204159ZE184226B<<<<<1";
    assert_eq!(check_digit(&composite), Some('0'));
    // TD1 number D23145890: D=13·7 + 2·3 + 3·1 + 1·7 + 4·3 + 5·1 + 8·7 + 9·3 + 0
    //  = 91 + 6 + 3 + 7 + 12 + 5 + 56 + 27 = 207 → 7
    assert_eq!(check_digit("D23145890"), Some('7'));
    // TD1 composite over line 1 columns 6–30, line 2 columns 1–7, 9–15, 19–29:
    // D231458907<<<<<<<<<<<<<<< 7408122 1204159 <<<<<<<<<<<
    // = 207 (number) + 7·7 (its check digit, 10th) + fillers up to 25th
    // + 7408122 as characters 26–32 (weights 3,1,7,3,1,7,3: 21+4+0+24+1+14+6 = 70)
    // + 1204159 as 33–39 (weights 1,7,3,1,7,3,1: 1+14+0+4+7+15+9 = 50) = 207+49+70+50 = 376 → 6
    assert_eq!(
        check_digit(&format!(
            "{}{}{}{}",
            &TD1[0][5..30],
            &TD1[1][0..7],
            &TD1[1][8..15],
            &TD1[1][18..29]
        )),
        Some('6')
    );
    // TD2 composite over line 2 columns 1–10, 14–20, 22–35: D231458907 7408122 1204159<<<<<<<
    // = 207 + 7·7 + 7408122 as 11–17 (weights 3,1,7,3,1,7,3: 70) + 1204159 as 18–24
    // (weights 1,7,3,1,7,3,1: 50) = 376 → 6
    assert_eq!(check_digit("D23145890774081221204159<<<<<<<"), Some('6'));
    // Visa number L8988901C: L=21·7 + 8·3 + 9·1 + 8·7 + 8·3 + 9·1 + 0 + 1·3 + C=12·1
    //  = 147 + 24 + 9 + 56 + 24 + 9 + 3 + 12 = 284 → 4
    assert_eq!(check_digit("L8988901C"), Some('4'));
    // Visa birth 400907: 4·7 + 0 + 0 + 9·7 + 0 + 7·1 = 28 + 63 + 7 = 98 → 8
    assert_eq!(check_digit("400907"), Some('8'));
    // Visa valid until 961210: 9·7 + 6·3 + 1·1 + 2·7 + 1·3 + 0 = 63 + 18 + 1 + 14 + 3 = 99 → 9
    assert_eq!(check_digit("961210"), Some('9'));
    // Fillers count 0; characters outside the set have no check digit.
    assert_eq!(check_digit("<<<<<<<<<"), Some('0'));
    assert_eq!(check_digit(""), Some('0'));
    assert_eq!(check_digit("AB-1"), None);
    assert_eq!(check_digit("ab1"), None);
}

#[test]
fn passport_specimen() {
    let m = parse(&td3(), today()).unwrap();
    assert_eq!(m.format, Format::Td3);
    assert_eq!(m.format.to_string(), "TD3");
    assert_eq!(m.document_code, "P");
    assert_eq!(m.issuing_state, "UTO");
    assert_eq!(m.surname, "ERIKSSON");
    assert_eq!(m.given_names, "ANNA MARIA");
    assert_eq!(m.document_number, "L898902C3");
    assert_eq!(m.nationality, "UTO");
    assert_eq!(m.birth_date_raw, "740812");
    assert_eq!(m.birth_date, Some(day(1974, 8, 12)));
    assert_eq!(m.sex, Sex::Female);
    assert_eq!(m.expiry_date_raw, "120415");
    assert_eq!(m.expiry_date, Some(day(2012, 4, 15)));
    assert_eq!(m.optional_data, "ZE184226B");
    assert_eq!(m.optional_data_2, "");
    assert_eq!(m.lines, vec![TD3_L1.to_string(), TD3_L2.to_string()]);
    let fields: Vec<CheckField> = m.checks.iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [
            CheckField::DocumentNumber,
            CheckField::BirthDate,
            CheckField::ExpiryDate,
            CheckField::OptionalData,
            CheckField::Composite
        ]
    );
    let digits: Vec<(char, char)> = m.checks.iter().map(|c| (c.expected, c.computed)).collect();
    assert_eq!(
        digits,
        [('6', '6'), ('2', '2'), ('9', '9'), ('1', '1'), ('0', '0')]
    );
    assert!(m.checks_valid());
    // Expired on 15 April 2012 (valid on the day itself).
    assert_eq!(m.expired_on(day(2012, 4, 15)), Some(false));
    assert_eq!(m.expired_on(day(2012, 4, 16)), Some(true));
    assert_eq!(m.age_on(today()), Some(52));
}

#[test]
fn td1_specimen() {
    let m = parse(&TD1.join("\n"), today()).unwrap();
    assert_eq!(m.format, Format::Td1);
    assert_eq!(m.document_code, "I");
    assert_eq!(m.issuing_state, "UTO");
    assert_eq!(m.document_number, "D23145890");
    assert_eq!(m.birth_date, Some(day(1974, 8, 12)));
    assert_eq!(m.sex, Sex::Female);
    assert_eq!(m.expiry_date, Some(day(2012, 4, 15)));
    assert_eq!(m.nationality, "UTO");
    assert_eq!(m.surname, "ERIKSSON");
    assert_eq!(m.given_names, "ANNA MARIA");
    assert_eq!(m.optional_data, "");
    assert_eq!(m.optional_data_2, "");
    assert_eq!(m.checks.len(), 4);
    assert!(m.checks_valid(), "{:?}", m.checks);
}

#[test]
fn td2_specimen() {
    let m = parse(&TD2.join("\n"), today()).unwrap();
    assert_eq!(m.format, Format::Td2);
    assert_eq!(m.document_number, "D23145890");
    assert_eq!(m.surname, "ERIKSSON");
    assert_eq!(m.given_names, "ANNA MARIA");
    assert_eq!(m.birth_date, Some(day(1974, 8, 12)));
    assert_eq!(m.expiry_date, Some(day(2012, 4, 15)));
    assert_eq!(m.checks.len(), 4);
    assert!(m.checks_valid(), "{:?}", m.checks);
}

#[test]
fn visa_specimens() {
    for (lines, format, optional) in [
        (MRV_A, Format::MrvA, "6ZE184226B"),
        (MRV_B, Format::MrvB, ""),
    ] {
        let m = parse(&lines.join("\n"), today()).unwrap();
        assert_eq!(m.format, format);
        assert_eq!(m.document_code, "V");
        assert_eq!(m.issuing_state, "UTO");
        assert_eq!(m.document_number, "L8988901C");
        assert_eq!(m.nationality, "XXX");
        assert_eq!(m.birth_date, Some(day(1940, 9, 7)));
        assert_eq!(m.expiry_date, Some(day(1996, 12, 10)));
        assert_eq!(m.sex, Sex::Female);
        assert_eq!(m.optional_data, optional);
        // Visas have no composite check digit.
        let fields: Vec<CheckField> = m.checks.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            [
                CheckField::DocumentNumber,
                CheckField::BirthDate,
                CheckField::ExpiryDate
            ]
        );
        assert!(m.checks_valid(), "{format}: {:?}", m.checks);
    }
    assert_eq!(Format::MrvA.to_string(), "MRV-A");
    assert_eq!(Format::MrvB.to_string(), "MRV-B");
}

#[test]
fn a_wrong_check_digit_of_each_field_is_found() {
    use CheckField::*;
    let td3 = [TD3_L1, TD3_L2];
    // Each check digit one off: its own check fails, and the composite too when the digit is
    // inside the composite's span.
    for (col, right, wrong, expect) in [
        (10, '6', '7', vec![DocumentNumber, Composite]),
        (20, '2', '3', vec![BirthDate, Composite]),
        (28, '9', '8', vec![ExpiryDate, Composite]),
        (43, '1', '2', vec![OptionalData, Composite]),
        (44, '0', '1', vec![Composite]),
    ] {
        assert_eq!(TD3_L2.chars().nth(col - 1), Some(right));
        let m = parse(&with_char(&td3, 2, col, wrong), today()).unwrap();
        assert_eq!(invalid(&m), expect, "column {col}");
        assert!(!m.checks_valid());
    }
    // A wrong character in a field: its check and the composite fail.
    let m = parse(&with_char(&td3, 2, 2, '9'), today()).unwrap();
    assert_eq!(invalid(&m), [DocumentNumber, Composite]);
    let m = parse(&with_char(&td3, 2, 14, '5'), today()).unwrap();
    assert_eq!(invalid(&m), [BirthDate, Composite]);
    assert_eq!(m.birth_date, Some(day(1954, 8, 12)));
    let m = parse(&with_char(&td3, 2, 27, '6'), today()).unwrap();
    assert_eq!(invalid(&m), [ExpiryDate, Composite]);
    let m = parse(&with_char(&td3, 2, 30, 'F'), today()).unwrap();
    assert_eq!(invalid(&m), [OptionalData, Composite]);

    // TD1: the number's, the dates' and the composite.
    let m = parse(&with_char(&TD1, 1, 15, '8'), today()).unwrap();
    assert_eq!(invalid(&m), [DocumentNumber, Composite]);
    let m = parse(&with_char(&TD1, 2, 7, '3'), today()).unwrap();
    assert_eq!(invalid(&m), [BirthDate, Composite]);
    let m = parse(&with_char(&TD1, 2, 15, '0'), today()).unwrap();
    assert_eq!(invalid(&m), [ExpiryDate, Composite]);
    let m = parse(&with_char(&TD1, 2, 30, '5'), today()).unwrap();
    assert_eq!(invalid(&m), [Composite]);
    // Optional data 2 is only covered by the composite.
    let m = parse(&with_char(&TD1, 2, 20, 'B'), today()).unwrap();
    assert_eq!(invalid(&m), [Composite]);

    // TD2 and the visas.
    let m = parse(&with_char(&TD2, 2, 36, '7'), today()).unwrap();
    assert_eq!(invalid(&m), [Composite]);
    let m = parse(&with_char(&TD2, 2, 10, '1'), today()).unwrap();
    assert_eq!(invalid(&m), [DocumentNumber, Composite]);
    let m = parse(&with_char(&MRV_A, 2, 10, '5'), today()).unwrap();
    assert_eq!(invalid(&m), [DocumentNumber]);
    let m = parse(&with_char(&MRV_B, 2, 20, '7'), today()).unwrap();
    assert_eq!(invalid(&m), [BirthDate]);
    let m = parse(&with_char(&MRV_B, 2, 28, '0'), today()).unwrap();
    assert_eq!(invalid(&m), [ExpiryDate]);
    // A letter where a check digit belongs never passes.
    let m = parse(&with_char(&MRV_B, 2, 28, 'A'), today()).unwrap();
    assert_eq!(invalid(&m), [ExpiryDate]);
}

#[test]
fn td3_personal_number_may_be_empty_with_a_filler_check_digit() {
    let line2 =
        |cd43: char, cd44: char| format!("L898902C36UTO7408122F1204159<<<<<<<<<<<<<<{cd43}{cd44}");
    // Composite over L898902C36 7408122 1204159<<<<<<<<<<<<<<< : 316 + 6·7 + 70 + 50 = 478 → 8
    // (the filler and `0` both count 0, so one composite digit fits both).
    for cd43 in ['<', '0'] {
        let m = parse(&format!("{TD3_L1}\n{}", line2(cd43, '8')), today()).unwrap();
        assert!(m.checks_valid(), "{cd43}: {:?}", m.checks);
        assert_eq!(m.optional_data, "");
    }
    // Any other digit is wrong.
    let m = parse(&format!("{TD3_L1}\n{}", line2('3', '8')), today()).unwrap();
    assert_eq!(
        invalid(&m),
        [CheckField::OptionalData, CheckField::Composite]
    );
    // A filler check digit with a personal number present is wrong.
    let m = parse(
        &format!("{TD3_L1}\nL898902C36UTO7408122F1204159ZE184226B<<<<<<0"),
        today(),
    )
    .unwrap();
    assert!(invalid(&m).contains(&CheckField::OptionalData));
}

#[test]
fn long_document_numbers_in_td1_and_td2() {
    // Number D23145890734 (12 characters): D23145890 in columns 6–14, `<` in column 15, then
    // 734 and its check digit in the optional data.
    // Check digit over D23145890734: 207 (the first nine) + 7·7 + 3·3 + 4·1 = 207 + 49 + 9 + 4
    //  = 269 → 9.
    assert_eq!(check_digit("D23145890734"), Some('9'));
    // Composite over D23145890<7349<<<<<<<<<<< 7408122 1204159 <<<<<<<<<<<:
    // 207 + `<`·7 + 7·3 + 3·1 + 4·7 + 9·3 (characters 11–14) = 207 + 21 + 3 + 28 + 27 = 286,
    // + 7408122 as 26–32 (weights 3,1,7,3,1,7,3: 70) + 1204159 as 33–39 (50) = 406 → 6.
    let td1 = [
        "I<UTOD23145890<7349<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ];
    let m = parse(&td1.join("\n"), today()).unwrap();
    assert_eq!(m.document_number, "D23145890734");
    assert_eq!(m.optional_data, "");
    assert!(m.checks_valid(), "{:?}", m.checks);
    assert_eq!(m.checks[0].expected, '9');
    // A wrong digit in the continuation fails the number's check (and the composite).
    let m = parse(&with_char(&td1, 1, 17, '5'), today()).unwrap();
    assert_eq!(m.document_number, "D23145890754");
    assert_eq!(
        invalid(&m),
        [CheckField::DocumentNumber, CheckField::Composite]
    );
    // A filler check digit with nothing after it is not a long number: it just fails.
    let m = parse(&with_char(&TD1, 1, 15, '<'), today()).unwrap();
    assert_eq!(m.document_number, "D23145890");
    assert!(invalid(&m).contains(&CheckField::DocumentNumber));

    // TD2: the continuation goes into columns 29–35.
    // Composite over D23145890< 7408122 12041597349<<<: 207 + 70 + 50 + 7·7 + 3·3 + 4·1 + 9·7
    // (characters 25–28) = 327 + 49 + 9 + 4 + 63 = 452 → 2.
    let td2 = [
        "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
        "D23145890<UTO7408122F12041597349<<<2",
    ];
    let m = parse(&td2.join("\n"), today()).unwrap();
    assert_eq!(m.document_number, "D23145890734");
    assert_eq!(m.optional_data, "");
    assert!(m.checks_valid(), "{:?}", m.checks);
}

#[test]
fn names_with_several_parts() {
    let l1 = "P<UTOVAN<DER<BERG<<MARIA<LUISA<ANNA<<<<<<<<<";
    assert_eq!(l1.len(), 44);
    let m = parse(&format!("{l1}\n{TD3_L2}"), today()).unwrap();
    assert_eq!(m.surname, "VAN DER BERG");
    assert_eq!(m.given_names, "MARIA LUISA ANNA");
    // Only a primary identifier.
    let l1 = "P<UTOERIKSSON<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<";
    let m = parse(&format!("{l1}\n{TD3_L2}"), today()).unwrap();
    assert_eq!(m.surname, "ERIKSSON");
    assert_eq!(m.given_names, "");
    // A name truncated at the end of the line.
    let l1 = "P<UTOSCHWARZENEGGER<HOFFMANN<<ALEXANDRA<KATH";
    let m = parse(&format!("{l1}\n{TD3_L2}"), today()).unwrap();
    assert_eq!(m.surname, "SCHWARZENEGGER HOFFMANN");
    assert_eq!(m.given_names, "ALEXANDRA KATH");
    // TD1's name line.
    let m = parse(
        &[TD1[0], TD1[1], "O<CONNOR<<MARY<KATE<<<<<<<<<<<"].join("\n"),
        today(),
    )
    .unwrap();
    assert_eq!(m.surname, "O CONNOR");
    assert_eq!(m.given_names, "MARY KATE");
}

#[test]
fn sex_unspecified() {
    for c in ['<', 'X'] {
        // The sex is outside every check digit's span.
        let m = parse(&with_char(&[TD3_L1, TD3_L2], 2, 21, c), today()).unwrap();
        assert_eq!(m.sex, Sex::Unspecified);
        assert!(m.checks_valid());
        assert_eq!(m.to_json(today())["sex"], "X");
    }
    let m = parse(&with_char(&[TD3_L1, TD3_L2], 2, 21, 'M'), today()).unwrap();
    assert_eq!(m.sex, Sex::Male);
}

#[test]
fn dates_around_century_boundaries() {
    let with_dates = |birth: &str, expiry: &str, on: NaiveDate| {
        let l2 = format!(
            "L898902C36UTO{birth}{}F{expiry}{}ZE184226B<<<<<1",
            check_digit(birth).unwrap(),
            check_digit(expiry).unwrap()
        );
        let composite = check_digit(&format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]));
        parse(&format!("{TD3_L1}\n{l2}{}", composite.unwrap()), on).unwrap()
    };
    // On 1 January 2000, a birth in "991231" is 1999 and "000101" is that very day.
    let m = with_dates("991231", "091231", day(2000, 1, 1));
    assert_eq!(m.birth_date, Some(day(1999, 12, 31)));
    assert_eq!(m.expiry_date, Some(day(2009, 12, 31)));
    assert!(m.checks_valid());
    let m = with_dates("000101", "491231", day(2000, 1, 1));
    assert_eq!(m.birth_date, Some(day(2000, 1, 1)));
    assert_eq!(m.expiry_date, Some(day(2049, 12, 31)));
    assert_eq!(m.age_on(day(2000, 1, 1)), Some(0));
    // The next day's birth is a century back.
    let m = with_dates("000102", "491231", day(2000, 1, 1));
    assert_eq!(m.birth_date, Some(day(1900, 1, 2)));
    // Today (2026-12-06): expiry 76 is 2076, 77 would be more than 50 years ahead → 1977.
    let m = with_dates("261206", "761231", today());
    assert_eq!(m.birth_date, Some(today()));
    assert_eq!(m.expiry_date, Some(day(2076, 12, 31)));
    let m = with_dates("261207", "770101", today());
    assert_eq!(m.birth_date, Some(day(1926, 12, 7)));
    assert_eq!(m.expiry_date, Some(day(1977, 1, 1)));
    assert_eq!(m.expired_on(today()), Some(true));
    // Leap days.
    let m = with_dates("000229", "280229", today());
    assert_eq!(m.birth_date, Some(day(2000, 2, 29)));
    assert_eq!(m.expiry_date, Some(day(2028, 2, 29)));
    // Impossible dates are None, never a panic, and make the reading not valid.
    let m = with_dates("991340", "270229", today());
    assert_eq!(m.birth_date, None);
    assert_eq!(m.expiry_date, None);
    assert!(m.checks_valid());
    assert!(!m.dates_valid());
    assert_eq!(m.age_on(today()), None);
    assert_eq!(m.expired_on(today()), None);
    let json = m.to_json(today());
    assert_eq!(json["valid"], false);
    assert_eq!(json["checksValid"], true);
    assert_eq!(json["birthDate"], serde_json::Value::Null);
    assert_eq!(json["age"], serde_json::Value::Null);
    // An unknown date of birth (fillers) is allowed by Doc 9303 and gives no date.
    let m = with_dates("74<<<<", "301231", today());
    assert_eq!(m.birth_date, None);
    assert_eq!(m.birth_date_raw, "74<<<<");
}

#[test]
fn age_and_expiry_on_given_days() {
    let m = parse(&td3(), today()).unwrap();
    // Born 12 August 1974.
    assert_eq!(m.age_on(day(2026, 8, 11)), Some(51));
    assert_eq!(m.age_on(day(2026, 8, 12)), Some(52));
    assert_eq!(m.age_on(day(2026, 8, 13)), Some(52));
    assert_eq!(m.age_on(day(1974, 8, 12)), Some(0));
    assert_eq!(m.age_on(day(1974, 8, 11)), None);
    // Born on a leap day: a year older from 1 March in other years.
    let leap = Mrz {
        birth_date: Some(day(2008, 2, 29)),
        ..m.clone()
    };
    assert_eq!(leap.age_on(day(2026, 2, 28)), Some(17));
    assert_eq!(leap.age_on(day(2026, 3, 1)), Some(18));
    assert_eq!(leap.age_on(day(2028, 2, 29)), Some(20));
    // Valid through the expiry day.
    let m = Mrz {
        expiry_date: Some(day(2026, 12, 7)),
        ..m
    };
    assert_eq!(m.expired_on(day(2026, 12, 6)), Some(false));
    assert_eq!(m.expired_on(day(2026, 12, 7)), Some(false));
    assert_eq!(m.expired_on(day(2026, 12, 8)), Some(true));
}

#[test]
fn json_shape() {
    let json = parse(&td3(), day(2026, 8, 12))
        .unwrap()
        .to_json(day(2026, 8, 12));
    assert_eq!(json["format"], "TD3");
    assert_eq!(json["documentCode"], "P");
    assert_eq!(json["issuingState"], "UTO");
    assert_eq!(json["surname"], "ERIKSSON");
    assert_eq!(json["givenNames"], "ANNA MARIA");
    assert_eq!(json["documentNumber"], "L898902C3");
    assert_eq!(json["nationality"], "UTO");
    assert_eq!(json["birthDate"], "1974-08-12");
    assert_eq!(json["sex"], "F");
    assert_eq!(json["expiryDate"], "2012-04-15");
    assert_eq!(json["optionalData"], "ZE184226B");
    assert_eq!(json["age"], 52);
    assert_eq!(json["expired"], true);
    assert_eq!(
        json["checks"],
        serde_json::json!({"documentNumber": true, "birthDate": true, "expiryDate": true,
                           "optionalData": true, "composite": true})
    );
    assert_eq!(json["checkDigits"][0]["expected"], "6");
    assert_eq!(json["valid"], true);
    assert_eq!(json["validNotExpired"], false);
    // Before its expiry it is valid and not expired.
    let json = parse(&td3(), day(2010, 1, 1))
        .unwrap()
        .to_json(day(2010, 1, 1));
    assert_eq!(json["expired"], false);
    assert_eq!(json["validNotExpired"], true);
    assert_eq!(json["age"], 35);
    // An error body.
    let err = parse("", today()).unwrap_err().to_json();
    assert_eq!(err["valid"], false);
    assert_eq!(err["error"]["code"], "empty");
}

#[test]
fn bad_input_is_an_error_that_says_what_to_fix() {
    assert_eq!(parse("", today()), Err(MrzError::Empty));
    assert_eq!(parse("  \n \n", today()), Err(MrzError::Empty));
    let err = parse("P<UTOERIKSSON\nL898902C3", today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::UnknownFormat {
            lines: 2,
            lengths: vec![13, 9]
        }
    );
    assert!(
        err.to_string()
            .contains("found 2 line(s) of length [13, 9]")
    );
    assert_eq!(err.code(), "unknown_format");
    let err = parse(TD3_L1, today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::UnknownFormat {
            lines: 1,
            lengths: vec![44]
        }
    );
    // Lower case and other characters.
    let err = parse(&td3().to_lowercase(), today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::BadCharacter {
            line: 1,
            column: 1,
            found: 'p'
        }
    );
    assert!(err.to_string().contains("line 1, column 1"), "{err}");
    let err = parse(&with_char(&[TD3_L1, TD3_L2], 2, 30, '-'), today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::BadCharacter {
            line: 2,
            column: 30,
            found: '-'
        }
    );
    // Letters in a date.
    let err = parse(&with_char(&[TD3_L1, TD3_L2], 2, 16, 'O'), today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::BadDate {
            field: "birth date",
            line: 2,
            column: 14,
            value: "74O812".into()
        }
    );
    assert_eq!(err.code(), "bad_date");
    let err = parse(&with_char(&TD1, 2, 10, 'Z'), today()).unwrap_err();
    assert!(matches!(
        err,
        MrzError::BadDate {
            field: "expiry date",
            line: 2,
            column: 9,
            ..
        }
    ));
    // An unknown sex.
    let err = parse(&with_char(&[TD3_L1, TD3_L2], 2, 21, 'Q'), today()).unwrap_err();
    assert_eq!(
        err,
        MrzError::BadSex {
            line: 2,
            column: 21,
            found: 'Q'
        }
    );
    // Surrounding whitespace and blank lines are fine; Windows line ends too.
    let m = parse(&format!("\n  {TD3_L1}  \r\n\r\n\t{TD3_L2}\n\n"), today()).unwrap();
    assert!(m.checks_valid());
}

#[test]
fn read_ocr_fixes_lookalikes_by_field_type() {
    // Dates and check digits read with letters; the nationality and name with digits.
    let l2 = "L898902C36UT07408I22F12O4I59ZE184226B<<<<<1O";
    let l1 = "P<UTOER1KSSON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<";
    let m = read_ocr(&[l1, l2], today()).unwrap();
    assert_eq!(m.lines, vec![TD3_L1.to_string(), TD3_L2.to_string()]);
    assert!(m.checks_valid());
    // The same text given to `parse` is refused or fails its checks.
    assert!(parse(&format!("{l1}\n{l2}"), today()).is_err());

    // Spaces, lower case, noise lines and a name filler read as K.
    let m = read_ocr(
        &[
            "PASSPORT  PASSEPORT",
            "Anna Maria Eriksson",
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<K<<<<<K<<<<<<",
            "l898902c36 UTO 7408122 F 1204159 ZE184226B <<<<< 10",
        ],
        today(),
    )
    .unwrap();
    assert_eq!(m.lines[0], TD3_L1);
    assert_eq!(m.given_names, "ANNA MARIA");
    assert!(m.checks_valid(), "{:?}", m.lines);

    // A line one character short or long at a filler run.
    let m = read_ocr(
        &[
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<",
            "L898902C36UTO7408122F1204159ZE184226B<<<<<<10",
        ],
        today(),
    )
    .unwrap();
    assert_eq!(m.lines, vec![TD3_L1.to_string(), TD3_L2.to_string()]);
    assert!(m.checks_valid());

    // The document number: `0` read for `O`… only the swap that makes its check digit pass.
    // D23145890 read as D2314589O (TD1): the sum becomes 207 + 24·3 = 279 → 9, not the 7
    // printed. One-swap variants: O→0 gives 207 → 7 (passes); D→0 −91 → 8; 2→Z +99 → 8;
    // 1→I +119 → 8; 1→L +140 → 9; 5→S +23 → 2; 8→B +21 → 0. Only one passes.
    let m = read_ocr(
        &[
            "I<UTOD2314589O7<<<<<<<<<<<<<<<",
            "7408122F1204159UTO<<<<<<<<<<<6",
            "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
        ],
        today(),
    )
    .unwrap();
    assert_eq!(m.document_number, "D23145890");
    assert!(m.checks_valid());
    // L898902C3 read as L8989O2C3 (316 + 24·1 = 340 → 0). One-swap variants: O→0 → 6
    // (passes); L→1 −140 → 0; 8→B +9 → 9 or +21 → 1; 2→Z +231 → 1. Only one passes.
    let m = read_ocr(
        &[TD3_L1, "L8989O2C36UTO7408122F1204159ZE184226B<<<<<10"],
        today(),
    )
    .unwrap();
    assert_eq!(m.document_number, "L898902C3");
    assert!(m.checks_valid());
}

#[test]
fn read_ocr_never_fixes_a_wrong_digit() {
    // Birth 740812 misprinted as 740813: a digit is never changed into another digit.
    let l2 = "L898902C36UTO7408132F1204159ZE184226B<<<<<10";
    let m = read_ocr(&[TD3_L1, l2], today()).unwrap();
    assert_eq!(m.birth_date_raw, "740813");
    assert!(!m.checks_valid());
    // A wrong digit in the document number (L898902C3 → L898907C3: 316 + 5·7 = 351 → 1, the
    // printed digit is 6). One swap changes the sum modulo 10 by L→1: 0, 8→B: 9 or 1, 0→O: 4,
    // 0→D: 3, 0→Q: 6: none gives +5. Two swaps give +5 twice (8→B with 0→Q, 8→B with 0→O):
    // no single answer, so the number stays as read and its check fails.
    let l2 = "L898907C36UTO7408122F1204159ZE184226B<<<<<10";
    let m = read_ocr(&[TD3_L1, l2], today()).unwrap();
    assert_eq!(m.document_number, "L898907C3");
    assert!(!m.checks_valid());
    // Nothing that looks like an MRZ.
    assert_eq!(read_ocr(&[], today()), Err(MrzError::Empty));
    assert!(matches!(
        read_ocr(&["hello", "P<UTO"], today()),
        Err(MrzError::UnknownFormat { .. })
    ));
    assert!(matches!(
        read_ocr(&[TD3_L1, "L898902C36UTO7408122F12041"], today()),
        Err(MrzError::UnknownFormat { .. })
    ));
}

// ---- Property tests ---------------------------------------------------------------------

/// The fields of a generated MRZ.
#[derive(Debug, Clone)]
struct Fields {
    format: Format,
    code: String,
    state: String,
    surname: Vec<String>,
    given: Vec<String>,
    number: String,
    nationality: String,
    birth: NaiveDate,
    sex: char,
    expiry: NaiveDate,
    optional: String,
    optional2: String,
    /// The TD3 personal number's check digit when it is empty: `<` or `0`.
    empty_filler: bool,
}

fn pad(s: &str, n: usize) -> String {
    format!("{s:<<n$}")
}

fn yymmdd(d: NaiveDate) -> String {
    format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day())
}

fn cd(s: &str) -> char {
    check_digit(s).unwrap()
}

/// The name field: parts joined by `<`, `<<` before the given names, fillers to `len`.
fn name_field(f: &Fields, len: usize) -> String {
    let mut s = f.surname.join("<");
    if !f.given.is_empty() {
        s.push_str("<<");
        s.push_str(&f.given.join("<"));
    }
    pad(&s, len)
}

/// The MRZ lines of the fields, check digits computed.
fn build(f: &Fields) -> Vec<String> {
    let birth = yymmdd(f.birth);
    let expiry = yymmdd(f.expiry);
    match f.format {
        Format::Td1 => {
            let l1 = if f.number.len() <= 9 {
                let n = pad(&f.number, 9);
                format!(
                    "{}{}{n}{}{}",
                    pad(&f.code, 2),
                    f.state,
                    cd(&n),
                    pad(&f.optional, 15)
                )
            } else {
                let rest = format!("{}{}", &f.number[9..], cd(&f.number));
                format!(
                    "{}{}{}<{}",
                    pad(&f.code, 2),
                    f.state,
                    &f.number[..9],
                    pad(&rest, 15)
                )
            };
            let mut l2 = format!(
                "{birth}{}{}{expiry}{}{}{}",
                cd(&birth),
                f.sex,
                cd(&expiry),
                f.nationality,
                pad(&f.optional2, 11)
            );
            let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
            l2.push(cd(&composite));
            vec![l1, l2, name_field(f, 30)]
        }
        format => {
            let len = format.line_length();
            let l1 = format!("{}{}{}", pad(&f.code, 2), f.state, name_field(f, len - 5));
            let n = pad(&f.number, 9);
            let mut l2 = format!(
                "{n}{}{}{birth}{}{}{expiry}{}",
                cd(&n),
                f.nationality,
                cd(&birth),
                f.sex,
                cd(&expiry)
            );
            match format {
                Format::Td3 => {
                    let p = pad(&f.optional, 14);
                    let pcd = if f.optional.is_empty() && f.empty_filler {
                        '<'
                    } else {
                        cd(&p)
                    };
                    l2.push_str(&p);
                    l2.push(pcd);
                    let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
                    l2.push(cd(&composite));
                }
                Format::Td2 => {
                    l2.push_str(&pad(&f.optional, 7));
                    let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..35]);
                    l2.push(cd(&composite));
                }
                _ => l2.push_str(&pad(&f.optional, len - 28)),
            }
            vec![l1, l2]
        }
    }
}

fn letters(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Z]{{{min},{max}}}")).unwrap()
}

fn alnum(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Z0-9]{{{min},{max}}}")).unwrap()
}

fn fields() -> impl Strategy<Value = Fields> {
    let format = prop_oneof![
        Just(Format::Td1),
        Just(Format::Td2),
        Just(Format::Td3),
        Just(Format::MrvA),
        Just(Format::MrvB)
    ];
    (
        format,
        (letters(1, 1), proptest::option::of(letters(1, 1))),
        letters(3, 3),
        (
            proptest::collection::vec(letters(1, 6), 1..3),
            proptest::collection::vec(letters(1, 6), 0..3),
        ),
        (alnum(1, 12), letters(3, 3)),
        // Born up to 99 years before today; expiry within 40 years of today.
        (0i64..36_000, -14_600i64..14_600),
        prop_oneof![Just('M'), Just('F'), Just('<'), Just('X')],
        (alnum(0, 16), alnum(0, 11), any::<bool>()),
    )
        .prop_map(
            |(format, (c1, c2), state, (surname, given), (number, nat), (b, e), sex, opt)| {
                let visa = matches!(format, Format::MrvA | Format::MrvB);
                let first = if visa {
                    "V".to_string()
                } else if c1 == "V" {
                    "P".to_string()
                } else {
                    c1
                };
                let code = format!("{first}{}", c2.unwrap_or_default());
                // Long numbers only in TD1 (optional data 1 then carries the rest).
                let number = if format == Format::Td1 {
                    number
                } else {
                    number.chars().take(9).collect()
                };
                let optional_len = match format {
                    Format::Td1 if number.len() > 9 => 0,
                    Format::Td1 => 15,
                    Format::Td2 => 7,
                    Format::Td3 => 14,
                    Format::MrvA => 16,
                    Format::MrvB => 8,
                };
                Fields {
                    format,
                    code,
                    state,
                    surname,
                    given,
                    number,
                    nationality: nat,
                    birth: today() - chrono::Duration::days(b),
                    sex,
                    expiry: today() + chrono::Duration::days(e),
                    optional: opt.0.chars().take(optional_len).collect(),
                    optional2: if format == Format::Td1 {
                        opt.1
                    } else {
                        String::new()
                    },
                    empty_filler: opt.2,
                }
            },
        )
}

/// The data of a reading, without its lines and checks.
fn data(m: &Mrz) -> impl PartialEq + std::fmt::Debug {
    (
        m.format,
        m.document_code.clone(),
        m.issuing_state.clone(),
        m.surname.clone(),
        m.given_names.clone(),
        m.document_number.clone(),
        m.nationality.clone(),
        m.birth_date_raw.clone(),
        m.sex,
        m.expiry_date_raw.clone(),
        m.optional_data.clone(),
        m.optional_data_2.clone(),
    )
}

/// The columns (line, column from 1) some check digit covers, check digits included: a change
/// there is always caught unless the new character has the same value modulo 10 (`0`, `<`,
/// `A`, `K`, `U` all count 0 modulo 10, `1`, `B`, `L`, `V` count 1 …: the 7-3-1 scheme cannot
/// tell them apart). Names, nationality, sex, document code and issuing state are covered by
/// no check digit in any format; nor is the optional data of visas.
fn covered(format: Format) -> Vec<(usize, usize)> {
    let span = |line: usize, from: usize, to: usize| (from..=to).map(move |c| (line, c));
    match format {
        Format::Td1 => span(1, 6, 30)
            .chain(span(2, 1, 7))
            .chain(span(2, 9, 15))
            .chain(span(2, 19, 30))
            .collect(),
        Format::Td2 => span(2, 1, 10)
            .chain(span(2, 14, 20))
            .chain(span(2, 22, 36))
            .collect(),
        Format::Td3 => span(2, 1, 10)
            .chain(span(2, 14, 20))
            .chain(span(2, 22, 44))
            .collect(),
        Format::MrvA | Format::MrvB => span(2, 1, 10)
            .chain(span(2, 14, 20))
            .chain(span(2, 22, 28))
            .collect(),
    }
}

const CHARSET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

fn value(c: char) -> u32 {
    CHARSET
        .find(c)
        .map(|i| if i == 36 { 0 } else { i as u32 })
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_mrzs_round_trip(f in fields()) {
        let lines = build(&f);
        let m = parse(&lines.join("\n"), today()).unwrap();
        prop_assert!(m.checks_valid(), "{lines:?}: {:?}", m.checks);
        prop_assert_eq!(m.format, f.format);
        prop_assert_eq!(&m.document_code, &f.code);
        prop_assert_eq!(&m.issuing_state, &f.state);
        prop_assert_eq!(&m.surname, &f.surname.join(" "));
        prop_assert_eq!(&m.given_names, &f.given.join(" "));
        prop_assert_eq!(&m.document_number, &f.number);
        prop_assert_eq!(&m.nationality, &f.nationality);
        prop_assert_eq!(m.birth_date, Some(f.birth));
        prop_assert_eq!(m.expiry_date, Some(f.expiry));
        prop_assert_eq!(m.sex.code(), if f.sex == '<' { 'X' } else { f.sex });
        prop_assert_eq!(&m.optional_data, &f.optional);
        prop_assert_eq!(&m.optional_data_2, &f.optional2);
        prop_assert_eq!(&m.lines, &lines);
        // read_ocr leaves a clean MRZ as it is.
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let o = read_ocr(&refs, today()).unwrap();
        prop_assert_eq!(&o.lines, &lines);
    }

    #[test]
    fn one_changed_character_is_caught(
        f in fields(),
        at in any::<prop::sample::Index>(),
        to in any::<prop::sample::Index>(),
    ) {
        let lines = build(&f);
        let original = parse(&lines.join("\n"), today()).unwrap();
        let spots = covered(f.format);
        let (line, col) = spots[at.index(spots.len())];
        let old = lines[line - 1].chars().nth(col - 1).unwrap();
        let choices: Vec<char> = CHARSET
            .chars()
            .filter(|&c| value(c) % 10 != value(old) % 10)
            .collect();
        let new = choices[to.index(choices.len())];
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let changed = with_char(&refs, line, col, new);
        // Either the text is refused (a letter in a date), or a check fails, or, at most, the
        // change is one the data does not show.
        if let Ok(m) = parse(&changed, today())
            && m.checks_valid()
        {
            prop_assert_eq!(data(&m), data(&original), "{} → {}", lines.join("/"), changed);
        }
    }
}

#[test]
fn what_no_check_digit_covers() {
    // The name is not covered by any check digit: a changed letter goes unnoticed.
    let m = parse(&with_char(&[TD3_L1, TD3_L2], 1, 6, 'A'), today()).unwrap();
    assert_eq!(m.surname, "ARIKSSON");
    assert!(m.checks_valid());
    // Nor can a check digit tell `0` from `<` or `A` from `K`: equal values modulo 10.
    let m = parse(&with_char(&[TD3_L1, TD3_L2], 2, 38, '0'), today()).unwrap();
    assert_eq!(m.optional_data, "ZE184226B0");
    assert!(m.checks_valid());
}
