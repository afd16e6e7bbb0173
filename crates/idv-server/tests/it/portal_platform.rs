//! The portal's workflow and webhook settings in a real browser, on SQLite and PostgreSQL: a
//! broken workflow file shows each problem at its line, a good one joins the list, its
//! translations and an asset load; a webhook endpoint made in the portal shows its secret once,
//! a delivery the receiver refuses shows as failing, and Retry delivers it.

use crate::capture::{WAIT, check};
use crate::common::*;
use crate::portal::{browser_sign_in, create_user, field, http_sign_in, scroll_to, wait_flash};
use crate::support::browser::Browser;
use crate::support::receiver::{Answer, Receiver};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A workflow with two mistakes: a transition to a step that does not exist (line 10) and a
/// condition naming a rule that does not exist (line 11).
const BROKEN: &str = "\
id: 6a0f7f20-0003-11ef-8000-00000000e003
name: Broken on purpose
version: \"1\"
steps:
  - id: FORM
    name: FORM
    type: DATA
    conditions:
      - name: Done
        transit: {step: NOWHERE, status: VERIFIED}
        rules: [{id: no_such_rule, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
";
const BROKEN_LINES: &[u64] = &[10, 11];

/// A file of the repository's `examples/`, read now.
fn example(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Reloads the page until `css` matches (the page does not refresh itself).
async fn reload_until(b: &Browser, css: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if b.try_find(css).await.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no {css} after 30 s: {}",
            b.find("main").await.text().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.refresh().await;
    }
}

async fn submit(b: &Browser, form: &str) {
    b.find(&format!("{form} button[type=submit]"))
        .await
        .click()
        .await;
}

async fn flow(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.outbound.allow_private_addresses = true;
        c.services.webhooks.poll_interval = 100;
        // A failed delivery waits an hour for its next try: only Retry sends it sooner.
        c.services.webhooks.retry_base = 3_600_000;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let b = Browser::start().await;
    browser_sign_in(&b, &srv, "admin", ADMIN_PASSWORD).await;

    // Workflows: none yet, and the form to load one.
    b.goto(&format!("{}/portal/settings/workflows", srv.url))
        .await;
    b.wait_until("document.title === 'Workflows · idv portal'", WAIT)
        .await;
    assert!(b.find("main").await.text().await.contains("No workflows"));
    check(&b, "workflows-empty").await;

    // A broken file through the file input: every problem with its line, the lines marked.
    let broken = write(dir.path(), "broken.yaml", BROKEN.as_bytes());
    b.find("#file").await.upload(&[&broken]).await;
    submit(&b, "form[enctype='multipart/form-data']").await;
    b.wait_for("ol.problems", WAIT).await;
    let alert = b.find("[role=alert]").await.text().await;
    assert!(alert.contains("broken.yaml was not loaded"), "{alert}");
    let links = b
        .execute(
            "return [...document.querySelectorAll('ol.problems li a')].map(a => [a.textContent, a.getAttribute('href')]);",
            vec![],
        )
        .await;
    let mut shown: Vec<u64> = vec![];
    for pair in links.as_array().unwrap() {
        let text = pair[0].as_str().unwrap();
        let href = pair[1].as_str().unwrap();
        let n: u64 = text.strip_prefix("line ").unwrap().parse().unwrap();
        assert_eq!(href, format!("#L{n}"));
        shown.push(n);
    }
    shown.sort_unstable();
    shown.dedup();
    assert_eq!(shown, BROKEN_LINES, "the problems' lines");
    let problems = b.find("ol.problems").await.text().await;
    assert!(problems.contains("NOWHERE"), "{problems}");
    assert!(problems.contains("no_such_rule"), "{problems}");
    let marked = b
        .execute(
            "return [...document.querySelectorAll('pre.yaml .bad')].map(e => [e.id, e.textContent]);",
            vec![],
        )
        .await;
    let marked = marked.as_array().unwrap();
    let ids: Vec<&str> = marked.iter().map(|m| m[0].as_str().unwrap()).collect();
    assert_eq!(ids, ["L10", "L11"]);
    let lines: Vec<&str> = BROKEN.lines().collect();
    for m in marked {
        let n: usize = m[0].as_str().unwrap()[1..].parse().unwrap();
        assert_eq!(m[1], lines[n - 1], "line {n} shows its text");
    }
    assert_eq!(
        b.find_all("pre.yaml .ln").await.len(),
        lines.len(),
        "every line is shown"
    );
    check(&b, "workflow-problems").await;
    // The problem's link leads to its line.
    b.find("ol.problems li a").await.click().await;
    b.wait_until("location.hash === '#L10'", WAIT).await;
    b.screenshot("workflow-problems-at-line").await;
    // Nothing was stored.
    let r = srv
        .admin(srv.get("/api/workflows/6a0f7f20-0003-11ef-8000-00000000e003"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The example age gate: loaded, named in the notice and in the list.
    let good = write(
        dir.path(),
        "age_gate.yaml",
        example("age_gate/workflow.yaml").as_bytes(),
    );
    b.find("#text").await.clear().await;
    b.find("#file").await.upload(&[&good]).await;
    submit(&b, "form[enctype='multipart/form-data']").await;
    let flash = b.wait_for(".flash", WAIT).await.text().await;
    assert!(
        flash.contains("Workflow Example age gate loaded"),
        "{flash}"
    );
    assert!(
        b.current_url()
            .await
            .contains("/portal/settings/workflows?done=")
    );
    let row = b.find("ul.rows li").await.text().await;
    assert!(
        row.contains("Example age gate") && row.contains(AGE_GATE_ID),
        "{row}"
    );
    assert!(b.try_find("ol.problems").await.is_none());
    check(&b, "workflows-list").await;

    // Reload from folder: a broken file there is refused with its lines; nothing changes.
    let folder = srv.data_dir().join("workflows");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("broken.yaml"), BROKEN).unwrap();
    submit(&b, "form[action='/portal/settings/workflows/reload']").await;
    b.wait_until("document.title === 'Reload from folder · idv portal'", WAIT)
        .await;
    let main = b.find("main").await.text().await;
    assert!(main.contains("1 refused"), "{main}");
    assert!(main.contains("workflows/broken.yaml"), "{main}");
    assert!(
        main.contains("line 10: steps[0].conditions[0].transit.step"),
        "{main}"
    );
    assert!(
        main.contains("line 11: steps[0].conditions[0].rules[0].id"),
        "{main}"
    );
    check(&b, "workflows-reloaded").await;
    std::fs::remove_file(folder.join("broken.yaml")).unwrap();
    b.goto(&format!("{}/portal/settings/workflows", srv.url))
        .await;

    // Its page: the summary and the definition.
    b.find(&format!(
        "a[href='/portal/settings/workflows/{AGE_GATE_ID}']"
    ))
    .await
    .click()
    .await;
    b.wait_until(
        "document.title === 'Workflow Example age gate · idv portal'",
        WAIT,
    )
    .await;
    let props = b.find("dl.props").await.text().await;
    assert!(
        props.contains(AGE_GATE_ID) && props.contains("en-us"),
        "{props}"
    );
    assert!(
        b.try_find("form[data-confirm] button.danger")
            .await
            .is_some()
    );
    check(&b, "workflow-one").await;
    // The definition, behind its disclosure (its texts hold {{ locale.… }} templates).
    b.find("details.definition summary").await.click().await;
    let definition = b.find("details.definition pre").await.text().await;
    assert!(definition.contains("\"AGE_INTRO\""), "{definition}");
    assert!(
        definition.contains("{{ locale.AGE_GATE_TITLE }}"),
        "{definition}"
    );
    b.screenshot("workflow-definition").await;

    // Its translations, through the file input of the translations page.
    b.goto(&format!("{}/portal/settings/translations", srv.url))
        .await;
    b.wait_for("#file", WAIT).await;
    let locale = write(
        dir.path(),
        "locale.yaml",
        example("age_gate/locale.yaml").as_bytes(),
    );
    b.find("#file").await.upload(&[&locale]).await;
    submit(&b, "form[enctype='multipart/form-data']").await;
    let flash = b.wait_for(".flash", WAIT).await.text().await;
    assert!(
        flash.contains("Loaded 10 entries of en-us, es-es"),
        "{flash}"
    );
    b.find("a[href='/portal/settings/translations?locale=es-es']")
        .await
        .click()
        .await;
    b.wait_until(
        "document.body.innerText.includes('¿Tienes 18 años o más?')",
        WAIT,
    )
    .await;
    check(&b, "translations").await;

    // An asset, stored with its file's type.
    b.goto(&format!("{}/portal/settings/assets", srv.url)).await;
    b.wait_for("#file", WAIT).await;
    let logo = write(
        dir.path(),
        "logo.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#,
    );
    b.find("#file").await.upload(&[&logo]).await;
    submit(&b, "form[enctype='multipart/form-data']").await;
    let flash = b.wait_for(".flash", WAIT).await.text().await;
    assert!(flash.contains("Asset logo.svg stored."), "{flash}");
    let row = b.find("ul.rows li").await.text().await;
    assert!(
        row.contains("logo.svg") && row.contains("image/svg+xml"),
        "{row}"
    );
    check(&b, "assets").await;

    // Webhooks: an endpoint at a receiver that answers 500 for now.
    let rx = Receiver::start().await;
    rx.answer(Answer::status(500));
    b.goto(&format!("{}/portal/settings/webhooks", srv.url))
        .await;
    b.wait_for("#url", WAIT).await;
    assert!(
        b.find("main")
            .await
            .text()
            .await
            .contains("No webhook endpoints")
    );
    check(&b, "webhooks-empty").await;
    // No event chosen: refused, the URL kept.
    b.find("#url").await.send_keys(&rx.url()).await;
    b.find("#description").await.send_keys("Back office").await;
    submit(&b, "form[action='/portal/settings/webhooks']").await;
    let alert = b.wait_for("[role=alert]", WAIT).await.text().await;
    assert!(alert.contains("Choose at least one event"), "{alert}");
    assert_eq!(
        b.find("#url").await.property("value").await,
        json!(rx.url())
    );
    b.find("#ev-session-created").await.click().await;
    b.find("#ev-webhook-test").await.click().await;
    submit(&b, "form[action='/portal/settings/webhooks']").await;
    let secret = b.wait_for("code#secret", WAIT).await.text().await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let copy = b.find("button[data-copy=secret]").await;
    assert!(
        copy.is_displayed().await,
        "the script shows the Copy button"
    );
    assert_eq!(copy.attribute("type").await.as_deref(), Some("button"));
    rx.set_secret(&secret);
    check(&b, "webhook-secret").await;
    // The secret is on that page only: not in its address, not on the endpoint's page.
    assert!(!b.current_url().await.contains("whsec_"));
    b.find("main a[href^='/portal/settings/webhooks/']")
        .await
        .click()
        .await;
    b.wait_until("document.title === 'Webhook endpoint · idv portal'", WAIT)
        .await;
    assert!(!b.source().await.contains(&secret));
    let hook_url = b.current_url().await;

    // A session starts: its event is refused by the receiver and shows as failing.
    let r = srv
        .admin(srv.post(&format!("/api/sessions?workflowId={AGE_GATE_ID}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let session: serde_json::Value = r.json().await.unwrap();
    let sid = session["id"].as_str().unwrap().to_owned();
    reload_until(
        &b,
        "li[data-state=pending] form button",
        "the failed delivery",
    )
    .await;
    let row = b.find("ul.deliveries li").await.text().await;
    assert!(row.contains("session.created"), "{row}");
    assert!(row.contains("HTTP 500"), "{row}");
    assert!(row.contains("retrying"), "{row}");
    assert!(
        b.try_find(&format!("li a[href='/portal/sessions/{sid}']"))
            .await
            .is_some(),
        "the delivery links its session"
    );
    assert_eq!(rx.hits().len(), 1);
    scroll_to(&b, "ul.deliveries").await;
    check(&b, "webhook-failed").await;

    // The receiver recovers; Retry sends it now and the log shows it delivered.
    rx.answer(Answer::status(200));
    b.find("li[data-state=pending] form button")
        .await
        .click()
        .await;
    let flash = b.wait_for(".flash", WAIT).await.text().await;
    assert!(flash.contains("queued again"), "{flash}");
    reload_until(&b, "li[data-state=delivered]", "the retried delivery").await;
    let row = b.find("li[data-state=delivered]").await.text().await;
    assert!(row.contains("HTTP 200"), "{row}");
    assert!(b.try_find("li[data-state=delivered] form").await.is_none());
    let accepted = rx.accepted();
    assert_eq!(accepted.len(), 1, "delivered once");
    assert_eq!(accepted[0].session_id.as_deref(), Some(sid.as_str()));
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    scroll_to(&b, "ul.deliveries").await;
    check(&b, "webhook-delivered").await;

    // A test event, sent from the endpoint's page, arrives too.
    submit(&b, "form[action$='/test']").await;
    b.wait_until(
        "document.querySelector('.flash')?.textContent.includes('Test event queued')",
        WAIT,
    )
    .await;
    reload_until(
        &b,
        "li[data-state=delivered] + li[data-state=delivered]",
        "the test event",
    )
    .await;
    assert!(rx.accepted().iter().any(|h| h.kind == "webhook.test"));

    // Replay since today: the session's event is sent again, with the same webhook-id.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    b.execute(
        "document.getElementById('since').value = arguments[0];",
        vec![json!(today)],
    )
    .await;
    submit(&b, "form[action$='/replay']").await;
    b.wait_until(
        "document.querySelector('.flash')?.textContent.includes('since')",
        WAIT,
    )
    .await;
    let flash = b.find(".flash").await.text().await;
    assert_eq!(flash, format!("1 event since {today} queued again."));
    let first = accepted[0].webhook_id.clone();
    crate::support::receiver::wait_for(30, "the replayed event", || {
        let rx = rx.clone();
        let first = first.clone();
        async move {
            rx.accepted()
                .iter()
                .filter(|h| h.webhook_id == first)
                .count()
                == 2
        }
    })
    .await;

    // The list shows the endpoint with its events and state.
    b.goto(&format!("{}/portal/settings/webhooks", srv.url))
        .await;
    let row = b.wait_for("ul.rows li", WAIT).await.text().await;
    assert!(
        row.contains(&rx.url()) && row.contains("Back office"),
        "{row}"
    );
    assert!(
        row.contains("session.created") && row.contains("enabled"),
        "{row}"
    );
    check(&b, "webhooks-list").await;

    // Rotate the secret (the page asks first): a new one, shown once; the receiver signs with
    // it from now on.
    b.goto(&hook_url).await;
    b.wait_for("form[action$='/rotate']", WAIT).await;
    b.execute("window.confirm = () => true;", vec![]).await;
    submit(&b, "form[action$='/rotate']").await;
    b.wait_until("document.title === 'Webhook secret · idv portal'", WAIT)
        .await;
    let rotated = b.find("code#secret").await.text().await;
    assert!(
        rotated.starts_with("whsec_") && rotated != secret,
        "{rotated}"
    );
    rx.set_secret(&rotated);
    b.find("main a[href^='/portal/settings/webhooks/']")
        .await
        .click()
        .await;
    b.wait_for("form[action$='/test']", WAIT).await;
    let old_signature = b.find("dl.props").await.text().await;
    assert!(
        old_signature.contains("Old secret signs until"),
        "{old_signature}"
    );
    submit(&b, "form[action$='/test']").await;
    crate::support::receiver::wait_for(30, "a test event signed with the new secret", || {
        let rx = rx.clone();
        async move {
            rx.accepted()
                .iter()
                .filter(|h| h.kind == "webhook.test")
                .count()
                == 2
        }
    })
    .await;
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());

    // Delete the endpoint and the workflow (each asks first): gone from their lists.
    b.execute("window.confirm = () => true;", vec![]).await;
    submit(&b, "form[action$='/delete']").await;
    wait_flash(&b, "Endpoint deleted.").await;
    assert!(
        b.find("main")
            .await
            .text()
            .await
            .contains("No webhook endpoints")
    );
    b.goto(&format!(
        "{}/portal/settings/workflows/{AGE_GATE_ID}",
        srv.url
    ))
    .await;
    b.wait_for("form[action$='/delete']", WAIT).await;
    b.execute("window.confirm = () => true;", vec![]).await;
    submit(&b, "form[action$='/delete']").await;
    wait_flash(&b, &format!("Workflow {AGE_GATE_ID} deleted.")).await;
    assert!(b.find("main").await.text().await.contains("No workflows"));

    // A verifier may open neither area, and its forms change nothing.
    create_user(&srv, "vera", "a long password 1", &["verifier"]).await;
    b.find("form[action='/portal/logout'] button")
        .await
        .click()
        .await;
    b.wait_for("#username", WAIT).await;
    browser_sign_in(&b, &srv, "vera", "a long password 1").await;
    let nav = b.find("header nav").await.text().await;
    assert!(
        !nav.contains("Workflows") && !nav.contains("Webhooks"),
        "{nav}"
    );
    for (page, label) in [("workflows", "Workflows"), ("webhooks", "Webhooks")] {
        b.goto(&format!("{}/portal/settings/{page}", srv.url)).await;
        b.wait_until("document.title === 'Not allowed · idv portal'", WAIT)
            .await;
        let alert = b.find("[role=alert]").await.text().await;
        assert!(alert.contains(&format!("open the {label} page")), "{alert}");
    }
    check(&b, "not-allowed").await;
    srv.stop().await;
}

#[tokio::test]
async fn workflows_and_webhooks_in_the_browser_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn workflows_and_webhooks_in_the_browser_postgres() {
    flow(Backend::Postgres).await;
}

/// Forms without the session's CSRF value change nothing: no workflow, endpoint, asset or
/// retry; with it the same forms work, and the secret page is never cached.
#[tokio::test]
async fn forms_without_the_csrf_value_change_nothing() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.outbound.allow_private_addresses = true;
    })
    .await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, _) = http_sign_in(&srv, &c, "admin", ADMIN_PASSWORD).await;
    let page = c
        .get(format!("{}/portal/settings/webhooks", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = field(&page.text().await.unwrap(), "csrf");
    let workflow = example("age_gate/workflow.yaml");
    let upload = |csrf: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.to_string())
            .text("idem", "")
            .part(
                "file",
                reqwest::multipart::Part::text(workflow.clone()).file_name("age_gate.yaml"),
            )
    };
    let hook = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("url", "http://127.0.0.1:9/hook".to_string()),
            ("events", "session.created".to_string()),
            ("events", "webhook.test".to_string()),
        ]
    };
    for bad in ["", "not-the-value"] {
        let r = c
            .post(format!("{}/portal/settings/workflows", srv.url))
            .header("cookie", &cookie)
            .multipart(upload(bad))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "upload with csrf {bad:?}");
        let r = c
            .post(format!("{}/portal/settings/webhooks", srv.url))
            .header("cookie", &cookie)
            .form(&hook(bad))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "endpoint with csrf {bad:?}");
        assert!(r.text().await.unwrap().contains("nothing was changed"));
    }
    let wfs: serde_json::Value = srv.admin(srv.get("/api/workflows")).send_json().await;
    assert_eq!(wfs, json!([]));
    let hooks: serde_json::Value = srv.admin(srv.get("/api/webhooks")).send_json().await;
    assert_eq!(hooks["total"], 0);

    // With it: the workflow is loaded (303 to the list) and the endpoint made, its secret on
    // an uncached page, both events chosen.
    let r = c
        .post(format!("{}/portal/settings/workflows", srv.url))
        .header("cookie", &cookie)
        .multipart(upload(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/portal/settings/workflows?done=Workflow%20Example%20age%20gate")
    );
    let r = c
        .post(format!("{}/portal/settings/webhooks", srv.url))
        .header("cookie", &cookie)
        .form(&hook(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let hooks: serde_json::Value = srv.admin(srv.get("/api/webhooks")).send_json().await;
    assert_eq!(hooks["total"], 1);
    assert_eq!(
        hooks["items"][0]["events"],
        json!(["session.created", "webhook.test"])
    );
    assert!(html.contains("<code id=\"secret\">whsec_"), "{html}");

    // An endpoint URL the API refuses: the form again with the API's reason, nothing made.
    let mut bad_url = hook(&csrf);
    bad_url[1].1 = "ftp://example.com/hook".into();
    let r = c
        .post(format!("{}/portal/settings/webhooks", srv.url))
        .header("cookie", &cookie)
        .form(&bad_url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("The endpoint was not created:"), "{html}");
    assert!(html.contains("value=\"ftp://example.com/hook\""), "{html}");
    let hooks: serde_json::Value = srv.admin(srv.get("/api/webhooks")).send_json().await;
    assert_eq!(hooks["total"], 1);

    // A localization file with a problem: listed with its line, the line marked.
    let r = c
        .post(format!("{}/portal/settings/translations", srv.url))
        .header("cookie", &cookie)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", csrf.clone())
                .text(
                    "text",
                    "- key: A\n  code: en-us\n  value: fine\n- key: B\n  code: en-us\n",
                ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("The localization file in the pasted text was not loaded"),
        "{html}"
    );
    assert!(html.contains("<ol class=\"problems\">"), "{html}");
    assert!(html.contains("class=\"ln bad\""), "{html}");
    let entries: serde_json::Value = srv.admin(srv.get("/api/translations")).send_json().await;
    assert_eq!(entries, json!([]));

    // An asset id the API refuses: its reason, nothing stored.
    let r = c
        .post(format!("{}/portal/settings/assets", srv.url))
        .header("cookie", &cookie)
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf", csrf.clone())
                .text("id", "no spaces allowed")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(b"GIF89a".to_vec())
                        .file_name("a.gif")
                        .mime_str("image/gif")
                        .unwrap(),
                ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("The asset no spaces allowed was not stored:"),
        "{html}"
    );
    let assets: serde_json::Value = srv.admin(srv.get("/api/v1/assets")).send_json().await;
    assert_eq!(assets, json!([]));
    srv.stop().await;
}

/// Every upload of a workflow is a revision: the API answers each by number, and the portal's
/// page of the workflow links them all and shows the one asked for.
#[tokio::test]
async fn a_workflows_revisions() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let load = |yaml: String| {
        let srv = &srv;
        async move {
            let r = srv
                .admin(srv.post("/api/workflows"))
                .header("content-type", "application/yaml")
                .body(yaml)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    load(AGE_GATE.to_string()).await;
    load(AGE_GATE.replace("name: Example age gate", "name: Age gate, second take")).await;
    let get = |path: String| {
        let srv = &srv;
        async move {
            let r = srv.admin(srv.get(&path)).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let base = format!("/api/workflows/{AGE_GATE_ID}");
    let (status, cur) = get(base.clone()).await;
    assert_eq!((status, cur["revision"].as_i64()), (200, Some(2)));
    let (status, first) = get(format!("{base}/revisions/1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["revision"], 1);
    assert_eq!(first["name"], "Example age gate");
    assert_eq!(first["definition"]["name"], "Example age gate");
    let (status, second) = get(format!("{base}/revisions/2")).await;
    assert_eq!(
        (status, second["name"].as_str()),
        (200, Some("Age gate, second take"))
    );
    let (status, e) = get(format!("{base}/revisions/3")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("workflow_not_found"))
    );
    let (status, e) = get(format!("{base}/revisions/zero")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_parameter"))
    );

    // The portal's page: both revisions linked, the one asked for shown and marked.
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, _) = http_sign_in(&srv, &c, "admin", ADMIN_PASSWORD).await;
    let page = |q: &'static str| {
        let (c, srv, cookie) = (&c, &srv, &cookie);
        async move {
            let r = c
                .get(format!(
                    "{}/portal/settings/workflows/{AGE_GATE_ID}{q}",
                    srv.url
                ))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let html = page("").await;
    assert!(html.contains("Revision 2 (current)</a>"), "{html}");
    assert!(html.contains("?revision=1\">Revision 1</a>"), "{html}");
    assert!(html.contains("Age gate, second take"));
    let html = page("?revision=1").await;
    assert!(
        html.contains("?revision=1\" aria-current=\"true\">Revision 1</a>"),
        "{html}"
    );
    assert!(html.contains("Example age gate"));
    assert!(
        !html.contains("Age gate, second take"),
        "the first revision's text only"
    );
    srv.stop().await;
}
