//! The operator's portal sign-in through real HTTP: the sign-in page, CSRF on every form, the
//! cookie session's flags, idle timeout, sign-out, audit and the strict rate limit.

use crate::common;

use common::*;
use reqwest::Client;
use reqwest::redirect::Policy;
use serde_json::Value;

/// A client that shows redirects instead of following them, and keeps no cookies.
fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

/// `name=value` of a `Set-Cookie` named `name`, with its attributes.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn value_of(set_cookie: &str) -> String {
    let first = set_cookie.split(';').next().unwrap();
    first.split_once('=').unwrap().1.to_string()
}

/// The value of the hidden `csrf` field of the page.
fn csrf_field(html: &str) -> String {
    field(html, "csrf")
}

/// The value of the first hidden field `name` of a page.
pub(crate) fn field(html: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let at = html.find(&pat).expect("the field") + pat.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Opens the sign-in page: `(pre-login CSRF cookie value, the form's csrf field)`.
async fn sign_in_page(srv: &TestServer, c: &Client) -> (String, String) {
    let r = c.get(format!("{}/", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = value_of(&set_cookie(&r, "idv_portal_csrf").expect("a CSRF cookie"));
    let html = r.text().await.unwrap();
    (cookie, csrf_field(&html))
}

async fn post_login(
    srv: &TestServer,
    c: &Client,
    cookie: Option<&str>,
    csrf: &str,
    password: &str,
) -> reqwest::Response {
    let mut rb = c.post(format!("{}/portal/login", srv.url)).form(&[
        ("username", "admin"),
        ("password", password),
        ("csrf", csrf),
    ]);
    if let Some(v) = cookie {
        rb = rb.header("cookie", format!("idv_portal_csrf={v}"));
    }
    rb.send().await.unwrap()
}

/// Signs in as admin; returns the `Set-Cookie` of the session.
async fn sign_in(srv: &TestServer, c: &Client) -> String {
    let (cookie, csrf) = sign_in_page(srv, c).await;
    let r = post_login(srv, c, Some(&cookie), &csrf, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    set_cookie(&r, "idv_portal").expect("a session cookie")
}

async fn home(srv: &TestServer, c: &Client, session: &str) -> reqwest::Response {
    c.get(format!("{}/", srv.url))
        .header("cookie", format!("idv_portal={session}"))
        .send()
        .await
        .unwrap()
}

async fn audit(srv: &TestServer, action: &str) -> Vec<Value> {
    let r = srv
        .admin(srv.get(&format!("/api/audit?action={action}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// How many sign-ins succeeded (audited auth.login with 303).
async fn successful_logins(srv: &TestServer) -> usize {
    let r = srv
        .admin(srv.get("/api/audit?action=auth.login"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == 303)
        .count()
}

async fn main_flow(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let c = client();

    // The sign-in page: a form with labels, one heading, lang, headers.
    let r = c.get(format!("{}/", srv.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let pre = set_cookie(&r, "idv_portal_csrf").unwrap();
    assert!(
        pre.contains("; HttpOnly") && pre.contains("; SameSite=Strict"),
        "{pre}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert_eq!(html.matches("<h1>").count(), 1);
    assert!(html.contains("<label for=\"username\">") && html.contains("<label for=\"password\">"));
    assert!(html.contains("action=\"/portal/login\""));
    assert!(!html.contains("<script"));

    // Without the CSRF cookie, or with another value: 403, no session.
    let (cookie, csrf) = sign_in_page(&srv, &c).await;
    let r = post_login(&srv, &c, None, &csrf, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "idv_portal").is_none());
    assert!(r.text().await.unwrap().contains("nothing was changed"));
    let r = post_login(&srv, &c, Some(&cookie), "another-value", ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "idv_portal").is_none());
    assert_eq!(successful_logins(&srv).await, 0, "no session was made");

    // A wrong password: the page again, 401, a message that does not say which part.
    let r = post_login(&srv, &c, Some(&cookie), &csrf, "wrong-password").await;
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "idv_portal").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("Wrong user name or password."));
    assert!(html.contains("action=\"/portal/login\""));
    let failed = audit(&srv, "auth.login_failed").await;
    assert!(
        failed
            .iter()
            .any(|e| e["actor"]["name"] == "admin" && e["outcome"] == 401),
        "{failed:?}"
    );

    // The right password: the cookie with exactly its flags, and the home shows the user.
    let sc = sign_in(&srv, &c).await;
    let attrs: Vec<&str> = sc.split("; ").skip(1).collect();
    assert_eq!(attrs, ["HttpOnly", "SameSite=Strict", "Path=/"], "{sc}");
    let session = value_of(&sc);
    let ok = audit(&srv, "auth.login").await;
    assert!(
        ok.iter()
            .any(|e| e["actor"]["name"] == "admin" && e["outcome"] == 303)
    );
    // The session cookie is no Bearer token.
    let r = srv
        .get("/api/audit")
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = home(&srv, &c, &session).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<span>admin</span><input type=\"hidden\" name=\"csrf\""),
        "{html}"
    );
    assert_eq!(html.matches("<h1>").count(), 1);
    let csrf = csrf_field(&html);

    // Sign out without the CSRF value, or with the pre-login one: 403, still signed in.
    for bad in ["", cookie.as_str()] {
        let r = c
            .post(format!("{}/portal/logout", srv.url))
            .header("cookie", format!("idv_portal={session}"))
            .form(&[("csrf", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(set_cookie(&r, "idv_portal").is_none());
    }
    assert!(
        home(&srv, &c, &session)
            .await
            .text()
            .await
            .unwrap()
            .contains("action=\"/portal/logout\"")
    );

    // With it: signed out, the cookie cleared, the old cookie no longer works.
    let r = c
        .post(format!("{}/portal/logout", srv.url))
        .header("cookie", format!("idv_portal={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cleared = set_cookie(&r, "idv_portal").unwrap();
    assert!(cleared.starts_with("idv_portal=;") && cleared.contains("Max-Age=0"));
    let html = home(&srv, &c, &session).await.text().await.unwrap();
    assert!(html.contains("action=\"/portal/login\""), "signed out");
    assert!(!html.contains("action=\"/portal/logout\""));
    srv.stop().await;
}

#[tokio::test]
async fn sign_in_and_out_sqlite() {
    main_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn sign_in_and_out_postgres() {
    main_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_base_url_is_https() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        let mut v = serde_json::to_value(&*c).unwrap();
        v["baseUrl"] = "https://idv.example".into();
        *c = serde_json::from_value(v).unwrap();
    })
    .await;
    let c = client();
    let sc = sign_in(&srv, &c).await;
    let attrs: Vec<&str> = sc.split("; ").skip(1).collect();
    assert_eq!(attrs, ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"]);
    srv.stop().await;
}

#[tokio::test]
async fn the_session_ends_when_idle_and_each_use_extends_it() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.portal.idle_timeout = 600).await;
    let c = client();
    let session = value_of(&sign_in(&srv, &c).await);

    // Used after 5 minutes: still signed in, and the session is renewed (a new cookie).
    srv.clock.advance(300_000);
    let r = home(&srv, &c, &session).await;
    let renewed = value_of(&set_cookie(&r, "idv_portal").expect("renewed"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("action=\"/portal/logout\"")
    );
    // 9 more minutes: past the first cookie's deadline, within the renewed one's.
    srv.clock.advance(540_000);
    let html = home(&srv, &c, &session).await.text().await.unwrap();
    assert!(
        !html.contains("action=\"/portal/logout\""),
        "the old deadline passed"
    );
    let html = home(&srv, &c, &renewed).await.text().await.unwrap();
    assert!(
        html.contains("action=\"/portal/logout\""),
        "extended by its use"
    );
    // Idle for longer than the timeout: signed out.
    srv.clock.advance(601_000);
    let html = home(&srv, &c, &renewed).await.text().await.unwrap();
    assert!(!html.contains("action=\"/portal/logout\""));
    assert!(html.contains("action=\"/portal/login\""));
    srv.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_hit_the_strict_limit() {
    use idv_server::ratelimit::{ProfileConfig, Profiles, RateLimitConfig};
    use idv_server::scheduler::Period;
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        let p = |limit| ProfileConfig {
            window: Period(60),
            limit,
        };
        c.rate_limit = RateLimitConfig {
            enabled: true,
            profiles: Profiles {
                s: p(3),
                m: p(100),
                l: p(100),
            },
        };
    })
    .await;
    let c = client();
    let (cookie, csrf) = sign_in_page(&srv, &c).await;
    for _ in 0..3 {
        let r = post_login(&srv, &c, Some(&cookie), &csrf, "wrong-password").await;
        assert_eq!(r.status(), 401);
    }
    let r = post_login(&srv, &c, Some(&cookie), &csrf, ADMIN_PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!(set_cookie(&r, "idv_portal").is_none());
    srv.stop().await;
}

/// In a browser: sign in through the form, see the home, sign out; screenshots and the
/// accessibility check of the sign-in page and the home.
#[tokio::test]
async fn a_browser_signs_in_and_out() {
    use crate::capture::{WAIT, check};
    use crate::support::browser::Browser;
    let srv = TestServer::start(Backend::Sqlite).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", srv.url)).await;
    assert_eq!(b.title().await, "Sign in · idv");
    check(&b, "sign-in").await;

    // A wrong password: the page again, saying so.
    b.find("#username").await.send_keys("admin").await;
    b.find("#password").await.send_keys("wrong-password").await;
    b.find("button[type=submit]").await.click().await;
    let alert = b.wait_for("[role=alert]", WAIT).await;
    assert_eq!(alert.text().await, "Wrong user name or password.");
    check(&b, "sign-in-failed").await;

    // The right one: the home names the user.
    let name = b.find("#username").await;
    name.clear().await;
    name.send_keys("admin").await;
    b.find("#password").await.send_keys(ADMIN_PASSWORD).await;
    b.find("button[type=submit]").await.click().await;
    b.wait_until("document.title === 'Dashboard · idv portal'", WAIT)
        .await;
    assert_eq!(b.current_url().await, format!("{}/", srv.url));
    assert!(b.find("header").await.text().await.contains("admin"));
    check(&b, "home").await;

    // Sign out: the sign-in page again, and a reload stays signed out.
    b.find("form[action='/portal/logout'] button")
        .await
        .click()
        .await;
    b.wait_until("document.title === 'Sign in · idv'", WAIT)
        .await;
    b.refresh().await;
    b.wait_until("document.title === 'Sign in · idv'", WAIT)
        .await;
    assert!(b.try_find("form[action='/portal/logout']").await.is_none());
    srv.stop().await;
}

/// Signs `user` in through the portal's sign-in form in the browser and waits for the
/// dashboard.
pub(crate) async fn browser_sign_in(
    b: &crate::support::browser::Browser,
    srv: &TestServer,
    user: &str,
    password: &str,
) {
    use crate::capture::WAIT;
    b.goto(&format!("{}/", srv.url)).await;
    b.wait_for("#username", WAIT).await.send_keys(user).await;
    b.find("#password").await.send_keys(password).await;
    b.find("button[type=submit]").await.click().await;
    b.wait_until("document.title === 'Dashboard · idv portal'", WAIT)
        .await;
}

/// Creates a user with these roles over the API (as admin).
pub(crate) async fn create_user(srv: &TestServer, name: &str, password: &str, roles: &[&str]) {
    let r = Client::new()
        .post(format!("{}/api/security/users", srv.url))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&serde_json::json!({"name": name, "password": password, "roles": roles}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Signs admin in over plain HTTP; returns the session cookie's value.
pub(crate) async fn sign_in_cookie(srv: &TestServer, c: &Client) -> String {
    value_of(&sign_in(srv, c).await)
}

/// Signs `user` in over plain HTTP with `c` (which must not follow redirects): the session
/// cookie (`idv_portal=...`) and the CSRF value of the signed-in pages' forms.
pub(crate) async fn http_sign_in(
    srv: &TestServer,
    c: &Client,
    user: &str,
    password: &str,
) -> (String, String) {
    let (pre, csrf) = sign_in_page(srv, c).await;
    let r = c
        .post(format!("{}/portal/login", srv.url))
        .header("cookie", format!("idv_portal_csrf={pre}"))
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = format!(
        "idv_portal={}",
        value_of(&set_cookie(&r, "idv_portal").expect("a session cookie"))
    );
    let html = c
        .get(format!("{}/", srv.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&html, "csrf");
    (session, csrf)
}

/// Waits until the page's notice (`.flash`) says `text`.
pub(crate) async fn wait_flash(b: &crate::support::browser::Browser, text: &str) {
    b.wait_until(
        &format!("(document.querySelector('.flash') || {{}}).textContent?.includes({text:?})"),
        crate::capture::WAIT,
    )
    .await;
}

/// Scrolls the first element matching `css` to the top of the screen (for a screenshot).
pub(crate) async fn scroll_to(b: &crate::support::browser::Browser, css: &str) {
    b.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
        vec![serde_json::json!(css)],
    )
    .await;
}
