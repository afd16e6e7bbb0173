//! `storage` (where files and the workflow folders are) and `database` (which database).
//!
//! `storage.type` picks the backend: `fs` (a local folder, the default), `s3` (any
//! S3-compatible store), `az` (Azure Blob Storage) or `gcs` (Google Cloud Storage). Regula's
//! blocks `s3`, `az`, `gcs` and `fs` are all accepted whatever the type; only the chosen one is
//! used. Each location block (`sessions`, `assets`, `workflows`, …) names a bucket (S3, GCS) or
//! container (Azure) and a prefix in it. With `fs`, the workflows, locales and assets prefixes
//! are folders under `fs.path`, as they always were.

use super::secrets::SecretText;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Storage {
    /// `fs` (default), `s3`, `az` or `gcs`.
    #[serde(rename = "type")]
    pub kind: StorageType,
    pub s3: S3Storage,
    pub az: AzStorage,
    pub gcs: GcsStorage,
    pub fs: FsStorage,
    /// Session files (`sessions/{id}/files/{file}` below the prefix).
    pub sessions: Location,
    /// Regula's location for person files; accepted, not used.
    pub persons: Location,
    /// Regula's location for user files; accepted, not used.
    pub user_files: Location,
    /// Regula's location for temporary files; accepted, not used.
    pub temp_files: Location,
    pub workflows: Location,
    pub locales: Location,
    /// Workflow assets: uploaded bytes are kept under this prefix, and image files placed
    /// directly in this folder load as assets at start.
    pub assets: Location,
    /// Regula's location for ban lists; accepted, not used.
    pub banlists: Location,
    /// Regula's location for thumbnails (newer charts); accepted, not used.
    pub thumbnails: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    Fs,
    S3,
    Az,
    Gcs,
}

impl StorageType {
    /// The value as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageType::Fs => "fs",
            StorageType::S3 => "s3",
            StorageType::Az => "az",
            StorageType::Gcs => "gcs",
        }
    }
}

/// `storage.s3`: an S3-compatible store (AWS, MinIO, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct S3Storage {
    /// Empty: AWS itself. Otherwise the store's URL (`http://minio:9000`), addressed
    /// path-style (`{endpoint}/{bucket}/{key}`); without a scheme, `secure` picks it.
    #[serde(deserialize_with = "text")]
    pub endpoint: String,
    /// Empty (with `accessSecret` empty): credentials from the environment (AWS_* variables,
    /// instance metadata).
    #[serde(deserialize_with = "text")]
    pub access_key: String,
    #[serde(deserialize_with = "secret")]
    pub access_secret: SecretText,
    /// Empty: `us-east-1`.
    #[serde(deserialize_with = "text")]
    pub region: String,
    /// `false` allows plain `http://` endpoints.
    pub secure: bool,
}

/// `storage.az`: Azure Blob Storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AzStorage {
    /// The account name; with no `connectionString`, credentials come from the environment
    /// (AZURE_* variables, managed identity).
    #[serde(deserialize_with = "text")]
    pub storage_account: String,
    /// `DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;BlobEndpoint=…` (or
    /// `UseDevelopmentStorage=true`).
    #[serde(deserialize_with = "secret")]
    pub connection_string: SecretText,
    /// The container of every location that names none itself. Empty: a location without a
    /// container uses its prefix as the container name.
    #[serde(deserialize_with = "text")]
    pub container: String,
}

/// `storage.gcs`: Google Cloud Storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GcsStorage {
    /// Requests are not signed (an emulator, or public buckets).
    pub anonymous: bool,
    /// With `anonymous`: the emulator's URL (`http://localhost:4443`). Empty: Google's.
    #[serde(deserialize_with = "text")]
    pub endpoint: String,
    /// `false` accepts certificates that do not verify (an emulator's own).
    pub verify_ssl: bool,
    /// Path of the service account key file. Empty (and not anonymous): the application
    /// default credentials (GOOGLE_APPLICATION_CREDENTIALS, metadata server).
    #[serde(deserialize_with = "text")]
    pub gcs_key_json: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FsStorage {
    #[serde(deserialize_with = "text")]
    pub path: String,
}

/// Regula's storage location block; with `fs` storage, `prefix` is a folder under `fs.path`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Location {
    pub location: LocationPrefix,
}

/// Where one location's objects are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LocationPrefix {
    /// The S3 or GCS bucket. Empty: the `sessions` location's bucket.
    #[serde(deserialize_with = "text")]
    pub bucket: String,
    /// The Azure container. Empty: `storage.az.container`, else the prefix is the container.
    #[serde(deserialize_with = "text")]
    pub container: String,
    /// Regula's sub-folder key; accepted, not used.
    #[serde(deserialize_with = "text")]
    pub folder: String,
    /// The folder in the bucket or container (with `fs`: under `fs.path`).
    #[serde(deserialize_with = "text")]
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://./idv-data/idv.db` (default) or `postgres://user@host:5432/db`.
    pub url: String,
}

/// A text key that may be written `null` (Regula's charts do): null reads as empty.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretText, D::Error> {
    Ok(SecretText::new(text(d)?))
}

/// Where a location's objects go on an object store: a bucket (or container) and a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// The folder in it, without slashes at the ends; may be empty.
    pub prefix: String,
}

/// The parts of an Azure connection string idv uses. `Debug` never shows the key.
#[derive(Clone, PartialEq)]
pub struct AzConnection {
    pub account: String,
    pub key: Option<SecretText>,
    /// `BlobEndpoint`, or one made from the protocol and `EndpointSuffix`.
    pub blob_endpoint: Option<String>,
    /// `SharedAccessSignature` (without the leading `?`).
    pub sas: Option<SecretText>,
}

impl std::fmt::Debug for AzConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzConnection")
            .field("account", &self.account)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("blob_endpoint", &self.blob_endpoint)
            .field("sas", &self.sas.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Azurite's well-known development account (public, documented by Microsoft).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl AzConnection {
    /// Parses `storage.az.connectionString`. Errors name the part, never its value.
    pub fn parse(text: &str) -> Result<AzConnection, String> {
        let mut account = None;
        let mut key = None;
        let mut endpoint = None;
        let mut protocol = "https".to_string();
        let mut suffix = "core.windows.net".to_string();
        let mut sas = None;
        let mut dev = false;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(
                    "`storage.az.connectionString` has a part without `=`; it must be `Name=value;Name=value`"
                        .into(),
                );
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "accountname" => account = Some(value.trim().to_string()),
                "accountkey" => key = Some(SecretText::new(value.trim())),
                "blobendpoint" => endpoint = Some(value.trim().trim_end_matches('/').to_string()),
                "defaultendpointsprotocol" => protocol = value.trim().to_ascii_lowercase(),
                "endpointsuffix" => suffix = value.trim().to_string(),
                "sharedaccesssignature" => {
                    sas = Some(SecretText::new(value.trim().trim_start_matches('?')))
                }
                "usedevelopmentstorage" => dev = value.trim().eq_ignore_ascii_case("true"),
                // Endpoints of the other services, and keys idv has no use for.
                _ => {}
            }
        }
        if dev {
            return Ok(AzConnection {
                account: DEV_ACCOUNT.into(),
                key: Some(SecretText::new(DEV_KEY)),
                blob_endpoint: Some(
                    endpoint.unwrap_or_else(|| format!("http://127.0.0.1:10000/{DEV_ACCOUNT}")),
                ),
                sas,
            });
        }
        let Some(account) = account.filter(|a| !a.is_empty()) else {
            return Err("`storage.az.connectionString` has no AccountName".into());
        };
        if key.is_none() && sas.is_none() {
            return Err(
                "`storage.az.connectionString` has neither AccountKey nor SharedAccessSignature"
                    .into(),
            );
        }
        if !matches!(protocol.as_str(), "http" | "https") {
            return Err(
                "`storage.az.connectionString`: DefaultEndpointsProtocol must be http or https"
                    .into(),
            );
        }
        let blob_endpoint = match endpoint {
            Some(e) if !(e.starts_with("http://") || e.starts_with("https://")) => {
                return Err(
                    "`storage.az.connectionString`: BlobEndpoint must start with http:// or https://"
                        .into(),
                );
            }
            Some(e) => Some(e),
            None if suffix == "core.windows.net" && protocol == "https" => None,
            None => Some(format!("{protocol}://{account}.blob.{suffix}")),
        };
        Ok(AzConnection {
            account,
            key,
            blob_endpoint,
            sas,
        })
    }
}

/// The location blocks by key, in the order the example lists them.
pub const LOCATIONS: [&str; 9] = [
    "sessions",
    "persons",
    "userFiles",
    "tempFiles",
    "workflows",
    "locales",
    "assets",
    "banlists",
    "thumbnails",
];

impl Storage {
    /// A location block by its key (one of [`LOCATIONS`]).
    pub fn location(&self, key: &str) -> &LocationPrefix {
        let l = match key {
            "sessions" => &self.sessions,
            "persons" => &self.persons,
            "userFiles" => &self.user_files,
            "tempFiles" => &self.temp_files,
            "workflows" => &self.workflows,
            "locales" => &self.locales,
            "assets" => &self.assets,
            "banlists" => &self.banlists,
            _ => &self.thumbnails,
        };
        &l.location
    }

    /// Where location `key` is on the object store of `storage.type` (not for `fs`).
    pub fn place(&self, key: &str) -> Place {
        let loc = self.location(key);
        let prefix = loc.prefix.trim_matches('/').to_string();
        match self.kind {
            StorageType::Az => {
                let container = [&loc.container, &self.az.container, &loc.bucket]
                    .into_iter()
                    .find(|c| !c.is_empty());
                match container {
                    Some(c) => Place {
                        bucket: c.clone(),
                        prefix,
                    },
                    // Regula's Azure locations name only a prefix: it is the container.
                    None => Place {
                        bucket: prefix,
                        prefix: String::new(),
                    },
                }
            }
            _ => {
                let bucket = if loc.bucket.is_empty() {
                    self.sessions.location.bucket.clone()
                } else {
                    loc.bucket.clone()
                };
                Place { bucket, prefix }
            }
        }
    }

    /// The S3 endpoint with its scheme (empty: AWS).
    pub fn s3_endpoint(&self) -> String {
        let e = self.s3.endpoint.trim().trim_end_matches('/');
        if e.is_empty() || e.starts_with("http://") || e.starts_with("https://") {
            e.to_string()
        } else if self.s3.secure {
            format!("https://{e}")
        } else {
            format!("http://{e}")
        }
    }

    /// The checks of the `storage` block; a message names the key and says what to do.
    pub fn validate(&self) -> Result<(), String> {
        for key in LOCATIONS {
            let prefix = &self.location(key).prefix;
            if prefix.contains('\\') || prefix.split('/').any(|s| s == "." || s == "..") {
                return Err(format!(
                    "bad value for `storage.{key}.location.prefix`: `{prefix}` must be a relative folder name (no `.`, `..` or `\\`)"
                ));
            }
        }
        match self.kind {
            StorageType::Fs => {
                if self.fs.path.trim().is_empty() {
                    return Err(
                        "`storage.fs.path` is empty while `storage.type` is fs; name the folder files are kept in (for example ./idv-data)"
                            .into(),
                    );
                }
                return Ok(());
            }
            StorageType::S3 => {
                let endpoint = self.s3_endpoint();
                if endpoint.starts_with("http://") && self.s3.secure {
                    return Err(format!(
                        "`storage.s3.endpoint` is `{endpoint}` (plain HTTP) while `storage.s3.secure` is true; set secure: false to allow HTTP, or use an https:// endpoint"
                    ));
                }
                if self.s3.access_key.is_empty() != self.s3.access_secret.expose().is_empty() {
                    return Err(
                        "`storage.s3.accessKey` and `storage.s3.accessSecret` go together: set both, or neither (credentials then come from the environment)"
                            .into(),
                    );
                }
            }
            StorageType::Az => {
                let conn = self.az.connection_string.expose();
                if conn.trim().is_empty() {
                    if self.az.storage_account.trim().is_empty() {
                        return Err(
                            "`storage.type` is az but neither `storage.az.connectionString` nor `storage.az.storageAccount` is set; give the connection string (or the account, with credentials in the environment)"
                                .into(),
                        );
                    }
                } else {
                    AzConnection::parse(conn)?;
                }
            }
            StorageType::Gcs => {
                if !self.gcs.endpoint.is_empty() && !self.gcs.anonymous {
                    return Err(
                        "`storage.gcs.endpoint` is used only with `storage.gcs.anonymous: true` (an emulator); remove it, or set anonymous"
                            .into(),
                    );
                }
                let e = &self.gcs.endpoint;
                if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                    return Err(format!(
                        "bad value for `storage.gcs.endpoint`: `{}` must start with http:// or https://",
                        self.gcs.endpoint
                    ));
                }
            }
        }
        let kind = self.kind.as_str();
        let what = if self.kind == StorageType::Az {
            "container"
        } else {
            "bucket"
        };
        for key in ["sessions", "workflows", "locales", "assets"] {
            let place = self.place(key);
            if place.bucket.is_empty() {
                let fix = if self.kind == StorageType::Az {
                    format!(
                        "set `storage.{key}.location.container` (or `storage.az.container`, or a prefix, which then names the container)"
                    )
                } else {
                    format!("set `storage.{key}.location.bucket` (or the sessions bucket)")
                };
                return Err(format!(
                    "`storage.type` is {kind} but `storage.{key}` names no {what}; {fix}"
                ));
            }
        }
        // The orphan sweep removes what lies under the sessions prefix and belongs to no
        // session: no other location may sit there.
        let sessions = self.place("sessions");
        if sessions.prefix.is_empty() && self.kind != StorageType::Az {
            return Err(format!(
                "`storage.sessions.location.prefix` is empty; with {kind} storage session files need a folder of their own in the bucket (Regula's is sessions)"
            ));
        }
        for key in ["workflows", "locales", "assets"] {
            let other = self.place(key);
            let nested = sessions.prefix.is_empty()
                || other.prefix == sessions.prefix
                || other.prefix.starts_with(&format!("{}/", sessions.prefix));
            if other.bucket == sessions.bucket && nested {
                return Err(format!(
                    "`storage.{key}` is inside the sessions location ({what} `{}`, prefix `{}`); give it another prefix or {what}",
                    sessions.bucket, sessions.prefix
                ));
            }
        }
        Ok(())
    }
}

fn location(prefix: &str) -> Location {
    Location {
        location: LocationPrefix {
            prefix: prefix.into(),
            ..Default::default()
        },
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            kind: StorageType::Fs,
            s3: S3Storage::default(),
            az: AzStorage::default(),
            gcs: GcsStorage::default(),
            fs: FsStorage::default(),
            sessions: location("sessions"),
            persons: location("persons"),
            user_files: location("files"),
            temp_files: location("tmp"),
            workflows: location("workflows"),
            locales: location("localization"),
            assets: location("assets"),
            banlists: location("banlist"),
            thumbnails: location("thumbnails"),
        }
    }
}

impl Default for S3Storage {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            access_key: String::new(),
            access_secret: SecretText::default(),
            region: String::new(),
            secure: true,
        }
    }
}

impl Default for GcsStorage {
    fn default() -> Self {
        Self {
            anonymous: false,
            endpoint: String::new(),
            verify_ssl: true,
            gcs_key_json: String::new(),
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

impl Default for Database {
    fn default() -> Self {
        Self {
            url: "sqlite://./idv-data/idv.db".into(),
        }
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
