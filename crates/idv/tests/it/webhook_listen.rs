//! `idv webhook listen` with the built binary: a real `idv serve`, sessions driven through its
//! API, and the listener forwarding their events to a local receiver that checks every request
//! with the independent `standardwebhooks` crate. Events of a session arrive in order; when the
//! server restarts the listener reconnects with `Last-Event-ID` and loses or repeats nothing;
//! Ctrl-C stops it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_idv");
/// The project's example KYC workflow.
const KYC: &str = include_str!("../../../../examples/kyc/workflow.yaml");
const KYC_ID: &str = crate::support::KYC_ID;
const ADMIN_PASSWORD: &str = "listen-test-password";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const PATIENCE: Duration = Duration::from_secs(60);

/// A process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.0.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the process to exit; its exit status.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let give_up = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < give_up, "the process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The lines a child writes to a pipe, read on a thread of their own.
fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line that contains `needle` (others are skipped).
fn line_with(rx: &Receiver<String>, needle: &str) -> String {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no line with `{needle}`"));
        if line.contains(needle) {
            return line;
        }
    }
}

/// `idv serve` on `port` with its database and files in `dir`.
fn serve(dir: &Path, port: u16) -> (Proc, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .env(
            "IDV_CONFIG__DATABASE__URL",
            format!("sqlite://{}", dir.join("idv.db").display()),
        )
        .env(
            "IDV_CONFIG__STORAGE__FS__PATH",
            dir.join("data").display().to_string(),
        )
        .env("IDV_CONFIG__SERVICES__API__HOST", "127.0.0.1")
        .env("IDV_CONFIG__SERVICES__API__PORT", port.to_string())
        .env("IDV_CONFIG__RATELIMIT__ENABLED", "false")
        .env("IDV_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    let line = line_with(&out, "idv listening on ");
    let url = line
        .trim()
        .strip_prefix("idv listening on ")
        .unwrap()
        .to_owned();
    std::thread::spawn(move || for _ in out {});
    (Proc(child), url)
}

/// What the receiver got: per request, whether `standardwebhooks` accepted it with the secret
/// (and refused it with another), its `webhook-id` and its body.
#[derive(Default)]
struct Received {
    requests: Mutex<Vec<(bool, String, Value)>>,
}

async fn hook(State(r): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let good = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&body, &headers)
        .is_ok();
    let forged = standardwebhooks::Webhook::new(OTHER_SECRET)
        .unwrap()
        .verify(&body, &headers)
        .is_ok();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.requests.lock().unwrap().push((good && !forged, id, body));
    if good {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn receiver() -> (Arc<Received>, String) {
    let received = Arc::new(Received::default());
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

struct Api {
    client: reqwest::Client,
    url: String,
    auth: String,
}

impl Api {
    async fn start_session(&self) -> String {
        let r = self
            .client
            .post(format!("{}/api/sessions?workflowId={KYC_ID}", self.url))
            .header("authorization", &self.auth)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn onboarding(&self, id: &str, consent: bool) {
        let r = self
            .client
            .post(format!(
                "{}/api/sessions/{id}/step/ONBOARDING?type=data",
                self.url
            ))
            .header("authorization", &self.auth)
            .json(&json!({"continue": consent}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn approve(&self, id: &str) {
        let r = self
            .client
            .patch(format!("{}/api/sessions/{id}", self.url))
            .header("authorization", &self.auth)
            .json(&json!({"status": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// The received requests once there are `n`.
async fn received(r: &Received, n: usize) -> Vec<(bool, String, Value)> {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let got = r.requests.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < give_up,
            "{} of {n} requests arrived",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn types_of(got: &[(bool, String, Value)], session: &str) -> Vec<String> {
    got.iter()
        .filter(|(_, _, b)| b["data"]["sessionId"] == session)
        .map(|(_, _, b)| b["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_forwards_signed_events_in_order_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A port of our own, so the restarted server is found at the same address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut server, url) = serve(dir.path(), port);
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{url}/api/workflows"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("content-type", "application/yaml")
        .body(KYC)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{url}/api/apikey"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({"name": "listen", "permissions": [
            "session_all:read", "session_all:write", "session_all_patch:write",
            "session_all:subscribe"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let key = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = Api {
        client: client.clone(),
        url: url.clone(),
        auth: format!("ApiKey {key}"),
    };
    let (got, hook_url) = receiver().await;

    // What the server refuses stops the listener with the server's reason: a key that may not
    // subscribe, an unknown event type.
    let r = client
        .post(format!("{url}/api/apikey"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({"name": "reader", "permissions": ["session_all:read"]}))
        .send()
        .await
        .unwrap();
    let reader = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (auth, events, expect) in [
        (&reader, "session.created", "403"),
        (&key, "session.created,session.exploded", "session.exploded"),
    ] {
        let out = Command::new(BIN)
            .args(["webhook", "listen", "--server", &url, "--api-key", auth])
            .args([
                "--events",
                events,
                "--secret",
                SECRET,
                "--forward-to",
                &hook_url,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("refused the event stream") && err.contains(expect),
            "{err}"
        );
    }
    // Basic credentials are sent as such (a wrong password, not missing credentials).
    let out = Command::new(BIN)
        .args(["webhook", "listen", "--server", &url, "--user", "admin"])
        .args(["--password", "wrong", "--forward-to", &hook_url])
        .env("IDV_API_KEY", &key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("401") && err.contains("invalid_credentials"),
        "{err}"
    );
    assert!(err.contains("Signing with the secret whsec_"), "{err}");

    let mut child = Command::new(BIN)
        .args([
            "webhook",
            "listen",
            "--server",
            &url,
            "--secret",
            SECRET,
            "--forward-to",
            &hook_url,
        ])
        .env("IDV_API_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut listener = Proc(child);
    line_with(&stderr, "Listening for events");

    // Two sessions: one approved after ONBOARDING, one that declines and ends.
    let s1 = api.start_session().await;
    let s2 = api.start_session().await;
    api.onboarding(&s1, true).await;
    api.onboarding(&s2, false).await;
    api.approve(&s1).await;
    let first = received(&got, 6).await;
    assert_eq!(
        types_of(&first, &s1),
        [
            "session.created",
            "session.step_completed",
            "session.status_changed"
        ]
    );
    assert_eq!(
        types_of(&first, &s2),
        [
            "session.created",
            "session.step_completed",
            "session.completed"
        ]
    );
    for (verified, id, body) in &first {
        assert!(verified, "signed with the secret given: {body}");
        assert_eq!(body["id"], json!(id), "webhook-id is the event id");
    }
    for s in [&s1, &s2] {
        let seqs: Vec<i64> = first
            .iter()
            .filter(|(_, _, b)| b["data"]["sessionId"] == **s)
            .map(|(_, _, b)| b["sequence"].as_i64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    // One line per event: `<time> <type> <event id> → <status> (<ms> ms)`.
    for (_, id, body) in &first {
        let line = line_with(&stdout, id);
        let kind = body["type"].as_str().unwrap();
        assert!(
            line.contains(&format!(" {kind} {id} → 204 (")) && line.ends_with(" ms)"),
            "{line}"
        );
    }

    // The server restarts (a graceful stop ends the stream); events made right after it is
    // back reach the receiver once, after the earlier ones.
    server.signal("TERM");
    assert!(
        server.wait_exit().success(),
        "serve stops with a stream open"
    );
    line_with(&stderr, "The event stream dropped");
    let (restarted, url2) = serve(dir.path(), port);
    assert_eq!(url2, url);
    let _server = restarted;
    let s3 = api.start_session().await;
    api.onboarding(&s3, true).await;
    let all = received(&got, 8).await;
    assert_eq!(
        types_of(&all, &s3),
        ["session.created", "session.step_completed"]
    );
    let mut ids: Vec<&String> = all.iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids.len(), 8);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no event forwarded twice");
    assert!(all.iter().all(|(v, _, _)| *v));

    // Ctrl-C stops it.
    listener.signal("INT");
    assert!(listener.wait_exit().success());
}

#[test]
fn listen_refuses_what_cannot_work() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["webhook", "listen"])
            .args(args)
            .env_remove("IDV_API_KEY")
            .env_remove("IDV_SERVER")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&["--forward-to", "http://127.0.0.1:9/hook"]);
    assert!(!ok && err.contains("--api-key"), "{err}");
    let (ok, err) = run(&["--forward-to", "mailto:x@y", "--api-key", "k"]);
    assert!(!ok && err.contains("--forward-to"), "{err}");
    let (ok, err) = run(&[
        "--forward-to",
        "http://127.0.0.1:9/hook",
        "--api-key",
        "k",
        "--secret",
        "whsec_!!!",
    ]);
    assert!(!ok && err.contains("--secret"), "{err}");
}
