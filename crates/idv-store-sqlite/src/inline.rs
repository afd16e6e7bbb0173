//! Hot-path reads (a session, its files) run inline on the calling task through plain SQLite
//! connections. A point read on an indexed key costs a few microseconds, less than the two
//! thread switches a pooled sqlx connection needs to hand a query to its worker thread and back,
//! which dominated session reads under load. Only short, indexed reads belong here; anything
//! that can take long goes through the sqlx pools.

use idv_store::{FileRecord, SessionRecord, SessionTexts, StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A session's record and its documents as text ([`session_row_text`]).
pub(crate) type SessionAndTexts = (SessionRecord, SessionTexts);

/// Idle read-only connections, opened on demand.
pub(crate) struct InlineReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// How many idle connections are kept; more may be open briefly under load.
const KEEP_IDLE: usize = 8;
/// A reader waits at most this long for a lock (WAL readers rarely wait at all).
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(1000);

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::backend_source(e)
}

/// Column `i` (JSON text) parsed straight from the row's bytes, without a copy into a `String`.
fn json(r: &Row<'_>, i: usize, column: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_slice(r.get_ref(i)?.as_bytes()?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("column {column}: {e}").into(),
        )
    })
}

/// Column `i` (JSON text) as it is stored: checked to be JSON, not parsed into a tree.
fn json_text(
    r: &Row<'_>,
    i: usize,
    column: &str,
) -> rusqlite::Result<Box<serde_json::value::RawValue>> {
    serde_json::from_slice::<&serde_json::value::RawValue>(r.get_ref(i)?.as_bytes()?)
        .map(|raw| raw.to_owned())
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                format!("column {column}: {e}").into(),
            )
        })
}

// The statements as constant texts: the statement cache is looked up by text on every read,
// and a text formatted per call costs an allocation and a copy each time.
macro_rules! session_columns {
    () => {
        "id, workflow_id, workflow_revision, workflow_name, workflow_version, status, \
         locale, metadata, properties, current_step, steps, ended, owner_id, created_at, updated_at, \
         revision, engine, expires_at, history, legal_hold"
    };
}
macro_rules! file_columns {
    () => {
        "id, session_id, name, step, property, content_type, size, sha256, object_key, created_at"
    };
}
const SESSION_BY_ID: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = ?1"
);
const FILES_OF_SESSION: &str = concat!(
    "SELECT ",
    file_columns!(),
    " FROM files WHERE session_id = ?1 ORDER BY created_at, rowid"
);
const FILE_BY_ID: &str = concat!(
    "SELECT ",
    file_columns!(),
    " FROM files WHERE id = ?2 AND session_id = ?1"
);

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    let docs = [
        json(r, 7, "metadata")?,
        json(r, 8, "properties")?,
        json(r, 10, "steps")?,
        json(r, 18, "history")?,
    ];
    session_record(r, docs)
}

/// [`session_row`] with the four documents as text (`Value::Null` in the record).
fn session_row_text(r: &Row<'_>) -> rusqlite::Result<(SessionRecord, SessionTexts)> {
    let texts = SessionTexts {
        metadata: json_text(r, 7, "metadata")?,
        properties: json_text(r, 8, "properties")?,
        steps: json_text(r, 10, "steps")?,
        history: json_text(r, 18, "history")?,
    };
    Ok((session_record(r, Default::default())?, texts))
}

/// The record of a row of [`SESSION_BY_ID`], with its metadata, properties, steps and history
/// given.
fn session_record(
    r: &Row<'_>,
    [metadata, properties, steps, history]: [serde_json::Value; 4],
) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: r.get(0)?,
        workflow_id: r.get(1)?,
        workflow_revision: r.get(2)?,
        workflow_name: r.get(3)?,
        workflow_version: r.get(4)?,
        status: r.get(5)?,
        locale: r.get(6)?,
        metadata,
        properties,
        current_step: r.get(9)?,
        steps,
        ended: r.get(11)?,
        owner_id: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        revision: r.get(15)?,
        engine: json(r, 16, "engine")?,
        expires_at: r.get(17)?,
        history,
        legal_hold: r.get(19)?,
    })
}

fn file_row(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        id: r.get(0)?,
        session_id: r.get(1)?,
        name: r.get(2)?,
        step: r.get(3)?,
        property: r.get(4)?,
        content_type: r.get(5)?,
        size: r.get(6)?,
        sha256: r.get(7)?,
        object_key: r.get(8)?,
        created_at: r.get(9)?,
        inline: None,
    })
}

impl InlineReaders {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(READ_BUSY_TIMEOUT)?;
        Ok(conn)
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let pooled = self
            .idle
            .lock()
            .map_err(|_| StoreError::backend("reader pool poisoned"))?
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open().map_err(backend)?,
        };
        let result = f(&conn).map_err(backend);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < KEEP_IDLE
        {
            idle.push(conn);
        }
        result
    }

    pub(crate) fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        self.with(|c| {
            c.prepare_cached(SESSION_BY_ID)?
                .query_row([id], session_row)
                .optional()
        })
    }

    /// The session and its files in one read transaction, so both come from one snapshot.
    pub(crate) fn session_with_files(
        &self,
        id: &str,
    ) -> StoreResult<Option<(SessionRecord, Vec<FileRecord>)>> {
        self.with_files(id, session_row)
    }

    /// [`Self::session_with_files`] with the session's documents as stored text.
    pub(crate) fn session_with_files_text(
        &self,
        id: &str,
    ) -> StoreResult<Option<(SessionAndTexts, Vec<FileRecord>)>> {
        self.with_files(id, session_row_text)
    }

    fn with_files<T>(
        &self,
        id: &str,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<(T, Vec<FileRecord>)>> {
        self.with(|c| {
            c.prepare_cached("BEGIN")?.execute([])?;
            let result = (|| {
                let Some(session) = c
                    .prepare_cached(SESSION_BY_ID)?
                    .query_row([id], row)
                    .optional()?
                else {
                    return Ok(None);
                };
                let mut stmt = c.prepare_cached(FILES_OF_SESSION)?;
                let files = stmt
                    .query_map([id], file_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Some((session, files)))
            })();
            c.prepare_cached("COMMIT")?.execute([])?;
            result
        })
    }

    pub(crate) fn files(&self, session_id: &str) -> StoreResult<Vec<FileRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(FILES_OF_SESSION)?;
            let rows = stmt.query_map([session_id], file_row)?;
            rows.collect()
        })
    }

    pub(crate) fn file(&self, session_id: &str, file_id: &str) -> StoreResult<Option<FileRecord>> {
        self.with(|c| {
            c.prepare_cached(FILE_BY_ID)?
                .query_row([session_id, file_id], file_row)
                .optional()
        })
    }
}
