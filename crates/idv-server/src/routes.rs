//! The route table. Every route is declared once here with what it needs (public, any
//! authenticated caller, or one of a list of permissions); the router, the authentication guard
//! and the OpenAPI document are all built from this table, so no route can be added unguarded or
//! undocumented.

use crate::auth::Principal;
use crate::body::accepts_json;
use crate::error::ApiError;
use crate::handlers::*;
use crate::ratelimit;
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

/// One route.
pub struct RouteDef {
    pub method: Method,
    /// axum path syntax (`/api/sessions/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    pub access: Access,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Answers JSON, so an `Accept` that excludes JSON gets 406.
    pub json: bool,
    /// An example request body (JSON text), for the OpenAPI document.
    pub example: Option<&'static str>,
    make: fn(MethodFilter) -> MethodRouter<AppState>,
}

const SESSION_READ: &[(&str, Op)] = &[("session", Op::Read), ("session_all", Op::Read)];
const SESSION_WRITE: &[(&str, Op)] = &[("session", Op::Write), ("session_all", Op::Write)];
const SESSION_PATCH: &[(&str, Op)] = &[
    ("session_patch", Op::Write),
    ("session_all_patch", Op::Write),
];
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

macro_rules! route {
    ($method:ident $path:literal, $access:expr, $tag:literal, $summary:literal, $handler:path) => {
        route!($method $path, $access, $tag, $summary, $handler, json = true, example = None)
    };
    ($method:ident $path:literal, $access:expr, $tag:literal, $summary:literal, $handler:path, json = $json:expr, example = $ex:expr) => {
        RouteDef {
            method: Method::$method,
            path: $path,
            access: $access,
            tag: $tag,
            summary: $summary,
            json: $json,
            example: $ex,
            make: |f| on(f, $handler),
        }
    };
}

/// Every route of the API.
pub fn table() -> Vec<RouteDef> {
    use Access::*;
    vec![
        route!(GET "/api/health", Public, "system", "Liveness: answers while the process serves requests", system::health),
        route!(GET "/api/ready", Public, "system", "Readiness: answers 200 when the database answers, 503 otherwise", system::ready),
        route!(GET "/api/openapi.json", Public, "system", "This OpenAPI 3.1 document", system::openapi),
        route!(POST "/api/auth/login", Public, "auth", "Exchange a user name and password for a Bearer access token and a refresh token", auth::login, json = true, example = Some(r#"{"username": "admin", "password": "s3cret-pass"}"#)),
        route!(POST "/api/auth/refresh", Public, "auth", "Exchange a refresh token for a new token pair (the old pair stops working)", auth::refresh, json = true, example = Some(r#"{"refreshToken": "idvrt_..."}"#)),
        route!(POST "/api/auth/logout", Authenticated, "auth", "End the Bearer login: its access and refresh tokens stop working", auth::logout),
        route!(POST "/api/apikey", AnyOf(APIKEY_WRITE), "apikeys", "Create an API key; the response's `token` is shown only once", apikeys::create, json = true, example = Some(r#"{"name": "My API key", "ttl": 6000, "permissions": ["session_all:read"]}"#)),
        route!(POST "/api/security/apikey", AnyOf(APIKEY_WRITE), "apikeys", "Create an API key (alias of POST /api/apikey)", apikeys::create, json = true, example = Some(r#"{"name": "My API key", "ttl": 6000, "permissions": ["ephemeral_device:write"]}"#)),
        route!(GET "/api/apikey", AnyOf(APIKEY_READ), "apikeys", "List API keys (own, or all with apikey_all:read); never the secrets", apikeys::list),
        route!(GET "/api/apikey/{id}", AnyOf(APIKEY_READ), "apikeys", "One API key, without its secret", apikeys::get),
        route!(DELETE "/api/apikey/{id}", AnyOf(APIKEY_DELETE), "apikeys", "Revoke an API key; it stops working at once", apikeys::revoke),
        route!(GET "/api/security/roles", AnyOf(USER_READ), "security", "Built-in and custom roles with their permissions", security::list_roles),
        route!(POST "/api/security/roles", AnyOf(USER_WRITE), "security", "Create a custom role", security::create_role, json = true, example = Some(r#"{"name": "Session Observer", "permissions": ["session:read", "session:subscribe"]}"#)),
        route!(GET "/api/security/users", AnyOf(USER_READ), "security", "List users", security::list_users),
        route!(POST "/api/security/users", AnyOf(USER_WRITE), "security", "Create a user", security::create_user, json = true, example = Some(r#"{"name": "operator", "password": "a long password", "email": "op@example.com", "roles": ["verifier"]}"#)),
        route!(GET "/api/security/users/{id}", AnyOf(USER_READ), "security", "One user", security::get_user),
        route!(PATCH "/api/security/users/{id}", AnyOf(USER_WRITE), "security", "Change a user: `roles` replaces the whole list; also `active`, `email`, `password`", security::patch_user, json = true, example = Some(r#"{"roles": ["verifier", "device"]}"#)),
        route!(DELETE "/api/security/users/{id}", AnyOf(USER_DELETE), "security", "Delete a user and end its logins", security::delete_user),
        route!(GET "/api/workflows", AnyOf(WORKFLOW_READ), "workflows", "List workflows: [{id, name, description, version, defaultLocale}]", workflows::list),
        route!(POST "/api/workflows", AnyOf(WORKFLOW_WRITE), "workflows", "Load a workflow definition (YAML as application/yaml, application/x-yaml or text/yaml, or JSON); every problem is listed with its path and line", workflows::create),
        route!(POST "/api/workflows/reload", AnyOf(WORKFLOW_RELOAD), "workflows", "Load the workflows and localization folders again now (the reloadWorkflows job does it on its schedule): changed files become new revisions, running sessions keep theirs, a broken file is listed under `problems` and its stored revision stays", workflows::reload),
        route!(GET "/api/workflows/{id}", AnyOf(WORKFLOW_READ), "workflows", "A workflow's summary and full definition", workflows::get),
        route!(DELETE "/api/workflows/{id}", AnyOf(WORKFLOW_DELETE), "workflows", "Delete a workflow; running sessions finish on the revision they started with", workflows::delete),
        route!(GET "/api/translations", AnyOf(TRANSLATIONS_READ), "workflows", "Localization entries, optionally for one locale (?locale=en-us)", workflows::list_translations),
        route!(POST "/api/translations", AnyOf(TRANSLATIONS_WRITE), "workflows", "Load a localization file: a list of {key, code, value}", workflows::put_translations),
        route!(POST "/api/sessions", AnyOf(SESSION_WRITE), "sessions", "Start a session of ?workflowId=; answers the full session", sessions::start, json = true, example = Some(r#"{"metadata": {"externalUserId": "user-42"}, "locale": "en"}"#)),
        route!(GET "/api/sessions/{id}", AnyOf(SESSION_READ), "sessions", "The session container: status, properties, files (with URLs), metadata, steps, history, legalHold; the ETag header is the session's revision (for If-Match on PATCH). A deleted session answers 410 session_deleted", sessions::get),
        route!(POST "/api/sessions/{id}/step/{step}", AnyOf(SESSION_WRITE), "sessions", "Submit step data (?type=data, JSON) or upload files to the step (?type=file, multipart/form-data or a raw body; all parts or none, at most services.api.maxUploadParts parts and services.api.maxBodySize in all)", sessions::step, json = true, example = Some(r#"{"continue": true}"#)),
        route!(GET "/api/sessions/{id}/files/{file}", AnyOf(SESSION_READ), "sessions", "Download a session file (supports Range and If-None-Match)", files::download, json = false, example = None),
        route!(GET "/api/v1/assets/{assetId}/content", Public, "assets", "A workflow asset's bytes, with its Content-Type, ETag (If-None-Match answers 304) and Cache-Control. Public, without credentials: SDKs load assets as plain image URLs, so never store secrets as assets", assets::content, json = false, example = None),
        route!(GET "/api/v1/assets", AnyOf(ASSETS_READ), "assets", "List workflow assets: [{id, contentType, size, sha256, createdAt, updatedAt, url}]", assets::list),
        route!(GET "/api/v1/assets/{assetId}", AnyOf(ASSETS_READ), "assets", "One asset's metadata", assets::get),
        route!(PUT "/api/v1/assets/{assetId}", AnyOf(ASSETS_WRITE), "assets", "Store an asset: the raw body is the file, Content-Type its type (default: from the id's extension). Ids are 1-128 of [A-Za-z0-9_.-]; at most services.api.maxBodySize. 201 when new, 200 when replaced", assets::put),
        route!(DELETE "/api/v1/assets/{assetId}", AnyOf(ASSETS_DELETE), "assets", "Delete an asset and its bytes", assets::delete),
        // The gateways: mounted at services.docreader.prefix / services.faceapi.prefix.
        route!(GET "/drapi/{*path}", AnyOf(DOCREADER_READ), "gateways", "Relayed to services.docreader.url + /{path} (Document Reader web service), query included, bodies streamed; off unless services.docreader.enabled", gateway::docreader, json = false, example = None),
        route!(POST "/drapi/{*path}", AnyOf(DOCREADER_WRITE), "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader, json = false, example = None),
        route!(PUT "/drapi/{*path}", AnyOf(DOCREADER_WRITE), "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader, json = false, example = None),
        route!(PATCH "/drapi/{*path}", AnyOf(DOCREADER_WRITE), "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader, json = false, example = None),
        route!(DELETE "/drapi/{*path}", AnyOf(DOCREADER_DELETE), "gateways", "Relayed to the Document Reader web service (see GET)", gateway::docreader, json = false, example = None),
        route!(GET "/faceapi/{*path}", AnyOf(FACEAPI_READ), "gateways", "Relayed to services.faceapi.url + /{path} (Face API web service), query included, bodies streamed; off unless services.faceapi.enabled", gateway::faceapi, json = false, example = None),
        route!(POST "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi, json = false, example = None),
        route!(PUT "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi, json = false, example = None),
        route!(PATCH "/faceapi/{*path}", AnyOf(FACEAPI_WRITE), "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi, json = false, example = None),
        route!(DELETE "/faceapi/{*path}", AnyOf(FACEAPI_DELETE), "gateways", "Relayed to the Face API web service (see GET)", gateway::faceapi, json = false, example = None),
        // Session search and views.
        route!(POST "/api/sessions/search", AnyOf(&[("session", Op::Read), ("session_all", Op::Read)]), "sessions", "Search sessions (session_all:read: all; session:read: own). Body: a view's value plus `filter` ({op: $and|$or, groups, conditions: [{field, op, value}]}; fields id, status, workflow.id, createdAt, updatedAt (ISO-8601 or epoch ms), metadata.X, properties.X; ops $eq $ne $in $nin $gt $gte $lt $lte $exists) and `sort` ([{field, order: asc|desc}], newest first by default). ?limit= (default 20, max 1000), ?skip=, ?after=<next>. Answers {items: [summary], total (counted up to 10000; totalCapped beyond), next}", search::sessions, json = true, example = Some(r#"{"workflows": ["edda0192-b890-11ef-a348-17da751a6a22"], "columns": [{"type": "property", "name": "FULL_NAME"}], "sort": [{"field": "createdAt", "order": "desc"}], "filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [{"field": "status", "op": "$in", "value": [1, 2]}, {"field": "createdAt", "op": "$gte", "value": "2025-01-01T00:00:00.000Z"}]}]}}"#)),
        route!(GET "/api/views/namespaces/{namespace}", AnyOf(&[("view", Op::Read), ("view_all", Op::Read)]), "views", "The views of a namespace the caller may see (?limit= default 100, max 1000; ?skip=): {items: [{key, value: {id, title, description, workflows, columns, groupIds, userIds}, groupIds, userIds}], total}. A view with userIds is seen only by those users, its owner and view_all:read", views::list),
        route!(GET "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Read), ("view_all", Op::Read)]), "views", "One view", views::get),
        route!(POST "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Write), ("view_all", Op::Write)]), "views", "Create or replace a view (view:write: own views only; view_all:write: any). Columns are {type: field|property, name}; value.id is generated when absent. Namespace and key: 1-128 of [A-Za-z0-9_.-]", views::put, json = true, example = Some(r#"{"title": "General KYC", "description": "Sessions of General KYC", "workflows": ["edda0192-b890-11ef-a348-17da751a6a22"], "columns": [{"type": "field", "name": "status"}, {"type": "property", "name": "FULL_NAME"}], "groupIds": [], "userIds": []}"#)),
        route!(DELETE "/api/views/namespaces/{namespace}/key/{key}", AnyOf(&[("view", Op::Delete), ("view_all", Op::Delete)]), "views", "Delete a view (view:delete: own views only; view_all:delete: any)", views::delete),
        // Review, deletion and retention.
        route!(PATCH "/api/sessions/{id}", AnyOf(SESSION_PATCH), "sessions", "Review a session: set `status` (0, 1, 2, 3 approved, 4, 1000 rejected) with an optional `comment` (at most 2000 characters), and `legalHold` (true blocks deletion and retention; needs session_all_patch:write). Each change is added to the session's `history` as {at, by, from, to, comment}. Send `If-Match` with the ETag of GET /api/sessions/{id} to apply only to that revision (412 precondition_failed otherwise); answers the session and its new ETag. Unknown fields are refused", sessions::patch, json = true, example = Some(r#"{"status": 3, "comment": "Document checked by hand"}"#)),
        route!(DELETE "/api/sessions/{id}", AnyOf(SESSION_DELETE), "sessions", "Delete a session, its files (rows and bytes) and its background jobs, leaving a tombstone; optional ?reason= (at most 500 characters). Answers 204, again for an id already deleted; 409 legal_hold while the session is held. Afterwards the session's endpoints answer 410 session_deleted with the tombstone {id, workflowId, status, deletedAt, deletedBy, reason} as details", sessions::delete),
        // Server-side starts: ephemeral devices, deeplinks, QR codes and their one-time tokens.
        route!(POST "/api/device/ephemeral", AnyOf(&[("ephemeral_device", Op::Write)]), "devices", "Mint an ephemeral device token ({\"ttl\": seconds, 60 to 604800, default 3600}). Answers {authorization: \"Token idvdt_...\", id, createdAt, expiresAt, ttl}; send `authorization` as-is as the Authorization header. The token starts sessions, submits their steps and reads its own sessions and their files, nothing else; its sessions end no later than it does", devices::ephemeral, json = true, example = Some(r#"{"ttl": 3600}"#)),
        route!(POST "/api/v1/deeplink", AnyOf(&[("deeplink", Op::Write)]), "devices", "Start a session of the first ?workflowId= (the parameter may repeat) and answer {url, createdAt, expiresAt, workflowIds, sessionId}; url is <baseUrl>/mobile?authorization=Token%20<token>&sessionId=<id>, its token bound to that one session. `ttl` (seconds, 60 to 604800, default 3600) bounds the token and the session", devices::deeplink, json = true, example = Some(r#"{"metadata": {"externalUserId": "user-42"}, "locale": "en", "ttl": 3600}"#)),
        route!(GET "/api/deeplink/qrcode", AnyOf(&[("deeplink", Op::Write)]), "devices", "Start a session like POST /api/v1/deeplink (?workflowId=, optional ?ttl= and ?locale=) with a one-time `tr-` token, and answer {token, url, sessionId, createdAt, expiresAt, workflowIds, qrcode: \"data:image/png;base64,...\"}, or with Accept: image/png the QR code itself (headers X-Session-Id, X-Expires-At). The QR code holds the url; its token works only at POST /api/deeplink/exchange", devices::qrcode, json = false, example = None),
        route!(POST "/api/deeplink/exchange", Authenticated, "devices", "With Authorization: Token tr-... (a QR code's one-time token): answers {authorization: \"Token idvdt_...\", sessionId, expiresAt, workflowIds}, a token bound to the QR code's session until the same expiry. Works once: afterwards the tr- token is refused (401); of concurrent exchanges exactly one succeeds", devices::exchange),
        // Session export and import.
        route!(GET "/api/sessions/{id}/export", AnyOf(SESSION_READ), "sessions", "The session as a zip archive (application/zip, session-<id>.zip): manifest.json (format idv-session-export, version 1, with the size and SHA-256 of every entry), session.json (the session as GET /api/sessions/{id} shows it plus its stored rows), workflow.json (the workflow revision it runs on) and files/<fileId>/<name>. Same access as reading the session; `idv session import -i DIR` restores it", exchange::export, json = false, example = None),
        // Audit log.
        // Webhooks.
        route!(POST "/api/webhooks", AnyOf(WEBHOOK_WRITE), "webhooks", "Create a webhook endpoint: {url (http(s); must not resolve to a private address unless outbound.allowPrivateAddresses), events (session.created, session.step_completed, session.status_changed, session.completed, session.expired, session.deleted, webhook.test, or [\"*\"]), enabled (default true), description, headers (extra request headers as {name: value}; write-only: every answer shows only their names, as headerNames), workflowIds (only these workflows' sessions; all when empty), ed25519 (also sign with the server's Ed25519 key, v1a)}. Answers 201 with the endpoint and its `secret` (whsec_...), shown only here. Deliveries are POSTs of {id, type, createdAt, sequence, data: {sessionId, workflowId, status, previousStatus, step}} signed with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)", webhooks::create, json = true, example = Some(r#"{"url": "https://example.com/idv-hook", "events": ["session.completed", "session.status_changed"], "description": "Back office", "headers": {"X-Tenant": "acme"}, "workflowIds": []}"#)),
        route!(GET "/api/webhooks", AnyOf(WEBHOOK_READ), "webhooks", "Every webhook endpoint, oldest first, without secrets or header values (headerNames only): {items, total}. disabledReason and disabledAt tell why the server disabled one (410 Gone, failing for a day)", webhooks::list),
        route!(GET "/api/webhooks/signing-key", Public, "webhooks", "The server's Ed25519 public key: {algorithm: ed25519, signatureVersion: v1a, publicKey: whpk_<base64>}. Endpoints with ed25519: true carry a `v1a,<base64 signature of id.timestamp.body>` in webhook-signature, verifiable with this key alone", webhooks::signing_key),
        route!(GET "/api/webhooks/{id}", AnyOf(WEBHOOK_READ), "webhooks", "One webhook endpoint, without its secret or header values (headerNames only)", webhooks::get),
        route!(PATCH "/api/webhooks/{id}", AnyOf(WEBHOOK_WRITE), "webhooks", "Change fields of an endpoint (the fields of POST; description null clears it; headers replaces them all, {} removes them). Answers the endpoint without header values (headerNames only). enabled: true re-enables one the server disabled", webhooks::update, json = true, example = Some(r#"{"enabled": true}"#)),
        route!(DELETE "/api/webhooks/{id}", AnyOf(WEBHOOK_DELETE), "webhooks", "Delete an endpoint with its delivery log; answers 204", webhooks::delete),
        route!(POST "/api/webhooks/{id}/rotate-secret", AnyOf(WEBHOOK_WRITE), "webhooks", "Give the endpoint a new secret, answered once with the endpoint (header names only). The old secret keeps signing beside it (two v1 signatures) for {\"overlapSeconds\": N} (default 86400, at most 604800; 0 stops it at once): previousSecretExpiresAt", webhooks::rotate_secret, json = true, example = Some(r#"{"overlapSeconds": 3600}"#)),
        route!(GET "/api/webhooks/{id}/deliveries", AnyOf(WEBHOOK_READ), "webhooks", "The endpoint's delivery log, newest first: {items: [{id, eventId, eventType, sessionId, sequence, state (pending, delivered, failed), attempts: [{at, statusCode, latencyMs, response (the first KiB), error}], nextAttemptAt, createdAt, deadline}], next}. ?limit= (1-500, default 50); ?before=<next> gives the following page", deliveries::list),
        route!(POST "/api/webhooks/{id}/deliveries/{delivery}/retry", AnyOf(WEBHOOK_WRITE), "webhooks", "Send a delivery again now, with a new 3-day deadline and the same webhook-id; answers 202 with the delivery. 409 delivery_in_progress while a worker is sending it", deliveries::retry),
        route!(POST "/api/webhooks/{id}/replay", AnyOf(WEBHOOK_WRITE), "webhooks", "Queue again every kept session event created at or after ?since= (ISO-8601 or epoch ms) that the endpoint's filters select, each with its own webhook-id; answers 202 {queued}", deliveries::replay),
        route!(POST "/api/webhooks/{id}/test", AnyOf(WEBHOOK_WRITE), "webhooks", "Send a webhook.test event ({webhookId}) to this endpoint alone, whatever events it selects; answers 202 {eventId, deliveryId}", deliveries::test),
        route!(GET "/api/audit", AnyOf(AUDIT_READ), "audit", "The audit log, newest first: {items: [{seq, at, actor: {id, kind, name}, action, target, outcome, ip, requestId, details, prevHash, hash}], next}. Filters: actor (id or name), action, target, from and to (ISO-8601 or ms), limit (1-1000, default 100); after=<next> gives the following page; order=asc lists by seq from after. Entries queued in this process are stored first", audit::list),
        // The event feed and its live stream.
        route!(GET "/api/events", AnyOf(SESSION_READ), "events", "Session events in commit order: {items: [{id, type, createdAt, sequence, data: {sessionId, workflowId, status, previousStatus, step}}], next}, each item byte for byte the body webhooks deliver. session_all:read sees every session's events, session:read those of sessions it started. ?after=<next> continues after a previous page (without it: from the oldest kept event); ?limit= 1-1000, default 100; ?type= (repeatable or comma-separated) keeps only those types (an unknown one is 400 invalid_event_type). A malformed cursor is 400 invalid_cursor. On PostgreSQL an event shows once every older write transaction has ended", events::list),
        route!(GET "/api/events/stream", AnyOf(SESSION_SUBSCRIBE), "events", "The live event stream as Server-Sent Events (text/event-stream): per event `id: <cursor>`, `event: <type>`, `data: <body>` (one line, as in GET /api/events), a comment every 15 s. Starts after the Last-Event-ID header, else ?after=, else at the current end (only new events). ?type= filters as in GET /api/events. session_all:subscribe: every session; session:subscribe: sessions the caller started. 503 unavailable when the server already serves its maximum of streams", events::stream, json = false, example = None),
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
    /// The cross-cutting concerns of this route, looked up once from its method and path.
    rate: Option<crate::ratelimit::Profile>,
    limiter: std::sync::Arc<crate::ratelimit::RateLimiter>,
    audit: Option<crate::audit::events::Event>,
    idempotent: bool,
}

/// Rate limits, authenticates and authorizes before the handler runs (the handler finds the
/// [`Principal`] in the request extensions), refuses parameters the database cannot hold
/// ([`crate::params::check`]), applies `Idempotency-Key`, and records the audit entry of the
/// answer. Every answer is shown to the contract observer ([`crate::observe`]) when one is
/// installed.
async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
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
    let limited = g.rate.filter(|_| g.limiter.enabled());
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
    let pending = g
        .audit
        .filter(|_| g.state.audit.enabled())
        .map(|event| crate::audit::pending::Pending::of(event, g.path, &req, addr));
    let principal = if g.access == Access::Public {
        None
    } else {
        match authorize(&g, credentials_of(&req), req.uri().path()).await {
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
            rate: ratelimit::profile_for(&def.method, def.path),
            limiter: limiter.clone(),
            audit: crate::audit::events::event_for(&def.method, def.path),
            idempotent: crate::idempotency::applies_to(&def.method, def.path, def.tag),
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

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!(
            "no route {} {}; see GET /api/openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
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
            assert!(
                d.path.starts_with("/api/") || d.tag == "gateways",
                "{}",
                d.path
            );
        }
    }
}
