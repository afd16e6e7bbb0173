//! Helpers shared by the webhook tests (and, by path, by the binary's tests).

pub mod delivery;
pub mod receiver;
