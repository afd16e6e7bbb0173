//! Saved views (`/api/views/namespaces/{namespace}[/key/{key}]` and `idv view`): a view is a
//! session list definition `{id, title, description, workflows, columns, groupIds, userIds}`
//! that clients post as-is to `POST /api/sessions/search`.
//!
//! Columns are `{"type": "field", "name": "status"}` (a built-in session field) or
//! `{"type": "property", "name": "FULL_NAME"}` (a workflow property; search summaries carry
//! these); a bare string is a property. Permissions follow Regula: `view:write` writes only the
//! caller's own views and `view_all:write` any; `view:delete` / `view_all:delete` likewise;
//! `view:read` lists the views the caller may see (those without `userIds`, its own, and those
//! naming it in `userIds`), `view_all:read` all of them.

use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_core::search::SearchRequest;
use idv_store::PrincipalId;
use idv_store::ViewRecord;
use serde_json::{Map, Value, json};

pub(crate) const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
const MAX_NAME: usize = 128;
const MAX_TEXT: usize = 4096;
const MAX_IDS: usize = 1000;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidView, message)
}

/// Namespaces and keys: 1 to 128 of `A-Z a-z 0-9 _ . -`.
pub(crate) fn check_name(what: &str, s: &str) -> ApiResult<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "the {what} `{s}` must be 1 to {MAX_NAME} of A-Z a-z 0-9 _ . -"
        )))
    }
}

fn id_list(value: &Map<String, Value>, key: &str) -> ApiResult<Vec<String>> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_IDS => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) if !s.is_empty() && s.len() <= MAX_NAME => Ok(s.clone()),
                other => Err(invalid(format!(
                    "value.{key}[{i}] must be a non-empty string of at most {MAX_NAME} bytes, not {other}"
                ))),
            })
            .collect(),
        Some(Value::Array(_)) => Err(invalid(format!("value.{key} holds more than {MAX_IDS} ids"))),
        Some(other) => Err(invalid(format!("value.{key} must be a list of strings, not {other}"))),
    }
}

fn text(value: &Map<String, Value>, key: &str) -> ApiResult<()> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(()),
        Some(Value::String(_)) => Err(invalid(format!(
            "value.{key} is longer than {MAX_TEXT} bytes"
        ))),
        Some(other) => Err(invalid(format!(
            "value.{key} must be a string, not {other}"
        ))),
    }
}

/// Checks a view's value and fills its defaults: `id` (kept from `existing`, else new),
/// `title` and `description` (empty strings), `workflows`, `columns`, `groupIds`, `userIds`
/// (empty lists).
fn checked_value(value: Value, existing: Option<&ViewRecord>) -> ApiResult<Map<String, Value>> {
    let Value::Object(mut m) = value else {
        return Err(invalid(format!(
            "a view is a JSON object {{id, title, description, workflows, columns, groupIds, userIds}}, not {value}"
        )));
    };
    // The value is a search body too (Regula's clients post it as one): the same checks.
    SearchRequest::parse(&Value::Object(m.clone())).map_err(|e| {
        invalid(format!(
            "value.{}",
            e.message.trim_start_matches("the body: ")
        ))
    })?;
    text(&m, "title")?;
    text(&m, "description")?;
    match m.get("id") {
        None | Some(Value::Null) => {
            let id = existing
                .and_then(|v| v.value.get("id").cloned())
                .filter(Value::is_string)
                .unwrap_or_else(|| Value::String(idv_core::ids::new_id()));
            m.insert("id".into(), id);
        }
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NAME => {}
        Some(other) => {
            return Err(invalid(format!(
                "value.id must be a non-empty string of at most {MAX_NAME} bytes, not {other}"
            )));
        }
    }
    for key in ["title", "description"] {
        if matches!(m.get(key), None | Some(Value::Null)) {
            m.insert(key.into(), json!(""));
        }
    }
    for key in ["workflows", "columns", "groupIds", "userIds"] {
        if matches!(m.get(key), None | Some(Value::Null)) {
            m.insert(key.into(), json!([]));
        }
    }
    id_list(&m, "groupIds")?;
    id_list(&m, "userIds")?;
    Ok(m)
}

/// Stores a view. `by` is the caller (`None`: the CLI, which may write any view and owns
/// none). Answers the stored view.
pub async fn put(
    state: &AppState,
    by: Option<&Principal>,
    namespace: &str,
    key: &str,
    value: Value,
) -> ApiResult<ViewRecord> {
    check_name("namespace", namespace)?;
    check_name("key", key)?;
    let only_owner = match by {
        None => None,
        Some(p) => match p.reach("view_all", "view", Op::Write) {
            Some(Reach::All) => None,
            Some(Reach::Own) => Some(p.id.as_str()),
            None => {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "writing views needs view:write or view_all:write",
                ));
            }
        },
    };
    let existing = state.store.view_get(namespace, key).await?;
    let m = checked_value(value, existing.as_ref())?;
    let now = state.clock.now_ms();
    let record = ViewRecord {
        namespace: namespace.to_string(),
        key: key.to_string(),
        group_ids: id_list(&m, "groupIds")?,
        user_ids: id_list(&m, "userIds")?,
        value: Value::Object(m),
        owner_id: by.map(|p| p.id.clone()),
        created_at: now,
        updated_at: now,
    };
    if !state
        .store
        .view_put(&record, only_owner.map(PrincipalId::new))
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the view {namespace}/{key} belongs to another user; changing it needs view_all:write"
            ),
        ));
    }
    state
        .store
        .view_get(namespace, key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "the view vanished as it was stored"))
}

fn view_not_found(namespace: &str, key: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ViewNotFound,
        format!("no view {key} in namespace {namespace}"),
    )
}

/// Who may see what: `None` for everything, else the viewer's id.
fn viewer(by: Option<&Principal>) -> ApiResult<Option<&str>> {
    match by {
        None => Ok(None),
        Some(p) => match p.reach("view_all", "view", Op::Read) {
            Some(Reach::All) => Ok(None),
            Some(Reach::Own) => Ok(Some(p.id.as_str())),
            None => Err(ApiError::new(
                ErrorCode::Forbidden,
                "reading views needs view:read or view_all:read",
            )),
        },
    }
}

fn visible(v: &ViewRecord, viewer: Option<&str>) -> bool {
    match viewer {
        None => true,
        Some(me) => {
            v.user_ids.is_empty()
                || v.owner_id.as_deref() == Some(me)
                || v.user_ids.iter().any(|u| u == me)
        }
    }
}

/// One view the caller may see.
pub async fn get(
    state: &AppState,
    by: Option<&Principal>,
    namespace: &str,
    key: &str,
) -> ApiResult<ViewRecord> {
    check_name("namespace", namespace)?;
    check_name("key", key)?;
    let viewer = viewer(by)?;
    state
        .store
        .view_get(namespace, key)
        .await?
        .filter(|v| visible(v, viewer))
        .ok_or_else(|| view_not_found(namespace, key))
}

/// The views of a namespace the caller may see, by key, and how many there are.
pub async fn list(
    state: &AppState,
    by: Option<&Principal>,
    namespace: &str,
    limit: i64,
    skip: i64,
) -> ApiResult<(Vec<ViewRecord>, i64)> {
    check_name("namespace", namespace)?;
    let viewer = viewer(by)?;
    Ok(state
        .store
        .view_list(namespace, viewer.map(PrincipalId::new), limit, skip)
        .await?)
}

/// Deletes a view (`view:delete` only the caller's own). Answers the deleted view.
pub async fn delete(
    state: &AppState,
    by: Option<&Principal>,
    namespace: &str,
    key: &str,
) -> ApiResult<ViewRecord> {
    check_name("namespace", namespace)?;
    check_name("key", key)?;
    let only_owner = match by {
        None => None,
        Some(p) => match p.reach("view_all", "view", Op::Delete) {
            Some(Reach::All) => None,
            Some(Reach::Own) => Some(p.id.as_str()),
            None => {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "deleting views needs view:delete or view_all:delete",
                ));
            }
        },
    };
    let existing = state
        .store
        .view_get(namespace, key)
        .await?
        .ok_or_else(|| view_not_found(namespace, key))?;
    if !state
        .store
        .view_delete(namespace, key, only_owner.map(PrincipalId::new))
        .await?
    {
        return Err(match only_owner {
            Some(_) if existing.owner_id.as_deref() != only_owner => ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the view {namespace}/{key} belongs to another user; deleting it needs view_all:delete"
                ),
            ),
            _ => view_not_found(namespace, key),
        });
    }
    Ok(existing)
}

/// A view as the API shows it: `{key, value, groupIds, userIds, createdAt, updatedAt}`.
pub fn item(v: &ViewRecord) -> crate::api::views::View<'_> {
    crate::api::views::View {
        key: &v.key,
        value: &v.value,
        group_ids: &v.group_ids,
        user_ids: &v.user_ids,
        created_at: idv_core::time::iso(v.created_at),
        updated_at: idv_core::time::iso(v.updated_at),
    }
}
