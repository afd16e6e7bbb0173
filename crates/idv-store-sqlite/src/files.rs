//! File records of a session (the bytes live in blob storage).

use crate::Db;
use crate::SqliteStore;
use crate::convert::DbRow;
use crate::convert::{backend, col};
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

/// Inserts a file record on the writer's connection.
pub(crate) fn insert(conn: &rusqlite::Connection, f: &FileRecord) -> StoreResult<()> {
    crate::writer::exec(
        conn,
        idv_store_sql::files::INSERT_QUERY,
        &[
            &f.id,
            &f.session_id,
            &f.name,
            &f.step,
            &f.property,
            &f.content_type,
            &f.size,
            &f.sha256,
            &f.object_key,
            &f.created_at,
            &f.inline.as_deref(),
        ],
    )
    .map_err(|e| crate::writer::error(e, || format!("file {}", f.id)))?;
    Ok(())
}

pub(crate) async fn create(db: &Db, f: &FileRecord) -> StoreResult<()> {
    let f = f.clone();
    db.writer.run(move |conn| insert(conn, &f)).await
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn file_create(&self, file: &FileRecord) -> StoreResult<()> {
        crate::files::create(&self.db, file).await
    }

    async fn file_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<FileRecord>> {
        self.db.inline.files(session_id.as_str())
    }

    async fn file_get(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<FileRecord>> {
        self.db.inline.file(session_id.as_str(), file_id.as_str())
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
        self.db.inline.session_with_files(id.as_str())
    }

    async fn session_with_files_text(
        &self,
        id: SessionId<'_>,
    ) -> StoreResult<
        Option<(
            SessionRecord,
            Option<idv_store::SessionTexts>,
            Vec<FileRecord>,
        )>,
    > {
        Ok(self
            .db
            .inline
            .session_with_files_text(id.as_str())?
            .map(|((session, texts), files)| (session, Some(texts), files)))
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::files_fns!();
