//! File records of a session (the bytes live in blob storage).

use crate::Db;
use crate::PgStore;
use crate::Pools;
use crate::convert::DbRow;
use crate::convert::{backend, col, map_rows, unique_or_backend};
use async_trait::async_trait;
use idv_store::FileStore;
use idv_store::{FileId, SessionId};
use idv_store::{FileRecord, StoreResult};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

/// The insert of [`create`], bound and ready to run on the pool or in a transaction (see
/// `exchange::session_import`).
pub(crate) fn insert_query(f: &FileRecord) -> Query<'_, Postgres, PgArguments> {
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
         created_at FROM files WHERE session_id = $1 ORDER BY created_at, seq",
    )
    .bind(session_id)
    .fetch_all(db.read())
    .await
    .map_err(backend)?;
    map_rows(rows, from_row)
}

pub(crate) async fn create(db: &Db, f: &FileRecord) -> StoreResult<()> {
    insert_query(f)
        .execute(db.write())
        .await
        .map_err(unique_or_backend(|| format!("file {}", f.id)))?;
    Ok(())
}

pub(crate) async fn get(
    db: &Db,
    session_id: &str,
    file_id: &str,
) -> StoreResult<Option<FileRecord>> {
    sqlx::query(idv_store_sql::files::GET)
        .bind(session_id)
        .bind(file_id)
        .fetch_optional(db.read())
        .await
        .map_err(backend)?
        .as_ref()
        .map(from_row)
        .transpose()
}

#[async_trait]
impl FileStore for PgStore {
    async fn file_create(&self, file: &FileRecord) -> StoreResult<()> {
        crate::files::create(&self.pool, file).await
    }

    async fn file_list(&self, session_id: SessionId<'_>) -> StoreResult<Vec<FileRecord>> {
        crate::files::list(&self.pool, session_id.as_str()).await
    }

    async fn file_get(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<FileRecord>> {
        crate::files::get(&self.pool, session_id.as_str(), file_id.as_str()).await
    }

    async fn file_content(
        &self,
        session_id: SessionId<'_>,
        file_id: FileId<'_>,
    ) -> StoreResult<Option<Vec<u8>>> {
        crate::files::content(&self.pool, session_id.as_str(), file_id.as_str()).await
    }
}

// The functions this module shares with the other adapter, word for word.
idv_store_sql::files_fns!();
