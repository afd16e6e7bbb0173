//! The store port, one trait per capability. [`crate::Store`] is all of them together.

pub mod accounts;
pub mod audit_log;
pub mod credentials;
pub mod deletion;
pub mod events;
pub mod exchange;
pub mod files;
pub mod health;
pub mod idempotency_keys;
pub mod jobs;
pub mod outbox;
pub mod search_views;
pub mod sessions;
pub mod settings;
pub mod workflows;

pub use accounts::AccountStore;
pub use audit_log::AuditStore;
pub use credentials::CredentialStore;
pub use deletion::DeletionStore;
pub use events::EventStore;
pub use exchange::ExchangeStore;
pub use exchange::SessionImport;
pub use files::FileStore;
pub use health::HealthStore;
pub use idempotency_keys::IdempotencyStore;
pub use jobs::JobStore;
pub use outbox::OutboxStore;
pub use search_views::SearchStore;
pub use sessions::SessionStore;
pub use settings::SettingsStore;
pub use workflows::WorkflowStore;
