//! `idv restore SRC`: a backup folder (from `idv backup`) into the configured install, then
//! the checks of [`super::check`] on the result.
//!
//! The database file is copied under a temporary name beside the target, opened and checked
//! (`PRAGMA integrity_check`), and only then renamed into place; the files go through the
//! configured storage. The target must hold no data unless `force`, which replaces it.

use super::{Checked, Copy, KEY_FILE, check, copy_object, folders, list_keys, sqlite_file};
use crate::config::Config;
use crate::state::AppState;
use idv_store::blobs::Blobs;
use idv_store::prelude::*;
use std::path::{Path, PathBuf};

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub database: PathBuf,
    /// Objects copied into storage, and their bytes.
    pub files: u64,
    pub bytes: u64,
    pub key_file: bool,
    pub checked: Checked,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

/// The database file of a backup folder: the one named like the target's, else its only
/// `*.db` file.
fn backup_database(src: &Path, name: &std::ffi::OsStr) -> Result<PathBuf, String> {
    let same = src.join(name);
    if same.is_file() {
        return Ok(same);
    }
    let dbs: Vec<PathBuf> = std::fs::read_dir(src)
        .map_err(|e| format!("cannot read the backup folder {}: {e}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "db"))
        .collect();
    match dbs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "{} holds no database file (*.db): is it a folder written by idv backup?",
            src.display()
        )),
        _ => Err(format!(
            "{} holds several *.db files; name the one to restore {}",
            src.display(),
            name.to_string_lossy()
        )),
    }
}

/// Restores the backup in `src` into the install `config` names.
pub async fn restore(config: Config, src: &Path, force: bool) -> Result<Restored, String> {
    let Some(target_db) = sqlite_file(&config.database.url) else {
        return Err(
            "idv restore writes a SQLite install; to load a backup into PostgreSQL, run idv \
             migrate with a configuration whose storage.fs.path and database.url name the \
             backup folder and its database file"
                .into(),
        );
    };
    let name = target_db
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "idv.db".into());
    let src_db = backup_database(src, &name)?;
    let data = config.data_dir();
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(src, &data) || same(&src_db, &target_db) {
        return Err(format!(
            "{} is this install's own data folder; restore from a backup folder",
            src.display()
        ));
    }
    let held = target_db.exists() || std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_some());
    if held && !force {
        return Err(format!(
            "the target holds data ({} or files in {}); stop the server and pass --force to \
             replace it with the backup",
            target_db.display(),
            data.display()
        ));
    }

    // The database: copied beside its place, checked, then renamed into place.
    if let Some(dir) = target_db.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Checked under a working name first; the target's file is then SQLite's own copy of it
    // (the check opens it, which may leave a write-ahead log beside it).
    let staged = with_suffix(&target_db, ".restoring");
    let remove_staged = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(with_suffix(&staged, suffix));
        }
    };
    remove_staged();
    std::fs::copy(&src_db, &staged)
        .map_err(|e| format!("cannot copy {}: {e}", src_db.display()))?;
    let store = idv_store_sqlite::SqliteStore::connect(&super::sqlite_url(&staged))
        .await
        .map_err(|e| {
            remove_staged();
            format!("the backup's database does not open: {e}")
        })?;
    let problems = store.integrity_check().await;
    let placed = match &problems {
        Ok(p) if p.is_empty() => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(with_suffix(&target_db, suffix));
            }
            Some(store.snapshot_into(&target_db).await)
        }
        _ => None,
    };
    store.close().await;
    drop(store);
    remove_staged();
    match (problems, placed) {
        (Err(e), _) => return Err(format!("cannot check the backup's database: {e}")),
        (Ok(p), None) => {
            return Err(format!(
                "the backup's database fails its integrity check: {}",
                p.join("; ")
            ));
        }
        (Ok(_), Some(Err(e))) => {
            return Err(format!("cannot write {}: {e}", target_db.display()));
        }
        (Ok(_), Some(Ok(_))) => {}
    }

    // The secrets key, unless the configuration names one.
    let mut key_file = false;
    let src_key = src.join(KEY_FILE);
    if config.fernet_key.is_none() && src_key.is_file() {
        std::fs::create_dir_all(&data)
            .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        let target = data.join(KEY_FILE);
        std::fs::copy(&src_key, &target).map_err(|e| format!("cannot copy the key file: {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600));
        }
        key_file = true;
    }

    // The files, through the configured storage.
    let state = AppState::open(config, String::new())
        .await
        .map_err(|e| e.to_string())?;
    let from = Blobs::local(src).map_err(|e| e.to_string())?;
    let mut prefixes = vec!["sessions".to_string()];
    prefixes.extend(folders(&state.config));
    if force {
        for p in &prefixes {
            match state.blobs.delete_prefix(p).await {
                Ok(_) | Err(idv_store::blobs::BlobError::NotFound(_)) => {}
                Err(e) => return Err(format!("cannot clear {p}: {e}")),
            }
        }
    }
    let (mut files, mut bytes) = (0, 0);
    for p in &prefixes {
        for key in list_keys(&from, p).await? {
            if let Copy::Done { size, .. } = copy_object(&from, &state.blobs, &key).await? {
                files += 1;
                bytes += size;
            }
        }
    }
    let checked = check(&state).await?;
    Ok(Restored {
        database: target_db,
        files,
        bytes,
        key_file,
        checked,
    })
}
