//! Workflow assets over HTTP on SQLite and PostgreSQL: upload, public content with ETag and
//! caching headers, replace, list, delete, ids and limits, and the assets folder loaded at start.

use crate::common;

use common::*;
use idv_server::ops::assets::{FolderOutcome, load_folder};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Files under `data/assets/<id>/`: the stored objects of one asset.
fn objects(srv: &TestServer, id: &str) -> usize {
    std::fs::read_dir(srv.data_dir().join("assets").join(id))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn upload_replace_serve_list_delete(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let writer = srv.key(&["assets:read", "assets:write"]).await;
    let deleter = srv.key(&["assets:delete"]).await;
    let sessions = srv.key(&["session:read"]).await;
    let auth = |k: &str| format!("ApiKey {k}");

    // Upload.
    let first = png(1, 5000);
    let r = srv
        .client
        .put(format!("{}/api/v1/assets/onboardingScanDoc", srv.url))
        .header("authorization", auth(&writer))
        .header("content-type", "image/png")
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["id"], "onboardingScanDoc");
    assert_eq!(view["contentType"], "image/png");
    assert_eq!(view["size"], first.len());
    assert_eq!(view["sha256"], sha(&first));
    assert_eq!(
        view["url"],
        format!("{}/api/v1/assets/onboardingScanDoc/content", srv.url)
    );
    let created_at = view["createdAt"].clone();

    // The content, without credentials.
    let content = "/api/v1/assets/onboardingScanDoc/content";
    let r = srv.get(content).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = format!("\"{}\"", sha(&first));
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["content-length"], first.len().to_string().as_str());
    assert_eq!(h["etag"], etag.as_str());
    assert_eq!(h["cache-control"], "public, max-age=300");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(r.bytes().await.unwrap(), first);
    // Revalidation.
    let r = srv
        .get(content)
        .header("if-none-match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert!(r.bytes().await.unwrap().is_empty());
    let r = srv
        .get(content)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // HEAD answers the headers only.
    let r = srv
        .client
        .head(format!("{}{content}", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], etag.as_str());

    // Replace: new bytes, new ETag, the old object gone, createdAt kept.
    let second = png(2, 70_000);
    let r = srv
        .client
        .put(format!("{}/api/v1/assets/onboardingScanDoc", srv.url))
        .header("authorization", auth(&writer))
        .header("content-type", "image/png")
        .body(second.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["sha256"], sha(&second));
    assert_eq!(view["createdAt"], created_at);
    let r = srv
        .get(content)
        .header("if-none-match", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the old ETag no longer matches");
    assert_eq!(r.bytes().await.unwrap(), second);
    assert_eq!(objects(&srv, "onboardingScanDoc"), 1);

    // Without a Content-Type the id's extension decides.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let r = srv
        .client
        .put(format!("{}/api/v1/assets/icon.svg", srv.url))
        .header("authorization", auth(&writer))
        .body(svg.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = srv
        .get("/api/v1/assets/icon.svg/content")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/svg+xml");

    // List: by id, with metadata; needs assets:read.
    let r = srv
        .get("/api/v1/assets")
        .header("authorization", auth(&writer))
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["icon.svg", "onboardingScanDoc"]);
    assert_eq!(list[1]["size"], second.len());
    assert!(list[1]["updatedAt"].as_str().unwrap().ends_with('Z'));
    let (st, code, _) = error_of(srv.get("/api/v1/assets").send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (401, "missing_credentials"));
    let (st, code, _) = error_of(
        srv.get("/api/v1/assets")
            .header("authorization", auth(&sessions))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    let r = srv
        .get("/api/v1/assets/icon.svg")
        .header("authorization", auth(&writer))
        .send()
        .await
        .unwrap();
    let one: Value = r.json().await.unwrap();
    assert_eq!(one["contentType"], "image/svg+xml");

    // Unknown and invalid ids.
    let (st, code, _) =
        error_of(srv.get("/api/v1/assets/nope/content").send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "asset_not_found"));
    for bad in ["a%20b", "x%2Fy", "%C3%BC", &"a".repeat(129)] {
        let r = srv
            .client
            .put(format!("{}/api/v1/assets/{bad}", srv.url))
            .header("authorization", auth(&writer))
            .header("content-type", "image/png")
            .body("x")
            .send()
            .await
            .unwrap();
        let (st, code, body) = error_of(r).await;
        assert_eq!(
            (st, code.as_str()),
            (400, "invalid_asset_id"),
            "{bad}: {body}"
        );
        let (st, code, _) = error_of(
            srv.get(&format!("/api/v1/assets/{bad}/content"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((st, code.as_str()), (400, "invalid_asset_id"), "{bad}");
    }
    let r = srv
        .client
        .put(format!("{}/api/v1/assets/x", srv.url))
        .header("authorization", auth(&writer))
        .header("content-type", "not a type")
        .body("x")
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (415, "unsupported_media_type"));
    // Uploading needs assets:write.
    let r = srv
        .client
        .put(format!("{}/api/v1/assets/x", srv.url))
        .header("authorization", auth(&deleter))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Delete: the row and the bytes.
    let (st, code, _) = error_of(
        srv.delete("/api/v1/assets/onboardingScanDoc")
            .header("authorization", auth(&writer))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    let r = srv
        .delete("/api/v1/assets/onboardingScanDoc")
        .header("authorization", auth(&deleter))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(objects(&srv, "onboardingScanDoc"), 0);
    let (st, code, _) = error_of(srv.get(content).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "asset_not_found"));
    let (st, code, _) = error_of(
        srv.delete("/api/v1/assets/onboardingScanDoc")
            .header("authorization", auth(&deleter))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (404, "asset_not_found"));
    srv.stop().await;
}

#[tokio::test]
async fn assets_on_sqlite() {
    upload_replace_serve_list_delete(Backend::Sqlite).await;
}

#[tokio::test]
async fn assets_on_postgres() {
    upload_replace_serve_list_delete(Backend::Postgres).await;
}

#[tokio::test]
async fn uploads_over_the_size_limit_leave_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let srv = TestServer::start_with(backend, |c| {
            c.services.api.max_body_size = idv_server::config::ByteSize(64 << 10);
        })
        .await;
        let r = srv
            .admin(srv.client.put(format!("{}/api/v1/assets/big", srv.url)))
            .header("content-type", "image/png")
            .body(png(3, 100 << 10))
            .send()
            .await
            .unwrap();
        let (st, code, _) = error_of(r).await;
        assert_eq!(
            (st, code.as_str()),
            (413, "payload_too_large"),
            "{backend:?}"
        );
        assert_eq!(objects(&srv, "big"), 0, "{backend:?}");
        let (st, code, _) =
            error_of(srv.get("/api/v1/assets/big/content").send().await.unwrap()).await;
        assert_eq!((st, code.as_str()), (404, "asset_not_found"));
        // Within the limit it is stored.
        let r = srv
            .admin(srv.client.put(format!("{}/api/v1/assets/big", srv.url)))
            .header("content-type", "image/png")
            .body(png(3, 60 << 10))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        srv.stop().await;
    }
}

#[tokio::test]
async fn the_assets_folder_loads_at_start() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let logo = png(7, 3000);
        let prepared = logo.clone();
        let srv = TestServer::start_with(backend, move |c| {
            let dir = std::path::Path::new(&c.storage.fs.path).join("assets");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("prepareRFID.png"), &prepared).unwrap();
            std::fs::write(dir.join("workflowErrorLarge.svg"), "<svg/>").unwrap();
            std::fs::write(dir.join(".DS_Store"), "x").unwrap();
            std::fs::write(dir.join("not valid.png"), "x").unwrap();
        })
        .await;
        let r = srv
            .get("/api/v1/assets/prepareRFID/content")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{backend:?}");
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.bytes().await.unwrap(), logo);
        let r = srv
            .get("/api/v1/assets/workflowErrorLarge/content")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "image/svg+xml");
        let list: Value = srv.admin(srv.get("/api/v1/assets")).send_json().await;
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

        // Loading again: unchanged files are left alone, a changed one is stored, a bad name
        // is reported.
        let state = srv.state().await;
        let dir = srv.data_dir().join("assets");
        std::fs::write(dir.join("workflowErrorLarge.svg"), "<svg></svg>").unwrap();
        let outcomes: Vec<(String, Result<FolderOutcome, String>)> = load_folder(&state)
            .await
            .into_iter()
            .map(|(p, o)| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    o.map_err(|e| e.0.code.as_str().to_string()),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            vec![
                ("not valid.png".into(), Err("invalid_asset_id".into())),
                (
                    "prepareRFID.png".into(),
                    Ok(FolderOutcome::Unchanged {
                        id: "prepareRFID".into()
                    })
                ),
                (
                    "workflowErrorLarge.svg".into(),
                    Ok(FolderOutcome::Stored {
                        id: "workflowErrorLarge".into()
                    })
                ),
            ]
        );
        let r = srv
            .get("/api/v1/assets/workflowErrorLarge/content")
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "<svg></svg>");
        assert_eq!(objects(&srv, "workflowErrorLarge"), 1);
        srv.stop().await;
    }
}
