//! Shareable start links through real HTTP, on SQLite and PostgreSQL: creation (the URL shown
//! once, only a SHA-256 of its code stored), each opening a fresh session with the link's
//! metadata and a token bound to it, the pages of used-up, expired, revoked and unknown
//! links, listing, revocation, permissions, and the opening's own rate limit.

use crate::common;

use common::*;
use reqwest::{Client, Response};
use serde_json::{Value, json};

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn create(srv: &TestServer, auth: &str, body: Value) -> Response {
    srv.post("/api/links")
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn created(srv: &TestServer, auth: &str, body: Value) -> Value {
    let r = create(srv, auth, body).await;
    let status = r.status();
    assert_eq!(
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let text = r.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// What a browser's navigation sends.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn open(_srv: &TestServer, url: &str) -> Response {
    no_redirects()
        .get(url)
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap()
}

/// Opens `url`, expecting the redirect; gives the `authorization` and `sessionId` it carries.
async fn opened(srv: &TestServer, url: &str) -> (String, String) {
    let r = open(srv, url).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(h("cache-control").as_deref(), Some("no-store"));
    assert_eq!(h("referrer-policy").as_deref(), Some("no-referrer"));
    let location = h("location").unwrap();
    let prefix = format!("{}/mobile?authorization=Token%20", srv.url);
    assert!(location.starts_with(&prefix), "{location}");
    let parsed = reqwest::Url::parse(&location).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["authorization", "sessionId"], "{location}");
    (pairs[0].1.clone(), pairs[1].1.clone())
}

/// Opens `url`, expecting a notice page with this status whose heading holds `heading`.
async fn page(srv: &TestServer, url: &str, status: u16, heading: &str) {
    let r = open(srv, url).await;
    assert_eq!(r.status(), status, "{url}");
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(
        html.contains(&format!("<title>{heading}</title>")),
        "{html}"
    );
    assert_eq!(html.matches("<h1>").count(), 1, "{html}");
    assert!(html.contains(&format!("<h1>{heading}</h1>")), "{html}");
    assert!(html.contains("<p>"), "a sentence: {html}");
    assert!(html.contains("new link"), "what to do: {html}");
    assert!(
        html.contains("href=\"/static/capture/capture.css\""),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

async fn get_json(srv: &TestServer, auth: &str, path: &str) -> (u16, Value) {
    let r = srv
        .get(path)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn start_links(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let admin = format!(
        "ApiKey {}",
        srv.key(&[
            "deeplink:read",
            "deeplink:write",
            "deeplink:delete",
            "audit:read"
        ])
        .await
    );
    let backend_key = format!("ApiKey {}", srv.key(&["session_all:read"]).await);

    // Created: the url is shown here, with the link's facts.
    let link = created(
        &srv,
        &admin,
        json!({"workflowId": KYC_ID, "maxUses": 2, "metadata": {"campaign": "spring"}, "locale": "DE"}),
    )
    .await;
    let id = link["id"].as_str().unwrap().to_string();
    let url = link["url"].as_str().unwrap().to_string();
    let prefix = format!("{}/l/", srv.url);
    assert!(url.starts_with(&prefix), "{url}");
    let code = &url[prefix.len()..];
    assert!(
        code.len() >= 32 && code.chars().all(|c| c.is_ascii_alphanumeric()),
        "{code}"
    );
    assert_eq!(link["workflowId"], KYC_ID);
    assert_eq!(link["maxUses"], 2);
    assert_eq!(link["uses"], 0);
    assert_eq!(link["expiresAt"], Value::Null);
    assert_eq!(link["metadata"], json!({"campaign": "spring"}));
    assert_eq!(link["locale"], "de");

    // Only a SHA-256 of the code is stored.
    let state = srv.state().await;
    let stored = state
        .store
        .start_link_get(idv_store::StartLinkId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.code_hash, idv_server::auth::sha256_hex(code));
    assert!(!stored.code_hash.contains(code));

    // A HEAD (a link preview) neither counts nor starts anything.
    for _ in 0..3 {
        let r = no_redirects().head(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("location").is_none());
    }
    let (_, view) = get_json(&srv, &admin, &format!("/api/links/{id}")).await;
    assert_eq!(view["uses"], 0, "{view}");
    let r = no_redirects()
        .head(format!("{}/l/nosuchcode", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Each opening starts a fresh session with the link's metadata and locale, and its token
    // works on that session, and on no other.
    let (auth1, s1) = opened(&srv, &url).await;
    let (auth2, s2) = opened(&srv, &url).await;
    assert_ne!(s1, s2, "two openings, two sessions");
    assert!(auth1.starts_with("Token idvdt_"), "{auth1}");
    assert_ne!(auth1, auth2);
    for (auth, sid) in [(&auth1, &s1), (&auth2, &s2)] {
        let s = srv.session(auth, sid).await;
        assert_eq!(s["id"], sid.as_str());
        assert_eq!(s["workflow"]["id"], KYC_ID, "{s}");
        assert_eq!(
            s["metadata"],
            json!({"campaign": "spring", "startLinkId": id}),
            "{s}"
        );
        assert_eq!(s["locale"], "de");
        // The token reads its workflow (the capture page's next call), and submits steps.
        let (st, list) = get_json(&srv, auth, "/api/workflows").await;
        assert_eq!(st, 200, "{list}");
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["id"], KYC_ID);
    }
    let r = srv
        .submit(&auth1, &s1, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (st, _) = get_json(&srv, &auth1, &format!("/api/sessions/{s2}")).await;
    assert_eq!(st, 404, "a token sees its own session only");
    // The back end sees both sessions, and the link's uses.
    let s = srv.session(&backend_key, &s2).await;
    assert_eq!(s["metadata"]["startLinkId"], id.as_str());

    // Past maxUses: the "used up" page, and nothing more is started or counted.
    page(&srv, &url, 410, "Link used up").await;
    let r = no_redirects().head(&url).send().await.unwrap();
    assert_eq!(r.status(), 410, "HEAD tells a used-up link too");
    let (st, view) = get_json(&srv, &admin, &format!("/api/links/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(view["uses"], 2);
    assert_eq!(view["revokedAt"], Value::Null);
    assert!(
        view.get("url").is_none(),
        "the url is shown only once: {view}"
    );
    assert!(!view.to_string().contains(code));

    // Expired: refused from its expiry on.
    let expiring = created(&srv, &admin, json!({"workflowId": KYC_ID, "expiresIn": 60})).await;
    let expiring_url = expiring["url"].as_str().unwrap().to_string();
    let at = chrono::DateTime::parse_from_rfc3339(expiring["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let made = chrono::DateTime::parse_from_rfc3339(expiring["createdAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert_eq!(at - made, 60_000);
    opened(&srv, &expiring_url).await;
    srv.clock.advance(60_001);
    page(&srv, &expiring_url, 410, "Link expired").await;

    // Revoked: answered with revokedAt, then refused; revoking again keeps the first time.
    let revocable = created(&srv, &admin, json!({"workflowId": KYC_ID})).await;
    let rid = revocable["id"].as_str().unwrap();
    let rurl = revocable["url"].as_str().unwrap();
    opened(&srv, rurl).await;
    let r = srv
        .delete(&format!("/api/links/{rid}"))
        .header("authorization", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let revoked: Value = r.json().await.unwrap();
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    assert_eq!(revoked["uses"], 1);
    page(&srv, rurl, 410, "Link withdrawn").await;
    srv.clock.advance(5_000);
    let again: Value = srv
        .delete(&format!("/api/links/{rid}"))
        .header("authorization", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["revokedAt"], revoked["revokedAt"]);

    // Unknown codes: 404 page.
    page(
        &srv,
        &format!("{}/l/nosuchcode", srv.url),
        404,
        "Link not found",
    )
    .await;
    page(&srv, &format!("{prefix}{}x", code), 404, "Link not found").await;

    // A client that does not take HTML (an SDK, a script) gets the JSON error instead.
    for (target, want) in [
        (url.clone(), (410, "start_link_gone")),
        (rurl.to_string(), (410, "start_link_gone")),
        (
            format!("{}/l/nosuchcode", srv.url),
            (404, "start_link_not_found"),
        ),
    ] {
        let r = no_redirects().get(&target).send().await.unwrap();
        let (st, code, _) = error_of(r).await;
        assert_eq!((st, code.as_str()), want, "{target}");
    }

    // Listing: newest first, one workflow's on request; unknown ids.
    let (st, list) = get_json(&srv, &admin, "/api/links").await;
    assert_eq!(st, 200);
    assert_eq!(list["total"], 3);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [rid, expiring["id"].as_str().unwrap(), id.as_str()],
        "newest first"
    );
    assert!(!list.to_string().contains("/l/"), "no url in lists");
    let (_, one) = get_json(&srv, &admin, &format!("/api/links?workflowId={KYC_ID}")).await;
    assert_eq!(one["total"], 3);
    let (_, none) = get_json(&srv, &admin, "/api/links?workflowId=other").await;
    assert_eq!(none["total"], 0);
    for r in [
        srv.get("/api/links/0123456789abcdef01234567")
            .header("authorization", &admin)
            .send()
            .await
            .unwrap(),
        srv.delete("/api/links/0123456789abcdef01234567")
            .header("authorization", &admin)
            .send()
            .await
            .unwrap(),
    ] {
        let (st, code, _) = error_of(r).await;
        assert_eq!((st, code.as_str()), (404, "start_link_not_found"));
    }

    // Refused bodies.
    for (body, want) in [
        (
            json!({"workflowId": "no-such-workflow"}),
            (404, "workflow_not_found"),
        ),
        (
            json!({"workflowId": KYC_ID, "maxUses": 0}),
            (400, "invalid_request"),
        ),
        (
            json!({"workflowId": KYC_ID, "expiresIn": 10}),
            (400, "invalid_request"),
        ),
        (
            json!({"workflowId": KYC_ID, "metadata": [1]}),
            (400, "invalid_request"),
        ),
        (
            json!({"workflowId": KYC_ID, "locale": "not a locale"}),
            (400, "invalid_locale"),
        ),
        (
            json!({"workflowId": KYC_ID, "maxUse": 3}),
            (400, "invalid_request"),
        ),
        (json!({}), (400, "invalid_request")),
    ] {
        let (st, code, b) = error_of(create(&srv, &admin, body.clone()).await).await;
        assert_eq!((st, code.as_str()), want, "{body}: {b}");
    }

    // Permissions: deeplink:write creates, deeplink:read reads, deeplink:delete revokes.
    let reader = format!("ApiKey {}", srv.key(&["deeplink:read"]).await);
    let (st, code, _) = error_of(create(&srv, &reader, json!({"workflowId": KYC_ID})).await).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    let (st, _) = get_json(&srv, &reader, "/api/links").await;
    assert_eq!(st, 200);
    let r = srv
        .delete(&format!("/api/links/{id}"))
        .header("authorization", &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403);
    let (st, _) = get_json(&srv, &backend_key, "/api/links").await;
    assert_eq!(st, 403);
    // A link's token cannot manage links.
    let (st, _) = get_json(&srv, &auth1, "/api/links").await;
    assert_eq!(st, 403);

    // Audited: creations, openings (with their session) and revocations.
    let (_, audit) = get_json(&srv, &admin, "/api/audit?order=asc&limit=1000").await;
    let entries = audit["items"].as_array().unwrap();
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    let creations = of("start_link.created");
    assert_eq!(
        creations.iter().filter(|e| e["outcome"] == 201).count(),
        3,
        "three links created"
    );
    assert_eq!(
        creations.len(),
        3 + 7 + 1,
        "the refused bodies and the refused permission are recorded too"
    );
    let opens = of("start_link.opened");
    assert!(opens.len() >= 5, "{opens:?}");
    // The first opening that started a session (the HEAD requests before it are recorded
    // with their 200).
    let first = opens.iter().find(|e| e["outcome"] == 303).unwrap();
    assert_eq!(first["target"], id.as_str());
    assert_eq!(first["details"]["sessionId"], s1.as_str());
    assert_eq!(
        opens.iter().filter(|e| e["outcome"] == 200).count(),
        3,
        "the HEAD requests"
    );
    assert!(opens.iter().any(|e| e["outcome"] == 410));
    let revocations = of("start_link.revoked");
    assert_eq!(
        revocations.iter().filter(|e| e["outcome"] == 200).count(),
        2
    );
    assert!(revocations.iter().all(|e| e["target"].is_string()));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_links_on_sqlite() {
    start_links(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_links_on_postgres() {
    start_links(Backend::Postgres).await;
}

/// Openings count against the strict profile per client address, without credentials.
#[tokio::test(flavor = "multi_thread")]
async fn openings_are_rate_limited_per_address() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.profiles.s.limit = 3;
    })
    .await;
    srv.load_kyc().await;
    let r = srv
        .admin(srv.post("/api/links"))
        .json(&json!({"workflowId": KYC_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    let url = link["url"].as_str().unwrap();
    // The creation was one request of the address; two openings more reach the limit.
    opened(&srv, url).await;
    let r = open(&srv, url).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers().get("ratelimit-limit").unwrap(), "3");
    let r = open(&srv, url).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // Unknown codes count too, so codes cannot be guessed at speed.
    let r = open(&srv, &format!("{}/l/guess", srv.url)).await;
    assert_eq!(r.status(), 429);
    srv.stop().await;
}
