//! The encrypted columns of a webhook endpoint. The store keeps an endpoint with its `secret`
//! and `previous_secret` in the stored form and its `headers` as one encrypted JSON text (a
//! JSON string in the column; names and values both hidden). The server works on the clear
//! record: [`open_webhook`] after every read, [`seal_webhook`] before every write.
//!
//! Clear values from an earlier version are read as they are (an object of headers, a
//! `whsec_` secret) until the start-up pass ([`super::reseal`]) encrypts them.

use super::{Keyring, SecretError};
use idv_store::WebhookRecord;
use serde_json::Value;

/// Which column of which endpoint could not be read, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the stored {column} of webhook {id} cannot be read: {why}")]
pub(crate) struct RecordError {
    pub id: String,
    pub column: &'static str,
    pub why: SecretError,
}

/// `w` as the store keeps it: secrets and header values encrypted under the current key.
pub(crate) fn seal_webhook(keys: &Keyring, w: &WebhookRecord) -> WebhookRecord {
    let mut out = w.clone();
    out.secret = seal_text(keys, &w.secret);
    out.previous_secret = w.previous_secret.as_deref().map(|s| seal_text(keys, s));
    out.headers = seal_headers(keys, &w.headers);
    out
}

/// A stored endpoint in the clear.
pub(crate) fn open_webhook(
    keys: &Keyring,
    mut w: WebhookRecord,
) -> Result<WebhookRecord, RecordError> {
    let err = |column, why| RecordError {
        id: w.id.clone(),
        column,
        why,
    };
    let secret = open_text(keys, &w.secret).map_err(|e| err("secret", e))?;
    let previous = match &w.previous_secret {
        Some(p) => Some(open_text(keys, p).map_err(|e| err("previous secret", e))?),
        None => None,
    };
    let headers = open_headers(keys, &w.headers).map_err(|e| err("headers", e))?;
    w.secret = secret;
    w.previous_secret = previous;
    w.headers = headers;
    Ok(w)
}

/// A text value encrypted (one already in the stored form is kept).
fn seal_text(keys: &Keyring, text: &str) -> String {
    if Keyring::is_sealed(text) {
        text.to_owned()
    } else {
        keys.seal(text)
    }
}

/// A stored text value in the clear: decrypted, or as it is when it is clear text.
pub(crate) fn open_text(keys: &Keyring, stored: &str) -> Result<String, SecretError> {
    if Keyring::is_sealed(stored) {
        keys.open(stored)
    } else {
        Ok(stored.to_owned())
    }
}

/// Headers as stored: `{}` when there are none, else the encrypted JSON text as a JSON string.
pub(crate) fn seal_headers(keys: &Keyring, headers: &Value) -> Value {
    match headers {
        Value::Object(m) if m.is_empty() => Value::Object(Default::default()),
        Value::Object(_) => Value::String(keys.seal(&headers.to_string())),
        other => other.clone(),
    }
}

/// Stored headers in the clear: an object (clear, from an earlier version, or none) as it is;
/// a string decrypted to its object.
pub(crate) fn open_headers(keys: &Keyring, stored: &Value) -> Result<Value, SecretError> {
    match stored {
        Value::String(s) => {
            let text = keys.open(s)?;
            match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(SecretError::Unrecognised),
            }
        }
        Value::Object(_) => Ok(stored.clone()),
        Value::Null => Ok(Value::Object(Default::default())),
        _ => Err(SecretError::Unrecognised),
    }
}

/// The stored columns that are not yet encrypted under the current key (clear, or under a
/// previous key), and those under a key that is not configured.
pub(crate) fn standing(keys: &Keyring, w: &WebhookRecord) -> (usize, Vec<&'static str>) {
    use super::Standing::*;
    let mut stale = 0;
    let mut unknown = vec![];
    let mut look = |column: &'static str, text: Option<&str>| match text.map(|t| keys.standing(t)) {
        Some(Clear | Previous) => stale += 1,
        Some(Unknown) => unknown.push(column),
        Some(Current) | None => {}
    };
    look("secret", Some(&w.secret));
    look("previous secret", w.previous_secret.as_deref());
    match &w.headers {
        Value::String(s) => look("headers", Some(s)),
        Value::Object(m) if !m.is_empty() => look("headers", Some("")),
        _ => {}
    }
    (stale, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{KeySource, fernet::FernetKey};
    use serde_json::json;

    fn record() -> WebhookRecord {
        WebhookRecord {
            id: "w1".into(),
            url: "https://example.com/h".into(),
            events: vec!["*".into()],
            enabled: true,
            description: None,
            headers: json!({"Authorization": "Bearer s3cret-token"}),
            workflow_ids: vec![],
            secret: "whsec_current".into(),
            previous_secret: Some("whsec_before".into()),
            previous_secret_until: Some(1),
            ed25519: false,
            owner_id: None,
            created_at: 0,
            updated_at: 0,
            failing_since: None,
            disabled_reason: None,
            disabled_at: None,
        }
    }

    #[test]
    fn sealed_records_hold_no_clear_secret_and_open_back() {
        let keys = Keyring::new(FernetKey::generate(), vec![], KeySource::Config);
        let clear = record();
        assert_eq!(standing(&keys, &clear), (3, vec![]));
        let sealed = seal_webhook(&keys, &clear);
        let text = format!("{sealed:?}");
        for secret in [
            "whsec_current",
            "whsec_before",
            "s3cret-token",
            "Authorization",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(standing(&keys, &sealed), (0, vec![]));
        assert_eq!(open_webhook(&keys, sealed.clone()).unwrap(), clear);
        // Clear rows of an earlier version read as they are.
        assert_eq!(open_webhook(&keys, clear.clone()).unwrap(), clear);

        let other = Keyring::new(FernetKey::generate(), vec![], KeySource::Config);
        let e = open_webhook(&other, sealed.clone()).unwrap_err();
        assert_eq!(e.column, "secret");
        assert!(matches!(e.why, SecretError::UnknownKey { .. }));
        assert_eq!(standing(&other, &sealed).1.len(), 3);

        let mut none = clear.clone();
        none.headers = json!({});
        none.previous_secret = None;
        assert_eq!(seal_webhook(&keys, &none).headers, json!({}));
    }
}
