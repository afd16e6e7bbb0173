//! (being written)

use std::sync::Arc;

use axum::Router;

use crate::Engine;

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
}
