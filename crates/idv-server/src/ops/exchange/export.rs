//! Writing a session's archive. The zip is written on a blocking thread straight into the
//! caller's file (the HTTP handler gives an unnamed temporary file and then streams it out; the
//! CLI gives the destination file), and file bytes are copied from storage chunk by chunk, so
//! no file is held whole in memory.

use super::{
    FORMAT, FileRow, JobRow, MANIFEST, Manifest, ManifestEntry, ManifestWorkflow, SESSION,
    SessionDocument, VERSION, WORKFLOW, file_path,
};
use crate::error::{ApiError, ApiResult};
use crate::ops::sessions;
use crate::state::AppState;
use futures::StreamExt;
use idv_core::ErrorCode;
use idv_store::{FileRecord, SessionRecord};
use idv_store::{SessionId, WorkflowId};
use sha2::{Digest, Sha256};
use std::io::{Seek, Write};
use tokio::runtime::Handle;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// What was written.
#[derive(Debug, Clone)]
pub struct Exported {
    pub session_id: String,
    pub files: usize,
    /// The bytes of the session files (not the archive).
    pub bytes: u64,
}

fn zip_error(e: impl std::fmt::Display) -> ApiError {
    ApiError(idv_core::Error::internal(format!(
        "cannot write the export archive: {e}"
    )))
}

/// Writes the archive of `session` (with its `files`, as read together) into `out` and returns
/// `out` positioned at its end.
pub async fn export_session<W>(
    state: &AppState,
    session: &SessionRecord,
    files: &[FileRecord],
    out: W,
) -> ApiResult<(W, Exported)>
where
    W: Write + Seek + Send + 'static,
{
    let workflow = state
        .store
        .workflow_get_revision(
            WorkflowId::new(&session.workflow_id),
            session.workflow_revision,
        )
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::WorkflowNotFound,
                format!(
                    "session {} runs on workflow {} revision {}, which is not stored",
                    session.id, session.workflow_id, session.workflow_revision
                ),
            )
        })?;
    let view =
        serde_json::to_value(sessions::view(state, session, files).await?).map_err(zip_error)?;
    let jobs = state.store.job_list(SessionId::new(&session.id)).await?;
    let document = SessionDocument {
        session: view,
        record: session.clone(),
        files: files.iter().map(FileRow::from).collect(),
        jobs: jobs.iter().map(JobRow::from).collect(),
    };
    let session_json = serde_json::to_vec_pretty(&document).map_err(zip_error)?;
    let workflow_json = serde_json::to_vec_pretty(&workflow).map_err(zip_error)?;
    let manifest_head = Manifest {
        format: FORMAT.to_owned(),
        version: VERSION,
        session_id: session.id.clone(),
        exported_at: idv_core::time::iso(state.clock.now_ms()),
        workflow: ManifestWorkflow {
            id: workflow.id.clone(),
            revision: workflow.revision,
        },
        files: Vec::new(),
    };
    let state = state.clone();
    let files = files.to_vec();
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        write_zip(
            &state,
            &handle,
            out,
            manifest_head,
            session_json,
            workflow_json,
            &files,
        )
    })
    .await
    .map_err(zip_error)?
}

/// Writes the archive of the session `id` into a new unnamed temporary file (gone once closed)
/// and returns it rewound, with its length.
pub async fn export_to_file(
    state: &AppState,
    session: &SessionRecord,
    files: &[FileRecord],
) -> ApiResult<(std::fs::File, u64)> {
    let tmp = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(zip_error)?
        .map_err(|e| zip_error(format!("cannot create a temporary file: {e}")))?;
    let (mut file, _) = export_session(state, session, files, tmp).await?;
    let len = file.stream_position().map_err(zip_error)?;
    file.rewind().map_err(zip_error)?;
    Ok((file, len))
}

/// JSON documents compress well; session files (images, mostly) are stored as they are.
fn options(method: CompressionMethod, size: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .large_file(size >= u64::from(u32::MAX))
        .unix_permissions(0o644)
}

fn write_zip<W: Write + Seek>(
    state: &AppState,
    handle: &Handle,
    out: W,
    mut manifest: Manifest,
    session_json: Vec<u8>,
    workflow_json: Vec<u8>,
    files: &[FileRecord],
) -> ApiResult<(W, Exported)> {
    let mut zip = ZipWriter::new(out);
    for (path, bytes) in [(SESSION, &session_json), (WORKFLOW, &workflow_json)] {
        zip.start_file(
            path,
            options(CompressionMethod::Deflated, bytes.len() as u64),
        )
        .map_err(zip_error)?;
        zip.write_all(bytes).map_err(zip_error)?;
        manifest.files.push(ManifestEntry {
            path: path.to_owned(),
            file_id: None,
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
            content_type: "application/json".to_owned(),
        });
    }
    let mut total = 0u64;
    for f in files {
        let path = file_path(&f.id, &f.name);
        let size = u64::try_from(f.size).unwrap_or(0);
        zip.start_file(path.as_str(), options(CompressionMethod::Stored, size))
            .map_err(zip_error)?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        if f.object_key == idv_store::INLINE_KEY {
            let bytes = handle.block_on(crate::flow::file_bytes(state, f))?;
            hasher.update(&bytes);
            zip.write_all(&bytes).map_err(zip_error)?;
            written = bytes.len() as u64;
        } else {
            let mut stream = handle.block_on(state.blobs.get(&f.object_key, None))?;
            while let Some(chunk) = handle.block_on(stream.next()) {
                let chunk = chunk?;
                hasher.update(&chunk);
                zip.write_all(&chunk).map_err(zip_error)?;
                written += chunk.len() as u64;
            }
        }
        let sha256 = hex::encode(hasher.finalize());
        // An archive is a promise that its bytes are the session's: stored bytes that no
        // longer match their record are reported rather than exported.
        if sha256 != f.sha256 || written != size {
            return Err(ApiError(idv_core::Error::internal(format!(
                "the stored bytes of file {} of session {} do not match its record \
                 ({written} bytes, SHA-256 {sha256}; recorded {size} bytes, {})",
                f.id, f.session_id, f.sha256
            ))));
        }
        total += written;
        manifest.files.push(ManifestEntry {
            path,
            file_id: Some(f.id.clone()),
            size: written,
            sha256,
            content_type: f.content_type.clone(),
        });
    }
    let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(zip_error)?;
    zip.start_file(
        MANIFEST,
        options(CompressionMethod::Deflated, manifest_json.len() as u64),
    )
    .map_err(zip_error)?;
    zip.write_all(&manifest_json).map_err(zip_error)?;
    let mut out = zip.finish().map_err(zip_error)?;
    out.flush().map_err(zip_error)?;
    Ok((
        out,
        Exported {
            session_id: manifest.session_id,
            files: files.len(),
            bytes: total,
        },
    ))
}
