//! The event feed (`GET /api/events`) and the live event stream (`GET /api/events/stream`)
//! through real HTTP, on SQLite and on PostgreSQL: events of created, advanced, reviewed and
//! deleted sessions in commit order, paging without loss or repeat, own versus all, type
//! filters, bad input, and a Server-Sent Events client that resumes with `Last-Event-ID` and a
//! server that stops with a stream open.

use crate::common;

use common::{Backend, KYC_ID, TestServer, error_of};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen (PostgreSQL shows an event once the
/// write transactions older than it have ended; a stream polls every second).
const PATIENCE: Duration = Duration::from_secs(60);

fn auth(key: &str) -> String {
    format!("ApiKey {key}")
}

async fn start_session(srv: &TestServer, auth: &str) -> String {
    let r = srv
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

async fn onboarding(srv: &TestServer, auth: &str, id: &str, consent: bool) {
    let r = srv
        .submit(auth, id, "ONBOARDING", json!({"continue": consent}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn review(srv: &TestServer, auth: &str, id: &str, status: i64) {
    let r = srv
        .patch(&format!("/api/sessions/{id}"))
        .header("authorization", auth)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// One page of the feed (status 200 expected).
async fn page(srv: &TestServer, auth: &str, query: &str) -> Value {
    let r = srv
        .get(&format!("/api/events?{query}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

/// The feed's items for `query` once there are at least `n` of them.
async fn feed_until(srv: &TestServer, auth: &str, query: &str, n: usize) -> Vec<Value> {
    let give_up = Instant::now() + PATIENCE;
    loop {
        let items = page(srv, auth, query).await["items"]
            .as_array()
            .unwrap()
            .clone();
        if items.len() >= n || Instant::now() > give_up {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds_of(items: &[Value], session: &str) -> Vec<String> {
    items
        .iter()
        .filter(|e| e["data"]["sessionId"] == session)
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn feed_story(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let all = auth(
        &srv.key(&[
            "session_all:read",
            "session_all:write",
            "session_all_patch:write",
            "session_all:delete",
        ])
        .await,
    );
    let own = auth(&srv.key(&["session:read", "session:write"]).await);

    // s1: created, advanced, approved, deleted. s2 (started with `own`): created, aborted.
    let s1 = start_session(&srv, &all).await;
    let s2 = start_session(&srv, &own).await;
    onboarding(&srv, &all, &s1, true).await;
    review(&srv, &all, &s1, 3).await;
    onboarding(&srv, &own, &s2, false).await;
    let r = srv
        .delete(&format!("/api/sessions/{s1}"))
        .header("authorization", &all)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let items = feed_until(&srv, &all, "limit=1000", 7).await;
    assert_eq!(
        kinds_of(&items, &s1),
        [
            "session.created",
            "session.step_completed",
            "session.status_changed",
            "session.deleted"
        ]
    );
    assert_eq!(
        kinds_of(&items, &s2),
        [
            "session.created",
            "session.step_completed",
            "session.completed"
        ]
    );
    assert_eq!(items.len(), 7, "{items:#?}");
    for s in [&s1, &s2] {
        let seqs: Vec<i64> = items
            .iter()
            .filter(|e| e["data"]["sessionId"] == **s)
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "sequences grow per session: {seqs:?}"
        );
    }
    let changed = items
        .iter()
        .find(|e| e["type"] == "session.status_changed")
        .unwrap();
    assert_eq!(changed["data"]["workflowId"], KYC_ID);
    assert_eq!(
        (
            &changed["data"]["previousStatus"],
            &changed["data"]["status"]
        ),
        (&json!(0), &json!(3))
    );
    assert!(changed["id"].as_str().unwrap().starts_with("evt_"));
    assert!(changed["createdAt"].as_str().unwrap().ends_with('Z'));
    let step = items
        .iter()
        .find(|e| e["type"] == "session.step_completed" && e["data"]["sessionId"] == s1)
        .unwrap();
    assert_eq!(step["data"]["step"], "ONBOARDING");
    let deleted = items.last().unwrap();
    assert_eq!(
        (&deleted["type"], &deleted["data"]["sessionId"]),
        (&json!("session.deleted"), &json!(s1)),
        "the deletion committed last"
    );
    assert_eq!(
        deleted["data"]["status"], 3,
        "it carries the row it deleted"
    );

    // Paging by two: every event once, in the same order; past the end the cursor stays.
    let mut paged = vec![];
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(c) => format!("limit=2&after={c}"),
            None => "limit=2".to_owned(),
        };
        let p = page(&srv, &all, &q).await;
        let got = p["items"].as_array().unwrap();
        assert!(got.len() <= 2);
        if got.is_empty() {
            assert_eq!(
                p["next"].as_str(),
                after.as_deref(),
                "an empty page keeps next"
            );
            break;
        }
        paged.extend(got.iter().cloned());
        after = Some(p["next"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids(&paged), ids(&items));

    // session:read sees its own sessions' events only.
    let mine = page(&srv, &own, "").await;
    let mine = mine["items"].as_array().unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|e| e["data"]["sessionId"] == s2));

    // Type filters: repeated and comma-separated.
    let created = page(&srv, &all, "type=session.created").await;
    assert_eq!(created["items"].as_array().unwrap().len(), 2);
    let some = page(
        &srv,
        &all,
        "type=session.deleted,session.completed&type=session.created",
    )
    .await;
    let some = some["items"].as_array().unwrap();
    assert_eq!(some.len(), 4);
    assert!(
        some.iter()
            .all(|e| e["type"] != "session.step_completed" && e["type"] != "session.status_changed")
    );

    // Bad input.
    let other_shape = match backend {
        Backend::Sqlite => "12.5",
        Backend::Postgres => "12",
    };
    for (query, status, code, names) in [
        ("after=abc".to_owned(), 400, "invalid_cursor", "abc"),
        (
            format!("after={other_shape}"),
            400,
            "invalid_cursor",
            other_shape,
        ),
        ("limit=0".to_owned(), 400, "invalid_request", "`limit`"),
        ("limit=1001".to_owned(), 400, "invalid_request", "`limit`"),
        ("limit=many".to_owned(), 400, "invalid_request", "`limit`"),
        (
            "type=session.exploded".to_owned(),
            400,
            "invalid_event_type",
            "`session.exploded`",
        ),
        ("colour=red".to_owned(), 400, "invalid_request", "`colour`"),
    ] {
        let r = srv
            .get(&format!("/api/events?{query}"))
            .header("authorization", &all)
            .send()
            .await
            .unwrap();
        let (st, c, body) = error_of(r).await;
        assert_eq!((st, c.as_str()), (status, code), "{query}: {body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(names), "{query}: {msg}");
        if query.starts_with("type") {
            assert!(msg.contains("session.status_changed"), "{msg}");
        }
    }
    let writer = auth(&srv.key(&["session_all:write"]).await);
    let r = srv
        .get("/api/events")
        .header("authorization", &writer)
        .send()
        .await
        .unwrap();
    let (st, c, _) = error_of(r).await;
    assert_eq!((st, c.as_str()), (403, "forbidden"));

    srv.stop().await;
}

#[tokio::test]
async fn feed_on_sqlite() {
    feed_story(Backend::Sqlite).await;
}

#[tokio::test]
async fn feed_on_postgres() {
    feed_story(Backend::Postgres).await;
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

/// A Server-Sent Events reader over a streamed response body.
struct SseClient {
    resp: reqwest::Response,
    buf: String,
}

impl SseClient {
    async fn open(srv: &TestServer, auth: &str, query: &str, last: Option<&str>) -> SseClient {
        let mut rb = srv
            .get(&format!("/api/events/stream{query}"))
            .header("authorization", auth)
            .header("accept", "text/event-stream");
        if let Some(id) = last {
            rb = rb.header("last-event-id", id);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        SseClient {
            resp,
            buf: String::new(),
        }
    }

    /// The next event (comments skipped); `None` when the stream ended.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => id = Some(value.to_owned()),
                        "event" => event = Some(value.to_owned()),
                        "data" => {
                            assert!(data.is_none(), "one data line per event: {block}");
                            data = Some(value.to_owned());
                        }
                        _ => {}
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return Some(Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => self.buf.push_str(std::str::from_utf8(&bytes).unwrap()),
                _ => return None,
            }
        }
    }

    /// The next event, failing the test when none comes in time.
    async fn expect(&mut self) -> Sse {
        tokio::time::timeout(PATIENCE, self.next())
            .await
            .expect("an event arrives")
            .expect("the stream is open")
    }
}

async fn stream_story(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let all = auth(
        &srv.key(&[
            "session_all:read",
            "session_all:write",
            "session_all_patch:write",
            "session_all:subscribe",
        ])
        .await,
    );
    let own = auth(&srv.key(&["session:write", "session:subscribe"]).await);

    // An event from before the stream opens, and seen in the feed so it is surely visible.
    let old = start_session(&srv, &all).await;
    let seen = feed_until(&srv, &all, "", 1).await;
    assert_eq!(kinds_of(&seen, &old), ["session.created"]);

    // Without a cursor the stream starts at the current end.
    let mut live = SseClient::open(&srv, &all, "", None).await;
    let mut mine = SseClient::open(&srv, &own, "", None).await;
    let mut changes = SseClient::open(&srv, &all, "?type=session.status_changed", None).await;
    let s1 = start_session(&srv, &all).await;
    onboarding(&srv, &all, &s1, true).await;
    let created = live.expect().await;
    assert_eq!(
        (created.event.as_str(), &created.data["data"]["sessionId"]),
        ("session.created", &json!(s1)),
        "the stream starts with the first new event"
    );
    assert_eq!(created.data["type"], created.event);
    let step = live.expect().await;
    assert_eq!(step.event, "session.step_completed");
    assert!(step.data["sequence"].as_i64() > created.data["sequence"].as_i64());

    // The client goes away; meanwhile the session is reviewed. Resuming after the first event
    // gives exactly the rest, by header or by ?after=.
    drop(live);
    review(&srv, &all, &s1, 3).await;
    let mut resumed = SseClient::open(&srv, &all, "", Some(&created.id)).await;
    assert_eq!(resumed.expect().await, step);
    let reviewed = resumed.expect().await;
    assert_eq!(reviewed.event, "session.status_changed");
    assert_eq!(reviewed.data["data"]["status"], 3);
    let mut by_query = SseClient::open(&srv, &all, &format!("?after={}", step.id), None).await;
    assert_eq!(by_query.expect().await, reviewed);
    // The header wins over ?after= (a reconnecting browser sends both).
    let mut both = SseClient::open(
        &srv,
        &all,
        &format!("?after={}", created.id),
        Some(&step.id),
    )
    .await;
    assert_eq!(both.expect().await, reviewed);

    // The type filter and the own-sessions stream.
    assert_eq!(changes.expect().await, reviewed);
    let s2 = start_session(&srv, &own).await;
    let first_own = mine.expect().await;
    assert_eq!(
        (
            first_own.event.as_str(),
            &first_own.data["data"]["sessionId"]
        ),
        ("session.created", &json!(s2)),
        "session:subscribe sees only its own sessions"
    );
    // The others keep going, in order.
    let next = resumed.expect().await;
    assert_eq!(
        (next.event.as_str(), &next.data["data"]["sessionId"]),
        ("session.created", &json!(s2))
    );

    // EventSource cannot send headers: the credentials may come as a query parameter.
    let r = srv
        .get(&format!(
            "/api/events/stream?type=session.deleted&authorization={}",
            all.replace(' ', "%20")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    drop(r);

    // Refused: no subscribe permission, a bad cursor.
    let reader = auth(&srv.key(&["session_all:read"]).await);
    let r = srv
        .get("/api/events/stream")
        .header("authorization", &reader)
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    let r = srv
        .get("/api/events/stream")
        .header("authorization", &all)
        .header("last-event-id", "not-a-cursor")
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (400, "invalid_cursor"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Last-Event-ID")
    );

    // The server stops with streams open, and they end.
    let stopping = tokio::spawn(srv.stop());
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .expect("the server stops with event streams open")
        .unwrap();
    for mut s in [resumed, by_query, both, changes, mine] {
        // What was sent before the stop is still read; then the stream ends.
        let rest = tokio::time::timeout(PATIENCE, async {
            let mut rest = vec![];
            while let Some(e) = s.next().await {
                rest.push(e.event);
            }
            rest
        })
        .await
        .expect("the stream ended");
        assert!(rest.len() <= 1, "{rest:?}");
    }
}

#[tokio::test]
async fn stream_on_sqlite() {
    stream_story(Backend::Sqlite).await;
}

#[tokio::test]
async fn stream_on_postgres() {
    stream_story(Backend::Postgres).await;
}
