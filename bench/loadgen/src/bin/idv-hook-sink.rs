//! A webhook receiver for `bench/webhooks.sh`: answers every POST with 200 at once and notes,
//! per event, when it arrived. The lag of an event is its arrival time minus its `createdAt`
//! (the time the server stamped on the change, just before committing it).
//!
//! `idv-hook-sink --port P [--idle 3] [--max-wait 300]` listens on 127.0.0.1:P, waits for the
//! first event, and stops when no event has arrived for `--idle` seconds (or after `--max-wait`
//! seconds in all). It prints one JSON object: events received, distinct event ids, duplicates,
//! events out of order per session, the arrival rate between the first and the last arrival,
//! and the lag's percentiles.

#![forbid(unsafe_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "createdAt")]
    created_at: String,
    sequence: i64,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

#[derive(Default)]
struct Seen {
    received: u64,
    ids: HashSet<String>,
    lags_ms: Vec<i64>,
    kinds: BTreeMap<String, u64>,
    last_sequence: HashMap<String, i64>,
    out_of_order: u64,
    bad: u64,
    first: Option<(Instant, i64)>,
    last: Option<(Instant, i64)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |from: usize, len: usize| -> Option<i64> { s.get(from..from + len)?.parse().ok() };
    let (y, m, d) = (n(0, 4)?, n(5, 2)?, n(8, 2)?);
    let (hh, mm, ss) = (n(11, 2)?, n(14, 2)?, n(17, 2)?);
    let ms = if b.get(19) == Some(&b'.') { n(20, 3)? } else { 0 };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

fn record(seen: &Mutex<Seen>, body: &[u8]) {
    let at = now_ms();
    let mut s = seen.lock().expect("not poisoned");
    s.received += 1;
    let now = Instant::now();
    s.first.get_or_insert((now, at));
    s.last = Some((now, at));
    let Ok(e) = serde_json::from_slice::<Event>(body) else {
        s.bad += 1;
        return;
    };
    if !s.ids.insert(e.id) {
        return;
    }
    if let Some(created) = parse_iso_ms(&e.created_at) {
        s.lags_ms.push(at - created);
    }
    *s.kinds.entry(e.kind).or_default() += 1;
    if let Some(session) = e.data.session_id {
        let last = s.last_sequence.entry(session).or_insert(0);
        if e.sequence < *last {
            s.out_of_order += 1;
        } else {
            *last = e.sequence;
        }
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut port = 0u16;
    let mut idle = 3.0f64;
    let mut max_wait = 300.0f64;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--port" => port = v.parse().expect("--port: a number"),
            "--idle" => idle = v.parse().expect("--idle: seconds"),
            "--max-wait" => max_wait = v.parse().expect("--max-wait: seconds"),
            _ => {
                eprintln!("usage: idv-hook-sink --port P [--idle 3] [--max-wait 300]");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the port");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let accept = {
        let seen = seen.clone();
        async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let body = req.into_body().collect().await?.to_bytes();
                            record(&seen, &body);
                            Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::OK)
                                    .body(Full::new(Bytes::from_static(b"ok")))
                                    .expect("a valid answer"),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    };
    let started = Instant::now();
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let last = seen.lock().expect("not poisoned").last.map(|l| l.0);
            match last {
                Some(t) if t.elapsed().as_secs_f64() >= idle => break,
                _ if started.elapsed().as_secs_f64() >= max_wait => break,
                _ => {}
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = watch => {}
    }
    let mut s = seen.lock().expect("not poisoned");
    s.lags_ms.sort_unstable();
    let unique = s.ids.len() as u64;
    let span_s = match (s.first, s.last) {
        (Some(a), Some(b)) => (b.0 - a.0).as_secs_f64(),
        _ => 0.0,
    };
    let out = serde_json::json!({
        "received": s.received,
        "unique": unique,
        "duplicates": s.received - unique - s.bad,
        "unparsable": s.bad,
        "out_of_order": s.out_of_order,
        "sessions": s.last_sequence.len(),
        "span_s": span_s,
        "events_per_s": if span_s > 0.0 { unique as f64 / span_s } else { 0.0 },
        "first_arrival_ms": s.first.map(|f| f.1),
        "last_arrival_ms": s.last.map(|l| l.1),
        "lag_ms": {
            "p50": percentile(&s.lags_ms, 0.50),
            "p90": percentile(&s.lags_ms, 0.90),
            "p99": percentile(&s.lags_ms, 0.99),
            "max": s.lags_ms.last().copied().unwrap_or(0),
        },
        "types": s.kinds,
    });
    println!("{out}");
}

#[cfg(test)]
mod tests {
    use super::parse_iso_ms;

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso_ms("2026-11-26T09:41:07.123Z"), Some(1_795_686_067_123));
        assert_eq!(parse_iso_ms("nonsense"), None);
    }
}
