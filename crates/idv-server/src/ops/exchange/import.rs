//! Restoring a session from its archive. The archive is untrusted input: it passes every
//! check in [`super::verify`] before anything is written. Then: the workflow revision, the
//! file bytes (into storage, each hashed again on the way), and last the session with its file
//! rows and jobs in one store transaction. A failure after bytes were written removes the bytes
//! this import added.

use super::ManifestEntry;
use super::verify::{CHUNK, Verified, changed, open, read_entry, verify};
use crate::state::AppState;
use bytes::Bytes;
use idv_store::{FileRecord, NewWorkflow, SessionImport};
use idv_store::{SessionId, WorkflowId};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use tokio::runtime::Handle;
use zip::ZipArchive;

/// Why an archive was refused or could not be imported. The message names the archive entry
/// or the record at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArchiveError(pub String);

pub(super) fn refuse(msg: impl Into<String>) -> ArchiveError {
    ArchiveError(msg.into())
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// The session was stored (`replaced`: instead of one with the same id).
    Stored {
        session_id: String,
        workflow_id: String,
        /// The revision the session now pins in this install.
        workflow_revision: i64,
        /// True when that revision was added by this import.
        workflow_added: bool,
        files: usize,
        replaced: bool,
    },
    /// A session with this id exists and replacing was not asked for; nothing was written.
    Skipped { session_id: String },
}

/// Imports the archive at `path`. `replace`: an existing session with the same id is replaced
/// (its files and jobs too) instead of skipped.
pub async fn import_archive(
    state: &AppState,
    path: &Path,
    replace: bool,
) -> Result<Imported, ArchiveError> {
    let owned = path.to_path_buf();
    let verified = tokio::task::spawn_blocking(move || verify(&owned))
        .await
        .map_err(|e| refuse(format!("the check stopped: {e}")))??;
    let store = state.store.as_ref();
    let backend = |e: idv_store::StoreError| refuse(format!("storage: {e}"));
    let session_id = verified.session.id.clone();
    if !replace
        && store
            .session_get(SessionId::new(&session_id))
            .await
            .map_err(backend)?
            .is_some()
    {
        return Ok(Imported::Skipped { session_id });
    }

    // The workflow revision: an equal definition already stored, else the exported one as an
    // extra revision.
    let wf = &verified.workflow;
    let existing = store
        .workflow_revisions(WorkflowId::new(&wf.id))
        .await
        .map_err(backend)?
        .into_iter()
        .find(|r| r.definition == wf.definition);
    let (revision, workflow_added) = match existing {
        Some(r) => (r.revision, false),
        None => {
            let rev = store
                .workflow_import_revision(&NewWorkflow {
                    id: wf.id.clone(),
                    name: wf.name.clone(),
                    description: wf.description.clone(),
                    version: wf.version.clone(),
                    default_locale: wf.default_locale.clone(),
                    definition: wf.definition.clone(),
                    owner_id: wf.owner_id.clone(),
                    created_at: wf.created_at,
                })
                .await
                .map_err(backend)?;
            (rev, true)
        }
    };
    let mut session = verified.session.clone();
    session.workflow_revision = revision;

    // Bytes first: inline ones are read into their rows, the others go to storage.
    let written = write_bytes(state, path, &verified).await?;
    let mut files = verified.files.clone();
    for f in &mut files {
        if let Some(bytes) = written.inline.get(&f.id) {
            f.inline = Some(bytes.clone());
        }
    }
    let outcome = store
        .session_import(&session, &files, &verified.jobs, replace)
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            written.undo(state).await;
            return Err(refuse(format!("session {session_id} was not stored: {e}")));
        }
    };
    let replaced = match outcome {
        SessionImport::Exists => {
            written.undo(state).await;
            return Ok(Imported::Skipped { session_id });
        }
        SessionImport::Created => false,
        SessionImport::Replaced(old) => {
            let kept: HashSet<&str> = files.iter().map(|f| f.object_key.as_str()).collect();
            for f in old {
                if f.object_key != idv_store::INLINE_KEY
                    && !kept.contains(f.object_key.as_str())
                    && let Err(e) = state.blobs.delete(&f.object_key).await
                {
                    tracing::warn!(key = %f.object_key, "cannot delete a replaced file: {e}");
                }
            }
            true
        }
    };
    Ok(Imported::Stored {
        session_id,
        workflow_id: wf.id.clone(),
        workflow_revision: revision,
        workflow_added,
        files: files.len(),
        replaced,
    })
}

/// What [`write_bytes`] stored.
#[derive(Default)]
struct Written {
    inline: HashMap<String, Vec<u8>>,
    /// Storage keys this import created (not those that held the same bytes before).
    created: Vec<String>,
}

impl Written {
    async fn undo(&self, state: &AppState) {
        for key in &self.created {
            let _ = state.blobs.delete(key).await;
        }
    }
}

/// Reads the file entries again and writes them where they belong, checking each hash on the
/// way (the archive may have changed since it was checked). Runs on a blocking thread; storage
/// calls go back to the runtime.
async fn write_bytes(
    state: &AppState,
    path: &Path,
    verified: &Verified,
) -> Result<Written, ArchiveError> {
    let state = state.clone();
    let path = path.to_path_buf();
    let files = verified.files.clone();
    let entries = verified.entries.clone();
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut written = Written::default();
        let result = write_all(&state, &handle, &path, &files, &entries, &mut written);
        if result.is_err() {
            handle.block_on(written.undo(&state));
        }
        result.map(|()| written)
    })
    .await
    .map_err(|e| refuse(format!("the import stopped: {e}")))?
}

fn write_all(
    state: &AppState,
    handle: &Handle,
    path: &Path,
    files: &[FileRecord],
    entries: &HashMap<String, ManifestEntry>,
    written: &mut Written,
) -> Result<(), ArchiveError> {
    let mut archive = open(path)?;
    for f in files {
        let entry = entries
            .get(&f.id)
            .ok_or_else(|| refuse(format!("file {} is not in the manifest", f.id)))?;
        if f.object_key == idv_store::INLINE_KEY {
            let (bytes, sha) = read_entry(&mut archive, &entry.path, entry.size)?;
            if sha != entry.sha256 {
                return Err(changed(&entry.path));
            }
            written.inline.insert(f.id.clone(), bytes);
            continue;
        }
        // Bytes already at the key belong to the same file of an existing session (file ids
        // are unique): an undo must not remove them.
        let existed = handle
            .block_on(state.blobs.exists(&f.object_key))
            .unwrap_or(true);
        if !existed {
            written.created.push(f.object_key.clone());
        }
        copy_entry(state, handle, &mut archive, entry, &f.object_key)?;
    }
    Ok(())
}

/// Streams one entry into storage at `key`: this (blocking) thread reads chunks and hands them
/// through a small channel to the storage upload on the runtime, so at most a few chunks are
/// in memory.
fn copy_entry(
    state: &AppState,
    handle: &Handle,
    archive: &mut ZipArchive<std::fs::File>,
    entry: &ManifestEntry,
    key: &str,
) -> Result<(), ArchiveError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let blobs = state.blobs.clone();
    let key_owned = key.to_owned();
    let limit = entry.size;
    let upload = handle.spawn(async move {
        let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        blobs.put_stream(&key_owned, Box::pin(stream), limit).await
    });
    let path = &entry.path;
    let read = feed(archive, path, limit, &tx);
    // A reading failure ends the stream with an error, so the upload leaves nothing behind.
    if let Err(e) = &read {
        let _ = tx.blocking_send(Err(e.0.clone()));
    }
    drop(tx);
    let stored = handle
        .block_on(upload)
        .map_err(|e| refuse(format!("{path}: upload stopped: {e}")))?;
    read?;
    let stored = stored.map_err(|e| refuse(format!("{path}: cannot store: {e}")))?;
    if stored.sha256 != entry.sha256 || stored.size != entry.size {
        let _ = handle.block_on(state.blobs.delete(key));
        return Err(changed(path));
    }
    Ok(())
}

/// Sends the bytes of entry `path` (at most `limit` + 1 of them) through `tx`.
fn feed(
    archive: &mut ZipArchive<std::fs::File>,
    path: &str,
    limit: u64,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, String>>,
) -> Result<(), ArchiveError> {
    let mut file = archive
        .by_name(path)
        .map_err(|e| refuse(format!("{path}: cannot read: {e}")))?;
    let mut reader = (&mut file).take(limit.saturating_add(1));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| refuse(format!("{path}: cannot read: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        if tx
            .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
            .is_err()
        {
            // The upload ended early; its own error says why.
            return Ok(());
        }
    }
}
