//! Request and response bodies: workflows and their localizations.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The JSON summary of a workflow (the SDK's `Workflow` model).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub default_locale: Option<String>,
}

/// A workflow with its definition (`GET /api/workflows/{id}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    pub revision: i64,
    pub created_at: String,
    /// The definition in Regula's workflow schema, as JSON.
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// A workflow definition in Regula's schema (YAML or JSON); every problem of a refused one is
/// listed in the error's `details` as `[{path, line, message}]`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkflowDefinition {
    pub id: String,
    pub name: String,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
}

/// A localization file: a list of `{key, code, value}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TranslationsFile(pub Vec<Translation>);

/// What loading a workflow stored (`POST /api/workflows`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowApplied {
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    pub revision: i64,
    /// False when the definition equals the current revision (nothing new was stored).
    pub changed: bool,
}

/// What loading a localization file stored (`POST /api/translations`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TranslationsApplied {
    pub entries: usize,
    /// The locale codes of the file.
    pub locales: Vec<String>,
}

/// One localized string.
#[derive(Debug, Serialize, ToSchema)]
pub struct Translation {
    pub key: String,
    pub code: String,
    pub value: String,
}

/// The answer of `DELETE /api/workflows/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowDeleted {
    pub id: String,
    pub deleted: bool,
}

/// What a reload of the folders did (`POST /api/workflows/reload`, the `reloadWorkflows` job).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ReloadSummary {
    pub workflows: Vec<ReloadedWorkflow>,
    pub translations: Vec<ReloadedTranslations>,
    /// Files refused: their stored workflow, if any, stays at its last good revision.
    pub problems: Vec<RefusedFile>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadedWorkflow {
    /// Relative to `storage.fs.path`, e.g. `workflows/general_kyc.yaml`.
    pub file: String,
    pub id: String,
    /// The current revision: new when `changed`.
    pub revision: i64,
    pub changed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReloadedTranslations {
    pub file: String,
    pub entries: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedFile {
    pub file: String,
    /// `[{path, line, message}]` as loading reports them (`[{message}]` for other failures).
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Value>,
}
