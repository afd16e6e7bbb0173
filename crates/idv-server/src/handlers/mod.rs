//! HTTP handlers by resource. Each is thin: parse, authorize (the guard did the coarse check),
//! call an operation in [`crate::ops`], shape the answer.

pub mod apikeys;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod deliveries;
pub mod devices;
pub mod events;
pub mod exchange;
pub mod files;
pub mod gateway;
pub mod links;
pub mod mobile;
pub mod search;
pub mod security;
pub mod sessions;
pub mod stats;
pub mod system;
pub mod views;
pub mod webhooks;
pub mod workflows;

use crate::auth::Principal;
use std::sync::Arc;

/// The authenticated caller, put in place by the route guard.
pub(crate) type Caller = axum::Extension<Arc<Principal>>;
