//! The conformance suite: one set of behaviours every [`idv_store::Store`] adapter must show. Each
//! adapter's tests call [`run_all`] with a fresh, empty store.
//!
//! Every check panics, naming the behaviour, on the first difference from the contract. Where
//! the trait leaves a detail open, the suite pins down the one both adapters implement:
//! - lists "oldest first" / "newest first" break ties on `created_at` by insertion order;
//! - lists "by name" use byte order (`"Beta"` before `"alpha"`), whatever the database locale;
//! - any unique-key clash (a name or an id given twice) is [`idv_store::StoreError::Conflict`];
//! - `apikey_touch` never moves `last_used_at` backwards;
//! - deleting a workflow that is already deleted reports false;
//! - `session_update` writes every field but the id;
//! - `translations_put` given one `(key, code)` twice keeps the later value;
//! - a workflow definition keeps its key order (it is shown back to its author);
//! - `session_advance` that fails on an insert (a taken file or job id) is a `Conflict` and
//!   writes nothing; a `done_job` that does not exist is no error;
//! - `job_claim` breaks ties on `run_at` by id, and a claim keeps `last_error`;
//! - `job_release` of an unknown id is no error;
//! - `job_next_due` counts a leased job from the end of its lease (`locked_until + 1`);
//! - `session_expired` breaks ties on `expires_at` by id;
//! - search compares JSON values type-strictly and strings in byte order; `$eq null` matches a
//!   missing key, `$ne`/`$nin` match missing keys, `$exists` counts an explicit null;
//! - views are listed by key in byte order.
//! - session step counts and counted workflows are in byte order.
//! - `session_delete` lists the deleted file rows without their inline bytes, and
//!   `session_stale` breaks ties on `updated_at` by id.
//! - `device_token_exchange` with a replacement whose id is taken is a `Conflict` and leaves
//!   the one-time token unused.
//! - `session_ids_after` with `None` starts before every id.
//! - start links are listed newest first, ties by id (newest id first); revoking a revoked
//!   link keeps its first time and reports true.
//! - a lookup by text holding a NUL finds nothing or is `Invalid` (PostgreSQL cannot hold it),
//!   and an audit entry holding NULs is stored with U+FFFD in their place.
//! - signals reach a listener in the order sent; a store with no listener (one process) always
//!   leads.
//!
//! The checks are public so an adapter can run one alone while it is being written; each
//! expects the tables it lists to be empty, which holds on a fresh store and in [`run_all`].

mod accounts;
mod assets;
mod audit;
mod cluster;
mod concurrent;
mod copy;
mod counts;
mod credentials;
mod deletion;
mod devices;
mod engine;
mod exchange;
mod jobs;
mod outbox;
mod search;
mod sessions;
mod start_links;
mod unstorable;
mod workflows;

pub use accounts::{check_roles, check_setting_race, check_settings, check_users};
pub use assets::{check_asset_race, check_assets};
pub use audit::{check_audit, check_audit_append_race, check_idempotency, check_idempotency_race};
pub use cluster::check_cluster;
pub use concurrent::check_concurrent_session_writes;
pub use copy::check_copy;
pub use counts::check_session_counts;
pub use credentials::{check_api_keys, check_tokens};
pub use deletion::{check_retention_selection, check_session_deletion};
pub use devices::{check_device_token_exchange_race, check_device_tokens};
pub use engine::{check_engine_state, check_session_advance, check_session_expiry};
pub use exchange::{check_session_import, check_workflow_import};
pub use jobs::{check_job_claim_race, check_job_claims};
pub use outbox::{check_delivery_claim_race, check_outbox, check_webhook_reseal};
pub use search::{check_session_search, check_views};
pub use sessions::{check_files, check_sessions};
pub use start_links::{check_start_link_use_race, check_start_links};
pub use unstorable::check_unstorable_text;
pub use workflows::{check_translations, check_workflows};

use idv_store::{Store, StoreError, StoreResult};
use std::fmt::Debug;
use std::sync::Arc;

/// Runs every conformance check against `store`, which must be empty. Panics on the first
/// behaviour that differs from the contract.
pub async fn run_all(store: Arc<dyn Store>) {
    let shared = store.clone();
    let store = store.as_ref();
    store.ping().await.expect("ping answers");
    let pool = store.pool_stats();
    assert!(
        pool.max >= 1 && pool.open <= pool.max && pool.idle <= pool.open,
        "pool_stats is consistent: {pool:?}"
    );
    assert!(
        matches!(store.backend(), "sqlite" | "postgres"),
        "backend() names a known backend, got {:?}",
        store.backend()
    );
    check_settings(store).await;
    check_setting_race(store, store).await;
    check_users(store).await;
    check_roles(store).await;
    check_api_keys(store).await;
    check_tokens(store).await;
    check_workflows(store).await;
    check_translations(store).await;
    check_assets(store).await;
    check_asset_race(store, store).await;
    check_sessions(store).await;
    check_files(store).await;
    check_engine_state(store).await;
    check_session_advance(store).await;
    check_job_claims(store).await;
    check_job_claim_race(shared.clone(), shared.clone()).await;
    check_session_expiry(store).await;
    check_session_search(store).await;
    check_views(store).await;
    check_session_deletion(store).await;
    check_retention_selection(store).await;
    check_session_counts(store).await;
    check_device_tokens(store).await;
    check_device_token_exchange_race(shared.clone(), shared.clone()).await;
    check_audit(store).await;
    check_audit_append_race(shared.clone(), shared.clone()).await;
    check_unstorable_text(store).await;
    check_idempotency(store).await;
    check_idempotency_race(shared.clone(), shared.clone()).await;
    check_outbox(store).await;
    check_delivery_claim_race(shared.clone(), shared.clone()).await;
    check_webhook_reseal(store).await;
    check_start_links(store).await;
    check_start_link_use_race(shared.clone(), shared.clone()).await;
    check_cluster(store, store).await;
    // Last: its job never comes due.
    check_workflow_import(store).await;
    check_session_import(store).await;
    check_copy(store).await;
    check_concurrent_session_writes(shared.clone()).await;
}

/// A 24-hex id whose value is `n`, so a check can choose how ids sort against each other.
fn hex_id(n: u64) -> String {
    format!("{n:024x}")
}

/// Panics unless `result` is a `Conflict`.
#[track_caller]
fn assert_conflict<T: Debug>(result: StoreResult<T>, what: &str) {
    match result {
        Err(e @ StoreError::Conflict { .. }) => assert!(
            std::error::Error::source(&e).is_some(),
            "{what}: the Conflict keeps the driver's error as its source"
        ),
        other => panic!("{what}: expected Err(Conflict), got {other:?}"),
    }
}
