//! The wire contract: every request and response body of the HTTP API as a Rust type (serde),
//! with its JSON schema (utoipa) for the OpenAPI document. Field names and shapes are Regula's.
//! One file per area.
//!
//! A route names its bodies with a [`Contract`]: the request body's type per media type and
//! the answer's type per status, e.g.
//! `Contract::new().body::<StartSession>().answer::<Session>(200)`. The OpenAPI document
//! ([`crate::openapi`]) puts each named type, and every type it refers to, under
//! `components/schemas` and references it from the operation; every error status references
//! [`common::ErrorBody`].

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod common;
pub mod devices;
pub mod events;
pub mod sessions;
pub mod views;
pub mod webhooks;
pub mod workflows;

use axum::http::Method;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

/// The named schemas a document collects while it is built: `(name, schema)`.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// A body's schema: registers the named schemas it needs in `Schemas` and answers the schema
/// (usually a `$ref` to one of them).
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// The schema of `T`, registered under its name with everything it refers to.
pub fn schema<T: ToSchema>(out: &mut Schemas) -> RefOr<Schema> {
    T::schemas(out);
    let name = T::name();
    out.push((name.to_string(), T::schema()));
    Ref::from_schema_name(name).into()
}

/// A JSON list of `T`.
pub fn list<T: ToSchema>(out: &mut Schemas) -> RefOr<Schema> {
    ArrayBuilder::new().items(schema::<T>(out)).build().into()
}

/// Any JSON value (free-form step data, definitions).
pub fn any(_: &mut Schemas) -> RefOr<Schema> {
    RefOr::T(Schema::Object(Default::default()))
}

/// What an answer of one status carries.
#[derive(Clone, Copy)]
pub enum Answer {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// No body (204).
    Empty,
    /// A body of another media type (files, archives, images).
    Media(&'static str),
}

/// The bodies of one route: what it takes and what it answers on success. Error answers are
/// the same for every route ([`common::ErrorBody`]) and need not be named.
#[derive(Clone, Default)]
pub struct Contract {
    /// The request body per media type.
    pub requests: Vec<(&'static str, SchemaFn)>,
    /// The success answers per status.
    pub answers: Vec<(u16, Answer)>,
}

impl Contract {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a JSON body of type `T`.
    pub fn body<T: ToSchema>(self) -> Self {
        self.request("application/json", schema::<T>)
    }

    /// Takes a body of media type `media` with this schema.
    pub fn request(mut self, media: &'static str, schema: SchemaFn) -> Self {
        self.requests.push((media, schema));
        self
    }

    /// Answers `status` with a JSON body of type `T`.
    pub fn answer<T: ToSchema>(self, status: u16) -> Self {
        self.answer_with(status, Answer::Json(schema::<T>))
    }

    /// Answers `status` with `answer`.
    pub fn answer_with(mut self, status: u16, answer: Answer) -> Self {
        self.answers.push((status, answer));
        self
    }

    /// True when the route names no body at all (its document entry says only "Success").
    pub fn is_untyped(&self) -> bool {
        self.requests.is_empty() && self.answers.is_empty()
    }
}

/// The contract of a route of [`crate::routes::table`], by method and path template.
// The route table's rows take these over once they carry their contract themselves.
pub fn contract_for(method: &Method, path: &str) -> Contract {
    let c = Contract::new();
    match (method.as_str(), path) {
        ("POST", "/api/sessions") => c
            .body::<sessions::StartSession>()
            .answer::<sessions::Session>(200),
        ("GET", "/api/sessions/{id}") => c.answer::<sessions::Session>(200),
        ("PATCH", "/api/sessions/{id}") => c
            .body::<sessions::Review>()
            .answer::<sessions::Session>(200),
        ("DELETE", "/api/sessions/{id}") => c.answer_with(204, Answer::Empty),
        ("POST", "/api/sessions/{id}/step/{step}") => c
            .request("application/json", any)
            .request("multipart/form-data", sessions::multipart_schema)
            .request("application/octet-stream", sessions::binary_schema)
            .answer::<sessions::StepAnswer>(200),
        // The file's own media type; 206 for a Range, 304 for a matching If-None-Match.
        ("GET", "/api/sessions/{id}/files/{file}") => c
            .answer_with(200, Answer::Media("application/octet-stream"))
            .answer_with(206, Answer::Media("application/octet-stream"))
            .answer_with(304, Answer::Empty),
        ("GET", "/api/sessions/{id}/export") => {
            c.answer_with(200, Answer::Media("application/zip"))
        }
        ("POST", "/api/sessions/search") => c
            .body::<sessions::SearchBody>()
            .answer::<sessions::SearchPage>(200),
        ("GET", "/api/views/namespaces/{namespace}") => c.answer::<views::ViewList>(200),
        ("GET" | "DELETE", "/api/views/namespaces/{namespace}/key/{key}") => {
            c.answer::<views::View>(200)
        }
        ("POST", "/api/views/namespaces/{namespace}/key/{key}") => {
            c.body::<views::ViewValue>().answer::<views::View>(200)
        }
        ("GET", "/api/events") => c.answer::<events::EventPage>(200),
        ("GET", "/api/events/stream") => c.answer_with(200, Answer::Media("text/event-stream")),
        ("GET", "/api/workflows") => {
            c.answer_with(200, Answer::Json(list::<workflows::WorkflowSummary>))
        }
        ("POST", "/api/workflows") => c
            .request("application/yaml", schema::<workflows::WorkflowDefinition>)
            .request("application/json", schema::<workflows::WorkflowDefinition>)
            .answer::<workflows::WorkflowApplied>(200),
        ("POST", "/api/workflows/reload") => c.answer::<workflows::ReloadSummary>(200),
        ("GET", "/api/workflows/{id}") => c.answer::<workflows::Workflow>(200),
        ("DELETE", "/api/workflows/{id}") => c.answer::<workflows::WorkflowDeleted>(200),
        ("GET", "/api/translations") => {
            c.answer_with(200, Answer::Json(list::<workflows::Translation>))
        }
        ("POST", "/api/translations") => c
            .request("application/yaml", schema::<workflows::TranslationsFile>)
            .request("application/json", schema::<workflows::TranslationsFile>)
            .answer::<workflows::TranslationsApplied>(200),
        _ => c,
    }
}
