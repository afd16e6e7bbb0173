//! Secrets at rest: webhook signing secrets (current and previous), the values of webhook
//! delivery headers and the server's Ed25519 signing seed are stored encrypted, under a key
//! from the configuration.
//!
//! **Why Fernet.** Regula's configuration already carries a top-level `fernetKey` (url-safe
//! base64 of 32 bytes) for exactly this: encrypting values its database keeps. Using that key
//! in Fernet's own format (see [`fernet`]) means an operator moving from Regula keeps the key
//! they have, and the stored tokens can be read by any Fernet implementation. Fernet is
//! authenticated encryption (AES-128-CBC, then HMAC-SHA256 over the whole token, checked before
//! decrypting), built here from RustCrypto's `aes`, `cbc`, `hmac` and `sha2`, all pure Rust.
//!
//! **Stored form.** `fernet1:<key id>:<Fernet token>`. The key id is 8 hex digits of a SHA-256
//! of the key, so a value under an old key is recognised and, when that key is not configured,
//! the error names which key it needs. A value without the prefix is clear text from an earlier
//! version (a `whsec_…` secret, a `whsk_…` seed, a header object); the start-up pass
//! ([`reseal`]) encrypts those, and re-encrypts values under a previous key with the current
//! one.
//!
//! **Which key.** `fernetKey` when set; otherwise a key generated on first start in the data
//! folder (`<storage.fs.path>/fernet.key`, mode 0600). Keys listed in `secrets.previousKeys`
//! only decrypt. Several instances sharing one PostgreSQL database must have the same
//! `fernetKey`: each would otherwise make its own key file, and the start-up check refuses to
//! run an instance whose key cannot read the database's values.
//!
//! What this protects against: a copy of the database (a dump, a backup, a stolen file)
//! without the key. A process that can read the configuration or the data folder can read
//! the key too; that is the trust boundary.

/// The settings (`fernetKey`, `secrets.previousKeys`) live with the rest of the configuration.
pub use crate::config::secrets as config;
pub mod fernet;
pub(crate) mod keyfile;
pub mod records;
pub mod reseal;

use crate::config::Config;
use fernet::FernetKey;
use idv_core::time::Clock as _;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// The prefix of every stored encrypted value (the `1` is this wrapping's version).
pub(crate) const PREFIX: &str = "fernet1:";

/// Where the current key came from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// `fernetKey` in the configuration.
    Config,
    /// The key file in the data folder.
    File(PathBuf),
}

/// One configured key and its id.
#[derive(Debug, Clone)]
struct Key {
    id: String,
    key: FernetKey,
}

impl Key {
    fn new(key: FernetKey) -> Key {
        Key {
            id: key_id(&key),
            key,
        }
    }
}

/// 8 hex digits naming a key (a hash: it tells nothing about the key itself).
pub fn key_id(key: &FernetKey) -> String {
    let mut h = Sha256::new();
    h.update(b"idv fernet key id\0");
    h.update(key.bytes());
    hex::encode(&h.finalize()[..4])
}

/// Why a stored value cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "it is encrypted under key {id}, which is not configured (fernetKey is key {current}); \
         set fernetKey to the key it was encrypted with, or add that key to secrets.previousKeys"
    )]
    UnknownKey { id: String, current: String },
    #[error(
        "it is marked as encrypted under key {id} but does not decrypt with it: the stored value \
         was changed or damaged"
    )]
    Damaged { id: String },
    #[error("it is not a value this server stores (neither encrypted nor a known clear form)")]
    Unrecognised,
}

/// How a stored value stands against the configured keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Encrypted under the current key.
    Current,
    /// Encrypted under a key of `secrets.previousKeys`.
    Previous,
    /// Encrypted under a key that is not configured.
    Unknown,
    /// Clear text (written by an earlier version).
    Clear,
}

/// The current key (encrypts and decrypts) and the previous ones (decrypt only).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
    source: KeySource,
}

impl Keyring {
    /// A keyring with `current` and `previous` keys given (tests, the CLI).
    pub fn new(current: FernetKey, previous: Vec<FernetKey>, source: KeySource) -> Keyring {
        let current = Key::new(current);
        let previous = previous
            .into_iter()
            .map(Key::new)
            .filter(|k| k.id != current.id)
            .collect();
        Keyring {
            current,
            previous,
            source,
        }
    }

    /// The keys the configuration names: `fernetKey`, else the key file in the data folder
    /// (made on first start), and `secrets.previousKeys`.
    pub(crate) fn from_config(config: &Config) -> Result<Keyring, String> {
        let mut previous = vec![];
        for (i, text) in config.secrets.previous_keys.iter().enumerate() {
            previous.push(FernetKey::parse(text.expose()).map_err(|why| {
                format!(
                    "bad value for `secrets.previousKeys[{i}]`: {why}; each entry must be a \
                     former fernetKey (url-safe base64 of 32 bytes)"
                )
            })?);
        }
        let (current, source) = match &config.fernet_key {
            Some(text) if !text.expose().trim().is_empty() => {
                let key = FernetKey::parse(text.expose()).map_err(|why| {
                    format!(
                        "bad value for `fernetKey`: {why}; it must be url-safe base64 of 32 \
                         bytes (44 characters ending in =), as `idv secrets new-key` prints"
                    )
                })?;
                (key, KeySource::Config)
            }
            _ => {
                let path = config.data_dir().join(keyfile::FILE_NAME);
                (keyfile::load_or_create(&path)?, KeySource::File(path))
            }
        };
        let ring = Keyring::new(current, previous, source);
        match &ring.source {
            KeySource::Config => {
                tracing::info!(key = %ring.current.id, "secrets at rest: encrypted under fernetKey")
            }
            KeySource::File(path) => {
                tracing::info!(key = %ring.current.id, file = %path.display(), "secrets at rest: encrypted under the key file (set fernetKey to choose the key)");
                if config.database.url.starts_with("postgres") {
                    tracing::warn!(
                        file = %path.display(),
                        "fernetKey is not set: the database's secrets are encrypted under this \
                         instance's key file; several instances sharing the database need the \
                         same key, so set fernetKey (the file's contents) on every instance"
                    );
                }
            }
        }
        Ok(ring)
    }

    pub(crate) fn current_id(&self) -> &str {
        &self.current.id
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The ids of the previous keys.
    pub(crate) fn previous_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|k| k.id.as_str()).collect()
    }

    /// Encrypts `clear` under the current key, in the stored form.
    pub(crate) fn seal(&self, clear: &str) -> String {
        // Fernet's timestamp is the real time of encrypting, for any Fernet reader.
        let now = u64::try_from(idv_core::time::SystemClock.now_ms() / 1000).unwrap_or(0);
        format!(
            "{PREFIX}{}:{}",
            self.current.id,
            self.current.key.encrypt(clear.as_bytes(), now)
        )
    }

    /// Whether `stored` is in the encrypted form.
    pub(crate) fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// How `stored` stands: clear, or encrypted under which kind of key.
    pub(crate) fn standing(&self, stored: &str) -> Standing {
        match split(stored) {
            None => Standing::Clear,
            Some((id, _)) if id == self.current.id => Standing::Current,
            Some((id, _)) if self.previous.iter().any(|k| k.id == id) => Standing::Previous,
            Some(_) => Standing::Unknown,
        }
    }

    /// Decrypts a value in the stored form (an error for any other text).
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let (id, token) = split(stored).ok_or(SecretError::Unrecognised)?;
        let mut known = false;
        for k in std::iter::once(&self.current).chain(&self.previous) {
            if k.id != id {
                continue;
            }
            known = true;
            if let Some(plain) = k.key.decrypt(token) {
                return String::from_utf8(plain)
                    .map_err(|_| SecretError::Damaged { id: id.into() });
            }
        }
        if known {
            Err(SecretError::Damaged { id: id.into() })
        } else {
            Err(SecretError::UnknownKey {
                id: id.into(),
                current: self.current.id.clone(),
            })
        }
    }
}

/// `(key id, token)` of a value in the stored form.
fn split(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(PREFIX)?.split_once(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: &FernetKey, previous: &[&FernetKey]) -> Keyring {
        Keyring::new(
            current.clone(),
            previous.iter().map(|k| (*k).clone()).collect(),
            KeySource::Config,
        )
    }

    #[test]
    fn values_carry_their_key_and_open_under_previous_keys() {
        let (a, b) = (FernetKey::generate(), FernetKey::generate());
        let under_a = ring(&a, &[]);
        let sealed = under_a.seal("whsec_x");
        assert!(
            sealed.starts_with(&format!("{PREFIX}{}:", key_id(&a))),
            "{sealed}"
        );
        assert!(!sealed.contains("whsec_x"));
        assert_eq!(under_a.standing(&sealed), Standing::Current);
        assert_eq!(under_a.open(&sealed).unwrap(), "whsec_x");

        let rotated = ring(&b, &[&a]);
        assert_eq!(rotated.standing(&sealed), Standing::Previous);
        assert_eq!(rotated.open(&sealed).unwrap(), "whsec_x");
        assert_eq!(rotated.standing("whsec_x"), Standing::Clear);

        let only_b = ring(&b, &[]);
        assert_eq!(only_b.standing(&sealed), Standing::Unknown);
        let e = only_b.open(&sealed).unwrap_err();
        assert_eq!(
            e,
            SecretError::UnknownKey {
                id: key_id(&a),
                current: key_id(&b)
            }
        );
        let text = e.to_string();
        assert!(
            text.contains(&key_id(&a)) && text.contains("secrets.previousKeys"),
            "{text}"
        );
        assert_eq!(only_b.open("whsec_x"), Err(SecretError::Unrecognised));
    }

    #[test]
    fn a_changed_value_is_damaged_not_clear() {
        let a = FernetKey::generate();
        let r = ring(&a, &[]);
        let mut sealed = r.seal("value");
        sealed.pop();
        sealed.push('A');
        assert!(matches!(r.open(&sealed), Err(SecretError::Damaged { .. })));
    }

    #[test]
    fn keys_come_from_the_config_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            FernetKey::generate(),
            FernetKey::generate(),
            FernetKey::generate(),
        );
        let file = dir.path().join("config.yaml");
        std::fs::write(
            &file,
            format!(
                "fernetKey: \"{}\"\nsecrets:\n  previousKeys: [\"{}\"]\nstorage:\n  fs:\n    path: {}\n",
                a.to_text(),
                b.to_text(),
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let config = crate::config::load(Some(&file), []).unwrap();
        assert!(
            !format!("{config:?}").contains(&a.to_text()),
            "no key in Debug output"
        );
        let ring = Keyring::from_config(&config).unwrap();
        assert_eq!(ring.current_id(), key_id(&a));
        assert_eq!(ring.previous_ids(), vec![key_id(&b)]);
        assert_eq!(ring.source(), &KeySource::Config);
        assert!(!dir.path().join("data").join(keyfile::FILE_NAME).exists());

        // The environment's comma-separated form.
        let env = [(
            "IDV_CONFIG__SECRETS__PREVIOUSKEYS".to_string(),
            format!("{}, {}", b.to_text(), c.to_text()),
        )];
        let config = crate::config::load(Some(&file), env).unwrap();
        let ring = Keyring::from_config(&config).unwrap();
        assert_eq!(ring.previous_ids(), vec![key_id(&b), key_id(&c)]);

        let mut bad = config.clone();
        bad.fernet_key = Some(config::SecretText::new("short"));
        let e = Keyring::from_config(&bad).unwrap_err();
        assert!(e.contains("`fernetKey`") && e.contains("32 bytes"), "{e}");
        assert!(!e.contains("short"), "the bad key is not echoed: {e}");
        let mut bad = config.clone();
        bad.secrets.previous_keys.push(config::SecretText::new("x"));
        let e = Keyring::from_config(&bad).unwrap_err();
        assert!(e.contains("`secrets.previousKeys[2]`"), "{e}");

        // Without fernetKey: the key file in the data folder.
        let mut none = config.clone();
        none.fernet_key = None;
        let ring = Keyring::from_config(&none).unwrap();
        let path = dir.path().join("data").join(keyfile::FILE_NAME);
        assert_eq!(ring.source(), &KeySource::File(path.clone()));
        let stored = FernetKey::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(ring.current_id(), key_id(&stored));
    }
}
