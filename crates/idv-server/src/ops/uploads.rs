//! File uploads to a step, all or nothing. Each file's bytes are streamed to storage as they
//! arrive ([`Staged::put`]), never held whole; the rows are written only once the whole request
//! has been read ([`Staged::commit`]): every file row and the session's binary properties in one
//! store transaction. A request that fails part-way writes no row, and the bytes of the files
//! it had already stored are removed before the error is answered ([`Staged::discard`]).
//!
//! A crash between the bytes and the transaction leaves bytes without rows, never rows without
//! bytes. Such bytes are not referenced by anything; the `cleanSessions` sweep
//! ([`crate::ops::deletion::sweep_orphans`]) removes them once their session is deleted.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_store::SessionId;
use idv_store::blobs::{BlobError, Blobs};
use idv_store::{FileRecord, SessionRecord};
use serde_json::Value;

/// One file to store for a step.
pub struct Upload<S> {
    pub name: String,
    pub content_type: String,
    pub property: Option<String>,
    pub body: S,
}

/// Files whose bytes are stored but whose rows are not written yet. Until [`Staged::commit`]
/// succeeds the bytes belong to no one: [`Staged::discard`] removes them, and so does dropping
/// the value (a request cancelled part-way), from a background task.
pub(crate) struct Staged {
    blobs: Blobs,
    clock: std::sync::Arc<dyn idv_core::time::Clock>,
    files: Vec<FileRecord>,
}

impl Staged {
    pub fn new(state: &AppState) -> Self {
        Self {
            blobs: state.blobs.clone(),
            clock: state.clock.clone(),
            files: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Streams one upload into storage, at most `limit` bytes, and stages its row. On failure
    /// nothing of this upload is left in storage (the files staged before it stay staged).
    pub async fn put<S, E>(
        &mut self,
        session: &SessionRecord,
        step_id: &str,
        upload: Upload<S>,
        limit: u64,
    ) -> Result<(), BlobError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let file_id = idv_core::ids::new_id();
        let key = crate::flow::object_key(&session.id, &file_id);
        let stored = self.blobs.put_stream(&key, upload.body, limit).await?;
        self.files.push(FileRecord {
            id: file_id,
            session_id: session.id.clone(),
            name: super::sessions::sanitize_file_name(&upload.name),
            step: Some(step_id.to_string()),
            property: upload.property,
            content_type: upload.content_type,
            size: stored.size as i64,
            sha256: stored.sha256,
            object_key: key,
            created_at: self.clock.now_ms(),
            inline: None,
        });
        Ok(())
    }

    /// Removes the bytes of every staged file.
    pub(crate) async fn discard(mut self) {
        for f in std::mem::take(&mut self.files) {
            if let Err(e) = self.blobs.delete(&f.object_key).await {
                tracing::warn!(key = %f.object_key, "cannot remove the bytes of a refused upload: {e}");
            }
        }
    }

    /// In one store transaction: writes every staged file's row, points the binary properties
    /// named by the files at them and touches the session, retrying on a concurrent change
    /// (uploads commute with other changes). On failure nothing is written and the bytes are
    /// removed.
    pub async fn commit(mut self, state: &AppState, id: &str) -> ApiResult<Vec<FileRecord>> {
        match link(state, id, &self.files).await {
            Ok(()) => Ok(std::mem::take(&mut self.files)),
            Err(e) => {
                self.discard().await;
                Err(e)
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.files.is_empty() {
            return;
        }
        let keys: Vec<String> = self.files.drain(..).map(|f| f.object_key).collect();
        let blobs = self.blobs.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for key in keys {
                    let _ = blobs.delete(&key).await;
                }
            });
        }
    }
}

async fn link(state: &AppState, id: &str, files: &[FileRecord]) -> ApiResult<()> {
    for _ in 0..5 {
        let Some(mut s) = state.store.session_get(SessionId::new(id)).await? else {
            return Err(ApiError::new(
                ErrorCode::SessionNotFound,
                format!("no session with id {id}"),
            ));
        };
        let mut props = s.properties.as_object().cloned().unwrap_or_default();
        for f in files {
            if let Some(p) = &f.property {
                props.insert(p.clone(), Value::String(f.id.clone()));
            }
        }
        s.properties = Value::Object(props);
        s.updated_at = state.clock.now_ms();
        s.revision += 1;
        if state
            .store
            .session_advance(&s, files, &[], None, &[])
            .await?
        {
            return Ok(());
        }
    }
    Err(ApiError::new(
        ErrorCode::SessionConflict,
        format!("session {id} kept changing; retry the upload"),
    ))
}
