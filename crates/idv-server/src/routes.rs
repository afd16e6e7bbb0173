//! The route table. Every route is declared once here, in one row, with every fact about it:
//! what it needs from its caller (public, any authenticated caller, or one of a list of
//! permissions), its rate-limit profile, its audit action (or why it has none), whether
//! `Idempotency-Key` applies, whether it mints credentials, and its OpenAPI operation (tag,
//! summary, example body, the statuses it answers). The router, the guard and the OpenAPI
//! document are all built from this table and nothing else, so no route can be added unguarded,
//! unlimited or undocumented, and no fact can be kept in a second place that drifts.

use crate::api::{self, Answer, Contract};
use crate::audit::events::{Event, Target};
use crate::auth::Principal;
use crate::body::accepts_json;
use crate::error::ApiError;
use crate::handlers::*;
use crate::ratelimit::{self, Profile};
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use idv_core::ErrorCode;
use idv_core::permission::Op;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Access {
    /// Anyone, no credentials.
    Public,
    /// Any valid credentials.
    Authenticated,
    /// Valid credentials holding at least one of these permissions. Handlers narrow further
    /// (own records versus everyone's).
    AnyOf(&'static [(&'static str, Op)]),
}

/// Whether a route's answers go to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Every answer is recorded as this event (a refused permission too; missing or bad
    /// credentials name no actor and are not).
    Recorded(Event),
    /// Not recorded, for this reason. Every route that is not a `GET` states one.
    NotRecorded(&'static str),
}

/// A query parameter a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    pub required: bool,
    /// May be given more than once (`?workflowId=a&workflowId=b`).
    pub repeated: bool,
    pub kind: ParamKind,
    pub description: &'static str,
}

/// What a query parameter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Text,
    /// A whole number from `min` to `max`.
    Integer {
        min: i64,
        max: i64,
    },
    /// A time: ISO-8601 (`2026-01-31T10:00:00Z`, or a date `2026-01-31`) or milliseconds
    /// since 1970.
    Time,
    /// One of these values.
    OneOf(&'static [&'static str]),
    /// Text that matches this regular expression.
    Pattern(&'static str),
}

/// A required query parameter.
const fn required(name: &'static str, kind: ParamKind, description: &'static str) -> QueryParam {
    QueryParam {
        name,
        required: true,
        repeated: false,
        kind,
        description,
    }
}

/// An optional query parameter.
const fn optional(name: &'static str, kind: ParamKind, description: &'static str) -> QueryParam {
    QueryParam {
        required: false,
        ..required(name, kind, description)
    }
}

impl QueryParam {
    const fn repeated(mut self) -> Self {
        self.repeated = true;
        self
    }
}

/// One route, with every fact about it: the router, the guard (authentication, permissions,
/// rate limit, `Idempotency-Key`, audit entry) and the OpenAPI document all read this row and
/// nothing else.
pub struct RouteDef {
    pub method: Method,
    /// axum path syntax (`/api/sessions/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    pub access: Access,
    /// The rate-limit profile requests count against; `None`: exempt.
    pub rate: Option<Profile>,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Answers JSON, so an `Accept` that excludes JSON gets 406.
    pub json: bool,
    /// An example request body (JSON text), for the OpenAPI document.
    pub example: Option<&'static str>,
    pub audit: Audit,
    /// `Idempotency-Key` applies ([`crate::idempotency`]).
    pub idempotent: bool,
    /// The answer carries a new credential (a key, token, link or secret): such a route must be
    /// in the strict profile and audited (the table's tests check it).
    pub mints_credentials: bool,
    /// The query parameters the route reads (besides `authorization`, which every route that
    /// needs credentials takes).
    pub query: Vec<QueryParam>,
    /// Statuses the route answers beyond the common ones the document adds for every route of
    /// its kind (see [`crate::openapi`]), with what they mean. When one of them is a success
    /// (2xx), the route answers no other success (no default 200).
    pub answers: Vec<(u16, &'static str)>,
    /// Touches neither the database nor file storage, so it cannot fail with a 500.
    pub infallible: bool,
    /// Relays another service's answers with their status (the gateways): any status may come.
    pub relays: bool,
    /// The types of its request and success bodies, for the OpenAPI document ([`crate::api`]).
    pub contract: Contract,
    /// A page or a page's asset for a browser (HTML, CSS, JS), not part of the API: left out
    /// of the OpenAPI document.
    pub page: bool,
    make: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl RouteDef {
    /// Answers something other than JSON (files, streams, relayed bodies): no 406 check.
    fn raw(mut self) -> Self {
        self.json = false;
        self
    }

    fn example(mut self, json: &'static str) -> Self {
        self.example = Some(json);
        self
    }

    fn audit(mut self, event: Event) -> Self {
        self.audit = Audit::Recorded(event);
        self
    }

    fn not_audited(mut self, reason: &'static str) -> Self {
        self.audit = Audit::NotRecorded(reason);
        self
    }

    fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    fn mints_credentials(mut self) -> Self {
        self.mints_credentials = true;
        self
    }

    fn answers(mut self, answers: &[(u16, &'static str)]) -> Self {
        self.answers.extend_from_slice(answers);
        self
    }

    fn query<const N: usize>(mut self, params: [QueryParam; N]) -> Self {
        self.query.extend(params);
        self
    }

    /// A gateway row: the service's bodies relayed as they are (not our JSON, any status of the
    /// service documented as relayed), the gateway's own statuses, and writes not audited (the
    /// service keeps its own log).
    fn gateway(mut self) -> Self {
        self.json = false;
        self.relays = true;
        self.answers.extend_from_slice(GATEWAY_ANSWERS);
        if self.method != Method::GET {
            self.audit = Audit::NotRecorded(NOT_AUDITED_RELAYED);
        }
        self
    }

    /// Takes a JSON body of type `T` (its schema goes in the document).
    fn takes<T: utoipa::ToSchema>(mut self) -> Self {
        self.contract = self.contract.body::<T>();
        self
    }

    /// Takes a body of media type `media` with this schema.
    fn takes_as(mut self, media: &'static str, schema: api::SchemaFn) -> Self {
        self.contract = self.contract.request(media, schema);
        self
    }

    /// Answers `status` with a JSON body of type `T`.
    fn returns<T: utoipa::ToSchema>(mut self, status: u16) -> Self {
        self.contract = self.contract.answer::<T>(status);
        self
    }

    /// Answers `status` with `answer` (no body, or another media type).
    fn returns_as(mut self, status: u16, answer: Answer) -> Self {
        self.contract = self.contract.answer_with(status, answer);
        self
    }

    fn infallible(mut self) -> Self {
        self.infallible = true;
        self
    }

    /// A page (or its asset) for a browser: HTML, CSS or JS, not in the OpenAPI document.
    fn page(mut self) -> Self {
        self.json = false;
        self.page = true;
        self
    }

    /// The audit event of the route, if it is audited.
    pub fn audit_event(&self) -> Option<Event> {
        match self.audit {
            Audit::Recorded(e) => Some(e),
            Audit::NotRecorded(_) => None,
        }
    }
}

const SESSION_READ: &[(&str, Op)] = &[("session", Op::Read), ("session_all", Op::Read)];
const SESSION_WRITE: &[(&str, Op)] = &[("session", Op::Write), ("session_all", Op::Write)];
const SESSION_PATCH: &[(&str, Op)] = &[
    ("session_patch", Op::Write),
    ("session_all_patch", Op::Write),
];
const SESSION_ALL_READ: &[(&str, Op)] = &[("session_all", Op::Read)];
const SESSION_DELETE: &[(&str, Op)] = &[("session", Op::Delete), ("session_all", Op::Delete)];
const APIKEY_READ: &[(&str, Op)] = &[("apikey", Op::Read), ("apikey_all", Op::Read)];
const APIKEY_WRITE: &[(&str, Op)] = &[("apikey", Op::Write), ("apikey_all", Op::Write)];
const APIKEY_DELETE: &[(&str, Op)] = &[("apikey", Op::Delete), ("apikey_all", Op::Delete)];
const WORKFLOW_READ: &[(&str, Op)] = &[("workflow", Op::Read), ("workflow_all", Op::Read)];
const WORKFLOW_WRITE: &[(&str, Op)] = &[("workflow", Op::Write), ("workflow_all", Op::Write)];
const WORKFLOW_DELETE: &[(&str, Op)] = &[("workflow", Op::Delete), ("workflow_all", Op::Delete)];
const USER_READ: &[(&str, Op)] = &[("user", Op::Read)];
const USER_WRITE: &[(&str, Op)] = &[("user", Op::Write)];
const USER_DELETE: &[(&str, Op)] = &[("user", Op::Delete)];
const TRANSLATIONS_READ: &[(&str, Op)] = &[("translations", Op::Read)];
const WORKFLOW_RELOAD: &[(&str, Op)] = &[("workflow_reload", Op::Write)];
const TRANSLATIONS_WRITE: &[(&str, Op)] = &[("translations", Op::Write)];
const ASSETS_READ: &[(&str, Op)] = &[("assets", Op::Read)];
const ASSETS_WRITE: &[(&str, Op)] = &[("assets", Op::Write)];
const ASSETS_DELETE: &[(&str, Op)] = &[("assets", Op::Delete)];
const DOCREADER_READ: &[(&str, Op)] = &[("docreader", Op::Read)];
const DOCREADER_WRITE: &[(&str, Op)] = &[("docreader", Op::Write)];
const DOCREADER_DELETE: &[(&str, Op)] = &[("docreader", Op::Delete)];
const FACEAPI_READ: &[(&str, Op)] = &[("faceapi", Op::Read)];
const FACEAPI_WRITE: &[(&str, Op)] = &[("faceapi", Op::Write)];
const FACEAPI_DELETE: &[(&str, Op)] = &[("faceapi", Op::Delete)];
const AUDIT_READ: &[(&str, Op)] = &[("audit", Op::Read)];
const SESSION_SUBSCRIBE: &[(&str, Op)] =
    &[("session", Op::Subscribe), ("session_all", Op::Subscribe)];
const WEBHOOK_READ: &[(&str, Op)] = &[("webhook", Op::Read)];
const WEBHOOK_WRITE: &[(&str, Op)] = &[("webhook", Op::Write)];
const WEBHOOK_DELETE: &[(&str, Op)] = &[("webhook", Op::Delete)];
const LINK_READ: &[(&str, Op)] = &[("deeplink", Op::Read)];
const LINK_WRITE: &[(&str, Op)] = &[("deeplink", Op::Write)];
const LINK_DELETE: &[(&str, Op)] = &[("deeplink", Op::Delete)];
const LINK_NOT_FOUND: (u16, &str) = (
    404,
    "No start link with this id (code start_link_not_found)",
);

/// The rate-limit profiles, for the table's rows.
const S: Option<Profile> = Some(Profile::S);
const M: Option<Profile> = Some(Profile::M);
const L: Option<Profile> = Some(Profile::L);
const EXEMPT: Option<Profile> = None;

/// Routes that read or write file bytes.
const STORAGE_DOWN: &[(u16, &str)] = &[(
    503,
    "File storage failed or cannot be reached (code storage_unavailable); nothing was stored: try again",
)];

/// The service gateways relay the service's own answers with their status; these are theirs.
const GATEWAY_ANSWERS: &[(u16, &str)] = &[
    (
        502,
        "The service cannot be reached (code bad_gateway); the service's own answers are relayed with their status",
    ),
    (
        503,
        "The gateway is off on this server (code gateway_disabled): services.docreader.enabled / services.faceapi.enabled and their url",
    ),
    (
        504,
        "The service did not answer within services.api.timeout (code gateway_timeout)",
    ),
    (
        413,
        "The request body is larger than services.api.maxBodySize (code payload_too_large)",
    ),
];
/// The answers of a route that reads a JSON body.
const JSON_BODY: &[(u16, &str)] = &[
    (
        413,
        "The body is larger than services.api.maxBodySize (code payload_too_large)",
    ),
    (
        415,
        "The body is not JSON: send it with Content-Type: application/json (code unsupported_media_type)",
    ),
];
/// The answers of a route that reads a YAML or JSON document.
const DOCUMENT_BODY: &[(u16, &str)] = &[
    (
        413,
        "The document is larger than services.api.maxBodySize (code payload_too_large)",
    ),
    (
        415,
        "The Content-Type is not application/yaml, application/x-yaml, text/yaml or application/json (code unsupported_media_type)",
    ),
];
const SESSION_NOT_FOUND: (u16, &str) = (
    404,
    "No session with this id that the caller may reach (code session_not_found)",
);
const SESSION_DELETED: (u16, &str) = (
    410,
    "The session was deleted (code session_deleted); details hold its tombstone {id, workflowId, status, deletedAt, deletedBy, reason}",
);
const WEBHOOK_NOT_FOUND: (u16, &str) = (
    404,
    "No webhook endpoint with this id (code webhook_not_found)",
);
/// The event types of the event feed and stream (`webhook.test` goes to one endpoint only).
const FEED_TYPES: &[&str] = &[
    crate::events::SESSION_CREATED,
    crate::events::STEP_COMPLETED,
    crate::events::STATUS_CHANGED,
    crate::events::COMPLETED,
    crate::events::EXPIRED,
    crate::events::DELETED,
];
const EVENT_CURSOR: ParamKind = ParamKind::Pattern(r"^[0-9]+(\.[0-9]+)?$");
const NOT_AUDITED_RELAYED: &str =
    "relayed to the Document Reader or Face API service, which keeps its own log";

/// A row: method and path, access, rate-limit profile, tag, summary and handler; the other
/// facts are added with the builder methods of [`RouteDef`].
macro_rules! route {
    ($method:ident $path:literal, $access:expr, $rate:expr, $tag:literal, $summary:literal, $handler:path) => {
        RouteDef {
            method: Method::$method,
            path: $path,
            access: $access,
            rate: $rate,
            tag: $tag,
            summary: $summary,
            json: true,
            example: None,
            audit: Audit::NotRecorded(""),
            idempotent: false,
            mints_credentials: false,
            query: Vec::new(),
            answers: Vec::new(),
            contract: Contract::new(),
            infallible: false,
            relays: false,
            page: false,
            make: |f| on(f, $handler),
        }
    };
}

/// Every route of the API.
pub fn table() -> Vec<RouteDef> {
    use Access::*;
    use ParamKind::*;
    use Target::{Noted, Param};
    vec![
        route!(GET "/api/health", Public, EXEMPT, "system", "Liveness: answers while the process serves requests", system::health)
            .returns::<api::system::Health>(200)
            .infallible(),
        route!(GET "/api/ready", Public, EXEMPT, "system", "Readiness: answers 200 when the database and file storage answer, 503 when one does not or the server is stopping", system::ready)
            .returns::<api::system::Ready>(200).returns::<api::system::Ready>(503)
            .answers(&[(503, "Not ready: `failing` names what failed (database, storage) or shutdown while the server stops; each check within 2 s")]),
        route!(GET "/api/openapi.json", Public, EXEMPT, "system", "This OpenAPI 3.1 document", system::openapi)
            .returns_as(200, Answer::Json(api::system::document_schema))
            .infallible(),
        route!(POST "/api/auth/login", Public, S, "auth", "Exchange a user name and password for a Bearer access token and a refresh token", auth::login)
            .takes::<api::accounts::LoginInput>().returns::<api::accounts::TokenPair>(200)
            .mints_credentials()
            .example(r#"{"username": "admin", "password": "s3cret-pass"}"#)
            .audit(Event::new("auth.login", Noted).failed_as("auth.login_failed"))
            .answers(JSON_BODY)
            .answers(&[(401, "Wrong user name or password, or the user is not active (code invalid_credentials)")]),
        route!(POST "/api/auth/refresh", Public, S, "auth", "Exchange a refresh token for a new token pair (the old pair stops working)", auth::refresh)
            .takes::<api::accounts::RefreshInput>().returns::<api::accounts::TokenPair>(200)
            .mints_credentials()
            .example(r#"{"refreshToken": "idvrt_..."}"#)
            .audit(Event::new("auth.refresh", Noted).failed_as("auth.refresh_failed"))
            .answers(JSON_BODY)
            .answers(&[(401, "An unknown, already used or expired refresh token (codes invalid_credentials, expired_credentials)")]),
        route!(POST "/api/auth/logout", Authenticated, M, "auth", "End the Bearer login: its access and refresh tokens stop working", auth::logout)
            .returns_as(204, Answer::Empty)
            .audit(Event::new("auth.logout", Target::None))
            .answers(&[(204, "Logged out: the login's access and refresh tokens stop working")]),
        route!(POST "/api/apikey", AnyOf(APIKEY_WRITE), S, "apikeys", "Create an API key; the response's `token` is shown only once", apikeys::create)
            .takes::<api::accounts::ApiKeyInput>().returns::<api::accounts::ApiKeyView>(200)
            .mints_credentials()
            .example(r#"{"name": "My API key", "ttl": 6000, "permissions": ["session_all:read"]}"#)
            .audit(Event::new("apikey.created", Noted))
            .idempotent()
            .answers(JSON_BODY),
        route!(POST "/api/security/apikey", AnyOf(APIKEY_WRITE), S, "apikeys", "Create an API key (alias of POST /api/apikey)", apikeys::create)
            .takes::<api::accounts::ApiKeyInput>().returns::<api::accounts::ApiKeyView>(200)
            .mints_credentials()
            .example(r#"{"name": "My API key", "ttl": 6000, "permissions": ["ephemeral_device:write"]}"#)
            .audit(Event::new("apikey.created", Noted))
            .idempotent()
            .answers(JSON_BODY),
        route!(GET "/api/apikey", AnyOf(APIKEY_READ), L, "apikeys", "List API keys (own, or all with apikey_all:read); never the secrets", apikeys::list)
            .returns_as(200, Answer::Json(api::list::<api::accounts::ApiKeyView>)),
        route!(GET "/api/apikey/{id}", AnyOf(APIKEY_READ), L, "apikeys", "One API key, without its secret", apikeys::get)
            .returns::<api::accounts::ApiKeyView>(200)
            .answers(&[(404, "No API key with this id that the caller may see (code apikey_not_found)")]),
        route!(DELETE "/api/apikey/{id}", AnyOf(APIKEY_DELETE), M, "apikeys", "Revoke an API key; it stops working at once", apikeys::revoke)
            .returns::<api::accounts::ApiKeyView>(200)
            .audit(Event::new("apikey.revoked", Param("id")))
            .answers(&[(404, "No API key with this id that the caller may revoke (code apikey_not_found)")]),
        route!(GET "/api/security/roles", AnyOf(USER_READ), L, "security", "Built-in and custom roles with their permissions", security::list_roles)
            .returns_as(200, Answer::Json(api::list::<api::accounts::RoleView>)),
        route!(POST "/api/security/roles", AnyOf(USER_WRITE), M, "security", "Create a custom role", security::create_role)
            .takes::<api::accounts::RoleInput>().returns::<api::accounts::RoleView>(200)
            .example(r#"{"name": "Session Observer", "permissions": ["session:read", "session:subscribe"]}"#)
            .audit(Event::new("role.created", Noted))
            .idempotent()
            .answers(JSON_BODY)
            .answers(&[(409, "A role with this name exists (code role_exists)")]),
        route!(GET "/api/security/users", AnyOf(USER_READ), L, "security", "List users", security::list_users)
            .returns_as(200, Answer::Json(api::list::<api::accounts::UserView>)),
        route!(POST "/api/security/users", AnyOf(USER_WRITE), S, "security", "Create a user", security::create_user)
            .takes::<api::accounts::UserInput>().returns::<api::accounts::UserView>(200)
            .mints_credentials()
            .example(r#"{"name": "operator", "password": "a long password", "email": "op@example.com", "roles": ["verifier"]}"#)
            .audit(Event::new("user.created", Noted))
            .idempotent()
            .answers(JSON_BODY)
            .answers(&[(409, "A user with this name exists (code user_exists)")]),
        route!(GET "/api/security/users/{id}", AnyOf(USER_READ), L, "security", "One user", security::get_user)
            .returns::<api::accounts::UserView>(200)
            .answers(&[(404, "No user with this id (code user_not_found)")]),
        route!(PATCH "/api/security/users/{id}", AnyOf(USER_WRITE), M, "security", "Change a user: `roles` replaces the whole list; also `active`, `email`, `password`", security::patch_user)
            .takes::<api::accounts::UserPatchInput>().returns::<api::accounts::UserView>(200)
            .example(r#"{"roles": ["verifier", "device"]}"#)
            .audit(Event::new("user.updated", Param("id")))
            .answers(JSON_BODY)
            .answers(&[(404, "No user with this id (code user_not_found)")]),
        route!(DELETE "/api/security/users/{id}", AnyOf(USER_DELETE), M, "security", "Delete a user and end its logins", security::delete_user)
            .returns_as(204, Answer::Empty)
            .audit(Event::new("user.deleted", Param("id")))
            .answers(&[(204, "Deleted; its logins end"), (404, "No user with this id (code user_not_found)")]),
        route!(GET "/api/workflows", AnyOf(WORKFLOW_READ), L, "workflows", "List workflows: [{id, name, description, version, defaultLocale}]. A device token (ephemeral, deeplink or start link) sees only the workflows it may run: those it was issued for, or every one for an ephemeral device", workflows::list)
            .returns_as(200, Answer::Json(api::list::<api::workflows::WorkflowSummary>)),
        route!(POST "/api/workflows", AnyOf(WORKFLOW_WRITE), M, "workflows", "Load a workflow definition (YAML as application/yaml, application/x-yaml or text/yaml, or JSON); every problem is listed with its path and line", workflows::create)
            .takes_as("application/yaml", api::schema::<api::workflows::WorkflowDefinition>).takes_as("application/json", api::schema::<api::workflows::WorkflowDefinition>).returns::<api::workflows::WorkflowApplied>(200)
            .not_audited("the stored workflow revision records who loaded it and when")
            .idempotent()
            .answers(DOCUMENT_BODY),
        route!(POST "/api/workflows/reload", AnyOf(WORKFLOW_RELOAD), M, "workflows", "Load the workflows and localization folders again now (the reloadWorkflows job does it on its schedule): changed files become new revisions, running sessions keep theirs, a broken file is listed under `problems` and its stored revision stays", workflows::reload)
            .returns::<api::workflows::ReloadSummary>(200)
            .not_audited("reads the server's own configured folders again; the caller supplies nothing")
            .idempotent(),
        route!(GET "/api/workflows/{id}", AnyOf(WORKFLOW_READ), L, "workflows", "A workflow's summary and full definition (a device token: only of a workflow it may run)", workflows::get)
            .returns::<api::workflows::Workflow>(200)
            .answers(&[(404, "No workflow with this id that the caller may read (code workflow_not_found)")]),
        route!(GET "/api/workflows/{id}/revisions/{revision}", AnyOf(WORKFLOW_READ), L, "workflows", "One revision of a workflow (1 is its first upload; GET /api/workflows/{id} names the current one), as GET /api/workflows/{id} answers: sessions keep the revision they started on. Only of a workflow that is not deleted and that the caller may read", workflows::revision)
            .returns::<api::workflows::Workflow>(200)
            .answers(&[(404, "No such revision of a workflow the caller may read (code workflow_not_found)"), (400, "revision is not a whole number from 1 (code invalid_parameter)")]),
        route!(DELETE "/api/workflows/{id}", AnyOf(WORKFLOW_DELETE), M, "workflows", "Delete a workflow; running sessions finish on the revision they started with", workflows::delete)
            .returns::<api::workflows::WorkflowDeleted>(200)
            .audit(Event::new("workflow.deleted", Param("id")))
            .answers(&[(404, "No workflow with this id that the caller may delete (code workflow_not_found)")]),
        route!(GET "/api/translations", AnyOf(TRANSLATIONS_READ), L, "workflows", "Localization entries, optionally for one locale (?locale=en-us)", workflows::list_translations)
            .returns_as(200, Answer::Json(api::list::<api::workflows::Translation>))
            .query([optional("locale", Text, "Only the entries of this locale (en-us); every locale when absent")]),
        route!(POST "/api/translations", AnyOf(TRANSLATIONS_WRITE), M, "workflows", "Load a localization file: a list of {key, code, value}", workflows::put_translations)
            .takes_as("application/yaml", api::schema::<api::workflows::TranslationsFile>).takes_as("application/json", api::schema::<api::workflows::TranslationsFile>).returns::<api::workflows::TranslationsApplied>(200)
            .not_audited("localization text only; the stored entries replace the earlier text")
            .idempotent()
            .answers(DOCUMENT_BODY),
        route!(POST "/api/sessions", AnyOf(SESSION_WRITE), M, "sessions", "Start a session of ?workflowId=; answers the full session", sessions::start)
            .takes::<api::sessions::StartSession>().returns::<api::sessions::Session>(200)
            .example(r#"{"metadata": {"externalUserId": "user-42"}, "locale": "en"}"#)
            .not_audited("the session records who started it and when, and the event feed has session.created")
            .idempotent()
            .query([required("workflowId", Text, "The workflow to start a session of")])
            .answers(JSON_BODY)
            .answers(&[(404, "No workflow with this id (code workflow_not_found)"), (409, "The session's first write lost to a concurrent one (code session_conflict); start again")]),
        route!(GET "/api/sessions/{id}", AnyOf(SESSION_READ), L, "sessions", "The session container: status, properties, files (with URLs), metadata, steps, history, legalHold; the ETag header is the session's revision (for If-Match on PATCH). A deleted session answers 410 session_deleted", sessions::get)
            .returns::<api::sessions::Session>(200)
            .audit(Event::new("session.read", Param("id")))
            .answers(&[SESSION_NOT_FOUND, SESSION_DELETED]),
        route!(GET "/api/sessions/{id}/step", AnyOf(SESSION_READ), L, "sessions", "Where the session stands, for a client that opens or resumes it: {sessionId, workflowId, status, ended, expired, expiresAt, locale, locales, completed, waiting, step}; step is the step it waits in (its final step once ended) as a step submission answers it, its client descriptor rendered for ?locale= (one of the workflow's translations) or the session's locale, with the JSON Schema of the data it takes; waiting is true while background actions of that step are still to run (the session moves on by itself). A passed lifetime is applied first", sessions::current)
            .returns::<api::sessions::CurrentStep>(200)
            .audit(Event::new("session.step_read", Param("id")))
            .query([optional("locale", Text, "Render the texts in this one of the workflow's translations (default: the session's locale)")])
            .answers(&[SESSION_NOT_FOUND, SESSION_DELETED, (400, "`locale` is not one of the workflow's translations (code invalid_request)")]),
        route!(GET "/api/sessions/{id}/handoff", AnyOf(SESSION_READ), L, "sessions", "A QR code (image/png) of the capture page's link to this session with the caller's own device token, so a person on a computer continues on a phone. Only device tokens may ask (403 forbidden for API keys and users)", sessions::handoff)
            .returns_as(200, Answer::Media("image/png"))
            .raw()
            .audit(Event::new("session.handed_off", Param("id")))
            .answers(&[SESSION_NOT_FOUND, SESSION_DELETED, (403, "The caller is not a device token (code forbidden)")]),
        // The person's page (`web::capture`): the page itself and its files.
        route!(GET "/mobile", Public, L, "capture", "The capture page (the link of POST /api/v1/deeplink and of the QR code)", crate::web::capture::page)
            .page().infallible(),
        route!(GET "/capture", Public, L, "capture", "The capture page, Regula's older entry (?url=<a /mobile link>)", crate::web::capture::page)
            .page().infallible(),
        // The operator's portal (`web::portal`): sign-in and its cookie session.
        route!(GET "/", Public, L, "portal", "The operator's portal: its home when signed in (cookie idv_portal), else the sign-in page", crate::web::portal::home)
            .page(),
        route!(POST "/portal/login", Public, S, "portal", "Sign in to the portal (a form: username, password, csrf as in the idv_portal_csrf cookie): 303 to / with the session cookie, or the sign-in page again (401)", crate::web::portal::login)
            .page().mints_credentials()
            .audit(Event::new("auth.login", Noted).failed_as("auth.login_failed")),
        route!(POST "/portal/logout", Public, M, "portal", "Sign out of the portal (a form with the session's csrf): ends the session, 303 to /", crate::web::portal::logout)
            .page()
            .audit(Event::new("auth.logout", Noted)),
        // Portal pages (`web::portal::*`): each signed-in page and form reaches the data by
        // calling the API's own routes in-process as the signed-in user. Those calls are not
        // rate limited themselves, so a form that mints a credential (a key, a user, a webhook
        // secret) is in the strict profile here, as its API route is.
        // -- portal: sessions list (web::portal::sessions)
        route!(GET "/portal/sessions", Public, L, "portal", "The sessions list: views of a namespace (?ns=, default portal; ?view=), filters (?q= session id or metadata.externalUserId, ?status=, ?workflow=, ?from=, ?to=), ?sort=, keyset paging (?after=), counts by status", crate::web::portal::sessions::list)
            .page(),
        route!(POST "/portal/sessions/views", Public, M, "portal", "Save the current sessions list as a view of its namespace (a form)", crate::web::portal::sessions::save)
            .page()
            .not_audited("the view API call it makes is recorded by the view itself; the page has no action of its own"),
        // -- portal: one session (web::portal::session)
        route!(GET "/portal/sessions/{id}", Public, L, "portal", "One session's page: the workflow's view block, status, checks, files, properties, history, steps, errors, webhook deliveries, and the review, legal hold, export and delete forms the user may use", crate::web::portal::session::page)
            .page(),
        route!(GET "/portal/sessions/{id}/files/{file}", Public, L, "portal", "A session file's bytes for the session page (GET /api/sessions/{id}/files/{file} as the signed-in user; Range and If-None-Match passed on)", crate::web::portal::session::file)
            .page(),
        route!(GET "/portal/sessions/{id}/export", Public, L, "portal", "The session as a zip (GET /api/sessions/{id}/export as the signed-in user)", crate::web::portal::session::export)
            .page(),
        route!(POST "/portal/sessions/{id}/review", Public, M, "portal", "Review form (csrf, idem, etag, from, seen, action approve|reject|set, status, comment): PATCH /api/sessions/{id} with If-Match; 303 back, or the page again saying what changed when someone changed the session first", crate::web::portal::session::review)
            .page()
            .not_audited("the API call it makes is audited"),
        route!(POST "/portal/sessions/{id}/hold", Public, M, "portal", "Legal hold form (csrf, idem, hold on|off): PATCH /api/sessions/{id} {legalHold}; 303 back", crate::web::portal::session::hold)
            .page()
            .not_audited("the API call it makes is audited"),
        route!(POST "/portal/sessions/{id}/delete", Public, M, "portal", "Delete form (csrf, confirm = the session id, reason): DELETE /api/sessions/{id}; 303 to the list", crate::web::portal::session::delete)
            .page()
            .not_audited("the API call it makes is audited"),
        // -- portal: settings, keys users audit (web::portal::accounts)
        route!(GET "/portal/settings/keys", Public, L, "portal", "The portal's API keys: the list (GET /api/apikey) and the form that creates one", crate::web::portal::accounts::keys)
            .page(),
        route!(POST "/portal/settings/keys", Public, S, "portal", "Create an API key (a form: name, ttl, perm; POST /api/apikey): the page showing its token once, or the form again with the API's error", crate::web::portal::accounts::create_key)
            .page().not_audited("the API call it makes (POST /api/apikey) is strictly limited and audited"),
        route!(POST "/portal/settings/keys/{id}/revoke", Public, M, "portal", "Revoke an API key (DELETE /api/apikey/{id}); 303 to the list", crate::web::portal::accounts::revoke_key)
            .page().not_audited("the API call it makes (DELETE /api/apikey/{id}) is audited"),
        route!(GET "/portal/settings/users", Public, L, "portal", "The portal's users and roles (GET /api/security/users and /api/security/roles) with the forms the user may use", crate::web::portal::accounts::users)
            .page(),
        route!(POST "/portal/settings/users", Public, S, "portal", "Create a user (a form: name, password, email, role; POST /api/security/users); 303 to the list, or the form again with the API's error", crate::web::portal::accounts::create_user)
            .page().not_audited("the API call it makes (POST /api/security/users) is strictly limited and audited"),
        route!(POST "/portal/settings/users/{id}", Public, M, "portal", "Change a user's roles and whether it is active (PATCH /api/security/users/{id}); 303 to the list", crate::web::portal::accounts::change_user)
            .page().not_audited("the API call it makes (PATCH /api/security/users/{id}) is audited"),
        route!(POST "/portal/settings/users/{id}/delete", Public, M, "portal", "Delete a user (DELETE /api/security/users/{id}); 303 to the list", crate::web::portal::accounts::delete_user)
            .page().not_audited("the API call it makes (DELETE /api/security/users/{id}) is audited"),
        route!(POST "/portal/settings/roles", Public, M, "portal", "Create a custom role (a form: name, description, perm; POST /api/security/roles); 303 to the users page, or the form again with the API's error", crate::web::portal::accounts::create_role)
            .page().not_audited("the API call it makes (POST /api/security/roles) is audited"),
        route!(GET "/portal/settings/audit", Public, L, "portal", "The portal's audit log (GET /api/audit) with filters and pages, newest first", crate::web::portal::accounts::audit)
            .page(),
        route!(POST "/portal/settings/audit/verify", Public, M, "portal", "Verify the audit chain (POST /api/audit/verify): the audit page with the verdict", crate::web::portal::accounts::verify_audit)
            .page().not_audited("reads the audit log through POST /api/audit/verify and changes nothing"),
        // -- portal: settings, workflows webhooks (web::portal::platform)
        route!(GET "/portal/settings/workflows", Public, L, "portal", "Portal: the workflows, a form to load one (a file or pasted text) and Reload from folder", crate::web::portal::platform::workflows)
            .page(),
        route!(POST "/portal/settings/workflows", Public, M, "portal", "Portal: load a workflow (multipart: file or text, csrf, idem) through POST /api/workflows: 303 to the list, or the problems at their lines", crate::web::portal::platform::upload_workflow)
            .page().not_audited("the API call it makes records the stored revision"),
        route!(POST "/portal/settings/workflows/reload", Public, M, "portal", "Portal: load the workflows and localization folders again (POST /api/workflows/reload) and show what changed", crate::web::portal::platform::reload)
            .page().not_audited("the API call it makes is the reload itself"),
        route!(GET "/portal/settings/workflows/{id}", Public, L, "portal", "Portal: one workflow's summary and definition", crate::web::portal::platform::workflow)
            .page(),
        route!(POST "/portal/settings/workflows/{id}/delete", Public, M, "portal", "Portal: delete a workflow (DELETE /api/workflows/{id}), 303 to the list", crate::web::portal::platform::delete_workflow)
            .page().not_audited("the API call it makes is audited"),
        route!(GET "/portal/settings/translations", Public, L, "portal", "Portal: the loaded translations by locale (?locale=) and a form to load a localization file", crate::web::portal::platform::translations)
            .page(),
        route!(POST "/portal/settings/translations", Public, M, "portal", "Portal: load a localization file (multipart: file or text) through POST /api/translations", crate::web::portal::platform::upload_translations)
            .page().not_audited("the API call it makes stores the entries with their loader"),
        route!(GET "/portal/settings/assets", Public, L, "portal", "Portal: the workflow assets and a form to store one", crate::web::portal::platform::assets)
            .page(),
        route!(POST "/portal/settings/assets", Public, M, "portal", "Portal: store an asset (multipart: file, id) through PUT /api/v1/assets/{assetId} with the file's type", crate::web::portal::platform::upload_asset)
            .page().not_audited("the API call it makes keeps the asset's SHA-256 and update time"),
        route!(POST "/portal/settings/assets/{id}/delete", Public, M, "portal", "Portal: delete an asset (DELETE /api/v1/assets/{assetId})", crate::web::portal::platform::delete_asset)
            .page().not_audited("the API call it makes is audited"),
        route!(GET "/portal/settings/webhooks", Public, L, "portal", "Portal: the webhook endpoints and a form to add one", crate::web::portal::platform::webhooks)
            .page(),
        route!(POST "/portal/settings/webhooks", Public, S, "portal", "Portal: create a webhook endpoint (url, description, events) through POST /api/webhooks and show its secret once", crate::web::portal::platform::create_webhook)
            .page().not_audited("the API call it makes is audited and strictly limited"),
        route!(GET "/portal/settings/webhooks/{id}", Public, L, "portal", "Portal: one webhook endpoint with its actions and delivery log (?before= pages back)", crate::web::portal::platform::webhook)
            .page(),
        route!(POST "/portal/settings/webhooks/{id}/rotate", Public, S, "portal", "Portal: give the endpoint a new secret (POST /api/webhooks/{id}/rotate-secret) and show it once", crate::web::portal::platform::rotate_secret)
            .page().not_audited("the API call it makes is audited and strictly limited"),
        route!(POST "/portal/settings/webhooks/{id}/delete", Public, M, "portal", "Portal: delete the endpoint (DELETE /api/webhooks/{id})", crate::web::portal::platform::delete_webhook)
            .page().not_audited("the API call it makes is audited"),
        route!(POST "/portal/settings/webhooks/{id}/enabled", Public, M, "portal", "Portal: enable or disable the endpoint (PATCH /api/webhooks/{id})", crate::web::portal::platform::set_enabled)
            .page().not_audited("the API call it makes is audited"),
        route!(POST "/portal/settings/webhooks/{id}/test", Public, M, "portal", "Portal: send a webhook.test event to the endpoint (POST /api/webhooks/{id}/test)", crate::web::portal::platform::send_test)
            .page().not_audited("the delivery log of the endpoint keeps the test event"),
        route!(POST "/portal/settings/webhooks/{id}/replay", Public, M, "portal", "Portal: send again every kept event since a day (POST /api/webhooks/{id}/replay)", crate::web::portal::platform::replay)
            .page().not_audited("the API call it makes is audited"),
        route!(POST "/portal/settings/webhooks/{id}/deliveries/{delivery}/retry", Public, M, "portal", "Portal: send one delivery again now (POST /api/webhooks/{id}/deliveries/{delivery}/retry)", crate::web::portal::platform::retry)
            .page().not_audited("the API call it makes is audited"),
        // -- portal: dashboard (web::portal::dashboard)
        route!(GET "/static/portal/{*file}", Public, EXEMPT, "portal", "The portal's CSS and JS, with ETags", crate::web::portal::asset)
            .page().infallible(),
        route!(GET "/static/capture/{*file}", Public, EXEMPT, "capture", "The capture page's CSS and JS, with ETags", crate::web::capture::asset)
            .page().infallible(),
        route!(POST "/api/sessions/{id}/step/{step}", AnyOf(SESSION_WRITE), M, "sessions", "Submit step data (?type=data, JSON) or upload files to the step (?type=file, multipart/form-data or a raw body; all parts or none, at most services.api.maxUploadParts parts and services.api.maxBodySize in all)", sessions::step)
            .takes_as("application/json", api::any).takes_as("multipart/form-data", api::sessions::multipart_schema).takes_as("application/octet-stream", api::sessions::binary_schema).returns::<api::sessions::StepAnswer>(200)
            .example(r#"{"continue": true}"#)
            .not_audited("the session keeps every submission in its steps, and the event feed has session.step_completed")
            .idempotent()
            .query([
                optional("type", OneOf(&["data", "file"]), "data: the body is the step's JSON data; file: the body is files (multipart/form-data, each part a file, or one raw file). Default: data for a JSON body or none, file otherwise"),
                optional("property", Text, "type=file: the binary property the files fill (a multipart part named after a binary property fills that one)"),
                optional("name", Text, "type=file with a raw body: the file's name (default upload)"),
            ])
            .answers(JSON_BODY)
            .answers(&[
                (404, "No such session (code session_not_found) or step (code step_not_found)"),
                (409, "The step is not the session's current step (code step_not_current), the session has ended (code session_ended), or a concurrent write won (code session_conflict)"),
                SESSION_DELETED,
                (422, "The data does not fit the step's schema (code schema_violation) or the step could not take it (code step_failed)"),
            ])
            .answers(STORAGE_DOWN),
        route!(GET "/api/sessions/{id}/files/{file}", AnyOf(SESSION_READ), L, "sessions", "Download a session file (supports Range and If-None-Match)", files::download)
            .returns_as(200, Answer::Media("application/octet-stream")).returns_as(206, Answer::Media("application/octet-stream")).returns_as(304, Answer::Empty)
            .raw()
            .audit(Event::new("file.download", Param("file")).detail("session", "id"))
            .answers(&[(200, "The file's bytes, with its Content-Type and ETag"), (206, "The requested Range of the file (Content-Range)"), (304, "If-None-Match holds the file's ETag: not modified"), (404, "No such session (code session_not_found) or file (code file_not_found)"), SESSION_DELETED, (416, "The Range is outside the file (code range_not_satisfiable); Content-Range: bytes */<size>")])
            .answers(STORAGE_DOWN),
        route!(GET "/api/v1/assets/{assetId}/content", Public, EXEMPT, "assets", "A workflow asset's bytes, with its Content-Type, ETag (If-None-Match answers 304) and Cache-Control. Public, without credentials: SDKs load assets as plain image URLs, so never store secrets as assets", assets::content)
            .returns_as(200, Answer::Media("*/*")).returns_as(304, Answer::Empty)
            .raw()
            .answers(&[(304, "If-None-Match holds the asset's ETag: not modified"), (404, "No asset with this id (code asset_not_found)")])
            .answers(STORAGE_DOWN),
        route!(GET "/api/v1/assets", AnyOf(ASSETS_READ), L, "assets", "List workflow assets: [{id, contentType, size, sha256, createdAt, updatedAt, url}]", assets::list)
            .returns_as(200, Answer::Json(api::list::<api::assets::AssetView>)),
        route!(GET "/api/v1/assets/{assetId}", AnyOf(ASSETS_READ), L, "assets", "One asset's metadata", assets::get)
            .returns::<api::assets::AssetView>(200)
            .answers(&[(404, "No asset with this id (code asset_not_found)")]),
        route!(PUT "/api/v1/assets/{assetId}", AnyOf(ASSETS_WRITE), M, "assets", "Store an asset: the raw body is the file, Content-Type its type (default: from the id's extension). Ids are 1-128 of [A-Za-z0-9_.-]; at most services.api.maxBodySize. 201 when new, 200 when replaced", assets::put)
            .takes_as("*/*", api::assets::bytes_schema).returns::<api::assets::AssetView>(200).returns::<api::assets::AssetView>(201)
            .not_audited("assets are public display material; the asset keeps its SHA-256 and update time")
            .answers(&[(200, "Replaced: the asset's metadata"), (201, "Created: the asset's metadata"), (413, "The body is larger than services.api.maxBodySize (code payload_too_large)"), (415, "The Content-Type is not one an asset may have (code unsupported_media_type)")])
            .answers(STORAGE_DOWN),
        route!(DELETE "/api/v1/assets/{assetId}", AnyOf(ASSETS_DELETE), M, "assets", "Delete an asset and its bytes", assets::delete)
            .returns::<api::assets::AssetDeleted>(200)
            .audit(Event::new("asset.deleted", Param("assetId")))
            .answers(&[(404, "No asset with this id (code asset_not_found)")]),
        // The gateways: mounted at services.docreader.prefix / services.faceapi.prefix.
        route!(GET "/drapi/{*path}", AnyOf(DOCREADER_READ), L, "gateways", "Relayed to services.docreader.url + /{path} (Document Reader web service), query included, bodies streamed; off unless services.docreader.enabled", gateway::docreader)
            .gateway(),
        route!(POST "/drapi/{*path}", AnyOf(DOCREADER_WRITE), M, "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader)
            .gateway(),
        route!(PUT "/drapi/{*path}", AnyOf(DOCREADER_WRITE), M, "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader)
            .gateway(),
        route!(PATCH "/drapi/{*path}", AnyOf(DOCREADER_WRITE), M, "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader)
            .gateway(),
        route!(DELETE "/drapi/{*path}", AnyOf(DOCREADER_DELETE), M, "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader)
            .gateway(),
        route!(GET "/faceapi/{*path}", AnyOf(FACEAPI_READ), L, "gateways", "Relayed to services.faceapi.url + /{path} (Face API web service), query included, bodies streamed; off unless services.faceapi.enabled", gateway::faceapi)
            .gateway(),
        route!(POST "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), M, "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi)
            .gateway(),
        route!(PUT "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), M, "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi)
            .gateway(),
        route!(PATCH "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), M, "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi)
            .gateway(),
        route!(DELETE "/faceapi/{*path}", AnyOf(FACEAPI_DELETE), M, "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi)
            .gateway(),
        // Session search and views.
        route!(POST "/api/sessions/search", AnyOf(&[("session", Op::Read), ("session_all", Op::Read)]), M, "sessions", "Search sessions (session_all:read: all; session:read: own). Body: a view's value plus `filter` ({op: $and|$or, groups, conditions: [{field, op, value}]}; fields id, status, workflow.id, createdAt, updatedAt (ISO-8601 or epoch ms), metadata.X, properties.X; ops $eq $ne $in $nin $gt $gte $lt $lte $exists) and `sort` ([{field, order: asc|desc}], newest first by default). ?limit= (default 20, max 1000), ?skip=, ?after=<next>. Answers {items: [summary], total (counted up to 10000; totalCapped beyond), next}", search::sessions)
            .takes::<api::sessions::SearchBody>().returns::<api::sessions::SearchPage>(200)
            .example(r#"{"workflows": ["edda0192-b890-11ef-a348-17da751a6a22"], "columns": [{"type": "property", "name": "FULL_NAME"}], "sort": [{"field": "createdAt", "order": "desc"}], "filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [{"field": "status", "op": "$in", "value": [1, 2]}, {"field": "createdAt", "op": "$gte", "value": "2025-01-01T00:00:00.000Z"}]}]}}"#)
            .audit(Event::new("session.searched", Target::None))
            .query([
                optional("limit", Integer { min: 0, max: crate::ops::search::MAX_LIMIT }, "Sessions per page (default 20)"),
                optional("skip", Integer { min: 0, max: crate::ops::search::MAX_SKIP }, "Sessions to skip; page deeper with after"),
                optional("after", Text, "The next of the previous page"),
            ])
            .answers(JSON_BODY),
        // Session statistics for dashboards, from counters kept with every session write.
        route!(GET "/api/stats/sessions", AnyOf(SESSION_ALL_READ), L, "sessions", "Sessions created per UTC day, by current status: {from, to, workflowId, days: [{date, total, statuses: [{status, count}]}], totals: [{status, count}]}, every day of the range listed. ?from= and ?to= (dates like 2026-01-31, ISO-8601 times or ms; default: the last 14 days to today; at most 366 days), ?workflowId= (default: all workflows). Needs session_all:read", stats::sessions)
            .returns::<api::stats::SessionStats>(200)
            .query([
                optional("from", Time, "The first day (UTC) counted; default 13 days before `to`"),
                optional("to", Time, "The last day (UTC) counted, inclusive; default today"),
                optional("workflowId", Text, "Only the sessions of this workflow"),
            ]),
        route!(GET "/api/stats/sessions/totals", AnyOf(SESSION_ALL_READ), L, "sessions", "All the sessions created from ?from= to ?to= (each optional: no limit on the range), by current status: {from, to, workflowId, total, totals: [{status, count}]}; ?workflowId= (default: all workflows). From the same counters as GET /api/stats/sessions, exact at any number of sessions. Needs session_all:read", stats::totals)
            .returns::<api::stats::SessionTotals>(200)
            .query([
                optional("from", Time, "The first day (UTC) counted; default: from the first session on"),
                optional("to", Time, "The last day (UTC) counted, inclusive; default: up to the last session"),
                optional("workflowId", Text, "Only the sessions of this workflow"),
            ]),
        route!(GET "/api/stats/funnel", AnyOf(SESSION_ALL_READ), L, "sessions", "Where the sessions of a workflow are: per step of its definition (then any other step a session reached), how many sessions reached it and how many stopped there (are in it now, or ended in it); and the workflows one may ask for: {workflowId, workflowName, sessions, steps: [{id, name, reached, stopped, final}], workflows: [{id, name}]}. ?workflowId= (default: the first by name with sessions). Needs session_all:read", stats::funnel)
            .returns::<api::stats::Funnel>(200)
            .query([optional("workflowId", Text, "The workflow; default the first by name that has sessions")])
            .answers(&[(404, "No workflow with this id is loaded or has sessions (code workflow_not_found)")]),
        route!(GET "/api/views/namespaces/{namespace}", AnyOf(&[("view", Op::Read), ("view_all", Op::Read)]), L, "views", "The views of a namespace the caller may see (?limit= default 100, max 1000; ?skip=): {items: [{key, value: {id, title, description, workflows, columns, groupIds, userIds}, groupIds, userIds}], total}. A view with userIds is seen only by those users, its owner and view_all:read", views::list)
            .returns::<api::views::ViewList>(200)
            .query([
                optional("limit", Integer { min: 0, max: crate::ops::views::MAX_LIMIT }, "Views per page (default 100)"),
                optional("skip", Integer { min: 0, max: i32::MAX as i64 }, "Views to skip"),
            ]),
        route!(GET "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Read), ("view_all", Op::Read)]), L, "views", "One view", views::get)
            .returns::<api::views::View>(200)
            .answers(&[(404, "No view with this key that the caller may see (code view_not_found)")]),
        route!(POST "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Write), ("view_all", Op::Write)]), M, "views", "Create or replace a view (view:write: own views only; view_all:write: any). Columns are {type: field|property, name}; value.id is generated when absent. Namespace and key: 1-128 of [A-Za-z0-9_.-]", views::put)
            .takes::<api::views::ViewValue>().returns::<api::views::View>(200)
            .example(r#"{"title": "General KYC", "description": "Sessions of General KYC", "workflows": ["edda0192-b890-11ef-a348-17da751a6a22"], "columns": [{"type": "field", "name": "status"}, {"type": "property", "name": "FULL_NAME"}], "groupIds": [], "userIds": []}"#)
            .not_audited("a saved layout of search columns; the view records its owner")
            .idempotent()
            .answers(JSON_BODY),
        route!(DELETE "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Delete), ("view_all", Op::Delete)]), M, "views", "Delete a view (view:delete: own views only; view_all:delete: any)", views::delete)
            .returns::<api::views::View>(200)
            .not_audited("a saved layout of search columns, no session data")
            .answers(&[(404, "No view with this key that the caller may delete (code view_not_found)")]),
        // Review, deletion and retention.
        route!(PATCH "/api/sessions/{id}", AnyOf(SESSION_PATCH), M, "sessions", "Review a session: set `status` (0, 1, 2, 3 approved, 4, 1000 rejected) with an optional `comment` (at most 2000 characters), and `legalHold` (true blocks deletion and retention; needs session_all_patch:write). Each change is added to the session's `history` as {at, by, from, to, comment}. Send `If-Match` with the ETag of GET /api/sessions/{id} to apply only to that revision (412 precondition_failed otherwise); answers the session and its new ETag. Unknown fields are refused", sessions::patch)
            .takes::<api::sessions::Review>().returns::<api::sessions::Session>(200)
            .example(r#"{"status": 3, "comment": "Document checked by hand"}"#)
            .audit(Event::new("session.status_changed", Param("id")))
            .answers(JSON_BODY)
            .answers(&[SESSION_NOT_FOUND, (409, "A concurrent change won (code session_conflict); read the session and try again"), SESSION_DELETED, (412, "If-Match does not hold the session's current ETag (code precondition_failed)")]),
        route!(DELETE "/api/sessions/{id}", AnyOf(SESSION_DELETE), M, "sessions", "Delete a session, its files (rows and bytes) and its background jobs, leaving a tombstone; optional ?reason= (at most 500 characters). Answers 204, again for an id already deleted; 409 legal_hold while the session is held. Afterwards the session's endpoints answer 410 session_deleted with the tombstone {id, workflowId, status, deletedAt, deletedBy, reason} as details", sessions::delete)
            .returns_as(204, Answer::Empty)
            .audit(Event::new("session.deleted", Param("id")))
            .query([optional("reason", Text, "Why (at most 500 characters); kept in the tombstone")])
            .answers(&[(204, "Deleted, now or before"), SESSION_NOT_FOUND, (409, "The session is under legal hold (code legal_hold)"), (410, "A concurrent request deleted the session first (code session_deleted)")]),
        // Server-side starts: ephemeral devices, deeplinks, QR codes and their one-time tokens.
        route!(POST "/api/device/ephemeral", AnyOf(&[("ephemeral_device", Op::Write)]), S, "devices", "Mint an ephemeral device token ({\"ttl\": seconds, 60 to 604800, default 3600}). Answers {authorization: \"Token idvdt_...\", id, createdAt, expiresAt, ttl}; send `authorization` as-is as the Authorization header. The token starts sessions, submits their steps and reads its own sessions and their files, nothing else; its sessions end no later than it does", devices::ephemeral)
            .takes::<api::devices::EphemeralInput>().returns::<api::devices::EphemeralDevice>(200)
            .mints_credentials()
            .example(r#"{"ttl": 3600}"#)
            .audit(Event::new("device_token.created", Noted))
            .idempotent()
            .answers(JSON_BODY),
        route!(POST "/api/v1/deeplink", AnyOf(&[("deeplink", Op::Write)]), S, "devices", "Start a session of the first ?workflowId= (the parameter may repeat) and answer {url, createdAt, expiresAt, workflowIds, sessionId}; url is <baseUrl>/mobile?authorization=Token%20<token>&sessionId=<id>, its token bound to that one session. `ttl` (seconds, 60 to 604800, default 3600) bounds the token and the session", devices::deeplink)
            .takes::<api::devices::DeeplinkInput>().returns::<api::devices::DeeplinkView>(200)
            .mints_credentials()
            .example(r#"{"metadata": {"externalUserId": "user-42"}, "locale": "en", "ttl": 3600}"#)
            .audit(Event::new("deeplink.created", Noted))
            .idempotent()
            .query([required("workflowId", Text, "The workflow of the session; may repeat: the token may start sessions of every one named, the link's session runs the first").repeated()])
            .answers(JSON_BODY)
            .answers(&[(404, "No workflow with one of these ids (code workflow_not_found)")]),
        route!(GET "/api/deeplink/qrcode", AnyOf(&[("deeplink", Op::Write)]), S, "devices", "Start a session like POST /api/v1/deeplink (?workflowId=, optional ?ttl= and ?locale=) with a one-time `tr-` token, and answer {token, url, sessionId, createdAt, expiresAt, workflowIds, qrcode: \"data:image/png;base64,...\"}, or with Accept: image/png the QR code itself (headers X-Session-Id, X-Expires-At). The QR code holds the url; its token works only at POST /api/deeplink/exchange", devices::qrcode)
            .returns::<api::devices::QrCodeView>(200).returns_as(200, Answer::Media("image/png"))
            .audit(Event::new("deeplink.qrcode_created", Noted))
            .mints_credentials()
            .raw()
            .query([
                required("workflowId", Text, "The workflow of the session; may repeat as for POST /api/v1/deeplink").repeated(),
                optional("ttl", Integer { min: crate::ops::devices::MIN_TTL, max: crate::ops::devices::MAX_TTL }, "Seconds the token and the session live (default 3600)"),
                optional("locale", Text, "The session's locale (default: the workflow's)"),
            ])
            .answers(&[(404, "No workflow with one of these ids (code workflow_not_found)"), (406, "Accept admits neither application/json nor image/png (code not_acceptable)")]),
        route!(POST "/api/deeplink/exchange", Authenticated, S, "devices", "With Authorization: Token tr-... (a QR code's one-time token): answers {authorization: \"Token idvdt_...\", sessionId, expiresAt, workflowIds}, a token bound to the QR code's session until the same expiry. Works once: afterwards the tr- token is refused (401); of concurrent exchanges exactly one succeeds", devices::exchange)
            .returns::<api::devices::ExchangeView>(200)
            .mints_credentials()
            .audit(Event::new("deeplink.exchanged", Noted))
            .idempotent(),
        // Shareable start links: each opening starts a fresh session.
        route!(POST "/api/links", AnyOf(LINK_WRITE), S, "links", "Create a shareable start link of a workflow: {workflowId, maxUses (openings allowed, 1 to 1000000000; no limit when left out), expiresIn (seconds, 60 to 31536000; never when left out), metadata (an object every session gets, with startLinkId added), locale}. Answers 201 with the link and its `url` (<baseUrl>/l/<code>), shown only here; only a SHA-256 of the code is stored. Each opening of the url starts a fresh session of the workflow and redirects to the capture page with a token bound to it", links::create)
            .takes::<api::links::StartLinkInput>().returns::<api::links::StartLinkCreated>(201)
            .mints_credentials()
            .example(r#"{"workflowId": "edda0192-b890-11ef-a348-17da751a6a22", "maxUses": 100, "expiresIn": 604800, "metadata": {"campaign": "spring"}, "locale": "en"}"#)
            .audit(Event::new("start_link.created", Noted))
            .idempotent()
            .answers(&[(201, "Created: the link with its url, shown only here"), (404, "No workflow with this id (code workflow_not_found)")])
            .answers(JSON_BODY),
        route!(GET "/api/links", AnyOf(LINK_READ), L, "links", "Start links, newest first, without their urls: {items: [{id, workflowId, maxUses, uses, expiresAt, revokedAt, createdAt, createdBy, metadata, locale}], total}; ?workflowId= keeps one workflow's", links::list)
            .returns::<api::links::StartLinkList>(200)
            .query([optional("workflowId", Text, "Only the links of this workflow")]),
        route!(GET "/api/links/{id}", AnyOf(LINK_READ), L, "links", "One start link, without its url", links::get)
            .returns::<api::links::StartLinkView>(200)
            .answers(&[LINK_NOT_FOUND]),
        route!(DELETE "/api/links/{id}", AnyOf(LINK_DELETE), M, "links", "Revoke a start link: openings answer 410 from now on (sessions it started go on). Answers the link with revokedAt; again for a revoked link, keeping the first time", links::revoke)
            .returns::<api::links::StartLinkView>(200)
            .audit(Event::new("start_link.revoked", Param("id")))
            .answers(&[LINK_NOT_FOUND]),
        route!(GET "/l/{code}", Public, S, "links", "Open a start link (public; counted against the strict profile per client address): starts a fresh session of the link's workflow with its metadata plus startLinkId and its locale, mints a token bound to that session as POST /api/v1/deeplink does, and answers 303 See Other to <baseUrl>/mobile?authorization=Token%20<token>&sessionId=<id> (Cache-Control: no-store, Referrer-Policy: no-referrer). A link that cannot be used answers an HTML page saying why to a browser (Accept names text/html), else the JSON error. HEAD (a link preview) answers 200, 404 or 410 and neither counts an opening nor starts a session", links::open)
            .returns_as(303, Answer::Empty)
            .returns_as(404, Answer::Media("text/html"))
            .returns_as(410, Answer::Media("text/html"))
            .mints_credentials()
            .raw()
            .audit(Event::new("start_link.opened", Noted))
            .answers(&[
                (303, "A session was started: Location is the capture page with its token"),
                (404, "No link with this code (code start_link_not_found), or its workflow no longer exists (code workflow_not_found): an HTML page for a browser"),
                (410, "The link was revoked, has expired or is used up (code start_link_gone): an HTML page saying which for a browser"),
            ]),
        // Session export and import.
        route!(GET "/api/sessions/{id}/export", AnyOf(SESSION_READ), L, "sessions", "The session as a zip archive (application/zip, session-<id>.zip): manifest.json (format idv-session-export, version 1, with the size and SHA-256 of every entry), session.json (the session as GET /api/sessions/{id} shows it plus its stored rows), workflow.json (the workflow revision it runs on) and files/<fileId>/<name>. Same access as reading the session; `idv session import -i DIR` restores it", exchange::export)
            .returns_as(200, Answer::Media("application/zip"))
            .raw()
            .audit(Event::new("session.exported", Param("id")))
            .answers(&[SESSION_NOT_FOUND, SESSION_DELETED])
            .answers(STORAGE_DOWN),
        // Audit log.
        // Webhooks.
        route!(POST "/api/webhooks", AnyOf(WEBHOOK_WRITE), S, "webhooks", "Create a webhook endpoint: {url (http(s); must not resolve to a private address unless outbound.allowPrivateAddresses), events (session.created, session.step_completed, session.status_changed, session.completed, session.expired, session.deleted, webhook.test, or [\"*\"]), enabled (default true), description, headers (extra request headers as {name: value}; write-only: every answer shows only their names, as headerNames), workflowIds (only these workflows' sessions; all when empty), ed25519 (also sign with the server's Ed25519 key, v1a)}. Answers 201 with the endpoint and its `secret` (whsec_...), shown only here. Deliveries are POSTs of {id, type, createdAt, sequence, data: {sessionId, workflowId, status, previousStatus, step}} signed with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)", webhooks::create)
            .takes::<api::webhooks::WebhookInput>().returns::<api::webhooks::WebhookWithSecret>(201)
            .mints_credentials()
            .example(r#"{"url": "https://example.com/idv-hook", "events": ["session.completed", "session.status_changed"], "description": "Back office", "headers": {"X-Tenant": "acme"}, "workflowIds": []}"#)
            .audit(Event::new("webhook.created", Noted))
            .idempotent()
            .answers(&[(201, "Created: the endpoint with its secret, shown only here")])
            .answers(JSON_BODY),
        route!(GET "/api/webhooks", AnyOf(WEBHOOK_READ), L, "webhooks", "Every webhook endpoint, oldest first, without secrets or header values (headerNames only): {items, total}. disabledReason and disabledAt tell why the server disabled one (410 Gone, failing for a day)", webhooks::list)
            .returns::<api::webhooks::WebhookList>(200),
        route!(GET "/api/webhooks/signing-key", Public, L, "webhooks", "The server's Ed25519 public key: {algorithm: ed25519, signatureVersion: v1a, publicKey: whpk_<base64>}. Endpoints with ed25519: true carry a `v1a,<base64 signature of id.timestamp.body>` in webhook-signature, verifiable with this key alone", webhooks::signing_key)
            .returns::<api::webhooks::SigningKey>(200),
        route!(GET "/api/webhooks/{id}", AnyOf(WEBHOOK_READ), L, "webhooks", "One webhook endpoint, without its secret or header values (headerNames only)", webhooks::get)
            .returns::<api::webhooks::WebhookView>(200)
            .answers(&[WEBHOOK_NOT_FOUND]),
        route!(PATCH "/api/webhooks/{id}", AnyOf(WEBHOOK_WRITE), M, "webhooks", "Change fields of an endpoint (the fields of POST; description null clears it; headers replaces them all, {} removes them). Answers the endpoint without header values (headerNames only). enabled: true re-enables one the server disabled", webhooks::update)
            .takes::<api::webhooks::WebhookInput>().returns::<api::webhooks::WebhookView>(200)
            .example(r#"{"enabled": true}"#)
            .audit(Event::new("webhook.updated", Param("id")))
            .answers(JSON_BODY)
            .answers(&[WEBHOOK_NOT_FOUND]),
        route!(DELETE "/api/webhooks/{id}", AnyOf(WEBHOOK_DELETE), M, "webhooks", "Delete an endpoint with its delivery log; answers 204", webhooks::delete)
            .returns_as(204, Answer::Empty)
            .audit(Event::new("webhook.deleted", Param("id")))
            .answers(&[(204, "Deleted with its delivery log"), WEBHOOK_NOT_FOUND]),
        route!(POST "/api/webhooks/{id}/rotate-secret", AnyOf(WEBHOOK_WRITE), S, "webhooks", "Give the endpoint a new secret, answered once with the endpoint (header names only). The old secret keeps signing beside it (two v1 signatures) for {\"overlapSeconds\": N} (default 86400, at most 604800; 0 stops it at once): previousSecretExpiresAt", webhooks::rotate_secret)
            .takes::<api::webhooks::RotateSecretInput>().returns::<api::webhooks::WebhookWithSecret>(200)
            .mints_credentials()
            .example(r#"{"overlapSeconds": 3600}"#)
            .audit(Event::new("webhook.secret_rotated", Param("id")))
            .idempotent()
            .answers(JSON_BODY)
            .answers(&[WEBHOOK_NOT_FOUND]),
        route!(GET "/api/webhooks/{id}/deliveries", AnyOf(WEBHOOK_READ), L, "webhooks", "The endpoint's delivery log, newest first: {items: [{id, eventId, eventType, sessionId, sequence, state (pending, delivered, failed), attempts: [{at, statusCode, latencyMs, response (the first KiB), error}], nextAttemptAt, createdAt, deadline}], next}. ?limit= (1-500, default 50); ?before=<next> gives the following page", deliveries::list)
            .returns::<api::webhooks::DeliveryPage>(200)
            .query([
                optional("limit", Integer { min: 1, max: 500 }, "Deliveries per page (default 50)"),
                optional("before", Pattern("^[0-9]{1,19}$"), "The next of the previous page"),
            ])
            .answers(&[WEBHOOK_NOT_FOUND]),
        route!(GET "/api/sessions/{id}/deliveries", AnyOf(WEBHOOK_READ), L, "webhooks", "The deliveries of one session's events to every endpoint, newest first: {items: [{webhookId, id, eventId, eventType, sessionId, sequence, state, attempts, nextAttemptAt, createdAt, deadline}]} (as in a webhook's delivery log, with the endpoint's id); empty for a session without any. ?limit= (1-500, default 50)", deliveries::for_session)
            .returns::<api::webhooks::SessionDeliveries>(200)
            .query([optional("limit", Integer { min: 1, max: 500 }, "Deliveries at most (default 50)")]),
        route!(POST "/api/webhooks/{id}/deliveries/{delivery}/retry", AnyOf(WEBHOOK_WRITE), M, "webhooks", "Send a delivery again now, with a new 3-day deadline and the same webhook-id; answers 202 with the delivery. 409 delivery_in_progress while a worker is sending it", deliveries::retry)
            .returns::<api::webhooks::DeliveryView>(202)
            .audit(Event::new("webhook.delivery_retried", Param("id")).detail("delivery", "delivery"))
            .idempotent()
            .answers(&[(202, "Queued again: the delivery"), (404, "No such webhook endpoint (code webhook_not_found) or delivery (code delivery_not_found)"), (409, "A worker is sending the delivery right now (code delivery_in_progress)")]),
        route!(POST "/api/webhooks/{id}/replay", AnyOf(WEBHOOK_WRITE), M, "webhooks", "Queue again every kept session event created at or after ?since= (ISO-8601 or epoch ms) that the endpoint's filters select, each with its own webhook-id; answers 202 {queued}", deliveries::replay)
            .returns::<api::webhooks::ReplayQueued>(202)
            .audit(Event::new("webhook.replayed", Param("id")))
            .idempotent()
            .query([required("since", Time, "Replay the events created at or after this time")])
            .answers(&[(202, "Queued: {queued}"), WEBHOOK_NOT_FOUND]),
        route!(POST "/api/webhooks/{id}/test", AnyOf(WEBHOOK_WRITE), M, "webhooks", "Send a webhook.test event ({webhookId}) to this endpoint alone, whatever events it selects; answers 202 {eventId, deliveryId}", deliveries::test)
            .returns::<api::webhooks::TestSent>(202)
            .not_audited("sends a fixed webhook.test event; the endpoint's delivery log keeps it")
            .idempotent()
            .answers(&[(202, "Queued: {eventId, deliveryId}"), WEBHOOK_NOT_FOUND]),
        route!(GET "/api/audit", AnyOf(AUDIT_READ), L, "audit", "The audit log, newest first: {items: [{seq, at, actor: {id, kind, name}, action, target, outcome, ip, requestId, details, prevHash, hash}], next}. Filters: actor (id or name), action, target, from and to (ISO-8601 or ms), limit (1-1000, default 100); after=<next> gives the following page; order=asc lists by seq from after. Entries queued in this process are stored first", audit::list)
            .returns::<api::audit::AuditPage>(200)
            .query([
                optional("actor", Text, "Only entries of this actor (id or name)"),
                optional("action", Pattern("^[a-z._]{1,100}$"), "Only entries of this action (session.read, auth.login_failed, ...)"),
                optional("target", Text, "Only entries with this target"),
                optional("from", Time, "Only entries at or after this time"),
                optional("to", Time, "Only entries at or before this time"),
                optional("limit", Integer { min: 1, max: 1000 }, "Entries per page (default 100)"),
                optional("after", Integer { min: 0, max: i64::MAX }, "The next of the previous page"),
                optional("order", OneOf(&["asc", "desc"]), "desc (default): newest first; asc: by seq from after"),
            ]),
        route!(POST "/api/audit/verify", AnyOf(AUDIT_READ), M, "audit", "Walk the whole audit chain as `idv audit verify` does: {intact, count, anchorSeq, headSeq} when every entry links to the one before and matches its hash, else {intact: false, brokenAt, reason} naming the first entry that does not. Entries queued in this process are stored first", audit::verify)
            .returns::<api::audit::AuditVerdict>(200)
            .not_audited("reads the audit log and changes nothing; an entry of its own would only lengthen the chain it checks"),
        // The apps' files: links to this server open in the customer's app.
        route!(GET "/.well-known/apple-app-site-association", Public, L, "mobile", "Apple's universal links file from mobile.apple (appId, bundleId): the app opens /mobile*, /capture* and /l/* links. Public", mobile::apple)
            .returns::<api::mobile::AppleAppSiteAssociation>(200)
            .infallible()
            .answers(&[(404, "mobile.apple is not configured (code mobile_app_not_configured)")]),
        route!(GET "/.well-known/assetlinks.json", Public, L, "mobile", "Android's Digital Asset Links file from mobile.android (bundleId, sha256): the app handles this server's links. Public", mobile::android)
            .returns_as(200, Answer::Json(api::list::<api::mobile::AssetLink>))
            .infallible()
            .answers(&[(404, "mobile.android is not configured (code mobile_app_not_configured)")]),
        // The event feed and its live stream.
        route!(GET "/api/events", AnyOf(SESSION_READ), L, "events", "Session events in commit order: {items: [{id, type, createdAt, sequence, data: {sessionId, workflowId, status, previousStatus, step}}], next}, each item byte for byte the body webhooks deliver. session_all:read sees every session's events, session:read those of sessions it started. ?after=<next> continues after a previous page (without it: from the oldest kept event); ?limit= 1-1000, default 100; ?type= (repeatable or comma-separated) keeps only those types (an unknown one is 400 invalid_event_type). A malformed cursor is 400 invalid_cursor. On PostgreSQL an event shows once every older write transaction has ended", events::list)
            .returns::<api::events::EventPage>(200)
            .query([
                optional("after", EVENT_CURSOR, "Continue after this cursor (the next of a previous page, or a streamed event's id); from the oldest kept event when absent"),
                optional("limit", Integer { min: 1, max: 1000 }, "Events per page (default 100)"),
                optional("type", OneOf(FEED_TYPES), "Only these event types; may repeat, and each may list several, comma-separated (code invalid_event_type for an unknown one)").repeated(),
            ]),
        route!(GET "/api/events/stream", AnyOf(SESSION_SUBSCRIBE), L, "events", "The live event stream as Server-Sent Events (text/event-stream): per event `id: <cursor>`, `event: <type>`, `data: <body>` (one line, as in GET /api/events), a comment every 15 s. Starts after the Last-Event-ID header, else ?after=, else at the current end (only new events). ?type= filters as in GET /api/events. session_all:subscribe: every session; session:subscribe: sessions the caller started. 503 unavailable when the server already serves its maximum of streams", events::stream)
            .returns_as(200, Answer::Media("text/event-stream"))
            .raw()
            .answers(&[(503, "The server already serves its maximum of streams (code unavailable); try again later")])
            .query([
                optional("after", EVENT_CURSOR, "Start after this cursor when there is no Last-Event-ID header; at the current end when neither is given"),
                optional("type", OneOf(FEED_TYPES), "Only these event types, as in GET /api/events").repeated(),
            ]),
    ]
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    method: Method,
    access: Access,
    json: bool,
    /// The route's path template, for audit targets.
    path: &'static str,
    /// The cross-cutting facts of this route, from its row.
    rate: Option<Profile>,
    limiter: std::sync::Arc<ratelimit::RateLimiter>,
    audit: Option<Event>,
    idempotent: bool,
    /// The route's request counters ([`crate::metrics`]).
    metrics: crate::metrics::RouteMetrics,
}

/// Rate limits, authenticates and authorizes before the handler runs (the handler finds the
/// [`Principal`] in the request extensions), refuses parameters the database cannot hold
/// ([`crate::params::check`]), applies `Idempotency-Key`, and records the audit entry of the
/// answer. Every answer is shown to the contract observer ([`crate::observe`]) when one is
/// installed.
async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    // Requests over HTTP are counted; the portal's in-process calls are part of its page's.
    let counted = req.extensions().get::<InProcess>().is_none();
    let started = std::time::Instant::now();
    let metrics = g.metrics.clone();
    let resp = observed(g, req, next).await;
    if counted {
        metrics.record(resp.status().as_u16(), started.elapsed());
    }
    resp
}

/// [`guarded`], its answer shown to the contract observer when one is installed.
async fn observed(g: Guard, req: Request, next: Next) -> Response {
    if !crate::observe::installed() {
        return guarded(g, req, next).await;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (method, route) = (g.method.clone(), g.path);
    let resp = guarded(g, req, next).await;
    crate::observe::tap(&method, route, &host, resp).await
}

async fn guarded(g: Guard, mut req: Request, next: Next) -> Response {
    if g.json && !accepts_json(req.headers()) {
        return ApiError::new(
            ErrorCode::NotAcceptable,
            "this endpoint answers application/json; accept it (or */*)",
        )
        .into_response();
    }
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // A portal page calling the API in-process brings its signed-in user's principal
    // ([`InProcess`]); a client cannot set a request extension, so this is no way around
    // authentication. The permission check below is the same. Its calls are not counted
    // against the rate limits: the page's own request was, by its row's profile.
    let in_process = req.extensions().get::<InProcess>().map(|p| p.0.clone());
    let limited = g
        .rate
        .filter(|_| g.limiter.enabled() && in_process.is_none());
    let mut quota = None;
    if let (Some(profile), Some(ip)) = (limited, addr) {
        let q = g.limiter.check_addr(profile, ip);
        if q.exceeded {
            return ratelimit::too_many(
                profile,
                ratelimit::Subject::Address,
                &q,
                g.state.config.rate_limit.window(profile),
            );
        }
        quota = Some(q);
    }
    let pending = g.audit.filter(|_| g.state.audit.enabled()).map(|event| {
        crate::audit::pending::Pending::of(event, g.path, &req, addr, g.state.clock.now_ms())
    });
    let principal = if g.access == Access::Public {
        None
    } else {
        let checked = match in_process {
            Some(p) => permit(&g, p),
            None => authorize(&g, credentials_of(&req), req.uri().path()).await,
        };
        match checked {
            Ok(p) => Some(p),
            Err(resp) => {
                // A refused permission is worth recording; missing or bad credentials name
                // no actor and are not.
                if resp.status() == StatusCode::FORBIDDEN
                    && let (Some(pending), Some(p)) =
                        (pending, resp.extensions().get::<Arc<Principal>>().cloned())
                {
                    let entry = pending.entry(Some(&p), &resp);
                    g.state.audit.record(entry).await;
                }
                return with_quota(resp, quota);
            }
        }
    };
    if let (Some(profile), Some(p)) = (limited, &principal) {
        let q = g.limiter.check_principal(profile, &p.id);
        if q.exceeded {
            return ratelimit::too_many(
                profile,
                ratelimit::Subject::Credential,
                &q,
                g.state.config.rate_limit.window(profile),
            );
        }
        quota = Some(ratelimit::tighter(quota, q));
    }
    if let Some(p) = &principal {
        req.extensions_mut().insert(p.clone());
    }
    // Parameters the database cannot hold are refused here, for every route alike (and the
    // refusal is audited like any other answer).
    let resp = if let Err(e) = crate::params::check(&mut req).await {
        e.into_response()
    } else if g.idempotent {
        let owner = match (&principal, addr) {
            (Some(p), _) => p.id.clone(),
            (None, Some(ip)) => format!("addr:{ip}"),
            (None, None) => "addr:unknown".to_owned(),
        };
        crate::idempotency::run(&g.state, &owner, req, next).await
    } else {
        next.run(req).await
    };
    if let Some(pending) = pending {
        let entry = pending.entry(principal.as_ref(), &resp);
        g.state.audit.record(entry).await;
    }
    with_quota(resp, quota)
}

fn with_quota(mut resp: Response, quota: Option<ratelimit::Quota>) -> Response {
    if let Some(q) = quota {
        ratelimit::set_headers(resp.headers_mut(), &q);
    }
    resp
}

/// The credentials of a request: the `Authorization` header, else the `authorization` query
/// parameter.
fn credentials_of(req: &Request) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_param(req.uri().query().unwrap_or(""), "authorization"))
}

/// The caller's principal, or the 401/403 answer (a 403 carries the principal in its
/// extensions, for the audit entry).
async fn authorize(
    g: &Guard,
    credentials: Option<String>,
    path: &str,
) -> Result<Arc<Principal>, Response> {
    let Some(credentials) = credentials.filter(|c| !c.trim().is_empty()) else {
        return Err(unauthorized(
            g,
            ApiError::new(
                ErrorCode::MissingCredentials,
                "this endpoint needs credentials: Authorization: ApiKey <key>, Basic, Bearer or Token",
            ),
        ));
    };
    let principal = match g.state.auth.authenticate(&credentials).await {
        Ok(p) => p,
        Err(e) => return Err(unauthorized(g, e)),
    };
    if let crate::auth::PrincipalKind::OneTime { .. } = principal.kind
        && path != crate::handlers::devices::EXCHANGE_PATH
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a one-time tr- token works only at POST /api/deeplink/exchange; exchange it there for the session's token",
        )
        .into_response());
    }
    permit(g, principal)
}

/// An in-process call's principal: the signed-in portal user it is made for.
#[derive(Clone)]
pub struct InProcess(pub Arc<Principal>);

/// `principal` when it holds one of the route's permissions, else the 403 answer (carrying the
/// principal in its extensions, for the audit entry).
#[allow(clippy::result_large_err)] // the refusal is the answer itself, made once per request
fn permit(g: &Guard, principal: Arc<Principal>) -> Result<Arc<Principal>, Response> {
    if let Access::AnyOf(perms) = g.access
        && !perms.iter().any(|(scope, op)| principal.allows(scope, *op))
    {
        let needed: Vec<String> = perms
            .iter()
            .map(|(s, o)| format!("{s}:{}", o.as_str()))
            .collect();
        let mut resp = ApiError::new(
            ErrorCode::Forbidden,
            format!("this needs one of the permissions {}", needed.join(", ")),
        )
        .into_response();
        resp.extensions_mut().insert(principal);
        return Err(resp);
    }
    Ok(principal)
}

fn unauthorized(g: &Guard, e: ApiError) -> Response {
    let mut resp = e.into_response();
    if g.state.auth.basic_enabled() && resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"idv\", charset=\"UTF-8\""),
        );
    }
    resp
}

/// The decoded value of one query parameter.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The router: every route of [`table`] behind its guard, and JSON answers for unknown routes
/// and methods.
pub fn router(state: AppState) -> Router {
    let mut by_path: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    let limiter = std::sync::Arc::new(ratelimit::RateLimiter::new(&state.config.rate_limit));
    for def in table() {
        let filter = MethodFilter::try_from(def.method.clone()).expect("standard method");
        let guard_state = Guard {
            state: state.clone(),
            method: def.method.clone(),
            access: def.access,
            json: def.json,
            path: def.path,
            rate: def.rate,
            limiter: limiter.clone(),
            audit: def.audit_event(),
            idempotent: def.idempotent,
            metrics: state.metrics.route(&def.method, def.path),
        };
        let mr = (def.make)(filter).layer(middleware::from_fn_with_state(guard_state, guard));
        let path = gateway::mount_path(&state.config, def.path);
        let entry = by_path.remove(&path);
        by_path.insert(
            path,
            match entry {
                Some(existing) => existing.merge(mr),
                None => mr,
            },
        );
    }
    let mut router = Router::new();
    for (path, mr) in by_path {
        router = router.route(&path, mr);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Counts a request no route took (its answer is a 404 or 405 made at once).
fn count_unmatched(state: &AppState, req: &Request, status: u16) {
    if req.extensions().get::<InProcess>().is_none() {
        state
            .metrics
            .unmatched()
            .record(status, std::time::Duration::ZERO);
    }
}

async fn not_found(State(state): State<AppState>, req: Request) -> ApiError {
    count_unmatched(&state, &req, 404);
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "no route {} {}; see GET /api/openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(State(state): State<AppState>, req: Request) -> ApiError {
    count_unmatched(&state, &req, 405);
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode() {
        assert_eq!(
            query_param("a=1&authorization=Token%20tr-abc&b", "authorization").as_deref(),
            Some("Token tr-abc")
        );
        assert_eq!(
            query_param("authorization=ApiKey+k", "authorization").as_deref(),
            Some("ApiKey k")
        );
        assert_eq!(query_param("x=1", "authorization"), None);
        assert_eq!(
            query_param("authorization=%zz%4", "authorization").as_deref(),
            Some("%zz%4")
        );
    }

    #[test]
    fn every_path_and_method_is_declared_once() {
        let t = table();
        let mut seen = std::collections::HashSet::new();
        for d in &t {
            assert!(
                seen.insert((d.method.clone(), d.path)),
                "{} {} twice",
                d.method,
                d.path
            );
            // Besides the API: the gateways' prefixes and the person's pages.
            assert!(
                d.path.starts_with("/api/")
                    || d.tag == "gateways"
                    || (d.path.starts_with("/.well-known/") && d.access == Access::Public)
                    || (d.path.starts_with("/l/") && d.access == Access::Public)
                    || (d.page && d.access == Access::Public),
                "{}",
                d.path
            );
        }
    }

    fn row(method: Method, path: &str) -> RouteDef {
        table()
            .into_iter()
            .find(|d| d.method == method && d.path == path)
            .unwrap_or_else(|| panic!("no route {method} {path}"))
    }

    #[test]
    fn rows_carry_their_profile_idempotency_and_audit_event() {
        assert_eq!(row(Method::GET, "/api/health").rate, None);
        assert_eq!(
            row(Method::GET, "/api/v1/assets/{assetId}/content").rate,
            None
        );
        assert_eq!(row(Method::POST, "/api/auth/login").rate, S);
        assert_eq!(row(Method::GET, "/api/deeplink/qrcode").rate, S);
        assert_eq!(row(Method::POST, "/api/sessions").rate, M);
        assert_eq!(row(Method::DELETE, "/api/apikey/{id}").rate, M);
        assert_eq!(row(Method::GET, "/api/sessions/{id}").rate, L);

        assert!(row(Method::POST, "/api/sessions").idempotent);
        assert!(!row(Method::POST, "/api/auth/login").idempotent);
        assert!(!row(Method::POST, "/api/sessions/search").idempotent);
        assert!(!row(Method::POST, "/drapi/{*path}").idempotent);

        let e = row(Method::GET, "/api/sessions/{id}")
            .audit_event()
            .unwrap();
        assert_eq!((e.action, e.target), ("session.read", Target::Param("id")));
        let e = row(Method::GET, "/api/sessions/{id}/files/{file}")
            .audit_event()
            .unwrap();
        assert_eq!(
            (e.action, e.detail_param),
            ("file.download", Some(("session", "id")))
        );
        let e = row(Method::POST, "/api/auth/login").audit_event().unwrap();
        assert_eq!(e.failed_action, Some("auth.login_failed"));
        assert!(
            row(Method::POST, "/api/sessions/{id}/step/{step}")
                .audit_event()
                .is_none()
        );
        assert!(row(Method::GET, "/api/health").audit_event().is_none());
    }

    /// Every route whose answer carries a new credential, listed here apart from the table's
    /// flags: API keys, the Bearer token pair of a login or refresh, device tokens, deeplinks
    /// and QR codes (each holds a token) and the exchange of a QR code's one-time token, users
    /// (a password), and webhook secrets at creation and rotation. A new route that mints one
    /// must be added here and flagged in its row, or this test fails.
    const MINTS_CREDENTIALS: &[(&str, &str)] = &[
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/apikey"),
        ("POST", "/api/security/apikey"),
        ("POST", "/api/security/users"),
        ("POST", "/api/device/ephemeral"),
        ("POST", "/api/v1/deeplink"),
        ("GET", "/api/deeplink/qrcode"),
        ("POST", "/api/deeplink/exchange"),
        ("POST", "/api/webhooks"),
        ("POST", "/api/webhooks/{id}/rotate-secret"),
        ("POST", "/api/links"),
        ("GET", "/l/{code}"),
        ("POST", "/portal/login"),
    ];

    #[test]
    fn routes_that_mint_credentials_are_strictly_limited_and_audited() {
        let t = table();
        let flagged: std::collections::BTreeSet<(String, &str)> = t
            .iter()
            .filter(|d| d.mints_credentials)
            .map(|d| (d.method.to_string(), d.path))
            .collect();
        let known: std::collections::BTreeSet<(String, &str)> = MINTS_CREDENTIALS
            .iter()
            .map(|(m, p)| (m.to_string(), *p))
            .collect();
        assert_eq!(flagged, known, "the table's mints_credentials flags");
        for d in t.iter().filter(|d| d.mints_credentials) {
            assert_eq!(
                d.rate,
                Some(Profile::S),
                "{} {} mints credentials: strict profile",
                d.method,
                d.path
            );
            let event = d
                .audit_event()
                .unwrap_or_else(|| panic!("{} {} mints credentials: audited", d.method, d.path));
            assert!(!event.action.is_empty());
        }
        // The strict profile is for minting credentials only: the API's routes that do, and
        // the portal's forms that do it through them (whose in-process calls are not counted).
        let portal_minting = [
            "/portal/settings/keys",
            "/portal/settings/users",
            "/portal/settings/webhooks",
            "/portal/settings/webhooks/{id}/rotate",
        ];
        for d in t.iter().filter(|d| d.rate == Some(Profile::S)) {
            assert!(
                d.mints_credentials || (d.page && portal_minting.contains(&d.path)),
                "{} {} is strict",
                d.method,
                d.path
            );
        }
    }

    #[test]
    fn every_route_that_is_not_a_read_is_audited_or_says_why_not() {
        for d in table() {
            if let Audit::NotRecorded(reason) = d.audit {
                assert!(
                    d.method == Method::GET || reason.len() >= 20,
                    "{} {} is not audited and gives no reason",
                    d.method,
                    d.path
                );
            }
        }
    }
}
