//! No secret in a log line, at any level: `idv serve` at `IDV_LOG=trace`, on SQLite and on
//! PostgreSQL, is given a password, an API key, a device token, QR one-time tokens, a Bearer
//! access token and a webhook secret and header value, used in headers and in the documented
//! `?authorization=` query parameter, and none of them appears in its log.

use crate::receiver;
use crate::support;

use base64::Engine;
use receiver::{Receiver, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use support::{PASSWORD, PgDatabase, Serve, serve};

const WRONG_PASSWORD: &str = "Wr0ng-Passw0rd-5d2b81";
const HOOK_HEADER: &str = "Bearer hook-receiver-credential-0c4e2f";
const WF_ID: &str = support::FORM_WORKFLOW_ID;
const WORKFLOW: &str = support::FORM_WORKFLOW;

fn enc(s: &str) -> String {
    s.replace(' ', "%20")
}

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

trait Calls {
    async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        in_query: bool,
        body: Option<Value>,
    ) -> (u16, Value);
    async fn ok(&self, method: Method, path: &str, auth: &str, q: bool, b: Option<Value>) -> Value;
}

impl Calls for Serve {
    /// A request with `authorization` as the header, or as the query parameter.
    async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        in_query: bool,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = if in_query {
            let sep = if path.contains('?') { '&' } else { '?' };
            self.http.request(
                method,
                format!(
                    "{}{path}{sep}authorization={}",
                    self.url,
                    enc(authorization)
                ),
            )
        } else {
            self.http
                .request(method, format!("{}{path}", self.url))
                .header("authorization", authorization)
        };
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, path: &str, auth: &str, q: bool, b: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, auth, q, b).await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }
}

/// Uses every kind of credential, in headers and in the query, and returns the secret strings
/// that must not appear in the log.
async fn exercise(s: &Serve) -> Vec<String> {
    let admin = basic("admin", PASSWORD);
    let mut secrets = vec![
        PASSWORD.to_string(),
        WRONG_PASSWORD.to_string(),
        admin.trim_start_matches("Basic ").to_string(),
        HOOK_HEADER.trim_start_matches("Bearer ").to_string(),
    ];
    for q in [false, true] {
        s.ok(Method::GET, "/api/workflows", &admin, q, None).await;
    }
    // A failed login, by Basic auth and by the login endpoint.
    let wrong = basic("admin", WRONG_PASSWORD);
    secrets.push(wrong.trim_start_matches("Basic ").to_string());
    for q in [false, true] {
        assert_eq!(
            s.call(Method::GET, "/api/workflows", &wrong, q, None)
                .await
                .0,
            401
        );
    }
    let r = s
        .http
        .post(format!("{}/api/auth/login", s.url))
        .json(&json!({"username": "admin", "password": WRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Bearer tokens from a login.
    let login: Value = s
        .http
        .post(format!("{}/api/auth/login", s.url))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["accessToken"].as_str().unwrap().to_string();
    let refresh = login["refreshToken"].as_str().unwrap().to_string();
    for q in [false, true] {
        s.ok(
            Method::GET,
            "/api/workflows",
            &format!("Bearer {access}"),
            q,
            None,
        )
        .await;
    }
    secrets.extend([access, refresh]);
    // The workflow the device and deeplink starts run.
    let r = s
        .http
        .post(format!("{}/api/workflows", s.url))
        .header("authorization", &admin)
        .header("content-type", "application/yaml")
        .body(WORKFLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // An API key.
    let key = s
        .ok(
            Method::POST,
            "/api/apikey",
            &admin,
            false,
            Some(json!({"name": "log check", "permissions": ["session_all:read", "session_all:write", "ephemeral_device:write", "deeplink:write"]})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let apikey = format!("ApiKey {key}");
    for q in [false, true] {
        s.ok(
            Method::POST,
            &format!("/api/sessions?workflowId={WF_ID}"),
            &apikey,
            q,
            Some(json!({})),
        )
        .await;
    }
    secrets.push(key);
    // A device token.
    let device = s
        .ok(
            Method::POST,
            "/api/device/ephemeral",
            &apikey,
            false,
            Some(json!({"ttl": 600})),
        )
        .await["authorization"]
        .as_str()
        .unwrap()
        .to_string();
    for q in [false, true] {
        let started = s
            .ok(
                Method::POST,
                &format!("/api/sessions?workflowId={WF_ID}"),
                &device,
                q,
                Some(json!({})),
            )
            .await;
        let id = started["id"].as_str().unwrap();
        s.ok(
            Method::GET,
            &format!("/api/sessions/{id}"),
            &device,
            q,
            None,
        )
        .await;
    }
    secrets.push(device.trim_start_matches("Token ").to_string());
    // QR one-time tokens, exchanged by header and by query; and the tokens they give.
    for q in [false, true] {
        let qr = s
            .ok(
                Method::GET,
                &format!("/api/deeplink/qrcode?workflowId={WF_ID}"),
                &apikey,
                false,
                None,
            )
            .await;
        let token = qr["token"].as_str().unwrap().to_string();
        let tr = if token.starts_with("Token ") {
            token.clone()
        } else {
            format!("Token {token}")
        };
        let sid = qr["sessionId"].as_str().unwrap();
        let got = s
            .ok(
                Method::POST,
                &format!("/api/deeplink/exchange?sessionId={sid}"),
                &tr,
                q,
                None,
            )
            .await;
        let bound = got["authorization"].as_str().unwrap().to_string();
        s.ok(
            Method::GET,
            &format!("/api/sessions/{sid}"),
            &bound,
            q,
            None,
        )
        .await;
        secrets.push(tr.trim_start_matches("Token ").to_string());
        secrets.push(bound.trim_start_matches("Token ").to_string());
    }
    // A deeplink's URL token.
    let link = s
        .ok(
            Method::POST,
            &format!("/api/v1/deeplink?workflowId={WF_ID}"),
            &apikey,
            false,
            Some(json!({})),
        )
        .await;
    let url = link["url"].as_str().unwrap();
    let token = url
        .split("authorization=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .replace("%20", " ");
    let sid = link["sessionId"].as_str().unwrap();
    s.ok(
        Method::GET,
        &format!("/api/sessions/{sid}"),
        &token,
        true,
        None,
    )
    .await;
    secrets.push(token.trim_start_matches("Token ").to_string());
    // A webhook with a secret and a credential header, delivering to a receiver.
    let rx = Receiver::start().await;
    let made = s
        .ok(
            Method::POST,
            "/api/webhooks",
            &admin,
            false,
            Some(json!({"url": rx.url(), "events": ["*"], "headers": {"Authorization": HOOK_HEADER}})),
        )
        .await;
    let secret = made["secret"].as_str().unwrap().to_string();
    rx.set_secret(&secret);
    let hook = made["id"].as_str().unwrap().to_string();
    let rotated = s
        .ok(
            Method::POST,
            &format!("/api/webhooks/{hook}/rotate-secret"),
            &admin,
            false,
            Some(json!({"overlapSeconds": 600})),
        )
        .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    rx.set_secret(&new_secret);
    s.ok(
        Method::POST,
        &format!("/api/sessions?workflowId={WF_ID}"),
        &apikey,
        false,
        Some(json!({})),
    )
    .await;
    wait_for(60, "a webhook delivery", || async {
        !rx.accepted().is_empty()
    })
    .await;
    secrets.push(secret.trim_start_matches("whsec_").to_string());
    secrets.push(new_secret.trim_start_matches("whsec_").to_string());
    secrets
}

async fn check(database: &str, dir: &Path) {
    let mut s = serve(
        dir,
        database,
        "serve.log",
        &[
            ("IDV_LOG", "trace"),
            ("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true"),
            ("IDV_CONFIG__SERVICES__WEBHOOKS__POLLINTERVAL", "100"),
        ],
    );
    s.ready().await;
    let secrets = exercise(&s).await;
    s.kill();
    let printed = std::fs::read_to_string(&s.log).unwrap();
    // The log is really at the most verbose level and really saw the requests.
    assert!(printed.contains("TRACE"), "no TRACE lines in the log");
    for secret in &secrets {
        assert!(
            secret.len() >= 12,
            "a planted secret is too short to search for: {secret}"
        );
        let encoded = secret
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        for form in [secret.as_str(), encoded.as_str()] {
            if let Some(at) = printed.find(form) {
                let start = printed[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = printed[at..].find('\n').map_or(printed.len(), |i| at + i);
                panic!("a secret is in the log: {}", &printed[start..end]);
            }
        }
    }
    assert!(
        printed.contains("authorization=[redacted]"),
        "the query credentials were not logged redacted"
    );
    println!(
        "log_secrets: {} planted secrets, {} log lines at trace, none found",
        secrets.len(),
        printed.lines().count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    check(&db, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_on_postgres() {
    let db = PgDatabase::create("idv_logs").await;
    let dir = tempfile::tempdir().unwrap();
    check(&db.url, dir.path()).await;
    db.drop_now().await;
}
