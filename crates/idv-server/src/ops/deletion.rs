//! Deleting sessions: on request (`DELETE /api/sessions/{id}`), by retention (the
//! `cleanSessions` job deletes sessions not updated for `keepFor`), and the sweep of orphaned
//! bytes.
//!
//! Order of work: one store transaction removes the session row, its file rows and its jobs
//! and writes a tombstone; only then are the file bytes removed from storage. A crash between
//! the two leaves bytes without rows, never rows without bytes; [`sweep_orphans`] finds such
//! bytes later (objects under `sessions/{id}/` whose session has no row) and removes them once
//! they are older than a grace period, so an upload in flight (its bytes are written before its
//! row) is never taken for an orphan.
//!
//! A session under legal hold is deleted by neither path. A deleted id answers 410 Gone with
//! its tombstone wherever the session is addressed.

use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::ops::review::principal_kind;
use crate::state::AppState;
use futures::StreamExt;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_store::SessionId;
use idv_store::{Deleter, FileRecord, SessionDeletion, TombstoneRecord};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// How old an object without a session must be before the sweep removes it.
pub const ORPHAN_GRACE_MS: i64 = 60 * 60 * 1000;
/// Sessions retention deletes per store read.
pub(crate) const RETENTION_BATCH: i64 = 100;
/// Objects the sweep checks against the store at once.
const SWEEP_BATCH: usize = 500;
/// The longest deletion reason kept, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 500;
/// The folder of session files in blob storage.
pub(crate) const SESSIONS_PREFIX: &str = "sessions";

/// The tombstone as the API shows it (the `details` of a 410).
pub(crate) fn tombstone_view(t: &TombstoneRecord) -> Value {
    let tombstone = crate::api::sessions::Tombstone {
        id: &t.id,
        workflow_id: &t.workflow_id,
        status: t.status,
        deleted_at: idv_core::time::iso(t.deleted_at),
        deleted_by: crate::api::sessions::DeletedBy {
            name: &t.deleted_by.name,
            kind: &t.deleted_by.kind,
            id: t.deleted_by.id.as_deref(),
        },
        reason: t.reason.as_deref(),
    };
    serde_json::to_value(tombstone).unwrap_or(Value::Null)
}

fn deleted_error(t: &TombstoneRecord) -> ApiError {
    ApiError(
        idv_core::Error::new(
            ErrorCode::SessionDeleted,
            format!(
                "session {} was deleted at {}; its data is gone",
                t.id,
                idv_core::time::iso(t.deleted_at)
            ),
        )
        .with_details(tombstone_view(t)),
    )
}

/// The error for a session the caller cannot find: 410 `session_deleted` with the tombstone
/// when it was deleted and the caller could reach it, else 404 `session_not_found`. Only the
/// not-found path pays the tombstone read.
pub async fn missing(state: &AppState, by: &Principal, reach: Reach, id: &str) -> ApiError {
    let not_found = ApiError::new(
        ErrorCode::SessionNotFound,
        format!("no session with id {id}"),
    );
    if !idv_core::ids::is_id(id) {
        return not_found;
    }
    match state.store.tombstone_get(SessionId::new(id)).await {
        Ok(Some(t)) if by.may_touch(reach, t.owner_id.as_deref()) => deleted_error(&t),
        Ok(_) => not_found,
        Err(e) => e.into(),
    }
}

/// Who deleted: the caller.
pub fn deleter(by: &Principal) -> Deleter {
    Deleter {
        id: Some(by.id.clone()),
        name: by.name.clone(),
        kind: principal_kind(by).to_owned(),
    }
}

/// The retention job as a deleter.
pub(crate) fn retention_deleter() -> Deleter {
    Deleter {
        id: None,
        name: "retention".to_owned(),
        kind: "retention".to_owned(),
    }
}

/// `DELETE /api/sessions/{id}`: deletes a session the caller reaches with `session_all:delete`
/// (any) or `session:delete` (own). Deleting a deleted session succeeds again (the first
/// tombstone stays); a session under legal hold is refused with 409 `legal_hold`.
pub async fn delete(
    state: &AppState,
    by: &Principal,
    id: &str,
    reason: Option<&str>,
) -> ApiResult<TombstoneRecord> {
    let Some(reach) = by.reach("session_all", "session", Op::Delete) else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "deleting a session needs session:delete (own sessions) or session_all:delete",
        ));
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("`reason`: at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if !idv_core::ids::is_id(id) {
        return Err(missing(state, by, reach, id).await);
    }
    match state.store.session_get(SessionId::new(id)).await? {
        Some(s) if by.may_touch(reach, s.owner_id.as_deref()) => {}
        Some(_) => return Err(missing(state, by, reach, id).await),
        None => {
            return match state.store.tombstone_get(SessionId::new(id)).await? {
                Some(t) if by.may_touch(reach, t.owner_id.as_deref()) => Ok(t),
                _ => Err(missing(state, by, reach, id).await),
            };
        }
    }
    let now = state.clock.now_ms();
    let event = crate::events::deleted(id, now);
    let outcome = state
        .store
        .session_delete(
            SessionId::new(id),
            &deleter(by),
            now,
            reason,
            None,
            Some(&event),
        )
        .await?;
    if matches!(outcome, SessionDeletion::Deleted { .. }) {
        state.events_committed();
    }
    match outcome {
        SessionDeletion::Deleted { tombstone, files } => {
            tracing::info!(session = %id, by = %by.id, "session deleted");
            remove_bytes(state, id, &files).await;
            Ok(tombstone)
        }
        SessionDeletion::AlreadyDeleted(t) => Ok(t),
        SessionDeletion::LegalHold => Err(ApiError::new(
            ErrorCode::LegalHold,
            format!(
                "session {id} is under legal hold and cannot be deleted; lift the hold first \
                 (PATCH with {{\"legalHold\": false}}, which needs session_all_patch:write)"
            ),
        )),
        SessionDeletion::NotFound | SessionDeletion::Recent => {
            Err(missing(state, by, reach, id).await)
        }
    }
}

/// Removes the bytes of deleted file rows, then anything else left under the session's folder.
/// Failures are logged, not returned: the rows are gone already, and the sweep removes what
/// remains.
async fn remove_bytes(state: &AppState, session_id: &str, files: &[FileRecord]) {
    for f in files
        .iter()
        .filter(|f| f.object_key != idv_store::INLINE_KEY)
    {
        if let Err(e) = state.blobs.delete(&f.object_key).await {
            tracing::warn!(session = %session_id, key = %f.object_key, "cannot delete a deleted session's file: {e}");
        }
    }
    if let Err(e) = state
        .blobs
        .delete_prefix(&format!("{SESSIONS_PREFIX}/{session_id}"))
        .await
    {
        tracing::warn!(session = %session_id, "cannot clear a deleted session's folder: {e}");
    }
}

/// What one `cleanSessions` run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanReport {
    /// Sessions deleted by retention.
    pub deleted: usize,
    /// Orphaned objects removed.
    pub swept: usize,
}

/// The `cleanSessions` job: deletes sessions not updated for `keep_for_ms` (when given; none
/// are deleted without it), then sweeps orphaned bytes.
pub async fn clean_sessions(state: &AppState, keep_for_ms: Option<i64>) -> ApiResult<CleanReport> {
    let deleted = match keep_for_ms {
        Some(k) => delete_stale(state, k).await?,
        None => 0,
    };
    let swept = sweep_orphans(state, ORPHAN_GRACE_MS).await?;
    Ok(CleanReport { deleted, swept })
}

/// Deletes, in batches, every session not under legal hold whose last update is more than
/// `keep_for_ms` ago, leaving tombstones deleted by `retention`. A session updated or put on
/// hold after it was picked is skipped.
pub async fn delete_stale(state: &AppState, keep_for_ms: i64) -> ApiResult<usize> {
    let now = state.clock.now_ms();
    let cutoff = now.saturating_sub(keep_for_ms.max(0));
    let reason = format!(
        "retention: not updated for {}",
        crate::scheduler::Period(u64::try_from(keep_for_ms / 1000).unwrap_or(0))
    );
    let by = retention_deleter();
    let mut deleted = 0;
    loop {
        let ids = state.store.session_stale(cutoff, RETENTION_BATCH).await?;
        let mut progressed = false;
        for id in &ids {
            match state
                .store
                .session_delete(
                    SessionId::new(id),
                    &by,
                    now,
                    Some(&reason),
                    Some(cutoff),
                    Some(&crate::events::deleted(id, now)),
                )
                .await?
            {
                SessionDeletion::Deleted { files, .. } => {
                    remove_bytes(state, id, &files).await;
                    deleted += 1;
                    progressed = true;
                }
                // Each of these leaves the id out of the next selection.
                SessionDeletion::AlreadyDeleted(_)
                | SessionDeletion::NotFound
                | SessionDeletion::LegalHold
                | SessionDeletion::Recent => progressed = true,
            }
        }
        if (ids.len() as i64) < RETENTION_BATCH || !progressed {
            return Ok(deleted);
        }
    }
}

/// Removes objects under `sessions/` whose session has no row (deleted, or never committed)
/// and that were last written more than `grace_ms` ago by the server's clock. Returns how many.
pub async fn sweep_orphans(state: &AppState, grace_ms: i64) -> ApiResult<usize> {
    let cutoff = state.clock.now_ms().saturating_sub(grace_ms.max(0));
    let mut listing = state.blobs.list(SESSIONS_PREFIX)?;
    let mut batch: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut batched = 0;
    let mut orphans = Vec::new();
    while let Some(item) = listing.next().await {
        let object = match item {
            Ok(o) => o,
            // A folder removed while it is listed (a deletion running beside the sweep).
            Err(e) => {
                tracing::debug!("listing session files: {e}");
                continue;
            }
        };
        if object.modified_ms >= cutoff {
            continue;
        }
        let Some(session) = object
            .key
            .strip_prefix(SESSIONS_PREFIX)
            .and_then(|k| k.strip_prefix('/'))
            .and_then(|k| k.split('/').next())
            .filter(|s| idv_core::ids::is_id(s))
        else {
            continue;
        };
        batch
            .entry(session.to_owned())
            .or_default()
            .push(object.key.clone());
        batched += 1;
        if batched >= SWEEP_BATCH {
            orphans.extend(without_session(state, std::mem::take(&mut batch)).await?);
            batched = 0;
        }
    }
    orphans.extend(without_session(state, batch).await?);
    // Deleted after the listing ends, so the listing never walks folders being removed.
    let mut removed = 0;
    for key in orphans {
        match state.blobs.delete(&key).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(%key, "cannot remove an orphaned object: {e}"),
        }
    }
    if removed > 0 {
        tracing::info!(objects = removed, "orphaned session files removed");
    }
    Ok(removed)
}

/// The keys of `batch` (session id → its objects) whose session has no row.
async fn without_session(
    state: &AppState,
    batch: BTreeMap<String, Vec<String>>,
) -> ApiResult<Vec<String>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = batch.keys().cloned().collect();
    let existing: HashSet<String> = state
        .store
        .session_existing(&ids)
        .await?
        .into_iter()
        .collect();
    Ok(batch
        .into_iter()
        .filter(|(id, _)| !existing.contains(id))
        .flat_map(|(_, keys)| keys)
        .collect())
}
