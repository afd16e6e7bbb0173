//! Operations shared by the HTTP handlers and the CLI, so a rule lives in one place.

pub mod apikeys;
pub mod assets;
pub mod exchange;
pub mod sessions;
pub mod users;
pub mod workflows;
