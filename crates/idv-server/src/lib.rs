//! The idv HTTP server: configuration, authentication, the route table and its handlers, and
//! [`serve`], the one seam that the binary and the tests start the server through.

pub mod api;
pub mod audit;
pub mod auth;
pub mod body;
pub mod cluster;
pub mod config;
pub(crate) mod cors;
pub mod error;
pub(crate) mod events;
pub mod flow;
pub mod handlers;
pub mod idempotency;
pub(crate) mod listen;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod ops;
pub mod outbound;
pub(crate) mod params;
pub(crate) mod qr_png;
pub mod ratelimit;
pub(crate) mod request_log;
pub mod routes;
pub mod scheduler;
pub mod secrets;
pub mod state;
pub mod storage;
pub(crate) mod web;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use config::Config;
use state::{AppState, StartupError};
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// Opens everything `config` names and prepares the platform: migrations, the first admin on an
/// empty database, the workflows folders. `base_url` is the effective public URL.
pub async fn prepare(
    config: Config,
    base_url: String,
    admin_password: Option<String>,
) -> Result<AppState, StartupError> {
    prepare_with_clock(
        config,
        base_url,
        admin_password,
        std::sync::Arc::new(idv_core::time::SystemClock),
    )
    .await
}

/// [`prepare`] on a given clock.
pub async fn prepare_with_clock(
    config: Config,
    base_url: String,
    admin_password: Option<String>,
    clock: std::sync::Arc<dyn idv_core::time::Clock>,
) -> Result<AppState, StartupError> {
    let state = AppState::open_with_clock(config, base_url, clock).await?;
    // Before anything is served: no secret stays in clear text, and a key that cannot read
    // the database's secrets stops the start here.
    let resealed = secrets::reseal::run(state.store.as_ref(), &state.secrets)
        .await
        .map_err(StartupError)?;
    tracing::info!("secrets at rest: {}", resealed.summary(&state.secrets));
    match ops::users::ensure_admin(&state, admin_password).await {
        Ok(Some(password)) => {
            // Printed once, on the console only; never logged.
            println!(
                "Created the first user: admin with password {password}\nStore it now: it is not shown again."
            );
        }
        Ok(None) => {}
        Err(e) => {
            return Err(StartupError(format!(
                "cannot create the first user: {}",
                e.0.message
            )));
        }
    }
    for (path, outcome) in ops::workflows::load_folders(&state).await {
        match outcome {
            Ok(ops::workflows::Applied::Workflow {
                summary,
                revision,
                changed,
            }) => {
                tracing::info!(file = %path, id = %summary.id, revision, changed, "workflow loaded");
            }
            Ok(ops::workflows::Applied::Translations { entries, .. }) => {
                tracing::info!(file = %path, entries, "translations loaded");
            }
            Err(problems) => tracing::error!(file = %path, "workflow file refused: {problems}"),
        }
    }
    for (path, outcome) in ops::assets::load_folder(&state).await {
        let file = path.display();
        match outcome {
            Ok(ops::assets::FolderOutcome::Stored { id }) => {
                tracing::info!(%file, %id, "asset loaded")
            }
            Ok(ops::assets::FolderOutcome::Unchanged { .. }) => {}
            Err(e) => tracing::error!(%file, "asset file refused: {}", e.0.message),
        }
    }
    Ok(state)
}

/// The whole HTTP application for a prepared state.
pub fn app(state: AppState) -> axum::Router {
    let limit = usize::try_from(state.config.services.api.max_body_size.0).unwrap_or(usize::MAX);
    let cors = cors::Policy::of(&state.config);
    let api = routes::router(state);
    // The portal's pages call this same router in-process (`web::portal::call`); it holds no
    // reference back to the outer one.
    let mut router = api
        .clone()
        .layer(axum::Extension(web::portal::call::PortalApi(api)));
    if let Some(policy) = cors {
        router = router.layer(axum::middleware::from_fn(move |req, next| {
            cors::apply(policy.clone(), req, next)
        }));
    }
    router
        .layer(DefaultBodyLimit::max(limit))
        .layer(TraceLayer::new_for_http().make_span_with(request_log::RequestSpan))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RequestIds::new()))
}

/// Request ids: a random per-process prefix and a counter, unique without a system call per
/// request (a random UUID per request cost a `getrandom` call on the hot path).
#[derive(Clone)]
struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    fn new() -> Self {
        Self {
            prefix: idv_core::ids::random_base36(8).into(),
            next: Default::default(),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Serves on `listener` until `shutdown` completes. The effective base URL comes from
/// `baseUrl`, or from the listener's address. On an empty database the first user `admin` gets
/// the password in `IDV_ADMIN_PASSWORD`, or a random one printed once.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    serve_with(
        listener,
        config,
        std::env::var("IDV_ADMIN_PASSWORD").ok(),
        shutdown,
    )
    .await
}

/// [`serve`] with the first admin's password given (tests use this; the binary reads the
/// environment).
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    admin_password: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    serve_with_clock(
        listener,
        config,
        admin_password,
        std::sync::Arc::new(idv_core::time::SystemClock),
        shutdown,
    )
    .await
}

/// [`serve_with`] on a given clock (tests move time forward to end session lifetimes).
pub async fn serve_with_clock(
    listener: TcpListener,
    config: Config,
    admin_password: Option<String>,
    clock: std::sync::Arc<dyn idv_core::time::Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let base_url = config.effective_base_url(listener.local_addr().ok());
    // Regula's keys this server accepts without using: one line each, saying what it uses
    // instead.
    for notice in &config.notices {
        if notice.warn {
            tracing::warn!(key = %notice.key, "{}", notice.message);
        } else {
            tracing::info!(key = %notice.key, "{}", notice.message);
        }
    }
    let state = prepare_with_clock(config, base_url, admin_password, clock).await?;
    // Before the API's line, which scripts take as the sign that everything is up.
    let metrics_listener = metrics::server::bind(&state).await.map_err(StartupError)?;
    if let Ok(addr) = listener.local_addr() {
        // The console line operators and scripts wait for.
        println!("idv listening on http://{addr}");
    }
    tracing::info!(database = state.store.backend(), base_url = %state.base_url, "idv ready");
    let stop = tokio_util::sync::CancellationToken::new();
    // Background actions still running when the stop's deadline comes are put back.
    let interrupt = tokio_util::sync::CancellationToken::new();
    let audit_writer = audit::start_writer(state.store.clone(), &state.audit);
    let workers = tokio::spawn(flow::run_workers(
        state.clone(),
        stop.clone(),
        interrupt.clone(),
    ));
    let deliveries = tokio::spawn(webhooks::worker::run(state.clone(), stop.clone()));
    // Before the scheduler: it runs its jobs only while this instance leads.
    let cluster = cluster::start(state.clone()).await;
    let scheduled = scheduler::jobs().start(state.clone());
    let metrics_served = metrics_listener
        .map(|l| tokio::spawn(metrics::server::run(l, state.clone(), stop.clone())));
    let stop_http = stop.clone();
    let stop_streams = state.shutdown.clone();
    let api = &state.config.services.api;
    let drain = listen::Stop {
        draining: state.draining.clone(),
        timeout: std::time::Duration::from_secs(api.shutdown_timeout),
    };
    let delay = std::time::Duration::from_secs(api.shutdown_delay);
    let draining = state.draining.clone();
    // When the stop began: the deadline of requests and background actions counts from it.
    let began = std::sync::Arc::new(std::sync::OnceLock::new());
    let began_at = began.clone();
    // Raises the open-file limit and sizes the connection cap under it.
    let limits = listen::Limits::for_process(api);
    listen::serve(
        listener,
        app(state.clone()),
        limits,
        async move {
            shutdown.await;
            let _ = began_at.set(tokio::time::Instant::now());
            draining.cancel();
            tracing::info!(
                delay_s = delay.as_secs(),
                "stopping: /api/ready answers 503; the listener closes after the delay"
            );
            tokio::time::sleep(delay).await;
            stop_http.cancel();
            // Live event streams never end on their own; a graceful stop would wait for them.
            stop_streams.cancel();
        },
        drain.clone(),
    )
    .await;
    stop.cancel();
    let deadline = began
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now)
        + drain.timeout;
    let interrupt_at_deadline = tokio::spawn(async move {
        tokio::time::sleep_until(deadline).await;
        interrupt.cancel();
    });
    // Background actions running finish, or are put back at the deadline.
    let _ = workers.await;
    interrupt_at_deadline.abort();
    // Webhook sends in flight finish or are abandoned (their leases lapse; they are sent again).
    let _ = deliveries.await;
    scheduled.stop().await;
    // Gives up the scheduler's leadership: another instance takes it at its next try.
    cluster.stop().await;
    if let Some(m) = metrics_served {
        let _ = m.await;
    }
    // Every audit entry of the requests served is stored before the process goes.
    audit_writer.stop().await;
    tracing::info!("stopped");
    Ok(())
}
