//! File storage behind one interface. Today it is a local folder through `object_store`'s local
//! file system; an S3-compatible store plugs in behind the same `Arc<dyn ObjectStore>`.
//! Uploads are streamed: bytes are hashed and written chunk by chunk, never held whole.

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::{
    GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart, local::LocalFileSystem,
    path::Path as ObjectPath,
};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object not found: {0}")]
    NotFound(String),
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
pub type ByteRange = std::ops::Range<u64>;

/// The blob store.
#[derive(Clone, Debug)]
pub struct Blobs {
    inner: Arc<dyn ObjectStore>,
    /// Set for the local file system, so that stored files can be fsynced before their rows
    /// are written.
    local_root: Option<PathBuf>,
}

const PART_SIZE: usize = 5 * 1024 * 1024;

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
        Ok(Self {
            inner: Arc::new(fs),
            local_root: Some(root),
        })
    }

    /// Any object store (S3 and the in-memory store plug in here).
    pub fn from_object_store(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            local_root: None,
        }
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
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        let upload = self.inner.put_multipart(&path).await?;
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
                return Err(e.into());
            }
            writer.put(chunk);
        }
        writer.finish().await?;
        self.sync(key).await;
        Ok(StoredBlob {
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Stores a small in-memory value.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<StoredBlob, BlobError> {
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        self.inner.put(&path, PutPayload::from_bytes(bytes)).await?;
        self.sync(key).await;
        Ok(StoredBlob { size, sha256 })
    }

    /// Flushes a local file to disk so that a row written next never points at lost bytes.
    async fn sync(&self, key: &str) {
        if let Some(root) = &self.local_root {
            let file = root.join(key);
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
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self.inner.get_opts(&path, opts).await?;
        Ok(result.into_stream().map(|r| r.map_err(BlobError::from)))
    }

    /// Reads a whole (small) object into memory.
    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, BlobError> {
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        Ok(self.inner.get(&path).await?.bytes().await?)
    }

    /// Deletes `key`; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        match self.inner.delete(&path).await {
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
        let path = ObjectPath::parse(prefix).map_err(|e| BlobError::Backend(e.to_string()))?;
        Ok(self.inner.list(Some(&path)).map(|meta| {
            meta.map(|m| ObjectInfo {
                key: m.location.to_string(),
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .map_err(BlobError::from)
        }))
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
        let path = ObjectPath::parse(key).map_err(|e| BlobError::Backend(e.to_string()))?;
        match self.inner.head(&path).await {
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

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("idv-blobs-{}", idv_core::ids::new_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
