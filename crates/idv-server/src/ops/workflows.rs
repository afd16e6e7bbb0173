//! Loading workflow and localization documents: from the CLI, over HTTP, and from the
//! workflows folders at start. A document is recognised by its shape.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use idv_core::ErrorCode;
use idv_core::workflow::{Loaded, Problem, TranslationEntry, Workflow};
use idv_store::WorkflowId;
use idv_store::{NewWorkflow, WorkflowRecord};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use crate::api::workflows::{
    RefusedFile, ReloadSummary, ReloadedTranslations, ReloadedWorkflow, WorkflowSummary,
};

impl From<&WorkflowRecord> for WorkflowSummary {
    fn from(r: &WorkflowRecord) -> Self {
        WorkflowSummary {
            id: r.id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            version: r.version.clone(),
            default_locale: r.default_locale.clone(),
        }
    }
}

/// What applying a document did.
#[derive(Debug)]
pub enum Applied {
    Workflow {
        summary: WorkflowSummary,
        revision: i64,
        changed: bool,
    },
    Translations {
        entries: usize,
        codes: Vec<String>,
    },
}

/// Which kinds of document the caller accepts here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Any,
    Workflow,
    Translations,
}

/// The 400 for a document with problems: every problem, with path and line, in `details`.
pub(crate) fn problems_error(problems: &[Problem]) -> ApiError {
    ApiError(idv_core::workflow::problems_error(
        ErrorCode::InvalidWorkflow,
        problems,
    ))
}

/// Parses, validates and stores one document.
pub async fn apply(
    state: &AppState,
    text: &str,
    owner: Option<&str>,
    expect: Expect,
) -> ApiResult<Applied> {
    match idv_core::workflow::load(text).map_err(|p| problems_error(&p))? {
        Loaded::Workflow(wf) => {
            if expect == Expect::Translations {
                return Err(ApiError::new(
                    ErrorCode::InvalidTranslations,
                    "this is a workflow definition; send it to POST /api/workflows",
                ));
            }
            store_workflow(state, &wf, owner).await
        }
        Loaded::Translations(entries) => {
            if expect == Expect::Workflow {
                return Err(ApiError::new(
                    ErrorCode::InvalidWorkflow,
                    "this is a localization file (a list of key/code/value); send it to POST /api/translations",
                ));
            }
            store_translations(state, &entries).await
        }
    }
}

async fn store_workflow(
    state: &AppState,
    wf: &Workflow,
    owner: Option<&str>,
) -> ApiResult<Applied> {
    let summary = WorkflowSummary {
        id: wf.id().to_string(),
        name: wf.name().to_string(),
        description: wf.description().map(str::to_string),
        version: wf.version().map(str::to_string),
        default_locale: wf.default_locale().map(str::to_string),
    };
    if let Some(current) = state.store.workflow_get(WorkflowId::new(wf.id())).await?
        && &current.definition == wf.definition()
    {
        return Ok(Applied::Workflow {
            summary,
            revision: current.revision,
            changed: false,
        });
    }
    let revision = state
        .store
        .workflow_put(&NewWorkflow {
            id: summary.id.clone(),
            name: summary.name.clone(),
            description: summary.description.clone(),
            version: summary.version.clone(),
            default_locale: summary.default_locale.clone(),
            definition: wf.definition().clone(),
            owner_id: owner.map(str::to_string),
            created_at: state.clock.now_ms(),
        })
        .await?;
    state
        .changed(crate::cluster::Change::Workflow(&summary.id))
        .await;
    Ok(Applied::Workflow {
        summary,
        revision,
        changed: true,
    })
}

async fn store_translations(state: &AppState, entries: &[TranslationEntry]) -> ApiResult<Applied> {
    state.store.translations_put(entries).await?;
    state.changed(crate::cluster::Change::Translations).await;
    let mut codes: Vec<String> = entries.iter().map(|r| r.code.clone()).collect();
    codes.sort();
    codes.dedup();
    Ok(Applied::Translations {
        entries: entries.len(),
        codes,
    })
}

/// Loads every `.yaml`, `.yml` and `.json` file in the configured folders. A broken file is
/// logged with all its problems and skipped; the others still load.
pub(crate) async fn load_folders(state: &AppState) -> Vec<(String, Result<Applied, String>)> {
    load_folder_files(state)
        .await
        .into_iter()
        .map(|(path, outcome)| {
            (
                path.display().to_string(),
                outcome.map_err(|e| describe(&e)),
            )
        })
        .collect()
}

/// Each document file of the folders, in name order, and what applying it did. Applying is
/// serialised within this process, so a scheduled reload and `POST /api/workflows/reload` at
/// the same moment store one new revision, not two.
async fn load_folder_files(state: &AppState) -> Vec<(PathBuf, ApiResult<Applied>)> {
    static RELOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = RELOADING.lock().await;
    let mut results = Vec::new();
    if !state.documents.is_empty() {
        for folder in &state.documents {
            load_stored_folder(state, folder, &mut results).await;
        }
        return results;
    }
    for dir in state.config.workflow_dirs() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_document(p))
            .collect();
        paths.sort();
        for path in paths {
            let outcome = match std::fs::read_to_string(&path) {
                Ok(text) => apply(state, &text, None, Expect::Any).await,
                Err(e) => Err(ApiError::new(
                    ErrorCode::InvalidWorkflow,
                    format!("cannot read: {e}"),
                )),
            };
            results.push((path, outcome));
        }
    }
    results
}

/// Loads the workflows and localization folders again. A file whose content changed becomes a
/// new revision (sessions already running keep theirs); an unchanged one stores nothing; a
/// broken or unreadable one is reported and changes nothing; a removed one deletes nothing.
pub async fn reload(state: &AppState) -> ReloadSummary {
    let root = state.config.data_dir();
    let mut summary = ReloadSummary::default();
    for (path, outcome) in load_folder_files(state).await {
        let file = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        match outcome {
            Ok(Applied::Workflow {
                summary: s,
                revision,
                changed,
            }) => summary.workflows.push(ReloadedWorkflow {
                file,
                id: s.id,
                revision,
                changed,
            }),
            Ok(Applied::Translations { entries, .. }) => summary
                .translations
                .push(ReloadedTranslations { file, entries }),
            Err(e) => {
                let problems = match e.0.details.as_ref().and_then(Value::as_array) {
                    Some(list) if !list.is_empty() => list.clone(),
                    _ => vec![serde_json::json!({"message": e.0.message})],
                };
                summary.problems.push(RefusedFile { file, problems });
            }
        }
    }
    summary
}

/// The documents directly in a folder of the object store, in name order; each is named
/// `{prefix}/{name}` as a file of the local folders would be. A folder that cannot be listed
/// is reported as one refused entry (the store is down), and nothing is changed.
async fn load_stored_folder(
    state: &AppState,
    folder: &crate::storage::DocumentFolder,
    results: &mut Vec<(PathBuf, ApiResult<Applied>)>,
) {
    let listing = match folder.blobs.list_folder("").await {
        Ok(l) => l,
        Err(e) => {
            results.push((
                PathBuf::from(&folder.prefix),
                Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("cannot list the folder in file storage: {e}"),
                )),
            ));
            return;
        }
    };
    for object in listing {
        if !is_document_name(Path::new(&object.key)) {
            continue;
        }
        let outcome = match folder.blobs.get_bytes(&object.key).await {
            Ok(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => apply(state, text, None, Expect::Any).await,
                Err(_) => Err(ApiError::new(
                    ErrorCode::InvalidWorkflow,
                    "cannot read: the file is not UTF-8 text",
                )),
            },
            Err(e) => Err(ApiError::new(
                ErrorCode::InvalidWorkflow,
                format!("cannot read: {e}"),
            )),
        };
        let name = if folder.prefix.is_empty() {
            object.key.clone()
        } else {
            format!("{}/{}", folder.prefix, object.key)
        };
        results.push((PathBuf::from(name), outcome));
    }
}

/// A document by its name: `.yaml`, `.yml` or `.json`.
fn is_document_name(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn is_document(p: &Path) -> bool {
    p.is_file() && is_document_name(p)
}

/// A one-line-per-problem description of a refused document.
pub fn describe(e: &ApiError) -> String {
    let mut out = e.0.message.clone();
    if let Some(list) = e.0.details.as_ref().and_then(|d| d.as_array()) {
        for p in list {
            let line = p
                .get("line")
                .and_then(|l| l.as_u64())
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            out.push_str(&format!(
                "\n  {line}{}: {}",
                p.get("path").and_then(|v| v.as_str()).unwrap_or(""),
                p.get("message").and_then(|v| v.as_str()).unwrap_or("")
            ));
        }
    }
    out
}
