//! The object stores: an S3-compatible store, Azure Blob Storage and Google Cloud Storage, one
//! client per bucket or container, built from plain settings (the server maps its
//! configuration onto these). Requests give up quickly when the store cannot be reached (a
//! few retries within seconds), so an outage answers an error instead of holding requests.

use super::BlobError;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, RetryConfig, aws::AmazonS3Builder,
    azure::MicrosoftAzureBuilder, gcp::GoogleCloudStorageBuilder,
};
use std::sync::Arc;
use std::time::Duration;

/// An S3-compatible store's settings.
pub struct S3Settings {
    /// Empty: AWS. Otherwise the store's URL, addressed path-style.
    pub endpoint: String,
    /// Empty: `us-east-1`.
    pub region: String,
    /// Empty (both): credentials from the environment.
    pub access_key: String,
    pub secret_key: String,
    /// Allows an `http://` endpoint.
    pub allow_http: bool,
}

/// Azure Blob Storage's settings.
pub struct AzureSettings {
    pub account: String,
    /// The account key; `None` with `sas` `None`: credentials from the environment.
    pub key: Option<String>,
    /// A shared access signature (query text).
    pub sas: Option<String>,
    /// The blob service's URL (Azurite: `http://127.0.0.1:10000/devstoreaccount1`). `None`:
    /// `https://{account}.blob.core.windows.net`.
    pub endpoint: Option<String>,
}

/// Google Cloud Storage's settings.
pub struct GcsSettings {
    /// Requests are not signed.
    pub anonymous: bool,
    /// With `anonymous`: the emulator's URL. Empty: Google's.
    pub endpoint: String,
    /// `false` accepts certificates that do not verify.
    pub verify_ssl: bool,
    /// The service account key file. Empty: the application default credentials.
    pub key_path: String,
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        // One request (a 5 MiB part, or one stretch of a download that resumes after it).
        .with_timeout(Duration::from_secs(60))
}

fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
    }
}

fn failed(what: &str, e: object_store::Error) -> BlobError {
    BlobError::Backend(format!("cannot set up {what}: {e}"))
}

/// A client for one S3 bucket.
pub fn s3(settings: &S3Settings, bucket: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_client_options(client_options(settings.allow_http))
        .with_retry(retry());
    if !settings.region.is_empty() {
        b = b.with_region(&settings.region);
    }
    if !settings.endpoint.is_empty() {
        // MinIO and the like: path-style addresses ({endpoint}/{bucket}/{key}).
        b = b
            .with_endpoint(&settings.endpoint)
            .with_virtual_hosted_style_request(false);
    }
    if !settings.access_key.is_empty() {
        b = b
            .with_access_key_id(&settings.access_key)
            .with_secret_access_key(&settings.secret_key);
    } else {
        // Credentials from the environment, as the AWS tools read them.
        for (var, key) in [
            ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
            ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
            ("AWS_SESSION_TOKEN", "aws_session_token"),
        ] {
            if let Ok(v) = std::env::var(var)
                && let Ok(k) = key.parse()
            {
                b = b.with_config(k, v);
            }
        }
    }
    let store = b
        .build()
        .map_err(|e| failed(&format!("S3 bucket `{bucket}`"), e))?;
    Ok(Arc::new(store))
}

/// A client for one Azure container.
pub fn azure(settings: &AzureSettings, container: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let allow_http = settings
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let mut b = if settings.key.is_none() && settings.sas.is_none() {
        // Credentials from the environment (AZURE_* variables, managed identity).
        MicrosoftAzureBuilder::from_env()
    } else {
        MicrosoftAzureBuilder::new()
    }
    .with_account(&settings.account)
    .with_container_name(container)
    .with_client_options(client_options(allow_http))
    .with_retry(retry());
    if let Some(endpoint) = &settings.endpoint {
        b = b.with_endpoint(endpoint.clone());
    }
    if let Some(key) = &settings.key {
        b = b.with_access_key(key);
    } else if let Some(sas) = &settings.sas {
        let pairs: Vec<(String, String)> = sas
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decode(v)))
            .collect();
        b = b.with_sas_authorization(pairs);
    }
    let store = b
        .build()
        .map_err(|e| failed(&format!("Azure container `{container}`"), e))?;
    Ok(Arc::new(store))
}

/// A client for one GCS bucket.
pub fn gcs(settings: &GcsSettings, bucket: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let allow_http = settings.endpoint.starts_with("http://");
    let mut options = client_options(allow_http);
    if !settings.verify_ssl {
        options = options.with_allow_invalid_certificates(true);
    }
    let mut b = GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_client_options(options)
        .with_retry(retry());
    if settings.anonymous {
        // An unsigned client: the key `object_store` reads for a custom base URL and no OAuth.
        let key = serde_json::json!({
            "gcs_base_url": if settings.endpoint.is_empty() {
                "https://storage.googleapis.com"
            } else {
                settings.endpoint.trim_end_matches('/')
            },
            "disable_oauth": true,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        });
        b = b.with_service_account_key(key.to_string());
    } else if !settings.key_path.is_empty() {
        b = b.with_service_account_path(&settings.key_path);
    } else if let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
        b = b.with_application_credentials(path);
    }
    let store = b
        .build()
        .map_err(|e| failed(&format!("GCS bucket `{bucket}`"), e))?;
    Ok(Arc::new(store))
}

/// `%XX` escapes of a query value decoded (a SAS token's signature is escaped).
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(b) = hex {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
