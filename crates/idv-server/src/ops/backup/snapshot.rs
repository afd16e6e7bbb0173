//! `idv backup DEST`: the database and the files of a running install, consistent with each
//! other, into a new folder that is itself a data folder.
//!
//! Order: the database first (`VACUUM INTO`, one read transaction), then the files the copy's
//! rows refer to. A file's bytes are stored and flushed before its row is written, so every row
//! in the copy has its bytes in storage, unless the file went away between the two steps:
//! the session was deleted during the backup. Such a session is deleted in the copy as well
//! (a tombstone, as on the live install), so the backup never holds a row without its bytes;
//! a file missing while its session still exists is damage, reported and failed on.

use super::{Copy, KEY_FILE, ObjectRef, copy_object, folders, list_keys, object_refs};
use crate::state::AppState;
use idv_store::blobs::Blobs;
use idv_store::prelude::*;
use idv_store::{AssetId, Deleter, SessionId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a backup holds.
#[derive(Debug, Default)]
pub struct BackedUp {
    /// The database file in the backup.
    pub database: std::path::PathBuf,
    pub database_bytes: u64,
    pub sessions: i64,
    /// File and asset objects copied, and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// Workflow, localization and other folder files copied.
    pub folder_files: u64,
    /// Sessions deleted while the backup ran: deleted in the backup too.
    pub deleted_meanwhile: Vec<String>,
    /// Assets replaced or deleted while the backup ran: left out of the backup.
    pub assets_changed: Vec<String>,
    /// Rows whose bytes are missing or differ although their session or asset still exists.
    pub damaged: Vec<String>,
    /// Whether the generated secrets key was copied (false when `fernetKey` is configured).
    pub key_file: bool,
    pub took: Duration,
}

/// Why there is no backup.
#[derive(Debug)]
pub enum BackupError {
    /// The database has no consistent copy of its own here (PostgreSQL).
    Unsupported(String),
    /// Anything else, said in words.
    Failed(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::Unsupported(m) | BackupError::Failed(m) => f.write_str(m),
        }
    }
}

fn failed(m: impl Into<String>) -> BackupError {
    BackupError::Failed(m.into())
}

/// `dest` must not exist, or be an empty folder.
fn check_dest(dest: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(failed(format!(
                    "{} is not empty: give a new folder (or an empty one) to back up into",
                    dest.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dest)
            .map_err(|e| failed(format!("cannot create {}: {e}", dest.display()))),
        Err(e) if dest.is_file() => Err(failed(format!(
            "{} is a file: give a folder to back up into ({e})",
            dest.display()
        ))),
        Err(e) => Err(failed(format!("cannot read {}: {e}", dest.display()))),
    }
}

/// Backs the install of `state` up into `dest`, which must not exist or be empty.
pub async fn backup(state: &AppState, dest: &Path) -> Result<BackedUp, BackupError> {
    let started = Instant::now();
    let Some(live_db) = super::sqlite_file(&state.config.database.url) else {
        return Err(BackupError::Unsupported(format!(
            "idv backup copies the embedded SQLite database; this install uses {}. Back \
             PostgreSQL up with pg_dump (e.g. pg_dump --format=custom), and the files with \
             your storage's own tools (for a folder: a copy of {} taken after the dump)",
            state.store.backend(),
            state.config.data_dir().display()
        )));
    };
    check_dest(dest)?;
    let name = live_db
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "idv.db".into());
    let db_path = dest.join(&name);
    let mut out = BackedUp {
        database: db_path.clone(),
        ..Default::default()
    };

    // 1. The database, as of one moment. The snapshot is taken under a working name and
    // corrected (sessions deleted meanwhile); the database file of the backup is then one more
    // `VACUUM INTO` of it, a single file with no write-ahead log beside it.
    let work = dest.join(".snapshot.db");
    let remove_work = || {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = work.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    };
    let made = state.store.snapshot_into(&work).await.map_err(|e| {
        remove_work();
        failed(format!("cannot copy the database: {e}"))
    })?;
    if !made {
        return Err(BackupError::Unsupported(
            "this database has no consistent copy of its own; use its own backup tools".into(),
        ));
    }
    let copy = idv_store_sqlite::SqliteStore::connect(&super::sqlite_url(&work))
        .await
        .map_err(|e| failed(format!("cannot open the copied database: {e}")))?;

    // 2. The bytes of every row of the copy.
    let to = Blobs::local(dest).map_err(|e| failed(e.to_string()))?;
    let refs = object_refs(&copy).await.map_err(failed)?;
    // Key → size of every object copied.
    let mut copied = BTreeMap::new();
    let mut gone_sessions = BTreeSet::new();
    for r in &refs {
        if r.is_inline() || copied.contains_key(&r.key) {
            continue;
        }
        match copy_object(&state.blobs, &to, &r.key)
            .await
            .map_err(failed)?
        {
            Copy::Done { size, sha256 } if sha256 == r.sha256 => {
                out.files += 1;
                out.bytes += size;
                copied.insert(r.key.clone(), size);
            }
            Copy::Done { .. } => {
                let _ = to.delete(&r.key).await;
                out.damaged
                    .push(describe(r, "its bytes differ from the SHA-256 of its row"));
            }
            Copy::Missing => {
                if gone(state, r).await.map_err(failed)? {
                    if r.kind == "file" {
                        gone_sessions.insert(r.owner.clone());
                    } else {
                        out.assets_changed.push(r.owner.clone());
                    }
                } else {
                    out.damaged
                        .push(describe(r, "its bytes are missing from storage"));
                }
            }
        }
    }
    // Rows whose bytes went away with them: as on the live install, they are gone here too.
    for id in &gone_sessions {
        for r in refs.iter().filter(|r| r.kind == "file" && &r.owner == id) {
            if let Some(size) = copied.remove(&r.key) {
                let _ = to.delete(&r.key).await;
                out.files -= 1;
                out.bytes -= size;
            }
        }
        let by = Deleter {
            id: None,
            name: "backup".into(),
            kind: "retention".into(),
        };
        copy.session_delete(
            SessionId::new(id),
            &by,
            state.clock.now_ms(),
            Some("deleted while the backup was taken"),
            None,
            None,
        )
        .await
        .map_err(|e| failed(format!("cannot drop session {id} from the backup: {e}")))?;
    }
    for id in &out.assets_changed {
        copy.asset_delete(AssetId::new(id))
            .await
            .map_err(|e| failed(format!("cannot drop asset {id} from the backup: {e}")))?;
    }
    out.deleted_meanwhile = gone_sessions.into_iter().collect();

    // 3. The folders whose files are not rows' bytes (workflows, localization, assets).
    for folder in folders(&state.config) {
        for key in list_keys(&state.blobs, &folder).await.map_err(failed)? {
            if copied.contains_key(&key) {
                continue;
            }
            if let Copy::Done { size, .. } =
                copy_object(&state.blobs, &to, &key).await.map_err(failed)?
            {
                out.folder_files += 1;
                copied.insert(key, size);
            }
        }
    }

    // 4. The generated secrets key: without it the backup's secrets cannot be read.
    if let crate::secrets::KeySource::File(path) = state.secrets.source() {
        let target = dest.join(KEY_FILE);
        std::fs::copy(path, &target)
            .map_err(|e| failed(format!("cannot copy the key file {}: {e}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600));
        }
        out.key_file = true;
    }

    out.sessions = copy
        .copy_count("sessions")
        .await
        .map_err(|e| failed(e.to_string()))?;
    let finished = copy.snapshot_into(&db_path).await;
    copy.close().await;
    drop(copy);
    remove_work();
    finished.map_err(|e| failed(format!("cannot write {}: {e}", db_path.display())))?;
    if let Ok(f) = std::fs::File::open(&db_path) {
        let _ = f.sync_all();
    }
    out.database_bytes = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
    out.took = started.elapsed();
    Ok(out)
}

fn describe(r: &ObjectRef, why: &str) -> String {
    match r.kind {
        "file" => format!("file {} of session {}: {why}", r.key, r.owner),
        _ => format!("asset {} ({}): {why}", r.owner, r.key),
    }
}

/// Whether the row that referred to `r` has gone from the live database, or points elsewhere
/// now (the object went with it, not by damage).
async fn gone(state: &AppState, r: &ObjectRef) -> Result<bool, String> {
    if r.kind == "file" {
        let live = state
            .store
            .session_existing(std::slice::from_ref(&r.owner))
            .await
            .map_err(|e| e.to_string())?;
        return Ok(live.is_empty());
    }
    let asset = state
        .store
        .asset_get(AssetId::new(&r.owner))
        .await
        .map_err(|e| e.to_string())?;
    Ok(asset.is_none_or(|a| a.object_key != r.key))
}
