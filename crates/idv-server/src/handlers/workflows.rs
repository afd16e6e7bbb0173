//! `/api/workflows` and `/api/translations`.

use super::Caller;
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
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<WorkflowSummary>>> {
    Ok(Json(
        state
            .store
            .workflow_list()
            .await?
            .iter()
            .map(WorkflowSummary::from)
            .collect(),
    ))
}

fn applied_json(a: &Applied) -> Value {
    match a {
        Applied::Workflow {
            summary,
            revision,
            changed,
        } => {
            let mut v = json!(summary);
            v["revision"] = json!(revision);
            v["changed"] = json!(changed);
            v
        }
        Applied::Translations { entries, codes } => json!({"entries": entries, "locales": codes}),
    }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    DocumentBody(text): DocumentBody,
) -> ApiResult<Json<Value>> {
    let applied = workflows::apply(&state, &text, Some(&caller.id), Expect::Workflow).await?;
    Ok(Json(applied_json(&applied)))
}

/// `POST /api/workflows/reload`: the workflows and localization folders, now.
pub async fn reload(State(state): State<AppState>) -> Json<workflows::ReloadSummary> {
    Json(workflows::reload(&state).await)
}

pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let r = state.store.workflow_get(&id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::WorkflowNotFound,
            format!("no workflow with id {id}"),
        )
    })?;
    let mut v = json!(WorkflowSummary::from(&r));
    v["revision"] = json!(r.revision);
    v["createdAt"] = json!(idv_core::time::iso(r.created_at));
    v["definition"] = r.definition;
    Ok(Json(v))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let reach = caller
        .reach("workflow_all", "workflow", Op::Delete)
        .unwrap_or(Reach::Own);
    let r = state
        .store
        .workflow_get(&id)
        .await?
        .filter(|r| caller.may_touch(reach, r.owner_id.as_deref()))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::WorkflowNotFound,
                format!("no workflow with id {id}"),
            )
        })?;
    state.store.workflow_delete(&r.id).await?;
    state.workflows.forget_current(&r.id);
    Ok(Json(json!({"id": r.id, "deleted": true})))
}

#[derive(Deserialize)]
pub struct TranslationQuery {
    locale: Option<String>,
}

pub async fn list_translations(
    State(state): State<AppState>,
    Query(q): Query<TranslationQuery>,
) -> ApiResult<Json<Value>> {
    let codes = match q.locale {
        Some(l) => vec![l.to_ascii_lowercase()],
        None => state.store.translation_codes().await?,
    };
    let rows = state.store.translations_for(&codes).await?;
    Ok(Json(json!(
        rows.iter()
            .map(|r| json!({"key": r.key, "code": r.code, "value": r.value}))
            .collect::<Vec<_>>()
    )))
}

pub async fn put_translations(
    State(state): State<AppState>,
    caller: Caller,
    DocumentBody(text): DocumentBody,
) -> ApiResult<Json<Value>> {
    let applied = workflows::apply(&state, &text, Some(&caller.id), Expect::Translations).await?;
    Ok(Json(applied_json(&applied)))
}
