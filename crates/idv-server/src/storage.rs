//! File storage from the configuration: the [`Blobs`] that hold session files and assets, and,
//! on an object store, the folders workflow and localization files load from.
//!
//! With `storage.type: fs` everything is one local folder (`storage.fs.path`), keys as they
//! are. On `s3`, `az` or `gcs`, the key space is split into areas ([`idv_store::blobs::BlobArea`]):
//! `sessions/…` goes to the `sessions` location (its bucket or container and prefix) and the
//! assets keys to the `assets` location; one client is made per bucket or container.

use crate::config::storage::{AzConnection, Place};
use crate::config::{Storage, StorageType};
use idv_store::blobs::backends::{self, AzureSettings, GcsSettings, S3Settings};
use idv_store::blobs::{BlobArea, BlobError, Blobs, ObjectStore};
use std::collections::HashMap;
use std::sync::Arc;

/// The area of session files (the first segment of their keys).
pub(crate) const SESSIONS_AREA: &str = "sessions";

/// A folder of workflow or localization documents on an object store.
#[derive(Clone, Debug)]
pub struct DocumentFolder {
    /// The location's configured prefix: files of this folder are named `{prefix}/{name}` in
    /// reload summaries and logs, as files of the local folders are.
    pub prefix: String,
    /// The folder's objects, keyed by their name in it.
    pub blobs: Blobs,
}

/// What [`open`] makes.
#[derive(Debug)]
pub struct Opened {
    pub blobs: Blobs,
    /// Empty with `fs` storage (the folders under `storage.fs.path` are read instead).
    pub documents: Vec<DocumentFolder>,
}

/// Builds the file storage `storage` names. Errors name the setting at fault, never a secret.
pub fn open(storage: &Storage, data_dir: &std::path::Path) -> Result<Opened, BlobError> {
    if storage.kind == StorageType::Fs {
        return Ok(Opened {
            blobs: Blobs::local(data_dir)?,
            documents: Vec::new(),
        });
    }
    let mut clients = Clients::new(storage)?;
    let sessions = storage.place("sessions");
    let assets = storage.place("assets");
    let blobs = Blobs::from_areas(vec![
        BlobArea::new(
            SESSIONS_AREA,
            clients.get(&sessions.bucket)?,
            &sessions.prefix,
        ),
        BlobArea::new(
            storage.assets.location.prefix.trim_matches('/'),
            clients.get(&assets.bucket)?,
            &assets.prefix,
        ),
    ]);
    let mut documents: Vec<DocumentFolder> = Vec::new();
    let mut seen: Vec<Place> = Vec::new();
    for key in ["workflows", "locales"] {
        let place = storage.place(key);
        if seen.contains(&place) {
            continue;
        }
        documents.push(DocumentFolder {
            prefix: storage.location(key).prefix.trim_matches('/').to_string(),
            blobs: Blobs::rooted(clients.get(&place.bucket)?, &place.prefix),
        });
        seen.push(place);
    }
    Ok(Opened { blobs, documents })
}

/// One client per bucket or container.
struct Clients<'a> {
    storage: &'a Storage,
    azure: Option<AzureSettings>,
    made: HashMap<String, Arc<dyn ObjectStore>>,
}

impl<'a> Clients<'a> {
    fn new(storage: &'a Storage) -> Result<Self, BlobError> {
        let azure = if storage.kind == StorageType::Az {
            let text = storage.az.connection_string.expose();
            Some(if text.trim().is_empty() {
                AzureSettings {
                    account: storage.az.storage_account.clone(),
                    key: None,
                    sas: None,
                    endpoint: None,
                }
            } else {
                let c = AzConnection::parse(text).map_err(BlobError::Backend)?;
                AzureSettings {
                    account: c.account,
                    key: c.key.map(|k| k.expose().to_string()),
                    sas: c.sas.map(|k| k.expose().to_string()),
                    endpoint: c.blob_endpoint,
                }
            })
        } else {
            None
        };
        Ok(Clients {
            storage,
            azure,
            made: HashMap::new(),
        })
    }

    fn get(&mut self, bucket: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
        if let Some(c) = self.made.get(bucket) {
            return Ok(c.clone());
        }
        let s = self.storage;
        let client = match s.kind {
            StorageType::S3 => backends::s3(
                &S3Settings {
                    endpoint: s.s3_endpoint(),
                    region: s.s3.region.clone(),
                    access_key: s.s3.access_key.clone(),
                    secret_key: s.s3.access_secret.expose().to_string(),
                    allow_http: !s.s3.secure,
                },
                bucket,
            )?,
            StorageType::Az => backends::azure(self.azure.as_ref().expect("az settings"), bucket)?,
            StorageType::Gcs => backends::gcs(
                &GcsSettings {
                    anonymous: s.gcs.anonymous,
                    endpoint: s.gcs.endpoint.clone(),
                    verify_ssl: s.gcs.verify_ssl,
                    key_path: s.gcs.gcs_key_json.clone(),
                },
                bucket,
            )?,
            StorageType::Fs => unreachable!("fs storage makes no clients"),
        };
        self.made.insert(bucket.to_string(), client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secrets::SecretText;

    fn remote(kind: StorageType) -> Storage {
        let mut s = Storage {
            kind,
            ..Storage::default()
        };
        s.sessions.location.bucket = "idv-bucket".into();
        s
    }

    /// No GCS emulator runs in the tests: this shows the client is built from Regula's keys,
    /// and that a key file that is not there is refused naming the bucket.
    #[test]
    fn gcs_clients_are_built_or_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = remote(StorageType::Gcs);
        s.gcs.anonymous = true;
        s.gcs.endpoint = "http://127.0.0.1:4443".into();
        s.gcs.verify_ssl = false;
        s.validate().unwrap();
        let opened = open(&s, dir.path()).unwrap();
        assert!(!opened.blobs.is_local());
        let shown = format!("{:?}", opened.blobs);
        assert!(shown.contains("GoogleCloudStorage(idv-bucket)"), "{shown}");
        assert_eq!(
            opened
                .documents
                .iter()
                .map(|d| d.prefix.as_str())
                .collect::<Vec<_>>(),
            ["workflows", "localization"]
        );

        s.gcs.anonymous = false;
        s.gcs.endpoint.clear();
        s.gcs.gcs_key_json = dir.path().join("gcs_key.json").display().to_string();
        let e = open(&s, dir.path()).unwrap_err().to_string();
        assert!(e.contains("cannot set up GCS bucket `idv-bucket`"), "{e}");
    }

    #[test]
    fn clients_hold_secrets_out_of_sight() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = remote(StorageType::S3);
        s.s3.endpoint = "http://127.0.0.1:9".into();
        s.s3.secure = false;
        s.s3.access_key = "key-id".into();
        s.s3.access_secret = SecretText::new("very-secret-value");
        let opened = open(&s, dir.path()).unwrap();
        let shown = format!("{:?} {:?}", opened.blobs, opened.documents);
        assert!(shown.contains("AmazonS3(idv-bucket)"), "{shown}");
        assert!(!shown.contains("very-secret-value"), "{shown}");

        let mut s = remote(StorageType::Az);
        s.az.connection_string = SecretText::new(
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=dmVyeS1zZWNyZXQ=;BlobEndpoint=http://127.0.0.1:9/acct",
        );
        let opened = open(&s, dir.path()).unwrap();
        let shown = format!("{:?}", opened.blobs);
        assert!(shown.contains("MicrosoftAzure"), "{shown}");
        assert!(!shown.contains("dmVyeS1zZWNyZXQ="), "{shown}");
    }
}
