//! `idv webhook listen`: a developer tool that reads a server's live event stream
//! (`GET /api/events/stream`) and forwards every event to a local URL as a signed Standard
//! Webhooks request, so a receiver can be built and tested without a public address.
//!
//! Each event body is POSTed byte for byte as the stream carried it, with `webhook-id` (the
//! event's id), `webhook-timestamp` and `webhook-signature` (`v1`, HMAC-SHA256 with the
//! `--secret`, or one generated and printed once). Events go out one at a time in stream order,
//! so one session's events arrive in order; a forward that fails is reported, not retried. A
//! dropped stream is reopened with `Last-Event-ID`, waiting 1 s, then doubling up to 30 s.

use anyhow::{Context, Result, anyhow, bail};
use idv_core::time::Clock as _;
use idv_server::webhooks::sign;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, StatusCode, Url};
use std::time::{Duration, Instant};

/// The address `idv serve` listens on by default (`services.api.port`).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8000";
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The server sends a comment every 15 s; this long without a byte means the stream is dead
/// even if no connection error says so.
const IDLE_LIMIT: Duration = Duration::from_secs(45);
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args, Clone, Debug)]
pub struct ListenArgs {
    /// Where every event is POSTed, e.g. http://localhost:3000/hook.
    #[arg(long, value_name = "URL")]
    pub forward_to: String,
    /// The idv server whose events are read.
    #[arg(long, env = "IDV_SERVER", default_value = DEFAULT_SERVER, value_name = "URL")]
    pub server: String,
    /// An API key holding session_all:subscribe (every session) or session:subscribe (the
    /// sessions the key started); sent as `Authorization: ApiKey KEY`.
    #[arg(long, env = "IDV_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
    /// A user name (Basic authentication), used instead of an API key when given.
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// The password of --user.
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// Only these event types (comma-separated), e.g. session.completed,session.status_changed.
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub events: Vec<String>,
    /// The signing secret (whsec_…); without it one is generated and printed once.
    #[arg(long, value_name = "SECRET")]
    pub secret: Option<String>,
}

/// How to authenticate to the server.
#[derive(Clone)]
enum Credentials {
    ApiKey(String),
    Basic(String, String),
}

impl Credentials {
    fn apply(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credentials::ApiKey(k) => rb.header(AUTHORIZATION, format!("ApiKey {k}")),
            Credentials::Basic(u, p) => rb.basic_auth(u, Some(p)),
        }
    }
}

/// Why a stream could not be (re)opened.
enum OpenError {
    /// The server refused what we sent (credentials, permissions, filters): retrying cannot
    /// help.
    Fatal(anyhow::Error),
    /// The server is away or overloaded: try again later.
    Retry(String),
}

fn http_url(name: &str, text: &str) -> Result<Url> {
    let url = Url::parse(text).with_context(|| format!("{name} `{text}` is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("{name} `{text}` must be an http:// or https:// URL");
    }
    Ok(url)
}

/// The stream's URL with the type filter.
fn stream_url(server: &Url, events: &[String]) -> Result<Url> {
    let mut url = server
        .join("api/events/stream")
        .context("the server URL cannot take a path")?;
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if !types.is_empty() {
        url.query_pairs_mut().append_pair("type", &types.join(","));
    }
    Ok(url)
}

/// Reads the live stream and forwards every event until Ctrl-C.
pub async fn listen(args: ListenArgs) -> Result<()> {
    let forward = http_url("--forward-to", &args.forward_to)?;
    let mut server = http_url("--server", &args.server)?;
    // `join` replaces the last segment unless the path ends with a slash.
    if !server.path().ends_with('/') {
        server.set_path(&format!("{}/", server.path()));
    }
    let url = stream_url(&server, &args.events)?;
    // --user wins: IDV_API_KEY may be set in the environment for other tools.
    let credentials = match (&args.user, &args.password, &args.api_key) {
        (Some(u), Some(p), _) => Credentials::Basic(u.clone(), p.clone()),
        (_, _, Some(k)) => Credentials::ApiKey(k.clone()),
        _ => bail!(
            "give credentials that may subscribe to session events: --api-key KEY (or IDV_API_KEY) or --user NAME --password PASSWORD"
        ),
    };
    let secret = match &args.secret {
        Some(s) => s.clone(),
        None => {
            let s = sign::new_secret();
            eprintln!("Signing with the secret {s} (pass --secret to choose one)");
            s
        }
    };
    let key = sign::secret_key(&secret).map_err(|e| anyhow!("--secret: {e}"))?;
    let stream_client = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let forward_client = Client::builder().timeout(FORWARD_TIMEOUT).build()?;
    let forwarder = Forwarder {
        client: forward_client,
        url: forward,
        key,
    };
    tokio::select! {
        r = run(&stream_client, &url, &credentials, &forwarder) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Stopped.");
            Ok(())
        }
    }
}

async fn run(
    client: &Client,
    url: &Url,
    credentials: &Credentials,
    forwarder: &Forwarder,
) -> Result<()> {
    let mut last_id: Option<String> = None;
    let mut backoff = BACKOFF_FIRST;
    let mut announced = false;
    loop {
        let why = match open(client, url, credentials, last_id.as_deref()).await {
            Ok(resp) => {
                if !announced {
                    eprintln!(
                        "Listening for events at {url}, forwarding to {}",
                        forwarder.url
                    );
                    announced = true;
                }
                backoff = BACKOFF_FIRST;
                read(resp, forwarder, &mut last_id).await
            }
            Err(OpenError::Fatal(e)) => return Err(e),
            Err(OpenError::Retry(why)) => why,
        };
        eprintln!(
            "The event stream dropped ({why}); reconnecting in {} s",
            backoff.as_secs()
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn open(
    client: &Client,
    url: &Url,
    credentials: &Credentials,
    last_id: Option<&str>,
) -> Result<reqwest::Response, OpenError> {
    let mut rb = credentials.apply(
        client
            .get(url.clone())
            .header("accept", "text/event-stream"),
    );
    if let Some(id) = last_id {
        rb = rb.header("last-event-id", id);
    }
    let resp = rb
        .send()
        .await
        .map_err(|e| OpenError::Retry(error_chain(&e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    // The server's errors are {"error": {"code", "message"}}; show those when present.
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            Some(format!(
                "{}: {}",
                e.get("code")?.as_str()?,
                e.get("message")?.as_str()?
            ))
        })
        .unwrap_or(body);
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return Err(OpenError::Retry(format!("{status}: {detail}")));
    }
    Err(OpenError::Fatal(anyhow!(
        "the server refused the event stream: {status}: {detail}"
    )))
}

/// A reqwest error with its causes, which name the actual problem (connection refused …).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One Server-Sent Event as received.
#[derive(Debug, Default, PartialEq)]
struct SseEvent {
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

/// Splits complete events off the front of `buf` (lines end with LF, CRLF or CR; a blank line
/// ends an event; comments are dropped).
fn take_events(buf: &mut String) -> Vec<SseEvent> {
    let mut out = vec![];
    let mut current = SseEvent::default();
    let mut consumed = 0;
    loop {
        let rest = &buf[consumed..];
        let Some(end) = rest.find(['\n', '\r']) else {
            break;
        };
        // A CR at the very end may be the first half of a CRLF still on its way.
        if rest.as_bytes()[end] == b'\r' && end + 1 == rest.len() {
            break;
        }
        let line = &rest[..end];
        let newline = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        consumed += end + newline;
        if line.is_empty() {
            if current != SseEvent::default() {
                out.push(std::mem::take(&mut current));
            }
            // Nothing of a finished event stays behind.
            buf.drain(..consumed);
            consumed = 0;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "id" => current.id = Some(value),
            "event" => current.event = Some(value),
            "data" => {
                current.data = Some(match current.data.take() {
                    Some(d) => format!("{d}\n{value}"),
                    None => value,
                })
            }
            _ => {}
        }
    }
    out
}

/// Forwards the events of one open stream until it ends; returns why it ended.
async fn read(
    mut resp: reqwest::Response,
    forwarder: &Forwarder,
    last_id: &mut Option<String>,
) -> String {
    let mut buf = String::new();
    let mut pending: Vec<u8> = vec![];
    loop {
        let chunk = match tokio::time::timeout(IDLE_LIMIT, resp.chunk()).await {
            Err(_) => return format!("nothing for {} s", IDLE_LIMIT.as_secs()),
            Ok(Err(e)) => return error_chain(&e),
            Ok(Ok(None)) => return "the server closed it".into(),
            Ok(Ok(Some(c))) => c,
        };
        // A chunk may end inside a multi-byte character: keep the tail for the next one.
        pending.extend_from_slice(&chunk);
        let valid = match std::str::from_utf8(&pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return format!("the stream is not UTF-8 ({e})"),
        };
        buf.push_str(std::str::from_utf8(&pending[..valid]).expect("checked"));
        pending.drain(..valid);
        for event in take_events(&mut buf) {
            let Some(body) = event.data else { continue };
            forwarder
                .forward(event.event.as_deref().unwrap_or("message"), &body)
                .await;
            if event.id.is_some() {
                *last_id = event.id;
            }
        }
    }
}

struct Forwarder {
    client: Client,
    url: Url,
    key: Vec<u8>,
}

impl Forwarder {
    /// POSTs one event body, signed, and prints one line about it.
    async fn forward(&self, kind: &str, body: &str) {
        let event_id = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let timestamp = idv_core::time::SystemClock.now_ms() / 1000;
        let signature = sign::hmac_v1(&self.key, &event_id, timestamp, body.as_bytes());
        let started = Instant::now();
        let result = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let ms = started.elapsed().as_millis();
        let outcome = match result {
            Ok(r) => r.status().as_u16().to_string(),
            Err(e) => format!("error: {}", error_chain(&e)),
        };
        println!(
            "{} {kind} {event_id} → {outcome} ({ms} ms)",
            idv_core::time::iso(idv_core::time::SystemClock.now_ms())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_server_is_where_serve_listens() {
        let port = idv_server::config::Config::default().services.api.port;
        assert_eq!(DEFAULT_SERVER, format!("http://127.0.0.1:{port}"));
    }

    #[test]
    fn events_are_split_off_whatever_the_line_ends() {
        let mut buf = String::from(
            ":keep-alive\n\nid: 1\nevent: session.created\ndata: {\"id\":\"evt_1\"}\n\nid: 2\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\nid: 3\rdata:c\r\rid: 4\ndata: part",
        );
        let got = take_events(&mut buf);
        assert_eq!(
            got,
            vec![
                SseEvent {
                    id: Some("1".into()),
                    event: Some("session.created".into()),
                    data: Some("{\"id\":\"evt_1\"}".into()),
                },
                SseEvent {
                    id: Some("2".into()),
                    event: Some("x".into()),
                    data: Some("a\nb".into()),
                },
                SseEvent {
                    id: Some("3".into()),
                    event: None,
                    data: Some("c".into()),
                },
            ]
        );
        assert_eq!(buf, "id: 4\ndata: part", "an unfinished event waits");
        buf.push_str("\n\n");
        assert_eq!(take_events(&mut buf)[0].data.as_deref(), Some("part"));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_cr_at_the_end_waits_for_its_lf() {
        let mut buf = String::from("data: x\r\n\r");
        assert!(take_events(&mut buf).is_empty());
        buf.push('\n');
        assert_eq!(take_events(&mut buf).len(), 1);
    }

    #[test]
    fn the_stream_url_carries_the_filter() {
        let server = Url::parse("http://h:1/base/").unwrap();
        assert_eq!(
            stream_url(
                &server,
                &["session.created".into(), " session.deleted".into()]
            )
            .unwrap()
            .as_str(),
            "http://h:1/base/api/events/stream?type=session.created%2Csession.deleted"
        );
        assert_eq!(
            stream_url(&server, &[]).unwrap().as_str(),
            "http://h:1/base/api/events/stream"
        );
        assert!(http_url("--server", "ftp://h").is_err());
        assert!(http_url("--server", "not a url").is_err());
    }
}
