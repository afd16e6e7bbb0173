//! The `mrz` action through HTTP: a form step takes the MRZ the person typed, the action reads
//! it natively with the server clock's date, its result fills properties and is stored as a
//! session file; an expired document, a wrong check digit and a minor take other ways, and the
//! age moves when the clock passes the birthday.

use crate::common;
use chrono::NaiveDate;
use common::{Backend, TestServer};
use idv_core::time::Clock as _;
use serde_json::{Value, json};

const WF_ID: &str = "0b6d2f0e-5a8c-4f39-9d1e-6a2b4c8e0f12";

const WORKFLOW: &str = r#"
id: 0b6d2f0e-5a8c-4f39-9d1e-6a2b4c8e0f12
name: MRZ check
version: "1"
steps:
  - id: ENTER_MRZ
    name: Type the MRZ
    type: DATA
    fileId: mrz_form
    transformers: [{id: FORM_T}]
    actions: [{id: READ_MRZ}]
    conditions:
      - name: Adult with a valid document
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: mrz_ok, decision: true}]
      - name: Too young, try again later
        transit: {step: ENTER_MRZ}
        rules: [{id: too_young, decision: true}]
      - name: Expired document
        transit: {step: EXPIRED, status: NOT_VERIFIED}
        rules: [{id: expired_rule, decision: true}]
      - name: Anything else
        transit: {step: REJECTED, status: NOT_VERIFIED}
        rules: []
  - {id: DONE, name: DONE, type: DATA, final: true}
  - {id: EXPIRED, name: EXPIRED, type: DATA, final: true}
  - {id: REJECTED, name: REJECTED, type: DATA, final: true}
properties:
  - {id: MRZ_TEXT, type: str}
  - {id: DOCUMENT_NUMBER, type: str}
  - {id: SURNAME, type: str}
  - {id: AGE, type: int}
  - {id: MRZ_VALID, type: bool}
  - {id: EXPIRED, type: bool}
  - {id: MRZ_ERROR, type: str}
transformers:
  - id: FORM_T
    type: json
    extracts: [{id: MRZ_TEXT, rule: $.mrz}]
  - id: MRZ_T
    type: json
    extracts:
      - {id: DOCUMENT_NUMBER, rule: $.documentNumber}
      - {id: SURNAME, rule: $.surname}
      - {id: AGE, rule: $.age}
      - {id: MRZ_VALID, rule: $.valid}
      - {id: EXPIRED, rule: $.expired}
      - {id: MRZ_ERROR, rule: $.error.code}
actions:
  - id: READ_MRZ
    name: Read the MRZ
    type: mrz
    fileId: mrz_result
    transformers: [{id: MRZ_T}]
    options:
      mrz: "{{ MRZ_TEXT }}"
rules:
  - id: mrz_ok
    name: Valid, not expired, adult
    condition: {type: script, script: "MRZ_VALID == true and EXPIRED == false and AGE >= 18"}
  - id: too_young
    name: Valid, not expired, minor
    condition: {type: script, script: "MRZ_VALID == true and EXPIRED == false and AGE < 18"}
  - id: expired_rule
    name: Valid but expired
    condition: {type: script, script: "MRZ_VALID == true and EXPIRED == true"}
files:
  - id: mrz_form
    type: UNKNOWN
    contentType: application/json
    jsonSchema: '{"type": "object", "properties": {"mrz": {"type": "string"}}, "required": ["mrz"]}'
  - id: mrz_result
    type: UNKNOWN
    contentType: application/json
"#;

const DAY_MS: i64 = 86_400_000;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn cd(s: &str) -> char {
    idv_mrz::check_digit(s).unwrap()
}

/// A TD3 passport MRZ with these fields and correct check digits.
fn passport(number: &str, birth: NaiveDate, expiry: NaiveDate) -> String {
    let number = format!("{number:<<9}");
    let b = birth.format("%y%m%d").to_string();
    let e = expiry.format("%y%m%d").to_string();
    let personal = "ZE184226B<<<<<";
    let mut l2 = format!(
        "{number}{}UTO{b}{}F{e}{}{personal}{}",
        cd(&number),
        cd(&b),
        cd(&e),
        cd(personal)
    );
    let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
    l2.push(cd(&composite));
    format!("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n{l2}")
}

struct Env {
    srv: TestServer,
    auth: String,
}

/// A server whose clock reads noon UTC on 14 June 2030.
async fn env(backend: Backend) -> Env {
    let srv = TestServer::start(backend).await;
    let noon = day(2030, 6, 14)
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    srv.clock.advance(noon - srv.clock.now_ms());
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(WORKFLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    Env {
        srv,
        auth: format!("ApiKey {key}"),
    }
}

impl Env {
    async fn start(&self) -> String {
        let r = self
            .srv
            .post(&format!("/api/sessions?workflowId={WF_ID}"))
            .header("authorization", &self.auth)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Submits `mrz` as typed; answers the step reached.
    async fn type_mrz(&self, id: &str, mrz: &str) -> String {
        let r = self
            .srv
            .submit(&self.auth, id, "ENTER_MRZ", json!({"mrz": mrz}))
            .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// A new session given `mrz`: `(step reached, session)`.
    async fn run(&self, mrz: &str) -> (String, Value) {
        let id = self.start().await;
        let step = self.type_mrz(&id, mrz).await;
        (step, self.srv.session(&self.auth, &id).await)
    }

    /// The JSON the action stored as the session's `mrz_result` file.
    async fn result_file(&self, session: &Value) -> Value {
        let files = session["files"].as_array().unwrap();
        let file = files
            .iter()
            .find(|f| f["name"] == "mrz_result")
            .unwrap_or_else(|| panic!("the result is a file: {files:#?}"));
        let r = self
            .srv
            .client
            .get(file["url"].as_str().unwrap())
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

async fn typed_mrz_decides(backend: Backend) {
    let e = env(backend).await;

    // A valid passport of an adult: properties filled, verified, the result kept as a file.
    let mrz = passport("L898902C3", day(1974, 8, 12), day(2034, 4, 15));
    let (step, s) = e.run(&mrz).await;
    assert_eq!((step.as_str(), &s["status"]), ("DONE", &json!(2)), "{s:#}");
    let p = &s["properties"];
    assert_eq!(p["DOCUMENT_NUMBER"], "L898902C3");
    assert_eq!(p["SURNAME"], "ERIKSSON");
    assert_eq!(p["AGE"], 55);
    assert_eq!(p["MRZ_VALID"], true);
    assert_eq!(p["EXPIRED"], false);
    assert_eq!(p["READ_MRZ_completed"], true);
    let stored = e.result_file(&s).await;
    assert_eq!(stored["format"], "TD3");
    assert_eq!(stored["birthDate"], "1974-08-12");
    assert_eq!(stored["expiryDate"], "2034-04-15");
    assert_eq!(stored["checks"]["composite"], true);
    assert_eq!(stored["validNotExpired"], true);

    // Expired yesterday by the server's clock.
    let mrz = passport("L898902C3", day(1974, 8, 12), day(2030, 6, 13));
    let (step, s) = e.run(&mrz).await;
    assert_eq!((step.as_str(), &s["status"]), ("EXPIRED", &json!(1)));
    assert_eq!(s["properties"]["MRZ_VALID"], true);
    assert_eq!(s["properties"]["EXPIRED"], true);

    // A wrong check digit (the birth date's: 2 → 3).
    let good = passport("L898902C3", day(1974, 8, 12), day(2034, 4, 15));
    let bad = good.replacen("7408122", "7408123", 1);
    assert_ne!(good, bad);
    let (step, s) = e.run(&bad).await;
    assert_eq!((step.as_str(), &s["status"]), ("REJECTED", &json!(1)));
    assert_eq!(s["properties"]["MRZ_VALID"], false);
    let stored = e.result_file(&s).await;
    assert_eq!(stored["checks"]["birthDate"], false);
    assert_eq!(stored["checks"]["documentNumber"], true);

    // Not an MRZ: the error's code is a property.
    let (step, s) = e.run("P<UTOERIKSSON<<ANNA<MARIA").await;
    assert_eq!(step, "REJECTED");
    assert_eq!(s["properties"]["MRZ_ERROR"], "unknown_format");
    assert!(s["properties"].get("DOCUMENT_NUMBER").is_none());
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_mrz_decides_the_status_sqlite() {
    typed_mrz_decides(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_mrz_decides_the_status_postgres() {
    typed_mrz_decides(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_age_moves_with_the_server_clock() {
    let e = env(Backend::Sqlite).await;
    // 18 on 15 June 2030, the day after the server's today.
    let mrz = passport("X1234567", day(2012, 6, 15), day(2035, 1, 1));
    let id = e.start().await;
    assert_eq!(e.type_mrz(&id, &mrz).await, "ENTER_MRZ");
    let s = e.srv.session(&e.auth, &id).await;
    assert_eq!(s["properties"]["AGE"], 17);
    assert_eq!(s["status"], 0);
    // A day later by the server's clock, the same MRZ again.
    e.srv.clock.advance(DAY_MS);
    assert_eq!(e.type_mrz(&id, &mrz).await, "DONE");
    let s = e.srv.session(&e.auth, &id).await;
    assert_eq!(s["properties"]["AGE"], 18);
    assert_eq!(s["status"], 2);
    e.srv.stop().await;
}
