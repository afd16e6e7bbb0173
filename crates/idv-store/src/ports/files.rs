//! The `FileStore` port: the file records of sessions (rows are written only after the bytes
//! are stored).

use crate::ports::sessions::SessionStore;
use crate::{FileId, FileRecord, SessionId, SessionRecord, SessionTexts, StoreResult};
use async_trait::async_trait;

/// The file records of sessions (rows are written only after the bytes are stored).
#[async_trait]
pub trait FileStore: SessionStore {
    async fn file_create(&self, file: &FileRecord) -> StoreResult<()>;

    /// Files of a session, oldest first.
    async fn file_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<FileRecord>>;

    async fn file_get(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<FileRecord>>;

    /// The bytes of a file kept in its database row (`None` when there is no such file or its
    /// bytes are in file storage).
    async fn file_content(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<Vec<u8>>>;

    /// A session and its files (oldest first) in one read: the hot path of
    /// `GET /api/sessions/{id}`. Adapters may answer it with a single statement.
    async fn session_with_files(
        &self,
        id: SessionId<'_>,
    ) -> StoreResult<Option<(SessionRecord, Vec<FileRecord>)>> {
        let Some(session) = self.session_get(id).await? else {
            return Ok(None);
        };
        let files = self.file_list(id).await?;
        Ok(Some((session, files)))
    }

    /// [`FileStore::session_with_files`] for an answer that passes the session's documents on.
    /// A store that keeps them as text may hand over `metadata`, `properties`, `steps` and
    /// `history` as that text ([`SessionTexts`], those four then `Value::Null` in the record)
    /// instead of parsing them; `None` (the default) means they are in the record.
    async fn session_with_files_text(
        &self,
        id: SessionId<'_>,
    ) -> StoreResult<Option<(SessionRecord, Option<SessionTexts>, Vec<FileRecord>)>> {
        Ok(self
            .session_with_files(id)
            .await?
            .map(|(session, files)| (session, None, files)))
    }
}
