//! The dashboard: `GET /api/stats/sessions` and `GET /api/stats/funnel` count sessions seeded
//! over the API (started, moved through the example age gate's steps, reviewed, deleted), and
//! the portal's home shows the same numbers in its tables, in a browser.

use crate::common;
use crate::portal::{browser_sign_in, create_user};

use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

async fn get(srv: &TestServer, auth: &str, path: &str) -> (u16, Value) {
    let r = srv
        .get(path)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `{status: count}` of a `statuses`/`totals` list.
fn by_status(list: &Value) -> Vec<(i64, i64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_i64().unwrap(), c["count"].as_i64().unwrap()))
        .collect()
}

/// `(id, reached, stopped)` of each step of a funnel.
fn steps(funnel: &Value) -> Vec<(String, i64, i64)> {
    funnel["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["reached"].as_i64().unwrap(),
                s["stopped"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn step(id: &str, reached: i64, stopped: i64) -> (String, i64, i64) {
    (id.to_string(), reached, stopped)
}

/// Seeds the sessions; answers the id of the one that ended in TOO_YOUNG.
///
/// | session | workflow | step | status |
/// | --- | --- | --- | --- |
/// | a1 | age gate | AGE_INTRO | 0 |
/// | a2 | age gate | AGE_INTRO | 1000 (reviewed) |
/// | b1 | age gate | SCAN_DOCUMENT | 3 (reviewed) |
/// | b2 | age gate | SCAN_DOCUMENT | 4 (reviewed) |
/// | b3 | age gate | SCAN_DOCUMENT | 0 |
/// | c1 | age gate | TOO_YOUNG (final) | 0 |
/// | k1 | KYC | ONBOARDING | 0 |
/// | k2 | KYC | ONBOARDING | 1 (reviewed) |
async fn seed(srv: &TestServer) -> String {
    srv.load_kyc().await;
    srv.load_workflow(AGE_GATE, AGE_GATE_LOCALE).await;
    let key = srv
        .key(&[
            "session_all:read",
            "session_all:write",
            "session_all_patch:write",
        ])
        .await;
    let auth = format!("ApiKey {key}");
    let start = |wf: &'static str| {
        let key = key.clone();
        async move {
            srv.start_session_of(wf, &key, json!({})).await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let review = |id: String, status: i64| {
        let auth = auth.clone();
        async move {
            let r = srv
                .patch(&format!("/api/sessions/{id}"))
                .header("authorization", auth)
                .json(&json!({"status": status, "comment": "seeded"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(start(AGE_GATE_ID).await);
    }
    for id in &ids[2..5] {
        let r = srv
            .submit(&auth, id, "AGE_INTRO", json!({"continue": true}))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let r = srv
        .submit(&auth, &ids[5], "AGE_INTRO", json!({"continue": false}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let ended = srv.session(&auth, &ids[5]).await;
    assert_eq!(ended["currentStep"], "TOO_YOUNG", "{ended}");
    review(ids[1].clone(), 1000).await;
    review(ids[2].clone(), 3).await;
    review(ids[3].clone(), 4).await;
    start(KYC_ID).await;
    let k2 = start(KYC_ID).await;
    review(k2, 1).await;
    ids[5].clone()
}

async fn counts(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let admin = format!(
        "Basic {}",
        base64_encode(&format!("admin:{ADMIN_PASSWORD}"))
    );
    // Nothing yet: every day of the default two weeks, all zero; no funnel steps counted.
    let (status, s) = get(&srv, &admin, "/api/stats/sessions").await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["days"].as_array().unwrap().len(), 14);
    assert_eq!(s["totals"], json!([]));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(s["to"], today);

    let too_young = seed(&srv).await;

    // All workflows, today: the statuses as seeded and reviewed.
    let (status, s) = get(&srv, &admin, "/api/stats/sessions").await;
    assert_eq!(status, 200, "{s}");
    let days = s["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["date"], today);
    assert_eq!(days[13]["total"], 8);
    assert_eq!(
        by_status(&days[13]["statuses"]),
        [(0, 4), (1, 1), (3, 1), (4, 1), (1000, 1)]
    );
    assert!(days[..13].iter().all(|d| d["total"] == 0), "{s}");
    assert_eq!(by_status(&s["totals"]), by_status(&days[13]["statuses"]));
    assert_eq!(s["workflowId"], Value::Null);

    // One workflow.
    let (_, s) = get(
        &srv,
        &admin,
        &format!("/api/stats/sessions?workflowId={AGE_GATE_ID}&from={today}&to={today}"),
    )
    .await;
    assert_eq!(s["days"].as_array().unwrap().len(), 1);
    assert_eq!(by_status(&s["totals"]), [(0, 3), (3, 1), (4, 1), (1000, 1)]);
    assert_eq!(s["workflowId"], AGE_GATE_ID);
    // A range that ends before today counts none of them.
    let (_, s) = get(
        &srv,
        &admin,
        "/api/stats/sessions?from=2020-01-01&to=2020-01-31",
    )
    .await;
    assert_eq!(s["days"].as_array().unwrap().len(), 31);
    assert_eq!(s["totals"], json!([]));

    // Totals over any range, unbounded by default: every session, by status.
    let (status, t) = get(&srv, &admin, "/api/stats/sessions/totals").await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["total"], 8);
    assert_eq!(
        by_status(&t["totals"]),
        [(0, 4), (1, 1), (3, 1), (4, 1), (1000, 1)]
    );
    assert_eq!((&t["from"], &t["to"]), (&Value::Null, &Value::Null));
    let (_, t) = get(
        &srv,
        &admin,
        &format!("/api/stats/sessions/totals?workflowId={AGE_GATE_ID}&from=2000-01-01"),
    )
    .await;
    assert_eq!(t["total"], 6);
    assert_eq!(t["from"], "2000-01-01");
    let (_, t) = get(&srv, &admin, "/api/stats/sessions/totals?to=2020-01-31").await;
    assert_eq!(t["total"], 0);
    let (status, t) = get(
        &srv,
        &admin,
        "/api/stats/sessions/totals?from=2026-02-01&to=2026-01-01",
    )
    .await;
    assert_eq!(status, 400, "{t}");

    // The funnel: the steps in the definition's order, reached and stopped there.
    let (status, f) = get(
        &srv,
        &admin,
        &format!("/api/stats/funnel?workflowId={AGE_GATE_ID}"),
    )
    .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["workflowName"], "Example age gate");
    assert_eq!(f["sessions"], 6);
    assert_eq!(
        steps(&f),
        [
            step("AGE_INTRO", 6, 2),
            step("SCAN_DOCUMENT", 3, 3),
            step("OLD_ENOUGH", 0, 0),
            step("TOO_YOUNG", 1, 1),
        ]
    );
    assert_eq!(f["steps"][3]["final"], true);
    assert_eq!(f["steps"][0]["name"], "Introduction");
    // Without a workflow: the first by name ("Example KYC" sorts before "Example age gate").
    let (_, f) = get(&srv, &admin, "/api/stats/funnel").await;
    assert_eq!(f["workflowId"], KYC_ID);
    assert_eq!(f["sessions"], 2);
    assert_eq!(f["steps"][0]["id"], "ONBOARDING");
    assert_eq!(
        (
            f["steps"][0]["reached"].clone(),
            f["steps"][0]["stopped"].clone()
        ),
        (json!(2), json!(2))
    );
    let names: Vec<&str> = f["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Example KYC", "Example age gate"]);

    // A deleted session leaves every count.
    let r = srv
        .admin(srv.delete(&format!("/api/sessions/{too_young}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, f) = get(
        &srv,
        &admin,
        &format!("/api/stats/funnel?workflowId={AGE_GATE_ID}"),
    )
    .await;
    assert_eq!(
        steps(&f),
        [
            step("AGE_INTRO", 5, 2),
            step("SCAN_DOCUMENT", 3, 3),
            step("OLD_ENOUGH", 0, 0),
            step("TOO_YOUNG", 0, 0),
        ]
    );
    let (_, s) = get(&srv, &admin, "/api/stats/sessions").await;
    assert_eq!(s["days"][13]["total"], 7);

    // Bad input is named; an unknown workflow is 404.
    for (path, name) in [
        ("/api/stats/sessions?from=yesterday", "`from`"),
        (
            "/api/stats/sessions?from=2026-02-01&to=2026-01-01",
            "`from`",
        ),
        (
            "/api/stats/sessions?from=2020-01-01&to=2026-01-01",
            "`from`",
        ),
        ("/api/stats/sessions?colour=red", "`colour`"),
    ] {
        let r = srv.admin(srv.get(path)).send().await.unwrap();
        let (status, code, body) = error_of(r).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{path}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{path}: {body}"
        );
    }
    let r = srv
        .admin(srv.get("/api/stats/funnel?workflowId=no-such-workflow"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (404, "workflow_not_found"));

    // Reading one's own sessions is not enough.
    let own = srv.key(&["session:read", "session:write"]).await;
    let (status, _) = get(&srv, &format!("ApiKey {own}"), "/api/stats/sessions").await;
    assert_eq!(status, 403);
    let (status, _) = get(&srv, &format!("ApiKey {own}"), "/api/stats/funnel").await;
    assert_eq!(status, 403);
    srv.stop().await;
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn stats_count_sessions_on_sqlite() {
    counts(Backend::Sqlite).await;
}

#[tokio::test]
async fn stats_count_sessions_on_postgres() {
    counts(Backend::Postgres).await;
}

/// Screenshots of the rest of the page below the first screen, one a screen down each.
async fn rest_of_page(b: &crate::support::browser::Browser, name: &str) {
    let mut part = 1;
    loop {
        let more = b
            .execute(
                "const y = window.scrollY; window.scrollBy(0, window.innerHeight - 40); return window.scrollY > y;",
                vec![],
            )
            .await;
        if more != Value::Bool(true) || part > 6 {
            break;
        }
        part += 1;
        b.screenshot(&format!("{name}-part-{part}")).await;
    }
    b.execute("window.scrollTo(0, 0);", vec![]).await;
}

/// The text of the table cell `css`.
async fn cell(b: &crate::support::browser::Browser, css: &str) -> String {
    b.find(css).await.text().await.trim().to_string()
}

async fn page(backend: Backend, shot: &str) {
    use crate::capture::{WAIT, check};
    use crate::support::browser::Browser;
    let srv = TestServer::start(backend).await;
    seed(&srv).await;
    create_user(&srv, "vera", PASSWORD, &["verifier"]).await;
    create_user(&srv, "dev", PASSWORD, &["device"]).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();

    let b = Browser::start().await;
    browser_sign_in(&b, &srv, "vera", PASSWORD).await;
    // The per-day table: today's row and the totals, as counted.
    let row = format!("#days tr[data-day='{today}']");
    assert_eq!(cell(&b, &format!("{row} td[data-status='all']")).await, "8");
    assert_eq!(cell(&b, &format!("{row} td[data-status='0']")).await, "4");
    assert_eq!(
        cell(&b, &format!("{row} td[data-status='1000']")).await,
        "1"
    );
    assert_eq!(
        cell(&b, "#days tr[data-day='all'] td[data-status='all']").await,
        "8"
    );
    assert_eq!(
        b.find_all("#days tbody tr").await.len(),
        14,
        "two weeks by default"
    );
    // The chart is an image with a name that gives the total, and a legend.
    let svg = b.find("figure.chart svg[role=img]").await;
    assert!(
        svg.attribute("aria-label")
            .await
            .unwrap()
            .contains("8 in all"),
    );
    assert_eq!(b.find_all(".legend li").await.len(), 6 + 2);
    // The funnel of the first workflow by name.
    assert_eq!(
        cell(
            &b,
            "#steps tr[data-step='ONBOARDING'] td[data-count='reached']"
        )
        .await,
        "2"
    );
    check(&b, &format!("{shot}-all")).await;
    rest_of_page(&b, &format!("{shot}-all")).await;

    // Pick the age gate for the days and the steps.
    b.find(&format!("#workflow option[value='{AGE_GATE_ID}']"))
        .await
        .click()
        .await;
    b.find("form:has(#workflow) button[type=submit]")
        .await
        .click()
        .await;
    b.wait_until(
        &format!(
            "new URLSearchParams(location.search).get('workflow') === '{AGE_GATE_ID}' \
             && document.readyState === 'complete'"
        ),
        WAIT,
    )
    .await;
    assert_eq!(cell(&b, &format!("{row} td[data-status='all']")).await, "6");
    b.find(&format!("#flow option[value='{AGE_GATE_ID}']"))
        .await
        .click()
        .await;
    b.find("form:has(#flow) button[type=submit]")
        .await
        .click()
        .await;
    // (`workflow=c4e8…` already holds the text `flow=c4e8`: ask for the parameter itself.)
    b.wait_until(
        &format!(
            "new URLSearchParams(location.search).get('flow') === '{AGE_GATE_ID}' \
             && document.readyState === 'complete'"
        ),
        WAIT,
    )
    .await;
    assert!(
        b.current_url()
            .await
            .contains(&format!("workflow={AGE_GATE_ID}")),
        "the day filter stays"
    );
    for (id, reached, stopped) in [
        ("AGE_INTRO", "6", "2"),
        ("SCAN_DOCUMENT", "3", "3"),
        ("OLD_ENOUGH", "0", "0"),
        ("TOO_YOUNG", "1", "1"),
    ] {
        let r = format!("#steps tr[data-step='{id}']");
        assert_eq!(
            cell(&b, &format!("{r} td[data-count='reached']")).await,
            reached,
            "{id}"
        );
        assert_eq!(
            cell(&b, &format!("{r} td[data-count='stopped']")).await,
            stopped,
            "{id}"
        );
    }
    check(&b, &format!("{shot}-age-gate")).await;
    rest_of_page(&b, &format!("{shot}-age-gate")).await;

    // A bad range: said, and the default shown.
    b.goto(&format!("{}/?from=2026-02-01&to=2026-01-01", srv.url))
        .await;
    let alert = b.wait_for("[role=alert]", WAIT).await;
    assert!(
        alert.text().await.contains("cannot be shown"),
        "{}",
        alert.text().await
    );
    assert_eq!(b.find_all("#days tbody tr").await.len(), 14);
    check(&b, &format!("{shot}-bad-range")).await;

    // A user who reads only their own sessions: links, no figures.
    b.find("form[action='/portal/logout'] button")
        .await
        .click()
        .await;
    b.wait_until("document.title === 'Sign in · idv'", WAIT)
        .await;
    browser_sign_in(&b, &srv, "dev", PASSWORD).await;
    assert!(b.try_find("#days").await.is_none());
    let main = b.find("main").await.text().await;
    assert!(main.contains("reads every session"), "{main}");
    assert!(
        b.try_find("main a[href='/portal/sessions']")
            .await
            .is_some()
    );
    check(&b, &format!("{shot}-links")).await;
    srv.stop().await;
}

#[tokio::test]
async fn the_dashboard_shows_the_counts_on_sqlite() {
    page(Backend::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn the_dashboard_shows_the_counts_on_postgres() {
    page(Backend::Postgres, "postgres").await;
}
