//! More of the capture page in a real browser: start links opened in the browser (two sessions,
//! then the "used up" and "expired" pages), idv's CAPTURE template and Regula's SCAN_RFID in
//! small workflows of their own, a right-to-left locale, and the example KYC's form used with
//! the keyboard only. Screenshots and the accessibility check as in `capture`.

use crate::capture::{
    WAIT, check, deeplink, file_bytes, heading, jpeg_size, kyc_server, open_at, phone, primary,
    take_photos, wait_step,
};
use crate::common;
use crate::support::browser::Browser;

use common::standins::DocReader;
use common::*;
use serde_json::{Value, json};

/// `POST /api/links` with `body`; answers the created link (`id`, `url`, …).
async fn start_link(srv: &TestServer, key: &str, body: Value) -> Value {
    let r = srv
        .post("/api/links")
        .header("authorization", format!("ApiKey {key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// The session the page holds (from this tab's storage).
async fn page_session(b: &Browser) -> String {
    b.execute(
        "return JSON.parse(sessionStorage.getItem('idv.capture')).sessionId;",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// The HTTP status of the document on show.
async fn page_status(b: &Browser) -> Value {
    b.execute(
        "return performance.getEntriesByType('navigation')[0].responseStatus;",
        vec![],
    )
    .await
}

/// Waits until the server's notice page titled `title` is on show.
async fn wait_page(b: &Browser, title: &str) {
    b.wait_until(
        &format!(
            "document.readyState === 'complete' && \
             (document.querySelector('main.notice h1') || {{}}).textContent === {title:?}"
        ),
        WAIT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_link_in_the_browser_two_sessions_then_used_up_and_expired() {
    let dr = DocReader::start().await;
    let (srv, key) = kyc_server(Backend::Sqlite, &dr).await;
    let auth = format!("ApiKey {key}");
    let link = start_link(
        &srv,
        &key,
        json!({"workflowId": KYC_ID, "maxUses": 2, "metadata": {"campaign": "counter"}}),
    )
    .await;
    let link_id = link["id"].as_str().unwrap().to_string();
    let url = link["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/l/", srv.url)), "{url}");

    // Each opening starts its own session, on its first step; the code leaves the address bar.
    let b = Browser::start().await;
    let mut sessions = Vec::new();
    for n in 1..=2 {
        open_at(&b, &url, "ONBOARDING").await;
        assert_eq!(b.current_url().await, format!("{}/mobile", srv.url));
        assert_eq!(heading(&b).await, "Let's confirm who you are");
        check(&b, &format!("opened-{n}")).await;
        sessions.push(page_session(&b).await);
    }
    assert_ne!(sessions[0], sessions[1], "two openings, two sessions");
    for id in &sessions {
        let s = srv.session(&auth, id).await;
        assert_eq!(s["workflow"]["id"], KYC_ID, "{s:#}");
        assert_eq!(s["currentStep"], "ONBOARDING");
        assert_eq!(
            s["metadata"],
            json!({"campaign": "counter", "startLinkId": link_id}),
            "{s:#}"
        );
    }

    // A third opening: the "used up" page, and no third session.
    b.goto(&url).await;
    wait_page(&b, "Link used up").await;
    assert_eq!(page_status(&b).await, json!(410));
    assert_eq!(b.title().await, "Link used up");
    check(&b, "used-up").await;
    let reader = srv.key(&["deeplink:read"]).await;
    let r = srv
        .get(&format!("/api/links/{link_id}"))
        .header("authorization", format!("ApiKey {reader}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["uses"], 2, "{view:#}");

    // A link past its expiry on the server's clock.
    let expiring = start_link(&srv, &key, json!({"workflowId": KYC_ID, "expiresIn": 60})).await;
    srv.clock.advance(60_001);
    b.goto(expiring["url"].as_str().unwrap()).await;
    wait_page(&b, "Link expired").await;
    assert_eq!(page_status(&b).await, json!(410));
    check(&b, "expired").await;
    drop(b);
    srv.stop().await;
}

/// A server with one workflow of a test's own (and its texts), and an API key that may create
/// deeplinks and read sessions.
async fn own_server(workflow: &str, locale: &str) -> (TestServer, String) {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_workflow(workflow, locale).await;
    let key = srv
        .key(&["deeplink:write", "session_all:read", "session_all:write"])
        .await;
    (srv, key)
}

/// What the small workflows below share: the `continue` answer, its transformer and rule.
const CONTINUE_PARTS: &str = r#"
rules:
  - id: went_on
    name: The person went on
    precondition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - property: CONTINUE
              op: $exists
    condition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - property: CONTINUE
              op: $eq
              value: 'true'
"#;

const CAPTURE_ID: &str = "3f2b6c1d-7a4e-4b8c-9d0e-1a2b3c4d5e6f";

/// One CAPTURE step (a photo of a document page), then a final STATUS step.
fn capture_workflow() -> String {
    format!(
        r#"id: {CAPTURE_ID}
name: One photo
version: "1"
lifetime: 900
defaultLocale: en-us
locales:
  - code: en-us
    value: English
steps:
  - id: PHOTO_STEP
    name: Photo
    fileId: continue_answer
    cancelLifetimeTimer: false
    type: DATA
    client:
      templateId: CAPTURE
      templateLayout:
        title:
          text: "{{{{ locale.ONE_PHOTO_TITLE }}}}"
        description:
          text: "{{{{ locale.ONE_PHOTO_HINT }}}}"
        captures:
          - property: PHOTO
            label: Photo
            kind: document
    transformers:
      - id: CONTINUE_TRANSFORMER
    conditions:
      - name: Photo taken
        transit:
          step: DONE
          status: VERIFIED
        rules:
          - id: photo_taken
            decision: true
      - name: No photo yet
        transit:
          step: PHOTO_STEP
        rules:
          - id: photo_taken
            decision: false
  - id: DONE
    name: Done
    cancelLifetimeTimer: false
    final: true
    type: DATA
    client:
      templateId: STATUS
      templateLayout:
        title:
          text: "{{{{ locale.ONE_PHOTO_DONE }}}}"
{CONTINUE_PARTS}
  - id: photo_taken
    name: Photo uploaded
    condition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - property: PHOTO
              op: $exists
properties:
  - id: CONTINUE
    type: bool
  - id: PHOTO
    type: binary
transformers:
  - id: CONTINUE_TRANSFORMER
    name: Continue
    type: json
    extracts:
      - id: CONTINUE
        rule: $.continue
files:
  - id: continue_answer
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {{"type": "object", "properties": {{"continue": {{"type": "boolean"}}}}, "required": ["continue"]}}
"#
    )
}

const CAPTURE_LOCALE: &str = r#"
- key: ONE_PHOTO_TITLE
  code: en-us
  value: "Photograph the page"
- key: ONE_PHOTO_HINT
  code: en-us
  value: "Hold the page flat in good light."
- key: ONE_PHOTO_DONE
  code: en-us
  value: "Thank you, the photo is in"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_capture_template_takes_a_photo_and_ends_on_the_status_step() {
    let (srv, key) = own_server(&capture_workflow(), CAPTURE_LOCALE).await;
    let auth = format!("ApiKey {key}");
    let link = deeplink(&srv, &key, CAPTURE_ID, json!({})).await;
    let id = link["sessionId"].as_str().unwrap().to_string();

    let b = phone(srv.dir.path()).await;
    open_at(&b, link["url"].as_str().unwrap(), "PHOTO_STEP").await;
    assert_eq!(heading(&b).await, "Photograph the page");
    assert_eq!(
        b.find("section.capture[data-property='PHOTO'] h2")
            .await
            .text()
            .await,
        "Photo"
    );
    take_photos(&b, &["PHOTO"], "capture-camera").await;
    check(&b, "capture-taken").await;
    primary(&b).await;

    wait_step(&b, "DONE").await;
    assert_eq!(heading(&b).await, "Thank you, the photo is in");
    check(&b, "done").await;

    let s = srv.session(&auth, &id).await;
    assert_eq!(s["currentStep"], "DONE", "{s:#}");
    assert_eq!(s["status"], 2, "verified: {s:#}");
    let url = s["properties"]["PHOTO"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("PHOTO is a file: {s:#}"));
    let bytes = file_bytes(&srv, &auth, url).await;
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
    assert_eq!(
        jpeg_size(&bytes),
        Some((640, 480)),
        "the fake camera's frame"
    );
    drop(b);
    srv.stop().await;
}

const RFID_ID: &str = "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f";

/// An INFO step, then SCAN_RFID whose `cancel` leads back to it (Regula's transformers and
/// rule), and a final step for a read chip.
fn rfid_workflow() -> String {
    format!(
        r#"id: {RFID_ID}
name: Chip
version: "1"
lifetime: 900
defaultLocale: en-us
locales:
  - code: en-us
    value: English
steps:
  - id: PREPARE_RFID
    name: Prepare
    fileId: continue_answer
    cancelLifetimeTimer: false
    type: DATA
    client:
      templateId: INFO
      templateLayout:
        title:
          text: "{{{{ locale.CHIP_TITLE }}}}"
        description:
          text: "{{{{ locale.CHIP_HINT }}}}"
        buttons:
          - title:
              text: "{{{{ locale.CHIP_READ }}}}"
            responseBody:
              continue: true
    transformers:
      - id: CONTINUE_TRANSFORMER
    conditions:
      - name: Read the chip
        transit:
          step: SCAN_RFID
        rules:
          - id: went_on
            decision: true
  - id: SCAN_RFID
    name: SCAN_RFID
    fileId: scan_rfid
    cancelLifetimeTimer: false
    type: DATA
    client:
      templateId: SCAN_RFID
      locale: '{{{{ session.locale }}}}'
    transformers:
      - id: SCAN_RFID_TRANSFORMER
      - id: CANCEL_TRANSFORMER
    conditions:
      - name: Rfid cancel
        transit:
          step: PREPARE_RFID
        rules:
          - id: cancel_rule
            decision: true
      - name: Read
        transit:
          step: DONE
          status: VERIFIED
        rules:
          - id: cancel_rule
            decision: false
  - id: DONE
    name: Done
    cancelLifetimeTimer: false
    final: true
    type: DATA
    client:
      templateId: STATUS
      templateLayout:
        title:
          text: Done
{CONTINUE_PARTS}
  - id: cancel_rule
    name: Cancel
    precondition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - property: CANCEL
              op: $exists
    condition:
      type: statement
      op: $and
      groups:
        - op: $and
          conditions:
            - property: CANCEL
              op: $eq
              value: 'true'
properties:
  - id: CONTINUE
    type: bool
  - id: CANCEL
    type: bool
  - id: SCAN_RFID_TRANSACTION_ID
    type: str
transformers:
  - id: CONTINUE_TRANSFORMER
    name: CONTINUE_TRANSFORMER
    type: json
    extracts:
      - id: CONTINUE
        rule: $..continue
  - id: SCAN_RFID_TRANSFORMER
    name: SCAN_RFID_TRANSFORMER
    type: json
    extracts:
      - id: SCAN_RFID_TRANSACTION_ID
        rule: $..transactionId
  - id: CANCEL_TRANSFORMER
    name: CANCEL_TRANSFORMER
    type: json
    extracts:
      - id: CANCEL
        rule: $..cancel
files:
  - id: continue_answer
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {{"type": "object", "properties": {{"continue": {{"type": "boolean"}}}}, "required": ["continue"]}}
  - id: scan_rfid
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {{"type": "object", "properties": {{"transactionId": {{"type": "string"}}, "cancel": {{"type": "boolean"}}}}}}
"#
    )
}

const RFID_LOCALE: &str = r#"
- key: CHIP_TITLE
  code: en-us
  value: "Read your document's chip"
- key: CHIP_HINT
  code: en-us
  value: "Passports and many identity cards hold a chip."
- key: CHIP_READ
  code: en-us
  value: "Read the chip"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn scan_rfid_says_a_browser_cannot_and_goes_back() {
    let (srv, key) = own_server(&rfid_workflow(), RFID_LOCALE).await;
    let auth = format!("ApiKey {key}");
    let link = deeplink(&srv, &key, RFID_ID, json!({})).await;
    let id = link["sessionId"].as_str().unwrap().to_string();

    let b = Browser::start().await;
    open_at(&b, link["url"].as_str().unwrap(), "PREPARE_RFID").await;
    assert_eq!(heading(&b).await, "Read your document's chip");
    check(&b, "prepare-rfid").await;
    primary(&b).await;

    wait_step(&b, "SCAN_RFID").await;
    assert_eq!(heading(&b).await, "Chip reading is not possible here");
    assert_eq!(
        b.find("main h1 + p").await.text().await,
        "A browser cannot read the chip of a document. Go back and skip this step."
    );
    check(&b, "scan-rfid").await;
    let back = b.find("main .actions button.primary").await;
    assert_eq!(back.text().await, "Back");
    back.click().await;

    // The workflow's cancel path: back on the step before, as the session says too.
    wait_step(&b, "PREPARE_RFID").await;
    assert_eq!(heading(&b).await, "Read your document's chip");
    b.screenshot("back-to-prepare-rfid").await;
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["currentStep"], "PREPARE_RFID", "{s:#}");
    assert_eq!(s["properties"]["CANCEL"], true, "{s:#}");
    drop(b);
    srv.stop().await;
}

const RTL_ID: &str = "7e6d5c4b-3a29-4f18-8e07-d6c5b4a39281";

/// One INFO step in Arabic, then a final step.
fn rtl_workflow() -> String {
    format!(
        r#"id: {RTL_ID}
name: Arabic
version: "1"
lifetime: 900
defaultLocale: ar
locales:
  - code: ar
    value: العربية
steps:
  - id: WELCOME
    name: Welcome
    fileId: continue_answer
    cancelLifetimeTimer: false
    type: DATA
    client:
      templateId: INFO
      templateLayout:
        title:
          text: "{{{{ locale.RTL_TITLE }}}}"
        description:
          text: "{{{{ locale.RTL_HINT }}}}"
        buttons:
          - title:
              text: "{{{{ locale.RTL_START }}}}"
            responseBody:
              continue: true
    transformers:
      - id: CONTINUE_TRANSFORMER
    conditions:
      - name: Started
        transit:
          step: DONE
          status: VERIFIED
        rules:
          - id: went_on
            decision: true
  - id: DONE
    name: Done
    cancelLifetimeTimer: false
    final: true
    type: DATA
    client:
      templateId: STATUS
      templateLayout:
        title:
          text: "{{{{ locale.RTL_DONE }}}}"
{CONTINUE_PARTS}
properties:
  - id: CONTINUE
    type: bool
transformers:
  - id: CONTINUE_TRANSFORMER
    name: Continue
    type: json
    extracts:
      - id: CONTINUE
        rule: $.continue
files:
  - id: continue_answer
    type: UNKNOWN
    contentType: application/json
    jsonSchema: |
      {{"type": "object", "properties": {{"continue": {{"type": "boolean"}}}}, "required": ["continue"]}}
"#
    )
}

const RTL_LOCALE: &str = r#"
- key: RTL_TITLE
  code: ar
  value: "لنتأكد من هويتك"
- key: RTL_HINT
  code: ar
  value: "سنطلب منك صورة لوثيقتك وصورة ذاتية."
- key: RTL_START
  code: ar
  value: "ابدأ"
- key: RTL_DONE
  code: ar
  value: "شكرا لك"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_arabic_workflow_is_laid_out_right_to_left() {
    let (srv, key) = own_server(&rtl_workflow(), RTL_LOCALE).await;
    let link = deeplink(&srv, &key, RTL_ID, json!({"locale": "ar"})).await;

    let b = Browser::start().await;
    open_at(&b, link["url"].as_str().unwrap(), "WELCOME").await;
    assert_eq!(heading(&b).await, "لنتأكد من هويتك");
    assert_eq!(
        b.execute("return document.documentElement.dir;", vec![])
            .await,
        "rtl"
    );
    let lang = b
        .execute("return document.documentElement.lang;", vec![])
        .await;
    assert!(
        lang.as_str().is_some_and(|l| l.starts_with("ar")),
        "lang {lang}"
    );
    // Laid out from the right: the heading runs right to left and its text ends at the right.
    let layout = b
        .execute(
            "const h = document.querySelector('main h1');\
             const r = document.createRange(); r.selectNodeContents(h);\
             const text = r.getBoundingClientRect(), box = h.getBoundingClientRect();\
             return {dir: getComputedStyle(h).direction, right: box.right - text.right, left: text.left - box.left};",
            vec![],
        )
        .await;
    assert_eq!(layout["dir"], "rtl", "{layout}");
    assert!(
        layout["right"].as_f64().unwrap() < 2.0 && layout["left"].as_f64().unwrap() > 2.0,
        "the heading's text sits at the right: {layout}"
    );
    check(&b, "welcome-ar").await;
    primary(&b).await;
    wait_step(&b, "DONE").await;
    assert_eq!(heading(&b).await, "شكرا لك");
    assert_eq!(
        b.execute("return document.documentElement.dir;", vec![])
            .await,
        "rtl"
    );
    check(&b, "done-ar").await;
    drop(b);
    srv.stop().await;
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// Types `keys` (characters, or WebDriver's key codes such as [`TAB`]) into whatever has the
/// focus, as a keyboard would, through the WebDriver actions API.
async fn press(b: &Browser, keys: &str) {
    let mut actions = Vec::new();
    for c in keys.chars() {
        actions.push(json!({"type": "keyDown", "value": c.to_string()}));
        actions.push(json!({"type": "keyUp", "value": c.to_string()}));
    }
    b.command(
        reqwest::Method::POST,
        "/actions",
        Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
    )
    .await;
}

/// What has the focus: its id, else its tag and type (`button:submit`).
async fn focused(b: &Browser) -> String {
    b.execute(
        "const e = document.activeElement; \
         return e.id || (e.tagName.toLowerCase() + ':' + (e.getAttribute('type') || ''));",
        vec![],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Presses Tab until the focus leaves the element it is on (a date input's parts take a Tab
/// each), at most four times; answers where the focus went.
async fn tab_on(b: &Browser) -> String {
    let from = focused(b).await;
    for _ in 0..4 {
        press(b, TAB).await;
        let now = focused(b).await;
        if now != from {
            return now;
        }
    }
    panic!("the focus stayed on {from} through four Tabs");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kyc_form_with_the_keyboard_only() {
    let dr = DocReader::start().await;
    let (srv, key) = kyc_server(Backend::Sqlite, &dr).await;
    let auth = format!("ApiKey {key}");
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    let id = link["sessionId"].as_str().unwrap().to_string();
    let b = Browser::start().await;
    open_at(&b, link["url"].as_str().unwrap(), "ONBOARDING").await;
    // The welcome screen's button is the first stop after its heading; Enter presses it.
    assert_eq!(focused(&b).await, "screen-title");
    assert_eq!(tab_on(&b).await, "button:button");
    press(&b, ENTER).await;

    wait_step(&b, "PERSONAL_DETAILS").await;
    // A new screen puts the focus on its heading; from there the fields in order, then submit.
    assert_eq!(focused(&b).await, "screen-title");
    assert_eq!(tab_on(&b).await, "f-givenNames");
    press(&b, "ANNA").await;
    assert_eq!(tab_on(&b).await, "f-surname");
    press(&b, "ERIKSSON").await;
    assert_eq!(tab_on(&b).await, "f-dateOfBirth");
    // The date input takes its parts in the browser's order (month, day, year in English).
    press(&b, "04121990").await;
    assert_eq!(
        b.find("#f-dateOfBirth").await.property("value").await,
        "1990-04-12"
    );
    assert_eq!(tab_on(&b).await, "f-email");
    press(&b, "anna@example.org").await;
    assert_eq!(tab_on(&b).await, "button:submit");
    // The focus shows.
    let ring = b
        .execute(
            "const s = getComputedStyle(document.activeElement); \
             return s.outlineStyle + ' ' + s.outlineWidth;",
            vec![],
        )
        .await;
    assert!(
        ring.as_str()
            .is_some_and(|r| !r.starts_with("none") && !r.ends_with(" 0px")),
        "a visible focus ring: {ring}"
    );
    check(&b, "personal-details-by-keyboard").await;
    press(&b, ENTER).await;

    wait_step(&b, "DOCUMENT_PHOTOS").await;
    assert_eq!(heading(&b).await, "Photograph your document");
    assert_eq!(focused(&b).await, "screen-title");
    check(&b, "document-photos").await;
    let s = srv.session(&auth, &id).await;
    let p = &s["properties"];
    assert_eq!(
        (
            &p["GIVEN_NAMES"],
            &p["SURNAME"],
            &p["BIRTH_DATE"],
            &p["EMAIL"]
        ),
        (
            &json!("ANNA"),
            &json!("ERIKSSON"),
            &json!("1990-04-12"),
            &json!("anna@example.org")
        ),
        "{s:#}"
    );
    drop(b);
    srv.stop().await;
}

/// A device token's link without a `sessionId` (an ephemeral device's, limited to no workflow
/// in particular): the page lists the workflows the token may run, starts one session of the
/// first, and goes on with it; the session belongs to the device.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_without_a_session_starts_one() {
    let dr = DocReader::start().await;
    let (srv, _) = kyc_server(Backend::Sqlite, &dr).await;
    let minter = srv.key(&["ephemeral_device:write"]).await;
    let r = srv
        .post("/api/device/ephemeral")
        .header("authorization", format!("ApiKey {minter}"))
        .json(&json!({"ttl": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let device: Value = r.json().await.unwrap();
    let auth = device["authorization"].as_str().unwrap().to_string();
    let link = reqwest::Url::parse_with_params(
        &format!("{}/mobile", srv.url),
        [("authorization", auth.as_str())],
    )
    .unwrap();
    let b = Browser::start().await;
    open_at(&b, link.as_str(), "ONBOARDING").await;
    check(&b, "started-by-the-page").await;
    let sid = page_session(&b).await;
    assert!(!sid.is_empty());
    // The session the page started is the device's own: its token reads it.
    let r = srv
        .get(&format!("/api/sessions/{sid}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["workflow"]["id"], KYC_ID);
    assert_eq!(s["userId"], device["id"], "{s:#}");
    // A reload resumes the same session instead of starting another.
    b.refresh().await;
    wait_step(&b, "ONBOARDING").await;
    assert_eq!(page_session(&b).await, sid);
    srv.stop().await;
}
