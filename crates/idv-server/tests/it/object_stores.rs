//! Files on object stores, through real HTTP: the server configured with Regula's keys for an
//! S3-compatible store (moto) and for Azure Blob Storage (Azurite) loads its workflows,
//! localization files and assets from the store, keeps session files there (upload, Range
//! download, export and import, deletion, the orphan sweep), and answers 503
//! `storage_unavailable` with no half-written session when the store goes away mid-upload.
//!
//! The stores run on loopback, started by `scripts/object_stores.sh` (scripts/test.sh sources
//! it), which exports `IDV_TEST_S3_URL`, `IDV_TEST_S3_SERVER` and `IDV_TEST_AZURITE_URL`.

use crate::common;

use base64::Engine as _;
use common::*;
use futures::StreamExt;
use hmac::Mac;
use idv_core::time::Clock as _;
use idv_server::config::{Config, StorageType};
use idv_store::blobs::Blobs;
use idv_store::blobs::backends::{self, AzureSettings, S3Settings};
use serde_json::{Value, json};

const WF_ID: &str = "6a0f7f20-0001-11ef-8000-0000000051a3";

fn workflow(name: &str) -> String {
    format!(
        r#"
id: {WF_ID}
name: {name}
version: "1"
defaultLocale: en-us
steps:
  - id: CAPTURE
    name: CAPTURE
    type: DATA
    conditions:
      - name: Done
        transit: {{step: DONE, status: VERIFIED}}
        rules: [{{id: always, decision: true}}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
properties:
  - id: DOC_PHOTO
    type: binary
rules:
  - id: always
    name: Always
    condition: {{type: script, script: "1 == 1"}}
"#
    )
}

/// Azurite's development account key (public, the same in every Azurite).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: the object-store tests need an S3-compatible server and Azurite on \
             loopback; start them with `eval \"$(scripts/object_stores.sh start)\"` (and stop them \
             with `scripts/object_stores.sh stop`), or run scripts/test.sh, which does both"
        )
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    S3,
    Azure,
}

/// A fresh bucket (or container) on one of the test stores.
struct Remote {
    kind: Kind,
    url: String,
    bucket: String,
}

impl Remote {
    async fn new(kind: Kind) -> Remote {
        let url = match kind {
            Kind::S3 => required("IDV_TEST_S3_URL"),
            Kind::Azure => required("IDV_TEST_AZURITE_URL"),
        };
        Self::on(kind, url).await
    }

    async fn on(kind: Kind, url: String) -> Remote {
        let bucket = format!("idv-{}", &idv_core::ids::new_id()[..20]);
        let client = reqwest::Client::new();
        let r = match kind {
            // moto creates a bucket on a plain PUT.
            Kind::S3 => client.put(format!("{url}/{bucket}")).send().await.unwrap(),
            Kind::Azure => azure_create_container(&client, &url, &bucket).await,
        };
        assert!(
            r.status().is_success(),
            "creating {bucket}: {}",
            r.text().await.unwrap()
        );
        Remote { kind, url, bucket }
    }

    /// Regula's keys for this store: the sessions, workflows, locales and assets locations all
    /// in this bucket, under Regula's prefixes.
    fn configure(&self, c: &mut Config) {
        let s = &mut c.storage;
        match self.kind {
            Kind::S3 => {
                s.kind = StorageType::S3;
                s.s3.endpoint = self.url.clone();
                s.s3.access_key = "test-access".into();
                s.s3.access_secret = idv_server::config::secrets::SecretText::new("test-secret");
                s.s3.region = "us-east-1".into();
                s.s3.secure = false;
                s.sessions.location.bucket = self.bucket.clone();
                s.assets.location.bucket = self.bucket.clone();
                s.workflows.location.bucket = self.bucket.clone();
                s.locales.location.bucket = self.bucket.clone();
            }
            Kind::Azure => {
                s.kind = StorageType::Az;
                s.az.storage_account = "devstoreaccount1".into();
                s.az.connection_string = idv_server::config::secrets::SecretText::new(format!(
                    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};BlobEndpoint={};",
                    self.url
                ));
                s.sessions.location.container = self.bucket.clone();
                s.assets.location.container = self.bucket.clone();
                s.workflows.location.container = self.bucket.clone();
                s.locales.location.container = self.bucket.clone();
            }
        }
    }

    /// A client of the bucket itself, keys as they are in it.
    fn direct(&self) -> Blobs {
        let store = match self.kind {
            Kind::S3 => backends::s3(
                &S3Settings {
                    endpoint: self.url.clone(),
                    region: "us-east-1".into(),
                    access_key: "test-access".into(),
                    secret_key: "test-secret".into(),
                    allow_http: true,
                },
                &self.bucket,
            ),
            Kind::Azure => backends::azure(
                &AzureSettings {
                    account: "devstoreaccount1".into(),
                    key: Some(AZURITE_KEY.into()),
                    sas: None,
                    endpoint: Some(self.url.clone()),
                },
                &self.bucket,
            ),
        };
        Blobs::rooted(store.unwrap(), "")
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .direct()
            .list(prefix)
            .unwrap()
            .map(|o| o.unwrap().key)
            .collect()
            .await;
        keys.sort();
        keys
    }
}

/// Creates a container on Azurite, signed with the development account's shared key.
async fn azure_create_container(
    client: &reqwest::Client,
    url: &str,
    container: &str,
) -> reqwest::Response {
    let now = chrono::DateTime::from_timestamp_millis(idv_core::time::SystemClock.now_ms())
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    let path = url::Url::parse(url).unwrap().path().to_string();
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{now}\nx-ms-version:{version}\n/devstoreaccount1{path}/{container}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(AZURITE_KEY)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    client
        .put(format!("{url}/{container}?restype=container"))
        .header("x-ms-date", now)
        .header("x-ms-version", version)
        .header(
            "authorization",
            format!("SharedKey devstoreaccount1:{signature}"),
        )
        .send()
        .await
        .unwrap()
}

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn files_round_trip(kind: Kind) {
    let remote = Remote::new(kind).await;
    // Seeded as a deployment seeds Regula's bucket: documents under workflows/ and
    // localization/, images under assets/.
    let direct = remote.direct();
    direct
        .put_bytes("workflows/upload.yaml", workflow("Store checks").into())
        .await
        .unwrap();
    direct
        .put_bytes(
            "localization/kyc_locale.yaml",
            KYC_LOCALE.as_bytes().to_vec().into(),
        )
        .await
        .unwrap();
    direct
        .put_bytes("assets/storeLogo.png", bytes::Bytes::from_static(PNG))
        .await
        .unwrap();

    let srv = TestServer::start_with(Backend::Sqlite, |c| remote.configure(c)).await;
    let key = srv
        .key(&["session:read", "session:write", "session:delete"])
        .await;
    let auth = format!("ApiKey {key}");

    // Ready: the storage check reaches the store.
    let r = srv.get("/api/ready").send().await.unwrap();
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ready["checks"]["storage"]["status"], "ok", "{ready}");
    assert_eq!(ready["failing"], serde_json::json!([]), "{ready}");

    // The workflow and the asset loaded from the store at start.
    let r = srv
        .admin(srv.get(&format!("/api/workflows/{WF_ID}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the seeded workflow loaded");
    let r = srv
        .get("/api/v1/assets/storeLogo/content")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);

    // An uploaded asset lives in the assets location.
    let r = srv
        .admin(
            srv.client
                .put(format!("{}/api/v1/assets/banner.png", srv.url)),
        )
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let asset_objects = remote.keys("assets/banner.png").await;
    assert_eq!(asset_objects.len(), 1, "{asset_objects:?}");

    // A changed file becomes a new revision on reload; translations load from localization/.
    direct
        .put_bytes(
            "workflows/upload.yaml",
            workflow("Store checks, again").into(),
        )
        .await
        .unwrap();
    let r = srv
        .admin(srv.post("/api/workflows/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let summary: Value = r.json().await.unwrap();
    assert_eq!(
        summary["workflows"][0]["file"], "workflows/upload.yaml",
        "{summary}"
    );
    // (The scheduled reloadWorkflows job may have taken the change first: the revision in
    // use is what counts.)
    let r = srv
        .admin(srv.get(&format!("/api/workflows/{WF_ID}")))
        .send()
        .await
        .unwrap();
    let current: Value = r.json().await.unwrap();
    assert!(
        current.to_string().contains("Store checks, again"),
        "the changed file is the current revision: {current}"
    );
    assert_eq!(
        summary["translations"][0]["file"], "localization/kyc_locale.yaml",
        "{summary}"
    );

    // A session with a file: its bytes are in the sessions location.
    let s = srv.start_session_of(WF_ID, &key, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let form = reqwest::multipart::Form::new().part(
        "DOC_PHOTO",
        reqwest::multipart::Part::bytes(photo.clone())
            .file_name("front.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = srv
        .post(&format!("/api/sessions/{id}/step/CAPTURE?type=file"))
        .header("authorization", &auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored = remote.keys(&format!("sessions/{id}")).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let session = srv.session(&auth, &id).await;
    let file = session["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "front.jpg")
        .unwrap_or_else(|| panic!("{session}"))
        .clone();
    let url = file["url"].as_str().unwrap().to_string();

    // Range reads come from the store.
    let r = srv
        .client
        .get(&url)
        .header("authorization", &auth)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &photo[1000..2000]);
    let download = |url: String| {
        let (client, auth) = (srv.client.clone(), auth.clone());
        async move {
            let r = client
                .get(&url)
                .header("authorization", &auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().to_vec()
        }
    };
    assert_eq!(download(url.clone()).await, photo);

    // Export, delete (the bytes go), import (they come back).
    let r = srv
        .get(&format!("/api/sessions/{id}/export"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let archive = srv.dir.path().join("session.zip");
    std::fs::write(&archive, r.bytes().await.unwrap()).unwrap();
    let r = srv
        .delete(&format!("/api/sessions/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert_eq!(
        remote.keys(&format!("sessions/{id}")).await,
        Vec::<String>::new()
    );
    let state = idv_server::state::AppState::open_with_clock(
        srv.config.clone(),
        srv.url.clone(),
        srv.clock.clone(),
    )
    .await
    .unwrap();
    let imported = idv_server::ops::exchange::import_archive(&state, &archive, true)
        .await
        .unwrap();
    assert!(
        matches!(imported, idv_server::ops::exchange::Imported::Stored { .. }),
        "{imported:?}"
    );
    assert_eq!(remote.keys(&format!("sessions/{id}")).await.len(), 1);
    assert_eq!(download(url.clone()).await, photo);

    // The orphan sweep lists the sessions location: bytes of no session go once old enough;
    // the imported session's stay.
    let orphan = format!(
        "sessions/{}/files/{}",
        idv_core::ids::new_id(),
        idv_core::ids::new_id()
    );
    direct
        .put_bytes(&orphan, bytes::Bytes::from_static(b"orphan"))
        .await
        .unwrap();
    use idv_server::ops::deletion;
    srv.clock.advance(deletion::ORPHAN_GRACE_MS + 60_000);
    assert_eq!(
        deletion::sweep_orphans(&state, deletion::ORPHAN_GRACE_MS)
            .await
            .unwrap(),
        1
    );
    assert!(!direct.exists(&orphan).await.unwrap());
    assert_eq!(download(url).await, photo);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_round_trip_on_s3() {
    files_round_trip(Kind::S3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn files_round_trip_on_azure() {
    files_round_trip(Kind::Azure).await;
}

/// An S3 server of the test's own, to stop.
struct OwnS3 {
    child: tokio::process::Child,
    url: String,
}

impl OwnS3 {
    async fn start() -> OwnS3 {
        let program = required("IDV_TEST_S3_SERVER");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(&url).send().await.is_ok() {
                return OwnS3 { child, url };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the S3 server did not start at {url}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_stopped_mid_upload_leaves_no_file_row() {
    let mut own = OwnS3::start().await;
    let remote = Remote::on(Kind::S3, own.url.clone()).await;
    let srv = TestServer::start_with(Backend::Sqlite, |c| remote.configure(c)).await;
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(workflow("Outage"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let key = srv.key(&["session:read", "session:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session_of(WF_ID, &key, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    // A first file, stored while the store is up.
    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/CAPTURE?type=file&name=first.bin"
        ))
        .header("authorization", &auth)
        .header("content-type", "application/octet-stream")
        .body(vec![7u8; 200_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let before = srv.session(&auth, &id).await;
    let first_url = before["files"][0]["url"].as_str().unwrap().to_string();

    // 12 MiB streamed; the store is stopped once 6 MiB (more than one 5 MiB part) are sent.
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let body = futures::stream::unfold(
        (0usize, Some(sent_tx), Some(stopped_rx)),
        |(i, mut sent, mut stopped)| async move {
            if i == 12 {
                return None;
            }
            if i == 6 {
                if let Some(tx) = sent.take() {
                    let _ = tx.send(());
                }
                if let Some(rx) = stopped.take() {
                    let _ = rx.await;
                }
            }
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![i as u8; 1 << 20])),
                (i + 1, sent, stopped),
            ))
        },
    );
    let upload = srv
        .post(&format!(
            "/api/sessions/{id}/step/CAPTURE?type=file&name=big.bin"
        ))
        .header("authorization", &auth)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let stopper = async {
        sent_rx.await.unwrap();
        own.child.kill().await.unwrap();
        stopped_tx.send(()).unwrap();
    };
    let (r, ()) = tokio::join!(upload, stopper);
    let (status, code, _) = error_of(r.unwrap()).await;
    assert_eq!((status, code.as_str()), (503, "storage_unavailable"));

    // The session reads as before: no row for the broken upload.
    let after = srv.session(&auth, &id).await;
    assert_eq!(after["files"], before["files"], "{after}");
    // Reading the bytes of the earlier file answers the same code while the store is down.
    let r = srv
        .client
        .get(&first_url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (503, "storage_unavailable"));
    srv.stop().await;
}

/// The Helm chart's whole config.yaml (every key of its template, filled from the chart's
/// defaults; `src/config/testdata/helm-defaults.yaml`) runs a server, with only the storage
/// endpoint and buckets, the database and the data folder set by `IDV_CONFIG__…` variables as a
/// deployment would: the keys idv implements are in effect (basic auth, CORS, rate limits,
/// baseUrl, fernetKey, S3 storage with Regula's location blocks), the keys it replaces only
/// gave notices.
#[tokio::test(flavor = "multi_thread")]
async fn the_helm_charts_config_runs_with_its_keys_in_effect() {
    let remote = Remote::new(Kind::S3).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        include_str!("../../src/config/testdata/helm-defaults.yaml"),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = [
        ("IDV_CONFIG__STORAGE__S3__ENDPOINT", remote.url.as_str()),
        ("IDV_CONFIG__STORAGE__S3__SECURE", "false"),
        ("IDV_CONFIG__STORAGE__S3__ACCESSKEY", "test-access"),
        ("IDV_CONFIG__STORAGE__S3__ACCESSSECRET", "test-secret"),
        ("IDV_CONFIG__STORAGE__S3__REGION", "us-east-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for location in ["SESSIONS", "ASSETS", "WORKFLOWS", "LOCALES"] {
        env.push((
            format!("IDV_CONFIG__STORAGE__{location}__LOCATION__BUCKET"),
            remote.bucket.clone(),
        ));
    }
    let loaded = idv_server::config::load(Some(&file), env).unwrap();
    assert!(
        loaded.notices.iter().any(|n| n.key == "mongo")
            && loaded.notices.iter().any(|n| n.key == "services.indexer"),
        "{:?}",
        loaded.notices
    );
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        let (db, data) = (c.database.url.clone(), c.storage.fs.path.clone());
        *c = loaded;
        c.database.url = db;
        c.storage.fs.path = data;
    })
    .await;

    // fernetKey: the database's secrets are sealed under the configured key.
    assert!(matches!(
        srv.state().await.secrets.source(),
        idv_server::secrets::KeySource::Config
    ));
    // basicAuth.enabled: the admin signs in with a password.
    srv.load_kyc().await;
    let key = srv.key(&["session:read", "session:write"]).await;
    let auth = format!("ApiKey {key}");
    let session = srv.start_session(&key, json!({})).await;
    let id = session["id"].as_str().unwrap();

    // storage: an upload goes to the sessions location's bucket, under Regula's prefix.
    let bytes = vec![7u8; 200_000];
    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/ONBOARDING?type=file&name=scan.bin"
        ))
        .header("authorization", &auth)
        .header("content-type", "application/octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored = remote.keys(&format!("sessions/{id}")).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        stored[0].starts_with(&format!("sessions/{id}/files/")),
        "{stored:?}"
    );
    // baseUrl: file URLs are made with it.
    let s: Value = srv
        .get(&format!("/api/sessions/{id}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "scan.bin")
        .map(|f| f["url"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(
        url.starts_with("http://idv.example.com/api/sessions/"),
        "{url}"
    );

    // services.api.cors (enabled, origins "*"): a preflight from another site is allowed.
    let r = srv
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/sessions/{id}", srv.url),
        )
        .header("origin", "https://shop.example.org")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert!(
        r.headers()
            .get("access-control-allow-origin")
            .is_some_and(|v| v == "*" || v == "https://shop.example.org"),
        "{:?}",
        r.headers()
    );

    // rateLimit (enabled, profile s = 10 a minute): the eleventh login from one address waits
    // (a fresh address: the key minted above counted against this one).
    let fresh = reqwest::Client::builder()
        .local_address("127.0.0.9".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let login = || {
        fresh
            .post(format!("{}/api/auth/login", srv.url))
            .json(&json!({"username": "nobody", "password": "wrong-password"}))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(login().await.unwrap().status(), 401);
    }
    assert_eq!(login().await.unwrap().status(), 429);
    srv.stop().await;
}
