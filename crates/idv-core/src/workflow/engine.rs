//! The workflow engine: what happens to a session between one client submission (or one
//! finished background action, or its lifetime running out) and the next time it waits.
//!
//! The engine owns no I/O. Everything it does to the outside world goes through [`Effects`]:
//! HTTP calls (an `mrz` action makes none: it reads its text natively, with the clock's date),
//! reading and storing files, queueing background actions, sleeping between retries, and the
//! clock. The server implements it over its outbound client, blob store and
//! job table; `idv workflow run` implements it over canned responses.
//!
//! One submission runs: the step's `json` transformers over the data; the step's actions in
//! order (an `async` one is queued, a `when` guard that fails skips it); the step's
//! normalizers; its conditions (first match wins). The transition's target is checked against
//! its `attempts` limit, entered, and when it is a `PROCESSING` step, run the same way at once,
//! so one request can cross several server steps. A per-run transition budget bounds that: a
//! cycle of server steps becomes an error event, never a hang.
//!
//! An error in an action (transport, timeout, an unexpected status), in a template or in a
//! transformer (a value that cannot take its property's type) is recorded on the session as
//! `{step, action, message, at}` and applies `events.onError` when the workflow has one;
//! otherwise the session stays where it is.
//!
//! A finished background action ([`Engine::complete_action`]) merges its properties; if the
//! session still waits in the step that queued it, that step's conditions are evaluated again
//! (a `DATA` step whose conditions need the action's results moves on then).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::model::{Action, ActionKind, PropertyType, Step, StepKind, TransformerKind};
use super::transform;
use super::{ActionContext, RenderedRequest, SubmitError, TransformOutcome, Transition, Workflow};

/// Transitions one run may take before it is declared a cycle.
pub(crate) const TRANSITION_BUDGET: usize = 64;

/// A response to an action's HTTP call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why an action's call failed before any response counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub message: String,
    /// Transport errors and timeouts are worth another try; a refused address is not.
    pub retryable: bool,
}

/// A file the engine wants stored for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// The `files[]` id or the property the bytes belong to.
    pub name: String,
    pub step: String,
    pub property: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What the engine reports as it goes (for `idv workflow run` and logs).
#[derive(Debug, Clone, PartialEq)]
pub enum Trace {
    Entered {
        step: String,
        condition: String,
        status: Option<i64>,
    },
    Property {
        id: String,
        value: Value,
    },
    ActionCalled {
        action: String,
        method: String,
        url: String,
        status: u16,
    },
    /// A native action (no HTTP call) ran: `kind` is its type (`mrz`), `outcome` a short
    /// summary such as `TD3 valid`.
    ActionRan {
        action: String,
        kind: String,
        outcome: String,
    },
    ActionSkipped {
        action: String,
    },
    ActionQueued {
        step: String,
        action: String,
    },
    Error {
        step: String,
        action: Option<String>,
        message: String,
    },
    Waiting {
        step: String,
    },
    Expired,
}

/// The engine's window on the world.
pub trait Effects: Send {
    fn now_ms(&self) -> i64;
    /// Sends a rendered action request.
    fn call(
        &mut self,
        action: &str,
        request: &RenderedRequest,
    ) -> impl Future<Output = Result<ActionResponse, CallError>> + Send;
    /// The bytes of a session file (for `loadFromStorage`).
    fn load_file(&mut self, file_id: &str) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
    /// Stores a session file; answers its id.
    fn store_file(&mut self, file: NewFile) -> impl Future<Output = Result<String, String>> + Send;
    /// Queues an `async: true` action of `step` to run in the background. `visit` identifies
    /// this visit of the step (see [`ActionOutcome::visit`]); hand it back with the outcome.
    fn enqueue(&mut self, step: &str, action: &str, visit: usize);
    fn sleep(&mut self, d: Duration) -> impl Future<Output = ()> + Send;
    fn trace(&mut self, _event: Trace) {}
}

/// The part of a session the engine reads and changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub properties: Map<String, Value>,
    pub current_step: String,
    pub status: i64,
    pub ended: bool,
    /// Completion entries `{id, attempt, completedAt}` in order.
    pub steps: Vec<Value>,
    /// `{errors: [...], normalized: [...], actionFiles: {ACTION: fileId}}`.
    pub engine: Map<String, Value>,
    pub expires_at: Option<i64>,
}

/// What templates see besides properties.
#[derive(Debug, Clone, Default)]
pub struct TemplateScope {
    pub locale: HashMap<String, String>,
    pub config: Value,
    pub session: Value,
}

/// A failure the engine records as an error event.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub step: String,
    pub action: Option<String>,
    pub message: String,
    pub retryable: bool,
}

/// The failures of action `action` in step `step`: message and whether a retry may help.
fn action_failure<'x>(step: &'x str, action: &'x str) -> impl Fn(String, bool) -> Failure + 'x {
    move |message, retryable| Failure {
        step: step.to_owned(),
        action: Some(action.to_owned()),
        message,
        retryable,
    }
}

/// What a background action produced, before it is merged into the session. Computing it
/// ([`Engine::perform_action`]) does the I/O; merging it ([`Engine::complete_action`]) can be
/// repeated on a fresh copy of the session if a concurrent write won the race.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub step: String,
    pub action: String,
    /// The visit of the step that queued the action: the number of step completions the
    /// session had right after it. Only while the session is still in that visit (waiting in
    /// the step, no completion since) are the step's conditions evaluated again; an action
    /// queued by an earlier visit only adds its properties.
    pub visit: Option<usize>,
    pub result: Result<ActionUpdates, Failure>,
}

/// The property changes of one action, files already stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionUpdates {
    pub properties: Map<String, Value>,
    /// The file the response was stored as (the action's `fileId`, or its binary property).
    pub file: Option<String>,
    /// False when the guard failed at run time: nothing ran.
    pub ran: bool,
}

/// Refusals of client input (nothing changed).
#[derive(Debug)]
pub enum EngineError {
    Submit(SubmitError),
    UnknownStep(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Submit(e) => e.fmt(f),
            EngineError::UnknownStep(s) => write!(f, "the workflow has no step {s}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// The retry policy of an action: `retry: {count, delay}` (`retry: {}` means 3 tries more,
/// 1 s apart; no `retry`: none). Only transport errors, timeouts, 429 and 5xx are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub delay: Duration,
}

impl RetryPolicy {
    pub fn of(retry: Option<&Value>) -> RetryPolicy {
        let Some(Value::Object(r)) = retry else {
            return RetryPolicy {
                retries: 0,
                delay: Duration::ZERO,
            };
        };
        let num = |keys: &[&str]| keys.iter().find_map(|k| r.get(*k).and_then(Value::as_f64));
        let retries = num(&["count", "attempts", "retries", "maxAttempts"])
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(3, |n| n.min(10.0) as u32);
        let delay = num(&["delay", "interval", "backoff"])
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(Duration::from_secs(1), |s| {
                Duration::from_secs_f64(s.min(300.0))
            });
        RetryPolicy { retries, delay }
    }
}

impl Run {
    fn errors_mut(&mut self) -> &mut Vec<Value> {
        let entry = self
            .engine
            .entry("errors")
            .or_insert_with(|| Value::Array(vec![]));
        if !entry.is_array() {
            *entry = Value::Array(vec![]);
        }
        entry.as_array_mut().expect("just made an array")
    }

    fn completed(&self, step: &str) -> usize {
        self.steps
            .iter()
            .filter(|e| e.get("id").and_then(Value::as_str) == Some(step))
            .count()
    }

    fn action_file(&self, action: &str) -> Option<String> {
        self.engine
            .get("actionFiles")
            .and_then(|m| m.get(action))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// One engine run over one session.
pub struct Engine<'a, E: Effects> {
    pub wf: &'a Workflow,
    pub scope: &'a TemplateScope,
    pub fx: &'a mut E,
    budget: usize,
}

impl<'a, E: Effects> Engine<'a, E> {
    pub fn new(wf: &'a Workflow, scope: &'a TemplateScope, fx: &'a mut E) -> Self {
        Engine {
            wf,
            scope,
            fx,
            budget: TRANSITION_BUDGET,
        }
    }

    /// Handles data a client submitted to the step the session waits in (the caller checked
    /// that it is current and validated the data against the step's schema). A value the
    /// step's transformers cannot coerce refuses the submission and changes nothing.
    pub async fn submit(
        &mut self,
        run: &mut Run,
        step_id: &str,
        data: &Value,
    ) -> Result<(), EngineError> {
        let step = self
            .wf
            .step(step_id)
            .ok_or_else(|| EngineError::UnknownStep(step_id.to_owned()))?;
        let props = transform::apply_step_transformers(self.wf, step, data, &run.properties)
            .map_err(EngineError::Submit)?;
        self.set_properties(run, props);
        let result = self.run_step(run, step).await;
        self.record_completion(run, step_id);
        let next = match result {
            Ok(t) => t,
            Err(f) => self.fail(run, f),
        };
        self.follow(run, next).await;
        Ok(())
    }

    /// Enters the session's first step when it is a `PROCESSING` one (a new session).
    pub async fn start(&mut self, run: &mut Run) {
        let Some(step) = self.wf.step(&run.current_step) else {
            return;
        };
        if step.kind == StepKind::Processing && !run.ended {
            let step_id = step.id.clone();
            self.run_processing_from(run, &step_id).await;
        }
    }

    /// The session's lifetime ran out: applies `events.onTimeout` (or ends the session where it
    /// is when the workflow has none).
    pub async fn expire(&mut self, run: &mut Run) {
        if run.ended {
            return;
        }
        run.expires_at = None;
        let now = self.fx.now_ms();
        run.engine
            .insert("timedOutAt".into(), Value::String(crate::time::iso(now)));
        self.fx.trace(Trace::Expired);
        match self.wf.events().on_timeout.clone() {
            Some(t) => {
                let t = Transition {
                    step: t.step,
                    status: t.status,
                    condition: "events.onTimeout".into(),
                };
                self.follow(run, Some(t)).await;
            }
            None => run.ended = true,
        }
    }

    /// Runs one background action's I/O against a snapshot of the session (its `when` guard
    /// is checked again first: properties may have changed since it was queued).
    pub async fn perform_action(
        &mut self,
        run: &Run,
        step_id: &str,
        action_id: &str,
        visit: Option<usize>,
    ) -> ActionOutcome {
        let result = if self.wf.action_applies(action_id, &run.properties) {
            self.call_action(run, step_id, action_id, false).await
        } else {
            self.fx.trace(Trace::ActionSkipped {
                action: action_id.to_owned(),
            });
            Ok(ActionUpdates::default())
        };
        ActionOutcome {
            step: step_id.to_owned(),
            action: action_id.to_owned(),
            visit,
            result,
        }
    }

    /// Merges a background action's outcome into the session; when the session still waits
    /// in the step that queued it, evaluates that step's conditions again and follows them.
    pub async fn complete_action(&mut self, run: &mut Run, outcome: &ActionOutcome) {
        let waiting_here = !run.ended
            && run.current_step == outcome.step
            && outcome.visit.is_none_or(|v| v == run.steps.len());
        match &outcome.result {
            Ok(updates) => {
                self.merge(run, &outcome.action, updates);
                if waiting_here && let Some(step) = self.wf.step(&outcome.step) {
                    self.run_normalizers(run, step);
                    let next = self.wf.evaluate_conditions(step, &run.properties);
                    self.follow(run, next).await;
                }
            }
            Err(f) => {
                if waiting_here {
                    let next = self.fail(run, f.clone());
                    self.follow(run, next).await;
                } else {
                    // The session moved on: the failure is recorded for the operator only.
                    self.record_error(run, f);
                }
            }
        }
    }

    async fn run_processing_from(&mut self, run: &mut Run, step_id: &str) {
        let Some(step) = self.wf.step(step_id) else {
            return;
        };
        let result = self.run_step(run, step).await;
        self.record_completion(run, step_id);
        let next = match result {
            Ok(t) => t,
            Err(f) => self.fail(run, f),
        };
        self.follow(run, next).await;
    }

    /// Actions (sync ones run, async ones queued), normalizers, then conditions.
    async fn run_step(
        &mut self,
        run: &mut Run,
        step: &Step,
    ) -> Result<Option<Transition>, Failure> {
        for a in &step.actions {
            if !self.wf.action_applies(&a.id, &run.properties) {
                self.fx.trace(Trace::ActionSkipped {
                    action: a.id.clone(),
                });
                continue;
            }
            if a.is_async {
                // The step's completion is recorded right after this run: a job belongs to the
                // visit whose completion count is then `len + 1`.
                self.fx.enqueue(&step.id, &a.id, run.steps.len() + 1);
                self.fx.trace(Trace::ActionQueued {
                    step: step.id.clone(),
                    action: a.id.clone(),
                });
                continue;
            }
            let updates = self.call_action(run, &step.id, &a.id, true).await?;
            self.merge(run, &a.id, &updates);
        }
        self.run_normalizers(run, step);
        Ok(self.wf.evaluate_conditions(step, &run.properties))
    }

    /// Follows a transition and every server step after it, until the session waits in a
    /// `DATA` step, ends, or the budget runs out.
    async fn follow(&mut self, run: &mut Run, mut next: Option<Transition>) {
        while let Some(t) = next.take() {
            let t = self.apply_attempts(run, t);
            if !self.enter(run, &t) || run.ended {
                return;
            }
            let Some(step) = self.wf.step(&run.current_step) else {
                return;
            };
            if step.kind != StepKind::Processing {
                self.fx.trace(Trace::Waiting {
                    step: step.id.clone(),
                });
                return;
            }
            if self.budget == 0 {
                let f = Failure {
                    step: step.id.clone(),
                    action: None,
                    message: format!(
                        "more than {TRANSITION_BUDGET} transitions in one run: the workflow's \
                         server steps form a cycle; stopped in step {}",
                        step.id
                    ),
                    retryable: false,
                };
                self.record_error(run, &f);
                // Enter the error step, but run nothing more in this request.
                if let Some(on_error) = self.wf.events().on_error.clone()
                    && on_error.step != step.id
                {
                    let t = Transition {
                        step: on_error.step,
                        status: on_error.status,
                        condition: "events.onError".into(),
                    };
                    self.enter(run, &t);
                }
                return;
            }
            self.budget -= 1;
            let result = self.run_step(run, step).await;
            self.record_completion(run, &step.id);
            next = match result {
                Ok(t) => t,
                Err(f) => self.fail(run, f),
            };
            if next.is_none() {
                self.fx.trace(Trace::Waiting {
                    step: step.id.clone(),
                });
            }
        }
    }

    /// The target itself, or where its `attempts` limit sends the session instead (checked
    /// again for that target, a bounded number of times).
    fn apply_attempts(&self, run: &Run, mut t: Transition) -> Transition {
        for _ in 0..=self.wf.steps().len() {
            let Some(step) = self.wf.step(&t.step) else {
                return t;
            };
            match self.wf.attempts_exceeded(step, run.completed(&step.id)) {
                Some(forced) if forced.step != t.step || forced.status != t.status => {
                    t = Transition {
                        status: forced.status.or(t.status),
                        ..forced
                    };
                }
                _ => return t,
            }
        }
        t
    }

    /// Moves the session into `t.step`. False when the step does not exist (recorded).
    fn enter(&mut self, run: &mut Run, t: &Transition) -> bool {
        let Some(step) = self.wf.step(&t.step) else {
            let f = Failure {
                step: run.current_step.clone(),
                action: None,
                message: format!(
                    "condition {} names step {}, which does not exist",
                    t.condition, t.step
                ),
                retryable: false,
            };
            self.record_error(run, &f);
            return false;
        };
        run.current_step = step.id.clone();
        if let Some(s) = t.status {
            run.status = s;
        }
        run.ended = step.is_final;
        if step.cancel_lifetime_timer {
            run.expires_at = None;
        }
        self.fx.trace(Trace::Entered {
            step: step.id.clone(),
            condition: t.condition.clone(),
            status: t.status,
        });
        true
    }

    /// Records `f` and answers the `onError` transition, if the workflow has one.
    fn fail(&mut self, run: &mut Run, f: Failure) -> Option<Transition> {
        self.record_error(run, &f);
        self.wf.events().on_error.clone().map(|t| Transition {
            step: t.step,
            status: t.status,
            condition: "events.onError".into(),
        })
    }

    fn record_error(&mut self, run: &mut Run, f: &Failure) {
        let at = crate::time::iso(self.fx.now_ms());
        let errors = run.errors_mut();
        errors.push(json!({"step": f.step, "action": f.action, "message": f.message, "at": at}));
        // Bounded: a session that keeps failing keeps its last 50 errors.
        if errors.len() > 50 {
            let excess = errors.len() - 50;
            errors.drain(..excess);
        }
        self.fx.trace(Trace::Error {
            step: f.step.clone(),
            action: f.action.clone(),
            message: f.message.clone(),
        });
    }

    fn record_completion(&mut self, run: &mut Run, step: &str) {
        let attempt = run.completed(step) + 1;
        let at = crate::time::iso(self.fx.now_ms());
        run.steps
            .push(json!({"id": step, "attempt": attempt, "completedAt": at}));
    }

    fn set_properties(&mut self, run: &mut Run, props: Map<String, Value>) {
        for (k, v) in &props {
            if run.properties.get(k) != Some(v) {
                self.fx.trace(Trace::Property {
                    id: k.clone(),
                    value: v.clone(),
                });
            }
        }
        run.properties = props;
    }

    fn merge(&mut self, run: &mut Run, action: &str, updates: &ActionUpdates) {
        let mut props = run.properties.clone();
        for (k, v) in &updates.properties {
            props.insert(k.clone(), v.clone());
        }
        if updates.ran {
            props.insert(format!("{action}_completed"), Value::Bool(true));
        }
        self.set_properties(run, props);
        if let Some(file) = &updates.file {
            let files = run
                .engine
                .entry("actionFiles")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = files {
                m.insert(action.to_owned(), Value::String(file.clone()));
            }
        }
    }

    /// Renders, calls (with the action's retries when `inline`; background jobs retry through
    /// the job table instead), stores and transforms one action's response.
    async fn call_action(
        &mut self,
        run: &Run,
        step_id: &str,
        action_id: &str,
        inline: bool,
    ) -> Result<ActionUpdates, Failure> {
        let wf = self.wf;
        let fail = action_failure(step_id, action_id);
        let Some(action) = wf.action(action_id) else {
            return Err(fail(
                format!("the workflow has no action {action_id}"),
                false,
            ));
        };
        if action.kind == ActionKind::Mrz {
            let body = self.read_mrz(run, action_id).map_err(|m| fail(m, false))?;
            return self
                .take_response(step_id, action, body, "application/json".into())
                .await;
        }
        // Load the binary properties the templates may read with loadFromStorage.
        let options_text = action.options.to_string();
        let mut binaries = HashMap::new();
        if options_text.contains("loadFromStorage") {
            for p in wf.properties() {
                if p.kind != PropertyType::Binary || !options_text.contains(p.id.as_str()) {
                    continue;
                }
                if let Some(Value::String(fid)) = run.properties.get(&p.id) {
                    match self.fx.load_file(fid).await {
                        Ok(bytes) => {
                            binaries.insert(fid.clone(), bytes);
                        }
                        Err(e) => {
                            return Err(fail(format!("cannot read {} ({fid}): {e}", p.id), false));
                        }
                    }
                }
            }
        }
        let request = wf
            .render_action(
                action_id,
                &ActionContext {
                    locale: &self.scope.locale,
                    config: &self.scope.config,
                    session: &self.scope.session,
                    properties: &run.properties,
                    binaries: &binaries,
                },
            )
            .map_err(|e| fail(e.message, false))?;
        drop(binaries);

        let policy = if inline {
            RetryPolicy::of(action.retry.as_ref())
        } else {
            RetryPolicy {
                retries: 0,
                delay: Duration::ZERO,
            }
        };
        let mut tries = 0;
        let response = loop {
            let outcome = self.fx.call(action_id, &request).await;
            let retry_reason = match &outcome {
                Err(e) if e.retryable => Some(e.message.clone()),
                Ok(r)
                    if !request.success_codes.contains(&r.status)
                        && (r.status == 429 || r.status >= 500) =>
                {
                    Some(format!("HTTP {}", r.status))
                }
                _ => None,
            };
            match retry_reason {
                Some(_) if tries < policy.retries => {
                    tries += 1;
                    self.fx.sleep(policy.delay).await;
                }
                _ => break outcome,
            }
        };
        let response = response.map_err(|e| {
            fail(
                format!("{} {} failed: {}", request.method, request.url, e.message),
                e.retryable,
            )
        })?;
        self.fx.trace(Trace::ActionCalled {
            action: action_id.to_owned(),
            method: request.method.clone(),
            url: request.url.clone(),
            status: response.status,
        });
        if !request.success_codes.contains(&response.status) {
            return Err(fail(
                format!(
                    "{} {} answered HTTP {}; the action accepts {:?}",
                    request.method, request.url, response.status, request.success_codes
                ),
                response.status == 429 || response.status >= 500,
            ));
        }
        if !(200..300).contains(&response.status) {
            // A tolerated status (e.g. 404 for "no video"): the action completed with nothing.
            return Ok(ActionUpdates {
                ran: true,
                ..Default::default()
            });
        }
        let content_type = response
            .content_type
            .unwrap_or_else(|| "application/octet-stream".into());
        self.take_response(step_id, action, response.body, content_type)
            .await
    }

    /// Runs an `mrz` action: renders `options.mrz` and reads it with the session clock's date
    /// (UTC). Answers the JSON body its transformers see: [`idv_mrz::Mrz::to_json`], or
    /// `{"valid": false, "error": {code, message}}` when the text is not an MRZ.
    fn read_mrz(&mut self, run: &Run, action_id: &str) -> Result<Vec<u8>, String> {
        let text = self
            .wf
            .render_mrz(
                action_id,
                &ActionContext {
                    locale: &self.scope.locale,
                    config: &self.scope.config,
                    session: &self.scope.session,
                    properties: &run.properties,
                    binaries: &HashMap::new(),
                },
            )
            .map_err(|e| e.message)?;
        let now = self.fx.now_ms();
        let today = chrono::DateTime::from_timestamp_millis(now)
            .ok_or_else(|| format!("the clock reads {now} ms, which is no date"))?
            .date_naive();
        let (body, outcome) = match idv_mrz::parse(&text, today) {
            Ok(mrz) => {
                let body = mrz.to_json(today);
                let outcome = format!(
                    "{} {}",
                    mrz.format,
                    if body["valid"] == Value::Bool(true) {
                        "valid"
                    } else {
                        "not valid"
                    }
                );
                (body, outcome)
            }
            Err(e) => (e.to_json(), format!("not an MRZ ({})", e.code())),
        };
        self.fx.trace(Trace::ActionRan {
            action: action_id.to_owned(),
            kind: ActionKind::Mrz.as_str().to_owned(),
            outcome,
        });
        serde_json::to_vec(&body).map_err(|e| format!("cannot write the MRZ result: {e}"))
    }

    /// Stores an action's result as its `fileId` (if any) and runs its transformers over it:
    /// the common end of HTTP and native actions.
    async fn take_response(
        &mut self,
        step_id: &str,
        action: &Action,
        response: Vec<u8>,
        content_type: String,
    ) -> Result<ActionUpdates, Failure> {
        let wf = self.wf;
        let action_id = action.id.as_str();
        let fail = action_failure(step_id, action_id);
        let mut updates = ActionUpdates {
            ran: true,
            ..Default::default()
        };
        if let Some(file_id) = &action.file_id {
            let ct = wf
                .file(file_id)
                .and_then(|f| f.content_type.clone())
                .unwrap_or_else(|| content_type.clone());
            let id = self
                .fx
                .store_file(NewFile {
                    name: file_id.clone(),
                    step: step_id.to_owned(),
                    property: None,
                    content_type: ct,
                    bytes: response.clone(),
                })
                .await
                .map_err(|e| fail(format!("cannot store the response: {e}"), true))?;
            updates.file = Some(id);
        }
        let mut parsed: Option<Value> = None;
        let mut binary_file: Option<String> = None;
        for tid in &action.transformers {
            let needs_json = wf.transformer(tid).is_some_and(|t| {
                matches!(t.kind, TransformerKind::Json | TransformerKind::EasyJson)
            });
            if needs_json && parsed.is_none() {
                parsed = Some(serde_json::from_slice(&response).map_err(|e| {
                    fail(
                        format!("the response is not JSON ({e}); transformer {tid} needs JSON"),
                        false,
                    )
                })?);
            }
            let body = parsed.as_ref().unwrap_or(&Value::Null);
            match wf.run_transformer(tid, body) {
                Ok(TransformOutcome::Properties(map)) => {
                    for (k, v) in map {
                        let v = match (wf.property_type(&k), v) {
                            (Some(PropertyType::Binary), Value::String(text)) => {
                                let bytes = decode_base64(&text).ok_or_else(|| {
                                    fail(
                                        format!(
                                            "property {k}: transformer {tid} found a value that is not base64 image data"
                                        ),
                                        false,
                                    )
                                })?;
                                let id = self
                                    .fx
                                    .store_file(NewFile {
                                        name: k.clone(),
                                        step: step_id.to_owned(),
                                        property: Some(k.clone()),
                                        content_type: sniff_content_type(&bytes).into(),
                                        bytes,
                                    })
                                    .await
                                    .map_err(|e| fail(format!("cannot store {k}: {e}"), true))?;
                                Value::String(id)
                            }
                            (_, v) => v,
                        };
                        updates.properties.insert(k, v);
                    }
                }
                Ok(TransformOutcome::StoreBinary(props)) => {
                    let id = match &binary_file {
                        Some(id) => id.clone(),
                        None => {
                            let id = self
                                .fx
                                .store_file(NewFile {
                                    name: props
                                        .first()
                                        .cloned()
                                        .unwrap_or_else(|| action_id.to_owned()),
                                    step: step_id.to_owned(),
                                    property: props.first().cloned(),
                                    content_type: content_type.clone(),
                                    bytes: response.clone(),
                                })
                                .await
                                .map_err(|e| {
                                    fail(format!("cannot store the response: {e}"), true)
                                })?;
                            binary_file = Some(id.clone());
                            id
                        }
                    };
                    for p in props {
                        updates.properties.insert(p, Value::String(id.clone()));
                    }
                    if updates.file.is_none() {
                        updates.file = Some(id);
                    }
                }
                Ok(TransformOutcome::Skipped { .. }) => {}
                Err(e) => return Err(fail(format!("transformer {tid}: {e}"), false)),
            }
        }
        Ok(updates)
    }

    /// Computes the step's normalizers into `engine.normalized` (one block per normalizer id,
    /// replaced each time it runs).
    fn run_normalizers(&mut self, run: &mut Run, step: &Step) {
        if step.normalizers.is_empty() {
            return;
        }
        let now = crate::time::iso(self.fx.now_ms());
        let mut list: Vec<Value> = run
            .engine
            .get("normalized")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for nid in &step.normalizers {
            let Some(block) = self.normalize(run, nid, &now) else {
                continue;
            };
            match list
                .iter_mut()
                .find(|b| b.get("id").and_then(Value::as_str) == Some(nid))
            {
                Some(slot) => *slot = block,
                None => list.push(block),
            }
        }
        run.engine.insert("normalized".into(), Value::Array(list));
    }

    fn normalize(&self, run: &Run, id: &str, now: &str) -> Option<Value> {
        let n = self.wf.normalizer(id)?;
        let mut rules = Vec::new();
        let (mut failed, mut pending) = (false, false);
        for r in &n.rules {
            let rule = self.wf.rule(&r.id);
            let result = rule.and_then(|rule| rule.evaluate(&run.properties));
            match result {
                Some(v) if v == r.decision => {}
                Some(_) => failed = true,
                None => pending = true,
            }
            rules.push(json!({
                "id": r.id,
                "name": rule.map(|r| r.name.clone()),
                "expected": r.decision,
                "result": result,
            }));
        }
        let decision = if failed {
            "failed"
        } else if pending {
            "pending"
        } else {
            "passed"
        };
        let identifier = n
            .raw
            .get("identifier")
            .and_then(|i| i.get("property"))
            .and_then(Value::as_str)
            .and_then(|p| run.properties.get(p))
            .cloned();
        let options = n
            .raw
            .get("options")
            .map(|o| self.resolve_refs(run, o))
            .unwrap_or(Value::Null);
        Some(json!({
            "id": n.id,
            "name": n.name,
            "type": n.kind,
            "group": n.raw.get("group").cloned().unwrap_or(Value::Null),
            "decision": decision,
            "identifier": identifier,
            "rules": rules,
            "results": options,
            "updatedAt": now,
        }))
    }

    /// Replaces `{actionId: X}` with the file that action stored and `{property: P}` with the
    /// property's value (binary properties become `{fileId}`), anywhere in `v`.
    fn resolve_refs(&self, run: &Run, v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 && m.contains_key("actionId") => {
                match m
                    .get("actionId")
                    .and_then(Value::as_str)
                    .and_then(|a| run.action_file(a))
                {
                    Some(fid) => json!({"fileId": fid}),
                    None => Value::Null,
                }
            }
            Value::Object(m) if m.len() == 1 && m.contains_key("property") => {
                let Some(p) = m.get("property").and_then(Value::as_str) else {
                    return Value::Null;
                };
                match (self.wf.property_type(p), run.properties.get(p)) {
                    (Some(PropertyType::Binary), Some(Value::String(fid))) => {
                        json!({"fileId": fid})
                    }
                    (_, Some(v)) => v.clone(),
                    (_, None) => Value::Null,
                }
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve_refs(run, v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve_refs(run, v)).collect()),
            other => other.clone(),
        }
    }
}

/// Base64 image data as Document Reader returns it (standard alphabet, maybe a `data:` URL
/// prefix, maybe line breaks).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = match text.find(";base64,") {
        Some(i) if text.starts_with("data:") => &text[i + 8..],
        _ => text,
    };
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.as_bytes()))
        .ok()
        .filter(|b| !b.is_empty())
}

/// The content type of common image and video bytes.
pub fn sniff_content_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "video/mp4",
        _ => "application/octet-stream",
    }
}

impl Workflow {
    /// The workflow's `view` block applied to a session's properties: `{title, photo, fields}`
    /// (`photo` is `{fileId}` of the first set photo property). `None` when there is no view.
    /// Whether the workflow has a `view` block (else [`Self::view_summary`] is always `None`).
    pub fn has_view(&self) -> bool {
        self.definition().get("view").is_some()
    }

    pub fn view_summary(&self, properties: &Map<String, Value>) -> Option<Value> {
        let view = self.definition().get("view")?;
        let ids = |v: Option<&Value>| -> Vec<String> {
            v.and_then(|v| v.get("propertyIds"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let title: Vec<String> = ids(view.get("title"))
            .iter()
            .filter_map(|p| properties.get(p))
            .filter(|v| !v.is_null())
            .map(text)
            .collect();
        let photo = ids(view.get("photo"))
            .iter()
            .find_map(|p| properties.get(p).and_then(Value::as_str))
            .map(|fid| json!({"fileId": fid}));
        let fields: Vec<Value> = view
            .get("fields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        let pid = f.get("propertyId")?.as_str()?;
                        Some(json!({
                            "propertyId": pid,
                            "name": f.get("name").cloned().unwrap_or(Value::Null),
                            "value": properties.get(pid).cloned().unwrap_or(Value::Null),
                        }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(json!({
            "title": if title.is_empty() { Value::Null } else { Value::String(title.join(" ")) },
            "photo": photo,
            "fields": fields,
        }))
    }
}
