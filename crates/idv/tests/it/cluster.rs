//! Two `idv serve` processes on one PostgreSQL database and one object store (a bucket of the
//! S3-compatible test server, `IDV_TEST_S3_URL`) behave as one: a
//! change made through one (an API key revoked, a password changed, a user deactivated, a
//! workflow replaced or deleted) applies in the other on its very next request, and an instance
//! whose signal connection was cut drops what it cached; a session started through
//! one continues through the other, and webhooks and the other's live event stream deliver its
//! events; the scheduler's jobs run in the one instance that leads, and when that instance is
//! killed the other takes over within seconds.

use crate::receiver;
use crate::support;

use receiver::{Receiver, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::{PgDatabase, Serve};

/// The log line of the instance that takes the scheduler's leadership.
const LEADS: &str = "scheduler: this instance leads";
/// The log line of a run of `expireSessions` that ended a lifetime.
const EXPIRED_BY_JOB: &str = "expireSessions: lifetimes ended";

/// A workflow whose sessions live two seconds: `expireSessions` ends them.
const SHORT_ID: &str = "6a0f7f20-0003-11ef-8000-00000000c105";
const SHORT_WORKFLOW: &str = r#"
id: 6a0f7f20-0003-11ef-8000-00000000c105
name: Short life
version: "1"
lifetime: 2
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

/// One instance: every instance of a test shares `database` and the object store's `bucket`
/// (the storage configuration is here, once: Regula's keys, as a deployment sets them);
/// `log` names its own log file under `dir`. The scheduler's `expireSessions` runs every
/// second; webhooks may go to the receiver on 127.0.0.1.
fn instance(dir: &Path, database: &str, bucket: &str, log: &str) -> Serve {
    let endpoint = support::s3_url();
    let mut env = vec![
        ("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true"),
        ("IDV_CONFIG__SERVICES__WEBHOOKS__RETRYBASE", "100"),
        ("IDV_LOG", "info,idv_server::cluster=trace"),
        (
            "IDV_CONFIG__SERVICES__SCHEDULER__JOBS__EXPIRESESSIONS__CRON",
            "* * * * * *",
        ),
        // Every instance needs the same key for the database's secrets.
        (
            "IDV_CONFIG__FERNETKEY",
            "z82-gpAZjBkCmwE8GJjB-Lt5kJZi9ARAI2uXTRGtEfQ=",
        ),
        ("IDV_CONFIG__STORAGE__TYPE", "s3"),
        ("IDV_CONFIG__STORAGE__S3__ENDPOINT", endpoint.as_str()),
        ("IDV_CONFIG__STORAGE__S3__SECURE", "false"),
        ("IDV_CONFIG__STORAGE__S3__ACCESSKEY", "test-access"),
        ("IDV_CONFIG__STORAGE__S3__ACCESSSECRET", "test-secret"),
        ("IDV_CONFIG__STORAGE__S3__REGION", "us-east-1"),
    ];
    let locations = [
        "IDV_CONFIG__STORAGE__SESSIONS__LOCATION__BUCKET",
        "IDV_CONFIG__STORAGE__ASSETS__LOCATION__BUCKET",
        "IDV_CONFIG__STORAGE__WORKFLOWS__LOCATION__BUCKET",
        "IDV_CONFIG__STORAGE__LOCALES__LOCATION__BUCKET",
    ];
    env.extend(locations.iter().map(|k| (*k, bucket)));
    // Each instance its own folder: nothing is shared but the database and the bucket.
    let own = dir.join(log.trim_end_matches(".log"));
    std::fs::create_dir_all(&own).unwrap();
    support::serve(&own, database, log, &env)
}

impl Serve {
    /// A JSON answer as `admin`; panics unless 2xx.
    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.req(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// `GET path` with `authorization`: the status and the error code, if any.
    async fn status_as(&self, path: &str, authorization: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let code = v["error"]["code"].as_str().unwrap_or_default().to_owned();
        (status, code)
    }

    fn logged(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(text))
    }

    async fn begin(&self, workflow: &str) -> String {
        let path = format!("/api/sessions?workflowId={workflow}");
        let s = self.api(Method::POST, &path, Some(json!({}))).await;
        s["id"].as_str().unwrap().to_owned()
    }

    /// Whether an event of `kind` for `session` is listed (reading events never applies a
    /// session's lifetime: only the scheduler's job does, unless the session itself is read).
    async fn listed_event(&self, kind: &str, session: &str) -> bool {
        let page = self
            .api(
                Method::GET,
                &format!("/api/events?type={kind}&limit=1000"),
                None,
            )
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["data"]["sessionId"] == session)
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Two instances, started one after the other (the first creates the schema and the admin).
async fn two(dir: &Path, database: &str) -> (Serve, Serve) {
    let bucket = support::s3_bucket("idv-cluster").await;
    let a = instance(dir, database, &bucket, "a.log");
    a.ready().await;
    let b = instance(dir, database, &bucket, "b.log");
    b.ready().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_through_one_instance_apply_in_the_other_at_once_and_sessions_move_between_them() {
    let db = PgDatabase::create("idv_cluster").await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(dir.path(), &db.url).await;

    // An API key, used through B (so B has it cached), revoked through A.
    let key = a
        .api(
            Method::POST,
            "/api/apikey",
            Some(json!({"name": "cluster", "permissions": ["workflow:read"]})),
        )
        .await;
    let token = format!("ApiKey {}", key["token"].as_str().unwrap());
    for _ in 0..2 {
        assert_eq!(b.status_as("/api/workflows", &token).await.0, 200);
    }
    let key_id = key["id"].as_str().unwrap();
    a.api(Method::DELETE, &format!("/api/apikey/{key_id}"), None)
        .await;
    assert_eq!(
        b.status_as("/api/workflows", &token).await,
        (401, "revoked_credentials".to_owned()),
        "B refuses a key revoked through A on its next request; A's log:\n{}\nB's log:\n{}",
        a.log_text(),
        b.log_text()
    );

    // A user signed in through B with Basic (B remembers the login), changed through A.
    let user = a
        .api(
            Method::POST,
            "/api/security/users",
            Some(json!({"name": "carol", "password": "first password 1", "roles": ["admin"]})),
        )
        .await;
    let user_id = user["id"].as_str().unwrap();
    let first = basic("carol", "first password 1");
    for _ in 0..2 {
        assert_eq!(b.status_as("/api/workflows", &first).await.0, 200);
    }
    a.api(
        Method::PATCH,
        &format!("/api/security/users/{user_id}"),
        Some(json!({"password": "second password 2"})),
    )
    .await;
    assert_eq!(
        b.status_as("/api/workflows", &first).await,
        (401, "invalid_credentials".to_owned()),
        "B refuses a password changed through A on its next request; A's log:\n{}\nB's log:\n{}",
        a.log_text(),
        b.log_text()
    );
    let second = basic("carol", "second password 2");
    assert_eq!(b.status_as("/api/workflows", &second).await.0, 200);
    a.api(
        Method::PATCH,
        &format!("/api/security/users/{user_id}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(
        b.status_as("/api/workflows", &second).await.0,
        401,
        "B refuses a user deactivated through A on its next request; A's log:\n{}\nB's log:\n{}",
        a.log_text(),
        b.log_text()
    );

    // A workflow B has started sessions of, replaced through A (a new revision), then deleted
    // through A.
    a.load_workflow(support::FORM_WORKFLOW).await;
    let start = format!("/api/sessions?workflowId={}", support::FORM_WORKFLOW_ID);
    for _ in 0..2 {
        let s = b.api(Method::POST, &start, Some(json!({}))).await;
        assert_eq!(s["workflow"]["version"], "1", "{s}");
    }
    a.load_workflow(&support::FORM_WORKFLOW.replace("version: \"1\"", "version: \"2\""))
        .await;
    let s = b.api(Method::POST, &start, Some(json!({}))).await;
    assert_eq!(
        s["workflow"]["version"], "2",
        "B starts the revision A stored, on its next request: {s}"
    );
    a.api(
        Method::DELETE,
        &format!("/api/workflows/{}", support::FORM_WORKFLOW_ID),
        None,
    )
    .await;
    let r = b
        .req(
            Method::POST,
            &format!("/api/sessions?workflowId={}", support::FORM_WORKFLOW_ID),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "B starts no session of a workflow deleted through A: {}\nA's log:\n{}\nB's log:\n{}",
        r.text().await.unwrap(),
        a.log_text(),
        b.log_text()
    );

    // A session started through A continues through B; a webhook made through A and B's live
    // event stream deliver its events.
    a.load_workflow(support::FORM_WORKFLOW).await;
    let rx = Receiver::start().await;
    let hook = a
        .api(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": rx.url(), "events": ["*"]})),
        )
        .await;
    rx.set_secret(hook["secret"].as_str().unwrap());
    let streamed = Arc::new(Mutex::new(String::new()));
    let mut stream = b
        .req(Method::GET, "/api/events/stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let reader = {
        let streamed = streamed.clone();
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = stream.chunk().await {
                streamed
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        })
    };
    let id = a.begin(support::FORM_WORKFLOW_ID).await;
    // A file uploaded through A (to the object store) downloads through B, byte for byte.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = a
        .req(
            Method::POST,
            &format!("/api/sessions/{id}/step/FORM?type=file&name=scan.bin"),
        )
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let listed = b
        .api(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    let file = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "scan.bin")
        .unwrap_or_else(|| panic!("no scan.bin in {listed}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = b
        .req(Method::GET, &format!("/api/sessions/{id}/files/{file}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got[..] == bytes[..], "B reads the bytes A stored");
    b.api(
        Method::POST,
        &format!("/api/sessions/{id}/step/FORM?type=data"),
        Some(json!({"name": "x"})),
    )
    .await;
    let read = a
        .api(Method::GET, &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(read["currentStep"], "DONE", "A reads what B did: {read}");
    wait_for(
        60,
        "the webhook to receive the session's events",
        || async {
            let kinds: Vec<String> = rx
                .accepted()
                .iter()
                .filter(|h| h.session_id.as_deref() == Some(id.as_str()))
                .map(|h| h.kind.clone())
                .collect();
            ["session.created", "session.completed"]
                .iter()
                .all(|k| kinds.iter().any(|got| got == k))
        },
    )
    .await;
    wait_for(
        60,
        "B's event stream to carry the session's events",
        || async {
            let text = streamed.lock().unwrap().clone();
            text.contains(&id)
                && text.contains("event: session.created")
                && text.contains("event: session.completed")
        },
    )
    .await;
    reader.abort();
    drop((a, b));
    db.drop_now().await;
}

/// The log line of a listener that lost its connection and listens again.
const GAP: &str = "signals: the connection to the database was lost and is back";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_whose_signal_connection_was_cut_drops_what_it_cached() {
    use sqlx::Connection;
    let db = PgDatabase::create("idv_cluster").await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(dir.path(), &db.url).await;
    a.api(
        Method::POST,
        "/api/security/users",
        Some(json!({"name": "dave", "password": "dave's password", "roles": ["admin"]})),
    )
    .await;
    let dave = basic("dave", "dave's password");
    assert_eq!(b.status_as("/api/workflows", &dave).await.0, 200);
    // Deactivated behind the instances' backs: no signal, so B still knows dave as he was
    // (its login cache lasts 30 s).
    let mut sql = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE users SET active = false WHERE name = 'dave'")
        .execute(&mut sql)
        .await
        .unwrap();
    assert_eq!(b.status_as("/api/workflows", &dave).await.0, 200);
    // The listeners' connections end (as when the database restarts or the network fails):
    // signals may have been missed, so once listening again B drops every cache.
    let cut: Vec<i32> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name LIKE 'idv-signals %'",
    )
    .fetch_all(&mut sql)
    .await
    .unwrap();
    assert_eq!(cut.len(), 2, "one listener per instance");
    wait_for(60, "B to listen again", || async { b.logged(GAP) }).await;
    assert_eq!(
        b.status_as("/api/workflows", &dave).await.0,
        401,
        "B read dave again after its listener came back:\n{}",
        b.log_text()
    );
    drop((a, b));
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_scheduler_leader_is_replaced_within_seconds() {
    let db = PgDatabase::create("idv_cluster").await;
    let dir = tempfile::tempdir().unwrap();
    let (mut a, b) = two(dir.path(), &db.url).await;
    wait_for(60, "A to lead the scheduler", || async { a.logged(LEADS) }).await;
    a.load_workflow(SHORT_WORKFLOW).await;

    // While A leads, A's job ends lifetimes and B's never runs.
    let early = b.begin(SHORT_ID).await;
    wait_for(60, "the first session's lifetime to be ended", || async {
        b.listed_event("session.expired", &early).await
    })
    .await;
    // The job logs its line after the commit that recorded the event: it may come a moment
    // after the event is listed.
    wait_for(10, "A's log to show it ran the job", || async {
        a.logged(EXPIRED_BY_JOB)
    })
    .await;
    assert!(
        !b.logged(EXPIRED_BY_JOB) && !b.logged(LEADS),
        "B ran no scheduled job while A led:\n{}",
        b.log_text()
    );

    // A dies without a word; B takes over, and its job ends the next lifetime.
    a.kill();
    wait_for(30, "B to lead once A is gone", || async { b.logged(LEADS) }).await;
    let late = b.begin(SHORT_ID).await;
    wait_for(
        60,
        "B's job to end the second session's lifetime",
        || async { b.listed_event("session.expired", &late).await },
    )
    .await;
    wait_for(10, "B's log to show it ran the job", || async {
        b.logged(EXPIRED_BY_JOB)
    })
    .await;
    drop(b);
    db.drop_now().await;
}
