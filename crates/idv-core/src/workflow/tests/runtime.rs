//! Replays of general_kyc.yaml steps: schema checks, submissions, condition evaluation and
//! client rendering.

use std::collections::HashMap;

use serde_json::{Map, json};

use super::{KYC_LOCALE, kyc, props, regula_or_skip};
use crate::workflow::*;

#[test]
fn onboarding_replays() {
    regula_or_skip!();
    let w = kyc();
    let step = w.step("ONBOARDING").unwrap();
    let none = Map::new();

    assert!(
        w.validate_step_data(step, &json!({"continue": true}))
            .is_ok()
    );
    let out = w.submit(step, &json!({"continue": true}), &none).unwrap();
    assert_eq!(out.properties, props(json!({"CONTINUE": true})));
    assert_eq!(
        out.transition,
        Some(Transition {
            step: "PREPARE_DOCUMENT".into(),
            status: None,
            condition: "Prepare OK".into()
        })
    );

    let out = w.submit(step, &json!({"continue": false}), &none).unwrap();
    assert_eq!(
        out.transition,
        Some(Transition {
            step: "ABORT".into(),
            status: Some(0),
            condition: "Prepare NOT OK".into()
        })
    );

    let missing = w.validate_step_data(step, &json!({})).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].path, "");
    assert!(
        missing[0].message.contains("continue"),
        "{}",
        missing[0].message
    );
    let wrong = w
        .validate_step_data(step, &json!({"continue": "yes"}))
        .unwrap_err();
    assert_eq!(wrong[0].path, "/continue");
    assert!(wrong[0].message.contains("boolean"), "{}", wrong[0].message);

    // Nothing extracted: no rule is applicable, so nothing matches and properties stay.
    let kept = props(json!({"AGE": 30}));
    let out = w.submit(step, &json!({"other": 1}), &kept).unwrap();
    assert_eq!((out.properties, out.transition), (kept, None));
}

#[test]
fn doc_reader_and_rfid_steps() {
    regula_or_skip!();
    let w = kyc();
    let doc = w.step("DOC_READER").unwrap();
    let data = json!({"transactionId": "tx-1", "cancel": false, "has_nfc": true});
    assert!(w.validate_step_data(doc, &data).is_ok());
    // Before the async results arrive no rule applies: the session waits on the step.
    let out = w.submit(doc, &data, &Map::new()).unwrap();
    assert_eq!(
        out.properties,
        props(json!({"TRANSACTION_ID": "tx-1", "HAS_NFC": true, "CANCEL": false}))
    );
    assert_eq!(out.transition, None);
    let results =
        props(json!({"GET_DOCREADER_RESULTS_completed": true, "DOCTYPE": 12, "CHIP_PAGE": 1}));
    let out = w.submit(doc, &data, &results).unwrap();
    assert_eq!(out.transition.unwrap().step, "PREPARE_RFID");
    let no_chip =
        props(json!({"GET_DOCREADER_RESULTS_completed": true, "DOCTYPE": 12, "CHIP_PAGE": 0}));
    assert_eq!(
        w.submit(doc, &data, &no_chip)
            .unwrap()
            .transition
            .unwrap()
            .step,
        "PREPARE_LIVENESS"
    );
    let untyped = props(json!({"GET_DOCREADER_RESULTS_completed": true}));
    assert_eq!(
        w.submit(doc, &data, &untyped)
            .unwrap()
            .transition
            .unwrap()
            .step,
        "ERROR_DOC"
    );

    let err = w
        .submit(doc, &json!({"has_nfc": "maybe"}), &Map::new())
        .unwrap_err();
    let SubmitError::Coercion { property, .. } = &err;
    assert_eq!(property, "HAS_NFC");
    assert_eq!(crate::Error::from(err).code, crate::ErrorCode::StepFailed);

    let rfid = w.step("SCAN_RFID").unwrap();
    let out = w
        .submit(
            rfid,
            &json!({"transactionId": "", "cancel": false}),
            &Map::new(),
        )
        .unwrap();
    assert_eq!(
        out.transition.unwrap().condition,
        "Invalid rfid transaction"
    );
    let out = w
        .submit(
            rfid,
            &json!({"transactionId": "t", "cancel": true}),
            &Map::new(),
        )
        .unwrap();
    assert_eq!(out.transition.unwrap().step, "PREPARE_RFID");

    // The script rule `1 == 1` moves processing steps on.
    let next = w.evaluate_conditions(w.step("PERFORM_DATA_EXTRACTION").unwrap(), &Map::new());
    assert_eq!(next.unwrap().step, "PERFORM_MATCH");
}

#[test]
fn perform_checks_decides_the_status() {
    regula_or_skip!();
    let w = kyc();
    let step = w.step("PERFORM_CHECKS").unwrap();
    let good = json!({
        "TRANSACTION_ID": "tx", "FULL_AUTH_OVERALL_STATUS": 1, "DOCTYPE": 11, "AGE": 30,
        "LIVENESS_STATUS": 0, "LIVENESS_DOC_SIMILARITY": 0.93
    });
    let t = w.evaluate_conditions(step, &props(good.clone())).unwrap();
    assert_eq!(
        (t.step.as_str(), t.status, t.condition.as_str()),
        ("KYC_COMPLETED", Some(2), "All Good")
    );

    let mut minor = good.clone();
    minor["AGE"] = json!(17);
    let t = w.evaluate_conditions(step, &props(minor)).unwrap();
    assert_eq!(
        (t.step.as_str(), t.status, t.condition.as_str()),
        ("KYC_COMPLETED", Some(1), "Not Good")
    );

    let mut low = good.clone();
    low["LIVENESS_DOC_SIMILARITY"] = json!(0.79);
    assert_eq!(
        w.evaluate_conditions(step, &props(low)).unwrap().status,
        Some(1)
    );

    let mut passport = good;
    passport["DOCTYPE"] = json!(99);
    assert_eq!(
        w.evaluate_conditions(step, &props(passport))
            .unwrap()
            .condition,
        "Not Good"
    );

    // No data at all: similarity and liveness rules have no precondition and fail.
    assert_eq!(
        w.evaluate_conditions(step, &Map::new()).unwrap().status,
        Some(1)
    );
}

#[test]
fn onboarding_client_renders_with_translations() {
    regula_or_skip!();
    let w = kyc();
    let Ok(Loaded::Translations(entries)) = load(&KYC_LOCALE) else {
        panic!("locale file did not load")
    };
    assert_eq!(entries.len(), 105);
    assert!(entries.iter().all(|e| e.code == e.code.to_lowercase()));
    let chain = locale_chain(Some("en"), w.default_locale(), &[]);
    let locale: HashMap<String, String> = translations_for(&entries, &chain);
    let config =
        json!({"baseUrl": "http://h:8000", "services": {"docreader": {"prefix": "drapi"}}});
    let session = json!({"locale": "en-us"});
    let properties = Map::new();
    let ctx = RenderContext {
        locale: &locale,
        config: &config,
        session: &session,
        properties: &properties,
    };

    let client = w
        .render_client(w.step("ONBOARDING").unwrap(), &ctx)
        .unwrap()
        .unwrap();
    let layout = &client["templateLayout"];
    assert_eq!(layout["title"]["text"], "Verify your identity");
    assert_eq!(
        layout["details"]["items"][0]["image"]["imageURL"],
        "http://h:8000/api/v1/assets/onboardingScanDoc/content"
    );
    assert_eq!(
        layout["details"]["items"][0]["title"]["text"],
        "Scan your ID"
    );
    assert_eq!(
        layout["buttons"][0]["responseBody"],
        json!({"continue": true})
    );
    assert_eq!(client["templateId"], "INFO_DETAILS");

    let doc = w
        .render_client(w.step("DOC_READER").unwrap(), &ctx)
        .unwrap()
        .unwrap();
    assert_eq!(doc["locale"], "en-us");
    assert_eq!(
        doc["processParam"]["backendProcessing"]["serviceURL"],
        "http://h:8000/drapi"
    );

    // Without translations the key shows instead of a blank.
    let empty = HashMap::new();
    let bare = RenderContext {
        locale: &empty,
        ..ctx
    };
    let client = w
        .render_client(w.step("PREPARE_DOCUMENT").unwrap(), &bare)
        .unwrap()
        .unwrap();
    assert_eq!(
        client["templateLayout"]["title"]["text"],
        "GENERAL_KYC_SCAN_ID"
    );
    assert!(
        w.render_client(w.step("ERROR").unwrap(), &bare)
            .unwrap()
            .is_none()
    );
}
