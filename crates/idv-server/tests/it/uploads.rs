//! File uploads to a step are all or nothing, through real HTTP on SQLite and PostgreSQL: a
//! body that breaks off, holds too many parts or is too large leaves the session and the files
//! folder exactly as they were; a good body stores every part; names the database cannot hold
//! never reach it.

use crate::common;

use bytes::Bytes;
use common::*;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const WF_ID: &str = "6a0f7f20-0001-11ef-8000-00000000e0a7";

const WORKFLOW: &str = r#"
id: 6a0f7f20-0001-11ef-8000-00000000e0a7
name: Upload checks
version: "1"
defaultLocale: en-us
steps:
  - id: CAPTURE
    name: CAPTURE
    type: DATA
    conditions:
      - name: Done
        transit: {step: DONE, status: VERIFIED}
        rules: [{id: always, decision: true}]
  - id: DONE
    name: DONE
    type: DATA
    final: true
properties:
  - id: DOC_PHOTO
    type: binary
  - id: PORTRAIT
    type: binary
  - id: AGE
    type: int
rules:
  - id: always
    name: Always
    condition: {type: script, script: "1 == 1"}
"#;

const BOUNDARY: &str = "idv-test-boundary-7Hq2";

/// A server with the upload workflow, a key that may write sessions, and a fresh session.
struct Fixture {
    srv: TestServer,
    auth: String,
    id: String,
}

async fn fixture(backend: Backend, tweak: impl FnOnce(&mut idv_server::config::Config)) -> Fixture {
    let srv = TestServer::start_with(backend, tweak).await;
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(WORKFLOW)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let key = srv.key(&["session:read", "session:write"]).await;
    let auth = format!("ApiKey {key}");
    let r = srv
        .post(&format!("/api/sessions?workflowId={WF_ID}"))
        .header("authorization", &auth)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let s: Value = r.json().await.unwrap();
    let id = s["id"].as_str().unwrap().to_string();
    Fixture { srv, auth, id }
}

/// One multipart part, raw: `name` and `file_name` go into the header as given (any bytes).
fn part(name: &[u8], file_name: Option<&[u8]>, content_type: &str, data: &[u8]) -> Vec<u8> {
    let mut p = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"").into_bytes();
    p.extend_from_slice(name);
    p.push(b'"');
    if let Some(f) = file_name {
        p.extend_from_slice(b"; filename=\"");
        p.extend_from_slice(f);
        p.push(b'"');
    }
    p.extend_from_slice(format!("\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    p.extend_from_slice(data);
    p.extend_from_slice(b"\r\n");
    p
}

fn closing() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

/// Distinct, non-repeating bytes for part `i`.
fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| ((j * 31 + i * 7 + j / 251) % 256) as u8)
        .collect()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

impl Fixture {
    fn upload(&self) -> reqwest::RequestBuilder {
        self.srv
            .post(&format!("/api/sessions/{}/step/CAPTURE?type=file", self.id))
            .header("authorization", &self.auth)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
    }

    async fn session(&self) -> Value {
        self.srv.session(&self.auth, &self.id).await
    }

    /// Every file under the files folder, with its size and SHA-256.
    fn files_on_disk(&self) -> BTreeMap<String, (u64, String)> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, (u64, String)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    walk(&path, root, out);
                } else if path.parent() == Some(root) && e.file_name() == "fernet.key" {
                    // The generated encryption key, not a file of any session.
                    continue;
                } else if let Ok(bytes) = std::fs::read(&path) {
                    let rel = path.strip_prefix(root).unwrap().display().to_string();
                    out.insert(rel, (meta.len(), sha256(&bytes)));
                }
            }
        }
        let mut out = BTreeMap::new();
        let root = self.srv.data_dir();
        walk(&root, &root, &mut out);
        out
    }

    /// Seeds the session with two stored files, so "unchanged" compares something.
    async fn seed(&self) {
        let mut body = part(
            b"DOC_PHOTO",
            Some(b"front.jpg"),
            "image/jpeg",
            &payload(1, 5000),
        );
        body.extend(part(b"notes", Some(b"notes.txt"), "text/plain", b"seed"));
        body.extend(closing());
        let r = self.upload().body(body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn download(&self, url: &str) -> Bytes {
        let r = self
            .srv
            .client
            .get(url)
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap()
    }
}

/// Twenty good parts and a truncated twenty-first: 400 `invalid_multipart`, and the session
/// and the files folder are exactly as before.
async fn truncated_body_stores_nothing(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    f.seed().await;
    let before = f.session().await;
    let disk_before = f.files_on_disk();
    assert_eq!(before["files"].as_array().unwrap().len(), 2);
    assert_eq!(disk_before.len(), 2, "{disk_before:?}");

    let mut body = Vec::new();
    // The first good part would move DOC_PHOTO and set PORTRAIT, were it committed.
    body.extend(part(
        b"DOC_PHOTO",
        Some(b"p0.jpg"),
        "image/jpeg",
        &payload(100, 70_000),
    ));
    body.extend(part(
        b"PORTRAIT",
        Some(b"p1.jpg"),
        "image/jpeg",
        &payload(101, 70_000),
    ));
    for i in 2..20 {
        body.extend(part(
            format!("part{i}").as_bytes(),
            Some(format!("p{i}.bin").as_bytes()),
            "application/octet-stream",
            &payload(100 + i, 70_000),
        ));
    }
    // Part 21 starts and breaks off: no closing boundary.
    let mut last = part(
        b"part20",
        Some(b"p20.bin"),
        "application/octet-stream",
        &payload(7, 70_000),
    );
    last.truncate(last.len() - 30_000);
    body.extend(last);
    let r = f.upload().body(body).send().await.unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (400, "invalid_multipart"), "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("part 21"),
        "{err}"
    );

    assert_eq!(f.session().await, before, "the session is unchanged");
    assert_eq!(f.files_on_disk(), disk_before, "no bytes are left behind");

    // The session still takes uploads.
    let mut body = part(
        b"PORTRAIT",
        Some(b"me.jpg"),
        "image/jpeg",
        &payload(9, 1000),
    );
    body.extend(closing());
    let r = f.upload().body(body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(f.session().await["files"].as_array().unwrap().len(), 3);
    f.srv.stop().await;
}

#[tokio::test]
async fn truncated_body_stores_nothing_on_sqlite() {
    truncated_body_stores_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn truncated_body_stores_nothing_on_postgres() {
    truncated_body_stores_nothing(Backend::Postgres).await;
}

/// A raw body whose sender breaks off after some bytes are stored: the stored bytes go, no
/// row is written.
async fn raw_body_that_breaks_off_stores_nothing(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    f.seed().await;
    let before = f.session().await;
    let disk_before = f.files_on_disk();

    let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<()>();
    let first = futures::stream::iter(
        (0..8).map(|i| Ok::<_, std::io::Error>(Bytes::from(payload(i, 64 << 10)))),
    );
    let broken = futures::stream::once(async move {
        let _ = fail_rx.await;
        Err::<Bytes, _>(std::io::Error::other("the sender gave up"))
    });
    let stream = futures::StreamExt::chain(first, broken);
    let url = format!(
        "{}/api/sessions/{}/step/CAPTURE?type=file&property=PORTRAIT",
        f.srv.url, f.id
    );
    let client = f.srv.client.clone();
    let auth = f.auth.clone();
    let sending = tokio::spawn(async move {
        client
            .post(url)
            .header("authorization", auth)
            .header("content-type", "image/jpeg")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
    });
    // Wait until the server has begun writing the bytes, then break the body off.
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.files_on_disk().len() == disk_before.len() {
        assert!(
            Instant::now() < deadline,
            "the upload never reached storage"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = fail_tx.send(());
    // The client sees its own error or the server's 400; either way nothing is stored.
    if let Ok(r) = sending.await.unwrap() {
        assert_eq!(r.status(), 400);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while f.files_on_disk() != disk_before {
        assert!(
            Instant::now() < deadline,
            "bytes of the broken upload were left: {:?}",
            f.files_on_disk()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.session().await, before);
    f.srv.stop().await;
}

#[tokio::test]
async fn raw_body_that_breaks_off_stores_nothing_on_sqlite() {
    raw_body_that_breaks_off_stores_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn raw_body_that_breaks_off_stores_nothing_on_postgres() {
    raw_body_that_breaks_off_stores_nothing(Backend::Postgres).await;
}

/// More parts than `services.api.maxUploadParts`: 413 naming the key, nothing stored; at the
/// limit every part is stored.
async fn part_count_is_bounded(backend: Backend) {
    let f = fixture(backend, |c| c.services.api.max_upload_parts = 5).await;
    f.seed().await;
    let before = f.session().await;
    let disk_before = f.files_on_disk();
    let body = |n: usize| {
        let mut b = Vec::new();
        for i in 0..n {
            b.extend(part(
                format!("p{i}").as_bytes(),
                Some(b"one.bin"),
                "application/octet-stream",
                &[i as u8],
            ));
        }
        b.extend(closing());
        b
    };
    let r = f.upload().body(body(6)).send().await.unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"), "{err}");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("services.api.maxUploadParts") && msg.contains("more than 5 parts"),
        "{msg}"
    );
    assert_eq!(
        err["error"]["details"]["limit"],
        "services.api.maxUploadParts"
    );
    assert_eq!(err["error"]["details"]["max"], 5);
    assert_eq!(f.session().await, before);
    assert_eq!(f.files_on_disk(), disk_before);

    let r = f.upload().body(body(5)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up: Value = r.json().await.unwrap();
    assert_eq!(up["files"].as_array().unwrap().len(), 5);
    assert_eq!(f.session().await["files"].as_array().unwrap().len(), 7);
    assert_eq!(f.files_on_disk().len(), 7);
    f.srv.stop().await;
}

#[tokio::test]
async fn part_count_is_bounded_on_sqlite() {
    part_count_is_bounded(Backend::Sqlite).await;
}

#[tokio::test]
async fn part_count_is_bounded_on_postgres() {
    part_count_is_bounded(Backend::Postgres).await;
}

/// A multipart body over `services.api.maxBodySize`, announced or found out while streaming
/// (the parser notices it): 413 `payload_too_large`, nothing stored.
async fn oversized_body_is_413(backend: Backend) {
    let f = fixture(backend, |c| {
        c.services.api.max_body_size = idv_server::config::ByteSize(1 << 20)
    })
    .await;
    f.seed().await;
    let before = f.session().await;
    let disk_before = f.files_on_disk();

    // Announced: Content-Length over the limit.
    let mut body = Vec::new();
    for i in 0..3 {
        body.extend(part(
            format!("p{i}").as_bytes(),
            Some(b"big.bin"),
            "application/octet-stream",
            &payload(i, 400 << 10),
        ));
    }
    body.extend(closing());
    let r = f.upload().body(body.clone()).send().await.unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"), "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("services.api.maxBodySize"),
        "{err}"
    );

    // Streamed without a length: two parts fit, the third crosses the limit.
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(64 << 10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let r = f
        .upload()
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"), "{err}");
    assert_eq!(f.session().await, before);
    assert_eq!(f.files_on_disk(), disk_before);
    f.srv.stop().await;
}

#[tokio::test]
async fn oversized_body_is_413_on_sqlite() {
    oversized_body_is_413(Backend::Sqlite).await;
}

#[tokio::test]
async fn oversized_body_is_413_on_postgres() {
    oversized_body_is_413(Backend::Postgres).await;
}

/// 80 MiB of multipart at the default limit (64 MiB), streamed in small chunks without a
/// length, so the server stores up to the limit before it finds out: 413, nothing left.
async fn eighty_mib_at_the_default_limit(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    assert_eq!(f.srv.config.services.api.max_body_size.0, 64 << 20);
    let before = f.session().await;
    let disk_before = f.files_on_disk();
    let part_len = 16 << 20;
    let chunk = Bytes::from(payload(3, 1 << 20));
    // Five 16 MiB parts, generated as they are sent (never held whole).
    let body = move || {
        let chunk = chunk.clone();
        (0..5)
            .flat_map(move |i| {
                let head = Bytes::from(
                    format!(
                        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"p{i}\"; filename=\"p{i}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .into_bytes(),
                );
                let data = std::iter::repeat_n(chunk.clone(), part_len / chunk.len());
                std::iter::once(head)
                    .chain(data)
                    .chain(std::iter::once(Bytes::from_static(b"\r\n")))
            })
            .chain(std::iter::once(Bytes::from(closing())))
    };
    let total: usize = body().map(|b| b.len()).sum();
    assert!(total > 80 << 20);
    let stream = || futures::stream::iter(body().map(Ok::<_, std::io::Error>));

    // Announced by Content-Length: refused before anything is read.
    let r = f
        .upload()
        .header("content-length", total)
        .body(reqwest::Body::wrap_stream(stream()))
        .send()
        .await
        .unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"), "{err}");
    assert_eq!(f.files_on_disk(), disk_before);

    // Streamed without a length: found out by the parser at 64 MiB.
    let r = f
        .upload()
        .body(reqwest::Body::wrap_stream(stream()))
        .send()
        .await
        .unwrap();
    let (status, code, err) = error_of(r).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"), "{err}");
    assert_eq!(f.session().await, before);
    assert_eq!(f.files_on_disk(), disk_before);
    f.srv.stop().await;
}

#[tokio::test]
async fn eighty_mib_at_the_default_limit_on_sqlite() {
    eighty_mib_at_the_default_limit(Backend::Sqlite).await;
}

#[tokio::test]
async fn eighty_mib_at_the_default_limit_on_postgres() {
    eighty_mib_at_the_default_limit(Backend::Postgres).await;
}

/// A good body stores every part: the binary properties point at theirs, every download has
/// the SHA-256 of what was sent, and file names are cleaned.
async fn good_body_stores_every_part(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let sent: Vec<Vec<u8>> = (0..4).map(|i| payload(i, 100_000 + i * 1000)).collect();
    let mut body = Vec::new();
    body.extend(part(
        b"DOC_PHOTO",
        Some(b"../front.jpg"),
        "image/jpeg",
        &sent[0],
    ));
    body.extend(part(b"PORTRAIT", Some(b"me.png"), "image/png", &sent[1]));
    // A tab and a C1 control character (U+0085 as UTF-8) in the file name are dropped.
    body.extend(part(
        b"extra",
        Some("back\tside\u{85}.jpg".as_bytes()),
        "image/jpeg",
        &sent[2],
    ));
    body.extend(part(b"more", None, "application/pdf", &sent[3]));
    body.extend(closing());
    let r = f.upload().body(body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up: Value = r.json().await.unwrap();
    let files = up["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["front.jpg", "me.png", "backside.jpg", "more"]);

    let s = f.session().await;
    let stored = s["files"].as_array().unwrap();
    assert_eq!(stored.len(), 4);
    for (i, want) in sent.iter().enumerate() {
        let file = stored
            .iter()
            .find(|x| x["id"] == files[i]["id"])
            .unwrap_or_else(|| panic!("file {i} is listed: {s}"));
        assert_eq!(file["sha256"], sha256(want));
        assert_eq!(file["size"], want.len());
        let got = f.download(file["url"].as_str().unwrap()).await;
        assert_eq!(sha256(&got), sha256(want), "download of part {i}");
    }
    assert_eq!(s["properties"]["DOC_PHOTO"]["fileId"], files[0]["id"]);
    assert_eq!(s["properties"]["PORTRAIT"]["fileId"], files[1]["id"]);
    assert_eq!(f.files_on_disk().len(), 4);
    f.srv.stop().await;
}

#[tokio::test]
async fn good_body_stores_every_part_on_sqlite() {
    good_body_stores_every_part(Backend::Sqlite).await;
}

#[tokio::test]
async fn good_body_stores_every_part_on_postgres() {
    good_body_stores_every_part(Backend::Postgres).await;
}

/// NUL in a part's file name or name, or a control character in its name: 400
/// `invalid_multipart`, the same on both databases, nothing stored; a file name's other
/// control characters are dropped (above).
async fn names_the_database_cannot_hold(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    f.seed().await;
    let before = f.session().await;
    let disk_before = f.files_on_disk();
    let cases: [(&[u8], &[u8]); 4] = [
        (b"PORTRAIT", b"a\0b.jpg"),
        (b"POR\0TRAIT", b"a.jpg"),
        (b"por\ttrait", b"a.jpg"),
        (b"por\xc2\x85trait", b"a.jpg"),
    ];
    for (name, file_name) in cases {
        // A good part first, so a refusal has something to take back.
        let mut body = part(
            b"DOC_PHOTO",
            Some(b"ok.jpg"),
            "image/jpeg",
            &payload(4, 3000),
        );
        body.extend(part(name, Some(file_name), "image/jpeg", &payload(5, 3000)));
        body.extend(closing());
        let r = f.upload().body(body).send().await.unwrap();
        let (status, code, err) = error_of(r).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_multipart"),
            "{name:?} {file_name:?}: {err}"
        );
        assert!(
            err["error"]["message"].as_str().unwrap().contains("part 2"),
            "{err}"
        );
        assert_eq!(f.session().await, before);
        assert_eq!(f.files_on_disk(), disk_before);
    }
    f.srv.stop().await;
}

#[tokio::test]
async fn names_the_database_cannot_hold_on_sqlite() {
    names_the_database_cannot_hold(Backend::Sqlite).await;
}

#[tokio::test]
async fn names_the_database_cannot_hold_on_postgres() {
    names_the_database_cannot_hold(Backend::Postgres).await;
}
