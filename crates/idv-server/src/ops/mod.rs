//! Operations shared by the HTTP handlers and the CLI, so a rule lives in one place.

pub mod apikeys;
pub mod assets;
pub mod backup;
pub mod deletion;
pub mod devices;
pub mod exchange;
pub mod links;
pub mod review;
pub mod search;
pub mod sessions;
pub mod uploads;
pub mod users;
pub mod views;
pub mod webhooks;
pub mod workflows;
