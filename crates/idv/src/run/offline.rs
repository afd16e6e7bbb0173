//! The engine's effects for `idv workflow run`: HTTP calls answered from the steps file's
//! canned responses, files kept in memory, background actions kept in a queue the caller
//! drains, sleeping that only moves the clock, and every trace event printed as one line.

use super::steps_file::Canned;
use idv_core::workflow::engine::{ActionResponse, CallError, Effects, NewFile, Trace};
use idv_core::workflow::{PropertyType, RenderedRequest, Workflow};
use serde_json::Value;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::time::Duration;

/// Where the trace lines go: standard output, or standard error when the final state is
/// printed as JSON (so standard output stays one JSON document).
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub to_stderr: bool,
}

impl Out {
    pub fn line(&self, text: &str) {
        // A closed pipe (`| head`) is not worth a panic.
        let _ = if self.to_stderr {
            writeln!(std::io::stderr().lock(), "{text}")
        } else {
            writeln!(std::io::stdout().lock(), "{text}")
        };
    }
}

/// A file the run stored, with its bytes.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub id: String,
    pub file: NewFile,
}

/// A background action waiting to run.
#[derive(Debug, Clone)]
pub struct Job {
    pub step: String,
    pub action: String,
    pub visit: usize,
}

/// Request bodies longer than this are cut in `--verbose` output.
const SHOWN_BODY: usize = 2000;

pub struct Offline<'w> {
    wf: &'w Workflow,
    canned: HashMap<String, Vec<Canned>>,
    /// Calls so far per action, to pick the next answer from a list.
    calls: HashMap<String, usize>,
    pub files: Vec<StoredFile>,
    pub queue: VecDeque<Job>,
    /// A clock that starts at the real time and moves 1 ms per reading and by every sleep, so
    /// timestamps stay in order and nothing waits.
    clock: Cell<i64>,
    pub out: Out,
    verbose: bool,
    /// Set when the engine enters a step; the caller clears it.
    pub entered: bool,
    /// The action and outcome of the last call that failed: a sleep after it is a retry.
    failed_call: Option<(String, String)>,
}

impl<'w> Offline<'w> {
    pub fn new(
        wf: &'w Workflow,
        canned: HashMap<String, Vec<Canned>>,
        start_ms: i64,
        out: Out,
        verbose: bool,
    ) -> Self {
        Offline {
            wf,
            canned,
            calls: HashMap::new(),
            files: Vec::new(),
            queue: VecDeque::new(),
            clock: Cell::new(start_ms),
            out,
            verbose,
            entered: false,
            failed_call: None,
        }
    }

    /// Moves the clock on (a background action's backoff).
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        self.clock.set(self.clock.get().saturating_add(ms));
    }

    pub fn line(&self, text: &str) {
        self.out.line(text);
    }

    /// Keeps a file in memory; ids are 24 hex digits like the server's, counted from 1 so
    /// that runs print the same thing every time.
    pub fn keep(&mut self, file: NewFile) -> String {
        let id = format!("{:024x}", self.files.len() + 1);
        self.files.push(StoredFile {
            id: id.clone(),
            file,
        });
        id
    }

    pub fn file(&self, id: &str) -> Option<&StoredFile> {
        self.files.iter().find(|f| f.id == id)
    }

    /// A property value as the output shows it: JSON, or `<file N bytes>` for a binary
    /// property that holds a stored file's id.
    pub fn show(&self, property: &str, value: &Value) -> String {
        if self.wf.property_type(property) == Some(PropertyType::Binary)
            && let Some(f) = value.as_str().and_then(|id| self.file(id))
        {
            return format!("<file {} bytes>", f.file.bytes.len());
        }
        value.to_string()
    }

    fn show_request(&self, action: &str, request: &RenderedRequest) {
        self.line(&format!(
            "  request {action} {} {}",
            request.method, request.url
        ));
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            let secret = [
                "authorization",
                "cookie",
                "api-key",
                "apikey",
                "token",
                "secret",
            ]
            .iter()
            .any(|s| lower.contains(s));
            if secret {
                self.line(&format!("    {name}: <hidden, {} characters>", value.len()));
            } else {
                self.line(&format!("    {name}: {value}"));
            }
        }
        if let Some(body) = &request.body {
            self.line("    body:");
            let shown = match body.char_indices().nth(SHOWN_BODY) {
                Some((cut, _)) => &body[..cut],
                None => body.as_str(),
            };
            for l in shown.lines() {
                self.line(&format!("      {l}"));
            }
            if shown.len() < body.len() {
                self.line(&format!("      … ({} bytes in all)", body.len()));
            }
        }
    }
}

/// `2 verified`.
pub fn status_text(status: i64) -> String {
    format!(
        "{status} {}",
        idv_core::status::name(status).unwrap_or("unknown")
    )
}

impl Effects for Offline<'_> {
    fn now_ms(&self) -> i64 {
        let now = self.clock.get();
        self.clock.set(now + 1);
        now
    }

    async fn call(
        &mut self,
        action: &str,
        request: &RenderedRequest,
    ) -> Result<ActionResponse, CallError> {
        if self.verbose {
            self.show_request(action, request);
        }
        let n = self.calls.entry(action.to_owned()).or_insert(0);
        let index = *n;
        *n += 1;
        let Some(answers) = self.canned.get(action) else {
            return Err(CallError {
                message: format!(
                    "no canned response for action {action} (add one under \"actions\" in the \
                     steps file)"
                ),
                retryable: false,
            });
        };
        // The last answer repeats.
        let answer = match &answers[index.min(answers.len() - 1)] {
            Canned::Response(r) => Ok(r.clone()),
            // The server's words for its own timeout (`flow::ServerEffects::call`).
            Canned::Error(e) if e.eq_ignore_ascii_case("timeout") => Err(CallError {
                message: format!(
                    "timed out after {} s (the action's timeout)",
                    request.timeout.as_secs_f64()
                ),
                retryable: true,
            }),
            Canned::Error(e) => Err(CallError {
                message: e.clone(),
                retryable: true,
            }),
        };
        self.failed_call = match &answer {
            Ok(r) if request.success_codes.contains(&r.status) => None,
            Ok(r) => Some((action.to_owned(), format!("HTTP {}", r.status))),
            Err(e) => Some((action.to_owned(), e.message.clone())),
        };
        answer
    }

    async fn load_file(&mut self, file_id: &str) -> Result<Vec<u8>, String> {
        self.file(file_id)
            .map(|f| f.file.bytes.clone())
            .ok_or_else(|| format!("the session has no file {file_id}"))
    }

    async fn store_file(&mut self, file: NewFile) -> Result<String, String> {
        Ok(self.keep(file))
    }

    fn enqueue(&mut self, step: &str, action: &str, visit: usize) {
        self.queue.push_back(Job {
            step: step.to_owned(),
            action: action.to_owned(),
            visit,
        });
    }

    /// The engine sleeps only between tries of an action: says so and moves the clock.
    async fn sleep(&mut self, d: Duration) {
        if let Some((action, why)) = self.failed_call.take() {
            self.line(&format!(
                "  retry {action} after {} s: {why}",
                d.as_secs_f64()
            ));
        }
        self.advance(d);
    }

    fn trace(&mut self, event: Trace) {
        let text = match event {
            Trace::Entered {
                step,
                condition,
                status,
            } => {
                self.entered = true;
                match status {
                    Some(s) => format!(
                        "  enter {step} via {condition:?} (status {})",
                        status_text(s)
                    ),
                    None => format!("  enter {step} via {condition:?}"),
                }
            }
            Trace::Property { id, value } => {
                format!("  property {id} = {}", self.show(&id, &value))
            }
            Trace::ActionCalled {
                action,
                method,
                url,
                status,
            } => format!("  action {action} {method} {url} → {status}"),
            Trace::ActionRan {
                action,
                kind,
                outcome,
            } => format!("  action {action} ({kind}) → {outcome}"),
            Trace::ActionSkipped { action } => {
                format!("  skip {action}: its `when` does not hold")
            }
            Trace::ActionQueued { action, .. } => format!("  queued {action}"),
            Trace::Error {
                step,
                action: Some(action),
                message,
            } => format!("  error in {step} ({action}): {message}"),
            Trace::Error {
                step,
                action: None,
                message,
            } => format!("  error in {step}: {message}"),
            Trace::Waiting { step } => format!("  waiting in {step}"),
            // The caller's `expire` line says it.
            Trace::Expired => return,
        };
        self.line(&text);
    }
}
