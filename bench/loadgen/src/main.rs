//! A small closed-loop load generator for `bench/session_flow.sh`.
//!
//! `--mode flow`: each of `--concurrency` tasks owns one keep-alive HTTP/1.1 connection and
//! loops: `POST /api/sessions?workflowId=…` with `{"locale": "en"}`, then
//! `POST /api/sessions/{id}/step/{step}?type=data` with `{"continue": true}`, both with the
//! given `Authorization` header (the call pattern of Regula's own load test). A session counts
//! when both answers are 200 and the second answer's `id` is the expected next step.
//!
//! `--mode create`: only the first request of the flow (sessions started per second), to split
//! the cost of the two requests.
//!
//! `--mode get`: the same tasks send `GET --path` (the `/api/health` ceiling) and count 200s.
//!
//! `--mode search` (for `bench/search.sh`): `POST --path` (e.g. `/api/sessions/search?limit=100`)
//! with the JSON body of `--body-file`, counting 200s whose body holds `items`.
//!
//! `--mode view-search`: Regula's list path: `GET /api/views/namespaces/{--namespace}?limit=100&skip=0`,
//! `POST /api/sessions/search?limit={--search-limit}` with the first view's `value` as the body,
//! then `GET /api/sessions/{id}` for every session returned. A path counts when every answer is
//! 200; latencies per request kind and of the whole path.
//!
//! Requests that start during `--warmup` are not measured; then for `--duration` seconds every
//! request that starts and ends inside the window is recorded (latency per request kind), and
//! a session is counted when its second request ends inside the window. The result is one JSON
//! object on stdout. The tool also reads its own CPU time, the server's (`--server-pid`) and
//! the machine's over the same window from `/proc`, so the report can show who used the cores.
//!
//! It is meant to be cheap: one thread by default (`--threads`), no allocation beyond the
//! requests and the answer bodies, latencies in a plain vector sorted once at the end.

#![forbid(unsafe_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

const USAGE: &str = "usage: idv-loadgen --base http://HOST:PORT [--mode flow|create|get] [--path /api/health] \
[--workflow ID] [--step ONBOARDING] [--expect-step PREPARE_DOCUMENT] [--auth 'Basic …'] \
[--concurrency 32] [--warmup 3] [--duration 15] [--threads 1] [--server-pid PID] [--db-match DBNAME] [--clk-tck 100] \
[--body-file FILE] [--namespace active-views-3] [--search-limit 100]";

/// Command-line settings.
struct Args {
    addr: SocketAddr,
    host: HeaderValue,
    mode: Mode,
    path: String,
    workflow: String,
    step: String,
    expect_step: String,
    auth: Option<HeaderValue>,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    threads: usize,
    server_pid: Option<u32>,
    /// PostgreSQL backends serving this database: processes titled `postgres: … <db> …`.
    db_match: Option<String>,
    clk_tck: f64,
    /// The body of `--mode search`.
    body: Bytes,
    namespace: String,
    search_limit: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flow,
    Create,
    Get,
    Search,
    ViewSearch,
}

fn parse_args() -> Result<Args, String> {
    let mut kv = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "-h" || k == "--help" {
            return Err(USAGE.to_string());
        }
        let Some(name) = k.strip_prefix("--") else {
            return Err(format!("unexpected argument {k:?}\n{USAGE}"));
        };
        let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        kv.insert(name.to_string(), v);
    }
    let take = |kv: &mut BTreeMap<String, String>, k: &str, d: &str| {
        kv.remove(k).unwrap_or_else(|| d.to_string())
    };
    let num = |s: String, k: &str| {
        s.parse::<f64>()
            .map_err(|_| format!("--{k}: not a number: {s:?}"))
    };

    let base = kv
        .remove("base")
        .ok_or_else(|| format!("--base is required\n{USAGE}"))?;
    let hostport = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("--base must start with http:// (got {base:?})"))?
        .trim_end_matches('/');
    let addr: SocketAddr = hostport
        .parse()
        .map_err(|_| format!("--base must be http://IP:PORT (got {base:?})"))?;
    let mode = match take(&mut kv, "mode", "flow").as_str() {
        "flow" => Mode::Flow,
        "create" => Mode::Create,
        "get" => Mode::Get,
        "search" => Mode::Search,
        "view-search" => Mode::ViewSearch,
        m => {
            return Err(format!(
                "--mode: flow, create, get, search or view-search, not {m:?}"
            ));
        }
    };
    let args = Args {
        addr,
        host: HeaderValue::from_str(hostport).map_err(|e| e.to_string())?,
        mode,
        path: take(&mut kv, "path", "/api/health"),
        workflow: take(&mut kv, "workflow", "edda0192-b890-11ef-a348-17da751a6a22"),
        step: take(&mut kv, "step", "ONBOARDING"),
        expect_step: take(&mut kv, "expect-step", "PREPARE_DOCUMENT"),
        auth: match kv.remove("auth") {
            Some(a) => Some(HeaderValue::from_str(&a).map_err(|_| "--auth: not a header value")?),
            None => None,
        },
        concurrency: num(take(&mut kv, "concurrency", "32"), "concurrency")? as usize,
        warmup: Duration::from_secs_f64(num(take(&mut kv, "warmup", "3"), "warmup")?),
        duration: Duration::from_secs_f64(num(take(&mut kv, "duration", "15"), "duration")?),
        threads: num(take(&mut kv, "threads", "1"), "threads")? as usize,
        server_pid: match kv.remove("server-pid") {
            Some(p) => Some(
                p.parse()
                    .map_err(|_| format!("--server-pid: not a pid: {p:?}"))?,
            ),
            None => None,
        },
        db_match: kv.remove("db-match"),
        clk_tck: num(take(&mut kv, "clk-tck", "100"), "clk-tck")?,
        body: match kv.remove("body-file") {
            Some(f) => Bytes::from(std::fs::read(&f).map_err(|e| format!("--body-file {f}: {e}"))?),
            None => Bytes::from_static(b"{}"),
        },
        namespace: take(&mut kv, "namespace", "active-views-3"),
        search_limit: num(take(&mut kv, "search-limit", "100"), "search-limit")? as u32,
    };
    if let Some(k) = kv.keys().next() {
        return Err(format!("unknown option --{k}\n{USAGE}"));
    }
    if args.concurrency == 0 || args.threads == 0 || args.duration.is_zero() {
        return Err("--concurrency, --threads and --duration must be positive".into());
    }
    if args.mode != Mode::Get && args.auth.is_none() {
        return Err("--mode flow and --mode create need --auth".into());
    }
    Ok(args)
}

/// What went wrong with one request, for the error counts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Failure {
    Connect,
    Io,
    Status(u16),
    /// 200, but the body is not the expected JSON (no `id`, or not the expected next step).
    Answer,
}

impl Failure {
    fn label(self) -> String {
        match self {
            Failure::Connect => "connect".into(),
            Failure::Io => "io".into(),
            Failure::Status(s) => format!("status_{s}"),
            Failure::Answer => "unexpected_answer".into(),
        }
    }
}

/// The fields of an answer that the flow looks at: the session's id (create) or the next
/// step's id (submit). Everything else is skipped by the parser.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// One task's measurements.
#[derive(Default)]
struct Tally {
    /// Latency in microseconds of measured requests, per kind (0 = first, 1 = second request;
    /// view-search: 0 view, 1 search, 2 each get, 3 the whole path).
    lat: [Vec<u32>; 4],
    sessions: u64,
    per_second: Vec<u64>,
    errors: BTreeMap<Failure, u64>,
    /// A few failed answers, to show what the server said.
    samples: Vec<String>,
}

impl Tally {
    fn fail(&mut self, f: Failure, detail: String, measured: bool) {
        if measured {
            *self.errors.entry(f).or_default() += 1;
        }
        if self.samples.len() < 3 {
            self.samples.push(format!("{}: {}", f.label(), detail));
        }
    }
}

/// The measurement window, shared by all tasks.
#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, began: Instant, ended: Instant) -> bool {
        began >= self.start && ended <= self.end
    }
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on the connection and reads the whole answer.
async fn send(
    sender: &mut Sender,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

struct Plan {
    mode: Mode,
    host: HeaderValue,
    auth: Option<HeaderValue>,
    create_path: String,
    get_path: String,
    step: String,
    expect_step: String,
    body: Bytes,
    views_path: String,
    search_path: String,
}

impl Plan {
    fn request_bytes(&self, method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(a) = &self.auth {
            b = b.header(AUTHORIZATION, a.clone());
        }
        if !body.is_empty() {
            b = b.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        b.body(Full::new(body)).expect("a valid request")
    }

    fn request(&self, method: Method, path: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(a) = &self.auth {
            b = b.header(AUTHORIZATION, a.clone());
        }
        if !body.is_empty() {
            b = b.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        b.body(Full::new(Bytes::from_static(body)))
            .expect("a valid request")
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(300)]);
    s.replace('\n', " ")
}

/// One connection's loop until the window ends.
async fn worker(addr: SocketAddr, plan: std::sync::Arc<Plan>, w: Window) -> Tally {
    let mut t = Tally {
        per_second: vec![0; (w.end - w.start).as_secs() as usize + 1],
        ..Tally::default()
    };
    let mut conn: Option<Sender> = None;
    while Instant::now() < w.end {
        let sender = match conn.as_mut() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => conn.insert(s),
                Err(e) => {
                    let now = Instant::now();
                    t.fail(Failure::Connect, e, w.contains(now, now));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if matches!(plan.mode, Mode::Search | Mode::ViewSearch) {
            if let Err(broken) = list_path(sender, &plan, w, &mut t).await {
                if broken {
                    conn = None;
                }
            }
            continue;
        }
        let began = Instant::now();
        let first = match plan.mode {
            Mode::Flow | Mode::Create => {
                plan.request(Method::POST, &plan.create_path, br#"{"locale": "en"}"#)
            }
            _ => plan.request(Method::GET, &plan.get_path, b""),
        };
        let r = send(sender, first).await;
        let ended = Instant::now();
        let measured = w.contains(began, ended);
        let body = match r {
            Ok((StatusCode::OK, body)) => body,
            Ok((s, body)) => {
                t.fail(Failure::Status(s.as_u16()), snippet(&body), measured);
                continue;
            }
            Err(e) => {
                t.fail(Failure::Io, e, measured);
                conn = None;
                continue;
            }
        };
        if measured {
            t.lat[0].push((ended - began).as_micros() as u32);
        }
        if plan.mode == Mode::Get {
            if measured {
                t.sessions += 1;
                t.per_second[(ended - w.start).as_secs() as usize] += 1;
            }
            continue;
        }
        let Ok(created) = serde_json::from_slice::<IdOnly>(&body) else {
            t.fail(Failure::Answer, snippet(&body), measured);
            continue;
        };
        if plan.mode == Mode::Create {
            if measured {
                t.sessions += 1;
                t.per_second[(ended - w.start).as_secs() as usize] += 1;
            }
            continue;
        }
        let path = format!("/api/sessions/{}/step/{}?type=data", created.id, plan.step);
        let sender = conn.as_mut().expect("connected");
        let began2 = Instant::now();
        let r = send(
            sender,
            plan.request(Method::POST, &path, br#"{"continue": true}"#),
        )
        .await;
        let ended2 = Instant::now();
        let measured2 = w.contains(began2, ended2);
        match r {
            Ok((StatusCode::OK, body)) => match serde_json::from_slice::<IdOnly>(&body) {
                Ok(next) if next.id == plan.expect_step => {
                    if measured2 {
                        t.lat[1].push((ended2 - began2).as_micros() as u32);
                    }
                    if ended2 >= w.start && ended2 <= w.end {
                        t.sessions += 1;
                        t.per_second[(ended2 - w.start).as_secs() as usize] += 1;
                    }
                }
                _ => t.fail(Failure::Answer, snippet(&body), measured2),
            },
            Ok((s, body)) => t.fail(Failure::Status(s.as_u16()), snippet(&body), measured2),
            Err(e) => {
                t.fail(Failure::Io, e, measured2);
                conn = None;
            }
        }
    }
    t
}

/// The answer of `GET /api/views/namespaces/{ns}`: the first view's value is the search body.
#[derive(Deserialize)]
struct Views {
    items: Vec<ViewItem>,
}

#[derive(Deserialize)]
struct ViewItem {
    value: serde_json::Value,
}

/// The answer of a search: the ids of the sessions.
#[derive(Deserialize)]
struct Found {
    items: Vec<IdOnly>,
}

/// One search (`--mode search`) or one view → search → get-each path (`--mode view-search`).
/// `Err(true)` when the connection broke.
async fn list_path(sender: &mut Sender, plan: &Plan, w: Window, t: &mut Tally) -> Result<(), bool> {
    let path_began = Instant::now();
    let body = if plan.mode == Mode::Search {
        plan.body.clone()
    } else {
        let began = Instant::now();
        let r = send(sender, plan.request(Method::GET, &plan.views_path, b"")).await;
        let ended = Instant::now();
        let measured = w.contains(began, ended);
        let (status, answer) = r.map_err(|e| {
            t.fail(Failure::Io, e, measured);
            true
        })?;
        if status != StatusCode::OK {
            t.fail(Failure::Status(status.as_u16()), snippet(&answer), measured);
            return Err(false);
        }
        let Some(value) = serde_json::from_slice::<Views>(&answer)
            .ok()
            .and_then(|v| v.items.into_iter().next())
        else {
            t.fail(Failure::Answer, snippet(&answer), measured);
            return Err(false);
        };
        if measured {
            t.lat[0].push((ended - began).as_micros() as u32);
        }
        Bytes::from(value.value.to_string())
    };
    let began = Instant::now();
    let r = send(
        sender,
        plan.request_bytes(Method::POST, &plan.search_path, body),
    )
    .await;
    let ended = Instant::now();
    let measured = w.contains(began, ended);
    let (status, answer) = r.map_err(|e| {
        t.fail(Failure::Io, e, measured);
        true
    })?;
    if status != StatusCode::OK {
        t.fail(Failure::Status(status.as_u16()), snippet(&answer), measured);
        return Err(false);
    }
    let Ok(found) = serde_json::from_slice::<Found>(&answer) else {
        t.fail(Failure::Answer, snippet(&answer), measured);
        return Err(false);
    };
    if measured {
        t.lat[if plan.mode == Mode::Search { 0 } else { 1 }]
            .push((ended - began).as_micros() as u32);
    }
    if plan.mode == Mode::ViewSearch {
        for s in &found.items {
            let path = format!("/api/sessions/{}", s.id);
            let began = Instant::now();
            let r = send(sender, plan.request(Method::GET, &path, b"")).await;
            let ended = Instant::now();
            let measured = w.contains(began, ended);
            let (status, answer) = r.map_err(|e| {
                t.fail(Failure::Io, e, measured);
                true
            })?;
            match serde_json::from_slice::<IdOnly>(&answer) {
                Ok(got) if status == StatusCode::OK && got.id == s.id => {}
                _ if status != StatusCode::OK => {
                    t.fail(Failure::Status(status.as_u16()), snippet(&answer), measured);
                    return Err(false);
                }
                _ => {
                    t.fail(Failure::Answer, snippet(&answer), measured);
                    return Err(false);
                }
            }
            if measured {
                t.lat[2].push((ended - began).as_micros() as u32);
            }
        }
    }
    let ended = Instant::now();
    if w.contains(path_began, ended) {
        t.lat[3].push((ended - path_began).as_micros() as u32);
    }
    if ended >= w.start && ended <= w.end {
        t.sessions += 1;
        t.per_second[(ended - w.start).as_secs() as usize] += 1;
    }
    Ok(())
}

/// utime + stime of a process, in seconds, from `/proc/<pid>/stat`.
fn proc_cpu(pid: &str, clk_tck: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clk_tck)
}

/// The machine's cpu line from `/proc/stat`: (busy, idle, steal) in ticks.
fn machine_cpu() -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
    // user nice system idle iowait irq softirq steal
    Some((g(0) + g(1) + g(2) + g(5) + g(6), g(3) + g(4), g(7)))
}

/// CPU seconds of each PostgreSQL backend process serving database `db` (the process title is
/// `postgres: [CLUSTER: ]USER DB HOST(PORT) STATE`), by pid.
fn db_backends(db: &str, clk_tck: f64) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&cmdline);
        if title.starts_with("postgres: ")
            && title.split(['\0', ' ']).any(|t| t == db)
            && let Some(cpu) = proc_cpu(&pid, clk_tck)
        {
            out.insert(pid, cpu);
        }
    }
    out
}

struct CpuSnap {
    own: Option<f64>,
    server: Option<f64>,
    db: Option<BTreeMap<String, f64>>,
    machine: Option<(f64, f64, f64)>,
}

fn cpu_snap(args: &Args) -> CpuSnap {
    CpuSnap {
        own: proc_cpu("self", args.clk_tck),
        server: args
            .server_pid
            .and_then(|p| proc_cpu(&p.to_string(), args.clk_tck)),
        db: args
            .db_match
            .as_deref()
            .map(|db| db_backends(db, args.clk_tck)),
        machine: machine_cpu(),
    }
}

/// CPU the database backends used between two snapshots; a backend that started in between
/// counts from zero.
fn db_cpu(before: &CpuSnap, after: &CpuSnap) -> serde_json::Value {
    match (&before.db, &after.db) {
        (Some(b), Some(a)) => {
            let s: f64 = a
                .iter()
                .map(|(pid, t)| t - b.get(pid).copied().unwrap_or(0.0))
                .sum();
            serde_json::json!({"cpu_s": (s * 100.0).round() / 100.0, "backends": a.len()})
        }
        _ => serde_json::Value::Null,
    }
}

fn percentiles(v: &mut [u32]) -> serde_json::Value {
    v.sort_unstable();
    let p = |q: f64| -> u32 {
        if v.is_empty() {
            return 0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
    };
    serde_json::json!({
        "count": v.len(),
        "mean_us": (mean * 10.0).round() / 10.0,
        "p50_us": p(0.50),
        "p90_us": p(0.90),
        "p99_us": p(0.99),
        "max_us": v.last().copied().unwrap_or(0),
    })
}

async fn run(args: Args) -> serde_json::Value {
    let plan = std::sync::Arc::new(Plan {
        mode: args.mode,
        host: args.host.clone(),
        auth: args.auth.clone(),
        create_path: format!("/api/sessions?workflowId={}", args.workflow),
        get_path: args.path.clone(),
        step: args.step.clone(),
        expect_step: args.expect_step.clone(),
        body: args.body.clone(),
        views_path: format!("/api/views/namespaces/{}?limit=100&skip=0", args.namespace),
        search_path: if args.mode == Mode::Search {
            args.path.clone()
        } else {
            format!("/api/sessions/search?limit={}", args.search_limit)
        },
    });
    let start = Instant::now() + args.warmup;
    let w = Window {
        start,
        end: start + args.duration,
    };
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(worker(args.addr, plan.clone(), w)))
        .collect();

    // CPU over the measurement window only.
    tokio::time::sleep_until(w.start.into()).await;
    let before = cpu_snap(&args);
    tokio::time::sleep_until(w.end.into()).await;
    let after = cpu_snap(&args);

    let mut all = Tally {
        per_second: vec![0; args.duration.as_secs() as usize + 1],
        ..Tally::default()
    };
    for task in tasks {
        let t = task.await.expect("a worker panicked");
        for k in 0..4 {
            all.lat[k].extend_from_slice(&t.lat[k]);
        }
        all.sessions += t.sessions;
        for (i, n) in t.per_second.iter().enumerate() {
            if let Some(slot) = all.per_second.get_mut(i) {
                *slot += n;
            }
        }
        for (f, n) in t.errors {
            *all.errors.entry(f).or_default() += n;
        }
        for s in t.samples {
            if all.samples.len() < 5 {
                all.samples.push(s);
            }
        }
    }
    // A window of d seconds has d full one-second slots; a last slot only holds the edge.
    all.per_second.truncate(args.duration.as_secs() as usize);

    let secs = args.duration.as_secs_f64();
    let d = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => serde_json::json!(((b - a) * 100.0).round() / 100.0),
        _ => serde_json::Value::Null,
    };
    let (busy, steal) = match (before.machine, after.machine) {
        (Some(b), Some(a)) => {
            let busy = (a.0 - b.0) / args.clk_tck;
            let idle = (a.1 - b.1) / args.clk_tck;
            let steal = (a.2 - b.2) / args.clk_tck;
            let all = busy + idle + steal;
            (
                serde_json::json!((busy / secs * 1000.0).round() / 1000.0),
                serde_json::json!(if all > 0.0 {
                    (1000.0 * steal / all).round() / 10.0
                } else {
                    0.0
                }),
            )
        }
        _ => (serde_json::Value::Null, serde_json::Value::Null),
    };
    let errors: serde_json::Map<String, serde_json::Value> = all
        .errors
        .iter()
        .map(|(f, n)| (f.label(), serde_json::json!(n)))
        .collect();
    let [first, second, third, whole] = &mut all.lat;
    serde_json::json!({
        "mode": match args.mode {
            Mode::Flow => "flow",
            Mode::Create => "create",
            Mode::Get => "get",
            Mode::Search => "search",
            Mode::ViewSearch => "view-search",
        },
        "concurrency": args.concurrency,
        "threads": args.threads,
        "duration_s": secs,
        "completed": all.sessions,
        "per_s": ((all.sessions as f64 / secs) * 10.0).round() / 10.0,
        "per_second": all.per_second,
        "latency": match args.mode {
            Mode::Flow => serde_json::json!({"create": percentiles(first), "submit": percentiles(second)}),
            Mode::Create => serde_json::json!({"create": percentiles(first)}),
            Mode::Get => serde_json::json!({"get": percentiles(first)}),
            Mode::Search => serde_json::json!({"search": percentiles(first)}),
            Mode::ViewSearch => serde_json::json!({"view": percentiles(first), "search": percentiles(second),
                "get": percentiles(third), "path": percentiles(whole)}),
        },
        "errors": errors,
        "error_total": all.errors.values().sum::<u64>(),
        "error_samples": all.samples,
        "cpu": {
            "loadgen_cpu_s": d(before.own, after.own),
            "server_cpu_s": d(before.server, after.server),
            "db": db_cpu(&before, &after),
            "machine_busy_cores": busy,
            "steal_pct": steal,
        },
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("a tokio runtime");
    let out = rt.block_on(run(args));
    println!("{out}");
}
