//! The pass every start makes (and `idv secrets rotate` on demand): every stored secret ends
//! encrypted under the current key. Clear values from an earlier version are encrypted, values
//! under a key of `secrets.previousKeys` are re-encrypted, and a value under a key that is not
//! configured stops the start with an error naming that key, before this instance writes
//! anything another could not read.
//!
//! Each endpoint is rewritten by a compare and swap of its secret columns alone, so the pass
//! can run while other instances serve. When anything was rewritten, the store then rewrites
//! its secret-holding tables so the old values leave the database's files too. The Ed25519 seed is made here when there is none: it
//! then also proves, on a new database, that every instance shares one key.

use super::{Keyring, Standing, records};
use crate::webhooks::keys::SETTING as SEED;
use crate::webhooks::sign::SigningKeyPair;
use idv_store::WebhookId;
use idv_store::{Store, WebhookSecrets};

/// What the pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resealed {
    /// Values that were clear text and are now encrypted.
    pub encrypted: usize,
    /// Values re-encrypted from a previous key.
    pub(crate) rekeyed: usize,
    /// Values already under the current key.
    pub current: usize,
}

impl Resealed {
    /// One line for the log and the CLI.
    pub fn summary(&self, keys: &Keyring) -> String {
        let mut s = format!(
            "{} stored secret(s) under key {}: {} encrypted from clear text, {} re-encrypted from \
             previous keys",
            self.encrypted + self.rekeyed + self.current,
            keys.current_id(),
            self.encrypted,
            self.rekeyed
        );
        if !keys.previous_ids().is_empty() {
            s.push_str(
                "; nothing in this database needs secrets.previousKeys any more (remove them \
                 once every instance runs with this fernetKey)",
            );
        }
        s
    }
}

/// Encrypts every stored secret under the current key. An error names what to configure.
pub async fn run(store: &dyn Store, keys: &Keyring) -> Result<Resealed, String> {
    let mut done = Resealed::default();
    seed(store, keys, &mut done).await?;
    let fail = |e: idv_store::StoreError| format!("cannot re-encrypt the webhook secrets: {e}");
    let mut unreadable = vec![];
    for w in store.webhook_list().await.map_err(fail)? {
        let mut row = w;
        // A few tries: another instance may change the endpoint between our read and write.
        for _ in 0..5 {
            let (stale, unknown) = records::standing(keys, &row);
            if !unknown.is_empty() {
                unreadable.push(format!("webhook {} ({})", row.id, unknown.join(", ")));
                break;
            }
            if stale == 0 {
                done.current += count(&row);
                break;
            }
            let clear = records::open_webhook(keys, row.clone()).map_err(|e| e.to_string())?;
            let sealed = records::seal_webhook(keys, &clear);
            let old = WebhookSecrets::of(&row);
            if store
                .webhook_reseal(WebhookId::new(&row.id), &old, &WebhookSecrets::of(&sealed))
                .await
                .map_err(fail)?
            {
                let encrypted = clear_count(keys, &row);
                done.encrypted += encrypted;
                done.rekeyed += stale - encrypted;
                done.current += count(&row) - stale;
                break;
            }
            match store
                .webhook_get(WebhookId::new(&row.id))
                .await
                .map_err(fail)?
            {
                Some(fresh) => row = fresh,
                None => break,
            }
        }
    }
    if !unreadable.is_empty() {
        let n = unreadable.len();
        let first = unreadable
            .into_iter()
            .take(5)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!(
            "{n} webhook endpoint(s) hold secrets encrypted under a key that is not configured \
             ({first}); set fernetKey to the key they were encrypted with, or add it to \
             secrets.previousKeys (this instance's key is {})",
            keys.current_id()
        ));
    }
    if done.encrypted + done.rekeyed > 0 {
        // The overwritten values (clear text, or under a retired key) must not linger in the
        // database's files.
        store
            .scrub_secrets()
            .await
            .map_err(|e| format!("cannot clear overwritten secrets from the database: {e}"))?;
    }
    Ok(done)
}

/// The Ed25519 seed: made (encrypted) when missing, encrypted or re-encrypted when stale.
async fn seed(store: &dyn Store, keys: &Keyring, done: &mut Resealed) -> Result<(), String> {
    let fail = |e: idv_store::StoreError| format!("cannot read the webhook signing key: {e}");
    let fresh = keys.seal(&SigningKeyPair::generate().seed_text());
    let mut stored = store
        .setting_get_or_insert(SEED, &fresh)
        .await
        .map_err(fail)?;
    for _ in 0..5 {
        let standing = keys.standing(&stored);
        match standing {
            Standing::Current => {
                done.current += 1;
                return Ok(());
            }
            Standing::Unknown => {
                let why = keys.open(&stored).unwrap_err();
                return Err(format!(
                    "the webhook signing key in the database cannot be read: {why}"
                ));
            }
            Standing::Clear | Standing::Previous => {
                let clear = records::open_text(keys, &stored)
                    .map_err(|e| format!("the webhook signing key cannot be read: {e}"))?;
                if store
                    .setting_replace(SEED, &stored, &keys.seal(&clear))
                    .await
                    .map_err(fail)?
                {
                    if standing == Standing::Clear {
                        done.encrypted += 1;
                    } else {
                        done.rekeyed += 1;
                    }
                    return Ok(());
                }
                stored = store
                    .setting_get_or_insert(SEED, &fresh)
                    .await
                    .map_err(fail)?;
            }
        }
    }
    Err("the webhook signing key kept changing while it was re-encrypted; start again".into())
}

/// The secret values an endpoint holds.
fn count(w: &idv_store::WebhookRecord) -> usize {
    1 + usize::from(w.previous_secret.is_some()) + usize::from(!headers_empty(&w.headers))
}

/// Of those, the ones in clear text.
fn clear_count(keys: &Keyring, w: &idv_store::WebhookRecord) -> usize {
    let mut n = usize::from(keys.standing(&w.secret) == Standing::Clear);
    n += usize::from(
        w.previous_secret
            .as_deref()
            .is_some_and(|p| keys.standing(p) == Standing::Clear),
    );
    n + usize::from(w.headers.is_object() && !headers_empty(&w.headers))
}

fn headers_empty(h: &serde_json::Value) -> bool {
    h.as_object().is_some_and(|m| m.is_empty()) || h.is_null()
}
