//! The wire contract: every request and response body of the HTTP API as a Rust type (serde),
//! with its JSON schema (utoipa) for the OpenAPI document. Field names and shapes are Regula's.
//! One file per area.

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod common;
pub mod devices;
pub mod events;
pub mod sessions;
pub mod system;
pub mod views;
pub mod webhooks;
pub mod workflows;
