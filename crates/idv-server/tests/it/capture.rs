//! The hosted capture page in a real browser (headless Chromium as a phone, a fake camera): the
//! example KYC from a deeplink to its final screen, the pages of links and sessions that cannot
//! go on, the entry points (`/mobile`, `/capture?url=`, a QR code's link), the language picker,
//! and Regula's General KYC up to its liveness step. Every screen is kept as a screenshot under
//! the test output folder (`screens/capture-<test>/`), and each distinct one passes the
//! accessibility check.

use crate::common;

use crate::support::browser::{Browser, BrowserOptions, VIEWPORT_WIDTH, fake_video};
use crate::support::regula;
use common::standins::{DocReader, Document};
use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A server with the example KYC (and its pictures) whose Document Reader is `dr`, and an API
/// key that may create deeplinks and read, write and delete sessions.
pub(crate) async fn kyc_server(backend: Backend, dr: &DocReader) -> (TestServer, String) {
    let srv = TestServer::start_with_checks(backend, dr, |_| {}).await;
    srv.load_kyc().await;
    let assets = srv.key(&["assets:write"]).await;
    for (id, svg) in [
        ("kycDocument", picture("#0b5e44", "card")),
        ("kycSelfie", picture("#7a3e9d", "face")),
        ("kycForm", picture("#1d4ed8", "form")),
        ("kycDone", picture("#0b5e44", "check")),
        ("kycError", picture("#a4161a", "cross")),
    ] {
        let r = srv
            .client
            .put(format!("{}/api/v1/assets/{id}", srv.url))
            .header("authorization", format!("ApiKey {assets}"))
            .header("content-type", "image/svg+xml")
            .body(svg)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{id}: {}", r.text().await.unwrap());
    }
    let key = srv
        .key(&[
            "deeplink:write",
            "session_all:read",
            "session_all:write",
            "session_all:delete",
        ])
        .await;
    (srv, key)
}

/// A small illustration (SVG) in `colour`: a card, a face, a form, a check mark or a cross.
fn picture(colour: &str, what: &str) -> String {
    let shape = match what {
        "card" => format!(
            r#"<rect x="20" y="40" width="160" height="100" rx="10" fill="none" stroke="{colour}" stroke-width="8"/><circle cx="60" cy="85" r="16" fill="{colour}"/><rect x="90" y="72" width="70" height="8" fill="{colour}"/><rect x="90" y="92" width="50" height="8" fill="{colour}"/>"#
        ),
        "face" => format!(
            r#"<circle cx="100" cy="80" r="45" fill="none" stroke="{colour}" stroke-width="8"/><circle cx="84" cy="72" r="6" fill="{colour}"/><circle cx="116" cy="72" r="6" fill="{colour}"/><path d="M80 98 Q100 115 120 98" fill="none" stroke="{colour}" stroke-width="6"/>"#
        ),
        "form" => format!(
            r#"<rect x="50" y="20" width="100" height="140" rx="8" fill="none" stroke="{colour}" stroke-width="8"/><rect x="68" y="50" width="64" height="8" fill="{colour}"/><rect x="68" y="80" width="64" height="8" fill="{colour}"/><rect x="68" y="110" width="40" height="8" fill="{colour}"/>"#
        ),
        "check" => format!(
            r#"<circle cx="100" cy="90" r="60" fill="none" stroke="{colour}" stroke-width="8"/><path d="M70 92 L92 114 L132 68" fill="none" stroke="{colour}" stroke-width="10"/>"#
        ),
        _ => format!(
            r#"<circle cx="100" cy="90" r="60" fill="none" stroke="{colour}" stroke-width="8"/><path d="M75 65 L125 115 M125 65 L75 115" stroke="{colour}" stroke-width="10"/>"#
        ),
    };
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="180" viewBox="0 0 200 180">{shape}</svg>"#
    )
}

/// `POST /api/v1/deeplink?workflowId=` with `body`; answers its JSON (`url`, `sessionId`).
pub(crate) async fn deeplink(srv: &TestServer, key: &str, workflow: &str, body: Value) -> Value {
    let r = srv
        .post(&format!("/api/v1/deeplink?workflowId={workflow}"))
        .header("authorization", format!("ApiKey {key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// The fake camera's video: a document-like card on a dark table, as a phone would see it.
fn camera_video(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("camera.y4m");
    fake_video(&path, 640, 480, |x, y| {
        let on_card = (80..560).contains(&x) && (90..390).contains(&y);
        if !on_card {
            return [40, 44, 52];
        }
        let photo = (110..230).contains(&x) && (140..300).contains(&y);
        let line = (260..520).contains(&x)
            && [160, 200, 240, 280]
                .iter()
                .any(|l| (*l..l + 12).contains(&y));
        if photo {
            [150, 110, 90]
        } else if line {
            [60, 60, 70]
        } else {
            [225, 232, 240]
        }
    });
    path
}

/// A browser whose fake camera shows [`camera_video`].
pub(crate) async fn phone(dir: &std::path::Path) -> Browser {
    Browser::start_with(BrowserOptions {
        camera: Some(camera_video(dir)),
        test_name: None,
    })
    .await
}

/// Waits until the page shows `step`, has painted it and its transitions (the progress bar's)
/// have ended.
pub(crate) async fn wait_step(b: &Browser, step: &str) {
    b.wait_until(
        &format!(
            "document.body.dataset.step === {step:?} && \
             performance.getEntriesByName('idv-ready:' + {step:?}).length > 0 && \
             !document.getAnimations().some(a => a instanceof CSSTransition)"
        ),
        WAIT,
    )
    .await;
}

/// The accessibility check of the screen on show (with its screenshot), nothing wider than the
/// phone's screen, and no text of a value the page failed to fill in.
pub(crate) async fn check(b: &Browser, name: &str) {
    b.axe_check(name).await;
    // The phone's width, not the window's: Chromium widens its layout to fit what overflows.
    let wide = b
        .execute(
            "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);",
            vec![],
        )
        .await;
    assert!(
        wide.as_u64()
            .is_some_and(|w| w <= u64::from(VIEWPORT_WIDTH)),
        "{name}: the page is {wide} px wide on a {VIEWPORT_WIDTH} px screen"
    );
    let shown = b.execute("return document.body.innerText;", vec![]).await;
    let shown = shown.as_str().unwrap_or_default();
    for leak in ["null", "undefined", "[object", "NaN", "{{"] {
        assert!(
            !shown.split_whitespace().any(|w| w.contains(leak)),
            "{name}: the screen shows {leak:?}: {shown}"
        );
    }
}

/// Waits until the page shows the notice `title` (`badLinkTitle`, `expiredTitle` …).
pub(crate) async fn wait_notice(b: &Browser, title: &str) {
    b.wait_until(&format!("document.body.dataset.notice === {title:?}"), WAIT)
        .await;
}

/// The text of the screen's heading.
pub(crate) async fn heading(b: &Browser) -> String {
    b.find("main h1").await.text().await
}

/// Clicks the screen's primary button (the first of its actions).
pub(crate) async fn primary(b: &Browser) {
    b.find("main .actions button.primary").await.click().await;
}

/// Takes a photo with the camera in the capture section of each property, in order; the first
/// viewfinder is kept as a screenshot named `camera_shot`.
pub(crate) async fn take_photos(b: &Browser, properties: &[&str], camera_shot: &str) {
    for (i, p) in properties.iter().enumerate() {
        let section = format!("section.capture[data-property={p:?}]");
        b.wait_until(
            &format!(
                "(() => {{ const s = document.querySelector({section:?}); \
                 const v = s && s.querySelector('video'); \
                 const shoot = s && s.querySelector('button.primary'); \
                 return !!(v && v.videoWidth > 0 && shoot && !shoot.hidden); }})()"
            ),
            WAIT,
        )
        .await;
        if i == 0 {
            check(b, camera_shot).await;
        }
        b.find(&format!("{section} button.primary"))
            .await
            .click()
            .await;
        b.wait_until(
            &format!("document.querySelector({section:?}).dataset.ready === 'true'"),
            WAIT,
        )
        .await;
    }
}

pub(crate) async fn file_bytes(srv: &TestServer, auth: &str, url: &str) -> Vec<u8> {
    let r = srv
        .client
        .get(url)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.bytes().await.unwrap().to_vec()
}

/// The width and height in a JPEG's frame header (SOFn), or `None`.
pub(crate) fn jpeg_size(jpeg: &[u8]) -> Option<(u16, u16)> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*jpeg.get(i)?, *jpeg.get(i + 1)?]));
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return Some((be16(i + 7)?, be16(i + 5)?));
        }
        i += 2 + usize::from(be16(i + 2)?);
    }
    None
}

/// The console's errors since the last look, leaving out the failed loads of answers with the
/// `expected` statuses (a refusal the page shows as a screen or beside a field).
pub(crate) async fn console_errors_but(b: &Browser, expected: &[u16]) -> Vec<String> {
    b.console_errors()
        .await
        .into_iter()
        .filter(|m| {
            !expected
                .iter()
                .any(|s| m.contains(&format!("responded with a status of {s} ")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kyc_example_from_a_deeplink_to_the_final_screen() {
    let dr = DocReader::start().await;
    let (srv, key) = kyc_server(Backend::Sqlite, &dr).await;
    let auth = format!("ApiKey {key}");
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    let id = link["sessionId"].as_str().unwrap().to_string();
    dr.put(&id, Document::adult());
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/mobile?authorization=Token%20", srv.url)),
        "{url}"
    );

    let b = phone(srv.dir.path()).await;
    b.goto(url).await;
    wait_step(&b, "ONBOARDING").await;
    assert_eq!(heading(&b).await, "Let's confirm who you are");
    assert!(
        !b.current_url().await.contains("authorization"),
        "the token left the address bar"
    );
    check(&b, "onboarding").await;
    primary(&b).await;

    // The form: a name longer than the schema allows, which the browser lets through once the
    // input's own limit is removed; the server's message shows beside the field.
    wait_step(&b, "PERSONAL_DETAILS").await;
    assert_eq!(heading(&b).await, "Tell us about yourself");
    check(&b, "personal-details").await;
    // Empty required fields are caught in the browser, before anything is sent.
    primary(&b).await;
    b.wait_until(
        "document.getElementById('f-surname').getAttribute('aria-invalid') === 'true'",
        WAIT,
    )
    .await;
    assert_eq!(
        b.find("#f-givenNames-err").await.text().await,
        "This field is needed."
    );
    assert!(
        b.find("#f-email")
            .await
            .attribute("aria-invalid")
            .await
            .is_none(),
        "an optional field left empty is fine"
    );
    assert!(
        b.console_errors().await.is_empty(),
        "nothing was sent to be refused"
    );
    check(&b, "personal-details-empty").await;
    let given = b.find("#f-givenNames").await;
    b.execute(
        "arguments[0].removeAttribute('maxlength');",
        vec![given.json()],
    )
    .await;
    given.send_keys(&"A".repeat(101)).await;
    b.find("#f-surname").await.send_keys("ERIKSSON").await;
    b.execute(
        "const d = document.getElementById('f-dateOfBirth'); d.value = '1996-01-01'; \
         d.dispatchEvent(new Event('input', {bubbles: true}));",
        vec![],
    )
    .await;
    b.find("#f-email").await.send_keys("anna@example.org").await;
    primary(&b).await;
    b.wait_until(
        "document.getElementById('f-givenNames').getAttribute('aria-invalid') === 'true'",
        WAIT,
    )
    .await;
    let error = b.find("#f-givenNames-err").await;
    assert!(error.is_displayed().await);
    let message = error.text().await;
    assert!(
        message.contains("100") || message.to_lowercase().contains("long"),
        "the server's message beside the field: {message:?}"
    );
    assert_eq!(
        b.find("#f-givenNames")
            .await
            .attribute("aria-describedby")
            .await
            .as_deref(),
        Some("f-givenNames-err")
    );
    assert!(
        b.find("#f-surname")
            .await
            .attribute("aria-invalid")
            .await
            .is_none(),
        "only the refused field is marked"
    );
    check(&b, "personal-details-refused").await;
    let given = b.find("#f-givenNames").await;
    given.clear().await;
    given.send_keys("ANNA MARIA").await;
    primary(&b).await;

    // The document photos, through the fake camera.
    wait_step(&b, "DOCUMENT_PHOTOS").await;
    assert_eq!(heading(&b).await, "Photograph your document");
    take_photos(&b, &["DOCUMENT_FRONT", "DOCUMENT_BACK"], "document-camera").await;
    check(&b, "document-photos-taken").await;
    primary(&b).await;

    // The selfie; its answer runs the document check on the server.
    wait_step(&b, "SELFIE").await;
    assert_eq!(heading(&b).await, "Take a selfie");
    take_photos(&b, &["SELFIE"], "selfie-camera").await;
    b.screenshot("selfie-taken").await;
    primary(&b).await;

    wait_step(&b, "KYC_COMPLETED").await;
    assert_eq!(heading(&b).await, "Thank you, we have everything we need");
    check(&b, "completed").await;
    let errors = console_errors_but(&b, &[422]).await;

    // Over the API: verified, and the photos are the session's files (JPEG from the camera).
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["status"], 2, "verified: {s:#}");
    assert_eq!(s["currentStep"], "KYC_COMPLETED");
    let p = &s["properties"];
    assert_eq!(p["GIVEN_NAMES"], "ANNA MARIA");
    assert_eq!(p["SURNAME"], "ERIKSSON");
    assert_eq!(p["BIRTH_DATE"], "1996-01-01");
    assert_eq!(p["EMAIL"], "anna@example.org");
    for property in ["DOCUMENT_FRONT", "DOCUMENT_BACK", "SELFIE"] {
        let url = p[property]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{property} is a file: {p:#}"));
        let bytes = file_bytes(&srv, &auth, url).await;
        assert!(
            bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.len() > 2_000,
            "{property} is a JPEG photo ({} bytes)",
            bytes.len()
        );
        assert_eq!(
            jpeg_size(&bytes),
            Some((640, 480)),
            "{property} is a frame of the fake camera"
        );
    }
    let sent = dr.last_body("/api/process").expect("the check was asked");
    assert_eq!(sent["tag"], id.as_str());
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(b);
    srv.stop().await;
}

/// Opens `url` in `b` and waits for `step`; the address bar then holds no token.
pub(crate) async fn open_at(b: &Browser, url: &str, step: &str) {
    b.goto(url).await;
    wait_step(b, step).await;
    let here = b.current_url().await;
    assert!(
        !here.contains("authorization") && !here.contains("Token") && !here.contains("url="),
        "the token left the address bar: {here}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_bad_ended_deleted_and_expired_links_and_every_entry_point() {
    let dr = DocReader::start().await;
    let (srv, key) = kyc_server(Backend::Sqlite, &dr).await;
    let auth = format!("ApiKey {key}");
    let b = Browser::start().await;

    // A reload resumes where the session stands; the token is not in the address bar.
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    let url = link["url"].as_str().unwrap();
    open_at(&b, url, "ONBOARDING").await;
    primary(&b).await;
    wait_step(&b, "PERSONAL_DETAILS").await;
    b.refresh().await;
    wait_step(&b, "PERSONAL_DETAILS").await;
    assert_eq!(b.current_url().await, format!("{}/mobile", srv.url));
    assert_eq!(heading(&b).await, "Tell us about yourself");
    b.screenshot("reloaded").await;

    // Regula's older entry: /capture?url=<the link>.
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    let capture = reqwest::Url::parse_with_params(
        &format!("{}/capture", srv.url),
        [("url", link["url"].as_str().unwrap())],
    )
    .unwrap();
    open_at(&b, capture.as_str(), "ONBOARDING").await;
    assert_eq!(b.current_url().await, format!("{}/capture", srv.url));
    assert_eq!(heading(&b).await, "Let's confirm who you are");
    b.screenshot("capture-entry").await;

    // A QR code's link holds a one-time tr- token, which the page exchanges; the session then
    // goes on (and survives a reload); the same link a second time no longer works.
    let r = srv
        .get(&format!("/api/deeplink/qrcode?workflowId={KYC_ID}"))
        .header("authorization", &auth)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let qr: Value = r.json().await.unwrap();
    let qr_url = qr["url"].as_str().unwrap().to_string();
    assert!(qr_url.contains("Token%20tr-"), "{qr_url}");
    open_at(&b, &qr_url, "ONBOARDING").await;
    primary(&b).await;
    wait_step(&b, "PERSONAL_DETAILS").await;
    b.refresh().await;
    wait_step(&b, "PERSONAL_DETAILS").await;
    b.screenshot("qr-code-link").await;
    let s = srv.session(&auth, qr["sessionId"].as_str().unwrap()).await;
    assert_eq!(s["currentStep"], "PERSONAL_DETAILS");
    b.goto(&qr_url).await;
    wait_notice(&b, "badLinkTitle").await;

    // A token that is not one.
    let garbage = format!(
        "{}/mobile?authorization=Token%20idvdt_garbage&sessionId={}",
        srv.url,
        link["sessionId"].as_str().unwrap()
    );
    b.goto(&garbage).await;
    wait_notice(&b, "badLinkTitle").await;
    assert_eq!(heading(&b).await, "This link does not work");
    assert!(!b.current_url().await.contains("garbage"));
    check(&b, "bad-link").await;

    // An ended session shows its final screen (closed at the start: cancelled).
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    let id = link["sessionId"].as_str().unwrap();
    let r = srv
        .submit(&auth, id, "ONBOARDING", json!({"continue": false}))
        .await;
    assert_eq!(r.status(), 200);
    open_at(&b, link["url"].as_str().unwrap(), "ABORT").await;
    assert_eq!(heading(&b).await, "Verification cancelled");
    assert!(
        b.try_find("main button").await.is_none(),
        "an ended session's screen offers no step buttons"
    );
    check(&b, "ended").await;

    // A deleted session, opened by its deeplink: the token went with the session, but its hash
    // is kept until its expiry, so the page says the session was deleted.
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    open_at(&b, link["url"].as_str().unwrap(), "ONBOARDING").await;
    let r = srv
        .delete(&format!(
            "/api/sessions/{}",
            link["sessionId"].as_str().unwrap()
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    b.refresh().await;
    wait_notice(&b, "deletedTitle").await;
    assert_eq!(heading(&b).await, "This verification no longer exists");
    check(&b, "deleted-deeplink").await;

    // A device token that outlives the session it started meets the tombstone too.
    let minter = srv.key(&["ephemeral_device:write"]).await;
    let r = srv
        .post("/api/device/ephemeral")
        .header("authorization", format!("ApiKey {minter}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let device = r.json::<Value>().await.unwrap()["authorization"]
        .as_str()
        .unwrap()
        .to_string();
    let r = srv
        .post(&format!("/api/sessions?workflowId={KYC_ID}"))
        .header("authorization", &device)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let device_link = reqwest::Url::parse_with_params(
        &format!("{}/mobile", srv.url),
        [
            ("authorization", device.as_str()),
            ("sessionId", id.as_str()),
        ],
    )
    .unwrap();
    open_at(&b, device_link.as_str(), "ONBOARDING").await;
    let r = srv
        .delete(&format!("/api/sessions/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    b.refresh().await;
    wait_notice(&b, "deletedTitle").await;
    assert_eq!(heading(&b).await, "This verification no longer exists");
    check(&b, "deleted").await;

    // An expired session: the workflow's lifetime (30 minutes) passes on the server's clock
    // while the link's token (an hour) is still good. Last, since the clock moves for all.
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    srv.clock.advance(1_801_000);
    // Over the API as the page asks: ended by its lifetime.
    let url = link["url"].as_str().unwrap();
    let token = url
        .split("Token%20")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let r = srv
        .get(&format!(
            "/api/sessions/{}/step",
            link["sessionId"].as_str().unwrap()
        ))
        .header("authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cur: Value = r.json().await.unwrap();
    assert_eq!(
        (&cur["ended"], &cur["expired"]),
        (&json!(true), &json!(true)),
        "{cur:#}"
    );
    b.goto(link["url"].as_str().unwrap()).await;
    wait_notice(&b, "expiredTitle").await;
    assert_eq!(heading(&b).await, "This link has expired");
    check(&b, "expired").await;
    let s = srv
        .session(&auth, link["sessionId"].as_str().unwrap())
        .await;
    assert_eq!(s["currentStep"], "ABORT", "the lifetime's onTimeout: {s:#}");
    drop(b);
    srv.stop().await;
}

/// Picks `code` in the language picker.
async fn pick_language(b: &Browser, code: &str) {
    b.execute(
        "const s = document.getElementById('lang'); s.value = arguments[0]; \
         s.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![json!(code)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_language_picker_switches_to_spanish_and_back() {
    let dr = DocReader::start().await;
    let (srv, key) = kyc_server(Backend::Sqlite, &dr).await;
    let b = Browser::start().await;
    let link = deeplink(&srv, &key, KYC_ID, json!({})).await;
    open_at(&b, link["url"].as_str().unwrap(), "ONBOARDING").await;
    let picker = b.find("#lang").await;
    assert!(picker.is_displayed().await);
    assert_eq!(picker.property("value").await, "en-us");
    let options = b
        .execute(
            "return [...document.querySelectorAll('#lang option')].map(o => o.value + '=' + o.textContent);",
            vec![],
        )
        .await;
    assert_eq!(options, json!(["en-us=English", "es-es=Spanish"]));

    pick_language(&b, "es-es").await;
    b.wait_until("document.documentElement.lang === 'es-es'", WAIT)
        .await;
    wait_step(&b, "ONBOARDING").await;
    b.wait_until(
        "document.querySelector('main h1').textContent === 'Confirmemos quién eres'",
        WAIT,
    )
    .await;
    assert_eq!(
        b.find("#brand").await.text().await,
        "Verificación de identidad"
    );
    assert_eq!(b.find("#lang-label").await.text().await, "Idioma");
    assert_eq!(b.title().await, "Verificación de identidad");
    assert_eq!(
        b.find("main .actions button.primary").await.text().await,
        "Empezar"
    );
    check(&b, "onboarding-es").await;
    // The choice outlives a reload.
    b.refresh().await;
    wait_step(&b, "ONBOARDING").await;
    assert_eq!(heading(&b).await, "Confirmemos quién eres");
    assert_eq!(b.find("#lang").await.property("value").await, "es-es");

    // The next step comes in the chosen language too, and the form marks no field twice.
    primary(&b).await;
    wait_step(&b, "PERSONAL_DETAILS").await;
    assert_eq!(heading(&b).await, "Cuéntanos sobre ti");
    assert_eq!(
        b.find("label[for='f-email']").await.text().await,
        "Correo electrónico (opcional)"
    );
    b.screenshot("personal-details-es").await;

    pick_language(&b, "en-us").await;
    b.wait_until(
        "document.querySelector('main h1').textContent === 'Tell us about yourself'",
        WAIT,
    )
    .await;
    assert_eq!(b.find("#brand").await.text().await, "Identity verification");
    assert_eq!(
        b.find("label[for='f-email']").await.text().await,
        "Email (optional)"
    );
    assert_eq!(
        b.execute("return document.documentElement.lang;", vec![])
            .await,
        "en-us"
    );
    b.screenshot("personal-details-en").await;
    drop(b);
    srv.stop().await;
}

/// Regula's General KYC, as the page runs it: ONBOARDING, PREPARE_DOCUMENT, DOC_READER (the
/// photos go to the Document Reader through /drapi, tagged with the session), then
/// PREPARE_LIVENESS and the liveness step, which the page hands to a phone with a QR code.
async fn general_kyc_to_liveness(backend: Backend) {
    regula_or_skip!();
    const GENERAL_KYC_ID: &str = "edda0192-b890-11ef-a348-17da751a6a22";
    let dr = DocReader::start().await;
    let dr_url = dr.url.clone();
    let srv = TestServer::start_with(backend, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = dr_url;
    })
    .await;
    srv.load_workflow(
        regula::general_kyc_text(),
        regula::general_kyc_locale_text(),
    )
    .await;
    let key = srv
        .key(&["deeplink:write", "session_all:read", "session_all:write"])
        .await;
    let auth = format!("ApiKey {key}");
    let link = deeplink(&srv, &key, GENERAL_KYC_ID, json!({"locale": "en"})).await;
    let id = link["sessionId"].as_str().unwrap().to_string();
    dr.put(&id, Document::adult());

    let b = phone(srv.dir.path()).await;
    open_at(&b, link["url"].as_str().unwrap(), "ONBOARDING").await;
    check(&b, "onboarding").await;
    primary(&b).await;
    wait_step(&b, "PREPARE_DOCUMENT").await;
    check(&b, "prepare-document").await;
    primary(&b).await;

    wait_step(&b, "DOC_READER").await;
    take_photos(
        &b,
        &["DOCUMENT_PAGE_1", "DOCUMENT_PAGE_2"],
        "doc-reader-camera",
    )
    .await;
    check(&b, "doc-reader-taken").await;
    // A slow Document Reader: the wait screen shows while the workflow reads the results in
    // the background (GET /step says waiting), and again after a reload.
    dr.set_delay(Duration::from_millis(6000));
    primary(&b).await;
    b.wait_for("main .spinner", WAIT).await;
    assert_eq!(
        b.execute("return document.body.dataset.step;", vec![])
            .await,
        "DOC_READER"
    );
    check(&b, "doc-reader-waiting").await;
    let url = link["url"].as_str().unwrap();
    let token = url
        .split("Token%20")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let r = srv
        .get(&format!("/api/sessions/{id}/step"))
        .header("authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    let cur: Value = r.json().await.unwrap();
    assert_eq!(
        (&cur["step"]["id"], &cur["waiting"]),
        (&json!("DOC_READER"), &json!(true)),
        "{cur:#}"
    );
    // The wait screen is the workflow's own (General KYC's PROGRESS client, titled
    // "Processing"), not the page's.
    assert_eq!(cur["progress"]["templateId"], "PROGRESS", "{cur:#}");
    assert_eq!(heading(&b).await, "Processing");
    b.refresh().await;
    wait_step(&b, "DOC_READER").await;
    assert!(
        b.try_find("main .spinner").await.is_some(),
        "after a reload the page still waits"
    );
    dr.set_delay(Duration::ZERO);

    wait_step(&b, "PREPARE_LIVENESS").await;
    check(&b, "prepare-liveness").await;
    // The photos went to the Document Reader through the gateway, tagged with the session.
    let sent = dr.last_body("/api/process").expect("POST /api/process");
    assert_eq!(sent["tag"], id.as_str());
    let images = sent["List"].as_array().expect("List");
    assert_eq!(images.len(), 2, "both pages");
    for i in images {
        let image = i["ImageData"]["image"].as_str().unwrap_or_default();
        assert!(
            image.starts_with("/9j/"),
            "a base64 JPEG: {}",
            &image[..image.len().min(20)]
        );
    }
    assert!(sent["processParam"].is_object());
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["properties"]["TRANSACTION_ID"], id.as_str(), "{s:#}");
    primary(&b).await;

    // The liveness step: continue on a phone, with a QR code of this session's link.
    wait_step(&b, "LIVENESS").await;
    b.wait_until(
        "(() => { const q = document.querySelector('main img.qr'); \
         return !!(q && !q.hidden && q.complete && q.naturalWidth > 0); })()",
        WAIT,
    )
    .await;
    assert_eq!(heading(&b).await, "Continue on your phone");
    assert_eq!(
        b.find("main h1 + p").await.text().await,
        "Next, a short video selfie shows that it is really you."
    );
    check(&b, "liveness-elsewhere").await;
    // The QR code holds this session's link, which opens the same step on the phone. (Its
    // pixels are read through a canvas: the page's CSP lets no script fetch the blob.)
    let qr = b
        .execute(
            "const img = document.querySelector('main img.qr');\
             const c = document.createElement('canvas');\
             c.width = img.naturalWidth; c.height = img.naturalHeight;\
             const g = c.getContext('2d'); g.drawImage(img, 0, 0);\
             const d = g.getImageData(0, 0, c.width, c.height).data;\
             let grey = ''; for (let i = 0; i < d.length; i += 4) grey += String.fromCharCode(d[i]);\
             return {w: c.width, h: c.height, grey: btoa(grey)};",
            vec![],
        )
        .await;
    use base64::Engine as _;
    let grey = base64::engine::general_purpose::STANDARD
        .decode(qr["grey"].as_str().unwrap_or_default())
        .unwrap();
    let (w, h) = (
        qr["w"].as_u64().unwrap() as usize,
        qr["h"].as_u64().unwrap() as usize,
    );
    assert_eq!(grey.len(), w * h, "{w}x{h}");
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let handed = grids[0].decode().unwrap().1;
    assert!(
        handed.starts_with(&format!("{}/mobile?authorization=Token%20", srv.url))
            && handed.ends_with(&format!("&sessionId={id}")),
        "{handed}"
    );
    open_at(&b, &handed, "LIVENESS").await;
    // Regula's pictures (onboardingScanDoc …) are not loaded into this server: those answer 404.
    let errors: Vec<String> = console_errors_but(&b, &[])
        .await
        .into_iter()
        .filter(|m| !(m.contains("/api/v1/assets/") && m.contains("status of 404 ")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(b);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn general_kyc_through_doc_reader_to_liveness_sqlite() {
    general_kyc_to_liveness(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn general_kyc_through_doc_reader_to_liveness_postgres() {
    general_kyc_to_liveness(Backend::Postgres).await;
}

/// The page's headers (a strict policy, no Referer, the camera only here, frames only from
/// `capture.frameAncestors`, never cached) and its assets (embedded, with ETags, 304 on a match,
/// every module the page imports served as JavaScript), with no browser.
#[tokio::test]
async fn page_headers_and_assets() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.capture.frame_ancestors = vec!["https://shop.example".into()];
    })
    .await;
    for path in ["/mobile", "/capture?url=x"] {
        let r = srv.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        let get = |n: &str| {
            h.get(n)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert_eq!(get("content-type"), "text/html; charset=utf-8");
        assert_eq!(get("cache-control"), "no-store");
        assert_eq!(get("referrer-policy"), "no-referrer");
        assert!(
            get("permissions-policy").starts_with("camera=(self), microphone=()"),
            "{}",
            get("permissions-policy")
        );
        let csp = get("content-security-policy");
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "frame-ancestors https://shop.example",
        ] {
            assert!(csp.contains(part), "{part} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("/static/capture/app.js?v="), "{html}");
        assert!(!html.contains("<script>"), "no inline script: {html}");
    }
    // Without the setting no site may frame the page.
    let plain = TestServer::start(Backend::Sqlite).await;
    let r = plain.get("/mobile").send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    plain.stop().await;

    // Every module the page loads, with its type and ETag; a matching If-None-Match is a 304.
    for (file, kind) in [
        ("app.js", "text/javascript"),
        ("templates/registry.js", "text/javascript"),
        ("templates/form.js", "text/javascript"),
        ("capture.css", "text/css"),
    ] {
        let r = srv
            .get(&format!("/static/capture/{file}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{file}"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let again = srv
            .get(&format!("/static/capture/{file}"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{file}");
    }
    let r = srv.get("/static/capture/nope.js").send().await.unwrap();
    assert_eq!(r.status(), 404);
    // An escaped `../` reaches the asset handler as part of the name: still only embedded files.
    let r = srv
        .get("/static/capture/..%2F..%2FCargo.toml")
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!((status, code.as_str()), (404, "route_not_found"));
    assert!(body.to_string().contains("capture page's assets"), "{body}");
    srv.stop().await;
}
