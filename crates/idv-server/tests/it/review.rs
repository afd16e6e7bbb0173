//! Review through HTTP: `PATCH /api/sessions/{id}` sets the status with a comment and the
//! legal hold, keeps a history, honours `If-Match` against the session's `ETag`, and checks
//! permissions (own versus all) and its input.

use crate::common;

use common::{Backend, KYC_ID, TestServer, error_of};
use serde_json::{Value, json};

struct Env {
    srv: TestServer,
    /// `session_all:read`, `session_all:write`: starts sessions, cannot review.
    writer: String,
    /// `session_all:read`, `session_all_patch:write`.
    reviewer: String,
}

async fn env(backend: Backend) -> Env {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let writer = format!(
        "ApiKey {}",
        srv.key(&["session_all:read", "session_all:write"]).await
    );
    let reviewer = format!(
        "ApiKey {}",
        srv.key(&["session_all:read", "session_all_patch:write"])
            .await
    );
    Env {
        srv,
        writer,
        reviewer,
    }
}

impl Env {
    async fn start_as(&self, auth: &str) -> String {
        let r = self
            .srv
            .post(&format!("/api/sessions?workflowId={KYC_ID}"))
            .header("authorization", auth)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn start(&self) -> String {
        self.start_as(&self.writer).await
    }

    /// The session and its `ETag`.
    async fn read(&self, id: &str) -> (Value, String) {
        let r = self
            .srv
            .get(&format!("/api/sessions/{id}"))
            .header("authorization", &self.writer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let etag = r
            .headers()
            .get("etag")
            .expect("GET answers an ETag")
            .to_str()
            .unwrap()
            .to_owned();
        (r.json().await.unwrap(), etag)
    }

    fn patch(&self, auth: &str, id: &str, body: Value) -> reqwest::RequestBuilder {
        self.srv
            .patch(&format!("/api/sessions/{id}"))
            .header("authorization", auth)
            .json(&body)
    }
}

async fn approve_and_reject_with_history(backend: Backend) {
    let e = env(backend).await;
    let id = e.start().await;
    let (before, etag0) = e.read(&id).await;
    assert_eq!(before["status"], 0);
    assert_eq!(before["history"], json!([]));
    assert_eq!(before["legalHold"], false);

    let r = e
        .patch(
            &e.reviewer,
            &id,
            json!({"status": 3, "comment": "document checked by hand"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag1 = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag1, etag0, "a review is a new revision");
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["status"], 3);
    let h = s["history"].as_array().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["from"], 0);
    assert_eq!(h[0]["to"], 3);
    assert_eq!(h[0]["comment"], "document checked by hand");
    assert_eq!(h[0]["by"]["kind"], "apikey");
    assert_eq!(h[0]["by"]["name"], "test");
    assert!(h[0]["by"]["id"].as_str().is_some_and(|i| i.len() == 24));
    assert!(h[0]["at"].as_str().unwrap().ends_with('Z'));

    // GET shows the same session and the same ETag.
    let (read, etag) = e.read(&id).await;
    assert_eq!(etag, etag1);
    assert_eq!(read["status"], 3);
    assert_eq!(read["history"], s["history"]);

    // Reject (1000) on second look, without a comment.
    let s: Value = e
        .patch(&e.reviewer, &id, json!({"status": 1000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["status"], 1000);
    let h = s["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((&h[1]["from"], &h[1]["to"]), (&json!(3), &json!(1000)));
    assert!(h[1].get("comment").is_none());

    // Operators review ended sessions too: ONBOARDING without consent ends in ABORT.
    let ended = e.start().await;
    let r = e
        .srv
        .submit(&e.writer, &ended, "ONBOARDING", json!({"continue": false}))
        .await;
    assert_eq!(r.status(), 200);
    let (s, _) = e.read(&ended).await;
    assert_eq!(s["currentStep"], "ABORT");
    let r = e
        .patch(
            &e.reviewer,
            &ended,
            json!({"status": 4, "comment": "call the customer"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = e.read(&ended).await;
    assert_eq!(s["status"], 4);
    assert_eq!(
        s["currentStep"], "ABORT",
        "a review does not move the session"
    );

    // The legal hold shows in the session and its change is in the history.
    let s: Value = e
        .patch(
            &e.reviewer,
            &id,
            json!({"legalHold": true, "comment": "litigation 42"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["legalHold"], true);
    assert_eq!(s["status"], 1000, "the status stays");
    let last = s["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["legalHold"], true);
    assert_eq!(last["comment"], "litigation 42");
    let s: Value = e
        .patch(&e.reviewer, &id, json!({"legalHold": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["legalHold"], false);
    assert_eq!(s["history"].as_array().unwrap().len(), 4);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_and_reject_with_history_sqlite() {
    approve_and_reject_with_history(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_and_reject_with_history_postgres() {
    approve_and_reject_with_history(Backend::Postgres).await;
}

async fn permissions_own_versus_all(backend: Backend) {
    let e = env(backend).await;
    let other = e.start().await;
    let own_key = format!(
        "ApiKey {}",
        e.srv
            .key(&["session:read", "session:write", "session_patch:write"])
            .await
    );
    let own = e.start_as(&own_key).await;

    // Neither patch permission: 403, whatever the session.
    for id in [&own, &other] {
        let r = e
            .patch(&e.writer, id, json!({"status": 3}))
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(r).await;
        assert_eq!((status, code.as_str()), (403, "forbidden"));
    }
    // session_patch:write reaches its own sessions only; others' look missing.
    let r = e
        .patch(&own_key, &own, json!({"status": 3, "comment": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = e
        .patch(&own_key, &other, json!({"status": 3}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (404, "session_not_found"));
    // The legal hold needs session_all_patch:write, even on an own session.
    let r = e
        .patch(&own_key, &own, json!({"legalHold": true}))
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legalHold")
    );
    // session_all_patch:write reaches every session.
    let r = e
        .patch(&e.reviewer, &other, json!({"status": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (s, _) = e.read(&other).await;
    assert_eq!(s["status"], 1000);
    assert_eq!(
        s["history"].as_array().unwrap().len(),
        1,
        "refusals left nothing"
    );
    let (s, _) = e.read(&own).await;
    assert_eq!((&s["status"], &s["legalHold"]), (&json!(3), &json!(false)));
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn permissions_own_versus_all_sqlite() {
    permissions_own_versus_all(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn permissions_own_versus_all_postgres() {
    permissions_own_versus_all(Backend::Postgres).await;
}

async fn bad_input_changes_nothing(backend: Backend) {
    let e = env(backend).await;
    let id = e.start().await;
    let (before, etag) = e.read(&id).await;
    for (body, status, code, names) in [
        (json!({"status": 5}), 400, "invalid_status", "`status`"),
        (
            json!({"status": "approved"}),
            400,
            "invalid_status",
            "`status`",
        ),
        (json!({"status": -1}), 400, "invalid_status", "`status`"),
        (
            json!({"status": 3, "state": "approved", "note": 1}),
            400,
            "invalid_request",
            "`state`, `note`",
        ),
        (
            json!({"status": 3, "comment": "x".repeat(2001)}),
            400,
            "invalid_request",
            "`comment`",
        ),
        (
            json!({"status": 3, "comment": ["a"]}),
            400,
            "invalid_request",
            "`comment`",
        ),
        (
            json!({"legalHold": 1}),
            400,
            "invalid_request",
            "`legalHold`",
        ),
        (
            json!({"comment": "no status"}),
            400,
            "invalid_request",
            "nothing to change",
        ),
        (json!({}), 400, "invalid_request", "nothing to change"),
    ] {
        let r = e
            .patch(&e.reviewer, &id, body.clone())
            .send()
            .await
            .unwrap();
        let (s, c, b) = error_of(r).await;
        assert_eq!((s, c.as_str()), (status, code), "{body}: {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{body}: {message}");
    }
    let r = e
        .srv
        .patch(&format!("/api/sessions/{id}"))
        .header("authorization", &e.reviewer)
        .header("content-type", "application/json")
        .body("{\"status\": 3,")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "malformed_json");
    for missing in ["0123456789abcdef01234567", "not-an-id"] {
        let r = e
            .patch(&e.reviewer, missing, json!({"status": 3}))
            .send()
            .await
            .unwrap();
        let (s, c, _) = error_of(r).await;
        assert_eq!((s, c.as_str()), (404, "session_not_found"), "{missing}");
    }
    let (after, etag_after) = e.read(&id).await;
    assert_eq!(after, before, "refused reviews change nothing");
    assert_eq!(etag_after, etag);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_changes_nothing_sqlite() {
    bad_input_changes_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_changes_nothing_postgres() {
    bad_input_changes_nothing(Backend::Postgres).await;
}

async fn if_match_and_concurrent_reviews(backend: Backend) {
    let e = env(backend).await;
    let id = e.start().await;
    let (before, etag) = e.read(&id).await;

    // A stale ETag: 412 and nothing changes.
    let r = e
        .patch(&e.reviewer, &id, json!({"status": 3}))
        .header("if-match", "\"999\"")
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (412, "precondition_failed"),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["etag"], etag);
    let (after, _) = e.read(&id).await;
    assert_eq!(after, before);
    // A weak tag never matches (If-Match compares strongly).
    let r = e
        .patch(&e.reviewer, &id, json!({"status": 3}))
        .header("if-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);

    // Several reviews sent with the same ETag: exactly one is applied.
    let sends = (0..6).map(|i| {
        let status = if i % 2 == 0 { 3 } else { 1000 };
        e.patch(
            &e.reviewer,
            &id,
            json!({"status": status, "comment": format!("reviewer {i}")}),
        )
        .header("if-match", etag.clone())
        .send()
    });
    let answers = futures::future::join_all(sends).await;
    let mut codes: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    codes.sort();
    assert_eq!(codes, [200, 412, 412, 412, 412, 412]);
    let (s, etag2) = e.read(&id).await;
    let h = s["history"].as_array().unwrap();
    assert_eq!(h.len(), 1, "one review won: {s}");
    assert_eq!(h[0]["to"], s["status"]);
    // The new ETag applies.
    let r = e
        .patch(&e.reviewer, &id, json!({"status": 2, "comment": "final"}))
        .header("if-match", etag2.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag2);

    // Without If-Match every review applies, each on the revision before it.
    let sends = (0..5).map(|i| {
        e.patch(
            &e.reviewer,
            &id,
            json!({"status": 4, "comment": format!("note {i}")}),
        )
        .send()
    });
    for r in futures::future::join_all(sends).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let (s, _) = e.read(&id).await;
    let h = s["history"].as_array().unwrap();
    assert_eq!(h.len(), 7);
    let mut notes: Vec<&str> = h[2..]
        .iter()
        .map(|e| e["comment"].as_str().unwrap())
        .collect();
    notes.sort();
    assert_eq!(notes, ["note 0", "note 1", "note 2", "note 3", "note 4"]);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_and_concurrent_reviews_sqlite() {
    if_match_and_concurrent_reviews(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_and_concurrent_reviews_postgres() {
    if_match_and_concurrent_reviews(Backend::Postgres).await;
}
