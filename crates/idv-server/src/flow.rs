//! The workflow engine on the server: [`ServerEffects`] gives the engine the outbound HTTP
//! client, file storage and the job table; the functions here run a submission, a background
//! action or an expiry and commit everything it did in one store write
//! ([`idv_store::Store::session_advance`]: the session row by compare-and-swap, its new file
//! rows, its new jobs, the finished job). Bytes are written before that commit and removed when
//! it loses a race, so a refused or lost write leaves nothing behind.

use crate::error::{ApiError, ApiResult};
use crate::outbound::{OutboundError, OutboundRequest};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::workflow::engine::{
    ActionOutcome, ActionResponse, CallError, Effects, Engine, NewFile, Run, TemplateScope,
};
use idv_core::workflow::{RenderedRequest, Workflow};
use idv_store::{FileId, JobId, SessionId};
use idv_store::{FileRecord, JobRecord, SessionRecord};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The engine's effects for one session, collecting what must be committed with it.
pub struct ServerEffects {
    state: AppState,
    session_id: String,
    /// File rows for bytes already stored, in the order they were stored.
    pub files: Vec<FileRecord>,
    /// Background actions queued by this run.
    pub jobs: Vec<JobRecord>,
}

impl ServerEffects {
    pub fn new(state: &AppState, session_id: &str) -> Self {
        ServerEffects {
            state: state.clone(),
            session_id: session_id.to_owned(),
            files: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// Removes the bytes of files from index `from` on (their rows were never committed).
    pub(crate) async fn discard_files_from(&mut self, from: usize) {
        for f in self.files.drain(from..) {
            if f.inline.is_none() {
                let _ = self.state.blobs.delete(&f.object_key).await;
            }
        }
    }

    pub(crate) async fn store_bytes(
        &mut self,
        file: NewFile,
    ) -> Result<FileRecord, idv_store::blobs::BlobError> {
        let id = idv_core::ids::new_id();
        let (object_key, size, sha256, inline) = if file.bytes.len() <= INLINE_LIMIT {
            // Small files (step data, most action responses) live in their database row,
            // written in the same transaction as the session: no file-system round trips.
            use sha2::Digest as _;
            let sha = hex::encode(sha2::Sha256::digest(&file.bytes));
            (
                idv_store::INLINE_KEY.to_owned(),
                file.bytes.len() as u64,
                sha,
                Some(file.bytes),
            )
        } else {
            let key = object_key(&self.session_id, &id);
            let stored = self
                .state
                .blobs
                .put_bytes(&key, bytes::Bytes::from(file.bytes))
                .await?;
            (key, stored.size, stored.sha256, None)
        };
        let record = FileRecord {
            id,
            session_id: self.session_id.clone(),
            name: file.name,
            step: Some(file.step),
            property: file.property,
            content_type: file.content_type,
            size: size as i64,
            sha256,
            object_key,
            created_at: self.state.clock.now_ms(),
            inline,
        };
        self.files.push(record.clone());
        Ok(record)
    }
}

/// Files up to this size are kept in the database row.
pub(crate) const INLINE_LIMIT: usize = 64 * 1024;

/// The bytes of a session file, wherever they are kept.
pub async fn file_bytes(state: &AppState, f: &FileRecord) -> ApiResult<bytes::Bytes> {
    if let Some(b) = &f.inline {
        return Ok(bytes::Bytes::from(b.clone()));
    }
    if f.object_key == idv_store::INLINE_KEY {
        let b = state
            .store
            .file_content(SessionId::new(&f.session_id), FileId::new(&f.id))
            .await?
            .ok_or_else(|| {
                ApiError::new(ErrorCode::FileNotFound, format!("no file with id {}", f.id))
            })?;
        return Ok(bytes::Bytes::from(b));
    }
    Ok(state.blobs.get_bytes(&f.object_key).await?)
}

pub(crate) fn object_key(session_id: &str, file_id: &str) -> String {
    format!("sessions/{session_id}/files/{file_id}")
}

impl Effects for ServerEffects {
    fn now_ms(&self) -> i64 {
        self.state.clock.now_ms()
    }

    async fn call(
        &mut self,
        _action: &str,
        request: &RenderedRequest,
    ) -> Result<ActionResponse, CallError> {
        if !(request.url.starts_with("http://") || request.url.starts_with("https://")) {
            return Err(CallError {
                message: format!(
                    "the action's URL `{}` is not an absolute http(s) URL; if it starts with a \
                     service's URL, set services.docreader.url or services.faceapi.url",
                    request.url
                ),
                retryable: false,
            });
        }
        let mut headers = request.headers.clone();
        if request.body.is_some()
            && !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let sent = self
            .state
            .outbound
            .send(OutboundRequest {
                method: request.method.clone(),
                url: request.url.clone(),
                headers,
                body: request.body.clone().map(bytes::Bytes::from),
                timeout: request.timeout,
            })
            .await;
        match sent {
            Ok(r) => Ok(ActionResponse {
                status: r.status,
                content_type: r.content_type,
                body: r.body.to_vec(),
            }),
            Err(OutboundError::Timeout) => Err(CallError {
                message: format!(
                    "timed out after {} s (the action's timeout)",
                    request.timeout.as_secs_f64()
                ),
                retryable: true,
            }),
            Err(e) => {
                let retryable = matches!(e, OutboundError::Transport(_));
                Err(CallError {
                    message: e.to_string(),
                    retryable,
                })
            }
        }
    }

    async fn load_file(&mut self, file_id: &str) -> Result<Vec<u8>, String> {
        let record = match self.files.iter().find(|f| f.id == file_id) {
            Some(f) => f.clone(),
            None => self
                .state
                .store
                .file_get(SessionId::new(&self.session_id), FileId::new(file_id))
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the session has no file {file_id}"))?,
        };
        file_bytes(&self.state, &record)
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.0.message)
    }

    async fn store_file(&mut self, file: NewFile) -> Result<String, String> {
        self.store_bytes(file)
            .await
            .map(|r| r.id)
            .map_err(|e| e.to_string())
    }

    fn enqueue(&mut self, step: &str, action: &str, visit: usize) {
        let now = self.state.clock.now_ms();
        self.jobs.push(JobRecord {
            id: idv_core::ids::new_id(),
            session_id: self.session_id.clone(),
            step: format!("{step}@{visit}"),
            action: action.to_owned(),
            run_at: now,
            attempts: 0,
            locked_until: None,
            last_error: None,
            created_at: now,
        });
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// The engine's view of a stored session.
pub(crate) fn run_of(s: &SessionRecord) -> Run {
    Run {
        properties: s.properties.as_object().cloned().unwrap_or_default(),
        current_step: s.current_step.clone().unwrap_or_default(),
        status: s.status,
        ended: s.ended,
        steps: s.steps.as_array().cloned().unwrap_or_default(),
        engine: s.engine.as_object().cloned().unwrap_or_default(),
        expires_at: s.expires_at,
    }
}

/// `s` with the engine's changes, its revision bumped for the compare-and-swap. A status the
/// workflow changed is recorded in the history as `{at, by: {kind: "workflow"}, from, to,
/// step}`, beside the reviews.
pub(crate) fn with_run(s: &SessionRecord, run: Run, now: i64) -> SessionRecord {
    let mut next = s.clone();
    if run.status != s.status
        && let Value::Array(history) = &mut next.history
    {
        history.push(json!({
            "at": idv_core::time::iso(now),
            "by": {"kind": "workflow"},
            "from": s.status,
            "to": run.status,
            "step": run.current_step,
        }));
    }
    next.properties = Value::Object(run.properties);
    next.current_step = Some(run.current_step);
    next.status = run.status;
    next.ended = run.ended;
    next.steps = Value::Array(run.steps);
    next.engine = Value::Object(run.engine);
    next.expires_at = if run.ended { None } else { run.expires_at };
    next.updated_at = now;
    next.revision = s.revision + 1;
    next
}

/// The `config` namespace workflow templates see: the public URL and the services' blocks.
pub fn template_config(state: &AppState) -> Value {
    let s = &state.config.services;
    json!({
        "baseUrl": state.base_url,
        "services": {
            "docreader": {"enabled": s.docreader.enabled, "prefix": s.docreader.prefix, "url": s.docreader.url},
            "faceapi": {"enabled": s.faceapi.enabled, "prefix": s.faceapi.prefix, "url": s.faceapi.url},
        },
    })
}

/// Localized strings for a session's locale: the first code in the fallback chain wins per key.
/// Translations are read through [`TranslationCache`] (at most a second old).
pub(crate) async fn locale_strings(
    state: &AppState,
    wf: &Workflow,
    locale: &str,
) -> ApiResult<HashMap<String, String>> {
    let all = state.translations.get(state).await?;
    let chain = idv_core::workflow::locale_chain(Some(locale), wf.default_locale(), &all.codes);
    Ok(idv_core::workflow::translations_for(&all.rows, &chain))
}

/// Every translation, read at most once a second per instance (and again at once after this
/// instance stores translations): each step answer renders localized text, and two store reads
/// per request for rarely changing rows cost more than the rest of a step submission.
#[derive(Default)]
pub struct TranslationCache {
    cached: std::sync::RwLock<Option<(std::time::Instant, Arc<AllTranslations>)>>,
    refresh: tokio::sync::Mutex<()>,
}

pub struct AllTranslations {
    pub codes: Vec<String>,
    pub rows: Vec<idv_store::Translation>,
}

const TRANSLATIONS_TTL: Duration = Duration::from_secs(1);

impl TranslationCache {
    fn fresh(&self) -> Option<Arc<AllTranslations>> {
        let cached = self.cached.read().expect("translation cache");
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < TRANSLATIONS_TTL)
            .map(|(_, all)| all.clone())
    }

    pub async fn get(&self, state: &AppState) -> ApiResult<Arc<AllTranslations>> {
        if let Some(all) = self.fresh() {
            return Ok(all);
        }
        // One reader refreshes; the others wait for its result.
        let _guard = self.refresh.lock().await;
        if let Some(all) = self.fresh() {
            return Ok(all);
        }
        let codes = state.store.translation_codes().await?;
        let rows = state.store.translations_for(&codes).await?;
        let all = Arc::new(AllTranslations { codes, rows });
        *self.cached.write().expect("translation cache") =
            Some((std::time::Instant::now(), all.clone()));
        Ok(all)
    }

    /// Forgets what was read (this instance just stored translations).
    pub(crate) fn forget(&self) {
        *self.cached.write().expect("translation cache") = None;
    }
}

/// What a session's templates see.
pub(crate) async fn scope_for(
    state: &AppState,
    wf: &Workflow,
    s: &SessionRecord,
) -> ApiResult<TemplateScope> {
    Ok(TemplateScope {
        locale: locale_strings(state, wf, &s.locale).await?,
        config: template_config(state),
        session: json!({"id": s.id, "locale": s.locale, "status": s.status, "metadata": s.metadata}),
    })
}

fn conflict(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SessionConflict,
        format!("session {id} changed while this request ran; read it again and retry"),
    )
}

/// How often a step submission is run again on a fresh read when background actions of the
/// same session commit in between (each finished action is one such write).
const SUBMIT_TRIES: usize = 16;

/// Runs a client's step data through the engine and commits the outcome. `s` is the session
/// as read (its step is current); `raw` the submitted bytes, stored as the step's file first.
pub async fn submit(
    state: &AppState,
    wf: &Arc<Workflow>,
    s: &SessionRecord,
    step_id: &str,
    raw: bytes::Bytes,
    data: &Value,
) -> ApiResult<SessionRecord> {
    let step = wf.step(step_id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::StepNotFound,
            format!("workflow {} has no step {step_id}", wf.id()),
        )
    })?;
    let scope = scope_for(state, wf, s).await?;
    let mut fx = ServerEffects::new(state, &s.id);
    let name = step
        .file_id
        .clone()
        .unwrap_or_else(|| format!("{step_id}.json"));
    fx.store_bytes(NewFile {
        name,
        step: step_id.to_owned(),
        property: None,
        content_type: "application/json".into(),
        bytes: raw.to_vec(),
    })
    .await?;
    // A background action may finish while this runs; then the submission runs again on the
    // fresh session (if the step is still current), so a client never loses to a job.
    let mut current = s.clone();
    for attempt in 0..SUBMIT_TRIES {
        if attempt > 1 {
            // Several background writes in a row: give them a moment to drain.
            tokio::time::sleep(Duration::from_millis(2 * attempt as u64)).await;
        }
        let mut run = run_of(&current);
        let outcome = Engine::new(wf, &scope, &mut fx)
            .submit(&mut run, step_id, data)
            .await;
        if let Err(e) = outcome {
            fx.discard_files_from(0).await;
            return Err(match e {
                idv_core::workflow::engine::EngineError::Submit(
                    idv_core::workflow::SubmitError::Coercion { property, message },
                ) => ApiError(
                    idv_core::Error::new(
                        ErrorCode::StepFailed,
                        format!(
                            "property {property} could not take the submitted value: {message}"
                        ),
                    )
                    .with_details(json!({"property": property})),
                ),
                other => ApiError::new(ErrorCode::StepFailed, other.to_string()),
            });
        }
        match write_run(state, &current, run, &fx, None, false).await {
            Ok(Some(next)) => return Ok(next),
            Ok(None) => {}
            Err(e) => {
                fx.discard_files_from(0).await;
                return Err(e.into());
            }
        }
        // Keep the submitted data (file 0); redo the rest on a fresh read.
        fx.discard_files_from(1).await;
        fx.jobs.clear();
        match state.store.session_get(SessionId::new(&s.id)).await? {
            Some(fresh) if !fresh.ended && fresh.current_step.as_deref() == Some(step_id) => {
                current = fresh;
            }
            _ => break,
        }
    }
    fx.discard_files_from(0).await;
    Err(conflict(&s.id))
}

/// Writes `run` over `prev` in one transaction with the files and jobs it made and the events
/// that describe the change ([`idv_store::Store::session_advance`]), then wakes the job workers
/// and the event readers (webhook workers, live streams) when it gave them something. `None`
/// when the session changed meanwhile (a lost compare-and-swap: nothing was written).
async fn write_run(
    state: &AppState,
    prev: &SessionRecord,
    run: Run,
    fx: &ServerEffects,
    done_job: Option<&str>,
    expired: bool,
) -> idv_store::StoreResult<Option<SessionRecord>> {
    let now = state.clock.now_ms();
    let next = with_run(prev, run, now);
    let events = crate::events::changed(prev, &next, now, expired);
    if !state
        .store
        .session_advance(
            &next,
            &fx.files,
            &fx.jobs,
            done_job.map(JobId::new),
            &events,
        )
        .await?
    {
        return Ok(None);
    }
    if !fx.jobs.is_empty() {
        state.jobs_queued();
    }
    if !events.is_empty() {
        state.metrics.session_events(&events);
        state.events_committed();
    }
    Ok(Some(next))
}

/// Writes the run; `None` when the session changed meanwhile (the files are discarded).
async fn commit(
    state: &AppState,
    s: &SessionRecord,
    run: Run,
    fx: &mut ServerEffects,
    done_job: Option<&str>,
    expired: bool,
) -> ApiResult<Option<SessionRecord>> {
    match write_run(state, s, run, fx, done_job, expired).await {
        Ok(Some(next)) => Ok(Some(next)),
        Ok(None) => {
            fx.discard_files_from(0).await;
            Ok(None)
        }
        Err(e) => {
            fx.discard_files_from(0).await;
            Err(e.into())
        }
    }
}

/// Applies the lifetime's end to session `id` if it has passed and the session has not ended.
/// Returns the session as it is afterwards (`None` when it does not exist).
pub async fn expire(state: &AppState, id: &str) -> ApiResult<Option<SessionRecord>> {
    for _ in 0..5 {
        let Some(s) = state.store.session_get(SessionId::new(id)).await? else {
            return Ok(None);
        };
        let now = state.clock.now_ms();
        if s.ended || s.expires_at.is_none_or(|t| t > now) {
            return Ok(Some(s));
        }
        let wf = state
            .workflows
            .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
            .await?;
        let scope = scope_for(state, &wf, &s).await?;
        let mut fx = ServerEffects::new(state, &s.id);
        let mut run = run_of(&s);
        Engine::new(&wf, &scope, &mut fx).expire(&mut run).await;
        if let Some(next) = commit(state, &s, run, &mut fx, None, true).await? {
            tracing::info!(session = %id, step = ?next.current_step, "session lifetime ended");
            return Ok(Some(next));
        }
    }
    Err(conflict(id))
}

/// The scheduler's `expireSessions` job: applies every passed lifetime.
pub async fn expire_due(state: &AppState) -> ApiResult<usize> {
    let mut done = 0;
    loop {
        let ids = state
            .store
            .session_expired(state.clock.now_ms(), 200)
            .await?;
        if ids.is_empty() {
            return Ok(done);
        }
        let batch = ids.len();
        for id in ids {
            match expire(state, &id).await {
                Ok(_) => done += 1,
                Err(e) => tracing::warn!(session = %id, "expiry failed: {}", e.0.message),
            }
        }
        if batch < 200 {
            return Ok(done);
        }
    }
}

/// Enters a new session's first step when the server runs it (a `PROCESSING` first step).
pub async fn start(
    state: &AppState,
    wf: &Arc<Workflow>,
    s: SessionRecord,
) -> ApiResult<SessionRecord> {
    let first = wf.first_step();
    if first.kind != idv_core::workflow::StepKind::Processing {
        return Ok(s);
    }
    let scope = scope_for(state, wf, &s).await?;
    let mut fx = ServerEffects::new(state, &s.id);
    let mut run = run_of(&s);
    Engine::new(wf, &scope, &mut fx).start(&mut run).await;
    commit(state, &s, run, &mut fx, None, false)
        .await?
        .ok_or_else(|| conflict(&s.id))
}

/// Runs one claimed background job to completion: the action's I/O once, then its merge into
/// the session (again on a fresh read if a concurrent write wins), committed together with the
/// job's deletion. A retryable failure with tries left puts the job back with a backoff.
pub async fn run_job(state: &AppState, job: JobRecord) -> ApiResult<()> {
    let Some(s) = state
        .store
        .session_get(SessionId::new(&job.session_id))
        .await?
    else {
        // The session is gone; nothing can use the result.
        state
            .store
            .job_release(
                JobId::new(&job.id),
                i64::MAX / 2,
                Some("the session no longer exists"),
            )
            .await?;
        return Ok(());
    };
    let wf = state
        .workflows
        .revision(state.store.as_ref(), &s.workflow_id, s.workflow_revision)
        .await?;
    let scope = scope_for(state, &wf, &s).await?;
    let mut fx = ServerEffects::new(state, &s.id);
    // `STEP@VISIT` (see ServerEffects::enqueue).
    let (step, visit) = match job.step.rsplit_once('@') {
        Some((step, visit)) => (step, visit.parse::<usize>().ok()),
        None => (job.step.as_str(), None),
    };
    let outcome = Engine::new(&wf, &scope, &mut fx)
        .perform_action(&run_of(&s), step, &job.action, visit)
        .await;
    if let Err(f) = &outcome.result {
        let policy = idv_core::workflow::engine::RetryPolicy::of(
            wf.action(&job.action).and_then(|a| a.retry.as_ref()),
        );
        let tries = i64::from(policy.retries.max(2)) + 1;
        if f.retryable && job.attempts < tries {
            fx.discard_files_from(0).await;
            let backoff = (1_000i64 << job.attempts.clamp(0, 6))
                .max(i64::try_from(policy.delay.as_millis()).unwrap_or(1_000));
            state
                .store
                .job_release(
                    JobId::new(&job.id),
                    state.clock.now_ms() + backoff,
                    Some(&f.message),
                )
                .await?;
            return Ok(());
        }
    }
    // The merge runs as its own task: if this future is dropped (shutdown), a transaction
    // that is being committed is not cut off midway, where its connection would go back to
    // the pool still holding the job's row lock.
    let state = state.clone();
    tokio::spawn(async move { merge_job(&state, job, s, wf, scope, fx, outcome).await })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("job merge task failed: {e}")))?
}

/// The second half of [`run_job`]: merges the action's outcome into the session (on a fresh
/// read when a concurrent write wins) and commits it with the job's removal.
async fn merge_job(
    state: &AppState,
    job: JobRecord,
    s: SessionRecord,
    wf: Arc<Workflow>,
    scope: TemplateScope,
    mut fx: ServerEffects,
    outcome: ActionOutcome,
) -> ApiResult<()> {
    let performed = fx.files.len();
    let mut s = s;
    for _ in 0..8 {
        let mut run = run_of(&s);
        fx.jobs.clear();
        Engine::new(&wf, &scope, &mut fx)
            .complete_action(&mut run, &outcome)
            .await;
        if write_run(state, &s, run, &fx, Some(&job.id), false)
            .await?
            .is_some()
        {
            return Ok(());
        }
        // Lost a race: keep the action's own files, redo the merge on a fresh read.
        fx.discard_files_from(performed).await;
        match state
            .store
            .session_get(SessionId::new(&job.session_id))
            .await?
        {
            Some(fresh) => s = fresh,
            None => break,
        }
    }
    fx.discard_files_from(0).await;
    state
        .store
        .job_release(
            JobId::new(&job.id),
            state.clock.now_ms() + 1_000,
            Some("session kept changing"),
        )
        .await?;
    Ok(())
}

/// The background workers: claim due jobs and run them, at most `threads` at a time, until
/// `shutdown`. A job interrupted by shutdown is put back at once, so the next start (of this
/// or any other instance) runs it; its lease covers a crash.
/// Runs background actions until `shutdown`; actions then running go on until `interrupt`,
/// which puts them back to run again.
pub(crate) async fn run_workers(
    state: AppState,
    shutdown: tokio_util::sync::CancellationToken,
    interrupt: tokio_util::sync::CancellationToken,
) {
    let cfg = &state.config.services.workflow;
    if !cfg.enabled {
        return;
    }
    let threads = cfg.threads.clamp(1, 256);
    let lease_ms = i64::try_from(cfg.job_lease.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
    let permits = Arc::new(tokio::sync::Semaphore::new(threads));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let claimed = state.store.job_claim(state.clock.now_ms(), lease_ms).await;
        match claimed {
            Ok(Some(job)) => {
                let st = state.clone();
                let stop = interrupt.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    let id = job.id.clone();
                    tokio::select! {
                        r = run_job(&st, job) => {
                            if let Err(e) = r {
                                st.metrics.job(crate::metrics::JobEnd::Failed);
                                tracing::warn!(job = %id, "job failed: {}", e.0.message);
                                let _ = st.store.job_release(JobId::new(&id), st.clock.now_ms() + 5_000, Some(&e.0.message)).await;
                            } else {
                                st.metrics.job(crate::metrics::JobEnd::Done);
                            }
                        }
                        _ = stop.cancelled() => {
                            st.metrics.job(crate::metrics::JobEnd::Interrupted);
                            let _ = st.store.job_release(JobId::new(&id), st.clock.now_ms(), Some("interrupted by shutdown")).await;
                        }
                    }
                });
                while tasks.try_join_next().is_some() {}
            }
            Ok(None) => {
                drop(permit);
                let now = state.clock.now_ms();
                let wait = match state.store.job_next_due().await {
                    Ok(Some(t)) => (t - now).clamp(5, 1_000),
                    _ => 1_000,
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = state.jobs_wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                }
            }
            Err(e) => {
                drop(permit);
                tracing::warn!("cannot claim jobs: {e}");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// The session's engine state as the API shows it: `errors`, and `normalized` with file URLs.
pub(crate) fn engine_view(state: &AppState, s: &SessionRecord) -> (Value, Value) {
    let errors = s.engine.get("errors").cloned().unwrap_or(json!([]));
    let base = format!("{}/api/sessions/{}/files/", state.base_url, s.id);
    let normalized = s
        .engine
        .get("normalized")
        .map(|n| with_urls(n, &base))
        .unwrap_or(json!([]));
    (errors, normalized)
}

/// Adds `url` beside every `fileId` in `v`.
pub(crate) fn with_urls(v: &Value, base: &str) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), with_urls(v, base)))
                .collect();
            if let Some(Value::String(fid)) = m.get("fileId") {
                out.insert("url".into(), Value::String(format!("{base}{fid}")));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| with_urls(v, base)).collect()),
        other => other.clone(),
    }
}
