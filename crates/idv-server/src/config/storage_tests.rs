//! `storage`: Regula's blocks load unchanged, secrets stay out of `Debug` and messages, and
//! every refused combination names its key.

use super::*;
use crate::config::{Config, ConfigError, load};

const KEY: &str = "c2VjcmV0LWtleS1ub3Qtc2hvd24tYW55d2hlcmU=";

fn load_text(text: &str, env: Vec<(&str, &str)>) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.yaml");
    std::fs::write(&p, text).unwrap();
    load(
        Some(&p),
        env.into_iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

/// The storage block of Regula's performance-test configuration, every key as Regula writes
/// it (`fs.path: ""` beside type s3, `folder`, `container` and `bucket` in every location).
const REGULA_PERF: &str = r#"
storage:
  type: s3
  s3:
    endpoint: "http://minio:9000"
    accessKey: "minioadmin"
    accessSecret: "minioadmin-secret"
    region: master
    secure: false
  fs:
    path: ""
  az:
    storageAccount: "devstoreaccount1"
    connectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0LWtleS1ub3Qtc2hvd24tYW55d2hlcmU=;BlobEndpoint=http://localhost:10000/devstoreaccount1;"
  gcs:
    anonymous: true
    endpoint: "http://localhost:4443"
    verifySsl: false
  sessions:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "sessions", folder: "user_data"}
  persons:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "persons", folder: "person_data"}
  workflows:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "workflows", folder: "config"}
  userFiles:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "files", folder: "user_files"}
  tempFiles:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "tmp", folder: "user_files"}
  locales:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "localization", folder: "config"}
  assets:
    location: {container: "idv-dev", bucket: "idv-dev", prefix: "assets", folder: "assets_data"}
  banlists:
    location: {bucket: "idv-dev", prefix: "banlist"}
"#;

#[test]
fn regulas_storage_block_loads_as_written() {
    let c = load_text(REGULA_PERF, vec![]).unwrap();
    let s = &c.storage;
    assert_eq!(s.kind, StorageType::S3);
    assert_eq!(s.s3_endpoint(), "http://minio:9000");
    assert!(!s.s3.secure);
    assert_eq!(s.fs.path, "");
    assert_eq!(
        s.place("sessions"),
        Place {
            bucket: "idv-dev".into(),
            prefix: "sessions".into()
        }
    );
    assert_eq!(s.place("assets").prefix, "assets");
    assert_eq!(s.temp_files.location.folder, "user_files");
    // Nothing secret in Debug.
    let shown = format!("{c:?}");
    assert!(!shown.contains("minioadmin-secret"), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
    // The same block as type az: the location's container, its prefix.
    let az = load_text(&REGULA_PERF.replace("type: s3", "type: az"), vec![]).unwrap();
    assert_eq!(
        az.storage.place("workflows"),
        Place {
            bucket: "idv-dev".into(),
            prefix: "workflows".into()
        }
    );
}

#[test]
fn regulas_chart_values_load_null_secrets_included() {
    // The chart's defaults: type s3, credentials null (from the environment), AWS itself.
    let text = r#"
storage:
  type: s3
  s3: {endpoint: "", accessKey: null, accessSecret: null, region: "eu-central-1", secure: true}
  sessions: {location: {bucket: "idv-bucket", prefix: "sessions"}}
  workflows: {location: {bucket: "idv-bucket", prefix: "workflows"}}
  locales: {location: {bucket: "idv-bucket", prefix: "localization"}}
  assets: {location: {bucket: "idv-bucket", prefix: "assets"}}
  tempFiles: {location: {bucket: "idv-bucket", prefix: "tmp", folder: "files"}}
"#;
    let c = load_text(text, vec![]).unwrap();
    assert_eq!(c.storage.s3.access_key, "");
    assert_eq!(c.storage.s3_endpoint(), "");
    // Azure as the chart writes it: only prefixes, so each prefix is a container.
    let az = r#"
storage:
  type: az
  az: {storageAccount: "acct", connectionString: null}
  sessions: {location: {prefix: "sessions"}}
"#;
    let c = load_text(az, vec![]).unwrap();
    assert_eq!(
        c.storage.place("sessions"),
        Place {
            bucket: "sessions".into(),
            prefix: String::new()
        }
    );
    assert_eq!(c.storage.place("assets").bucket, "assets");
}

#[test]
fn secrets_come_from_the_environment() {
    let c = load_text(
        REGULA_PERF,
        vec![
            ("IDV_CONFIG__STORAGE__S3__ACCESSSECRET", "from-env-secret"),
            ("IDV_CONFIG__STORAGE__TYPE", "az"),
            (
                "IDV_CONFIG__STORAGE__AZ__CONNECTIONSTRING",
                "AccountName=envacct;AccountKey=ZW52LWtleQ==",
            ),
            (
                "IDV_CONFIG__STORAGE__SESSIONS__LOCATION__CONTAINER",
                "envbox",
            ),
        ],
    )
    .unwrap();
    assert_eq!(c.storage.s3.access_secret.expose(), "from-env-secret");
    assert_eq!(c.storage.kind, StorageType::Az);
    assert_eq!(c.storage.place("sessions").bucket, "envbox");
    let conn = AzConnection::parse(c.storage.az.connection_string.expose()).unwrap();
    assert_eq!(conn.account, "envacct");
    assert_eq!(conn.blob_endpoint, None, "Azure's own endpoint");
    let shown = format!("{c:?} {conn:?}");
    assert!(
        !shown.contains("from-env-secret") && !shown.contains("ZW52LWtleQ=="),
        "{shown}"
    );
}

#[test]
fn refused_combinations_name_their_key() {
    let cases: Vec<(String, &str)> = vec![
        (
            "storage: {fs: {path: \"\"}}".into(),
            "`storage.fs.path` is empty",
        ),
        (
            "storage: {type: s3, s3: {endpoint: http://minio:9000, secure: false}}".into(),
            "`storage.sessions` names no bucket",
        ),
        (
            "storage: {type: s3, s3: {endpoint: http://minio:9000}, sessions: {location: {bucket: b}}}"
                .into(),
            "`storage.s3.secure` is true",
        ),
        (
            "storage: {type: s3, s3: {accessKey: k}, sessions: {location: {bucket: b}}}".into(),
            "`storage.s3.accessKey` and `storage.s3.accessSecret` go together",
        ),
        (
            "storage: {type: az}".into(),
            "neither `storage.az.connectionString` nor `storage.az.storageAccount`",
        ),
        (
            format!(
                "storage: {{type: az, az: {{connectionString: \"AccountKey={KEY}\"}}}}"
            ),
            "has no AccountName",
        ),
        (
            "storage: {type: s3, sessions: {location: {bucket: b}}, assets: {location: {prefix: sessions/assets}}}"
                .into(),
            "`storage.assets` is inside the sessions location",
        ),
        (
            "storage: {type: s3, sessions: {location: {bucket: b, prefix: \"\"}}}".into(),
            "`storage.sessions.location.prefix` is empty",
        ),
        (
            "storage: {type: gcs, gcs: {endpoint: http://localhost:4443}, sessions: {location: {bucket: b}}}"
                .into(),
            "used only with `storage.gcs.anonymous: true`",
        ),
        (
            "storage: {workflows: {location: {prefix: ../up}}}".into(),
            "`storage.workflows.location.prefix`",
        ),
    ];
    for (text, expected) in cases {
        let e = load_text(&text, vec![]).unwrap_err().0;
        assert!(e.contains(expected), "{text}: {e}");
        assert!(!e.contains(KEY), "a secret in the message: {e}");
    }
    // With Regula's fs.path "" and type s3, and every location in one bucket: accepted.
    load_text(
        "storage: {type: gcs, fs: {path: \"\"}, gcs: {anonymous: true, endpoint: http://localhost:4443}, sessions: {location: {bucket: b}}}",
        vec![],
    )
    .unwrap();
}

#[test]
fn connection_strings() {
    let c = AzConnection::parse("UseDevelopmentStorage=true").unwrap();
    assert_eq!(c.account, "devstoreaccount1");
    assert_eq!(
        c.blob_endpoint.as_deref(),
        Some("http://127.0.0.1:10000/devstoreaccount1")
    );
    let c = AzConnection::parse(&format!(
        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn"
    ))
    .unwrap();
    assert_eq!(
        c.blob_endpoint.as_deref(),
        Some("https://a.blob.core.chinacloudapi.cn")
    );
    let e = AzConnection::parse(&format!(
        "AccountName=a;AccountKey={KEY};BlobEndpoint=ftp://x"
    ))
    .unwrap_err();
    assert!(e.contains("BlobEndpoint") && !e.contains(KEY), "{e}");
    assert!(
        AzConnection::parse("AccountName=a")
            .unwrap_err()
            .contains("neither AccountKey")
    );
    let c = AzConnection::parse("AccountName=a;SharedAccessSignature=?sv=1&sig=x").unwrap();
    assert_eq!(c.sas.unwrap().expose(), "sv=1&sig=x");
}

/// Regula's own files, when IDV_REGULA_DIR names them: the storage block of the performance
/// test configuration loads as it is written there.
#[test]
fn regulas_own_storage_block_loads_when_present() {
    let Ok(dir) = std::env::var("IDV_REGULA_DIR") else {
        return;
    };
    let path = std::path::Path::new(&dir).join("config/perf-tests-config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let whole = crate::config::yaml_to_json(&text).unwrap();
    let block = serde_json::json!({"storage": whole["storage"].clone()});
    // JSON is YAML.
    let c = load_text(&block.to_string(), vec![]).unwrap();
    assert_eq!(c.storage.kind, StorageType::S3);
    assert!(!c.storage.place("sessions").bucket.is_empty());
    let shown = format!("{c:?}");
    assert!(!shown.contains("AccountKey="), "{shown}");
}
