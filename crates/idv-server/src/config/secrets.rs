//! The configuration of secrets at rest: the top-level `fernetKey` (Regula's key) and
//! `secrets.previousKeys`, former keys kept only to read values not yet re-encrypted.

use serde::{Deserialize, Serialize};

/// A configured key: compared and serialized as its text, never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: impl Into<String>) -> SecretText {
        SecretText(text.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// `secrets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Former `fernetKey`s: they decrypt values stored under them (which every start
    /// re-encrypts under `fernetKey`), and encrypt nothing. A list, or (from an environment
    /// variable) one text of keys separated by commas.
    #[serde(deserialize_with = "list_or_text")]
    pub previous_keys: Vec<SecretText>,
}

fn list_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SecretText>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Form::deserialize(d)? {
        Form::List(items) => items.into_iter().map(SecretText).collect(),
        Form::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(SecretText::new)
            .collect(),
    })
}
