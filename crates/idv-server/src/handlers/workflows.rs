//! `/api/workflows` and `/api/translations`.

use super::Caller;
use crate::api::workflows::{
    Translation, TranslationsApplied, Workflow, WorkflowApplied, WorkflowDeleted,
};
use crate::auth::Reach;
use crate::body::DocumentBody;
use crate::error::{ApiError, ApiResult};
use crate::ops::workflows::{self, Applied, Expect, WorkflowSummary};
use crate::params::Query;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_store::WorkflowId;
use serde::Deserialize;

/// True when the caller may read workflow `id`: a device token only those it may run, every
/// other caller (that passed the guard) any.
fn may_read(caller: &Caller, id: &str) -> bool {
    match caller.device_workflows() {
        Some(ids) if !ids.is_empty() => ids.iter().any(|w| w == id),
        _ => true,
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WorkflowSummary>>> {
    Ok(Json(
        state
            .store
            .workflow_list()
            .await?
            .iter()
            .filter(|w| may_read(&caller, &w.id))
            .map(WorkflowSummary::from)
            .collect(),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    DocumentBody(text): DocumentBody,
) -> ApiResult<Json<WorkflowApplied>> {
    match workflows::apply(&state, &text, Some(&caller.id), Expect::Workflow).await? {
        Applied::Workflow {
            summary,
            revision,
            changed,
        } => Ok(Json(WorkflowApplied {
            summary,
            revision,
            changed,
        })),
        Applied::Translations { .. } => Err(ApiError::new(
            ErrorCode::Internal,
            "a localization file was loaded where a workflow was expected",
        )),
    }
}

/// `POST /api/workflows/reload`: the workflows and localization folders, now.
pub async fn reload(State(state): State<AppState>) -> Json<workflows::ReloadSummary> {
    Json(workflows::reload(&state).await)
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Workflow>> {
    // A workflow a device token may not run is reported as missing, so ids do not leak.
    let r = state
        .store
        .workflow_get(WorkflowId::new(&id))
        .await?
        .filter(|r| may_read(&caller, &r.id))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::WorkflowNotFound,
                format!("no workflow with id {id}"),
            )
        })?;
    Ok(Json(Workflow {
        summary: WorkflowSummary::from(&r),
        revision: r.revision,
        created_at: idv_core::time::iso(r.created_at),
        definition: r.definition,
    }))
}

/// `GET /api/workflows/{id}/revisions/{revision}`: one earlier (or the current) revision of a
/// workflow that is not deleted, as `GET /api/workflows/{id}` answers the current one.
pub async fn revision(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, revision)): Path<(String, String)>,
) -> ApiResult<Json<Workflow>> {
    let missing = || {
        ApiError::new(
            ErrorCode::WorkflowNotFound,
            format!("no revision {revision} of a workflow with id {id}"),
        )
    };
    let number: i64 = revision.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("revision must be a whole number from 1, not {revision:?}"),
        )
    })?;
    // Only of a workflow the caller may read now (a deleted one answers 404, as its page does).
    state
        .store
        .workflow_get(WorkflowId::new(&id))
        .await?
        .filter(|r| may_read(&caller, &r.id))
        .ok_or_else(missing)?;
    let r = state
        .store
        .workflow_get_revision(WorkflowId::new(&id), number)
        .await?
        .ok_or_else(missing)?;
    Ok(Json(Workflow {
        summary: WorkflowSummary::from(&r),
        revision: r.revision,
        created_at: idv_core::time::iso(r.created_at),
        definition: r.definition,
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowDeleted>> {
    let reach = caller
        .reach("workflow_all", "workflow", Op::Delete)
        .unwrap_or(Reach::Own);
    let r = state
        .store
        .workflow_get(WorkflowId::new(&id))
        .await?
        .filter(|r| caller.may_touch(reach, r.owner_id.as_deref()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::WorkflowNotFound,
                format!("no workflow with id {id}"),
            )
        })?;
    state.store.workflow_delete(WorkflowId::new(&r.id)).await?;
    state.changed(crate::cluster::Change::Workflow(&r.id)).await;
    Ok(Json(WorkflowDeleted {
        id: r.id,
        deleted: true,
    }))
}

#[derive(Deserialize)]
pub(crate) struct TranslationQuery {
    locale: Option<String>,
}

pub(crate) async fn list_translations(
    State(state): State<AppState>,
    Query(q): Query<TranslationQuery>,
) -> ApiResult<Json<Vec<Translation>>> {
    let codes = match q.locale {
        Some(l) => vec![l.to_ascii_lowercase()],
        None => state.store.translation_codes().await?,
    };
    let rows = state.store.translations_for(&codes).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| Translation {
                key: r.key,
                code: r.code,
                value: r.value,
            })
            .collect(),
    ))
}

pub(crate) async fn put_translations(
    State(state): State<AppState>,
    caller: Caller,
    DocumentBody(text): DocumentBody,
) -> ApiResult<Json<TranslationsApplied>> {
    match workflows::apply(&state, &text, Some(&caller.id), Expect::Translations).await? {
        Applied::Translations { entries, codes } => Ok(Json(TranslationsApplied {
            entries,
            locales: codes,
        })),
        Applied::Workflow { .. } => Err(ApiError::new(
            ErrorCode::Internal,
            "a workflow was loaded where a localization file was expected",
        )),
    }
}
