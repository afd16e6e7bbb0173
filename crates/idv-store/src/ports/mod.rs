//! The store port, one trait per capability. [`crate::Store`] is all of them together.
//!
//! A new store method goes in the trait of its capability (a file here), in the module of
//! each adapter that implements that trait, and in the conformance check of that capability
//! (crate `idv-store-conformance`), and nowhere else. An id parameter takes the typed id of
//! its entity ([`crate::SessionId`], [`crate::FileId`], …, borrowed and `Copy`), never a bare
//! `&str`, so two ids cannot be swapped unnoticed; names, hashes and keys stay `&str`.
//!
//! Where each adapter implements a port (`crates/idv-store-sqlite/src/` and
//! `crates/idv-store-postgres/src/` alike):
//!
//! | port | adapter module | conformance |
//! | --- | --- | --- |
//! | [`HealthStore`] | `lib.rs` | `lib.rs` (`run_all`) |
//! | [`SettingsStore`] | `settings.rs` | `accounts.rs` |
//! | [`AccountStore`] | `users.rs` | `accounts.rs` |
//! | [`CredentialStore`] | `api_keys.rs` | `credentials.rs`, `devices.rs` |
//! | [`WorkflowStore`] | `workflows.rs` | `workflows.rs`, `assets.rs` |
//! | [`SessionStore`] | `sessions.rs` | `sessions.rs` |
//! | [`FileStore`] | `files.rs` | `sessions.rs` |
//! | [`JobStore`] | `engine.rs` | `engine.rs`, `jobs.rs` |
//! | [`SearchStore`] | `search.rs` | `search.rs` |
//! | [`DeletionStore`] | `deletion.rs` | `deletion.rs` |
//! | [`ExchangeStore`] | `exchange.rs` | `exchange.rs` |
//! | [`AuditStore`] | `audit.rs` | `audit.rs` |
//! | [`IdempotencyStore`] | `idempotency.rs` | `audit.rs` |
//! | [`EventStore`], [`OutboxStore`] | `outbox.rs` | `outbox.rs` |
//! | [`StartLinkStore`] | `start_links.rs` | `start_links.rs` |
//! | [`ClusterStore`] | `cluster.rs` | `cluster.rs` |
//! | [`CopyStore`] | `copy.rs` | `copy.rs` |
//!
//! The SQL and query functions that already read the same in both adapters live once, in crate
//! `idv-store-sql`, and the adapter modules expand them; a new method may write its statement
//! in the two adapter modules and move it there later.

pub mod accounts;
pub mod audit_log;
pub mod cluster;
pub mod copy;
pub mod credentials;
pub mod deletion;
pub mod events;
pub mod exchange;
pub mod files;
pub mod health;
pub mod idempotency_keys;
pub mod jobs;
pub mod outbox;
pub(crate) mod search_views;
pub mod sessions;
pub mod settings;
pub mod start_links;
pub mod workflows;

pub use accounts::AccountStore;
pub use audit_log::AuditStore;
pub use cluster::{ClusterStore, Heard, LeaderContender, SignalListener};
pub use copy::{CopyBatch, CopyStore, CopyValue};
pub use credentials::CredentialStore;
pub use deletion::DeletionStore;
pub use events::EventStore;
pub use exchange::ExchangeStore;
pub use exchange::SessionImport;
pub use files::FileStore;
pub use health::{Backlog, HealthStore, PoolStats};
pub use idempotency_keys::IdempotencyStore;
pub use jobs::JobStore;
pub use outbox::OutboxStore;
pub use search_views::SearchStore;
pub use sessions::SessionStore;
pub use settings::SettingsStore;
pub use start_links::StartLinkStore;
pub use workflows::WorkflowStore;
