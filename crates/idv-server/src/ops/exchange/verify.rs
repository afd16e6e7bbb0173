//! The checks an archive passes before anything of it is written: entry names are plain
//! relative paths (no `..`, no absolute or backslash paths, no control characters), every entry
//! is listed in the manifest and the reverse, each entry's size and SHA-256 match the manifest,
//! reading stops one byte past the size the manifest gives (a zip bomb cannot make it read
//! more), the documents have size limits and agree with each other, the workflow definition is
//! valid here, and every file path is the one computed from its file row (the manifest's paths
//! are never used to name anything).

use super::import::{ArchiveError, refuse};
use super::{
    FORMAT, MANIFEST, Manifest, ManifestEntry, SESSION, SessionDocument, VERSION, WORKFLOW,
    file_path,
};
use idv_core::workflow::Workflow;
use idv_store::{FileRecord, SessionRecord, WorkflowRecord};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use zip::ZipArchive;

/// At most this many entries in one archive.
const MAX_ENTRIES: usize = 100_000;
/// `manifest.json` and `workflow.json` are read into memory: at most this large.
const MAX_SMALL_DOCUMENT: u64 = 16 * 1024 * 1024;
/// `session.json` (properties and engine state included) is read into memory: at most this.
const MAX_SESSION_DOCUMENT: u64 = 256 * 1024 * 1024;
/// One session file: at most this large.
const MAX_FILE: u64 = 64 * 1024 * 1024 * 1024;
/// Bytes are copied to storage in chunks of this size.
pub(super) const CHUNK: usize = 256 * 1024;

/// What the checks established; everything needed to write.
pub(super) struct Verified {
    pub(super) session: SessionRecord,
    /// File rows as they will be stored (canonical object keys; inline bytes read later).
    pub(super) files: Vec<FileRecord>,
    pub(super) jobs: Vec<idv_store::JobRecord>,
    pub(super) workflow: WorkflowRecord,
    /// Archive path and manifest entry of each file, by file id.
    pub(super) entries: HashMap<String, ManifestEntry>,
}

pub(super) fn changed(path: &str) -> ArchiveError {
    refuse(format!(
        "{path}: its bytes changed while importing (SHA-256 differs from the manifest)"
    ))
}

pub(super) fn open(path: &Path) -> Result<ZipArchive<std::fs::File>, ArchiveError> {
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
pub(super) fn read_entry(
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
pub(super) fn verify(path: &Path) -> Result<Verified, ArchiveError> {
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
    let workflow: WorkflowRecord = serde_json::from_slice(&workflow_bytes)
        .map_err(|e| refuse(format!("{WORKFLOW}: not a valid workflow document: {e}")))?;

    check_consistency(&manifest, &document, &workflow)?;
    let session = document.record;
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
    workflow: &WorkflowRecord,
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
