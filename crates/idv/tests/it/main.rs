//! The `idv` binary's tests: one binary, a module per area; most run `idv` itself as a child
//! process (`CARGO_BIN_EXE_idv`) on a real database and files folder.

// Tests compare the server's answers with the real time of day (the server reads its `Clock`).
#![allow(clippy::disallowed_methods)]

#[macro_use]
mod support;
#[path = "../../../idv-server/tests/it/support/receiver.rs"]
mod receiver;

mod asset_cli;
mod audit_cli;
mod backup_cli;
mod cli;
mod clone_quickstart;
mod cluster;
mod crash;
mod link_cli;
mod log_secrets;
mod observe;
mod readme;
mod secrets_cli;
mod session_cli;
mod slow_clients;
mod view_search;
mod webhook_crash;
mod webhook_listen;
mod workflow_run;
