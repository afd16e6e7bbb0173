//! idv domain: identifiers, time, permissions, session statuses, the error catalogue and the
//! workflow model and engine. Nothing here does I/O; adapters and the server build on it.

pub mod error;
pub mod ids;
pub mod permission;
pub mod search;
pub mod status;
pub mod time;
pub mod workflow;

pub use error::{Error, ErrorCode};
