//! File storage behind one interface: a local folder, or an object store (S3-compatible, Azure
//! Blob, Google Cloud Storage), all through `object_store`. Uploads are streamed: bytes are
//! hashed and written chunk by chunk (multipart on object stores), never held whole.
//!
//! Keys are logical (`sessions/{id}/files/{file}`, `assets/{id}/{version}`): their first
//! segment names an *area*, and each area is a store and a folder in it ([`BlobArea`]). A local
//! folder is one area holding every key as it is; on an object store the `sessions` area is the
//! sessions bucket and prefix, the assets area the assets bucket and prefix, and so on
//! ([`backends`] builds the stores). Stored keys therefore stay the same whatever the backend.

pub mod backends;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
pub use object_store::ObjectStore;
use object_store::{
    GetOptions, GetRange, PutPayload, WriteMultipart, local::LocalFileSystem,
    path::Path as ObjectPath,
};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object not found: {0}")]
    NotFound(String),
    /// The store failed or could not be reached.
    #[error("blob storage: {0}")]
    Backend(String),
    /// The source stream failed (a client hung up, a body limit was hit). The message is the
    /// source's own.
    #[error("{0}")]
    Source(String),
    #[error("upload exceeds the limit of {0} bytes")]
    TooLarge(u64),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
            other => BlobError::Backend(other.to_string()),
        }
    }
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub size: u64,
    pub sha256: String,
}

/// An object found by [`Blobs::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    /// When it was last written, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

/// A byte range to read: `start..end` (end exclusive).
pub(crate) type ByteRange = std::ops::Range<u64>;

/// One area of the key space: keys whose first segment is `name` live in `store` under
/// `prefix` (the first segment replaced by it). The area named `""` takes every key no other
/// area names, whole, under its prefix.
#[derive(Clone)]
pub struct BlobArea {
    name: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// Set for the local file system, so that stored files can be fsynced before their rows
    /// are written.
    local_root: Option<PathBuf>,
}

impl BlobArea {
    /// Keys `name/...` go to `prefix/...` in `store` (`...` alone when `prefix` is empty).
    pub fn new(name: impl Into<String>, store: Arc<dyn ObjectStore>, prefix: &str) -> BlobArea {
        BlobArea {
            name: name.into(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            local_root: None,
        }
    }
}

/// The blob store.
#[derive(Clone)]
pub struct Blobs {
    areas: Arc<[BlobArea]>,
}

impl std::fmt::Debug for Blobs {
    /// Names each area and its store (the store's own `Display`: kind and bucket), never the
    /// credentials the stores hold.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for a in self.areas.iter() {
            l.entry(&format!("{} -> {}/{}", a.name, a.store, a.prefix));
        }
        l.finish()
    }
}

const PART_SIZE: usize = 5 * 1024 * 1024;

fn parse(path: &str) -> Result<ObjectPath, BlobError> {
    ObjectPath::parse(path).map_err(|e| BlobError::Backend(e.to_string()))
}

impl Blobs {
    /// Files in a local folder, created if missing.
    pub fn local(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| BlobError::Backend(format!("cannot create {}: {e}", root.display())))?;
        let root = root
            .canonicalize()
            .map_err(|e| BlobError::Backend(format!("cannot open {}: {e}", root.display())))?;
        // Deleting a folder's last object removes the emptied folders too, so deleted
        // sessions leave no empty folders behind.
        let fs = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        let mut area = BlobArea::new("", Arc::new(fs), "");
        area.local_root = Some(root);
        Ok(Self::from_areas(vec![area]))
    }

    /// Keys routed to areas by their first segment (see [`BlobArea`]).
    pub fn from_areas(areas: Vec<BlobArea>) -> Self {
        Self {
            areas: areas.into(),
        }
    }

    /// Every key under `prefix` of `store`, as it is (a folder of documents to read).
    pub fn rooted(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self::from_areas(vec![BlobArea::new("", store, prefix)])
    }

    /// The area of `key` and the key's path in that area's store.
    fn route(&self, key: &str) -> Result<(&BlobArea, ObjectPath), BlobError> {
        let key = key.trim_matches('/');
        let (first, rest) = key.split_once('/').unwrap_or((key, ""));
        let (area, rest) = match self
            .areas
            .iter()
            .find(|a| !a.name.is_empty() && a.name == first)
        {
            Some(a) => (a, rest),
            None => match self.areas.iter().find(|a| a.name.is_empty()) {
                Some(a) => (a, key),
                None => {
                    return Err(BlobError::Backend(format!(
                        "no storage location holds `{key}`"
                    )));
                }
            },
        };
        let path = match (area.prefix.is_empty(), rest.is_empty()) {
            (true, _) => rest.to_string(),
            (false, true) => area.prefix.clone(),
            (false, false) => format!("{}/{rest}", area.prefix),
        };
        Ok((area, parse(&path)?))
    }

    /// The logical key of `path` found in `area`.
    fn key_of(area: &BlobArea, path: &ObjectPath) -> String {
        let path = path.as_ref();
        let rest = if area.prefix.is_empty() {
            path
        } else {
            path.strip_prefix(area.prefix.as_str())
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(path)
        };
        match (area.name.is_empty(), rest.is_empty()) {
            (true, _) => rest.to_string(),
            (false, true) => area.name.clone(),
            (false, false) => format!("{}/{rest}", area.name),
        }
    }

    /// True when every key is kept in a local folder.
    pub fn is_local(&self) -> bool {
        self.areas.iter().all(|a| a.local_root.is_some())
    }

    /// Streams `source` to `key`, hashing as it goes; fails with `TooLarge` past `limit` bytes
    /// and leaves nothing behind on any failure.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        mut source: S,
        limit: u64,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let (area, path) = self.route(key)?;
        let upload = area.store.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = source.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Source(e.to_string()));
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                let _ = writer.abort().await;
                return Err(BlobError::TooLarge(limit));
            }
            hasher.update(&chunk);
            // Back-pressure: bound the parts in flight.
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            writer.put(chunk);
        }
        writer.finish().await?;
        self.sync(area, &path).await;
        Ok(StoredBlob {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Stores a small in-memory value.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<StoredBlob, BlobError> {
        let (area, path) = self.route(key)?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        area.store.put(&path, PutPayload::from_bytes(bytes)).await?;
        self.sync(area, &path).await;
        Ok(StoredBlob { size, sha256 })
    }

    /// Flushes a local file to disk so that a row written next never points at lost bytes.
    /// Object stores acknowledge a write once it is durable: nothing to do there.
    async fn sync(&self, area: &BlobArea, path: &ObjectPath) {
        if let Some(root) = &area.local_root {
            let file = root.join(path.as_ref());
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(f) = std::fs::File::open(&file) {
                    let _ = f.sync_all();
                }
                if let Some(dir) = file.parent()
                    && let Ok(d) = std::fs::File::open(dir)
                {
                    let _ = d.sync_all();
                }
            })
            .await;
        }
    }

    /// Reads `key`, or part of it.
    pub async fn get(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<impl Stream<Item = Result<Bytes, BlobError>> + Send + use<>, BlobError> {
        let (area, path) = self.route(key)?;
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = area.store.get_opts(&path, opts).await?;
        Ok(result.into_stream().map(|r| r.map_err(BlobError::from)))
    }

    /// Reads a whole (small) object into memory.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, BlobError> {
        let (area, path) = self.route(key)?;
        Ok(area.store.get(&path).await?.bytes().await?)
    }

    /// Deletes `key`; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let (area, path) = self.route(key)?;
        match area.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under the folder `prefix` (`sessions`, `sessions/{id}`), with when it was
    /// last written, in no particular order, streamed (a listing is never held whole).
    pub fn list(
        &self,
        prefix: &str,
    ) -> Result<impl Stream<Item = Result<ObjectInfo, BlobError>> + Send + use<>, BlobError> {
        let (area, path) = self.route(prefix)?;
        let area = area.clone();
        let path = (!path.as_ref().is_empty()).then_some(path);
        let listing = area.store.list(path.as_ref());
        Ok(listing.map(move |meta| {
            meta.map(|m| ObjectInfo {
                key: Self::key_of(&area, &m.location),
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .map_err(BlobError::from)
        }))
    }

    /// The objects directly in the folder `prefix` (not in its sub-folders), sorted by key.
    pub async fn list_folder(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError> {
        let (area, path) = self.route(prefix)?;
        let path = (!path.as_ref().is_empty()).then_some(path);
        let listing = area.store.list_with_delimiter(path.as_ref()).await?;
        let mut out: Vec<ObjectInfo> = listing
            .objects
            .into_iter()
            .map(|m| ObjectInfo {
                key: Self::key_of(area, &m.location),
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Deletes every object under the folder `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, BlobError> {
        let keys: Vec<String> = self
            .list(prefix)?
            .map(|o| o.map(|o| o.key))
            .try_collect()
            .await?;
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys.len())
    }

    /// True when `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        let (area, path) = self.route(key)?;
        match area.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_core::time::Clock as _;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn streams_hashes_and_reads_back_ranges() {
        let dir = tempfile_dir();
        let blobs = Blobs::local(&dir).unwrap();
        let stored = blobs
            .put_stream("sessions/a/files/b", chunks(&[b"hello ", b"world"]), 1024)
            .await
            .unwrap();
        assert_eq!(stored.size, 11);
        assert_eq!(
            stored.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert!(dir.join("sessions/a/files/b").exists());
        let part: Vec<Bytes> = blobs
            .get("sessions/a/files/b", Some(6..11))
            .await
            .unwrap()
            .map(|c| c.unwrap())
            .collect()
            .await;
        assert_eq!(part.concat(), b"world");
        blobs.delete("sessions/a/files/b").await.unwrap();
        assert!(!blobs.exists("sessions/a/files/b").await.unwrap());
        blobs.delete("sessions/a/files/b").await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn lists_and_deletes_a_folder_leaving_no_empty_folders() {
        let dir = tempfile_dir();
        let blobs = Blobs::local(&dir).unwrap();
        for key in [
            "sessions/a/files/1",
            "sessions/a/files/2",
            "sessions/b/files/3",
        ] {
            blobs
                .put_bytes(key, Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        let mut listed: Vec<String> = blobs
            .list("sessions")
            .unwrap()
            .map(|o| o.unwrap().key)
            .collect()
            .await;
        listed.sort();
        assert_eq!(
            listed,
            [
                "sessions/a/files/1",
                "sessions/a/files/2",
                "sessions/b/files/3"
            ]
        );
        let age = blobs
            .list("sessions/b")
            .unwrap()
            .map(|o| o.unwrap().modified_ms)
            .collect::<Vec<_>>()
            .await;
        assert_eq!(age.len(), 1);
        // Milliseconds, not seconds: within a day of now.
        assert!(
            (idv_core::time::SystemClock.now_ms() - age[0]).abs() < 86_400_000,
            "{age:?}"
        );
        assert_eq!(blobs.delete_prefix("sessions/a").await.unwrap(), 2);
        assert!(!dir.join("sessions/a").exists(), "emptied folders go too");
        assert!(blobs.exists("sessions/b/files/3").await.unwrap());
        assert_eq!(blobs.delete_prefix("sessions/none").await.unwrap(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn too_large_leaves_nothing() {
        let dir = tempfile_dir();
        let blobs = Blobs::local(&dir).unwrap();
        let err = blobs
            .put_stream("k/big", chunks(&[b"0123456789", b"0123456789"]), 15)
            .await;
        assert!(matches!(err, Err(BlobError::TooLarge(15))));
        assert!(!blobs.exists("k/big").await.unwrap());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Areas: `sessions/...` in one store under a prefix, `pics/...` in another at its root;
    /// listings give back the logical keys, and a key of no area is refused by name.
    #[tokio::test]
    async fn keys_route_to_their_area_and_list_back_as_keys() {
        let (a, b) = (tempfile_dir(), tempfile_dir());
        let store = |d: &PathBuf| -> Arc<dyn ObjectStore> {
            Arc::new(LocalFileSystem::new_with_prefix(d).unwrap())
        };
        let blobs = Blobs::from_areas(vec![
            BlobArea::new("sessions", store(&a), "/user/sessions/"),
            BlobArea::new("pics", store(&b), ""),
        ]);
        assert!(!blobs.is_local());
        blobs
            .put_bytes("sessions/s1/files/f1", Bytes::from_static(b"one"))
            .await
            .unwrap();
        blobs
            .put_bytes("pics/logo.png", Bytes::from_static(b"png"))
            .await
            .unwrap();
        blobs
            .put_bytes("pics/logo/v1", Bytes::from_static(b"v1"))
            .await
            .unwrap();
        assert!(a.join("user/sessions/s1/files/f1").is_file());
        assert!(b.join("logo.png").is_file());
        let listed: Vec<String> = blobs
            .list("sessions")
            .unwrap()
            .map(|o| o.unwrap().key)
            .collect()
            .await;
        assert_eq!(listed, ["sessions/s1/files/f1"]);
        // Only what is directly in the folder.
        let folder: Vec<String> = blobs
            .list_folder("pics")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(folder, ["pics/logo.png"]);
        let part: Vec<Bytes> = blobs
            .get("sessions/s1/files/f1", Some(1..3))
            .await
            .unwrap()
            .map(|c| c.unwrap())
            .collect()
            .await;
        assert_eq!(part.concat(), b"ne");
        assert_eq!(blobs.delete_prefix("sessions/s1").await.unwrap(), 1);
        let e = blobs.get_bytes("other/x").await.unwrap_err().to_string();
        assert!(e.contains("no storage location holds `other/x`"), "{e}");
        let rooted = Blobs::rooted(store(&b), "logo");
        assert_eq!(rooted.get_bytes("v1").await.unwrap().as_ref(), b"v1");
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("idv-blobs-{}", idv_core::ids::new_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
