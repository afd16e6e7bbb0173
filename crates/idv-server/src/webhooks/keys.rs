//! The server's Ed25519 webhook signing key (`v1a` signatures). It is made once, on first use,
//! and kept in the database's settings, so every `idv serve` process sharing the database signs
//! with the same key and a receiver needs only the one public key from
//! `GET /api/webhooks/signing-key`. The seed is stored encrypted ([`crate::secrets`]); every
//! start makes it if missing ([`crate::secrets::reseal`]).

use super::sign::SigningKeyPair;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use std::sync::Arc;

/// The settings key that holds the private seed (`whsk_…`, encrypted).
pub const SETTING: &str = "webhook_ed25519_seed";

/// The signing key, read (or, on an empty database, made) once per process.
pub(crate) async fn server_key(state: &AppState) -> ApiResult<Arc<SigningKeyPair>> {
    state
        .webhook_key
        .get_or_try_init(|| async {
            let fresh = state.secrets.seal(&SigningKeyPair::generate().seed_text());
            // Two processes racing on an empty database both get the first-stored seed.
            let stored = state.store.setting_get_or_insert(SETTING, &fresh).await?;
            let seed =
                crate::secrets::records::open_text(&state.secrets, &stored).map_err(|e| {
                    ApiError::new(
                        ErrorCode::Internal,
                        format!("the stored webhook signing key cannot be read: {e}"),
                    )
                })?;
            SigningKeyPair::from_seed_text(&seed)
                .map(Arc::new)
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::Internal,
                        format!("the stored webhook signing key is unreadable: {e}"),
                    )
                })
        })
        .await
        .cloned()
}
