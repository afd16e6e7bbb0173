//! `storage` (where files and the workflow folders are) and `database` (which database).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Storage {
    /// Only `fs` for now.
    #[serde(rename = "type")]
    pub kind: StorageType,
    pub fs: FsStorage,
    pub workflows: Location,
    pub locales: Location,
    /// Workflow assets: uploaded bytes are kept under this prefix, and image files placed
    /// directly in this folder load as assets at start.
    pub assets: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Fs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FsStorage {
    pub path: String,
}

/// Regula's storage location block; with `fs` storage, `prefix` is a folder under `fs.path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Location {
    pub location: LocationPrefix,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocationPrefix {
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://./idv-data/idv.db` (default) or `postgres://user@host:5432/db`.
    pub url: String,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            kind: StorageType::Fs,
            fs: FsStorage::default(),
            workflows: Location {
                location: LocationPrefix {
                    prefix: "workflows".into(),
                },
            },
            locales: Location {
                location: LocationPrefix {
                    prefix: "localization".into(),
                },
            },
            assets: Location {
                location: LocationPrefix {
                    prefix: "assets".into(),
                },
            },
        }
    }
}

impl Default for FsStorage {
    fn default() -> Self {
        Self {
            path: "./idv-data".into(),
        }
    }
}

impl Default for Location {
    fn default() -> Self {
        Self {
            location: LocationPrefix {
                prefix: String::new(),
            },
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Self {
            url: "sqlite://./idv-data/idv.db".into(),
        }
    }
}
