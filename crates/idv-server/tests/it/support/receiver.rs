//! A webhook receiver for the delivery tests: a real HTTP server on 127.0.0.1 that checks every
//! request with the independent `standardwebhooks` crate (and the `v1a` Ed25519 signature when
//! given the server's public key), records what arrived, and answers as the test tells it
//! (a status, a `Retry-After`, a delay). Shared by the server's and the binary's tests.

#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Answer {
            status,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }
}

/// One request that arrived and passed the signature checks.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The `webhook-id` header.
    pub webhook_id: String,
    pub kind: String,
    pub session_id: Option<String>,
    pub sequence: i64,
    pub body: Value,
    /// The exact bytes received.
    pub raw: Vec<u8>,
    /// Every request header, name (lower case) and value.
    pub headers: Vec<(String, String)>,
    /// The status it was (or is about to be) answered with.
    pub status: u16,
    /// Set once the handler has produced its answer (after any delay).
    pub answered: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Default)]
struct Shared {
    secret: Mutex<Option<String>>,
    public_key: Mutex<Option<String>>,
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    hits: Mutex<Vec<Hit>>,
    /// Why requests were refused (bad signature, wrong headers...).
    bad: Mutex<Vec<String>>,
    requests: AtomicUsize,
}

/// The receiver; it listens until dropped (or for the test's life).
#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Receiver {
    /// A receiver with a port chosen but nothing listening on it yet: calls are refused until
    /// [`Receiver::listen`].
    pub fn reserve() -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Receiver {
            port,
            shared: Arc::default(),
        }
    }

    /// A receiver listening now.
    pub async fn start() -> Receiver {
        let r = Receiver::reserve();
        r.listen().await;
        r
    }

    /// Starts listening on the reserved port.
    pub async fn listen(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(self.shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The endpoint's secret, which every request must be signed with.
    pub fn set_secret(&self, secret: &str) {
        *self.shared.secret.lock().unwrap() = Some(secret.to_owned());
    }

    /// The server's `whpk_` key: every request must then carry a valid `v1a` signature too.
    pub fn set_public_key(&self, key: &str) {
        *self.shared.public_key.lock().unwrap() = Some(key.to_owned());
    }

    /// How to answer from now on (after the scripted answers).
    pub fn answer(&self, a: Answer) {
        *self.shared.default.lock().unwrap() = Some(a);
    }

    /// Answers for the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// The hits answered with a 2xx.
    pub fn accepted(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| (200..300).contains(&h.status))
            .collect()
    }

    /// Requests refused by the checks, with why.
    pub fn bad(&self) -> Vec<String> {
        self.shared.bad.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

async fn hook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    match check(&s, &headers, &body) {
        Ok(mut hit) => {
            let answer = s
                .script
                .lock()
                .unwrap()
                .pop_front()
                .or_else(|| s.default.lock().unwrap().clone())
                .unwrap_or(Answer::status(200));
            hit.status = answer.status;
            let answered = hit.answered.clone();
            s.hits.lock().unwrap().push(hit);
            if !answer.delay.is_zero() {
                tokio::time::sleep(answer.delay).await;
            }
            answered.store(true, Ordering::SeqCst);
            let status = StatusCode::from_u16(answer.status).unwrap();
            let mut resp = (status, format!("answered {}", answer.status)).into_response();
            if let Some(ra) = answer.retry_after {
                resp.headers_mut()
                    .insert("retry-after", ra.parse().unwrap());
            }
            resp
        }
        Err(why) => {
            s.bad.lock().unwrap().push(why.clone());
            (StatusCode::BAD_REQUEST, why).into_response()
        }
    }
}

/// Checks a request as a careful receiver would; the hit it makes, or why it is refused.
fn check(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Hit, String> {
    let secret = s
        .secret
        .lock()
        .unwrap()
        .clone()
        .ok_or("a request came before the test knew the secret")?;
    standardwebhooks::Webhook::new(&secret)
        .map_err(|e| format!("bad secret: {e}"))?
        .verify(body, headers)
        .map_err(|e| format!("standardwebhooks refused the request: {e}"))?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let webhook_id = header("webhook-id");
    if let Some(key) = s.public_key.lock().unwrap().clone() {
        let ts: i64 = header("webhook-timestamp").parse().unwrap_or(0);
        if !idv_server::webhooks::sign::verify_v1a(
            &key,
            &webhook_id,
            ts,
            body,
            &header("webhook-signature"),
        ) {
            return Err("no valid v1a signature".into());
        }
    }
    if header("content-type") != "application/json" {
        return Err(format!("content-type {}", header("content-type")));
    }
    if !header("user-agent").starts_with("idv-webhooks/") {
        return Err(format!("user-agent {}", header("user-agent")));
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if json["id"] != webhook_id.as_str() {
        return Err(format!(
            "webhook-id {webhook_id} is not the body's id {}",
            json["id"]
        ));
    }
    Ok(Hit {
        webhook_id,
        kind: json["type"].as_str().unwrap_or_default().to_owned(),
        session_id: json["data"]["sessionId"].as_str().map(str::to_owned),
        sequence: json["sequence"].as_i64().unwrap_or(-1),
        body: json,
        raw: body.to_vec(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        status: 0,
        answered: Arc::default(),
    })
}

/// Polls `cond` every 25 ms until it holds or `secs` seconds pass (then panics with `what`).
pub async fn wait_for<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
