//! Helpers shared by the webhook tests (and, by path, by the binary's tests), and the reader of
//! Regula's own files for the compatibility tests.

pub mod browser;
pub mod delivery;
#[macro_use]
pub mod regula;
pub mod receiver;
