//! Request and response bodies: sessions (start, read, step data and uploads, review, search).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The body of `POST /api/sessions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartSession {
    /// Free-form data kept with the session (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// A locale such as `en` or `en-us`; default: the workflow's.
    #[serde(default)]
    pub locale: Option<String>,
}

/// The workflow a session runs.
#[derive(Serialize, ToSchema)]
pub struct WorkflowRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub version: Option<&'a str>,
}

/// A session file as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionFile<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub step: Option<&'a str>,
    pub property: Option<&'a str>,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub created_at: String,
    /// Where to download the bytes.
    pub url: String,
}

/// The session container (`GET /api/sessions/{id}`), serialized straight from the stored
/// records (the hot path builds no intermediate JSON tree).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session<'a> {
    pub id: &'a str,
    /// 0 not completed, 1 not verified, 2 verified, 3 approved, 4 pending, 1000 rejected.
    pub status: i64,
    pub workflow: WorkflowRef<'a>,
    pub locale: &'a str,
    #[schema(value_type = Object)]
    pub metadata: Doc<'a>,
    /// The workflow's properties as stored; binary ones as `{"fileId", "url"}`.
    #[schema(value_type = Object)]
    pub properties: crate::ops::sessions::PropertiesView<'a>,
    pub files: Vec<SessionFile<'a>>,
    pub current_step: Option<&'a str>,
    /// The steps passed: `[{id, ...}]`.
    #[schema(value_type = Vec<Object>)]
    pub steps: Doc<'a>,
    /// Errors of actions, transformers and templates: `[{step, action, message, at}]`.
    #[schema(value_type = Vec<Object>)]
    pub errors: Value,
    /// The normalizers' standard result blocks.
    #[schema(value_type = Vec<Object>)]
    pub normalized: Value,
    /// The workflow's `view` block over the properties: `{title, photo, fields}`.
    #[schema(value_type = Option<Object>)]
    pub view: Option<Value>,
    pub expires_at: Option<String>,
    pub user_id: Option<&'a str>,
    pub created_at: String,
    pub updated_at: String,
    /// Reviews and other recorded changes: `[{at, by, from, to, comment}]`.
    #[schema(value_type = Vec<Object>)]
    pub history: Doc<'a>,
    /// While true the session cannot be deleted.
    pub legal_hold: bool,
}

/// A JSON document of a session in an answer: parsed, or the stored text passed on as it is.
#[derive(Clone, Copy)]
pub enum Doc<'a> {
    Value(&'a Value),
    Text(&'a serde_json::value::RawValue),
}

impl Serialize for Doc<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Value(v) => v.serialize(ser),
            Doc::Text(t) => t.serialize(ser),
        }
    }
}

/// The step a session waits in, as the client sees it (the answer of a data submission).
#[derive(Serialize, ToSchema)]
pub struct StepView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The step's client descriptor, rendered for the session's locale.
    #[schema(value_type = Option<Object>)]
    pub client: Option<Value>,
    /// The JSON Schema of the data the step takes (its file's `jsonSchema`), when it has one:
    /// a client builds and checks its form from it; the server checks it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
}

/// One of a workflow's translations.
#[derive(Serialize, ToSchema)]
pub struct LocaleOption {
    pub code: String,
    /// The language's name as the workflow gives it.
    pub value: String,
}

/// `GET /api/sessions/{id}/step`: where a session stands, for a client that opens or resumes
/// it: the step it waits in (the final step once ended) with its client descriptor.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentStep {
    pub session_id: String,
    pub workflow_id: String,
    /// 0 not completed, 1 not verified, 2 verified, 3 approved, 4 pending, 1000 rejected.
    pub status: i64,
    /// True once the session reached a final step (or its lifetime ended).
    pub ended: bool,
    /// True when it ended because its lifetime passed.
    pub expired: bool,
    pub expires_at: Option<String>,
    /// The locale the descriptor is rendered in.
    pub locale: String,
    /// The workflow's translations, to switch among.
    pub locales: Vec<LocaleOption>,
    /// How many steps the session has completed.
    pub completed: usize,
    /// True while background actions the current step queued are still to run: the session
    /// moves on by itself once they finish, so a client shows a wait screen and asks again
    /// rather than the step's own screen.
    pub waiting: bool,
    pub step: Option<StepView>,
    /// While `waiting`: the workflow's own waiting screen (the `PROGRESS` entry of its
    /// `client.steps`), rendered, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Value>,
    /// The workflow's named layouts (`client.layout`), which descriptors refer to by name
    /// (`header.layout: [close_header]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layout: Option<Value>,
}

/// The answer of a file upload to a step: the files stored.
#[derive(Serialize, ToSchema)]
pub struct UploadedFiles<'a> {
    pub files: Vec<SessionFile<'a>>,
}

/// The answer of `POST /api/sessions/{id}/step/{step}`: the next step (`?type=data`) or the
/// files stored (`?type=file`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StepAnswer<'a> {
    Step(StepView),
    Files(UploadedFiles<'a>),
}

/// A file upload as multipart/form-data: every part is a file.
pub fn multipart_schema(_: &mut super::Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "every part is a file; a part named after a binary property fills it",
        ))
        .build()
        .into()
}

/// A file upload as the raw body.
pub fn binary_schema(_: &mut super::Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
        .build()
        .into()
}

/// The body of `PATCH /api/sessions/{id}` (a review). At least one of `status` and
/// `legalHold`; nothing else. Read by [`crate::ops::review`]'s own parser (its errors name the
/// field), so its schema is written here: `status` one of the session statuses, no other field.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// 0, 1, 2, 3 (approved), 4, 1000 (rejected).
    pub status: Option<i64>,
    /// At most 2000 characters.
    pub comment: Option<String>,
    /// True blocks deletion and retention (needs session_all_patch:write).
    pub legal_hold: Option<bool>,
}

impl utoipa::PartialSchema for Review {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
        let nullable = |t: Type| SchemaType::from_iter([t, Type::Null]);
        let statuses = idv_core::status::ALL
            .iter()
            .map(|s| Value::from(*s))
            .chain([Value::Null]);
        ObjectBuilder::new()
            .description(Some(
                "The body of `PATCH /api/sessions/{id}` (a review). At least one of `status` \
                 and `legalHold`; nothing else.",
            ))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::Integer))
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .enum_values(Some(statuses))
                    .description(Some("0, 1, 2, 3 (approved), 4, 1000 (rejected).")),
            )
            .property(
                "comment",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::String))
                    .max_length(Some(2000))
                    .description(Some("At most 2000 characters.")),
            )
            .property(
                "legalHold",
                ObjectBuilder::new()
                    .schema_type(nullable(Type::Boolean))
                    .description(Some(
                        "True blocks deletion and retention (needs session_all_patch:write).",
                    )),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
            .into()
    }
}

impl ToSchema for Review {}

/// A column of a view or search: a built-in session field or a workflow property (a bare
/// string is a property).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
#[schema(as = Column)]
pub enum ColumnSpec {
    Property(String),
    Typed {
        #[schema(inline)]
        r#type: ColumnKind,
        name: String,
    },
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Field,
    Property,
}

/// A sort key.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SortKey {
    /// id, status, workflow.id, createdAt or updatedAt.
    pub field: String,
    #[schema(inline)]
    pub order: Option<SortOrder>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// A group of the filter: its conditions and nested groups joined by `op`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(no_recursion)]
pub struct FilterGroup {
    /// `$and` (default) or `$or`.
    pub op: Option<String>,
    pub groups: Option<Vec<FilterGroup>>,
    #[schema(inline)]
    pub conditions: Option<Vec<Condition>>,
}

/// One condition: fields id, status, workflow.id, createdAt, updatedAt (ISO-8601 or epoch
/// ms), metadata.X, properties.X; operators $eq $ne $in $nin $gt $gte $lt $lte $exists.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Condition {
    pub field: String,
    pub op: String,
    /// Any JSON value (a number, text, a list for `$in`, a boolean for `$exists`).
    pub value: Option<Value>,
}

/// The body of `POST /api/sessions/search`: a view's value plus `filter` and `sort`. Parsed by
/// [`idv_core::search::SearchRequest::parse`], which names the path of a bad part.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct SearchBody {
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// Only sessions of these workflows.
    pub workflows: Option<Vec<String>>,
    /// The property columns the summaries carry.
    pub columns: Option<Vec<ColumnSpec>>,
    pub sort: Option<Vec<SortKey>>,
    pub filter: Option<FilterGroup>,
    pub group_ids: Option<Vec<String>>,
    pub user_ids: Option<Vec<String>>,
}

/// A session summary of a search answer: the session's own fields, the requested property
/// columns (binary ones as `{fileId, url}`) and the workflow's `view` block when it has one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary<'a> {
    pub id: &'a str,
    pub workflow: WorkflowRef<'a>,
    pub status: i64,
    pub created_at: String,
    pub updated_at: String,
    pub current_step: Option<&'a str>,
    pub ended: bool,
    #[schema(value_type = Object)]
    pub metadata: &'a Value,
    #[schema(value_type = Object)]
    pub properties: crate::ops::search::Picked<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub view: Option<&'a Value>,
}

/// The answer of a search: `{items, total, totalCapped, next}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage<'a> {
    pub items: Vec<SessionSummary<'a>>,
    /// Matches counted up to 10000.
    pub total: i64,
    /// True when there are more than `total` matches.
    pub total_capped: bool,
    /// The `after` of the next page; null on the last.
    pub next: Option<&'a str>,
}

/// A deleted session's tombstone: the `details` of its 410 `session_deleted`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone<'a> {
    pub id: &'a str,
    pub workflow_id: &'a str,
    /// The status the session had when it was deleted.
    pub status: i64,
    pub deleted_at: String,
    pub deleted_by: DeletedBy<'a>,
    pub reason: Option<&'a str>,
}

/// Who deleted a session: a user or API key (with its id), or `retention`.
#[derive(Serialize, ToSchema)]
pub struct DeletedBy<'a> {
    pub name: &'a str,
    /// `user`, `apikey` or `retention`.
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
}
