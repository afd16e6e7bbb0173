//! `Idempotency-Key` through real HTTP, on SQLite and PostgreSQL: a retry gets the first answer
//! (`Idempotent-Replayed: true`) and creates nothing; the key with another request is 422, while
//! the first still runs 409; failures are not kept; keys are per caller, bounded, and expire
//! after 24 hours; raw uploads are idempotent up to 1 MiB.

use crate::common;

use common::*;
use idv_store::IdempotencyRecord;
use serde_json::{Value, json};

const START: &str = "/api/sessions?workflowId=6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84";

async fn start(srv: &TestServer, key: &str, idem: Option<&str>, body: Value) -> reqwest::Response {
    let mut rb = srv
        .post(START)
        .header("authorization", format!("ApiKey {key}"))
        .json(&body);
    if let Some(k) = idem {
        rb = rb.header("idempotency-key", k);
    }
    rb.send().await.unwrap()
}

async fn replay_and_conflicts(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let body = json!({"metadata": {"externalUserId": "u1"}, "locale": "en"});

    let first = start(&srv, &key, Some("order-1"), body.clone()).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let ct = first.headers()["content-type"].clone();
    let first_text = first.text().await.unwrap();
    let first_id = serde_json::from_str::<Value>(&first_text).unwrap()["id"].clone();

    // The retry: the same answer byte for byte, marked, and no second session.
    let again = start(&srv, &key, Some("order-1"), body.clone()).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], ct);
    assert_eq!(again.text().await.unwrap(), first_text);
    let plain: Value = start(&srv, &key, None, body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(plain["id"], first_id, "without a key every request creates");

    // The same key with another body or another query: 422, and nothing created.
    let other = start(&srv, &key, Some("order-1"), json!({"locale": "de"})).await;
    let (status, code, body_json) = error_of(other).await;
    assert_eq!((status, code.as_str()), (422, "idempotency_key_reused"));
    assert!(
        body_json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order-1")
    );
    let r = srv
        .post(&format!("{START}&x=1"))
        .header("authorization", format!("ApiKey {key}"))
        .header("idempotency-key", "order-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "idempotency_key_reused");

    // Keys belong to their caller: another key's same Idempotency-Key is a new request.
    let key2 = srv.key(&["session_all:read", "session_all:write"]).await;
    let theirs = start(&srv, &key2, Some("order-1"), body.clone()).await;
    assert_eq!(theirs.status(), 200);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let theirs: Value = theirs.json().await.unwrap();
    assert_ne!(theirs["id"], first_id);

    // While the first request with a key is still running (here: another instance that has
    // begun it), a retry is 409.
    let state = srv.state().await;
    let now = idv_core::time::now_ms();
    let body_bytes = serde_json::to_vec(&body).unwrap();
    state
        .store
        .idempotency_begin(
            &IdempotencyRecord {
                owner: key[4..28].to_string(),
                key: "order-2".into(),
                request_hash: idv_server::idempotency::request_hash(
                    "POST",
                    "/api/sessions",
                    "workflowId=6a1f3c2e-8d4b-4f7a-b0c9-5e2d1a7f3b84",
                    &body_bytes,
                ),
                status: None,
                content_type: None,
                body: None,
                locked_until: now + 600_000,
                created_at: now,
                expires_at: now + 86_400_000,
            },
            now,
        )
        .await
        .unwrap();
    let r = srv
        .post(START)
        .header("authorization", format!("ApiKey {key}"))
        .header("idempotency-key", "order-2")
        .header("content-type", "application/json")
        .body(body_bytes.clone())
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (409, "idempotency_in_progress"));

    // A failed first try is not kept: the key may be used again, even for another body.
    let r = srv
        .admin(srv.post("/api/apikey"))
        .header("idempotency-key", "mint-1")
        .json(&json!({"name": "k", "permissions": ["no_such:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = srv
        .admin(srv.post("/api/apikey"))
        .header("idempotency-key", "mint-1")
        .json(&json!({"name": "k", "permissions": ["session_all:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("idempotent-replayed").is_none());
    let minted: Value = r.json().await.unwrap();
    let r = srv
        .admin(srv.post("/api/apikey"))
        .header("idempotency-key", "mint-1")
        .json(&json!({"name": "k", "permissions": ["session_all:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let replayed: Value = r.json().await.unwrap();
    assert_eq!(replayed["id"], minted["id"], "one key minted, not two");

    // Bad keys: empty, too long, not printable ASCII.
    for bad in [
        reqwest::header::HeaderValue::from_static(""),
        reqwest::header::HeaderValue::from_str(&"k".repeat(256)).unwrap(),
        reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
    ] {
        let r = srv
            .post(START)
            .header("authorization", format!("ApiKey {key}"))
            .header("idempotency-key", bad)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, code, body) = error_of(r).await;
        assert_eq!((status, code.as_str()), (400, "invalid_idempotency_key"));
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("1 to 255 printable ASCII")
        );
    }
    let r = start(&srv, &key, Some(&"k".repeat(255)), body.clone()).await;
    assert_eq!(r.status(), 200, "255 characters are fine");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_and_conflicts_sqlite() {
    replay_and_conflicts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_and_conflicts_postgres() {
    replay_and_conflicts(Backend::Postgres).await;
}

async fn keys_expire_after_a_day(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:write"]).await;
    let r = start(&srv, &key, Some("daily"), json!({"locale": "en"})).await;
    assert_eq!(r.status(), 200);
    srv.clock.advance(23 * 3_600_000);
    let r = start(&srv, &key, Some("daily"), json!({"locale": "de"})).await;
    assert_eq!(
        error_of(r).await.1,
        "idempotency_key_reused",
        "kept for a day"
    );
    srv.clock.advance(3_600_000 + 1_000);
    let r = start(&srv, &key, Some("daily"), json!({"locale": "de"})).await;
    assert_eq!(r.status(), 200, "after 24 h the key is new again");
    assert!(r.headers().get("idempotent-replayed").is_none());
    // The cleanup removes expired keys from the table.
    let state = srv.state().await;
    let r = start(&srv, &key, Some("another"), json!({"locale": "en"})).await;
    assert_eq!(r.status(), 200);
    let later = idv_core::time::now_ms() + 3 * 86_400_000;
    assert!(state.store.idempotency_delete_expired(later).await.unwrap() >= 2);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_expire_after_a_day_sqlite() {
    keys_expire_after_a_day(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_expire_after_a_day_postgres() {
    keys_expire_after_a_day(Backend::Postgres).await;
}

async fn uploads(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({"locale": "en"})).await;
    let id = s["id"].as_str().unwrap();
    let upload = |name: &str, bytes: Vec<u8>, idem: &str| {
        srv.post(&format!(
            "/api/sessions/{id}/step/ONBOARDING?type=file&name={name}"
        ))
        .header("authorization", &auth)
        .header("content-type", "image/png")
        .header("idempotency-key", idem)
        .body(bytes)
        .send()
    };
    let files = |v: &Value| v["files"].as_array().map_or(0, Vec::len);
    let before = files(&srv.session(&auth, id).await);

    let r = upload("a.png", vec![7u8; 4096], "up-1").await.unwrap();
    assert_eq!(r.status(), 200);
    let first = r.text().await.unwrap();
    let r = upload("a.png", vec![7u8; 4096], "up-1").await.unwrap();
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.text().await.unwrap(), first);
    assert_eq!(
        files(&srv.session(&auth, id).await),
        before + 1,
        "one file stored"
    );
    let r = upload("a.png", vec![8u8; 4096], "up-1").await.unwrap();
    assert_eq!(error_of(r).await.1, "idempotency_key_reused");

    // Above 1 MiB an upload is not idempotent: both run.
    let big = vec![1u8; (1 << 20) + 1];
    for _ in 0..2 {
        let r = upload("big.png", big.clone(), "up-big").await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("idempotent-replayed").is_none());
    }
    assert_eq!(files(&srv.session(&auth, id).await), before + 3);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_sqlite() {
    uploads(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_postgres() {
    uploads(Backend::Postgres).await;
}

/// Two real requests with one key: the retry arrives while the first waits on a slow Document
/// Reader (its call is already recorded there), so it is 409; once the first has answered, the
/// retry gets its answer.
async fn a_retry_while_the_first_runs(backend: Backend) {
    use common::standins::{DocReader, Document};
    let dr = DocReader::start().await;
    let srv = TestServer::start_with_checks(backend, &dr, |_| {}).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({"locale": "en"})).await;
    let id = s["id"].as_str().unwrap().to_string();
    srv.kyc_up_to_the_check(&auth, &id).await;
    // The document check sends the photos tagged with the session's id.
    dr.put(&id, Document::adult());
    // SELFIE's answer runs DOCUMENT_CHECK, whose action calls the reader.
    let body = json!({"continue": true});
    let submit = {
        let rb = srv
            .post(&format!("/api/sessions/{id}/step/SELFIE?type=data"))
            .header("authorization", &auth)
            .header("idempotency-key", "doc-1")
            .json(&body);
        move || rb.try_clone().unwrap().send()
    };
    // Long enough for the second request to arrive while the first waits, on a loaded machine.
    dr.set_delay(std::time::Duration::from_secs(8));
    let calls_before = dr.calls().len();
    let first = tokio::spawn(submit());
    // Wait until the first request is inside its handler (its call reached the reader).
    for _ in 0..500 {
        if dr.calls().len() > calls_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        dr.calls().len() > calls_before,
        "the first request reached the reader"
    );
    let (status, code, _) = error_of(submit().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (409, "idempotency_in_progress"));
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    let first_text = first.text().await.unwrap();
    dr.set_delay(std::time::Duration::ZERO);
    // The step's own call is the process one.
    let process_calls = || dr.calls().iter().filter(|c| c.contains("/process")).count();
    let calls_after = process_calls();
    assert_eq!(calls_after, 1, "one process call for the first request");
    let again = submit().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_text);
    assert_eq!(process_calls(), calls_after, "the replay ran nothing again");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_while_the_first_runs_sqlite() {
    a_retry_while_the_first_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_while_the_first_runs_postgres() {
    a_retry_while_the_first_runs(Backend::Postgres).await;
}
