//! `idv workflow run FILE --data STEPS.json`: runs a workflow offline, without a server or a
//! database, as a workflow author's test bench. The steps file's submissions go through the
//! same engine the server runs, in order; HTTP actions answer from the file's canned responses
//! (`mrz` actions need none: they run natively);
//! every transition, property change, action call, queued action and error prints as one line;
//! a summary of the final state (or, with `--json`, the state as one JSON document) ends it.
//!
//! Background (`async: true`) actions run right after the submission that queued them, before
//! the next one, in the order they were queued, with the retries the server's job table would
//! give them: as if they finished promptly. Nothing waits: retry delays only move the clock.
//!
//! Exit status: 0 when every step ran (wherever the session ended up), 1 when a step was
//! refused or the workflow is invalid, 2 when a file cannot be read or the steps file is wrong.

mod offline;
mod steps_file;

use idv_core::time::Clock as _;
use idv_core::workflow::engine::{Engine, NewFile, RetryPolicy, Run, TemplateScope};
use idv_core::workflow::{Loaded, StepKind, Workflow};
use offline::{Offline, Out, status_text};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use steps_file::StepsFile;

/// The steps file format, shown by `idv workflow run --help`.
pub const STEPS_HELP: &str = r#"STEPS.json:
  {"locale": "en-us",                      session locale (default: the workflow's defaultLocale)
   "metadata": {"externalUserId": "u-1"},  session metadata, seen by templates as session.metadata
   "config": {"baseUrl": "http://localhost:8000",
              "services": {"docreader": {"url": "http://docreader"},
                           "faceapi": {"url": "http://faceapi"}}},
                                           merged over these defaults (prefixes drapi, faceapi)
   "steps": [{"step": "ONBOARDING", "data": {"continue": true}}, ...],
                                           submissions, in order
   "actions": {                            canned answers of the workflow's HTTP actions
     "GET_DOCREADER_RESULTS": {"status": 200, "body": {...}},       body: JSON
     "GET_LIVENESS_PORTRAIT": {"bodyBase64": "/9j/4AAQ...", "contentType": "image/jpeg"},
     "GET_DOC_VIDEO": {"bodyFile": "video.mp4"},    relative to STEPS.json
     "LIVENESS_STATUS": [{"body": {"status": 1}}, {"body": {"status": 0}}],
                                           a list: one per call, the last one repeats
     "SLOW": {"error": "timeout"}},        no response: "timeout" or a transport error message
   "expire": false}                        true: end the lifetime after the steps (as --expire)

  status defaults to 200; contentType defaults to application/json for body, else is sniffed.
  An action without a canned answer fails like an unreachable service: an error event, which
  the workflow's events.onError handles. `mrz` actions take no canned answer: they read the
  MRZ natively, as the server does, with today's date.

Background (async: true) actions run right after the submission that queued them, in order,
with the retries the server's job queue gives them. Nothing waits: retry delays take no time.

Output: one line per event (start, submit, background, expire; indented below them: property,
action, request with --verbose, retry, queued, skip, enter, waiting, error, refused), then a
summary. With --json the events go to standard error and standard output holds only the final
state.

Exit status: 0 every step ran; 1 a step was refused or the workflow is invalid; 2 a file cannot
be read or the steps file is wrong (the message names the place, e.g. actions.X[1].status)."#;

/// Background actions one submission may set off, in all, before the run is declared a cycle.
const BACKGROUND_BUDGET: usize = 256;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The workflow file (YAML or JSON).
    file: PathBuf,
    /// The steps file: submissions and canned action responses (format below).
    #[arg(long, value_name = "STEPS.json")]
    data: PathBuf,
    /// A localization file (Regula's translations YAML) for the templates' `locale` strings.
    #[arg(long, value_name = "FILE")]
    locale_file: Option<PathBuf>,
    /// After the steps, let the session's lifetime run out (events.onTimeout).
    #[arg(long)]
    expire: bool,
    /// Print the final state as one JSON document on standard output (events on standard
    /// error).
    #[arg(long)]
    json: bool,
    /// Also print every rendered request: method, URL, headers and body.
    #[arg(long, short)]
    verbose: bool,
}

/// Why the run stopped early (a refused submission, or background actions without end): exit 1.
struct Refused {
    step: String,
    message: String,
}

/// Reads the inputs, runs the session and prints it.
pub fn run(args: &RunArgs) -> ExitCode {
    let (wf, steps, translations) = match read_inputs(args) {
        Ok(inputs) => inputs,
        Err((code, message)) => {
            eprintln!("{message}");
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(simulate(args, &wf, steps, translations))
}

/// The workflow, the steps file and the translations, or the exit code and message.
fn read_inputs(
    args: &RunArgs,
) -> Result<
    (
        Workflow,
        StepsFile,
        Vec<idv_core::workflow::TranslationEntry>,
    ),
    (u8, String),
> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| (2, format!("{}: cannot read: {e}", path.display())))
    };
    let shown = args.file.display();
    let wf = match idv_core::workflow::load(&read(&args.file)?) {
        Ok(Loaded::Workflow(wf)) => *wf,
        Ok(Loaded::Translations(_)) => {
            return Err((
                1,
                format!("{shown}: this is a localization file; give a workflow file"),
            ));
        }
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("{shown}: {p}")).collect();
            return Err((
                1,
                format!(
                    "{}\n{shown}: the workflow is invalid ({} problem(s)); \
                     `idv workflow lint` says more",
                    lines.join("\n"),
                    problems.len()
                ),
            ));
        }
    };
    let dir = args
        .data
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let steps = steps_file::parse(&read(&args.data)?, &dir, &wf)
        .map_err(|m| (2, format!("{}: {m}", args.data.display())))?;
    let translations = match &args.locale_file {
        None => Vec::new(),
        Some(path) => match idv_core::workflow::load(&read(path)?) {
            Ok(Loaded::Translations(entries)) => entries,
            Ok(Loaded::Workflow(_)) => {
                return Err((
                    2,
                    format!(
                        "{}: this is a workflow; --locale-file takes a localization file",
                        path.display()
                    ),
                ));
            }
            Err(problems) => {
                let lines: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {p}", path.display()))
                    .collect();
                return Err((2, lines.join("\n")));
            }
        },
    };
    Ok((wf, steps, translations))
}

async fn simulate(
    args: &RunArgs,
    wf: &Workflow,
    mut steps: StepsFile,
    translations: Vec<idv_core::workflow::TranslationEntry>,
) -> ExitCode {
    let now = idv_core::time::SystemClock.now_ms();
    let locale = steps
        .locale
        .clone()
        .unwrap_or_else(|| wf.default_locale().unwrap_or("en-us").to_ascii_lowercase());
    let mut codes: Vec<String> = translations.iter().map(|t| t.code.clone()).collect();
    codes.sort_unstable();
    codes.dedup();
    let chain = idv_core::workflow::locale_chain(Some(&locale), wf.default_locale(), &codes);
    // A dry run's session: a fixed id, so that output is the same every time.
    let session_id = "0".repeat(24);
    let mut scope = TemplateScope {
        locale: idv_core::workflow::translations_for(&translations, &chain),
        config: steps.config.clone(),
        session: json!({
            "id": session_id,
            "locale": locale,
            "status": idv_core::status::NOT_COMPLETED,
            "metadata": steps.metadata,
        }),
    };
    let first = wf.first_step();
    let mut run = Run {
        properties: Map::new(),
        current_step: first.id.clone(),
        status: idv_core::status::NOT_COMPLETED,
        ended: first.is_final,
        steps: Vec::new(),
        engine: Map::new(),
        expires_at: wf
            .lifetime()
            .filter(|l| *l > 0)
            .map(|l| now.saturating_add(l.saturating_mul(1000))),
    };
    let out = Out {
        to_stderr: args.json,
    };
    let canned = std::mem::take(&mut steps.actions);
    let mut fx = Offline::new(wf, canned, now, out, args.verbose);

    fx.line(&format!(
        "start  session in {} (status {})",
        run.current_step,
        status_text(run.status)
    ));
    Engine::new(wf, &scope, &mut fx).start(&mut run).await;
    let mut refused = drain(wf, &mut scope, &mut fx, &mut run).await.err();

    if refused.is_none() {
        for sub in &steps.steps {
            fx.line(&format!("submit {} {}", sub.step, sub.data));
            // Templates see the session as it is now, as on the server.
            scope.session["status"] = json!(run.status);
            if let Err(r) = submit(wf, &scope, &mut fx, &mut run, &sub.step, &sub.data).await {
                refused = Some(r);
                break;
            }
            if let Err(r) = drain(wf, &mut scope, &mut fx, &mut run).await {
                refused = Some(r);
                break;
            }
        }
    }
    if refused.is_none() && (args.expire || steps.expire) {
        if run.ended {
            fx.line(&format!(
                "expire the session has ended in {}: its lifetime no longer applies",
                run.current_step
            ));
        } else if run.expires_at.is_none() {
            // As on the server: only a running lifetime ends.
            fx.line(&format!(
                "expire no lifetime is running in {} (the workflow has no lifetime, or a step \
                 with cancelLifetimeTimer stopped it): nothing happens",
                run.current_step
            ));
        } else {
            fx.line(&format!("expire lifetime ends in {}", run.current_step));
            scope.session["status"] = json!(run.status);
            Engine::new(wf, &scope, &mut fx).expire(&mut run).await;
            if wf.events().on_timeout.is_none() {
                fx.line(&format!(
                    "  the session ends in {} (the workflow has no events.onTimeout)",
                    run.current_step
                ));
            }
            refused = drain(wf, &mut scope, &mut fx, &mut run).await.err();
        }
    }

    if args.json {
        let doc = final_state(wf, &fx, &run, &session_id, &locale, refused.as_ref());
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
        );
    } else {
        summary(wf, &fx, &run);
    }
    if refused.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One submission, checked as the server checks it (`ops::sessions::submit_data`).
async fn submit(
    wf: &Workflow,
    scope: &TemplateScope,
    fx: &mut Offline<'_>,
    run: &mut Run,
    step_id: &str,
    data: &Value,
) -> Result<(), Refused> {
    let refuse = |fx: &Offline<'_>, message: String| {
        fx.line(&format!("  refused: {message}"));
        Refused {
            step: step_id.to_owned(),
            message,
        }
    };
    let Some(step) = wf.step(step_id) else {
        return Err(refuse(fx, format!("the workflow has no step {step_id}")));
    };
    if run.ended {
        return Err(refuse(
            fx,
            format!(
                "the session has ended in step {}; nothing more can be submitted",
                run.current_step
            ),
        ));
    }
    if run.current_step != step_id {
        return Err(refuse(
            fx,
            format!(
                "the session waits in step {}, not {step_id}",
                run.current_step
            ),
        ));
    }
    if step.kind == StepKind::Processing {
        return Err(refuse(
            fx,
            format!("step {step_id} is run by the server and takes no client data"),
        ));
    }
    if let Err(violations) = wf.validate_step_data(step, data) {
        let r = refuse(
            fx,
            format!("the data does not match the schema of step {step_id}:"),
        );
        for v in &violations {
            let path = if v.path.is_empty() { "/" } else { &v.path };
            fx.line(&format!("    {path}: {}", v.message));
        }
        return Err(r);
    }
    // The server keeps the submitted data as a session file first.
    let files_before = fx.files.len();
    fx.keep(NewFile {
        name: step
            .file_id
            .clone()
            .unwrap_or_else(|| format!("{step_id}.json")),
        step: step_id.to_owned(),
        property: None,
        content_type: "application/json".into(),
        bytes: data.to_string().into_bytes(),
    });
    fx.entered = false;
    if let Err(e) = Engine::new(wf, scope, fx).submit(run, step_id, data).await {
        // Nothing changed, and the server keeps no file of refused data.
        fx.files.truncate(files_before);
        return Err(refuse(fx, e.to_string()));
    }
    // The engine says `waiting` when it enters a step; a step that stays says nothing.
    if !fx.entered && !run.ended {
        fx.line(&format!("  waiting in {}", run.current_step));
    }
    Ok(())
}

/// Runs every queued background action, in order, as the server's job workers would
/// (`flow::run_job`): the action's I/O, retried while the failure is retryable and tries are
/// left, then its merge into the session. Actions queued meanwhile run too.
async fn drain(
    wf: &Workflow,
    scope: &mut TemplateScope,
    fx: &mut Offline<'_>,
    run: &mut Run,
) -> Result<(), Refused> {
    let mut ran = 0;
    while let Some(job) = fx.queue.pop_front() {
        ran += 1;
        if ran > BACKGROUND_BUDGET {
            let message = format!(
                "more than {BACKGROUND_BUDGET} background actions after one submission: the \
                 workflow's actions keep queueing each other"
            );
            fx.line(&format!("  stopped: {message}"));
            return Err(Refused {
                step: run.current_step.clone(),
                message,
            });
        }
        // The job table's rule: at least 3 tries for a retryable failure.
        let policy = RetryPolicy::of(wf.action(&job.action).and_then(|a| a.retry.as_ref()));
        let tries = policy.retries.max(2) + 1;
        let mut attempt = 1;
        loop {
            let tried = if attempt > 1 {
                format!(", try {attempt}")
            } else {
                String::new()
            };
            fx.line(&format!(
                "background {} (queued in {}{tried})",
                job.action, job.step
            ));
            scope.session["status"] = json!(run.status);
            let outcome = Engine::new(wf, scope, fx)
                .perform_action(run, &job.step, &job.action, Some(job.visit))
                .await;
            if let Err(f) = &outcome.result
                && f.retryable
                && attempt < tries
            {
                fx.line(&format!("  failed, will try again: {}", f.message));
                let backoff = std::time::Duration::from_millis(1_000 << attempt.min(6));
                fx.advance(backoff.max(policy.delay));
                attempt += 1;
                continue;
            }
            Engine::new(wf, scope, fx)
                .complete_action(run, &outcome)
                .await;
            break;
        }
    }
    Ok(())
}

/// The final state in words.
fn summary(wf: &Workflow, fx: &Offline<'_>, run: &Run) {
    let say = |s: String| fx.line(&s);
    say(String::new());
    let kind = match wf.step(&run.current_step) {
        Some(s) if s.is_final => " (final)",
        _ => "",
    };
    say(format!("step       {}{kind}", run.current_step));
    say(format!("status     {}", status_text(run.status)));
    say(format!(
        "ended      {}",
        if run.ended { "yes" } else { "no" }
    ));
    let mut names: Vec<&String> = run.properties.keys().collect();
    names.sort();
    say(format!("properties {}", names.len()));
    for name in names {
        say(format!(
            "  {name} = {}",
            fx.show(name, &run.properties[name])
        ));
    }
    let errors = run
        .engine
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    say(format!("errors     {}", errors.len()));
    for e in &errors {
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
        let action = match text("action") {
            "" => String::new(),
            a => format!(" ({a})"),
        };
        say(format!(
            "  in {}{action}: {}",
            text("step"),
            text("message")
        ));
    }
    let blocks = run
        .engine
        .get("normalized")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    say(format!("normalized {}", blocks.len()));
    for b in &blocks {
        let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default();
        // Which rules decided a block that did not pass.
        let why: Vec<String> = b
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("result") != r.get("expected"))
            .map(|r| {
                let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                match r.get("result") {
                    Some(Value::Bool(v)) => format!("{id} is {v}"),
                    _ => format!("{id} does not apply yet"),
                }
            })
            .collect();
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join(", "))
        };
        say(format!(
            "  {} ({}): {}{why}",
            text("id"),
            text("type"),
            text("decision")
        ));
    }
    if let Some(view) = wf.view_summary(&run.properties) {
        say("view".into());
        say(format!("  title: {}", view["title"]));
        let photo = match view["photo"]["fileId"].as_str().and_then(|id| fx.file(id)) {
            Some(f) => format!("<file {} bytes>", f.file.bytes.len()),
            None => "null".into(),
        };
        say(format!("  photo: {photo}"));
        for f in view["fields"].as_array().into_iter().flatten() {
            let name = match &f["name"] {
                Value::String(s) => s.clone(),
                _ => f["propertyId"].as_str().unwrap_or_default().to_owned(),
            };
            say(format!("  {name}: {}", f["value"]));
        }
    }
}

/// The final state as one JSON document (`--json`).
fn final_state(
    wf: &Workflow,
    fx: &Offline<'_>,
    run: &Run,
    session_id: &str,
    locale: &str,
    refused: Option<&Refused>,
) -> Value {
    let files: Vec<Value> = fx
        .files
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.file.name,
                "step": f.file.step,
                "property": f.file.property,
                "contentType": f.file.content_type,
                "size": f.file.bytes.len(),
            })
        })
        .collect();
    json!({
        "workflow": {"id": wf.id(), "name": wf.name()},
        "session": {"id": session_id, "locale": locale},
        "currentStep": run.current_step,
        "status": run.status,
        "statusName": idv_core::status::name(run.status),
        "ended": run.ended,
        "properties": run.properties,
        "steps": run.steps,
        "errors": run.engine.get("errors").cloned().unwrap_or(json!([])),
        "normalized": run.engine.get("normalized").cloned().unwrap_or(json!([])),
        "view": wf.view_summary(&run.properties),
        "files": files,
        "refused": refused.map(|r| json!({"step": r.step, "message": r.message})),
    })
}
