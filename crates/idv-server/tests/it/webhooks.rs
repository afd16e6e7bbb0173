//! `/api/webhooks`: endpoints are created with a secret shown once, read without it, changed,
//! rotated (the old secret kept for an overlap) and deleted; bad input is refused with a code
//! that names the problem; private targets are refused unless the configuration allows them.

use crate::common;
use idv_store::WebhookId;

use common::*;
use serde_json::{Value, json};

async fn create(s: &TestServer, auth: &str, body: Value) -> reqwest::Response {
    s.post("/api/webhooks")
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn allowing_private(backend: Backend) -> impl std::future::Future<Output = TestServer> {
    TestServer::start_with(backend, |c| c.outbound.allow_private_addresses = true)
}

async fn lifecycle(backend: Backend) {
    let s = allowing_private(backend).await;
    let key = s
        .key(&["webhook:read", "webhook:write", "webhook:delete"])
        .await;
    let auth = format!("ApiKey {key}");
    let r = create(
        &s,
        &auth,
        json!({
            "url": "http://127.0.0.1:9/hook",
            "events": ["session.completed", "session.status_changed", "session.completed"],
            "description": "Back office",
            "headers": {"X-Tenant": "acme"},
            "workflowIds": ["edda0192-b890-11ef-a348-17da751a6a22"],
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_string();
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        made["events"],
        json!(["session.completed", "session.status_changed"]),
        "repeats dropped, order kept"
    );
    assert_eq!(made["enabled"], true);
    // Header values are write-only: answers name the headers only.
    assert_eq!(made["headerNames"], json!(["X-Tenant"]));
    assert!(made.get("headers").is_none());
    assert!(!made.to_string().contains("acme"));
    assert_eq!(made["ed25519"], false);

    let got: Value = s
        .get(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], json!(id));
    assert!(got.get("secret").is_none(), "the secret is shown only once");
    let listed: Value = s
        .get("/api/webhooks")
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert!(listed["items"][0].get("secret").is_none());

    // PATCH changes only what it names.
    let r = s
        .patch(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .json(&json!({"enabled": false, "description": null, "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["events"], json!(["*"]));
    assert_eq!(patched["url"], made["url"]);
    assert_eq!(patched["headerNames"], made["headerNames"]);

    // Rotation: a new secret, the old one signing until the overlap ends.
    let r = s
        .post(&format!("/api/webhooks/{id}/rotate-secret"))
        .header("authorization", &auth)
        .json(&json!({"overlapSeconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated["previousSecretExpiresAt"].is_string());
    let state = s.state().await;
    let raw = state
        .store
        .webhook_get(WebhookId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert!(
        raw.secret.starts_with("fernet1:") && !format!("{raw:?}").contains("whsec_"),
        "stored encrypted: {raw:?}"
    );
    let stored = idv_server::ops::webhooks::get(&state, &id).await.unwrap();
    assert_eq!(stored.previous_secret.as_deref(), Some(secret.as_str()));
    assert_eq!(stored.secret, new_secret);
    assert_eq!(stored.headers, json!({"X-Tenant": "acme"}));
    let r = s
        .post(&format!("/api/webhooks/{id}/rotate-secret"))
        .header("authorization", &auth)
        .json(&json!({"overlapSeconds": 10_000_000}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    // A body that is not an object is refused, not read by position (`[1]` is not
    // `{"overlapSeconds": 1}`), and the secret stays.
    for body in [json!([1]), json!([0]), json!(5)] {
        let r = s
            .post(&format!("/api/webhooks/{id}/rotate-secret"))
            .header("authorization", &auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, code, err) = error_of(r).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
        let message = err["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("must be a JSON object"), "{body}: {err}");
    }
    let stored = idv_server::ops::webhooks::get(&state, &id).await.unwrap();
    assert_eq!(stored.secret, new_secret);

    // Delete, then it is gone.
    let r = s
        .delete(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .get(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (404, "webhook_not_found"));
    let r = s
        .delete(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn webhook_lifecycle_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn webhook_lifecycle_postgres() {
    lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_webhooks_are_refused_with_what_to_fix() {
    // The default configuration: private addresses are not allowed.
    let s = TestServer::start(Backend::Sqlite).await;
    let key = s.key(&["webhook:write", "webhook:read"]).await;
    let auth = format!("ApiKey {key}");
    let cases = [
        (
            json!({"url": "http://10.1.2.3/hook", "events": ["*"]}),
            "webhook_url_not_allowed",
            "10.1.2.3",
        ),
        (
            json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
            "webhook_url_not_allowed",
            "127.0.0.1",
        ),
        (
            json!({"url": "http://localhost:9/hook", "events": ["*"]}),
            "webhook_url_not_allowed",
            "localhost",
        ),
        (
            json!({"url": "not a url", "events": ["*"]}),
            "invalid_webhook_url",
            "not a url",
        ),
        (
            json!({"url": "ftp://example.com/x", "events": ["*"]}),
            "invalid_webhook_url",
            "ftp",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["session.created", "session.exploded"]}),
            "invalid_event_type",
            "session.exploded",
        ),
        (
            json!({"url": "https://example.com/x", "events": []}),
            "invalid_event_type",
            "at least one",
        ),
        (
            json!({"url": "https://example.com/x"}),
            "invalid_request",
            "events is required",
        ),
        (
            json!({"events": ["*"]}),
            "invalid_request",
            "url is required",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["*"], "colour": "red"}),
            "invalid_request",
            "colour",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["*"], "headers": {"Content-Type": "text/plain"}}),
            "invalid_request",
            "Content-Type",
        ),
        (
            json!({"url": "https://example.com/x", "events": "session.created"}),
            "invalid_request",
            "events",
        ),
    ];
    for (body, want_code, named) in cases {
        let r = create(&s, &auth, body.clone()).await;
        let (status, code, err) = error_of(r).await;
        assert_eq!((status, code.as_str()), (400, want_code), "{body} → {err}");
        let message = err["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(named),
            "{body}: the message names {named}: {message}"
        );
    }
    // Nothing was stored by any of them.
    assert!(
        s.state()
            .await
            .store
            .webhook_list()
            .await
            .unwrap()
            .is_empty()
    );

    // PATCH checks the same way and leaves the endpoint as it was.
    let allowed = allowing_private(Backend::Sqlite).await;
    let key = allowed.key(&["webhook:write", "webhook:read"]).await;
    let auth = format!("ApiKey {key}");
    let made: Value = create(
        &allowed,
        &auth,
        json!({"url": "http://127.0.0.1:9/ok", "events": ["*"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = made["id"].as_str().unwrap();
    let r = allowed
        .patch(&format!("/api/webhooks/{id}"))
        .header("authorization", &auth)
        .json(&json!({"url": "https://example.com/new", "events": ["nope"]}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (400, "invalid_event_type"));
    let still = allowed
        .state()
        .await
        .store
        .webhook_get(WebhookId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.url, "http://127.0.0.1:9/ok");
    s.stop().await;
    allowed.stop().await;
}

#[tokio::test]
async fn webhooks_need_the_webhook_scope_and_the_signing_key_is_public() {
    let mut s = TestServer::start(Backend::Sqlite).await;
    let reader = s.key(&["webhook:read"]).await;
    let other = s.key(&["session_all:read"]).await;
    let r = create(
        &s,
        &format!("ApiKey {reader}"),
        json!({"url": "https://example.com/x", "events": ["*"]}),
    )
    .await;
    assert_eq!(error_of(r).await.0, 403, "webhook:read cannot create");
    let r = s
        .get("/api/webhooks")
        .header("authorization", format!("ApiKey {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403, "another scope cannot list");

    let key = |s: &TestServer| {
        let r = s.get("/api/webhooks/signing-key").send();
        async move {
            let r = r.await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let first = key(&s).await;
    assert_eq!(first["algorithm"], "ed25519");
    let public = first["publicKey"].as_str().unwrap().to_string();
    assert!(public.starts_with("whpk_"), "{public}");
    s.restart().await;
    assert_eq!(
        key(&s).await["publicKey"],
        json!(public),
        "the key is kept in the database, not made per process"
    );
    s.stop().await;
}
