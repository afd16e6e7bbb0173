//! Sessions: start, read (with ownership) and step data submission (file uploads are in
//! [`super::uploads`]). The order of writes keeps storage coherent: bytes first, then the
//! session row (compare-and-swap on its revision) with its file rows in one transaction; a
//! refused request changes nothing already stored.

use crate::auth::{Principal, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::permission::Op;
use idv_core::workflow::{PropertyType, RenderContext, Step, Workflow};
use idv_store::SessionId;
use idv_store::{FileRecord, SessionRecord, SessionTexts};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::Arc;

pub use crate::api::sessions::StartSession as StartInput;
use crate::api::sessions::{
    CurrentStep, Doc, LocaleOption, Session, SessionFile, StepView, WorkflowRef,
};

pub(crate) fn valid_locale(l: &str) -> bool {
    let mut parts = l.split(['-', '_']);
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Starts a session on the current revision of a workflow, in its first step.
pub async fn start(
    state: &AppState,
    by: &Principal,
    workflow_id: &str,
    input: StartInput,
) -> ApiResult<SessionRecord> {
    if let Some(bound) = by.bound_session() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this token is bound to session {bound} and cannot start sessions"),
        ));
    }
    let metadata = match input.metadata {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(m @ Value::Object(_)) => m,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "`metadata` must be a JSON object",
            ));
        }
    };
    let (revision, wf) = state
        .workflows
        .current(state.store.as_ref(), workflow_id)
        .await?;
    let locale = match input
        .locale
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
    {
        Some(l) if valid_locale(&l) => l.to_ascii_lowercase().replace('_', "-"),
        Some(l) => {
            return Err(ApiError::new(
                ErrorCode::InvalidLocale,
                format!("`{l}` is not a locale code such as en or en-us"),
            ));
        }
        None => wf.default_locale().unwrap_or("en-us").to_ascii_lowercase(),
    };
    let now = state.clock.now_ms();
    let session = SessionRecord {
        id: idv_core::ids::new_id(),
        workflow_id: wf.id().to_string(),
        workflow_revision: revision,
        workflow_name: wf.name().to_string(),
        workflow_version: wf.version().map(str::to_string),
        status: idv_core::status::NOT_COMPLETED,
        locale,
        metadata,
        properties: Value::Object(Map::new()),
        current_step: Some(wf.first_step().id.clone()),
        steps: Value::Array(vec![]),
        ended: wf.first_step().is_final,
        owner_id: Some(by.id.clone()),
        created_at: now,
        updated_at: now,
        revision: 1,
        engine: Value::Object(Map::new()),
        expires_at: bounded_expiry(
            wf.lifetime()
                .filter(|l| *l > 0)
                .map(|l| now.saturating_add(l.saturating_mul(1000))),
            by.credential_expiry(),
        ),
        history: Value::Array(vec![]),
        legal_hold: false,
    };
    let events = crate::events::created(&session, now);
    state.store.session_create(&session, &events).await?;
    state.metrics.session_events(&events);
    state.events_committed();
    crate::flow::start(state, &wf, session).await
}

/// The earlier of the workflow lifetime's end and the end of the credentials that start the
/// session (a device token's TTL bounds its sessions).
fn bounded_expiry(lifetime_end: Option<i64>, credentials_end: Option<i64>) -> Option<i64> {
    match (lifetime_end, credentials_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn session_not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SessionNotFound,
        format!("no session with id {id}"),
    )
}

/// How far the caller reaches for `op` on sessions; refusals look like a missing session.
fn session_reach(by: &Principal, id: &str, op: Op) -> ApiResult<Reach> {
    // A session-bound token sees its one session only.
    if by.bound_session().is_some_and(|b| b != id) {
        return Err(session_not_found(id));
    }
    match by.reach("session_all", "session", op) {
        Some(reach) if idv_core::ids::is_id(id) => Ok(reach),
        _ => Err(session_not_found(id)),
    }
}

/// A session the caller may act on with `op` (`session_all:op` for any, `session:op` for its
/// own). Sessions the caller may not see are reported as missing, not forbidden; a deleted one
/// the caller could reach as gone (410, see [`crate::ops::deletion::missing`]).
pub(crate) async fn get_for(
    state: &AppState,
    by: &Principal,
    id: &str,
    op: Op,
) -> ApiResult<SessionRecord> {
    let reach = session_reach(by, id, op)?;
    let found = state.store.session_get(SessionId::new(id)).await?;
    reached(state, by, reach, id, found, |s| s).await
}

/// A session the caller may read, with its files, in one store read.
pub(crate) async fn read_for(
    state: &AppState,
    by: &Principal,
    id: &str,
) -> ApiResult<(SessionRecord, Vec<FileRecord>)> {
    let reach = session_reach(by, id, Op::Read)?;
    let found = state.store.session_with_files(SessionId::new(id)).await?;
    reached(state, by, reach, id, found, |(s, _)| s).await
}

/// [`read_for`] with the session's documents as text where the store keeps them so, for
/// `GET /api/sessions/{id}` ([`view_text`]).
pub(crate) async fn read_text_for(
    state: &AppState,
    by: &Principal,
    id: &str,
) -> ApiResult<(SessionRecord, Option<SessionTexts>, Vec<FileRecord>)> {
    let reach = session_reach(by, id, Op::Read)?;
    let found = state
        .store
        .session_with_files_text(SessionId::new(id))
        .await?;
    reached(state, by, reach, id, found, |(s, _, _)| s).await
}

/// `found` when the caller may touch its session (`session` picks it out), else the answer for
/// a session the caller cannot see (missing, or gone when deleted).
async fn reached<T>(
    state: &AppState,
    by: &Principal,
    reach: Reach,
    id: &str,
    found: Option<T>,
    session: impl Fn(&T) -> &SessionRecord,
) -> ApiResult<T> {
    match found.filter(|f| by.may_touch(reach, session(f).owner_id.as_deref())) {
        Some(f) => Ok(f),
        None => Err(crate::ops::deletion::missing(state, by, reach, id).await),
    }
}

/// The absolute URL of a session file.
pub fn file_url(state: &AppState, session_id: &str, file_id: &str) -> String {
    format!(
        "{}/api/sessions/{session_id}/files/{file_id}",
        state.base_url
    )
}

pub(crate) fn file_view<'a>(state: &AppState, f: &'a FileRecord) -> SessionFile<'a> {
    SessionFile {
        id: &f.id,
        name: &f.name,
        step: f.step.as_deref(),
        property: f.property.as_deref(),
        content_type: &f.content_type,
        size: f.size,
        sha256: &f.sha256,
        created_at: idv_core::time::iso(f.created_at),
        url: file_url(state, &f.session_id, &f.id),
    }
}

/// Properties as stored, except that binary ones (which hold a file id) show where to fetch
/// the bytes: `{"fileId", "url"}`.
pub struct PropertiesView<'a> {
    properties: Props<'a>,
    workflow: Arc<Workflow>,
    base: String,
}

/// The properties a [`PropertiesView`] shows.
enum Props<'a> {
    Value(Cow<'a, Value>),
    /// The stored text, passed on as it is: only when no property is binary.
    Text(&'a RawValue),
}

impl Props<'_> {
    fn value(&self) -> Option<&Value> {
        match self {
            Props::Value(v) => Some(v),
            Props::Text(_) => None,
        }
    }
}

impl serde::Serialize for PropertiesView<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let props = match &self.properties {
            Props::Text(text) => return text.serialize(ser),
            other => other.value().and_then(Value::as_object),
        };
        let empty = Map::new();
        let props = props.unwrap_or(&empty);
        let mut map = ser.serialize_map(Some(props.len()))?;
        for (k, v) in props {
            match (self.workflow.property_type(k), v) {
                (Some(PropertyType::Binary), Value::String(fid)) => map.serialize_entry(
                    k,
                    &json!({"fileId": fid, "url": format!("{}{fid}", self.base)}),
                )?,
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// The session container of an answer (`GET /api/sessions/{id}` and the other answers that
/// show a session).
pub async fn view<'a>(
    state: &AppState,
    s: &'a SessionRecord,
    files: &'a [FileRecord],
) -> ApiResult<Session<'a>> {
    view_text(state, s, None, files).await
}

/// [`view`] of a session read with [`idv_store::FileStore::session_with_files_text`]: when the
/// store gave the documents as text, `metadata`, `steps` and `history` are passed on as stored,
/// and so are the properties unless something in them is rewritten (a binary property's URL) or
/// read (the workflow's `view` block).
pub async fn view_text<'a>(
    state: &AppState,
    s: &'a SessionRecord,
    texts: Option<&'a SessionTexts>,
    files: &'a [FileRecord],
) -> ApiResult<Session<'a>> {
    let workflow = state
        .workflows
        .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
        .await?;
    let (errors, normalized) = crate::flow::engine_view(state, s);
    let base = file_url(state, &s.id, "");
    let properties = match texts {
        None => Props::Value(Cow::Borrowed(&s.properties)),
        Some(t) if !workflow.has_binary_properties() && !workflow.has_view() => {
            Props::Text(&t.properties)
        }
        Some(t) => Props::Value(Cow::Owned(
            serde_json::from_str(t.properties.get()).map_err(|e| {
                ApiError::from(idv_store::StoreError::backend(format!(
                    "session {}: stored properties are not JSON: {e}",
                    s.id
                )))
            })?,
        )),
    };
    let view = properties
        .value()
        .and_then(Value::as_object)
        .and_then(|p| workflow.view_summary(p))
        .map(|v| crate::flow::with_urls(&v, &base));
    let doc = |value: &'a Value, text: Option<&'a RawValue>| match text {
        Some(t) => Doc::Text(t),
        None => Doc::Value(value),
    };
    Ok(Session {
        id: &s.id,
        status: s.status,
        workflow: WorkflowRef {
            id: &s.workflow_id,
            name: &s.workflow_name,
            version: s.workflow_version.as_deref(),
        },
        locale: &s.locale,
        metadata: doc(&s.metadata, texts.map(|t| &*t.metadata)),
        properties: PropertiesView {
            properties,
            workflow,
            base,
        },
        files: files.iter().map(|f| file_view(state, f)).collect(),
        current_step: s.current_step.as_deref(),
        steps: doc(&s.steps, texts.map(|t| &*t.steps)),
        errors,
        normalized,
        view,
        expires_at: s.expires_at.map(idv_core::time::iso),
        user_id: s.owner_id.as_deref(),
        created_at: idv_core::time::iso(s.created_at),
        updated_at: idv_core::time::iso(s.updated_at),
        history: doc(&s.history, texts.map(|t| &*t.history)),
        legal_hold: s.legal_hold,
    })
}

/// The step as the client sees it: `{id, name, type, final, client}` with the client
/// descriptor rendered for the session's locale.
pub(crate) async fn step_view(
    state: &AppState,
    wf: &Workflow,
    s: &SessionRecord,
    step: &Step,
) -> ApiResult<StepView> {
    Ok(step_view_in(state, wf, s, step, &s.locale, false).await?.0)
}

/// [`step_view`] with the texts in `locale`, and with `progress`, the workflow's own waiting
/// screen (its `PROGRESS` client) rendered the same way, if it has one.
async fn step_view_in(
    state: &AppState,
    wf: &Workflow,
    s: &SessionRecord,
    step: &Step,
    locale: &str,
    progress: bool,
) -> ApiResult<(StepView, Option<Value>)> {
    let strings = crate::flow::locale_strings(state, wf, locale).await?;
    let config = crate::flow::template_config(state);
    let session =
        json!({"id": s.id, "locale": s.locale, "status": s.status, "metadata": s.metadata});
    let empty = Map::new();
    let ctx = RenderContext {
        locale: &strings,
        config: &config,
        session: &session,
        properties: s.properties.as_object().unwrap_or(&empty),
    };
    let client = wf.render_client(step, &ctx)?;
    let progress = if progress {
        wf.render_progress(&ctx)?
    } else {
        None
    };
    Ok((
        StepView {
            id: step.id.clone(),
            name: step.name.clone(),
            kind: step.kind.as_str(),
            is_final: step.is_final,
            client,
            schema: wf.step_schema(step).cloned(),
        },
        progress,
    ))
}

/// `s`, with its lifetime applied first when it has passed (as the scheduler's job would), so
/// a client never acts on a session that has in fact ended.
async fn lifetime_applied(state: &AppState, s: SessionRecord) -> ApiResult<SessionRecord> {
    if !s.ended && s.expires_at.is_some_and(|t| t <= state.clock.now_ms()) {
        Ok(crate::flow::expire(state, &s.id).await?.unwrap_or(s))
    } else {
        Ok(s)
    }
}

/// The workflow's translations (`locales: [{code, value}]`).
fn locale_options(wf: &Workflow) -> Vec<LocaleOption> {
    wf.definition()
        .get("locales")
        .and_then(Value::as_array)
        .map(|all| {
            all.iter()
                .filter_map(|l| {
                    Some(LocaleOption {
                        code: l.get("code")?.as_str()?.to_owned(),
                        value: l
                            .get("value")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Handles `GET /api/sessions/{id}/step[?locale=]`: the step the session waits in (its final
/// step once ended), rendered for `locale` (one of the workflow's translations) or the
/// session's own. A passed lifetime is applied first, as a submission would.
pub async fn current(
    state: &AppState,
    by: &Principal,
    id: &str,
    locale: Option<&str>,
) -> ApiResult<CurrentStep> {
    let s = get_for(state, by, id, Op::Read).await?;
    let s = lifetime_applied(state, s).await?;
    let wf = state
        .workflows
        .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
        .await?;
    let locales = locale_options(&wf);
    let locale = match locale {
        None => s.locale.clone(),
        Some(l) if locales.iter().any(|o| o.code == l) || l == s.locale => l.to_owned(),
        Some(l) => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "`locale` is `{l}`; this workflow is translated into {}",
                    locales
                        .iter()
                        .map(|o| o.code.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    };
    let current = s.current_step.as_deref().and_then(|c| wf.step(c));
    // Background jobs are keyed `STEP@VISIT`; those of the step the session waits in hold it.
    let waiting = match (current, s.ended) {
        (Some(step), false) => state
            .store
            .job_list(SessionId::new(&s.id))
            .await?
            .iter()
            .any(|j| j.step.split('@').next() == Some(step.id.as_str())),
        _ => false,
    };
    let (step, progress) = match current {
        Some(step) => {
            let (view, progress) = step_view_in(state, &wf, &s, step, &locale, waiting).await?;
            (Some(view), progress)
        }
        None => (None, None),
    };
    let now = state.clock.now_ms();
    Ok(CurrentStep {
        session_id: s.id.clone(),
        workflow_id: s.workflow_id.clone(),
        status: s.status,
        ended: s.ended,
        // An ended session keeps no expiry; the engine notes when the lifetime ran out.
        expired: s.ended
            && (s.expires_at.is_some_and(|t| t <= now) || s.engine.get("timedOutAt").is_some()),
        expires_at: s.expires_at.map(idv_core::time::iso),
        locale,
        locales,
        completed: s.steps.as_array().map_or(0, Vec::len),
        waiting,
        step,
        progress,
        layout: wf.definition().pointer("/client/layout").cloned(),
    })
}

/// Loads the session, its workflow revision and the step a client addresses, refusing steps
/// that are unknown (404), not current or of an ended session (409).
pub(crate) async fn addressed_step(
    state: &AppState,
    by: &Principal,
    id: &str,
    step_id: &str,
) -> ApiResult<(SessionRecord, Arc<Workflow>, Step)> {
    let s = get_for(state, by, id, Op::Write).await?;
    let wf = state
        .workflows
        .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
        .await?;
    let step = wf.step(step_id).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::StepNotFound,
            format!("workflow {} has no step {step_id}", wf.id()),
        )
    })?;
    let s = lifetime_applied(state, s).await?;
    if s.ended {
        return Err(ApiError::new(
            ErrorCode::SessionEnded,
            format!(
                "session {id} has ended in step {}; start a new session",
                s.current_step.as_deref().unwrap_or("?")
            ),
        ));
    }
    if s.current_step.as_deref() != Some(step_id) {
        return Err(ApiError::new(
            ErrorCode::StepNotCurrent,
            format!(
                "session {id} waits in step {}, not {step_id}",
                s.current_step.as_deref().unwrap_or("?")
            ),
        ));
    }
    Ok((s, wf, step))
}

/// Handles `POST /api/sessions/{id}/step/{step}?type=data`: validates `data` against the step's
/// schema, stores it as a session file, runs the step's transformers and conditions, and moves
/// the session. Returns the step the session now waits in.
pub async fn submit_data(
    state: &AppState,
    by: &Principal,
    id: &str,
    step_id: &str,
    raw: bytes::Bytes,
    data: Value,
) -> ApiResult<StepView> {
    let (s, wf, step) = addressed_step(state, by, id, step_id).await?;
    if step.kind == idv_core::workflow::StepKind::Processing {
        return Err(ApiError::new(
            ErrorCode::StepNotCurrent,
            format!("step {step_id} is run by the server and takes no client data"),
        ));
    }
    if let Err(violations) = wf.validate_step_data(&step, &data) {
        let first = violations
            .first()
            .map(|v| {
                format!(
                    "{}: {}",
                    if v.path.is_empty() { "/" } else { &v.path },
                    v.message
                )
            })
            .unwrap_or_default();
        return Err(ApiError(
            idv_core::Error::new(
                ErrorCode::SchemaViolation,
                format!("the data does not match the schema of step {step_id} ({} violation(s); first: {first})", violations.len()),
            )
            .with_details(json!(violations)),
        ));
    }
    let next = crate::flow::submit(state, &wf, &s, step_id, raw, &data).await?;
    let next_step = next
        .current_step
        .as_deref()
        .and_then(|sid| wf.step(sid))
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Internal,
                "the session waits in a step the workflow lacks",
            )
        })?;
    step_view(state, &wf, &next, &next_step).await
}

pub(crate) fn check_property(wf: &Workflow, property: &str) -> ApiResult<()> {
    match wf.property_type(property) {
        Some(PropertyType::Binary) => Ok(()),
        Some(t) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "property {property} has type {}; only binary properties can hold a file",
                t.as_str()
            ),
        )),
        None => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("workflow {} declares no property {property}", wf.id()),
        )),
    }
}

/// A file name safe to show and to put in a header: the last path segment, without control
/// characters, quotes or backslashes, at most 255 bytes. Never used as a path.
pub(crate) fn sanitize_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect::<String>()
        .trim()
        .to_string();
    if cleaned.chars().all(|c| c == '.') {
        cleaned = String::new();
    }
    while cleaned.len() > 255 {
        cleaned.pop();
    }
    if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned
    }
}

/// Handles `GET /api/sessions/{id}/handoff`: a QR code (PNG) of the capture page's link to this
/// session with the caller's own device token, so a person on a computer continues on a phone.
/// Only a device token may ask (an API key or a password must never go into a QR code).
pub async fn handoff(
    state: &AppState,
    by: &Principal,
    id: &str,
    authorization: &str,
) -> ApiResult<Vec<u8>> {
    if !matches!(by.kind, crate::auth::PrincipalKind::Device { .. }) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only a device token (from a deeplink, a QR code, a start link or an ephemeral device) can be handed to another device",
        ));
    }
    let s = get_for(state, by, id, Op::Read).await?;
    let token = authorization
        .strip_prefix("Token ")
        .unwrap_or(authorization)
        .trim();
    let url = crate::ops::devices::mobile_url(state, token, &s.id);
    crate::qr_png::png(&url).map_err(|e| ApiError::new(ErrorCode::Internal, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_file_name("a\u{0}b\nc\"d.png"), "abcd.png");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(""), "file");
        assert_eq!(sanitize_file_name(&"x".repeat(300)).len(), 255);
    }

    #[test]
    fn credentials_bound_the_lifetime() {
        assert_eq!(bounded_expiry(Some(5), Some(3)), Some(3));
        assert_eq!(bounded_expiry(Some(3), Some(5)), Some(3));
        assert_eq!(bounded_expiry(None, Some(5)), Some(5));
        assert_eq!(bounded_expiry(Some(5), None), Some(5));
        assert_eq!(bounded_expiry(None, None), None);
    }

    #[test]
    fn locales_are_checked() {
        assert!(valid_locale("en"));
        assert!(valid_locale("en-us"));
        assert!(valid_locale("pt_BR"));
        assert!(!valid_locale("e"));
        assert!(!valid_locale("en-"));
        assert!(!valid_locale("<script>"));
    }
}
