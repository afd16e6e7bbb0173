//! Workflow assets: images a workflow shows, referenced as
//! `{{ config.baseUrl }}/api/v1/assets/<assetId>/content`. Uploaded over the API, with
//! `idv asset put`, or placed in the assets folder (`storage.assets.location.prefix`, under
//! `storage.fs.path`), which loads at start.
//!
//! Each upload writes its bytes to a new object (`assets/<id>/<upload id>`) and only then
//! points the asset's row at it, so a reader never sees half-written bytes or bytes that do not
//! match the row's SHA-256 (the `ETag`); the replaced object is deleted afterwards. The folder
//! scan reads only files directly in the folder, never these per-asset subfolders.

pub use crate::api::assets::AssetView;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use idv_core::ErrorCode;
use idv_store::AssetId;
use idv_store::AssetRecord;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The longest asset id.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Refuses ids outside `[A-Za-z0-9_.-]{1,128}`, and `.` and `..`, which are path segments.
pub(crate) fn check_id(id: &str) -> ApiResult<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && id != "."
        && id != "..";
    if ok {
        Ok(())
    } else {
        let shown: String = id.chars().take(MAX_ID_LEN + 2).collect();
        Err(ApiError::new(
            ErrorCode::InvalidAssetId,
            format!(
                "`{shown}` is not an asset id: use 1 to {MAX_ID_LEN} letters, digits, `_`, `.` or `-` (for example onboardingScanDoc)"
            ),
        ))
    }
}

/// The content type a file name's extension implies.
pub(crate) fn content_type_for(name: &str) -> &'static str {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The content type to store: the one given (`type/subtype`, parameters allowed), or the one
/// the id's extension implies.
pub fn content_type(given: Option<&str>, id: &str) -> ApiResult<String> {
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return Ok(content_type_for(id).to_string());
    };
    let essence = given.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let valid = given.len() <= 255
        && given.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if !valid {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("`{given}` is not a media type; send Content-Type like image/png"),
        ));
    }
    Ok(given.to_string())
}

/// The asset `id`, or `asset_not_found`.
pub async fn get(state: &AppState, id: &str) -> ApiResult<AssetRecord> {
    check_id(id)?;
    state
        .store
        .asset_get(AssetId::new(id))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AssetNotFound,
                format!("no asset with id {id}; upload it with PUT /api/v1/assets/{id}"),
            )
        })
}

/// Stores the bytes of `source` as asset `id` (new or replacing), at most
/// `services.api.maxBodySize` of them. Returns the stored record and whether it is new.
pub async fn put<S, E>(
    state: &AppState,
    id: &str,
    content_type: String,
    source: S,
) -> ApiResult<(AssetRecord, bool)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    check_id(id)?;
    let key = format!(
        "{}/{id}/{}",
        state.config.storage.assets.location.prefix,
        idv_core::ids::new_id()
    );
    let limit = state.config.services.api.max_body_size.0;
    let stored = state.blobs.put_stream(&key, source, limit).await?;
    let now = state.clock.now_ms();
    let record = AssetRecord {
        id: id.to_string(),
        content_type,
        size: stored.size as i64,
        sha256: stored.sha256,
        object_key: key.clone(),
        created_at: now,
        updated_at: now,
    };
    let previous = match state.store.asset_put(&record).await {
        Ok(p) => p,
        Err(e) => {
            let _ = state.blobs.delete(&key).await;
            return Err(e.into());
        }
    };
    let created = previous.is_none();
    let record = match previous {
        Some(old) => {
            if let Err(e) = state.blobs.delete(&old.object_key).await {
                tracing::warn!(asset = id, error = %e, "the replaced asset's bytes stay behind");
            }
            AssetRecord {
                created_at: old.created_at,
                ..record
            }
        }
        None => record,
    };
    Ok((record, created))
}

/// Stores a file as asset `id`; the content type comes from the file's extension.
pub async fn put_file(state: &AppState, id: &str, path: &Path) -> ApiResult<(AssetRecord, bool)> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stream = tokio_util::io::ReaderStream::new(file);
    put(state, id, content_type_for(name).to_string(), stream).await
}

/// Every asset, by id.
pub async fn list(state: &AppState) -> ApiResult<Vec<AssetRecord>> {
    Ok(state.store.asset_list().await?)
}

/// Deletes asset `id` and its bytes.
pub async fn delete(state: &AppState, id: &str) -> ApiResult<AssetRecord> {
    check_id(id)?;
    let gone = state
        .store
        .asset_delete(AssetId::new(id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::AssetNotFound, format!("no asset with id {id}")))?;
    if let Err(e) = state.blobs.delete(&gone.object_key).await {
        tracing::warn!(asset = id, error = %e, "the deleted asset's bytes stay behind");
    }
    Ok(gone)
}

/// What loading one file of the assets folder did.
#[derive(Debug, PartialEq, Eq)]
pub enum FolderOutcome {
    Stored { id: String },
    Unchanged { id: String },
}

/// Loads each file directly in the assets folder as the asset named by its file name without
/// extension (`onboardingScanDoc.png` is `onboardingScanDoc`); a file whose bytes and type the
/// asset already has is left alone. Hidden files are skipped; a name that is no asset id is
/// reported.
pub async fn load_folder(state: &AppState) -> Vec<(PathBuf, ApiResult<FolderOutcome>)> {
    if !state.blobs.is_local() {
        return load_stored_folder(state).await;
    }
    let dir = state.config.assets_dir();
    let Ok(read) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let outcome = load_file(state, &path).await;
        out.push((path, outcome));
    }
    out
}

/// [`load_folder`] on an object store: the objects directly under the assets location's
/// prefix, each named `{prefix}/{name}`; the bytes are copied (streamed) to the asset's own
/// object when they differ from the asset's.
async fn load_stored_folder(state: &AppState) -> Vec<(PathBuf, ApiResult<FolderOutcome>)> {
    let prefix = state
        .config
        .storage
        .assets
        .location
        .prefix
        .trim_matches('/');
    let listing = match state.blobs.list_folder(prefix).await {
        Ok(l) => l,
        Err(e) => return vec![(PathBuf::from(prefix), Err(e.into()))],
    };
    let mut out = Vec::with_capacity(listing.len());
    for object in listing {
        let path = PathBuf::from(&object.key);
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        let outcome = load_stored_file(state, &object.key, &path).await;
        out.push((path, outcome));
    }
    out
}

async fn load_stored_file(state: &AppState, key: &str, path: &Path) -> ApiResult<FolderOutcome> {
    use futures::TryStreamExt;
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    check_id(&id)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut hasher = Sha256::new();
    let mut stream = Box::pin(state.blobs.get(key, None).await?);
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
    }
    let sha256 = hex::encode(hasher.finalize());
    if let Some(a) = state.store.asset_get(AssetId::new(&id)).await?
        && a.sha256 == sha256
        && a.content_type == content_type_for(name)
    {
        return Ok(FolderOutcome::Unchanged { id });
    }
    let source = Box::pin(state.blobs.get(key, None).await?);
    put(state, &id, content_type_for(name).to_string(), source).await?;
    Ok(FolderOutcome::Stored { id })
}

async fn load_file(state: &AppState, path: &Path) -> ApiResult<FolderOutcome> {
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    check_id(&id)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let sha256 = file_sha256(path).await.map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if let Some(a) = state.store.asset_get(AssetId::new(&id)).await?
        && a.sha256 == sha256
        && a.content_type == content_type_for(name)
    {
        return Ok(FolderOutcome::Unchanged { id });
    }
    put_file(state, &id, path).await?;
    Ok(FolderOutcome::Stored { id })
}

async fn file_sha256(path: &Path) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in [
            "onboardingScanDoc",
            "a",
            "logo.png",
            "x-1_2",
            &"a".repeat(128),
        ] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "ü",
            "a%2F",
            &"a".repeat(129),
            "..\\x",
        ] {
            let e = check_id(bad).unwrap_err().0;
            assert_eq!(e.code, ErrorCode::InvalidAssetId, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_for("a.PNG"), "image/png");
        assert_eq!(content_type_for("a.jpg"), "image/jpeg");
        assert_eq!(content_type_for("a.jpeg"), "image/jpeg");
        assert_eq!(content_type_for("a.svg"), "image/svg+xml");
        assert_eq!(content_type_for("a.gif"), "image/gif");
        assert_eq!(content_type_for("a.webp"), "image/webp");
        assert_eq!(content_type_for("a.json"), "application/json");
        assert_eq!(content_type_for("a"), "application/octet-stream");
        assert_eq!(content_type_for("a.bin"), "application/octet-stream");
        assert_eq!(content_type(None, "x.svg").unwrap(), "image/svg+xml");
        assert_eq!(
            content_type(Some(" "), "x").unwrap(),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(Some("image/svg+xml; charset=utf-8"), "x").unwrap(),
            "image/svg+xml; charset=utf-8"
        );
        for bad in ["image", "/png", "image/", "ima ge/png", "image/png\u{7f}"] {
            assert!(content_type(Some(bad), "x").is_err(), "{bad}");
        }
    }
}
