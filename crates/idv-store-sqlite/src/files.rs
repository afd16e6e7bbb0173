//! File records of a session (the bytes live in blob storage).

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::{FileId, SessionId};
use idv_store::{FileRecord, StoreResult};
use idv_store::{FileStore, SessionRecord};
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

/// The insert of [`create`], bound and ready to run on the writer or in a transaction (see
/// `engine::advance`).
pub(crate) fn insert_query(f: &FileRecord) -> Query<'_, Sqlite, SqliteArguments<'_>> {
    sqlx::query(idv_store_sql::files::INSERT_QUERY)
        .bind(&f.id)
        .bind(&f.session_id)
        .bind(&f.name)
        .bind(&f.step)
        .bind(&f.property)
        .bind(&f.content_type)
        .bind(f.size)
        .bind(&f.sha256)
        .bind(&f.object_key)
        .bind(f.created_at)
        .bind(f.inline.as_deref())
}

pub(crate) async fn list(db: &Db, session_id: &str) -> StoreResult<Vec<FileRecord>> {
    let rows = sqlx::query(
        "SELECT id, session_id, name, step, property, content_type, size, sha256, object_key, \
         created_at FROM files WHERE session_id = $1 ORDER BY created_at, rowid",
    )
    .bind(session_id)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn file_create(&self, file: &FileRecord) -> StoreResult<()> {
        crate::files::create(&self.db, file).await
    }

    async fn file_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<FileRecord>> {
        let session_id = session_id.as_str();
        match &self.db.inline {
            Some(r) => r.files(session_id),
            None => crate::files::list(&self.db, session_id).await,
        }
    }

    async fn file_get(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<FileRecord>> {
        let session_id = session_id.as_str();
        let file_id = file_id.as_str();
        match &self.db.inline {
            Some(r) => r.file(session_id, file_id),
            None => crate::files::get(&self.db, session_id, file_id).await,
        }
    }

    async fn file_content(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<Vec<u8>>> {
        crate::files::content(&self.db, session_id.as_str(), file_id.as_str()).await
    }

    async fn session_with_files(
        &self,
        id: SessionId<'_>,
    ) -> StoreResult<Option<(SessionRecord, Vec<FileRecord>)>> {
        let id = id.as_str();
        match &self.db.inline {
            Some(r) => r.session_with_files(id),
            None => {
                let Some(session) = crate::sessions::get(&self.db, id).await? else {
                    return Ok(None);
                };
                Ok(Some((session, crate::files::list(&self.db, id).await?)))
            }
        }
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::files_fns!();
