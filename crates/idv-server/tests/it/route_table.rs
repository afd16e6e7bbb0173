//! The route table's facts through real HTTP. Credentials, on SQLite and PostgreSQL: every
//! route that mints one (API keys, the token pair of a login and a refresh, users, device
//! tokens, deeplinks, QR codes and the exchange of their one-time tokens, webhook secrets at
//! creation and rotation, start links and their openings) answers with it, counts against the
//! strict profile `s` and leaves its audit entry. Each profile gets its own limit here, so `RateLimit-Limit` names the profile a
//! request counted against. Query parameters: every one a row declares required is refused
//! when missing.

use crate::common;

use common::*;
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};

const S_LIMIT: u64 = 501;
const M_LIMIT: u64 = 502;
const L_LIMIT: u64 = 503;

const WORKFLOW_ID: &str = "6a0f7f20-0003-11ef-8000-00000000e0a1";
const WORKFLOW: &str = r#"
id: 6a0f7f20-0003-11ef-8000-00000000e0a1
name: Form checks
version: "1"
lifetime: 3600
defaultLocale: en-us
steps:
  - id: FORM
    name: FORM
    type: DATA
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: always, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;

/// Sends `rb`, checks that it succeeded and counted against the profile whose limit is
/// `limit`, and gives the JSON answer.
async fn counted(rb: RequestBuilder, limit: u64, what: &str) -> Value {
    let r: Response = rb.send().await.unwrap();
    let status = r.status();
    let header = r
        .headers()
        .get("ratelimit-limit")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    assert_eq!(
        header,
        Some(limit),
        "{what}: the profile it counted against"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

fn text<'a>(v: &'a Value, field: &str, what: &str) -> &'a str {
    v[field]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("{what}: no credential in `{field}`: {v}"))
}

async fn credentials_are_strict_and_audited(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.rate_limit.enabled = true;
        c.rate_limit.profiles.s.limit = S_LIMIT;
        c.rate_limit.profiles.m.limit = M_LIMIT;
        c.rate_limit.profiles.l.limit = L_LIMIT;
        c.outbound.allow_private_addresses = true;
    })
    .await;

    // Other routes count against their own profiles.
    counted(
        srv.admin(srv.post("/api/workflows"))
            .header("content-type", "application/yaml")
            .body(WORKFLOW),
        M_LIMIT,
        "POST /api/workflows",
    )
    .await;
    counted(
        srv.admin(srv.get("/api/workflows")),
        L_LIMIT,
        "GET /api/workflows",
    )
    .await;

    let login = counted(
        srv.post("/api/auth/login")
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD})),
        S_LIMIT,
        "login",
    )
    .await;
    text(&login, "accessToken", "login");
    let refresh_token = text(&login, "refreshToken", "login").to_string();
    let refreshed = counted(
        srv.post("/api/auth/refresh")
            .json(&json!({"refreshToken": refresh_token})),
        S_LIMIT,
        "refresh",
    )
    .await;
    text(&refreshed, "accessToken", "refresh");

    for path in ["/api/apikey", "/api/security/apikey"] {
        let key = counted(
            srv.admin(srv.post(path))
                .json(&json!({"name": "k", "permissions": ["session:read"]})),
            S_LIMIT,
            path,
        )
        .await;
        text(&key, "token", path);
    }
    let user = counted(
        srv.admin(srv.post("/api/security/users"))
            .json(&json!({"name": "operator", "password": "a long enough password", "roles": []})),
        S_LIMIT,
        "create a user",
    )
    .await;
    text(&user, "id", "create a user");

    let device = counted(
        srv.admin(srv.post("/api/device/ephemeral"))
            .json(&json!({"ttl": 600})),
        S_LIMIT,
        "ephemeral device",
    )
    .await;
    assert!(text(&device, "authorization", "device").starts_with("Token "));
    let link = counted(
        srv.admin(srv.post(&format!("/api/v1/deeplink?workflowId={WORKFLOW_ID}")))
            .json(&json!({})),
        S_LIMIT,
        "deeplink",
    )
    .await;
    assert!(text(&link, "url", "deeplink").contains("authorization=Token"));
    let qr = counted(
        srv.admin(srv.get(&format!("/api/deeplink/qrcode?workflowId={WORKFLOW_ID}"))),
        S_LIMIT,
        "qrcode",
    )
    .await;
    let one_time = text(&qr, "token", "qrcode").to_string();
    let exchanged = counted(
        srv.post("/api/deeplink/exchange")
            .header("authorization", format!("Token {one_time}")),
        S_LIMIT,
        "exchange",
    )
    .await;
    assert!(text(&exchanged, "authorization", "exchange").starts_with("Token "));

    let start_link = counted(
        srv.admin(srv.post("/api/links"))
            .json(&json!({"workflowId": WORKFLOW_ID})),
        S_LIMIT,
        "create a start link",
    )
    .await;
    let start_url = text(&start_link, "url", "start link").to_string();
    // Opening it mints a token too: the redirect carries it, counted against `s`.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&start_url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "open a start link");
    assert_eq!(
        r.headers()
            .get("ratelimit-limit")
            .unwrap()
            .to_str()
            .unwrap(),
        S_LIMIT.to_string(),
        "open a start link: the profile it counted against"
    );
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("authorization=Token%20idvdt_")
    );

    let hook = counted(
        srv.admin(srv.post("/api/webhooks"))
            .json(&json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
        S_LIMIT,
        "create a webhook",
    )
    .await;
    let first_secret = text(&hook, "secret", "create a webhook").to_string();
    let hook_id = text(&hook, "id", "create a webhook").to_string();
    let rotated = counted(
        srv.admin(srv.post(&format!("/api/webhooks/{hook_id}/rotate-secret")))
            .json(&json!({})),
        S_LIMIT,
        "rotate a webhook secret",
    )
    .await;
    assert_ne!(text(&rotated, "secret", "rotate"), first_secret);

    // Each left its audit entry, with the caller as its actor.
    let r = srv
        .admin(srv.get("/api/audit?order=asc&limit=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let entries = body["items"].as_array().unwrap();
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    for (action, count) in [
        ("auth.login", 1),
        ("auth.refresh", 1),
        ("apikey.created", 2),
        ("user.created", 1),
        ("device_token.created", 1),
        ("deeplink.created", 1),
        ("deeplink.qrcode_created", 1),
        ("deeplink.exchanged", 1),
        ("webhook.created", 1),
        ("webhook.secret_rotated", 1),
        ("start_link.created", 1),
        ("start_link.opened", 1),
    ] {
        let found = of(action);
        assert_eq!(found.len(), count, "{action}: {entries:?}");
        for e in found {
            let outcome = e["outcome"].as_i64().unwrap();
            assert!(
                (200..300).contains(&outcome) || (action == "start_link.opened" && outcome == 303),
                "{action}: {e}"
            );
        }
    }
    assert_eq!(of("deeplink.exchanged")[0]["actor"]["kind"], "onetime");
    assert_eq!(of("device_token.created")[0]["actor"]["name"], "admin");
    assert_eq!(of("webhook.secret_rotated")[0]["target"], hook_id.as_str());
    // A refresh that fails is recorded as such.
    let r = srv
        .post("/api/auth/refresh")
        .json(&json!({"refreshToken": refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the old refresh token was rotated away");
    let r = srv
        .admin(srv.get("/api/audit?action=auth.refresh_failed"))
        .send()
        .await
        .unwrap();
    let failed: Value = r.json().await.unwrap();
    assert_eq!(failed["items"].as_array().unwrap().len(), 1, "{failed}");
    assert_eq!(failed["items"][0]["outcome"], 401);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_strict_and_audited_sqlite() {
    credentials_are_strict_and_audited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_strict_and_audited_postgres() {
    credentials_are_strict_and_audited(Backend::Postgres).await;
}

/// Every route whose row declares a required query parameter refuses a request without it
/// (400, naming the parameter), so the document's `required: true` matches the handler.
#[tokio::test(flavor = "multi_thread")]
async fn required_query_parameters_are_required() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let mut checked = Vec::new();
    for def in idv_server::routes::table() {
        let Some(q) = def.query.iter().find(|q| q.required) else {
            continue;
        };
        let path: String = def
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "0123456789abcdef01234567"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(def.method.as_str().as_bytes()).unwrap();
        let r = srv
            .admin(srv.client.request(method, format!("{}{path}", srv.url)))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let (status, _, body) = error_of(r).await;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 400, "{} {}: {body}", def.method, def.path);
        assert!(
            message.contains(q.name),
            "{} {}: the message names {}: {message}",
            def.method,
            def.path,
            q.name
        );
        checked.push(format!("{} {}", def.method, def.path));
    }
    assert_eq!(
        checked,
        [
            "POST /api/sessions",
            "POST /api/v1/deeplink",
            "GET /api/deeplink/qrcode",
            "POST /api/webhooks/{id}/replay"
        ],
        "the routes with a required query parameter"
    );
    srv.stop().await;
}
