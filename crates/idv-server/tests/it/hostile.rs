//! Hostile text through real HTTP, on SQLite and PostgreSQL: a NUL character, another control
//! character or bytes that are not UTF-8 in every path parameter and in query names and values
//! of every route, and in credentials. PostgreSQL cannot hold a NUL where SQLite can; the
//! answers must not show it: no 5xx, the JSON error format, and the same status and code on
//! both backends. And the audit log: an entry made from such a request is stored (NUL as
//! U+FFFD), later entries are readable at once, and an entry the database refuses cannot hold
//! back the others.

use crate::common;
use idv_store::UserId;

use base64::Engine;
use common::*;
use idv_server::audit::verify::{Verdict, verify};
use idv_server::audit::{AuditConfig, Auditor, start_writer};
use idv_server::routes::table;
use idv_store::{AuditQuery, NewAuditEntry};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a case authenticates.
#[derive(Clone)]
enum Credentials {
    /// The admin's Basic credentials.
    Admin,
    /// This `Authorization` header value.
    Header(String),
    /// None in a header (the URL carries its own `authorization` parameter).
    InUrl,
}

struct Case {
    label: String,
    method: reqwest::Method,
    /// Path and query, percent-encoded as sent.
    target: String,
    credentials: Credentials,
    /// What the answer must be (status, code), where the case decides it.
    expect: Option<(u16, &'static str)>,
}

/// The route's path with `{name}` (and `{*name}`) filled in: `hostile` for the parameter it
/// names, a harmless value for the others.
fn fill(template: &str, hostile: Option<(&str, &str)>) -> String {
    template
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let name = name.trim_start_matches('*');
                    match hostile {
                        Some((h, value)) if h == name => value.to_string(),
                        _ => "abc123".to_string(),
                    }
                }
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Every hostile case of every route of the route table.
fn cases(config: &idv_server::config::Config) -> Vec<Case> {
    let bad_param = (400, "invalid_parameter");
    let bad_credentials = (401, "invalid_credentials");
    let mut out = Vec::new();
    for def in table() {
        let template = idv_server::handlers::gateway::mount_path(config, def.path);
        let guarded = def.access != idv_server::routes::Access::Public;
        let plain = fill(&template, None);
        let mut add = |label: String, target: String, credentials, expect| {
            out.push(Case {
                label: format!("{} {} {label}", def.method, def.path),
                method: def.method.clone(),
                target,
                credentials,
                expect,
            })
        };
        let names: Vec<String> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|s| s.trim_start_matches('*').to_string())
            .collect();
        for name in &names {
            for (what, value) in [("NUL", "a%00b"), ("U+0001", "a%01b"), ("%FF", "a%FFb")] {
                add(
                    format!("{what} in path parameter {name}"),
                    fill(&template, Some((name, value))),
                    Credentials::Admin,
                    Some(bad_param),
                );
            }
        }
        for (what, query) in [
            ("NUL in a query value", "limit=10&v=a%00b"),
            ("NUL in a query name", "a%00b=1"),
            ("U+0001 in a query name", "a%01b=1"),
            ("%FF in a query value", "v=a%FFb"),
            ("%FF in a query name", "a%FFb=1"),
        ] {
            add(
                what.to_string(),
                format!("{plain}?{query}"),
                Credentials::Admin,
                Some(bad_param),
            );
        }
        let refused = guarded.then_some(bad_credentials);
        for (what, name) in [("NUL", "ad\0min"), ("U+0001", "ad\u{1}min")] {
            add(
                format!("Basic user name with {what}"),
                plain.clone(),
                Credentials::Header(basic(name, ADMIN_PASSWORD)),
                refused,
            );
        }
        let encoded_nul_basic = basic("ad\0min", ADMIN_PASSWORD).replace(' ', "%20");
        // On a public route the parameter is just a query value: refused when it holds a NUL
        // itself, and taken when the NUL is inside base64.
        for (what, query, on_public) in [
            (
                "ApiKey with NUL in ?authorization",
                "authorization=ApiKey%20idv_%00abc".to_string(),
                Some(bad_param),
            ),
            (
                "Basic user name with NUL in ?authorization",
                format!(
                    "authorization={}",
                    encoded_nul_basic.replace('+', "%2B").replace('=', "%3D")
                ),
                None,
            ),
            (
                "NUL in a Token in ?authorization",
                "authorization=Token%20idvdt_a%00b".to_string(),
                Some(bad_param),
            ),
        ] {
            add(
                what.to_string(),
                format!("{plain}?{query}"),
                Credentials::InUrl,
                if guarded {
                    Some(bad_credentials)
                } else {
                    on_public
                },
            );
        }
    }
    out
}

/// Runs every case against `srv`: each answer must be below 500 and, when an error, in the
/// JSON error format. Returns (status, code) per case.
async fn drive(srv: &TestServer, backend: Backend) -> BTreeMap<String, (u16, String)> {
    let mut seen = BTreeMap::new();
    let all = cases(&srv.config);
    assert!(all.len() > 500, "the table gives {} cases", all.len());
    eprintln!("{backend:?}: {} hostile requests", all.len());
    for case in all {
        let rb = srv
            .client
            .request(case.method.clone(), format!("{}{}", srv.url, case.target));
        let rb = match &case.credentials {
            Credentials::Admin => srv.admin(rb),
            Credentials::Header(v) => rb.header("authorization", v),
            Credentials::InUrl => rb,
        };
        let r = rb
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{backend:?} {}: {e}", case.label));
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r.text().await.unwrap_or_default();
        assert!(
            status < 500,
            "{backend:?} {} ({}): {status} {text}",
            case.label,
            case.target
        );
        let mut code = String::new();
        if status >= 400 {
            assert!(
                content_type.starts_with("application/json"),
                "{backend:?} {}: error in {content_type:?}, not JSON: {text}",
                case.label
            );
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{backend:?} {}: not JSON ({e}): {text}", case.label));
            code = body["error"]["code"].as_str().unwrap_or("").to_string();
            let message = body["error"]["message"].as_str().unwrap_or("");
            assert!(
                !code.is_empty() && !message.is_empty(),
                "{backend:?} {}: not the error format: {text}",
                case.label
            );
        }
        if let Some((want_status, want_code)) = case.expect {
            assert_eq!(
                (status, code.as_str()),
                (want_status, want_code),
                "{backend:?} {} ({}): {text}",
                case.label,
                case.target
            );
        }
        seen.insert(case.label, (status, code));
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_hostile_text_alike_on_both_backends() {
    let (sqlite, postgres) = tokio::join!(
        TestServer::start(Backend::Sqlite),
        TestServer::start(Backend::Postgres)
    );
    let (on_sqlite, on_postgres) = tokio::join!(
        drive(&sqlite, Backend::Sqlite),
        drive(&postgres, Backend::Postgres)
    );
    let differ: Vec<String> = on_sqlite
        .iter()
        .filter(|(label, answer)| on_postgres.get(*label) != Some(answer))
        .map(|(label, answer)| {
            format!(
                "{label}: SQLite {answer:?}, PostgreSQL {:?}",
                on_postgres.get(label)
            )
        })
        .collect();
    assert!(differ.is_empty(), "answers differ:\n{}", differ.join("\n"));
    assert_eq!(on_sqlite.len(), on_postgres.len());
    sqlite.stop().await;
    postgres.stop().await;
}

/// A query string axum cannot read into the handler's parameters (a repeated one) is a JSON
/// error too, not plain text.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_query_strings_are_json_errors() {
    let srv = TestServer::start(Backend::Sqlite).await;
    for path in [
        "/api/translations?locale=en&locale=de",
        "/api/sessions?workflowId=a&workflowId=b",
    ] {
        let method = if path.starts_with("/api/sessions") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let r = srv
            .admin(srv.client.request(method, format!("{}{path}", srv.url)))
            .send()
            .await
            .unwrap();
        let (status, code, body) = error_of(r).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{path}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("duplicate field"), "{message}");
    }
    srv.stop().await;
}

/// Every entry, oldest first.
async fn all_entries(srv: &TestServer) -> Vec<Value> {
    let r = srv
        .admin(srv.get("/api/audit?order=asc&limit=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn nul_requests_leave_the_audit_log_writing(backend: Backend) {
    let srv = TestServer::start(backend).await;
    // Audited routes given a NUL in the parameter that becomes the entry's target or details.
    for (method, path) in [
        (reqwest::Method::GET, "/api/sessions/a%00b"),
        (reqwest::Method::DELETE, "/api/security/users/a%00b"),
        (reqwest::Method::GET, "/api/sessions/a%00b/files/abc"),
        (reqwest::Method::DELETE, "/api/workflows/a%00b"),
    ] {
        let r = srv
            .admin(srv.client.request(method, format!("{}{path}", srv.url)))
            .send()
            .await
            .unwrap();
        let (status, code, body) = error_of(r).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{body}"
        );
    }
    // A login whose user name holds a NUL (JSON refuses it as well).
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "ad\u{0}min", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A later audited request: its entry is readable at once.
    let later = "0123456789abcdef01234567";
    let r = srv
        .admin(srv.get(&format!("/api/sessions/{later}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let entries = all_entries(&srv).await;
    let targets: Vec<(&str, &str, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["target"].as_str().unwrap_or(""),
                e["outcome"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    for want in [
        ("session.read", "a\u{FFFD}b", 400),
        ("user.deleted", "a\u{FFFD}b", 400),
        ("file.download", "abc", 400),
        ("workflow.deleted", "a\u{FFFD}b", 400),
        ("session.read", later, 404),
    ] {
        assert!(
            targets.contains(&want),
            "{backend:?}: no entry {want:?} in {targets:?}"
        );
    }
    let download = entries
        .iter()
        .find(|e| e["action"] == "file.download")
        .unwrap();
    assert_eq!(download["details"], json!({"session": "a\u{FFFD}b"}));
    assert_eq!(
        targets.last().map(|t| t.1),
        Some(later),
        "the later entry is the newest"
    );

    // The chain verifies over the stored (replaced) text.
    let state = srv.state().await;
    // Behind the guard, the store's own answer to a NUL: PostgreSQL's refusal is `Invalid`
    // (a 400), never `Backend` (a 500); SQLite holds it and finds nothing.
    match (backend, state.store.user_get(UserId::new("a\0b")).await) {
        (Backend::Postgres, Err(idv_store::StoreError::Invalid { .. }))
        | (Backend::Sqlite, Ok(None)) => {}
        (_, other) => panic!("{backend:?}: user_get with a NUL gave {other:?}"),
    }
    match verify(state.store.as_ref()).await.unwrap() {
        Verdict::Intact { count, .. } => assert_eq!(count as usize, entries.len()),
        broken => panic!("{backend:?}: {broken:?}"),
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_requests_leave_the_audit_log_writing_sqlite() {
    nul_requests_leave_the_audit_log_writing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_requests_leave_the_audit_log_writing_postgres() {
    nul_requests_leave_the_audit_log_writing(Backend::Postgres).await;
}

/// Makes the database refuse every audit entry whose details mention `refuse-me`: on
/// PostgreSQL as a data exception (SQLSTATE 22021, what a NUL gives), on SQLite as a plain
/// failure (which the writer tells from a database that is down by the database answering).
async fn refuse_marked_entries(srv: &TestServer, backend: Backend) {
    use sqlx::Connection;
    let url = &srv.config.database.url;
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(
                "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN IF NEW.details LIKE '%refuse-me%' THEN \
                 RAISE EXCEPTION 'refused' USING ERRCODE = '22021'; END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION refuse_marked();",
            )
            .execute(&mut c)
            .await
            .unwrap();
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_log \
                 WHEN NEW.details LIKE '%refuse-me%' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .execute(&mut c)
            .await
            .unwrap();
        }
    }
}

fn entry(target: &str, details: Value) -> NewAuditEntry {
    NewAuditEntry {
        at: idv_core::time::now_ms(),
        actor_id: Some("abc".into()),
        actor_kind: "user".into(),
        actor_name: Some("admin".into()),
        action: "session.read".into(),
        target: Some(target.into()),
        outcome: 200,
        ip: Some("127.0.0.1".into()),
        request_id: None,
        details,
    }
}

async fn a_refused_entry_does_not_hold_back_its_batch(backend: Backend) {
    let srv = TestServer::start(backend).await;
    refuse_marked_entries(&srv, backend).await;
    let state = srv.state().await;
    let store = state.store.clone();
    let head = store.audit_chain().await.unwrap().head_seq;

    let auditor = Auditor::new(&AuditConfig::default());
    let writer = start_writer(store.clone(), &auditor);
    // Queued together (this test's runtime has one thread: the writer runs only once the
    // flush below waits), so they reach the database as one batch.
    auditor.record(entry("before", Value::Null)).await;
    auditor
        .record(entry("refused", json!({"note": "refuse-me"})))
        .await;
    auditor.record(entry("after", Value::Null)).await;
    tokio::time::timeout(Duration::from_secs(120), auditor.flush())
        .await
        .expect("the writer stores the batch instead of retrying it for ever");
    // And it keeps writing.
    auditor.record(entry("later", Value::Null)).await;
    tokio::time::timeout(Duration::from_secs(120), auditor.flush())
        .await
        .expect("later entries are written");

    let rows = store
        .audit_query(&AuditQuery {
            after_seq: Some(head),
            ascending: true,
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let got: Vec<(&str, &Value)> = rows
        .iter()
        .map(|r| (r.entry.target.as_deref().unwrap_or(""), &r.entry.details))
        .collect();
    assert_eq!(
        got,
        vec![
            ("before", &Value::Null),
            ("refused", &json!({"reduced": true})),
            ("after", &Value::Null),
            ("later", &Value::Null),
        ],
        "{backend:?}: every entry in order, the refused one in reduced form"
    );
    assert_eq!(rows[1].entry.action, "session.read");
    assert!(matches!(
        verify(store.as_ref()).await.unwrap(),
        Verdict::Intact { .. }
    ));
    writer.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_refused_entry_does_not_hold_back_its_batch_sqlite() {
    a_refused_entry_does_not_hold_back_its_batch(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_refused_entry_does_not_hold_back_its_batch_postgres() {
    a_refused_entry_does_not_hold_back_its_batch(Backend::Postgres).await;
}

/// Turns connections to the test's PostgreSQL database off (and ends the open ones) or on.
async fn database_reachable(srv: &TestServer, on: bool) {
    use sqlx::Connection;
    let name = srv
        .config
        .database
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {on}"))
        .execute(&mut admin)
        .await
        .unwrap();
    if !on {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

/// A database that does not answer is not an entry's fault: its entries wait, whole, until it
/// answers again.
#[tokio::test(flavor = "multi_thread")]
async fn entries_wait_whole_for_a_database_that_is_down_postgres() {
    let srv = TestServer::start(Backend::Postgres).await;
    let state = srv.state().await;
    let store = state.store.clone();
    let head = store.audit_chain().await.unwrap().head_seq;
    let auditor = Auditor::new(&AuditConfig::default());
    let writer = start_writer(store.clone(), &auditor);

    database_reachable(&srv, false).await;
    auditor
        .record(entry("while-down", json!({"kept": "whole"})))
        .await;
    // Not stored while the database is down (a writer that gave up on it, or stored something
    // else in its place, would let this flush end).
    assert!(
        tokio::time::timeout(Duration::from_secs(3), auditor.flush())
            .await
            .is_err(),
        "the flush ended while the database was down"
    );
    database_reachable(&srv, true).await;
    tokio::time::timeout(Duration::from_secs(120), auditor.flush())
        .await
        .expect("the entry is stored once the database answers");

    let rows = store
        .audit_query(&AuditQuery {
            after_seq: Some(head),
            ascending: true,
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].entry.target.as_deref(), Some("while-down"));
    assert_eq!(rows[0].entry.details, json!({"kept": "whole"}));
    writer.stop().await;
    srv.stop().await;
}
