//! The portal's sessions list in headless Chromium on both backends: counts by status, a
//! status filter, keyset paging, quick search by external user id, a view saved from the
//! list and opened again; and a verifier, who sees sessions but no settings.

use crate::capture::{WAIT, check};
use crate::common::*;
use crate::portal::{browser_sign_in, create_user};
use crate::support::browser::Browser;
use serde_json::{Value, json};

/// Starts `n` sessions of the example KYC with external user ids `user-0`…; rejects the
/// sessions whose index is divisible by 3 and approves those with remainder 1. Returns the ids.
async fn seed(srv: &TestServer, n: usize) -> Vec<String> {
    let key = srv
        .key(&[
            "session_all:read",
            "session_all:write",
            "session_all_patch:write",
        ])
        .await;
    let mut ids = Vec::new();
    for i in 0..n {
        let s = srv
            .start_session(
                &key,
                json!({"metadata": {"externalUserId": format!("user-{i}")}}),
            )
            .await;
        let id = s["id"].as_str().unwrap().to_string();
        let status = match i % 3 {
            0 => Some(1000),
            1 => Some(3),
            _ => None,
        };
        if let Some(status) = status {
            let r = srv
                .patch(&format!("/api/sessions/{id}"))
                .header("authorization", format!("ApiKey {key}"))
                .json(&json!({"status": status, "comment": "seeded"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
        ids.push(id);
    }
    ids
}

async fn rows(b: &Browser) -> usize {
    b.find_all("main table tbody tr").await.len()
}

async fn flow(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    // 31 sessions: 11 rejected (0, 3, …, 30), 10 approved, 10 still running.
    let ids = seed(&srv, 31).await;
    let b = Browser::start().await;
    browser_sign_in(&b, &srv, "admin", ADMIN_PASSWORD).await;

    b.goto(&format!("{}/portal/sessions", srv.url)).await;
    b.wait_for("main table", WAIT).await;
    assert_eq!(b.title().await, "Sessions · idv portal");
    let counts = b
        .find("ul[aria-label='Sessions by status']")
        .await
        .text()
        .await;
    for expected in [
        "All: 31",
        "approved 10",
        "rejected 11",
        "not completed 10",
        "verified 0",
    ] {
        assert!(counts.contains(expected), "{expected} in {counts}");
    }
    // The first page: 25 rows, newest first.
    assert_eq!(rows(&b).await, 25);
    let first = b
        .find("main table tbody tr td a")
        .await
        .attribute("href")
        .await;
    assert_eq!(
        first.as_deref(),
        Some(format!("/portal/sessions/{}", ids[30]).as_str())
    );
    check(&b, "list").await;
    b.execute(
        "document.querySelector('ul.counts').scrollIntoView();",
        vec![],
    )
    .await;
    b.screenshot("list-table").await;

    // The next page holds the other 6, then no further page.
    b.find("a[rel=next]").await.click().await;
    b.wait_until(
        "document.querySelectorAll('main table tbody tr').length === 6",
        WAIT,
    )
    .await;
    assert!(b.try_find("a[rel=next]").await.is_none());
    check(&b, "list-page-2").await;

    // Filter by status through the form: only the approved ones, counted the same.
    b.goto(&format!("{}/portal/sessions", srv.url)).await;
    b.wait_for("#status", WAIT).await;
    b.execute(
        "document.getElementById('status').value = '3'; document.querySelector('form[role=search]').submit();",
        vec![],
    )
    .await;
    b.wait_until(
        "location.search.includes('status=3') && document.readyState === 'complete'",
        WAIT,
    )
    .await;
    b.wait_for("main table", WAIT).await;
    assert_eq!(rows(&b).await, 10);
    let badges: Vec<String> = {
        let mut v = Vec::new();
        for e in b.find_all("main table tbody .badge").await {
            v.push(e.text().await);
        }
        v
    };
    assert!(badges.iter().all(|t| t == "approved"), "{badges:?}");
    check(&b, "list-approved").await;

    // Quick search by the external user id.
    b.goto(&format!("{}/portal/sessions", srv.url)).await;
    b.wait_for("#q", WAIT).await.send_keys("user-7").await;
    b.find("form[role=search] button[type=submit]")
        .await
        .click()
        .await;
    b.wait_until(
        "location.search.includes('q=user-7') && document.readyState === 'complete'",
        WAIT,
    )
    .await;
    b.wait_for("main table", WAIT).await;
    assert_eq!(rows(&b).await, 1);
    assert!(b.find("main table").await.text().await.contains("user-7"));
    let counts = b
        .find("ul[aria-label='Sessions by status']")
        .await
        .text()
        .await;
    assert!(
        counts.contains("All: 1") && counts.contains("approved 1"),
        "{counts}"
    );
    // A session's id opens the session.
    b.goto(&format!("{}/portal/sessions?q={}", srv.url, ids[4]))
        .await;
    b.wait_until(
        &format!("location.pathname === '/portal/sessions/{}'", ids[4]),
        WAIT,
    )
    .await;

    // A bad date is said, not a server error.
    b.goto(&format!("{}/portal/sessions?from=yesterday", srv.url))
        .await;
    let alert = b.wait_for("[role=alert]", WAIT).await.text().await;
    assert!(alert.contains("YYYY-MM-DD"), "{alert}");

    // Save the rejected list as a view; it opens under its title with the same rows.
    b.goto(&format!("{}/portal/sessions?status=1000", srv.url))
        .await;
    b.wait_for("main table", WAIT).await;
    b.find("details.card summary").await.click().await;
    b.find("#view-title").await.send_keys("Rejected ones").await;
    b.find("#view-key").await.send_keys("rejected").await;
    b.find("#view-columns").await.send_keys("FULL_NAME").await;
    b.find("form[action='/portal/sessions/views'] button")
        .await
        .click()
        .await;
    b.wait_until("document.title === 'Rejected ones · idv portal'", WAIT)
        .await;
    assert!(b.current_url().await.contains("view=rejected"));
    assert!(
        b.find(".flash")
            .await
            .text()
            .await
            .contains("Saved the view")
    );
    assert_eq!(rows(&b).await, 11);
    let head = b.find("main table thead").await.text().await;
    assert!(head.contains("FULL_NAME"), "{head}");
    // A view with a filter is counted by the search itself: only its sessions.
    let counts = b
        .find("ul[aria-label='Sessions by status']")
        .await
        .text()
        .await;
    for expected in ["All: 11", "rejected 11", "approved 0", "not completed 0"] {
        assert!(counts.contains(expected), "{expected} in {counts}");
    }
    check(&b, "view").await;
    // The view is Regula's shape, stored under the portal's namespace.
    let v: Value = srv
        .admin(srv.get("/api/views/namespaces/portal/key/rejected"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["value"]["title"], "Rejected ones");
    assert_eq!(
        v["value"]["columns"][1],
        json!({"type": "property", "name": "FULL_NAME"})
    );

    // A verifier: the sessions and the view, no settings in the menu, 403 on a settings page.
    create_user(&srv, "vera", "a long verifier password", &["verifier"]).await;
    let b2 = Browser::start().await;
    browser_sign_in(&b2, &srv, "vera", "a long verifier password").await;
    b2.goto(&format!(
        "{}/portal/sessions?ns=portal&view=rejected",
        srv.url
    ))
    .await;
    b2.wait_for("main table", WAIT).await;
    assert_eq!(rows(&b2).await, 11);
    let menu = b2.find("header nav").await.text().await;
    assert!(menu.contains("Sessions"), "{menu}");
    for hidden in ["API keys", "Users", "Webhooks", "Audit", "Workflows"] {
        assert!(!menu.contains(hidden), "{hidden} in {menu}");
    }
    b2.goto(&format!("{}/portal/settings/keys", srv.url)).await;
    b2.wait_until("document.title === 'Not allowed · idv portal'", WAIT)
        .await;
    check(&b2, "forbidden").await;
    srv.stop().await;
}

#[tokio::test]
async fn the_sessions_list_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_sessions_list_postgres() {
    flow(Backend::Postgres).await;
}

/// A form posted without its CSRF value is refused and saves nothing.
#[tokio::test]
async fn saving_a_view_needs_the_csrf_value() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = crate::portal::sign_in_cookie(&srv, &c).await;
    let r = c
        .post(format!("{}/portal/sessions/views", srv.url))
        .header("cookie", format!("idv_portal={cookie}"))
        .form(&[("title", "x"), ("key", "sneaky"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = srv
        .admin(srv.get("/api/views/namespaces/portal/key/sneaky"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "nothing was saved");
    // Signed out, the list is the sign-in page's business.
    let r = c
        .get(format!("{}/portal/sessions", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    srv.stop().await;
}

/// A list page makes several API calls (the page, a count per status); with the product's
/// rate limits on, an operator can still page through it: the page's own request is what
/// counts, not each in-process call.
#[tokio::test]
async fn the_list_is_limited_as_one_request_per_page() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.rate_limit.enabled = true).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = crate::portal::sign_in_cookie(&srv, &c).await;
    // 110 pages, each with at least one search (profile `m`, 100 a minute for one caller):
    // more searches than the API would let one caller make in a minute.
    for i in 0..110 {
        let r = c
            .get(format!("{}/portal/sessions?status=3", srv.url))
            .header("cookie", format!("idv_portal={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "page {i}");
        let html = r.text().await.unwrap();
        assert!(html.contains("approved 0"), "page {i}: {html}");
    }
    srv.stop().await;
}
