//! Session export and import: one session as a zip archive that another install (or this one,
//! later) restores exactly.
//!
//! An archive holds:
//! - `session.json`: `{"session": …, "record": …, "files": […], "jobs": […]}`: the session as
//!   `GET /api/sessions/{id}` shows it, then the stored session row, its file rows and its
//!   background jobs, every field as stored (times in ms since the epoch);
//! - `workflow.json`: the workflow revision the session runs on, definition included;
//! - `files/<fileId>/<name>`: the bytes of every session file;
//! - `manifest.json`: `{format: "idv-session-export", version: 1, sessionId, exportedAt,
//!   workflow: {id, revision}, files: [{path, fileId, size, sha256, contentType}]}`, listing
//!   every other entry with its SHA-256, `session.json` and `workflow.json` included.
//!
//! Workflow revisions are numbered per install. On import the session is pointed at a stored
//! revision of its workflow with an equal definition when there is one; otherwise the exported
//! definition is stored as an extra revision numbered below zero (see
//! [`idv_store::Store::workflow_import_revision`]), which never becomes current, so importing
//! never changes what new sessions start on.

mod export;
mod import;
mod select;
mod verify;

pub use export::{Exported, export_session, export_to_file};
pub use import::{ArchiveError, Imported, import_archive};
pub use select::{Selection, parse_filter, select_sessions};

use idv_store::{FileRecord, JobRecord, SessionRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `manifest.json`'s `format`.
pub(crate) const FORMAT: &str = "idv-session-export";
/// `manifest.json`'s `version`: what this code writes and reads.
pub(crate) const VERSION: u32 = 1;

pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const SESSION: &str = "session.json";
pub const WORKFLOW: &str = "workflow.json";

/// The archive's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub format: String,
    pub version: u32,
    pub session_id: String,
    pub(crate) exported_at: String,
    pub workflow: ManifestWorkflow,
    pub files: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestWorkflow {
    pub id: String,
    pub revision: i64,
}

/// One entry of the archive other than the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestEntry {
    pub path: String,
    /// The session file this entry holds; `None` for `session.json` and `workflow.json`.
    pub file_id: Option<String>,
    pub size: u64,
    /// Lower-case hex SHA-256 of the entry's bytes.
    pub sha256: String,
    pub content_type: String,
}

/// `session.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionDocument {
    /// As `GET /api/sessions/{id}` shows it (for people and other tools; import ignores it).
    pub session: Value,
    /// The stored row, field for field.
    pub record: SessionRecord,
    pub files: Vec<FileRow>,
    pub jobs: Vec<JobRow>,
}

/// A stored file row. Where its bytes were kept is not exported (import decides); whether they
/// were in the database row is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileRow {
    pub id: String,
    pub name: String,
    pub step: Option<String>,
    pub property: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: i64,
    /// The bytes were kept in the database row.
    pub inline: bool,
}

impl From<&FileRecord> for FileRow {
    fn from(f: &FileRecord) -> Self {
        FileRow {
            id: f.id.clone(),
            name: f.name.clone(),
            step: f.step.clone(),
            property: f.property.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            sha256: f.sha256.clone(),
            created_at: f.created_at,
            inline: f.object_key == idv_store::INLINE_KEY,
        }
    }
}

/// A background job of the session. A lease held at export time is not carried over.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRow {
    pub id: String,
    pub step: String,
    pub action: String,
    pub(crate) run_at: i64,
    pub attempts: i64,
    pub(crate) last_error: Option<String>,
    pub created_at: i64,
}

impl From<&JobRecord> for JobRow {
    fn from(j: &JobRecord) -> Self {
        JobRow {
            id: j.id.clone(),
            step: j.step.clone(),
            action: j.action.clone(),
            run_at: j.run_at,
            attempts: j.attempts,
            last_error: j.last_error.clone(),
            created_at: j.created_at,
        }
    }
}

impl JobRow {
    pub(crate) fn into_record(self, session_id: &str) -> JobRecord {
        JobRecord {
            id: self.id,
            session_id: session_id.to_owned(),
            step: self.step,
            action: self.action,
            run_at: self.run_at,
            attempts: self.attempts,
            locked_until: None,
            last_error: self.last_error,
            created_at: self.created_at,
        }
    }
}

/// The archive path of a session file: `files/<fileId>/<name>`, the name reduced to
/// `[A-Za-z0-9._ -]` (others become `_`), at most 100 bytes, never `.` or `..`. Import
/// computes it again from the file row and accepts only that path.
pub(crate) fn file_path(file_id: &str, name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    safe = safe.trim().to_owned();
    if safe.chars().all(|c| c == '.') {
        safe = "file".to_owned();
    }
    format!("files/{file_id}/{safe}")
}

/// The name of the archive of one session.
pub fn archive_name(session_id: &str) -> String {
    format!("session-{session_id}.zip")
}

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn file_paths_are_safe() {
        assert_eq!(file_path("a1", "front.jpg"), "files/a1/front.jpg");
        assert_eq!(
            file_path("a1", "../../etc/passwd"),
            "files/a1/.._.._etc_passwd"
        );
        assert_eq!(file_path("a1", ".."), "files/a1/file");
        assert_eq!(file_path("a1", ""), "files/a1/file");
        assert_eq!(file_path("a1", "фото 1.png"), "files/a1/____ 1.png");
        assert_eq!(file_path("a1", "a\\b\0c"), "files/a1/a_b_c");
        assert_eq!(
            file_path("a1", &"x".repeat(300)).len(),
            "files/a1/".len() + 100
        );
    }
}
