//! `GET /api/sessions/{id}/export`: a session of the example KYC with step data and an uploaded file,
//! exported and unpacked: the manifest's hashes match the bytes, `session.json` holds the
//! session exactly as `GET /api/sessions/{id}` shows it, the files are the downloads' bytes,
//! and access is that of reading the session.

use crate::common;

use common::*;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::BTreeSet;
use std::io::Read;

fn entry(zip: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut f = zip.by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

async fn export_round(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session:read", "session:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv
        .start_session(&key, json!({"metadata": {"externalUserId": "user-42"}}))
        .await;
    let id = s["id"].as_str().unwrap().to_string();
    let r = srv
        .submit(&auth, &id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let step = srv.session(&auth, &id).await["currentStep"]
        .as_str()
        .unwrap()
        .to_string();
    // Large enough to live in file storage rather than the database row.
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let form = reqwest::multipart::Form::new().part(
        "DOCUMENT_FRONT",
        reqwest::multipart::Part::bytes(photo.clone())
            .file_name("../scans/passport front.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = srv
        .post(&format!("/api/sessions/{id}/step/{step}?type=file"))
        .header("authorization", &auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let shown = srv.session(&auth, &id).await;
    let shown_files = shown["files"].as_array().unwrap().clone();
    assert!(shown_files.len() >= 2, "step data and the photo: {shown}");

    let r = srv
        .get(&format!("/api/sessions/{id}/export"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"session-{id}.zip\"").as_str()
    );
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = r.bytes().await.unwrap().to_vec();
    assert_eq!(body.len(), length);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();

    let manifest: Value = serde_json::from_slice(&entry(&mut zip, "manifest.json")).unwrap();
    assert_eq!(manifest["format"], "idv-session-export");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["sessionId"], id.as_str());
    assert_eq!(manifest["workflow"]["id"], KYC_ID);
    assert!(manifest["exportedAt"].as_str().unwrap().ends_with('Z'));
    let listed = manifest["files"].as_array().unwrap();
    // Every entry but the manifest is listed, and its bytes have the listed size and hash.
    let names: BTreeSet<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut expected: BTreeSet<String> = listed
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    expected.insert("manifest.json".into());
    assert_eq!(names, expected);
    assert!(names.contains("session.json") && names.contains("workflow.json"));
    for e in listed {
        let bytes = entry(&mut zip, e["path"].as_str().unwrap());
        assert_eq!(e["size"], bytes.len(), "{e}");
        assert_eq!(
            e["sha256"],
            hex::encode(sha2::Sha256::digest(&bytes)),
            "{e}"
        );
    }

    // session.json: the session as the API shows it, and the stored rows.
    let doc: Value = serde_json::from_slice(&entry(&mut zip, "session.json")).unwrap();
    assert_eq!(doc["session"], shown);
    assert_eq!(doc["record"]["id"], id.as_str());
    assert_eq!(doc["record"]["status"], shown["status"]);
    assert_eq!(
        doc["record"]["metadata"],
        json!({"externalUserId": "user-42"})
    );
    assert_eq!(doc["files"].as_array().unwrap().len(), shown_files.len());

    // Every file: its entry holds the bytes the download gives.
    for f in &shown_files {
        let fid = f["id"].as_str().unwrap();
        let e = listed
            .iter()
            .find(|e| e["fileId"] == fid)
            .unwrap_or_else(|| panic!("file {fid} is in the manifest"));
        let path = e["path"].as_str().unwrap();
        assert!(path.starts_with(&format!("files/{fid}/")), "{path}");
        assert_eq!(e["contentType"], f["contentType"]);
        let downloaded = srv
            .client
            .get(f["url"].as_str().unwrap())
            .header("authorization", &auth)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(entry(&mut zip, path), downloaded.to_vec(), "{path}");
    }
    let photo_entry = listed
        .iter()
        .find(|e| e["size"] == photo.len())
        .expect("the photo is listed");
    // The stored name is the upload's last path segment; the archive path is built from it.
    assert_eq!(
        photo_entry["path"],
        format!(
            "files/{}/passport front.jpg",
            photo_entry["fileId"].as_str().unwrap()
        )
    );
    assert_eq!(
        entry(&mut zip, photo_entry["path"].as_str().unwrap()),
        photo
    );

    // workflow.json: the revision the session runs on, whole.
    let wf: Value = serde_json::from_slice(&entry(&mut zip, "workflow.json")).unwrap();
    assert_eq!(wf["id"], KYC_ID);
    assert_eq!(wf["revision"], manifest["workflow"]["revision"]);
    assert_eq!(wf["definition"]["id"], KYC_ID);
    assert!(wf["definition"]["steps"].as_array().unwrap().len() > 3);

    // Access as for reading: another owner's key sees no such session, a key without session
    // read permission is forbidden, everyone's-read may, no credentials is 401.
    let export = |auth: Option<String>| {
        let rb = srv.get(&format!("/api/sessions/{id}/export"));
        match auth {
            Some(a) => rb.header("authorization", a),
            None => rb,
        }
        .send()
    };
    let other = srv.key(&["session:read", "session:write"]).await;
    let (st, code, _) = error_of(export(Some(format!("ApiKey {other}"))).await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    let no_read = srv.key(&["workflow_all:read"]).await;
    let (st, code, _) = error_of(export(Some(format!("ApiKey {no_read}"))).await.unwrap()).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    let all = srv.key(&["session_all:read"]).await;
    let r = export(Some(format!("ApiKey {all}"))).await.unwrap();
    assert_eq!(r.status(), 200);
    let (st, code, _) = error_of(export(None).await.unwrap()).await;
    assert_eq!((st, code.as_str()), (401, "missing_credentials"));
    let r = srv
        .get("/api/sessions/0123456789abcdef01234567/export")
        .header("authorization", format!("ApiKey {all}"))
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));

    // Exporting changed nothing.
    assert_eq!(srv.session(&auth, &id).await, shown);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn export_is_a_verifiable_archive_of_the_session_sqlite() {
    export_round(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn export_is_a_verifiable_archive_of_the_session_postgres() {
    export_round(Backend::Postgres).await;
}
