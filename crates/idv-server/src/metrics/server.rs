//! The metrics listener: `GET /metrics` on `metrics.prometheus.listen`, nothing else.

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The media type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the metrics listener when `metrics.prometheus.enabled`; `None` when it is off.
pub async fn bind(state: &AppState) -> Result<Option<TcpListener>, String> {
    let cfg = &state.config.metrics.prometheus;
    if !cfg.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(&cfg.listen).await.map_err(|e| {
        format!(
            "cannot listen on {} (metrics.prometheus.listen): {e}",
            cfg.listen
        )
    })?;
    if let Ok(addr) = listener.local_addr() {
        // The console line scripts and tests wait for, beside the API's.
        println!("idv metrics on http://{addr}/metrics");
    }
    Ok(Some(listener))
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn run(listener: TcpListener, state: AppState, stop: CancellationToken) {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only GET /metrics here\n") })
        .with_state(state);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}

async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let text = state
        .metrics
        .render(state.store.as_ref(), state.clock.now_ms())
        .await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}
