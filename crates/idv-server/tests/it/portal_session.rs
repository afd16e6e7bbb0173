//! The portal's page of one session in a real browser, on SQLite and PostgreSQL: the example
//! KYC run to its end through the API with real pictures (PNG) and the Document Reader
//! stand-in, then opened as admin: the view block, the document check, the pictures (the
//! portrait and the selfie side by side, zoom and rotate), the webhook deliveries; an approval
//! with a comment that lands in the history; a stale form that loses to a change made over the
//! API and says what changed; legal hold on and off; the export zip and a file's byte range;
//! delete with its confirmation. A verifier reviews but cannot delete; a form without its CSRF
//! value is refused and changes nothing.

use crate::capture::{WAIT, check};
use crate::common;
use crate::portal::{browser_sign_in, create_user, field, http_sign_in};
use crate::support::browser::Browser;
use common::standins::{DocReader, Document};
use common::*;
use reqwest::Client;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

/// A `w`×`h` RGB PNG painted by `paint(x, y)`.
fn png(w: u32, h: u32, paint: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| paint(x, y))
            .collect();
        writer.write_image_data(&data).unwrap();
    }
    out
}

/// A face: a disc of `skin` on `bg`, with two eyes.
fn face(w: u32, h: u32, skin: [u8; 3], bg: [u8; 3]) -> Vec<u8> {
    png(w, h, move |x, y| {
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let d = |px: f32, py: f32| ((x as f32 - px).powi(2) + (y as f32 - py).powi(2)).sqrt();
        let r = w.min(h) as f32 * 0.35;
        if d(cx - r / 2.5, cy - r / 4.0) < r / 8.0 || d(cx + r / 2.5, cy - r / 4.0) < r / 8.0 {
            [20, 20, 30]
        } else if d(cx, cy) < r {
            skin
        } else {
            bg
        }
    })
}

/// An identity card: a frame, a portrait box and text lines.
fn card(w: u32, h: u32, ink: [u8; 3]) -> Vec<u8> {
    png(w, h, move |x, y| {
        let frame = x < 6 || y < 6 || x >= w - 6 || y >= h - 6;
        let photo = (16..16 + h / 2).contains(&x) && (20..20 + h / 2).contains(&y);
        let line = x > w / 2 && (y / 10) % 3 == 1 && x < w - 20;
        if frame || line {
            ink
        } else if photo {
            [200, 170, 150]
        } else {
            [245, 245, 238]
        }
    })
}

struct Env {
    srv: TestServer,
    dr: DocReader,
    key: String,
}

impl Env {
    fn auth(&self) -> String {
        format!("ApiKey {}", self.key)
    }

    /// The session as the API reads it (admin), with its ETag.
    async fn read(&self, id: &str) -> (u16, Value) {
        let r = self
            .srv
            .admin(self.srv.get(&format!("/api/sessions/{id}")))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A server with the example KYC, a webhook endpoint that selects every event (at an address
/// nobody answers, so its deliveries fail and keep their attempts), and a KYC session run to
/// its end with PNG pictures.
async fn env(backend: Backend) -> (Env, String) {
    let dr = DocReader::start().await;
    let srv = TestServer::start_with_checks(backend, &dr, |c| {
        c.outbound.allow_private_addresses = true;
    })
    .await;
    srv.load_kyc().await;
    let r = srv
        .admin(srv.post("/api/webhooks"))
        .json(&json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = srv
        .key(&[
            "session_all:read",
            "session_all:write",
            "session_all:delete",
        ])
        .await;
    let e = Env { srv, dr, key };
    let auth = e.auth();
    let s = e
        .srv
        .start_session(
            &e.key,
            json!({"locale": "en", "metadata": {"externalUserId": "user-42", "channel": "web"}}),
        )
        .await;
    let id = s["id"].as_str().unwrap().to_string();
    let mut doc = Document::adult();
    doc.portrait = face(120, 150, [214, 170, 140], [230, 236, 245]);
    e.dr.put(&id, doc);

    let step = |name: &'static str, body: Value| {
        let (srv, auth, id) = (&e.srv, auth.clone(), id.clone());
        async move {
            let r = srv.submit(&auth, &id, name, body).await;
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert_eq!(status, 200, "{name}: {v}");
            v["id"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(
        step("ONBOARDING", json!({"continue": true})).await,
        "PERSONAL_DETAILS"
    );
    let form = json!({"givenNames": "ANNA MARIA", "surname": "ERIKSSON",
                      "dateOfBirth": "1996-01-01", "email": "anna@example.org"});
    assert_eq!(step("PERSONAL_DETAILS", form).await, "DOCUMENT_PHOTOS");
    let part = |bytes: Vec<u8>, name: &str| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str("image/png")
            .unwrap()
    };
    let photos = reqwest::multipart::Form::new()
        .part(
            "DOCUMENT_FRONT",
            part(card(320, 200, [11, 94, 68]), "front.png"),
        )
        .part(
            "DOCUMENT_BACK",
            part(card(320, 200, [29, 78, 216]), "back.png"),
        );
    let r = e
        .srv
        .post(&format!(
            "/api/sessions/{id}/step/DOCUMENT_PHOTOS?type=file"
        ))
        .header("authorization", &auth)
        .multipart(photos)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        step("DOCUMENT_PHOTOS", json!({"continue": true})).await,
        "SELFIE"
    );
    let r = e
        .srv
        .post(&format!(
            "/api/sessions/{id}/step/SELFIE?type=file&property=SELFIE&name=selfie.png"
        ))
        .header("authorization", &auth)
        .header("content-type", "image/png")
        .body(face(240, 300, [198, 140, 110], [250, 240, 220]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        step("SELFIE", json!({"continue": true})).await,
        "KYC_COMPLETED"
    );
    let (_, s) = e.read(&id).await;
    assert_eq!(s["status"], 2, "verified: {s:#}");
    (e, id)
}

async fn wait_text(b: &Browser, css: &str, text: &str) {
    b.wait_until(
        &format!(
            "[...document.querySelectorAll({css:?})].some(e => e.innerText.includes({text:?}))"
        ),
        WAIT,
    )
    .await;
}

/// A screenshot with `css` scrolled to the top of the screen (the page is longer than one).
async fn look(b: &Browser, css: &str, name: &str) {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
        vec![json!(css)],
    )
    .await;
    b.screenshot(name).await;
}

async fn page_text(b: &Browser) -> String {
    b.execute("return document.querySelector('main').innerText;", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn flow(backend: Backend) {
    let (e, id) = env(backend).await;
    let srv = &e.srv;
    let page = format!("{}/portal/sessions/{id}", srv.url);
    // A second session, for the verifier.
    let other = srv
        .start_session(&e.key, json!({"metadata": {"externalUserId": "user-43"}}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let b = Browser::start().await;
    browser_sign_in(&b, srv, "admin", ADMIN_PASSWORD).await;
    b.goto(&page).await;
    b.wait_until(
        "document.title === 'ANNA MARIA ERIKSSON · idv portal'",
        WAIT,
    )
    .await;
    // Every picture loads (through the portal's file route) and shows.
    b.wait_until(
        "[...document.images].length >= 5 && [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        WAIT,
    )
    .await;
    let srcs = b
        .execute(
            "return [...document.images].map(i => i.getAttribute('src'));",
            vec![],
        )
        .await;
    assert!(
        srcs.as_array().unwrap().iter().all(|s| s
            .as_str()
            .unwrap()
            .starts_with(&format!("/portal/sessions/{id}/files/"))),
        "{srcs}"
    );
    let pair = b.find_all(".pair:not(.gallery) figure").await;
    assert_eq!(pair.len(), 2, "the portrait and the selfie side by side");
    let captions = b
        .execute(
            "return [...document.querySelectorAll('.pair:not(.gallery) figcaption')].map(c => c.innerText);",
            vec![],
        )
        .await;
    assert!(
        captions[0]
            .as_str()
            .unwrap()
            .starts_with("Document portrait")
            && captions[1].as_str().unwrap().starts_with("Selfie"),
        "{captions}"
    );
    let text = page_text(&b).await;
    for want in [
        "Name on the document",
        "Date of birth (form)",
        "1996-01-01",
        "verified",
        "Example KYC",
        "user-42",
        "Metadata: channel",
        "Document check",
        "passed",
        "Webhook deliveries",
        "session.created",
        "DOCUMENT_FRONT",
        "GIVEN_NAMES",
        "Raw JSON",
        "not completed → verified (at step KYC_COMPLETED)",
        "the workflow",
    ] {
        assert!(text.contains(want), "the page shows {want:?}: {text}");
    }
    check(&b, "session").await;
    for (css, name) in [
        ("#checks-h", "checks"),
        ("#pair-h", "pictures"),
        (".gallery", "gallery"),
        ("#review-h", "review-form"),
        ("#props-h", "properties"),
        ("#history-h", "history"),
        ("#manage-h", "manage"),
        ("details", "raw"),
    ] {
        look(&b, css, name).await;
    }
    b.execute("window.scrollTo(0, 0);", vec![]).await;

    // Zoom and rotate, shown by the script.
    let zoom = b.find(".pair figure button[data-act=zoom]").await;
    assert!(zoom.is_displayed().await, "the script shows the tools");
    zoom.click().await;
    assert_eq!(
        zoom.attribute("aria-pressed").await.as_deref(),
        Some("true")
    );
    b.find(".pair figure button[data-act=rotate]")
        .await
        .click()
        .await;
    let t = b
        .execute(
            "return document.querySelector('.pair figure img').style.transform;",
            vec![],
        )
        .await;
    let t = t.as_str().unwrap();
    assert!(t.contains("rotate(90deg)") && t.contains("scale(2)"), "{t}");
    // Turned and zoomed, the picture starts inside its frame, which scrolls over it.
    b.wait_until(
        "(() => { const f = document.querySelector('.pair figure .frame');
                  const i = f.querySelector('img').getBoundingClientRect();
                  const r = f.getBoundingClientRect();
                  return Math.abs(i.left - r.left) < 1 && Math.abs(i.top - r.top) < 1
                    && f.scrollWidth > f.clientWidth; })()",
        WAIT,
    )
    .await;
    check(&b, "zoomed").await;
    look(&b, "#pair-h", "zoomed-pictures").await;
    zoom.click().await;

    // Approve with a comment: the flash, the history entry, the API's status.
    b.find("#comment")
        .await
        .send_keys("Document and selfie match")
        .await;
    b.find("button[name=action][value=approve]")
        .await
        .click()
        .await;
    b.wait_for(".flash", WAIT).await;
    assert_eq!(
        b.find(".flash").await.text().await,
        "Status set to approved."
    );
    wait_text(&b, "table", "Document and selfie match").await;
    let text = page_text(&b).await;
    assert!(text.contains("verified → approved"), "{text}");
    assert!(text.contains("admin (user)"), "{text}");
    let (_, s) = e.read(&id).await;
    assert_eq!(s["status"], 3);
    assert_eq!(s["history"][1]["comment"], "Document and selfie match");
    assert_eq!(s["history"][1]["by"]["name"], "admin");
    check(&b, "approved").await;
    look(&b, "#history-h", "approved-history").await;

    // The page's form goes stale: the API sets the session pending first. Rejecting from the
    // stale form changes nothing and says what changed.
    let r = srv
        .admin(srv.patch(&format!("/api/sessions/{id}")))
        .json(&json!({"status": 4, "comment": "Second look by the back office"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.find("#comment").await.send_keys("Too late").await;
    b.find("button[name=action][value=reject]")
        .await
        .click()
        .await;
    b.wait_for("div.alert", WAIT).await;
    let alert = b.find("div.alert").await.text().await;
    assert!(
        alert.contains("Someone changed this session after you opened it"),
        "{alert}"
    );
    assert!(
        alert.contains("it is now pending") && alert.contains("was approved"),
        "{alert}"
    );
    assert!(alert.contains("Second look by the back office"), "{alert}");
    assert_eq!(
        b.find("#comment").await.property("value").await,
        "Too late",
        "the comment stays in the form"
    );
    let (_, s) = e.read(&id).await;
    assert_eq!(s["status"], 4, "the API's change stands");
    assert_eq!(s["history"].as_array().unwrap().len(), 3);
    check(&b, "conflict").await;
    look(&b, "div.alert", "conflict-alert").await;

    // Legal hold on: no delete form; then off again.
    b.find("form[action$='/hold'] button").await.click().await;
    wait_text(&b, ".flash", "Legal hold set.").await;
    assert!(b.try_find("form[action$='/delete']").await.is_none());
    assert!(
        page_text(&b)
            .await
            .contains("Lift the legal hold to delete")
    );
    assert_eq!(e.read(&id).await.1["legalHold"], true);
    check(&b, "held").await;
    b.find("form[action$='/hold'] button").await.click().await;
    wait_text(&b, ".flash", "Legal hold lifted.").await;
    assert_eq!(e.read(&id).await.1["legalHold"], false);

    // The export is a zip; a file answers a byte range.
    let got = b
        .execute_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const z = await fetch(arguments[0]);
               const zb = new Uint8Array(await z.arrayBuffer());
               const img = document.querySelector('.pair figure img').getAttribute('src');
               const f = await fetch(img, {headers: {Range: 'bytes=0-3'}});
               const fb = new Uint8Array(await f.arrayBuffer());
               done([z.status, z.headers.get('content-type'), zb[0], zb[1], zb.length,
                     f.status, f.headers.get('content-range'), Array.from(fb)]);
             })().catch(e => done(String(e)));",
            vec![json!(format!("/portal/sessions/{id}/export"))],
        )
        .await;
    assert_eq!(got[0], 200, "{got}");
    assert_eq!(got[1], "application/zip");
    assert_eq!((got[2].clone(), got[3].clone()), (json!(b'P'), json!(b'K')));
    assert!(got[4].as_u64().unwrap() > 1000, "{got}");
    assert_eq!(got[5], 206, "{got}");
    assert!(got[6].as_str().unwrap().starts_with("bytes 0-3/"), "{got}");
    assert_eq!(got[7], json!([0x89, b'P', b'N', b'G']));

    // Delete: a wrong id typed is refused by the server; the right one deletes.
    b.execute("window.confirm = () => true;", vec![]).await;
    b.find("#confirm").await.send_keys("not-the-id").await;
    b.find("form[action$='/delete'] button").await.click().await;
    wait_text(&b, ".alert", "type its id exactly").await;
    assert_eq!(e.read(&id).await.0, 200, "nothing deleted");
    check(&b, "delete-refused").await;
    b.execute("window.confirm = () => true;", vec![]).await;
    b.find("#confirm").await.send_keys(&id).await;
    b.find("#reason").await.send_keys("Test data").await;
    b.find("form[action$='/delete'] button").await.click().await;
    b.wait_until(
        "location.pathname === '/portal/sessions' && location.search.startsWith('?done=')",
        WAIT,
    )
    .await;
    let (status, gone) = e.read(&id).await;
    assert_eq!(status, 410, "{gone}");
    assert_eq!(gone["error"]["details"]["reason"], "Test data");
    b.goto(&page).await;
    b.wait_until("document.title === 'Session deleted · idv portal'", WAIT)
        .await;
    let text = page_text(&b).await;
    assert!(
        text.contains("Test data") && text.contains("admin (user)"),
        "the tombstone: {text}"
    );
    check(&b, "deleted").await;
    drop(b);

    // A verifier reviews but cannot delete, and sees no deliveries (no webhook:read).
    create_user(srv, "vera", "a long verifier password", &["verifier"]).await;
    let b = Browser::start().await;
    browser_sign_in(&b, srv, "vera", "a long verifier password").await;
    b.goto(&format!("{}/portal/sessions/{other}", srv.url))
        .await;
    b.wait_for("form[action$='/review']", WAIT).await;
    assert!(b.try_find("form[action$='/delete']").await.is_none());
    assert!(!page_text(&b).await.contains("Webhook deliveries"));
    let text = page_text(&b).await;
    assert!(text.contains("user-43"), "{text}");
    assert!(
        !text.contains("Name on the document") && !text.contains("none"),
        "view fields without a value are left out: {text}"
    );
    b.find("label.check input[value='4']").await.click().await;
    b.find("button[name=action][value=set]").await.click().await;
    wait_text(&b, ".flash", "Status set to pending.").await;
    assert_eq!(e.read(&other).await.1["status"], 4);
    check(&b, "verifier").await;
    drop(b);

    // A form without its CSRF value, or with another's, is refused and changes nothing.
    let c = Client::builder().redirect(Policy::none()).build().unwrap();
    let (cookie, _) = http_sign_in(srv, &c, "admin", ADMIN_PASSWORD).await;
    let html = c
        .get(format!("{}/portal/sessions/{other}", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let etag = field(&html, "etag").replace("&quot;", "\"");
    for csrf in ["", "not-the-value"] {
        let r = c
            .post(format!("{}/portal/sessions/{other}/review", srv.url))
            .header("cookie", &cookie)
            .form(&[
                ("csrf", csrf),
                ("action", "approve"),
                ("etag", &etag),
                ("comment", "forged"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        for form in ["hold", "delete"] {
            let r = c
                .post(format!("{}/portal/sessions/{other}/{form}", srv.url))
                .header("cookie", &cookie)
                .form(&[("csrf", csrf), ("hold", "on"), ("confirm", &other)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{form}");
        }
    }
    let (status, s) = e.read(&other).await;
    assert_eq!(status, 200, "not deleted");
    assert_eq!(s["status"], 4, "not approved");
    assert_eq!(s["legalHold"], false);
    assert_eq!(s["history"].as_array().unwrap().len(), 1);
    // With it, the same form works.
    let csrf = field(&html, "csrf");
    let r = c
        .post(format!("{}/portal/sessions/{other}/review", srv.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "approve"),
            ("etag", &etag),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(e.read(&other).await.1["status"], 3);

    // Bad input gets the API's reason on the page, and nothing changes: a comment over 2000
    // characters; deleting a session under legal hold (a form from before the hold).
    let open = || async {
        c.get(format!("{}/portal/sessions/{other}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let html = open().await;
    let etag = field(&html, "etag").replace("&quot;", "\"");
    let long = "x".repeat(2001);
    let r = c
        .post(format!("{}/portal/sessions/{other}/review", srv.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "reject"),
            ("etag", &etag),
            ("comment", &long),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("The review was not saved: "), "{page}");
    assert!(page.contains("2000"), "the reason names the limit: {page}");
    let r = srv
        .admin(srv.patch(&format!("/api/sessions/{other}")))
        .json(&json!({"legalHold": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}/portal/sessions/{other}/delete", srv.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("confirm", &other)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("The session was not deleted: "), "{page}");
    assert!(page.contains("legal hold"), "{page}");
    let (status, s) = e.read(&other).await;
    assert_eq!((status, s["status"].clone()), (200, json!(3)));
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_reviewed_held_exported_and_deleted_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_session_reviewed_held_exported_and_deleted_postgres() {
    flow(Backend::Postgres).await;
}

/// `GET /api/sessions/{id}/deliveries` over HTTP: the session's deliveries with their
/// endpoint, only for who may read webhooks, and a bad limit named.
#[tokio::test]
async fn a_sessions_webhook_deliveries() {
    let (e, id) = env(Backend::Sqlite).await;
    let srv = &e.srv;
    let r = srv
        .admin(srv.get(&format!("/api/sessions/{id}/deliveries")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert!(items.len() >= 3, "{v:#}");
    assert!(items.iter().all(|d| d["sessionId"] == id.as_str()));
    assert!(items.iter().all(|d| d["webhookId"].as_str().is_some()));
    assert!(items.iter().any(|d| d["eventType"] == "session.created"));
    let ids: Vec<i64> = items
        .iter()
        .map(|d| d["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let r = srv
        .admin(srv.get(&format!("/api/sessions/{id}/deliveries?limit=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, code, _) = error_of(
        srv.admin(srv.get(&format!("/api/sessions/{id}/deliveries?limit=0")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    // A key that reads sessions but not webhooks may not.
    let r = srv
        .get(&format!("/api/sessions/{id}/deliveries"))
        .header("authorization", e.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    e.srv.stop().await;
}
