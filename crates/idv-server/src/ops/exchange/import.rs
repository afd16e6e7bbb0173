//! Restoring a session from its archive.
//!
//! The archive is untrusted input. Before anything is written, every entry is read and checked:
//! entry names must be plain relative paths (no `..`, no absolute or backslash paths, no
//! control characters), every entry must be listed in the manifest and the reverse, each
//! entry's size and SHA-256 must match the manifest, reading stops one byte past the size the
//! manifest gives (a zip bomb cannot make it read more), the documents have size limits, and
//! every file path must be the one computed from its file row (the manifest's paths are never
//! used to name anything). Then: the workflow revision, the file bytes (into storage, each
//! hashed again on the way), and last the session with its file rows and jobs in one store
//! transaction. A failure after bytes were written removes the bytes this import added.

use super::{
    FORMAT, MANIFEST, Manifest, ManifestEntry, SESSION, SessionDocument, VERSION, WORKFLOW,
    WorkflowDocument, file_path,
};
use crate::state::AppState;
use bytes::Bytes;
use idv_core::workflow::Workflow;
use idv_store::{FileRecord, NewWorkflow, SessionImport, SessionRecord};
use sha2::{Digest, Sha256};
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

fn refuse(msg: impl Into<String>) -> ArchiveError {
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

/// At most this many entries in one archive.
const MAX_ENTRIES: usize = 100_000;
/// `manifest.json` and `workflow.json` are read into memory: at most this large.
const MAX_SMALL_DOCUMENT: u64 = 16 * 1024 * 1024;
/// `session.json` (properties and engine state included) is read into memory: at most this.
const MAX_SESSION_DOCUMENT: u64 = 256 * 1024 * 1024;
/// One session file: at most this large.
const MAX_FILE: u64 = 64 * 1024 * 1024 * 1024;
/// Bytes are copied to storage in chunks of this size.
const CHUNK: usize = 256 * 1024;

/// What the checks established; everything needed to write.
struct Verified {
    session: SessionRecord,
    /// File rows as they will be stored (canonical object keys; inline bytes read later).
    files: Vec<FileRecord>,
    jobs: Vec<idv_store::JobRecord>,
    workflow: WorkflowDocument,
    /// Archive path and manifest entry of each file, by file id.
    entries: HashMap<String, ManifestEntry>,
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
            .session_get(&session_id)
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
        .workflow_revisions(&wf.id)
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

fn changed(path: &str) -> ArchiveError {
    refuse(format!(
        "{path}: its bytes changed while importing (SHA-256 differs from the manifest)"
    ))
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

fn open(path: &Path) -> Result<ZipArchive<std::fs::File>, ArchiveError> {
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot open: {e}")))?;
    ZipArchive::new(file).map_err(|e| refuse(format!("not a readable zip archive: {e}")))
}

/// A plain relative path of `/`-separated segments: no empty, `.` or `..` segment, no
/// backslash, colon or control character, at most 512 bytes.
fn safe_entry_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && !name.starts_with('/')
        && !name
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == ':')
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// Reads one entry whole, refusing it past `limit` bytes; returns the bytes and their SHA-256.
fn read_entry(
    archive: &mut ZipArchive<std::fs::File>,
    name: &str,
    limit: u64,
) -> Result<(Vec<u8>, String), ArchiveError> {
    let mut file = archive
        .by_name(name)
        .map_err(|e| refuse(format!("{name}: cannot read: {e}")))?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("{name}: cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(refuse(format!("{name}: larger than {limit} bytes")));
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// Hashes one entry as a stream, refusing it past `limit` bytes; returns its size and SHA-256.
fn hash_entry(
    archive: &mut ZipArchive<std::fs::File>,
    name: &str,
    limit: u64,
) -> Result<(u64, String), ArchiveError> {
    let mut file = archive
        .by_name(name)
        .map_err(|e| refuse(format!("{name}: cannot read: {e}")))?;
    let mut reader = (&mut file).take(limit.saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| refuse(format!("{name}: cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Every check, before anything is written.
fn verify(path: &Path) -> Result<Verified, ArchiveError> {
    let mut archive = open(path)?;
    if archive.len() > MAX_ENTRIES {
        return Err(refuse(format!(
            "{} entries; an export has at most {MAX_ENTRIES}",
            archive.len()
        )));
    }
    let mut names = HashSet::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| refuse(format!("entry {i}: cannot read: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| refuse(format!("entry {i}: unreadable name: {e}")))?
            .into_owned();
        if !safe_entry_name(&name) || entry.enclosed_name().is_none() {
            return Err(refuse(format!(
                "entry `{}`: not a plain relative path (absolute, `..` or odd characters)",
                name.escape_debug()
            )));
        }
        if entry.encrypted() {
            return Err(refuse(format!(
                "{name}: encrypted entries are not accepted"
            )));
        }
        if !names.insert(name.clone()) {
            return Err(refuse(format!("{name}: appears twice")));
        }
    }
    if !names.contains(MANIFEST) {
        return Err(refuse(format!(
            "no {MANIFEST}: this is not an idv session export"
        )));
    }
    let (manifest, _) = read_entry(&mut archive, MANIFEST, MAX_SMALL_DOCUMENT)?;
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| refuse(format!("{MANIFEST}: not a valid manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(refuse(format!(
            "{MANIFEST}: format `{}` is not `{FORMAT}`",
            manifest.format
        )));
    }
    if manifest.version != VERSION {
        return Err(refuse(format!(
            "{MANIFEST}: version {} cannot be read; this install reads version {VERSION}",
            manifest.version
        )));
    }

    // The manifest and the archive list the same entries, each once.
    let mut listed: HashMap<&str, &ManifestEntry> = HashMap::new();
    for e in &manifest.files {
        if e.path == MANIFEST || !safe_entry_name(&e.path) {
            return Err(refuse(format!(
                "{MANIFEST}: the path `{}` is not allowed",
                e.path.escape_debug()
            )));
        }
        if listed.insert(e.path.as_str(), e).is_some() {
            return Err(refuse(format!("{MANIFEST}: {} is listed twice", e.path)));
        }
        if !names.contains(&e.path) {
            return Err(refuse(format!(
                "{}: listed in the manifest but missing from the archive",
                e.path
            )));
        }
    }
    if let Some(extra) = names
        .iter()
        .find(|n| n.as_str() != MANIFEST && !listed.contains_key(n.as_str()))
    {
        return Err(refuse(format!("{extra}: not listed in the manifest")));
    }

    // Every entry's bytes against the manifest, reading no more than it claims.
    for e in &manifest.files {
        let limit = match e.path.as_str() {
            SESSION => MAX_SESSION_DOCUMENT,
            WORKFLOW => MAX_SMALL_DOCUMENT,
            _ => MAX_FILE,
        };
        if e.size > limit {
            return Err(refuse(format!(
                "{}: {} bytes is more than the {limit} allowed",
                e.path, e.size
            )));
        }
        let (size, sha) = hash_entry(&mut archive, &e.path, e.size)?;
        if size != e.size || sha != e.sha256.to_ascii_lowercase() {
            return Err(refuse(format!(
                "{}: the bytes do not match the manifest (SHA-256 {sha}, {size} bytes; \
                 manifest: {}, {} bytes): the archive was altered or damaged",
                e.path, e.sha256, e.size
            )));
        }
    }
    let session_entry = listed
        .get(SESSION)
        .ok_or_else(|| refuse(format!("{MANIFEST}: does not list {SESSION}")))?;
    let workflow_entry = listed
        .get(WORKFLOW)
        .ok_or_else(|| refuse(format!("{MANIFEST}: does not list {WORKFLOW}")))?;
    let (session_bytes, sha) = read_entry(&mut archive, SESSION, session_entry.size)?;
    if sha != session_entry.sha256 {
        return Err(changed(SESSION));
    }
    let document: SessionDocument = serde_json::from_slice(&session_bytes)
        .map_err(|e| refuse(format!("{SESSION}: not a valid session document: {e}")))?;
    drop(session_bytes);
    let (workflow_bytes, sha) = read_entry(&mut archive, WORKFLOW, workflow_entry.size)?;
    if sha != workflow_entry.sha256 {
        return Err(changed(WORKFLOW));
    }
    let workflow: WorkflowDocument = serde_json::from_slice(&workflow_bytes)
        .map_err(|e| refuse(format!("{WORKFLOW}: not a valid workflow document: {e}")))?;

    check_consistency(&manifest, &document, &workflow)?;
    let session = document.record.into_record();
    let sid = session.id.clone();

    let mut entries = HashMap::new();
    let mut files = Vec::with_capacity(document.files.len());
    for f in document.files {
        let expected = file_path(&f.id, &f.name);
        let entry = listed.get(expected.as_str()).ok_or_else(|| {
            refuse(format!(
                "{SESSION}: file {} should be at {expected}, which the manifest does not list",
                f.id
            ))
        })?;
        if entry.file_id.as_deref() != Some(f.id.as_str())
            || entry.sha256 != f.sha256
            || i64::try_from(entry.size).ok() != Some(f.size)
        {
            return Err(refuse(format!(
                "{expected}: the manifest and the file row of {} disagree (id, size or SHA-256)",
                f.id
            )));
        }
        let inline = f.inline && entry.size <= crate::flow::INLINE_LIMIT as u64;
        entries.insert(f.id.clone(), (*entry).clone());
        files.push(FileRecord {
            object_key: if inline {
                idv_store::INLINE_KEY.to_owned()
            } else {
                crate::flow::object_key(&sid, &f.id)
            },
            id: f.id,
            session_id: sid.clone(),
            name: f.name,
            step: f.step,
            property: f.property,
            content_type: f.content_type,
            size: f.size,
            sha256: f.sha256,
            created_at: f.created_at,
            inline: None,
        });
    }
    // Two documents plus one entry per file: nothing else may ride along.
    if manifest.files.len() != files.len() + 2 {
        return Err(refuse(format!(
            "{MANIFEST}: lists {} entries, but the session has {} files (plus {SESSION} and \
             {WORKFLOW})",
            manifest.files.len(),
            files.len()
        )));
    }
    let jobs = document
        .jobs
        .into_iter()
        .map(|j| {
            if idv_core::ids::is_id(&j.id) {
                Ok(j.into_record(&sid))
            } else {
                Err(refuse(format!("{SESSION}: job id `{}` is not valid", j.id)))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Verified {
        session,
        files,
        jobs,
        workflow,
        entries,
    })
}

/// The documents agree with each other and hold ids this install can use.
fn check_consistency(
    manifest: &Manifest,
    document: &SessionDocument,
    workflow: &WorkflowDocument,
) -> Result<(), ArchiveError> {
    let r = &document.record;
    if !idv_core::ids::is_id(&r.id) {
        return Err(refuse(format!(
            "{SESSION}: `{}` is not a session id (24 lower-case hex characters)",
            r.id
        )));
    }
    if manifest.session_id != r.id {
        return Err(refuse(format!(
            "{MANIFEST} names session {} but {SESSION} holds {}",
            manifest.session_id, r.id
        )));
    }
    if workflow.id != r.workflow_id || manifest.workflow.id != r.workflow_id {
        return Err(refuse(format!(
            "{WORKFLOW} holds workflow {} but the session runs on {}",
            workflow.id, r.workflow_id
        )));
    }
    if !r.metadata.is_object() || !r.properties.is_object() || !r.steps.is_array() {
        return Err(refuse(format!(
            "{SESSION}: metadata and properties must be objects and steps a list"
        )));
    }
    let wf = Workflow::from_definition(workflow.definition.clone()).map_err(|problems| {
        refuse(format!(
            "{WORKFLOW}: the definition is not valid here: {}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    if wf.id() != workflow.id {
        return Err(refuse(format!(
            "{WORKFLOW}: the definition's id {} differs from {}",
            wf.id(),
            workflow.id
        )));
    }
    let mut seen = HashSet::new();
    for f in &document.files {
        if !idv_core::ids::is_id(&f.id) {
            return Err(refuse(format!(
                "{SESSION}: file id `{}` is not valid",
                f.id.escape_debug()
            )));
        }
        if !seen.insert(f.id.as_str()) {
            return Err(refuse(format!("{SESSION}: file {} is listed twice", f.id)));
        }
        if f.size < 0 || f.sha256.len() != 64 {
            return Err(refuse(format!(
                "{SESSION}: file {} has an invalid size or SHA-256",
                f.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_entry_name;

    #[test]
    fn entry_names() {
        assert!(safe_entry_name("session.json"));
        assert!(safe_entry_name("files/0123/front.jpg"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "files/../../x",
            "files//x",
            "files/./x",
            "files\\..\\x",
            "C:/x",
            "a\u{0}b",
            "dir/",
        ] {
            assert!(!safe_entry_name(bad), "{bad:?}");
        }
    }
}
