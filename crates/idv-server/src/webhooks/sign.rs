//! Standard Webhooks signatures for the `webhook-signature` header.
//!
//! Every signature covers the same bytes: `{msg_id}.{timestamp}.{body}`, where the timestamp is
//! in Unix seconds and the body is the exact bytes sent. Two kinds are made:
//!
//! - `v1,<base64>`: HMAC-SHA256 with a shared secret written `whsec_<base64 of the key>`;
//! - `v1a,<base64>`: an Ed25519 signature, for receivers that should hold only a public key
//!   (`whpk_<base64>`); the private seed is stored as `whsk_<base64>`.
//!
//! A header may carry several signatures separated by spaces: while a secret is rotated both
//! the new and the old one sign, so a receiver that knows either accepts the message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";
const SEED_PREFIX: &str = "whsk_";
const PUBLIC_PREFIX: &str = "whpk_";

/// A new shared secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// The HMAC key a `whsec_` secret holds. The prefix may be left out, as other Standard Webhooks
/// libraries allow.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let text = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = B64.decode(text).map_err(|e| {
        format!("the webhook secret is not `whsec_` followed by standard base64 ({e})")
    })?;
    if key.is_empty() {
        return Err("the webhook secret is empty; give `whsec_` followed by a base64 key".into());
    }
    Ok(key)
}

/// The bytes every signature covers, built without assuming the body is text.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let head = format!("{msg_id}.{timestamp}.");
    let mut content = Vec::with_capacity(head.len() + body.len());
    content.extend_from_slice(head.as_bytes());
    content.extend_from_slice(body);
    content
}

/// `v1,<base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}"))>`.
pub fn hmac_v1(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&signed_content(msg_id, timestamp, body));
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// An Ed25519 key pair for `v1a` signatures.
#[derive(Clone)]
pub struct SigningKeyPair {
    key: SigningKey,
}

// Debug shows the public half only, so a logged value never reveals the seed.
impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyPair")
            .field("public", &self.public_text())
            .finish_non_exhaustive()
    }
}

impl SigningKeyPair {
    /// The key pair of a 32-byte seed.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// A new key pair from 32 random bytes.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_seed(seed)
    }

    /// The text to store: `whsk_` and the base64 of the seed.
    pub fn seed_text(&self) -> String {
        format!("{SEED_PREFIX}{}", B64.encode(self.key.to_bytes()))
    }

    /// The key pair [`seed_text`](Self::seed_text) wrote.
    pub(crate) fn from_seed_text(text: &str) -> Result<Self, String> {
        let seed = decode_32(text, SEED_PREFIX, "signing key")?;
        Ok(Self::from_seed(seed))
    }

    /// The public key to give receivers: `whpk_` and the base64 of its 32 bytes.
    pub fn public_text(&self) -> String {
        format!(
            "{PUBLIC_PREFIX}{}",
            B64.encode(self.key.verifying_key().to_bytes())
        )
    }

    /// `v1a,<base64 of the Ed25519 signature over "{msg_id}.{timestamp}.{body}">`.
    pub(crate) fn sign_v1a(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let signature = self.key.sign(&signed_content(msg_id, timestamp, body));
        format!("v1a,{}", B64.encode(signature.to_bytes()))
    }
}

/// 32 bytes from `<prefix><base64>`; `what` names the value in the message.
fn decode_32(text: &str, prefix: &str, what: &str) -> Result<[u8; 32], String> {
    let rest = text
        .strip_prefix(prefix)
        .ok_or_else(|| format!("the webhook {what} must start with `{prefix}`"))?;
    let bytes = B64.decode(rest).map_err(|e| {
        format!("the webhook {what} is not `{prefix}` followed by standard base64 ({e})")
    })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "the webhook {what} holds {} bytes; an Ed25519 {what} is 32 bytes",
            bytes.len()
        )
    })
}

/// The `webhook-signature` header value: one `v1,` signature per secret (during a rotation both
/// the new and the old secret sign), then the `v1a,` one when a key pair is given.
pub(crate) fn signature_header(
    secrets: &[&str],
    ed25519: Option<&SigningKeyPair>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, String> {
    if secrets.is_empty() && ed25519.is_none() {
        return Err("a webhook needs a secret or a signing key to be signed with".into());
    }
    let mut signatures = Vec::with_capacity(secrets.len() + 1);
    for secret in secrets {
        signatures.push(hmac_v1(&secret_key(secret)?, msg_id, timestamp, body));
    }
    if let Some(pair) = ed25519 {
        signatures.push(pair.sign_v1a(msg_id, timestamp, body));
    }
    Ok(signatures.join(" "))
}

/// Whether any `v1a,` signature in `header` is a valid Ed25519 signature of the message by the
/// key `public_text` (`whpk_…`). Other signature kinds in the header are passed over.
pub fn verify_v1a(
    public_text: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
) -> bool {
    let Ok(public) = decode_32(public_text, PUBLIC_PREFIX, "public key") else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&public) else {
        return false;
    };
    let content = signed_content(msg_id, timestamp, body);
    header
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1a,"))
        .filter_map(|b64| B64.decode(b64).ok())
        .filter_map(|bytes| Signature::from_slice(&bytes).ok())
        .any(|signature| key.verify_strict(&content, &signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};
    use idv_core::time::Clock as _;
    use standardwebhooks::Webhook;

    /// The example of the Standard Webhooks specification and its reference libraries.
    const SPEC_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const SPEC_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const SPEC_TS: i64 = 1649367553;
    const SPEC_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SPEC_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    #[test]
    fn hmac_matches_the_specification_example() {
        let key = secret_key(SPEC_SECRET).unwrap();
        assert_eq!(hmac_v1(&key, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIGNATURE);
    }

    #[test]
    fn hmac_covers_id_timestamp_and_body() {
        let key = secret_key(SPEC_SECRET).unwrap();
        let base = hmac_v1(&key, SPEC_ID, SPEC_TS, SPEC_BODY);
        assert_ne!(hmac_v1(&key, "msg_other", SPEC_TS, SPEC_BODY), base);
        assert_ne!(hmac_v1(&key, SPEC_ID, SPEC_TS + 1, SPEC_BODY), base);
        assert_ne!(hmac_v1(&key, SPEC_ID, SPEC_TS, b"{}"), base);
        assert_ne!(hmac_v1(b"another key", SPEC_ID, SPEC_TS, SPEC_BODY), base);
    }

    #[test]
    fn new_secrets_hold_32_random_bytes() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with("whsec_"), "{a}");
        assert_ne!(a, b);
        assert_eq!(secret_key(&a).unwrap().len(), 32);
        // Standard alphabet with padding: 32 bytes are 44 characters ending in `=`.
        assert_eq!(a.len(), "whsec_".len() + 44);
        assert!(a.ends_with('='));
    }

    #[test]
    fn secret_key_takes_the_prefix_or_not_and_refuses_bad_text() {
        let with = secret_key(SPEC_SECRET).unwrap();
        let without = secret_key(SPEC_SECRET.trim_start_matches("whsec_")).unwrap();
        assert_eq!(with, without);
        let err = secret_key("whsec_not base64!").unwrap_err();
        assert!(err.contains("base64"), "{err}");
        assert!(secret_key("whsec_").is_err());
    }

    #[test]
    fn key_pair_round_trips_through_its_texts() {
        let pair = SigningKeyPair::generate();
        let seed = pair.seed_text();
        assert!(seed.starts_with("whsk_"), "{seed}");
        let again = SigningKeyPair::from_seed_text(&seed).unwrap();
        assert_eq!(again.public_text(), pair.public_text());
        assert!(pair.public_text().starts_with("whpk_"));
        assert_ne!(SigningKeyPair::generate().public_text(), pair.public_text());
        // The seed never shows in Debug output.
        let shown = format!("{pair:?}");
        assert!(!shown.contains(seed.trim_start_matches("whsk_")), "{shown}");
    }

    #[test]
    fn seed_text_is_checked() {
        let err = SigningKeyPair::from_seed_text("whsec_AAAA").unwrap_err();
        assert!(err.contains("whsk_"), "{err}");
        let err = SigningKeyPair::from_seed_text("whsk_AAAA").unwrap_err();
        assert!(err.contains("3 bytes"), "{err}");
        assert!(SigningKeyPair::from_seed_text("whsk_***").is_err());
    }

    #[test]
    fn ed25519_is_deterministic_for_a_seed() {
        // RFC 8032, section 7.1, TEST 1: this secret key (seed) has this public key.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let public =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap();
        let pair = SigningKeyPair::from_seed(seed);
        assert_eq!(pair.public_text(), format!("whpk_{}", B64.encode(public)));
        assert_eq!(
            pair.sign_v1a(SPEC_ID, SPEC_TS, SPEC_BODY),
            pair.sign_v1a(SPEC_ID, SPEC_TS, SPEC_BODY)
        );
    }

    #[test]
    fn v1a_verifies_and_refuses_changes() {
        let pair = SigningKeyPair::generate();
        let public = pair.public_text();
        let header = pair.sign_v1a(SPEC_ID, SPEC_TS, SPEC_BODY);
        assert!(header.starts_with("v1a,"));
        assert!(verify_v1a(&public, SPEC_ID, SPEC_TS, SPEC_BODY, &header));
        assert!(!verify_v1a(&public, SPEC_ID, SPEC_TS, b"{}", &header));
        assert!(!verify_v1a(
            &public,
            "msg_other",
            SPEC_TS,
            SPEC_BODY,
            &header
        ));
        assert!(!verify_v1a(
            &public,
            SPEC_ID,
            SPEC_TS + 1,
            SPEC_BODY,
            &header
        ));
        let stranger = SigningKeyPair::generate().public_text();
        assert!(!verify_v1a(&stranger, SPEC_ID, SPEC_TS, SPEC_BODY, &header));
        // A v1 signature with the same bytes is not taken for a v1a one.
        let relabelled = header.replacen("v1a,", "v1,", 1);
        assert!(!verify_v1a(
            &public,
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY,
            &relabelled
        ));
        assert!(!verify_v1a(
            "whpk_garbage",
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY,
            &header
        ));
        assert!(!verify_v1a(&public, SPEC_ID, SPEC_TS, SPEC_BODY, "v1a,???"));
    }

    #[test]
    fn header_lists_every_secret_then_the_key_pair() {
        let old = new_secret();
        let pair = SigningKeyPair::generate();
        let header = signature_header(
            &[SPEC_SECRET, &old],
            Some(&pair),
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY,
        )
        .unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 3, "{header}");
        assert_eq!(parts[0], SPEC_SIGNATURE);
        let old_key = secret_key(&old).unwrap();
        assert_eq!(parts[1], hmac_v1(&old_key, SPEC_ID, SPEC_TS, SPEC_BODY));
        assert!(parts[2].starts_with("v1a,"));
        assert!(verify_v1a(
            &pair.public_text(),
            SPEC_ID,
            SPEC_TS,
            SPEC_BODY,
            &header
        ));
    }

    #[test]
    fn header_needs_something_to_sign_with_and_valid_secrets() {
        assert!(signature_header(&[], None, SPEC_ID, SPEC_TS, SPEC_BODY).is_err());
        assert!(signature_header(&["whsec_%%"], None, SPEC_ID, SPEC_TS, SPEC_BODY).is_err());
        let pair = SigningKeyPair::generate();
        let only_v1a = signature_header(&[], Some(&pair), SPEC_ID, SPEC_TS, SPEC_BODY).unwrap();
        assert!(only_v1a.starts_with("v1a,") && !only_v1a.contains(' '));
    }

    // Interop: an independent Standard Webhooks implementation accepts what we sign. It checks
    // the timestamp against its own clock (5 minutes either way), so these sign at now.

    fn headers(msg_id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_str(msg_id).unwrap());
        headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn now() -> i64 {
        idv_core::time::SystemClock.now_ms() / 1000
    }

    #[test]
    fn interop_the_reference_library_accepts_our_signature() {
        let secret = new_secret();
        let ts = now();
        let body = br#"{"type":"session.completed","data":{"id":"s_1"}}"#;
        let header = signature_header(&[&secret], None, "msg_1", ts, body).unwrap();
        let theirs = Webhook::new(&secret).unwrap();
        theirs.verify(body, &headers("msg_1", ts, &header)).unwrap();
        // And it computes the very same signature.
        assert_eq!(theirs.sign("msg_1", ts, body).unwrap(), header);
    }

    #[test]
    fn interop_rotation_header_verifies_with_either_secret_only() {
        let new = new_secret();
        let old = new_secret();
        let ts = now();
        let body = br#"{"type":"session.created"}"#;
        let pair = SigningKeyPair::generate();
        let header = signature_header(&[&new, &old], Some(&pair), "msg_2", ts, body).unwrap();
        let sent = headers("msg_2", ts, &header);
        // A receiver still on the old secret and one already on the new both accept; the
        // other signatures in the header (one of which does not match it) are passed over.
        Webhook::new(&old).unwrap().verify(body, &sent).unwrap();
        Webhook::new(&new).unwrap().verify(body, &sent).unwrap();
        // A receiver with a third secret matches none of them.
        assert!(
            Webhook::new(&new_secret())
                .unwrap()
                .verify(body, &sent)
                .is_err()
        );
    }

    #[test]
    fn interop_a_tampered_message_fails() {
        let secret = new_secret();
        let ts = now();
        let body = br#"{"amount":10}"#;
        let header = signature_header(&[&secret], None, "msg_3", ts, body).unwrap();
        let theirs = Webhook::new(&secret).unwrap();
        let sent = headers("msg_3", ts, &header);
        assert!(theirs.verify(br#"{"amount":99}"#, &sent).is_err());
        assert!(theirs.verify(body, &headers("msg_4", ts, &header)).is_err());
        assert!(
            theirs
                .verify(body, &headers("msg_3", ts - 1, &header))
                .is_err()
        );
        theirs.verify(body, &sent).unwrap();
    }
}
