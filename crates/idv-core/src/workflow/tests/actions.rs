//! general_kyc.yaml's HTTP side: its transformers over realistic Document Reader and Face API
//! responses, its actions rendered into requests, and step attempt limits.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{kyc, props, regula_or_skip};
use crate::workflow::*;

/// A Document Reader `/api/v2/transaction/{id}/results` body, shaped like the OpenAPI
/// `ProcessResponse`: containers in `ContainerList.List`, one result type each.
fn docreader_results() -> Value {
    let text_field = |field_type: i64, lcid: i64, value: &str| {
        json!({
            "fieldType": field_type, "fieldName": "x", "lcid": lcid, "lcidName": "Latin",
            "status": 1, "validityStatus": 1, "comparisonStatus": 0,
            "value": value,
            "valueList": [{"source": "MRZ", "value": value, "originalValue": value}]
        })
    };
    json!({
        "ChipPage": 1,
        "ProcessingFinished": 1,
        "TransactionInfo": {"TransactionID": "tx-123"},
        "ContainerList": {
            "Count": 5,
            "List": [
                {
                    "result_type": 15, "light": 0, "list_idx": 0, "page_idx": 0, "buf_length": 100,
                    "OneCandidate": {
                        "DocumentName": "Utopia - Passport (2006)",
                        "ID": 1001,
                        "P": 0.98,
                        "FDSIDList": {
                            "ICAOCode": "UTO", "Count": 1, "List": [14142],
                            "dType": 11, "dFormat": 2, "dMRZ": true, "isDeprecated": false
                        }
                    }
                },
                {
                    "result_type": 36, "light": 0, "list_idx": 0, "page_idx": 0, "buf_length": 900,
                    "Text": {
                        "status": 1, "validityStatus": 1, "comparisonStatus": 0,
                        "dateFormat": "dd.mm.yyyy",
                        "fieldList": [
                            text_field(25, 1049, "АННА МАРИЯ ЭРИКССОН"),
                            text_field(25, 0, "ANNA MARIA ERIKSSON"),
                            text_field(185, 0, "47"),
                            text_field(2, 0, "L898902C3"),
                            text_field(5, 0, "12.08.1974"),
                            text_field(11, 0, "Utopia")
                        ],
                        "availableSourceList": [{"source": "MRZ", "validityStatus": 1}]
                    }
                },
                {
                    "result_type": 37, "light": 0, "list_idx": 0, "page_idx": 0, "buf_length": 900,
                    "Images": {
                        "availableSourceList": [{"source": "VISUAL", "containerType": 17},
                                                {"source": "RFID", "containerType": 103}],
                        "fieldList": [
                            {
                                "fieldType": 207, "fieldName": "Document front side",
                                "valueList": [{"source": "VISUAL", "containerType": 6,
                                               "value": "RlJPTlQ=", "pageIndex": 0}]
                            },
                            {
                                "fieldType": 201, "fieldName": "Portrait",
                                "valueList": [
                                    {"source": "RFID", "containerType": 103,
                                     "value": "UkZJRA==", "pageIndex": 0},
                                    {"source": "VISUAL", "containerType": 6,
                                     "value": "VklTVUFM", "pageIndex": 0}
                                ]
                            }
                        ]
                    }
                },
                {
                    "result_type": 33, "light": 0, "list_idx": 0, "page_idx": 0, "buf_length": 90,
                    "Status": {
                        "overallStatus": 1, "optical": 1, "portrait": 2, "rfid": 2, "stopList": 2,
                        "detailsOptical": {
                            "overallStatus": 1, "docType": 1, "expiry": 1, "imageQA": 1,
                            "mrz": 1, "pagesCount": 1, "security": 1, "text": 1
                        },
                        "detailsRFID": {"overallStatus": 2, "AA": 2, "BAC": 2, "CA": 2,
                                        "PA": 2, "PACE": 2, "TA": 2}
                    }
                }
            ]
        }
    })
}

fn updates(outcome: TransformOutcome) -> Map<String, Value> {
    match outcome {
        TransformOutcome::Properties(m) => m,
        other => panic!("expected properties, got {other:?}"),
    }
}

#[test]
fn docreader_results_fill_typed_properties() {
    regula_or_skip!();
    let w = kyc();
    let out = updates(
        w.run_transformer("GET_DOC_READER_RESULTS", &docreader_results())
            .unwrap(),
    );
    assert_eq!(
        out,
        props(json!({
            "DOCTYPE": 11,
            "CHIP_PAGE": 1,
            // "47" in the response, an int property.
            "AGE": 47,
            "FULL_AUTH_OVERALL_STATUS": 1,
            "MRZ_STATUS": 1,
            // lcid 0 (Latin), not the first fieldType 25 entry (lcid 1049).
            "FULL_NAME": "ANNA MARIA ERIKSSON",
            "DOCUMENT_NUMBER": "L898902C3",
            // containerType 6 is tried first and found, though 103 comes first in the list.
            "DOC_PHOTO": "VklTVUFM",
            "NATIONALITY": "Utopia",
            "DATE_OF_BIRTH": "12.08.1974"
        }))
    );
    // RFID_STATUS, FIRST_NAME and SURNAME are not in the response: left out, not nulled.
    assert!(!out.contains_key("RFID_STATUS"));
    assert!(!out.contains_key("FIRST_NAME"));
}

#[test]
fn docreader_portrait_falls_back_to_the_rfid_image() {
    regula_or_skip!();
    let w = kyc();
    let mut doc = docreader_results();
    let portrait = "/ContainerList/List/2/Images/fieldList/1/valueList";
    let mut values = doc.pointer(portrait).unwrap().as_array().unwrap().clone();
    values.remove(1);
    *doc.pointer_mut(portrait).unwrap() = Value::Array(values);
    let out = updates(w.run_transformer("GET_DOC_READER_RESULTS", &doc).unwrap());
    assert_eq!(out["DOC_PHOTO"], json!("UkZJRA=="));

    // With no portrait at all, the document photo of another fieldType is not taken.
    *doc.pointer_mut(portrait).unwrap() = json!([]);
    let out = updates(w.run_transformer("GET_DOC_READER_RESULTS", &doc).unwrap());
    assert!(!out.contains_key("DOC_PHOTO"));
}

#[test]
fn docreader_values_that_do_not_fit_their_type_fail() {
    regula_or_skip!();
    let w = kyc();
    let mut doc = docreader_results();
    doc["ContainerList"]["List"][1]["Text"]["fieldList"][2]["value"] = json!("forty");
    let err = w
        .run_transformer("GET_DOC_READER_RESULTS", &doc)
        .unwrap_err();
    let SubmitError::Coercion { property, .. } = &err;
    assert_eq!(property, "AGE");
}

#[test]
fn face_match_similarity_is_a_decimal() {
    regula_or_skip!();
    let w = kyc();
    // Face API `POST /api/match` response (MatchResponse).
    let body = json!({
        "code": 0,
        "detections": [
            {"faces": [{"faceIndex": 0, "landmarks": [], "roi": [1, 2, 3, 4]}], "imageIndex": 0},
            {"faces": [{"faceIndex": 0, "landmarks": [], "roi": [1, 2, 3, 4]}], "imageIndex": 1}
        ],
        "results": [
            {"firstFaceIndex": 0, "firstIndex": 0, "secondFaceIndex": 0, "secondIndex": 1,
             "score": 0.55, "similarity": 0.9312}
        ],
        "metadata": {}
    });
    let out = updates(
        w.run_transformer("MATCH_DOC_AND_LIVENESS_TRANSFORMER", &body)
            .unwrap(),
    );
    assert_eq!(out, props(json!({"LIVENESS_DOC_SIMILARITY": 0.9312})));
    let out = updates(
        w.run_transformer(
            "MATCH_DOC_AND_LIVENESS_TRANSFORMER",
            &json!({"results": []}),
        )
        .unwrap(),
    );
    assert!(out.is_empty());
}

#[test]
fn binary_and_unknown_transformers() {
    regula_or_skip!();
    let w = kyc();
    assert_eq!(
        w.run_transformer("LIVENESS_PORTRAIT_TRANSFORMER", &Value::Null)
            .unwrap(),
        TransformOutcome::StoreBinary(vec!["LIVENESS_PORTRAIT".into()])
    );
    assert!(matches!(
        w.run_transformer("NOPE", &json!({})).unwrap(),
        TransformOutcome::Skipped { .. }
    ));
}

#[test]
fn a_malformed_easyjson_rule_is_a_load_problem() {
    regula_or_skip!();
    let text = super::replace_once(
        &super::KYC,
        "      - id: CHIP_PAGE\n        rule:\n          key: ChipPage",
        "      - id: CHIP_PAGE\n        rule:\n          path: ChipPage",
    );
    let problems = super::problems_of(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "transformers[0].extracts[1].rule");
    assert!(
        problems[0].message.contains("`key`"),
        "{}",
        problems[0].message
    );
}

struct Ctx {
    locale: HashMap<String, String>,
    config: Value,
    session: Value,
    properties: Map<String, Value>,
    binaries: HashMap<String, Vec<u8>>,
}

impl Ctx {
    fn new(properties: Value) -> Ctx {
        Ctx {
            locale: HashMap::new(),
            config: json!({"services": {
                "docreader": {"url": "http://docreader:8080"},
                "faceapi": {"url": "http://faceapi:41101"}
            }}),
            session: json!({"locale": "en-us"}),
            properties: props(properties),
            binaries: HashMap::new(),
        }
    }

    fn get(&self) -> ActionContext<'_> {
        ActionContext {
            locale: &self.locale,
            config: &self.config,
            session: &self.session,
            properties: &self.properties,
            binaries: &self.binaries,
        }
    }
}

#[test]
fn match_action_sends_both_images_base64() {
    regula_or_skip!();
    let w = kyc();
    let mut ctx = Ctx::new(json!({"DOC_PHOTO": "file-doc", "LIVENESS_PORTRAIT": "file-live"}));
    ctx.binaries
        .insert("file-doc".into(), vec![0xff, 0xd8, 0xff, 0x00]);
    ctx.binaries.insert("file-live".into(), b"selfie".to_vec());
    ctx.binaries.insert("unrelated".into(), b"x".to_vec());
    let req = w
        .render_action("MATCH_DOC_AND_LIVENESS", &ctx.get())
        .unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "http://faceapi:41101/api/match?logRequest=false");
    assert_eq!(req.headers, vec![]);
    assert_eq!(req.success_codes, vec![200]);
    assert_eq!(req.timeout, Duration::from_secs(25));
    assert_eq!(req.file_id.as_deref(), Some("match_doc_and_liveness"));
    let body: Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"images": [
            {"index": 0, "data": "/9j/AA==", "type": 1},
            {"index": 1, "data": "c2VsZmll", "type": 3}
        ]})
    );

    assert!(w.action_applies("MATCH_DOC_AND_LIVENESS", &ctx.properties));
    let without = props(json!({"DOC_PHOTO": "file-doc"}));
    assert!(!w.action_applies("MATCH_DOC_AND_LIVENESS", &without));

    // A file the caller did not load is an error, not an empty image.
    ctx.binaries.remove("file-live");
    let err = w
        .render_action("MATCH_DOC_AND_LIVENESS", &ctx.get())
        .unwrap_err();
    assert_eq!(err.code, crate::ErrorCode::StepFailed);
    assert!(err.message.contains("file-live"), "{}", err.message);
}

#[test]
fn docreader_scenario_renders_url_and_body() {
    regula_or_skip!();
    let w = kyc();
    let ctx = Ctx::new(json!({"TRANSACTION_ID": "4f1c"}));
    let req = w.render_action("DOCREADER_SCENARIO", &ctx.get()).unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.url,
        "http://docreader:8080/api/v2/transaction/4f1c/process?useCache=true"
    );
    assert_eq!(req.timeout, DEFAULT_TIMEOUT);
    assert_eq!(req.file_id, None);
    let body: Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["processParam"]["faceApi"]["url"],
        "http://faceapi:41101"
    );
    assert_eq!(body["processParam"]["scenario"], "FullProcess");
    assert!(w.action_applies("DOCREADER_SCENARIO", &Map::new()));
    assert!(!w.action_applies("NO_SUCH_ACTION", &Map::new()));
    assert!(w.render_action("NO_SUCH_ACTION", &ctx.get()).is_err());
}

#[test]
fn liveness_portrait_tolerates_404_with_a_shorter_timeout() {
    regula_or_skip!();
    let w = kyc();
    let ctx = Ctx::new(json!({"LIVENESS_TRANSACTION_ID": "lv-9"}));
    let req = w
        .render_action("GET_LIVENESS_PORTRAIT", &ctx.get())
        .unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.url,
        "http://faceapi:41101/api/v2/liveness/portrait?transactionId=lv-9&logRequest=false"
    );
    assert_eq!(req.body, None);
    assert_eq!(req.success_codes, vec![200, 404]);
    assert_eq!(req.timeout, Duration::from_secs(20));
}

#[test]
fn options_headers_and_defaults() {
    let def = json!({
        "id": "w", "name": "w",
        "steps": [{"id": "S", "name": "S", "type": "DATA", "final": true, "actions": [
            {"id": "A"}, {"id": "B"}
        ]}],
        "properties": [{"id": "TOKEN", "type": "str"}],
        "actions": [
            {"id": "A", "name": "A", "type": "http", "options": {
                "url": "https://example.test/x", "method": "put",
                "headers": {"Authorization": "Bearer {{ TOKEN }}", "X-Lang": "{{ session.locale }}"},
                "body": {"token": "{{ TOKEN | b64encode }}", "n": 1},
                "successCodes": [201, 204], "timeout": 1.5
            }},
            {"id": "B", "name": "B", "type": "http", "options": {
                "url": "https://example.test/y",
                "headers": [{"name": "X-A", "value": "a"}]
            }}
        ]
    });
    let w = match Workflow::from_definition(def) {
        Ok(w) => w,
        Err(p) => panic!("{}", super::lines(&p)),
    };
    let ctx = Ctx::new(json!({"TOKEN": "t0k"}));
    let req = w.render_action("A", &ctx.get()).unwrap();
    assert_eq!(req.method, "PUT");
    assert_eq!(
        req.headers,
        vec![
            ("Authorization".to_owned(), "Bearer t0k".to_owned()),
            ("X-Lang".to_owned(), "en-us".to_owned())
        ]
    );
    let body: Value = serde_json::from_str(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(body, json!({"token": "dDBr", "n": 1}));
    assert_eq!(req.success_codes, vec![201, 204]);
    assert_eq!(req.timeout, Duration::from_millis(1500));
    let req = w.render_action("B", &ctx.get()).unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.headers, vec![("X-A".to_owned(), "a".to_owned())]);
    assert_eq!((req.body, req.success_codes), (None, vec![200]));
}

#[test]
fn attempts_force_the_transit_once_the_count_is_used_up() {
    regula_or_skip!();
    let w = kyc();
    let doc_reader = w.step("DOC_READER").unwrap();
    for done in 0..3 {
        assert_eq!(w.attempts_exceeded(doc_reader, done), None, "{done}");
    }
    let forced = Transition {
        step: "KYC_FAILED".into(),
        status: Some(1),
        condition: "DOC_READER.attempts".into(),
    };
    assert_eq!(w.attempts_exceeded(doc_reader, 3), Some(forced.clone()));
    assert_eq!(w.attempts_exceeded(doc_reader, 4), Some(forced));
    // A step without `attempts` has no limit.
    assert_eq!(w.attempts_exceeded(w.first_step(), 1000), None);
}
