//! Fernet tokens (the format of Python's `cryptography.fernet`, which Regula's `fernetKey`
//! is a key for): `0x80 ‖ timestamp ‖ IV ‖ AES-128-CBC(PKCS#7) ‖ HMAC-SHA256`, url-safe
//! base64. The 32-byte key is the HMAC key (first half) and the AES key (second half). The
//! HMAC covers everything before it and is checked, in constant time, before anything is
//! decrypted. Token lifetimes (the timestamp) are not used: a stored secret does not expire.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const VERSION: u8 = 0x80;
/// Version, timestamp and IV.
const HEAD: usize = 1 + 8 + 16;
const TAG: usize = 32;

/// A Fernet key. Its bytes never reach `Debug` output.
#[derive(Clone)]
pub struct FernetKey {
    signing: [u8; 16],
    encryption: [u8; 16],
}

impl std::fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FernetKey(…)")
    }
}

impl FernetKey {
    /// Reads a key written as url-safe base64 of 32 bytes (with or without its `=`).
    pub fn parse(text: &str) -> Result<FernetKey, String> {
        let t = text.trim();
        let bytes = URL_SAFE
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t))
            .map_err(|_| "it is not url-safe base64 (letters, digits, - and _)".to_string())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("it holds {} bytes, not 32", b.len()))?;
        Ok(Self::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> FernetKey {
        let mut signing = [0u8; 16];
        let mut encryption = [0u8; 16];
        signing.copy_from_slice(&bytes[..16]);
        encryption.copy_from_slice(&bytes[16..]);
        FernetKey {
            signing,
            encryption,
        }
    }

    /// A new random key.
    pub fn generate() -> FernetKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    /// The key as `fernetKey` takes it: url-safe base64 with padding (44 characters).
    pub fn to_text(&self) -> String {
        URL_SAFE.encode(self.bytes())
    }

    pub(crate) fn bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&self.signing);
        b[16..].copy_from_slice(&self.encryption);
        b
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.signing).expect("HMAC takes any key length")
    }

    /// Encrypts `plain` into a token stamped with `now_s` (Unix seconds).
    pub fn encrypt(&self, plain: &[u8], now_s: u64) -> String {
        let mut iv = [0u8; 16];
        rand::rng().fill_bytes(&mut iv);
        self.encrypt_with_iv(plain, now_s, iv)
    }

    fn encrypt_with_iv(&self, plain: &[u8], now_s: u64, iv: [u8; 16]) -> String {
        let cipher = cbc::Encryptor::<aes::Aes128>::new(&self.encryption.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain);
        let mut token = Vec::with_capacity(HEAD + cipher.len() + TAG);
        token.push(VERSION);
        token.extend_from_slice(&now_s.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(&cipher);
        let mut mac = self.mac();
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE.encode(token)
    }

    /// Checks and decrypts a token. `None` when it was not made with this key, or was changed.
    pub(crate) fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE.decode(token.trim()).ok()?;
        if raw.len() < HEAD + 16 + TAG
            || !(raw.len() - HEAD - TAG).is_multiple_of(16)
            || raw[0] != VERSION
        {
            return None;
        }
        let (signed, tag) = raw.split_at(raw.len() - TAG);
        let mut mac = self.mac();
        mac.update(signed);
        mac.verify_slice(tag).ok()?;
        let iv: [u8; 16] = signed[9..HEAD].try_into().ok()?;
        cbc::Decryptor::<aes::Aes128>::new(&self.encryption.into(), &iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(&signed[HEAD..])
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Python's `cryptography` 48 (an independent implementation):
    //   Fernet(KEY)._encrypt_from_parts(b"hello", 499162800, bytes(range(16)))
    const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

    #[test]
    fn matches_an_independent_implementation() {
        let key = FernetKey::parse(KEY).unwrap();
        assert_eq!(
            key.encrypt_with_iv(b"hello", 499_162_800, std::array::from_fn(|i| i as u8)),
            TOKEN
        );
        assert_eq!(key.decrypt(TOKEN).unwrap(), b"hello");
        assert_eq!(key.to_text(), KEY);
    }

    #[test]
    fn round_trips_and_refuses_other_keys_and_changes() {
        let key = FernetKey::generate();
        let token = key.encrypt(b"whsec_abc", 1);
        assert_eq!(key.decrypt(&token).unwrap(), b"whsec_abc");
        assert_ne!(key.encrypt(b"whsec_abc", 1), token, "a fresh IV each time");
        assert!(FernetKey::generate().decrypt(&token).is_none());
        let mut raw = URL_SAFE.decode(&token).unwrap();
        for i in [0, 5, 20, 30, raw.len() - 1] {
            raw[i] ^= 1;
            assert!(key.decrypt(&URL_SAFE.encode(&raw)).is_none(), "byte {i}");
            raw[i] ^= 1;
        }
        assert!(key.decrypt("not a token").is_none());
        assert!(key.decrypt(&token[..token.len() - 8]).is_none());
    }

    #[test]
    fn keys_parse_with_a_clear_reason() {
        assert!(FernetKey::parse(KEY.trim_end_matches('=')).is_ok());
        assert!(
            FernetKey::parse("abc").unwrap_err().contains("not 32")
                || FernetKey::parse("abc").unwrap_err().contains("base64")
        );
        assert!(FernetKey::parse("YWJj").unwrap_err().contains("3 bytes"));
        assert!(FernetKey::parse("a+b/").is_err());
        assert!(format!("{:?}", FernetKey::parse(KEY).unwrap()).contains('…'));
    }
}
