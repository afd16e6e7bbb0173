//! (being written)

use std::sync::Arc;

use axum::Router;

use crate::{Engine, Settings};

/// Transactions kept for reading again.
pub struct State {}

impl State {
    pub fn new(_settings: &Settings) -> Self {
        State {}
    }
}

pub fn routes() -> Router<Arc<Engine>> {
    Router::new()
}
