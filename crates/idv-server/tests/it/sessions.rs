//! The session data API end to end through real HTTP, on SQLite and on PostgreSQL: load the
//! example KYC workflow (examples/kyc), start sessions, submit steps, upload and download files, and read the
//! session the way a business back end does.

use crate::common;

use common::*;
use serde_json::{Value, json};

async fn story(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");

    // Start: status 0, first step, metadata and locale kept.
    let s = srv
        .start_session(
            &key,
            json!({"metadata": {"externalUserId": "user-42"}, "locale": "en"}),
        )
        .await;
    let id = s["id"].as_str().unwrap().to_string();
    assert!(idv_core::ids::is_id(&id), "{id}");
    assert_eq!(s["status"], 0);
    assert_eq!(s["currentStep"], "ONBOARDING");
    assert_eq!(s["metadata"]["externalUserId"], "user-42");
    assert_eq!(s["locale"], "en");
    assert_eq!(s["workflow"]["id"], KYC_ID);
    assert_eq!(s["workflow"]["name"], "Example KYC");

    // Submit ONBOARDING: moves to PERSONAL_DETAILS; the client is rendered in English
    // (en falls back to en-us) with absolute asset URLs.
    let r = srv
        .submit(&auth, &id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 200);
    let step: Value = r.json().await.unwrap();
    assert_eq!(step["id"], "PERSONAL_DETAILS");
    assert_eq!(step["type"], "DATA");
    assert_eq!(step["final"], false);
    assert_eq!(step["client"]["templateId"], "FORM");
    assert_eq!(
        step["client"]["templateLayout"]["title"]["text"],
        "Tell us about yourself"
    );
    assert_eq!(
        step["client"]["templateLayout"]["image"]["imageURL"],
        format!("{}/api/v1/assets/kycForm/content", srv.url)
    );

    // Fetch exactly as the Regula docs show.
    let r = srv
        .get(&format!("/api/sessions/{id}"))
        .header("accept", "application/json")
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["currentStep"], "PERSONAL_DETAILS");
    assert_eq!(s["properties"]["CONTINUE"], true);
    assert_eq!(s["steps"][0]["id"], "ONBOARDING", "{s}");
    assert_eq!(s["steps"][0]["attempt"], 1);
    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f["name"], "continue_answer");
    assert_eq!(f["step"], "ONBOARDING");
    assert_eq!(f["contentType"], "application/json");
    let url = f["url"].as_str().unwrap();
    assert!(url.starts_with(&srv.url), "{url}");

    // The file downloads with the same credentials: the exact bytes sent.
    let r = srv
        .client
        .get(url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", f["sha256"].as_str().unwrap()));
    assert_eq!(r.headers()["content-type"], "application/json");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..], br#"{"continue":true}"#);
    assert_eq!(bytes.len() as u64, f["size"].as_u64().unwrap());
    let r = srv
        .client
        .get(url)
        .header("authorization", &auth)
        .header("range", "bytes=1-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 1-10/{}", bytes.len())
    );
    assert_eq!(&r.bytes().await.unwrap()[..], &bytes[1..11]);
    let r = srv
        .client
        .get(url)
        .header("authorization", &auth)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // Another step than the current one: 409.
    let r = srv
        .submit(&auth, &id, "ONBOARDING", json!({"continue": true}))
        .await;
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (409, "step_not_current"));

    // A second session aborts: ABORT is final, status not completed; the session has ended.
    let s2 = srv.start_session(&key, json!({})).await;
    let id2 = s2["id"].as_str().unwrap();
    assert_eq!(s2["locale"], "en-us", "no locale: the workflow default");
    let r = srv
        .submit(&auth, id2, "ONBOARDING", json!({"continue": false}))
        .await;
    let step: Value = r.json().await.unwrap();
    assert_eq!(step["id"], "ABORT");
    assert_eq!(step["final"], true);
    let r = srv
        .submit(&auth, id2, "ABORT", json!({"continue": true}))
        .await;
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (409, "session_ended"));
    let s2: Value = srv.session(&auth, id2).await;
    assert_eq!(s2["status"], 0);
    assert_eq!(s2["currentStep"], "ABORT");

    srv.stop().await;
}

#[tokio::test]
async fn kyc_story_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn kyc_story_on_postgres() {
    story(Backend::Postgres).await;
}

async fn uploads(backend: Backend) {
    let srv = TestServer::start_with(backend, |c| {
        c.services.api.max_body_size = idv_server::config::ByteSize(4 << 20)
    })
    .await;
    srv.load_kyc().await;
    let key = srv.key(&["session:read", "session:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({})).await;
    let id = s["id"].as_str().unwrap();

    // Multipart: a part named after a binary property fills it; the name is made safe.
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let form = reqwest::multipart::Form::new().part(
        "DOCUMENT_FRONT",
        reqwest::multipart::Part::bytes(photo.clone())
            .file_name("../../etc/passport.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = srv
        .post(&format!("/api/sessions/{id}/step/ONBOARDING?type=file"))
        .header("authorization", &auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up: Value = r.json().await.unwrap();
    let f = &up["files"][0];
    assert_eq!(f["name"], "passport.jpg");
    assert_eq!(f["size"], photo.len());
    assert_eq!(f["contentType"], "image/jpeg");
    use sha2::Digest;
    assert_eq!(f["sha256"], hex::encode(sha2::Sha256::digest(&photo)));
    // Nothing was written outside the files folder under the client's name.
    assert!(!srv.dir.path().join("etc").exists());

    // A raw body with its content type, pointed at a property by ?property=.
    let selfie = vec![7u8; 1024];
    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/ONBOARDING?type=file&property=SELFIE&name=selfie.png"
        ))
        .header("authorization", &auth)
        .header("content-type", "image/png")
        .body(selfie.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let s: Value = srv.session(&auth, id).await;
    assert_eq!(s["files"].as_array().unwrap().len(), 2);
    let doc_url = s["properties"]["DOCUMENT_FRONT"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let body = srv
        .client
        .get(&doc_url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], &photo[..]);
    let selfie_url = s["properties"]["SELFIE"]["url"].as_str().unwrap();
    let r = srv
        .client
        .get(selfie_url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["content-length"], "1024");

    // A non-binary property cannot hold a file; an upload over the limit is refused and leaves
    // no file behind.
    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/ONBOARDING?type=file&property=AGE"
        ))
        .header("authorization", &auth)
        .header("content-type", "image/png")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_request");
    let r = srv
        .post(&format!("/api/sessions/{id}/step/ONBOARDING?type=file"))
        .header("authorization", &auth)
        .header("content-type", "video/mp4")
        .body(vec![0u8; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let after: Value = srv.session(&auth, id).await;
    assert_eq!(after["files"], s["files"]);
    assert_eq!(after["properties"], s["properties"]);
    srv.stop().await;
}

#[tokio::test]
async fn uploads_stream_to_storage_on_sqlite() {
    uploads(Backend::Sqlite).await;
}

#[tokio::test]
async fn uploads_stream_to_storage_on_postgres() {
    uploads(Backend::Postgres).await;
}

#[tokio::test]
async fn own_sessions_only_without_all_scope() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_kyc().await;
    let a = srv.key(&["session:read", "session:write"]).await;
    let b = srv.key(&["session:read", "session:write"]).await;
    let all = srv.key(&["session_all:read"]).await;
    let s = srv.start_session(&a, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let get = |k: &str| {
        srv.get(&format!("/api/sessions/{id}"))
            .header("authorization", format!("ApiKey {k}"))
            .send()
    };
    assert_eq!(get(&a).await.unwrap().status(), 200);
    let (st, code, _) = error_of(get(&b).await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    assert_eq!(get(&all).await.unwrap().status(), 200);
    // And B cannot submit to A's session either.
    let r = srv
        .submit(
            &format!("ApiKey {b}"),
            id,
            "ONBOARDING",
            json!({"continue": true}),
        )
        .await;
    assert_eq!(r.status(), 404);
    srv.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.services.api.max_body_size = idv_server::config::ByteSize(64 * 1024)
    })
    .await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let step_url = format!("/api/sessions/{id}/step/ONBOARDING?type=data");
    let before: Value = srv.session(&auth, id).await;

    // Malformed JSON: 400 that says where.
    let r = srv
        .post(&step_url)
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body("{\"continue\": tru")
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (400, "malformed_json"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{body}"
    );

    // Schema violations: 422 listing them.
    let r = srv
        .post(&step_url)
        .header("authorization", &auth)
        .json(&json!({"continue": "yes"}))
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (422, "schema_violation"));
    assert!(
        body["error"]["details"][0]["path"]
            .as_str()
            .unwrap()
            .contains("continue"),
        "{body}"
    );
    let r = srv
        .post(&step_url)
        .header("authorization", &auth)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (st, _, body) = error_of(r).await;
    assert_eq!(st, 422);
    assert!(
        body["error"]["details"].to_string().contains("continue"),
        "{body}"
    );

    // Wrong content type: 415. Oversize: 413. Accept excluding JSON: 406.
    let r = srv
        .post(&step_url)
        .header("authorization", &auth)
        .header("content-type", "text/plain")
        .body("{\"continue\": true}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 415);
    let big = json!({"continue": true, "pad": "x".repeat(100 * 1024)});
    let r = srv
        .post(&step_url)
        .header("authorization", &auth)
        .json(&big)
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (413, "payload_too_large"));
    let r = srv
        .get(&format!("/api/sessions/{id}"))
        .header("authorization", &auth)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (406, "not_acceptable"));
    for accept in [
        "*/*",
        "application/json",
        "text/html, application/json;q=0.9",
    ] {
        let r = srv
            .get(&format!("/api/sessions/{id}"))
            .header("authorization", &auth)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{accept}");
    }

    // Unknown workflow, session, step: 404 with distinct codes.
    let r = srv
        .post("/api/sessions?workflowId=00000000-0000-0000-0000-000000000000")
        .header("authorization", &auth)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "workflow_not_found");
    let r = srv
        .get("/api/sessions/0123456789abcdef01234567")
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    let r = srv
        .submit(&auth, id, "NOPE", json!({"continue": true}))
        .await;
    assert_eq!(error_of(r).await.1, "step_not_found");
    let r = srv
        .post(&format!("/api/sessions?workflowId={KYC_ID}"))
        .header("authorization", &auth)
        .json(&json!({"metadata": "not an object"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 400);
    let r = srv
        .post(&format!("/api/sessions?workflowId={KYC_ID}"))
        .header("authorization", &auth)
        .json(&json!({"locale": "<script>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_locale");

    // After all of that, the session is exactly as it was.
    let after: Value = srv.session(&auth, id).await;
    assert_eq!(before, after);
    srv.stop().await;
}

async fn concurrent_submissions(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let s = srv.start_session(&key, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = srv.client.clone();
        let url = format!("{}/api/sessions/{id}/step/ONBOARDING?type=data", srv.url);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"continue": i % 2 == 0});
            let r = client
                .post(url)
                .header("authorization", format!("ApiKey {key}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            409 => assert!(
                ["step_not_current", "session_conflict", "session_ended"]
                    .contains(&body["error"]["code"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one submission moves the session");
    let s: Value = srv
        .get(&format!("/api/sessions/{id}"))
        .header("authorization", format!("ApiKey {key}"))
        .send_json()
        .await;
    assert_eq!(s["steps"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(
        s["files"].as_array().unwrap().len(),
        1,
        "only the winner's data is recorded: {s}"
    );
    // Step data is small: it lives in the file's row, so nothing reached file storage.
    assert!(
        !srv.data_dir().join("sessions").join(&id).exists(),
        "no stray bytes in file storage"
    );
    let file_url = s["files"][0]["url"].as_str().unwrap();
    let stored = srv
        .client
        .get(file_url)
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let winner: Value = stored.json().await.unwrap();
    assert!(winner["continue"].is_boolean());
    srv.stop().await;
}

#[tokio::test]
async fn concurrent_submissions_one_wins_on_sqlite() {
    concurrent_submissions(Backend::Sqlite).await;
}

#[tokio::test]
async fn concurrent_submissions_one_wins_on_postgres() {
    concurrent_submissions(Backend::Postgres).await;
}

#[tokio::test]
async fn storage_failure_leaves_no_row_and_no_change() {
    let srv = TestServer::start(Backend::Sqlite).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let before: Value = srv.session(&auth, id).await;
    // Make the session's storage folder impossible to create: a plain file stands in its place.
    std::fs::create_dir_all(srv.data_dir().join("sessions")).unwrap();
    std::fs::write(srv.data_dir().join("sessions").join(id), b"in the way").unwrap();

    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/ONBOARDING?type=file&property=DOCUMENT_FRONT"
        ))
        .header("authorization", &auth)
        .header("content-type", "image/jpeg")
        .body(vec![9u8; 2048])
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (503, "storage_unavailable"), "{body}");
    assert!(
        !body.to_string().contains("in the way"),
        "no internals leak: {body}"
    );
    // No file row points at missing bytes, and the session did not move.
    let after: Value = srv.session(&auth, id).await;
    assert_eq!(before, after);
    // Step data is small and kept in the database: it goes through even now.
    let r = srv
        .submit(&auth, id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 200);
    srv.stop().await;
}
