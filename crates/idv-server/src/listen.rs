//! The connection loop of `idv serve`: accepts TCP connections, serves HTTP/1.1 on each with
//! hyper, and keeps slow, idle and hostile clients from holding the server.
//!
//! - **Headers** must arrive within `services.api.headerReadTimeout`, counted from the first
//!   byte of a request (or from the connection's start for its first request); a connection
//!   that sends nothing, or a few bytes of a head and then stops, is closed.
//! - **Idle keep-alive** connections are closed `services.api.keepalive` seconds after their
//!   last response. hyper's own `header_read_timeout` is not used: its timer also runs while a
//!   connection idles between requests, so it cannot tell the two apart.
//! - **Request bodies** may pause at most `services.api.bodyReadTimeout` between bytes; the
//!   request then answers 408 `request_timeout` and the connection is closed.
//! - **Open connections** are capped below the process's open-file limit (which is raised to
//!   its hard limit at start). At the cap a newcomer is still served: the oldest connection
//!   without a request in flight (idle, or still sending its headers) is closed to make room.
//!   When `accept` itself fails (too many open files), the loop closes an idle connection and
//!   waits for a connection to end, briefly, instead of spinning or sleeping for long.
//!
//! A request is *in flight* from the moment hyper hands it to the router until its response
//! body has been sent; such a connection is never closed by the cap or a timeout here (its
//! body has its own timeout).
//!
//! **Stopping** ([`Stop`]): while `draining` (from the stop signal, for
//! `services.api.shutdownDelay`) every answer says `Connection: close`, so clients open new
//! connections, which a load balancer sends elsewhere once `GET /api/ready` answers 503. Then
//! the listener takes the connections already queued in the kernel and closes (newcomers are
//! refused, not reset); idle connections are closed, a request in flight finishes first, and a
//! connection accepted but not yet used gets a moment ([`CLOSE_GRACE`]) to send its request.
//! Whatever still runs after `services.api.shutdownTimeout` is cut off.

mod bodies;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
pub(crate) use bodies::InFlightBody;
use bodies::{BodyTimeout, request_timeout};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Descriptors kept free for everything but client connections (database pool, files being
/// read or written, outbound webhook and gateway calls, logs): a quarter of the limit, at
/// least 64 and at most 4,096.
fn reserved_descriptors(open_files: u64) -> u64 {
    (open_files / 4).clamp(64, 4096)
}

/// The fewest connections the automatic cap allows, however low the file limit.
const MIN_CONNECTIONS: u64 = 16;

/// How long a connection being closed may take to finish writing a response it has already
/// produced before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The connection rules, from `services.api`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) header_read: Duration,
    /// `None`: no keep-alive (one request per connection).
    pub keepalive: Option<Duration>,
    pub(crate) body_read: Duration,
    pub max_connections: usize,
    /// `services.api.trustedProxies`: a request from one of them is from the address its
    /// `X-Forwarded-For` names.
    pub(crate) trusted_proxies: Arc<[crate::config::services::IpNet]>,
}

impl Limits {
    /// The limits for this process: raises the soft open-file limit to the hard one (logged)
    /// and derives the connection cap from it when `maxConnections` is 0, or caps a configured
    /// value that would not fit under it.
    pub(crate) fn for_process(api: &crate::config::Api) -> Limits {
        let open_files = raise_open_file_limit();
        Limits::new(api, open_files)
    }

    /// The limits for a given open-file limit (`None`: unknown or unlimited).
    pub fn new(api: &crate::config::Api, open_files: Option<u64>) -> Limits {
        let ceiling = open_files
            .map(|n| {
                n.saturating_sub(reserved_descriptors(n))
                    .max(MIN_CONNECTIONS)
            })
            .unwrap_or(u64::MAX);
        let max = match api.max_connections {
            0 => ceiling,
            n if n > ceiling => {
                tracing::warn!(
                    configured = n,
                    used = ceiling,
                    open_files = open_files.unwrap_or(0),
                    "services.api.maxConnections does not fit under the open-file limit; \
                     using the lower value (raise the limit, e.g. LimitNOFILE= or ulimit -n)"
                );
                ceiling
            }
            n => n,
        };
        Limits {
            header_read: Duration::from_secs(api.header_read_timeout.max(1)),
            keepalive: (api.keepalive > 0).then(|| Duration::from_secs(api.keepalive)),
            body_read: Duration::from_secs(api.body_read_timeout.max(1)),
            max_connections: usize::try_from(max).unwrap_or(usize::MAX),
            // Checked when the configuration loaded.
            trusted_proxies: api.proxies().unwrap_or_default().into(),
        }
    }

    /// How often a connection looks at its state again: often enough that the keep-alive
    /// deadline set when a request ends is met to the millisecond.
    fn recheck(&self) -> Duration {
        let keepalive = self.keepalive.unwrap_or(Duration::ZERO);
        self.header_read.min(keepalive).max(Duration::from_secs(1))
    }
}

/// Raises the soft open-file limit to the hard limit, as many servers do, and returns the soft
/// limit in force (`None` when unlimited or unknown).
#[cfg(unix)]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (limit.current, limit.maximum) else {
        return None;
    };
    // An unlimited hard limit cannot be the soft limit for open files (Linux refuses it);
    // 1,048,576 is the kernel's usual `nr_open`.
    let target = hard.unwrap_or(1 << 20);
    if target <= soft {
        return Some(soft);
    }
    match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: hard,
        },
    ) {
        Ok(()) => {
            tracing::info!(from = soft, to = target, "raised the open-file limit");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(limit = soft, error = %e, "cannot raise the open-file limit");
            Some(soft)
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    None
}

/// How the server stops: `draining` is cancelled when the stop begins (answers then close
/// their connections); the connections left when the listener closes get `timeout` to end.
#[derive(Clone)]
pub struct Stop {
    pub draining: CancellationToken,
    pub timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, closes idle
/// connections, lets requests in flight finish and returns when every connection is gone (or
/// after `stop.timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop: Stop,
) {
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout_s = limits.header_read.as_secs(),
        keepalive_s = limits.keepalive.map(|d| d.as_secs()).unwrap_or(0),
        body_read_timeout_s = limits.body_read.as_secs(),
        "connection limits"
    );
    let registry = Arc::new(Registry::default());
    let closing = CancellationToken::new();
    let epoch = Instant::now();
    let limits = Arc::new(limits);
    let mut next_id: u64 = 0;
    let mut warnings = Warnings::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                next_id += 1;
                let activity = Arc::new(Activity::new(epoch));
                let open = registry.insert(next_id, activity.clone());
                if open > limits.max_connections && registry.close_oldest_idle() {
                    warnings.at_cap(open);
                }
                tokio::spawn(connection(
                    stream,
                    peer,
                    next_id,
                    activity,
                    router.clone(),
                    limits.clone(),
                    registry.clone(),
                    closing.clone(),
                    stop.draining.clone(),
                ));
            }
            // The peer gave up before we took the connection: nothing to do.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of descriptors (or memory): make room by closing an idle connection and
                // wait for some connection to end, or a moment, before accepting again.
                warnings.accept_failed(&e, registry.len());
                let ended = registry.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                registry.close_oldest_idle();
                tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = ended => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    // Connections the kernel has already completed are served rather than reset with the
    // listener; only then does it close.
    let queued = take_queued(listener);
    for (stream, peer) in queued {
        next_id += 1;
        let activity = Arc::new(Activity::new(epoch));
        registry.insert(next_id, activity.clone());
        tokio::spawn(connection(
            stream,
            peer,
            next_id,
            activity,
            router.clone(),
            limits.clone(),
            registry.clone(),
            closing.clone(),
            stop.draining.clone(),
        ));
    }
    closing.cancel();
    if tokio::time::timeout(stop.timeout, registry.wait_empty())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = registry.len(),
            "connections still busy after services.api.shutdownTimeout are cut off"
        );
    }
}

/// Accepts every connection already queued on `listener` without waiting, then closes it.
fn take_queued(listener: TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut out = Vec::new();
    let Ok(std_listener) = listener.into_std() else {
        return out;
    };
    // The tokio listener was non-blocking; its std form keeps that, so `accept` never waits.
    while let Ok((stream, peer)) = std_listener.accept() {
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        if let Ok(stream) = TcpStream::from_std(stream) {
            out.push((stream, peer));
        }
    }
    out
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Warnings about the cap and failed accepts, at most one of each kind every 10 seconds (a
/// flood of connections must not become a flood of log lines).
#[derive(Default)]
struct Warnings {
    cap: Option<Instant>,
    cap_closed: u64,
    accept: Option<Instant>,
    accept_failed: u64,
}

const WARN_EVERY: Duration = Duration::from_secs(10);

impl Warnings {
    fn due(last: &mut Option<Instant>) -> bool {
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn at_cap(&mut self, open: usize) {
        self.cap_closed += 1;
        if Self::due(&mut self.cap) {
            tracing::warn!(
                open,
                closed = self.cap_closed,
                "connection limit reached: closing the oldest idle connections for new ones \
                 (services.api.maxConnections)"
            );
            self.cap_closed = 0;
        }
    }

    fn accept_failed(&mut self, e: &std::io::Error, open: usize) {
        self.accept_failed += 1;
        if Self::due(&mut self.accept) {
            tracing::warn!(
                open,
                failures = self.accept_failed,
                "cannot accept a connection ({e}); closing an idle one"
            );
            self.accept_failed = 0;
        }
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Registry {
    open: Mutex<BTreeMap<u64, Arc<Activity>>>,
    /// Told whenever a connection ends.
    ended: Notify,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Activity>>> {
        // Nothing panics while holding the lock; a poisoned map is still consistent.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection; returns how many are open.
    fn insert(&self, id: u64, activity: Arc<Activity>) -> usize {
        let mut open = self.lock();
        open.insert(id, activity);
        open.len()
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.ended.notify_waiters();
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Asks the oldest connection without a request in flight to close. False when every
    /// connection is busy.
    fn close_oldest_idle(&self) -> bool {
        let open = self.lock();
        for activity in open.values() {
            if activity.in_flight.load(Ordering::Acquire) == 0
                && !activity.evicted.swap(true, Ordering::AcqRel)
            {
                activity.wake.notify_one();
                return true;
            }
        }
        false
    }

    async fn wait_empty(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            ended.await;
        }
    }
}

/// What one connection is doing, shared by its task, its socket reads and its requests.
struct Activity {
    epoch: Instant,
    /// Requests handed to the router whose response has not been sent yet.
    in_flight: AtomicU32,
    /// At least one response was produced on this connection.
    served: AtomicBool,
    /// Milliseconds since `epoch` when the connection started or its last response ended.
    idle_since: AtomicU64,
    /// Milliseconds since `epoch`, plus one, of the first byte of a request head not yet
    /// handed to the router; 0 when none.
    head_since: AtomicU64,
    /// Asked to close by the connection cap.
    evicted: AtomicBool,
    wake: Notify,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        let a = Activity {
            epoch,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        };
        a.idle_since.store(a.now_ms(), Ordering::Release);
        a
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Bytes arrived from the client.
    fn bytes_read(&self, limits: &Limits) {
        if self.busy() || self.head_since.load(Ordering::Acquire) != 0 {
            return;
        }
        self.head_since.store(self.now_ms() + 1, Ordering::Release);
        // Between requests the task sleeps until the keep-alive deadline; a head that has
        // begun must finish by the (earlier) header deadline, so the task recomputes.
        if self.served.load(Ordering::Acquire) && limits.keepalive > Some(limits.header_read) {
            self.wake.notify_one();
        }
    }

    /// When this connection is to be closed for a timeout if nothing changes; `None` while a
    /// request is in flight.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.busy() {
            return None;
        }
        let head = self.head_since.load(Ordering::Acquire);
        if head != 0 {
            return Some(self.at(head - 1) + limits.header_read);
        }
        let idle = self.at(self.idle_since.load(Ordering::Acquire));
        if self.served.load(Ordering::Acquire) {
            Some(idle + limits.keepalive.unwrap_or(Duration::ZERO))
        } else {
            Some(idle + limits.header_read)
        }
    }
}

/// Marks a request in flight until dropped (when its response body is done or abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_since.store(0, Ordering::Release);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.served.store(true, Ordering::Release);
        a.idle_since.store(a.now_ms(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves one connection until it ends, times out, is evicted or the server stops.
#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    activity: Arc<Activity>,
    router: Router,
    limits: Arc<Limits>,
    registry: Arc<Registry>,
    stopping: CancellationToken,
    draining: CancellationToken,
) {
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
        limits: limits.clone(),
    });
    let service = ConnService {
        router,
        peer,
        activity: activity.clone(),
        body_read: limits.body_read,
        trusted_proxies: limits.trusted_proxies.clone(),
        draining,
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(limits.keepalive.is_some())
        // The timeouts are kept here (see the module documentation).
        .header_read_timeout(None);
    // Boxed so that it can be dropped (closing the socket) before the registry hears of it.
    let mut conn = Box::pin(http.serve_connection(io, service));
    // Set once closing has begun: when to drop the connection if it has not ended by then
    // (`None`: when its request in flight is done).
    let mut closing: Option<Option<Instant>> = None;
    loop {
        let deadline = match closing {
            Some(Some(at)) => Some(at),
            Some(None) if activity.busy() => Some(Instant::now() + limits.recheck()),
            Some(None) => {
                closing = Some(Some(Instant::now() + CLOSE_GRACE));
                continue;
            }
            // Looked at again at least every `recheck`: a request that began and ended since
            // moves the deadline, and nothing wakes the task for that.
            None => {
                let recheck = Instant::now() + limits.recheck();
                Some(
                    activity
                        .deadline(&limits)
                        .map_or(recheck, |d| d.min(recheck)),
                )
            }
        };
        let close = tokio::select! {
            biased;
            _ = conn.as_mut() => break,
            _ = stopping.cancelled(), if closing.is_none() => true,
            _ = activity.wake.notified() => {
                closing.is_none() && activity.evicted.load(Ordering::Acquire)
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)),
                if deadline.is_some() =>
            {
                match closing {
                    // A request began in the grace given to a connection not yet used: it
                    // finishes first.
                    Some(Some(_)) if activity.busy() => {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(None);
                        false
                    }
                    // Still not done after the grace: drop it.
                    Some(Some(_)) => break,
                    Some(None) => false,
                    None => activity.deadline(&limits).is_some_and(|d| d <= Instant::now()),
                }
            }
        };
        if !close {
            continue;
        }
        if !activity.busy() && !activity.served.load(Ordering::Acquire) {
            if stopping.is_cancelled() {
                // Accepted as the server stops: its client may be sending the first request
                // right now, and closing would reset it. It gets the grace to begin.
                closing = Some(Some(Instant::now() + CLOSE_GRACE));
                continue;
            }
            // Nothing was ever answered here, so nothing can be lost: close at once.
            break;
        }
        // hyper closes an idle connection now, and one with a request in flight after its
        // response; a response still being written gets `CLOSE_GRACE` to finish.
        conn.as_mut().graceful_shutdown();
        closing = Some((!activity.busy()).then(|| Instant::now() + CLOSE_GRACE));
    }
    drop(conn);
    registry.remove(id);
}

/// The client socket, noting when bytes of a new request head arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    limits: Arc<Limits>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read(&this.limits);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router as one connection's hyper service: the peer address in the request extensions
/// (`ConnectInfo`, for rate limits and the audit log), the body read timeout, and the request
/// counted in flight until its response is sent.
struct ConnService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    body_read: Duration,
    trusted_proxies: Arc<[crate::config::services::IpNet]>,
    /// Set when the server begins to stop: answers then close their connection.
    draining: CancellationToken,
}

/// The client a request is from: the connection's peer, or, when the peer is one of the
/// trusted proxies, the right-most `X-Forwarded-For` address that is not itself a trusted
/// proxy (each proxy appends the address it was reached from, so entries left of an
/// untrusted hop may be forged and are not read). An entry that is not an address stops the
/// walk at the last good one.
pub(crate) fn client_addr(
    peer: SocketAddr,
    trusted: &[crate::config::services::IpNet],
    headers: &axum::http::HeaderMap,
) -> SocketAddr {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if trusted.is_empty() || !is_trusted(peer.ip()) {
        return peer;
    }
    let mut client = peer.ip();
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            break;
        };
        for hop in text.rsplit(',') {
            let hop = hop.trim();
            let ip = hop
                .parse::<std::net::IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()));
            let Some(ip) = ip else {
                return SocketAddr::new(client, 0);
            };
            client = ip.to_canonical();
            if !is_trusted(client) {
                return SocketAddr::new(client, 0);
            }
        }
    }
    SocketAddr::new(client, if client == peer.ip() { peer.port() } else { 0 })
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<InFlightBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::start(self.activity.clone());
        let client = client_addr(self.peer, &self.trusted_proxies, req.headers());
        req.extensions_mut().insert(ConnectInfo(client));
        let timed_out = Arc::new(AtomicBool::new(false));
        let pause = self.body_read;
        let flag = timed_out.clone();
        let req = req.map(|body| axum::body::Body::new(BodyTimeout::new(body, pause, flag)));
        let router = self.router.clone();
        let draining = self.draining.clone();
        Box::pin(async move {
            let response = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            // The handler saw the read fail (and stored nothing); whatever it made of that,
            // the client is told it was too slow.
            let response = if timed_out.load(Ordering::Acquire) && !response.status().is_success() {
                request_timeout(&response, pause)
            } else {
                response
            };
            let mut response = response;
            if draining.is_cancelled() {
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            Ok(response.map(|inner| InFlightBody::new(inner, in_flight)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(max_connections: u64) -> crate::config::Api {
        crate::config::Api {
            max_connections,
            ..Default::default()
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address() {
        use crate::config::services::IpNet;
        let trusted: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.5"]
            .iter()
            .map(|t| IpNet::parse(t).unwrap())
            .collect();
        let peer = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 4711);
        let xff = |values: &[&str]| {
            let mut h = axum::http::HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        let ip = |a: SocketAddr| a.ip().to_string();
        // From a trusted proxy: the right-most entry that is not a proxy.
        let h = xff(&["6.6.6.6, 203.0.113.7, 10.1.2.3"]);
        assert_eq!(
            ip(client_addr(peer("10.0.0.1"), &trusted, &h)),
            "203.0.113.7"
        );
        // Several headers read as one list, in order.
        let h = xff(&["203.0.113.8", "192.168.1.5"]);
        assert_eq!(
            ip(client_addr(peer("10.9.9.9"), &trusted, &h)),
            "203.0.113.8"
        );
        // IPv4-mapped IPv6 peers and [v6]:port entries.
        let h = xff(&["[2001:db8::1]:443"]);
        assert_eq!(
            ip(client_addr(peer("::ffff:10.0.0.1"), &trusted, &h)),
            "2001:db8::1"
        );
        // From anyone else the header is ignored.
        let h = xff(&["203.0.113.7"]);
        assert_eq!(
            client_addr(peer("172.16.0.1"), &trusted, &h),
            peer("172.16.0.1")
        );
        assert_eq!(client_addr(peer("10.0.0.1"), &[], &h), peer("10.0.0.1"));
        // No header: the proxy itself; a bad entry stops at the last good hop.
        assert_eq!(
            client_addr(peer("10.0.0.1"), &trusted, &xff(&[])),
            peer("10.0.0.1")
        );
        let h = xff(&["203.0.113.7, garbage, 10.2.2.2"]);
        assert_eq!(ip(client_addr(peer("10.0.0.1"), &trusted, &h)), "10.2.2.2");
        // Bad configuration entries are named.
        let api = crate::config::Api {
            trusted_proxies: vec!["10.0.0.0/8".into(), "10.0.0.0/33".into()],
            ..Default::default()
        };
        let e = api.proxies().unwrap_err();
        assert!(
            e.contains("trustedProxies[1]") && e.contains("0 to 32"),
            "{e}"
        );
        assert!(IpNet::parse("proxy.local").is_err());
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn the_automatic_cap_stays_below_the_file_limit() {
        assert_eq!(Limits::new(&api(0), Some(1024)).max_connections, 768);
        assert_eq!(Limits::new(&api(0), Some(256)).max_connections, 192);
        assert_eq!(
            Limits::new(&api(0), Some(1 << 20)).max_connections,
            (1 << 20) - 4096
        );
        // A tiny limit still leaves a few connections.
        assert_eq!(Limits::new(&api(0), Some(40)).max_connections, 16);
        assert_eq!(Limits::new(&api(0), None).max_connections, usize::MAX);
    }

    #[test]
    fn a_configured_cap_is_kept_only_when_it_fits() {
        assert_eq!(Limits::new(&api(100), Some(1024)).max_connections, 100);
        assert_eq!(Limits::new(&api(5000), Some(1024)).max_connections, 768);
    }

    #[test]
    fn keepalive_zero_turns_keep_alive_off() {
        let mut a = api(0);
        a.keepalive = 0;
        let limits = Limits::new(&a, Some(1024));
        assert_eq!(limits.keepalive, None);
        assert_eq!(limits.recheck(), Duration::from_secs(1));
        a.keepalive = 120;
        a.header_read_timeout = 30;
        assert_eq!(Limits::new(&a, None).recheck(), Duration::from_secs(30));
    }
}
