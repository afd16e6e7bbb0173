//! The conformance suite: one set of behaviours every [`crate::Store`] adapter must show. Each
//! adapter's tests call [`run_all`] with a fresh, empty store.

use crate::Store;
use std::sync::Arc;

/// Runs every conformance check against `store`, which must be empty. Panics on the first
/// behaviour that differs from the contract.
pub async fn run_all(store: Arc<dyn Store>) {
    let _ = store.ping().await.expect("ping");
}
