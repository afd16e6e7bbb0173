//! The JSON shape of an [`Mrz`].

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use crate::Mrz;

/// See [`Mrz::to_json`].
pub(crate) fn mrz_to_json(mrz: &Mrz, today: NaiveDate) -> Value {
    let checks: Map<String, Value> = mrz
        .checks
        .iter()
        .map(|c| (c.field.key().to_string(), Value::Bool(c.valid)))
        .collect();
    let check_digits: Vec<Value> = mrz
        .checks
        .iter()
        .map(|c| {
            json!({
                "field": c.field.key(),
                "expected": c.expected.to_string(),
                "computed": c.computed.to_string(),
                "valid": c.valid,
            })
        })
        .collect();
    let date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let checks_valid = mrz.checks_valid();
    let dates_valid = mrz.dates_valid();
    let valid = checks_valid && dates_valid;
    let expired = mrz.expired_on(today);
    json!({
        "format": mrz.format.name(),
        "lines": mrz.lines,
        "documentCode": mrz.document_code,
        "issuingState": mrz.issuing_state,
        "surname": mrz.surname,
        "givenNames": mrz.given_names,
        "documentNumber": mrz.document_number,
        "nationality": mrz.nationality,
        "birthDate": date(mrz.birth_date),
        "birthDateRaw": mrz.birth_date_raw,
        "sex": mrz.sex.code().to_string(),
        "expiryDate": date(mrz.expiry_date),
        "expiryDateRaw": mrz.expiry_date_raw,
        "optionalData": mrz.optional_data,
        "optionalData2": mrz.optional_data_2,
        "age": mrz.age_on(today),
        "expired": expired,
        "checks": checks,
        "checkDigits": check_digits,
        "checksValid": checks_valid,
        "datesValid": dates_valid,
        "valid": valid,
        "validNotExpired": valid && expired == Some(false),
    })
}
