//! The portal's account settings in a real browser, on SQLite and PostgreSQL: an API key made
//! with the permission table works once shown and stops working once revoked, its token is
//! never shown again; users and roles made through their forms; the audit log filtered and its
//! chain verified; a verifier sees none of it and is refused with the friendly page; a form
//! without its CSRF value changes nothing. Also `POST /api/audit/verify` over HTTP, finding a
//! changed entry.

use crate::capture::{WAIT, check};
use crate::common::*;
use crate::portal::{browser_sign_in, create_user};
use crate::portal::{http_sign_in, scroll_to, wait_flash};
use crate::support::browser::Browser;
use reqwest::Client;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

/// A client that shows redirects instead of following them.
fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// The browser's portal session cookie (`idv_portal=...`).
async fn session_cookie(b: &Browser) -> String {
    let all = b.command(reqwest::Method::GET, "/cookie", None).await;
    let value = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "idv_portal")
        .expect("a portal session cookie")["value"]
        .as_str()
        .unwrap()
        .to_string();
    format!("idv_portal={value}")
}

/// Clicks `css` (a button whose form asks first) and accepts the question.
async fn click_and_confirm(b: &Browser, css: &str) {
    b.find(css).await.click().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match b
            .try_command(reqwest::Method::POST, "/alert/accept", Some(json!({})))
            .await
        {
            Ok(_) => return,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no question was asked: {e}"),
        }
    }
}

/// Waits for the page titled `title` (`<title>` is `title · idv portal`).
async fn wait_title(b: &Browser, title: &str) {
    b.wait_until(
        &format!("document.title === {:?}", format!("{title} · idv portal")),
        WAIT,
    )
    .await;
}

/// `GET /api/sessions/{id}` of an unknown session with `Authorization: ApiKey <token>`.
async fn read_with_key(srv: &TestServer, token: &str) -> u16 {
    srv.get(&format!("/api/sessions/{}", idv_core::ids::new_id()))
        .header("authorization", format!("ApiKey {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn admin_json(srv: &TestServer, path: &str) -> Value {
    let r = srv.admin(srv.get(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// The number of rows of the audit table on the page.
async fn audit_rows(b: &Browser) -> usize {
    b.find_all("#audit tbody tr").await.len()
}

async fn accounts_flow(backend: Backend) {
    let srv = TestServer::start(backend).await;
    create_user(&srv, "vera", "verifier-password-1", &["verifier"]).await;
    let b = Browser::start().await;
    browser_sign_in(&b, &srv, "admin", ADMIN_PASSWORD).await;
    let nav = b.find("header nav").await.text().await;
    for label in ["API keys", "Users and roles", "Audit log"] {
        assert!(nav.contains(label), "{nav}");
    }

    // API keys: the empty list and the form with one checkbox per scope and operation.
    b.goto(&format!("{}/portal/settings/keys", srv.url)).await;
    wait_title(&b, "API keys").await;
    assert!(
        b.find("main")
            .await
            .text()
            .await
            .contains("No API keys yet.")
    );
    assert_eq!(
        b.find_all("#create-key input[type=checkbox][name=perm]")
            .await
            .len(),
        idv_core::permission::SCOPES.len() * 4
    );
    check(&b, "keys").await;
    scroll_to(&b, "#create-key fieldset").await;
    check(&b, "keys-permissions").await;

    // Without a permission the API refuses: its message beside the form, the input kept.
    b.find("#key-name").await.send_keys("ci-reader").await;
    b.find("#create-key button[type=submit]")
        .await
        .click()
        .await;
    let alert = b.wait_for("section [role=alert]", WAIT).await.text().await;
    assert!(alert.contains("permissions"), "{alert}");
    assert_eq!(
        b.find("#key-name").await.property("value").await,
        "ci-reader"
    );
    scroll_to(&b, "#new-key-h").await;
    check(&b, "keys-error").await;

    // Tick session_all:read, pick a day: the token once, with a copy button.
    b.find("#key-session_all-read").await.click().await;
    b.find("#key-ttl option[value='86400']").await.click().await;
    b.find("#create-key button[type=submit]")
        .await
        .click()
        .await;
    wait_title(&b, "API key created").await;
    let token = b.find("code#new-key-token").await.text().await;
    assert!(token.len() > 20, "{token}");
    let copy = b.find("button[data-copy=new-key-token]").await;
    assert!(
        copy.is_displayed().await,
        "the script shows the copy button"
    );
    assert!(!b.current_url().await.contains(&token));
    let shown = b.find("main").await.text().await;
    assert!(
        shown.contains("session_all:read") && shown.contains("1 day"),
        "{shown}"
    );
    check(&b, "key-created").await;

    // The key works for what it was given (404: no such session, not 401).
    assert_eq!(read_with_key(&srv, &token).await, 404);

    // The list again: the key, but never its token.
    b.goto(&format!("{}/portal/settings/keys", srv.url)).await;
    wait_title(&b, "API keys").await;
    assert!(!b.source().await.contains(&token));
    let row = b.find("main table tbody tr").await.text().await;
    assert!(
        row.contains("ci-reader") && row.contains("session_all:read") && row.contains("active"),
        "{row}"
    );
    check(&b, "keys-list").await;

    // A form without the CSRF value (the admin's own cookie): 403, no key made.
    let cookie = session_cookie(&b).await;
    let r = client()
        .post(format!("{}/portal/settings/keys", srv.url))
        .header("cookie", &cookie)
        .form(&[
            ("name", "forged"),
            ("ttl", "never"),
            ("perm", "session_all:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("nothing was changed"));
    let keys = admin_json(&srv, "/api/apikey").await;
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["name"] != "forged"),
        "{keys}"
    );

    // Revoke, after the question: the same call now answers 401.
    click_and_confirm(&b, "main table form button.danger").await;
    wait_flash(&b, "“ci-reader” was revoked").await;
    assert!(b.find("main table").await.text().await.contains("revoked"));
    assert_eq!(read_with_key(&srv, &token).await, 401);
    check(&b, "keys-revoked").await;

    // Users: create one with the verifier role through the form.
    b.goto(&format!("{}/portal/settings/users", srv.url)).await;
    wait_title(&b, "Users and roles").await;
    check(&b, "users").await;
    b.find("#user-name").await.send_keys("olga").await;
    b.find("#user-password")
        .await
        .send_keys("olga-password-1")
        .await;
    b.find("#user-email")
        .await
        .send_keys("olga@example.com")
        .await;
    b.find("#create-user input[name=role][value=verifier]")
        .await
        .click()
        .await;
    b.find("#create-user button[type=submit]")
        .await
        .click()
        .await;
    wait_flash(&b, "“olga” was created").await;
    let users = admin_json(&srv, "/api/security/users").await;
    let olga = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "olga")
        .expect("olga")
        .clone();
    assert_eq!(olga["roles"], json!(["verifier"]));
    assert_eq!(olga["email"], "olga@example.com");
    assert_eq!(olga["active"], true);
    check(&b, "users-created").await;

    // Deactivate her and give her the demo role too.
    let card = "li.card:has(input[name=name][value=olga])";
    b.find(&format!("{card} summary")).await.click().await;
    b.find(&format!("{card} input[name=role][value=demo]"))
        .await
        .click()
        .await;
    b.find(&format!("{card} input[name=active]"))
        .await
        .click()
        .await;
    scroll_to(&b, &format!("{card} details")).await;
    check(&b, "users-change").await;
    b.find(&format!("{card} details button[type=submit]"))
        .await
        .click()
        .await;
    wait_flash(&b, "“olga” was changed").await;
    let olga = admin_json(
        &srv,
        &format!("/api/security/users/{}", olga["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(olga["roles"], json!(["verifier", "demo"]));
    assert_eq!(olga["active"], false);

    // A custom role from the same permission table.
    b.find("#role-name").await.send_keys("observer").await;
    b.find("#role-session-read").await.click().await;
    b.find("#role-session-subscribe").await.click().await;
    b.find("#create-role button[type=submit]")
        .await
        .click()
        .await;
    wait_flash(&b, "“observer” was created").await;
    let roles = admin_json(&srv, "/api/security/roles").await;
    let observer = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "observer")
        .expect("observer");
    assert_eq!(
        observer["permissions"],
        json!(["session:read", "session:subscribe"])
    );
    assert!(
        b.find("#create-user")
            .await
            .text()
            .await
            .contains("observer"),
        "the new role is offered to users"
    );
    check(&b, "role-created").await;

    // Delete her, after the question.
    click_and_confirm(&b, &format!("{card} form[action$='/delete'] button")).await;
    wait_flash(&b, "“olga” was deleted").await;
    let users = admin_json(&srv, "/api/security/users").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["name"] != "olga")
    );
    scroll_to(&b, "#roles-h").await;
    check(&b, "roles").await;

    // The audit log: entries, then only apikey.created ones.
    b.goto(&format!("{}/portal/settings/audit", srv.url)).await;
    wait_title(&b, "Audit log").await;
    let all = audit_rows(&b).await;
    assert!(all >= 5, "{all} entries");
    check(&b, "audit").await;
    assert!(
        !b.find("#audit-filters").await.is_displayed().await,
        "the filters start folded"
    );
    b.find("details.filters-box summary").await.click().await;
    b.find("#f-action option[value='apikey.created']")
        .await
        .click()
        .await;
    b.find("#audit-filters button[type=submit]")
        .await
        .click()
        .await;
    b.wait_until(
        "location.search.includes('action=apikey.created') && document.readyState === 'complete'",
        WAIT,
    )
    .await;
    let some = audit_rows(&b).await;
    assert!(some >= 1 && some < all, "{some} of {all}");
    for cell in b.find_all("#audit tbody tr td:nth-child(2)").await {
        assert_eq!(cell.text().await, "apikey.created");
    }
    assert_eq!(
        b.find("#f-action").await.property("value").await,
        "apikey.created",
        "the filter stays chosen"
    );
    scroll_to(&b, "#audit").await;
    check(&b, "audit-filtered").await;

    // Verify the chain.
    b.find("form.verify button").await.click().await;
    let verdict = b.wait_for("#verdict", WAIT).await.text().await;
    assert!(verdict.starts_with("The chain is intact:"), "{verdict}");
    check(&b, "audit-verified").await;

    // A verifier: no settings in the menu, the friendly 403, and no key made without CSRF.
    b.find("form[action='/portal/logout'] button")
        .await
        .click()
        .await;
    b.wait_until("document.title === 'Sign in · idv'", WAIT)
        .await;
    browser_sign_in(&b, &srv, "vera", "verifier-password-1").await;
    let nav = b.find("header nav").await.text().await;
    for label in ["API keys", "Users and roles", "Audit log"] {
        assert!(!nav.contains(label), "{nav}");
    }
    b.goto(&format!("{}/portal/settings/keys", srv.url)).await;
    wait_title(&b, "Not allowed").await;
    assert!(
        b.find("[role=alert]")
            .await
            .text()
            .await
            .contains("Your roles do not let you open the API keys page")
    );
    check(&b, "verifier-forbidden").await;
    let cookie = session_cookie(&b).await;
    for path in [
        "/portal/settings/keys",
        "/portal/settings/users",
        "/portal/settings/audit",
    ] {
        let r = client()
            .get(format!("{}{path}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Your roles do not let you")
        );
    }
    let r = client()
        .post(format!("{}/portal/settings/keys", srv.url))
        .header("cookie", &cookie)
        .form(&[
            ("name", "forged"),
            ("ttl", "never"),
            ("perm", "session_all:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let keys = admin_json(&srv, "/api/apikey").await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    srv.stop().await;
}

#[tokio::test]
async fn keys_users_and_audit_in_a_browser_sqlite() {
    accounts_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn keys_users_and_audit_in_a_browser_postgres() {
    accounts_flow(Backend::Postgres).await;
}

/// Changes the target of audit entry `seq` behind the server's back.
async fn tamper(srv: &TestServer, backend: Backend, seq: i64) {
    use sqlx::Connection;
    let url = &srv.config.database.url;
    let sql = format!("UPDATE audit_log SET target = 'tampered' WHERE seq = {seq}");
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        }
    }
}

async fn verify_finds_a_changed_entry(backend: Backend) {
    let srv = TestServer::start(backend).await;
    for i in 0..3 {
        let r = srv
            .post("/api/auth/login")
            .json(&json!({"username": format!("user{i}"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = srv
        .admin(srv.post("/api/audit/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["count"], 3);
    assert_eq!(
        (v["anchorSeq"].clone(), v["headSeq"].clone()),
        (json!(0), json!(3))
    );
    assert_eq!(
        (v["brokenAt"].clone(), v["reason"].clone()),
        (Value::Null, Value::Null)
    );

    // Without audit:read: refused.
    let key = srv.key(&["session_all:read"]).await;
    let r = srv
        .post("/api/audit/verify")
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // An entry changed in the database: the first changed one is named.
    tamper(&srv, backend, 2).await;
    let r = srv
        .admin(srv.post("/api/audit/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["brokenAt"], 2);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("changed after it was written"),
        "{v}"
    );
    assert_eq!(v["count"], Value::Null);

    // The portal's button says so.
    let c = client();
    let (cookie, csrf) = http_sign_in(&srv, &c, "admin", ADMIN_PASSWORD).await;
    let r = c
        .post(format!("{}/portal/settings/audit/verify", srv.url))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("The chain is broken at entry 2: its content does not match its hash"),
        "{html}"
    );
    // Without the CSRF value: the 403 page, no verdict.
    let r = c
        .post(format!("{}/portal/settings/audit/verify", srv.url))
        .header("cookie", &cookie)
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("The chain is"));

    // Pages of 50, newest first, the filter kept from page to page.
    for i in 0..55 {
        let r = srv
            .post("/api/auth/login")
            .json(&json!({"username": format!("many{i}"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let page = |query: String| {
        let c = c.clone();
        let cookie = cookie.clone();
        let url = format!("{}/portal/settings/audit?{query}", srv.url);
        async move {
            let r = c.get(url).header("cookie", cookie).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let rows = |html: &str| html.matches("<tr><td class=\"num\">").count();
    let first = page("action=auth.login_failed".into()).await;
    assert_eq!(rows(&first), 50);
    assert!(first.contains("<code>auth.login_failed</code>"));
    assert!(!first.contains("<code>apikey.created</code>"));
    let at = first
        .find("rel=\"next\"")
        .map(|end| &first[..end])
        .and_then(|s| s.rfind("after="))
        .expect("a link to the older entries");
    let after: String = first[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(first.contains(&format!(
        "href=\"/portal/settings/audit?action=auth.login_failed&amp;after={after}\""
    )));
    let second = page(format!("action=auth.login_failed&after={after}")).await;
    assert_eq!(rows(&second), 58 - 50, "3 + 55 failed sign-ins in all");
    assert!(!second.contains("rel=\"next\""), "the last page");
    assert!(
        second.contains(
            "href=\"/portal/settings/audit?action=auth.login_failed\">Newest entries</a>"
        )
    );
    // A filter the API refuses: its message on the page, the filter kept.
    let r = c
        .get(format!("{}/portal/settings/audit?from=yesterday", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("`yesterday` is not a time"), "{html}");
    assert!(html.contains("value=\"yesterday\""));
    srv.stop().await;
}

#[tokio::test]
async fn verify_finds_a_changed_entry_sqlite() {
    verify_finds_a_changed_entry(Backend::Sqlite).await;
}

#[tokio::test]
async fn verify_finds_a_changed_entry_postgres() {
    verify_finds_a_changed_entry(Backend::Postgres).await;
}

/// The key form over HTTP: the API's refusal of a permission the user lacks beside the form
/// with what was typed, a lifetime in seconds, the answer page that is never cached, and a
/// form sent twice that makes one key.
async fn key_form_over_http(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let r = srv
        .admin(srv.post("/api/security/roles"))
        .json(&json!({"name": "keymaker", "permissions": ["apikey:read", "apikey:write", "session:read", "user:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    create_user(&srv, "kim", "kim-password-12", &["keymaker"]).await;
    let c = client();
    let (cookie, csrf) = http_sign_in(&srv, &c, "kim", "kim-password-12").await;
    let post = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let cookie = cookie.clone();
        let url = format!("{}/portal/settings/keys", srv.url);
        async move {
            c.post(url)
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let form = |name: &str, ttl: &str, seconds: &str, perm: &str, idem: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("idem", idem.to_string()),
            ("name", name.to_string()),
            ("ttl", ttl.to_string()),
            ("seconds", seconds.to_string()),
            ("perm", perm.to_string()),
        ]
    };

    // A permission kim does not hold: the API's words beside the form, the input kept.
    let r = post(form("wide", "never", "", "session_all:read", "k1")).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("you cannot give a key permissions you do not hold: session_all:read"),
        "{html}"
    );
    assert!(html.contains("id=\"key-name\" name=\"name\" required maxlength=\"200\" autocomplete=\"off\" value=\"wide\""));
    assert!(html.contains("aria-label=\"session_all:read\" checked>"));
    assert!(html.contains("<option value=\"never\" selected>"));

    // Seconds that are no number: said, nothing sent.
    let r = post(form("mine", "seconds", "an hour", "session:read", "k2")).await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("“an hour” is not a whole number of seconds")
    );

    // An hour: the token on the answer page itself, never cached, not in a link.
    let r = post(form("mine", "seconds", "3600", "session:read", "k3")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    let at = html.find("<code id=\"new-key-token\">").expect("the token") + 25;
    let token = html[at..].split('<').next().unwrap().to_string();
    assert!(html.contains("(1 hour)"), "{html}");
    assert_eq!(read_with_key(&srv, &token).await, 404);
    // Sent again (a double click, a reload): the same key, not a second one.
    let again = post(form("mine", "seconds", "3600", "session:read", "k3")).await;
    assert_eq!(again.status(), 200);
    let keys = admin_json(&srv, "/api/apikey").await;
    let mine: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "mine")
        .collect();
    assert_eq!(mine.len(), 1, "{keys}");
    assert_eq!(mine[0]["ttl"], 3600);
    assert_eq!(mine[0]["permissions"], json!(["session:read"]));
    assert!(keys.as_array().unwrap().iter().all(|k| k["name"] != "wide"));

    // Kim may not delete keys: no revoke button on the list.
    let r = c
        .get(format!("{}/portal/settings/keys", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains(">mine</th>"));
    assert!(!html.contains("/revoke"));
    assert!(!html.contains(&token));

    // Users and roles to read only: the lists, no form.
    let r = c
        .get(format!("{}/portal/settings/users", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h3>kim <span class=\"badge on\">active</span></h3>"));
    assert!(html.contains("<h3>keymaker <span class=\"badge\">custom</span></h3>"));
    for form in ["create-user", "create-role", "Change roles", "/delete"] {
        assert!(!html.contains(form), "{form}");
    }
    // No audit:read: the friendly 403.
    let r = c
        .get(format!("{}/portal/settings/audit", srv.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    srv.stop().await;
}

#[tokio::test]
async fn key_form_over_http_sqlite() {
    key_form_over_http(Backend::Sqlite).await;
}

#[tokio::test]
async fn key_form_over_http_postgres() {
    key_form_over_http(Backend::Postgres).await;
}
