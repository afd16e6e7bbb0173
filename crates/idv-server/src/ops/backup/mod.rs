//! Backups, restores and moves of a whole install: `idv backup` (a consistent copy of the
//! SQLite database and the files while the server runs), `idv restore` (a backup into place,
//! checked) and `idv migrate` (every table and file into another database and storage).
//!
//! The database is copied with the database's own consistent copy (SQLite's `VACUUM INTO`),
//! never byte by byte; files always go through [`Blobs`], so any storage the configuration
//! names works; only the SQLite file itself is handled as a path.

pub mod check;
pub mod migrate;
pub mod restore;
pub mod snapshot;

pub use check::{Checked, check};
pub use migrate::{Migrated, NotMigrated, migrate};
pub use restore::{Restored, restore};
pub use snapshot::{BackedUp, BackupError, backup};

use futures::StreamExt;
use idv_store::blobs::{BlobError, Blobs};
use idv_store::{CopyValue, INLINE_KEY, Store};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The name of the file that holds the generated secrets key in a data folder.
pub const KEY_FILE: &str = crate::secrets::keyfile::FILE_NAME;

/// The file of a SQLite database URL (`sqlite://./idv-data/idv.db`, `sqlite:///abs.db`),
/// `None` for another database or an in-memory one.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    if rest.is_empty() || rest.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(rest))
}

/// The URL of the SQLite file at `path`.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Where a stored object is referred to from, with what it must hold.
#[derive(Debug, Clone)]
pub struct ObjectRef {
    /// `file` or `asset`.
    pub kind: &'static str,
    /// The session of a file; the id of an asset.
    pub owner: String,
    pub key: String,
    pub sha256: String,
    pub size: i64,
    /// The bytes kept in the database row (a small file); nothing to copy then.
    pub inline: Option<Vec<u8>>,
}

/// Every file and asset object the database refers to, read through the copy port so the
/// whole table is read page by page in one pass.
pub async fn object_refs(store: &dyn Store) -> Result<Vec<ObjectRef>, String> {
    let mut out = vec![];
    for (table, kind, owner) in [("files", "file", "session_id"), ("assets", "asset", "id")] {
        let mut after = 0;
        loop {
            let batch = store
                .copy_read(table, after, 500)
                .await
                .map_err(|e| format!("cannot read the {table} table: {e}"))?;
            let col = |name: &str| batch.columns.iter().position(|c| c == name);
            let (Some(o), Some(k), Some(h), Some(s)) =
                (col(owner), col("object_key"), col("sha256"), col("size"))
            else {
                if batch.rows.is_empty() {
                    break;
                }
                return Err(format!(
                    "the {table} table lacks the columns a backup reads"
                ));
            };
            let content = col("content");
            for row in &batch.rows {
                let text = |i: usize| match &row[i] {
                    CopyValue::Text(t) => t.clone(),
                    _ => String::new(),
                };
                out.push(ObjectRef {
                    kind,
                    owner: text(o),
                    key: text(k),
                    sha256: text(h),
                    size: match row[s] {
                        CopyValue::Int(n) => n,
                        _ => -1,
                    },
                    inline: content.and_then(|c| match &row[c] {
                        CopyValue::Bytes(b) => Some(b.clone()),
                        _ => None,
                    }),
                });
            }
            match batch.next {
                Some(n) => after = n,
                None => break,
            }
        }
    }
    Ok(out)
}

impl ObjectRef {
    /// Whether the bytes live in the database row rather than in file storage.
    pub fn is_inline(&self) -> bool {
        self.key == INLINE_KEY || self.inline.is_some()
    }
}

/// What copying one object did.
pub enum Copy {
    /// Copied: its size and SHA-256.
    Done { size: u64, sha256: String },
    /// The source has no such object.
    Missing,
}

/// Streams `key` from `from` to `to` (same key), hashing as it goes.
pub async fn copy_object(from: &Blobs, to: &Blobs, key: &str) -> Result<Copy, String> {
    let stream = match from.get(key, None).await {
        Ok(s) => s,
        Err(BlobError::NotFound(_)) => return Ok(Copy::Missing),
        Err(e) => return Err(format!("cannot read {key}: {e}")),
    };
    let stored = to
        .put_stream(key, Box::pin(stream), u64::MAX)
        .await
        .map_err(|e| match e {
            BlobError::Source(m) if m.contains("not found") => "missing".to_string(),
            e => format!("cannot write {key}: {e}"),
        });
    match stored {
        Ok(s) => Ok(Copy::Done {
            size: s.size,
            sha256: s.sha256,
        }),
        // Deleted between opening and reading it.
        Err(m) if m == "missing" => Ok(Copy::Missing),
        Err(m) => Err(m),
    }
}

/// The SHA-256 and size of `key` in `blobs`, `None` when there is no such object.
pub async fn hash_object(blobs: &Blobs, key: &str) -> Result<Option<(u64, String)>, String> {
    let mut stream = match blobs.get(key, None).await {
        Ok(s) => s,
        Err(BlobError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(format!("cannot read {key}: {e}")),
    };
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("cannot read {key}: {e}"))?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

/// Every object key under the folder `prefix` (none when there is no such folder).
pub async fn list_keys(blobs: &Blobs, prefix: &str) -> Result<Vec<String>, String> {
    if prefix.is_empty() {
        return Ok(vec![]);
    }
    let mut stream = match blobs.list(prefix) {
        Ok(s) => s,
        Err(BlobError::NotFound(_)) => return Ok(vec![]),
        Err(e) => return Err(format!("cannot list {prefix}: {e}")),
    };
    let mut keys = vec![];
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => keys.push(info.key),
            Err(BlobError::NotFound(_)) => break,
            Err(e) => return Err(format!("cannot list {prefix}: {e}")),
        }
    }
    keys.sort();
    Ok(keys)
}

/// The folders of files that are not rows' bytes: workflow and localization files loaded at
/// start, and the assets folder.
pub fn folders(config: &crate::config::Config) -> Vec<String> {
    let mut out = vec![];
    for p in [
        &config.storage.workflows.location.prefix,
        &config.storage.locales.location.prefix,
        &config.storage.assets.location.prefix,
    ] {
        let p = p.trim_matches('/').to_string();
        if !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
