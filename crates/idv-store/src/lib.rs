//! Storage ports. [`Store`] is the one interface to the database, implemented by the SQLite and
//! PostgreSQL adapters; it is the sum of one trait per capability in [`ports`] (sessions, files,
//! workflows, accounts, credentials, search, outbox, audit, jobs, …), each in its own file.
//! Code that calls store methods on a concrete adapter imports them with
//! `use idv_store::prelude::*` (through `dyn Store` they are in scope already).
//! [`blobs::Blobs`] is the one interface to file storage. The conformance suite (crate
//! `idv-store-conformance`) runs against every adapter, so both behave the same.

pub mod audit;
pub mod blobs;
pub mod idempotency;
pub mod outbox;
pub mod ports;
pub mod records;
pub mod search;

pub use audit::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry};
pub use idempotency::IdempotencyRecord;
/// The ids the ports take, each its own borrowed type (defined with the id generator in
/// `idv_core::ids`), so two ids cannot be swapped unnoticed.
pub use idv_core::ids::{
    ApiKeyId, AssetId, DeliveryId, DeviceTokenId, FileId, JobId, PrincipalId, SessionId,
    StartLinkId, TokenFamilyId, UserId, WebhookId, WorkflowId,
};
pub use outbox::*;
pub use ports::*;
pub use records::*;
pub use search::*;

/// The underlying failure a [`StoreError`] keeps as its `source()`: the driver's or the file
/// system's own error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Storage errors. `Conflict` is a unique-key clash (a name taken twice); `Invalid` is a value
/// the database refuses to hold (text with a NUL character on PostgreSQL, a number out of
/// range): the input is at fault, not the database, and trying again cannot help. Everything
/// else an adapter cannot recover from is `Backend`.
///
/// Each variant carries a message (what its `Display` shows) and, when the failure came from
/// the driver or the operating system, that error as its [`std::error::Error::source`], so
/// callers and logs can walk the chain or downcast it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the database cannot hold a value: {message}")]
    Invalid {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("storage backend: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// A unique-key clash on `what`, caused by `source`.
    pub fn conflict(what: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Conflict {
            message: what.into(),
            source: Some(source.into()),
        }
    }

    /// A value the database refused, as `source` says.
    pub fn invalid(source: impl Into<BoxError>) -> StoreError {
        let source = source.into();
        StoreError::Invalid {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// A backend failure with no underlying error (a row the adapter cannot read back).
    pub fn backend(message: impl Into<String>) -> StoreError {
        StoreError::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A backend failure caused by `source`, shown as `message`.
    pub fn backend_from(message: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A backend failure caused by `source`, shown as `source` itself shows.
    pub fn backend_source(source: impl Into<BoxError>) -> StoreError {
        let source = source.into();
        StoreError::Backend {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// The message, without the variant's prefix.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Conflict { message, .. }
            | StoreError::Invalid { message, .. }
            | StoreError::Backend { message, .. } => message,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database: every capability port together. SQL lives only in the adapters. A type that
/// implements all the ports is a `Store`, and `Arc<dyn Store>` is what the server holds; code
/// that calls its methods imports the ports with `use idv_store::prelude::*`.
pub trait Store:
    HealthStore
    + SettingsStore
    + AccountStore
    + CredentialStore
    + WorkflowStore
    + SessionStore
    + FileStore
    + JobStore
    + SearchStore
    + DeletionStore
    + ExchangeStore
    + AuditStore
    + IdempotencyStore
    + EventStore
    + OutboxStore
    + StartLinkStore
    + ClusterStore
    + CopyStore
{
}

impl<T> Store for T where
    T: HealthStore
        + SettingsStore
        + AccountStore
        + CredentialStore
        + WorkflowStore
        + SessionStore
        + FileStore
        + JobStore
        + SearchStore
        + DeletionStore
        + ExchangeStore
        + AuditStore
        + IdempotencyStore
        + EventStore
        + OutboxStore
        + StartLinkStore
        + ClusterStore
        + CopyStore
{
}

/// The store traits, for code that calls store methods: `use idv_store::prelude::*;`.
pub mod prelude {
    pub use crate::Store;
    pub use crate::ports::{
        AccountStore, AuditStore, ClusterStore, CopyStore, CredentialStore, DeletionStore,
        EventStore, ExchangeStore, FileStore, HealthStore, IdempotencyStore, JobStore, OutboxStore,
        SearchStore, SessionStore, SettingsStore, StartLinkStore, WorkflowStore,
    };
}
