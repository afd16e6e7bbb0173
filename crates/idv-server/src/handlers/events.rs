//! The event feed (`GET /api/events`) and the live event stream (`GET /api/events/stream`):
//! the session events of the outbox in commit order, from a cursor.
//!
//! Both show a caller with `session_all:*` every session's events and one with only `session:*`
//! the events of the sessions it started. The feed answers a page and the cursor to continue
//! from; the stream sends each event as a Server-Sent Event whose `id` is that cursor, so a
//! client that reconnects with `Last-Event-ID` resumes exactly after the last event it got.
//! Without a cursor the stream starts at the current end (only new events), the feed at the
//! oldest kept event.
//!
//! The stream wakes at once when this process commits events and reads the store every
//! [`POLL_INTERVAL`] for events committed by other processes. It ends when the client goes away
//! or the server begins its graceful shutdown.

use super::Caller;
use crate::auth::Reach;
use crate::error::{ApiError, ApiResult};
use crate::events::{ALL, WEBHOOK_TEST};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_store::{EventQuery, EventRecord};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

pub(crate) const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// Live streams one process serves at once; beyond that a new one is refused with 503.
pub(crate) const MAX_STREAMS: usize = 1000;
/// How often a stream reads the store for events other processes committed.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing an idle stream.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events a stream reads from the store at a time.
const STREAM_PAGE: i64 = 100;

const FEED_PARAMS: &[&str] = &["after", "limit", "type", "authorization"];
const STREAM_PARAMS: &[&str] = &["after", "type", "authorization"];

/// The query parameters of both endpoints, checked.
#[derive(Debug, Default, PartialEq)]
struct Params {
    after: Option<String>,
    limit: Option<String>,
    kinds: Vec<String>,
}

fn bad(name: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("query parameter `{name}`: {what}"),
    )
}

/// The event types the feed carries (`webhook.test` goes to one endpoint only, never the feed).
fn known_types() -> impl Iterator<Item = &'static str> {
    ALL.into_iter().filter(|t| *t != WEBHOOK_TEST)
}

fn parse_params(query: &str, known: &[&str]) -> ApiResult<Params> {
    let mut p = Params::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "after" if !value.is_empty() => p.after = Some(value.into_owned()),
            "limit" if known.contains(&"limit") => p.limit = Some(value.into_owned()),
            // `type` may repeat and each may list several, comma-separated.
            "type" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    if !known_types().any(|k| k == t) {
                        return Err(ApiError::new(
                            ErrorCode::InvalidEventType,
                            format!(
                                "query parameter `type`: unknown event type `{t}`; known: {}",
                                known_types().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                    if !p.kinds.iter().any(|k| k == t) {
                        p.kinds.push(t.to_owned());
                    }
                }
            }
            n if known.contains(&n) => {}
            n => {
                return Err(bad(
                    n,
                    &format!(
                        "unknown parameter; known: {}",
                        known[..known.len() - 1].join(", ")
                    ),
                ));
            }
        }
    }
    Ok(p)
}

fn parse_limit(text: Option<&str>) -> ApiResult<i64> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            bad(
                "limit",
                &format!("`{text}` must be a number from 1 to {MAX_LIMIT}"),
            )
        })
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks that `cursor` has the shape of the backend's cursors (`<n>` on SQLite, `<txid>.<n>`
/// on PostgreSQL), so a mistyped one is the caller's 400 rather than a store error.
fn check_cursor(backend: &str, source: &str, cursor: &str) -> ApiResult<String> {
    let ok = match backend {
        "postgres" => cursor.split_once('.').is_some_and(|(tx, pos)| {
            digits(tx) && digits(pos) && tx.parse::<u64>().is_ok() && pos.parse::<i64>().is_ok()
        }),
        _ => digits(cursor) && cursor.parse::<i64>().is_ok(),
    };
    if ok {
        return Ok(cursor.to_owned());
    }
    let example = if backend == "postgres" {
        "812.1045"
    } else {
        "1045"
    };
    Err(ApiError::new(
        ErrorCode::InvalidCursor,
        format!(
            "{source} `{cursor}` is not an event cursor of this server; give the `next` of a \
             previous page of GET /api/events or the `id` of a streamed event (like `{example}`)"
        ),
    ))
}

/// The caller's reach for `op`, or the 403 naming what is missing.
fn reach_of(caller: &Caller, op: Op) -> ApiResult<Reach> {
    caller.reach("session_all", "session", op).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the event feed needs session:{0} or session_all:{0}",
                op.as_str()
            ),
        )
    })
}

fn owner_filter(caller: &Caller, reach: Reach) -> Option<String> {
    (reach == Reach::Own).then(|| caller.id.clone())
}

/// `GET /api/events`: `{items: [event…], next}`. Each item is the event's stored body, byte for
/// byte as webhooks deliver it.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let reach = reach_of(&caller, Op::Read)?;
    let p = parse_params(query.as_deref().unwrap_or(""), FEED_PARAMS)?;
    let limit = parse_limit(p.limit.as_deref())?;
    let after = match &p.after {
        Some(c) => Some(check_cursor(state.store.backend(), "`after`", c)?),
        None => None,
    };
    let page = state
        .store
        .events_after(&EventQuery {
            after,
            limit,
            kinds: p.kinds,
            owner_id: owner_filter(&caller, reach),
        })
        .await?;
    // The bodies are JSON already: written as they are, not parsed and printed again.
    let mut out =
        String::with_capacity(32 + page.events.iter().map(|e| e.body.len() + 1).sum::<usize>());
    out.push_str("{\"items\":[");
    for (i, e) in page.events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.body);
    }
    out.push_str("],\"next\":");
    out.push_str(&serde_json::Value::from(page.next).to_string());
    out.push('}');
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        out,
    )
        .into_response())
}

/// A live stream's position and what it has read but not sent yet.
struct Feed {
    state: AppState,
    query: EventQuery,
    buffered: VecDeque<EventRecord>,
    /// Held while the stream is open; dropping the stream frees it.
    _slot: OwnedSemaphorePermit,
}

fn sse_event(e: &EventRecord) -> Event {
    Event::default().id(&e.cursor).event(&e.kind).data(&e.body)
}

/// The next event of a stream, waiting for one as long as it takes; `None` ends the stream.
async fn next_event(mut f: Feed) -> Option<(Result<Event, Infallible>, Feed)> {
    loop {
        if let Some(e) = f.buffered.pop_front() {
            return Some((Ok(sse_event(&e)), f));
        }
        if f.state.shutdown.is_cancelled() {
            return None;
        }
        // Registered before the read, so events committed between the read and the wait
        // still wake this stream.
        let wake = f.state.events_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        match f.state.store.events_after(&f.query).await {
            Ok(page) => {
                if page.next.is_some() {
                    f.query.after = page.next;
                }
                if !page.events.is_empty() {
                    f.buffered.extend(page.events);
                    continue;
                }
            }
            Err(e) => {
                // The client reconnects with Last-Event-ID and loses nothing.
                tracing::warn!(error = %e, "event stream ended: the feed could not be read");
                return None;
            }
        }
        tokio::select! {
            _ = f.state.shutdown.cancelled() => return None,
            _ = wake.as_mut() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// `GET /api/events/stream`: Server-Sent Events from `Last-Event-ID` (or `?after=`), else from
/// the current end.
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let reach = reach_of(&caller, Op::Subscribe)?;
    let p = parse_params(query.as_deref().unwrap_or(""), STREAM_PARAMS)?;
    let backend = state.store.backend();
    // A reconnecting EventSource repeats its URL, `?after=` included, and adds the header
    // with the last id it got: the header is the later position.
    let last = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        "Last-Event-ID is not text; send the `id` of a streamed event",
                    )
                })?
                .trim()
                .to_owned(),
        ),
        None => None,
    }
    .filter(|v| !v.is_empty());
    let start = match (last, p.after) {
        (Some(c), _) => Some(check_cursor(backend, "Last-Event-ID", &c)?),
        (None, Some(c)) => Some(check_cursor(backend, "`after`", &c)?),
        (None, None) => None,
    };
    let slot = state
        .event_streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "this server already serves {MAX_STREAMS} event streams; try again later or \
                     read GET /api/events"
                ),
            )
        })?;
    // Fixed before the answer goes out, so every event committed after the client has the
    // answer's headers is in the stream.
    let after = match start {
        Some(c) => Some(c),
        None => state.store.events_end().await?,
    };
    let feed = Feed {
        query: EventQuery {
            after,
            limit: STREAM_PAGE,
            kinds: p.kinds,
            owner_id: owner_filter(&caller, reach),
        },
        state,
        buffered: VecDeque::new(),
        _slot: slot,
    };
    let events = futures::stream::unfold(feed, next_event);
    let mut resp = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies that buffer answers (nginx) would hold events back.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_and_bad_ones_are_named() {
        let p = parse_params(
            "after=7&limit=5&type=session.created,session.deleted&type=session.created&type=session.completed",
            FEED_PARAMS,
        )
        .unwrap();
        assert_eq!(p.after.as_deref(), Some("7"));
        assert_eq!(p.limit.as_deref(), Some("5"));
        assert_eq!(
            p.kinds,
            vec!["session.created", "session.deleted", "session.completed"]
        );
        assert_eq!(
            parse_params("after=", FEED_PARAMS).unwrap(),
            Params::default()
        );
        let e = parse_params("type=session.created,session.exploded", FEED_PARAMS)
            .unwrap_err()
            .0;
        assert_eq!(e.code, ErrorCode::InvalidEventType);
        assert!(e.message.contains("`session.exploded`"), "{}", e.message);
        assert!(
            e.message.contains("session.status_changed"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("webhook.test"), "{}", e.message);
        let e = parse_params("type=webhook.test", FEED_PARAMS)
            .unwrap_err()
            .0;
        assert!(e.message.contains("`webhook.test`"), "{}", e.message);
        let e = parse_params("limit=5", STREAM_PARAMS).unwrap_err().0;
        assert!(e.message.contains("`limit`"), "{}", e.message);
        let e = parse_params("colour=red", FEED_PARAMS).unwrap_err().0;
        assert!(e.message.contains("`colour`"), "{}", e.message);
        for bad_limit in ["0", "1001", "ten", "-1"] {
            let e = parse_limit(Some(bad_limit)).unwrap_err().0;
            assert!(e.message.contains("`limit`"), "{}", e.message);
        }
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
    }

    #[test]
    fn cursors_are_checked_per_backend() {
        assert!(check_cursor("sqlite", "`after`", "12").is_ok());
        assert!(check_cursor("postgres", "`after`", "812.12").is_ok());
        for (backend, c) in [
            ("sqlite", "812.12"),
            ("sqlite", "-1"),
            ("sqlite", "+1"),
            ("sqlite", "99999999999999999999"),
            ("sqlite", "abc"),
            ("postgres", "12"),
            ("postgres", "1.2.3"),
            ("postgres", ".5"),
            ("postgres", "5."),
            ("postgres", "a.5"),
        ] {
            let e = check_cursor(backend, "`after`", c).unwrap_err().0;
            assert_eq!(e.code, ErrorCode::InvalidCursor, "{backend} {c}");
            assert!(e.message.contains(c), "{}", e.message);
        }
    }
}
