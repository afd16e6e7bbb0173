//! The wire contract: every request and response body of the HTTP API as a Rust type (serde),
//! with its JSON schema (utoipa) for the OpenAPI document. Field names and shapes are Regula's.
//! One file per area.
//!
//! A route names its bodies in its row of the route table ([`crate::routes::table`]), which
//! keeps them as a [`Contract`]: the request body's type per media type and the answer's type
//! per status, e.g. `.takes::<api::sessions::StartSession>().returns::<api::sessions::Session>(200)`. The OpenAPI document
//! ([`crate::openapi`]) puts each named type, and every type it refers to, under
//! `components/schemas` and references it from the operation; every error status references
//! [`common::ErrorBody`].

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod common;
pub mod devices;
pub mod events;
pub mod links;
pub mod mobile;
pub mod sessions;
pub mod stats;
pub mod system;
pub mod views;
pub mod webhooks;
pub mod workflows;

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
