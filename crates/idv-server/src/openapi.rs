//! The OpenAPI 3.1 document, generated from the route table (each operation from its route's row)
//! so it cannot drift from the router.

use crate::api::{self, Answer, Schemas};
use crate::routes::{Access, ParamKind, QueryParam, table};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The `$ref` of the error body, which every error answer carries.
const ERROR_REF: &str = "#/components/schemas/ErrorBody";

fn error_content() -> Value {
    json!({"application/json": {"schema": {"$ref": ERROR_REF}}})
}

/// An error answer of the document: its description and the error body.
fn error_answer(description: &str) -> Value {
    json!({"description": description, "content": error_content()})
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("schemas serialize")
}

fn success_description(status: u16) -> &'static str {
    match status {
        201 => "Created",
        202 => "Accepted",
        204 => "No content",
        206 => "Partial content",
        303 => "See other",
        304 => "Not modified",
        503 => "Unavailable",
        _ => "Success",
    }
}

/// The document for a server at `base_url`.
pub fn document(base_url: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas: Schemas = Vec::new();
    api::schema::<api::common::ErrorBody>(&mut schemas);
    // The details of 410 session_deleted.
    api::schema::<api::sessions::Tombstone>(&mut schemas);
    for def in table().into_iter().filter(|d| !d.page) {
        let contract = &def.contract;
        let mut op = Map::new();
        op.insert("summary".into(), json!(def.summary));
        op.insert("tags".into(), json!([def.tag]));
        op.insert(
            "operationId".into(),
            json!(operation_id(def.method.as_str(), def.path)),
        );
        let mut params: Vec<Value> = def
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| match name.strip_prefix('*') {
                // A catch-all (`{*path}`): the rest of the path, slashes included.
                Some(rest) => json!({"name": rest, "in": "path", "required": true, "schema": {"type": "string"}, "description": "the rest of the path, slashes included"}),
                None => json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
            })
            .collect();
        params.extend(def.query.iter().map(query_parameter));
        if def.access != Access::Public {
            params.push(json!({"$ref": "#/components/parameters/authorization"}));
        }
        let idempotent = def.idempotent;
        if idempotent {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "description": "1-255 printable ASCII characters: a retry with the same key and request gets the first 2xx answer again (header Idempotent-Replayed: true) for 24 h; bodies above 1 MiB are not idempotent"}));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        match def.access {
            Access::Public => {
                op.insert("security".into(), json!([]));
            }
            Access::Authenticated => {
                op.insert("security".into(), all_schemes());
            }
            Access::AnyOf(perms) => {
                op.insert("security".into(), all_schemes());
                let list: Vec<String> = perms
                    .iter()
                    .map(|(s, o)| format!("{s}:{}", o.as_str()))
                    .collect();
                op.insert("x-permissions-any-of".into(), json!(list));
            }
        }
        let example: Option<Value> = def.example.and_then(|ex| serde_json::from_str(ex).ok());
        if !contract.requests.is_empty() {
            let mut content = Map::new();
            for (media, schema) in &contract.requests {
                let mut entry = json!({"schema": to_json(&schema(&mut schemas))});
                if let (true, Some(ex)) = (*media == "application/json", &example) {
                    entry["example"] = ex.clone();
                }
                content.insert((*media).into(), entry);
            }
            op.insert("requestBody".into(), json!({ "content": content }));
        } else if let Some(ex) = example {
            // A body no type describes yet.
            op.insert(
                "requestBody".into(),
                json!({"content": {"application/json": {"schema": {"type": "object"}, "example": ex}}}),
            );
        }
        // By status; a status with several causes lists them all.
        let mut responses: BTreeMap<String, Value> = BTreeMap::new();
        let mut answer = |status: u16, response: Value| {
            let text = |v: &Value| v["description"].as_str().map(str::to_owned);
            match responses.get_mut(&status.to_string()) {
                Some(have) => {
                    if let (Some(a), Some(b)) = (text(have), text(&response))
                        && a != b
                    {
                        have["description"] = json!(format!("{a}; or: {b}"));
                    }
                    // One status in several media types (JSON, or an image when asked for).
                    if let (Some(more), Some(content)) = (
                        response.get("content").and_then(Value::as_object),
                        have.get_mut("content").and_then(Value::as_object_mut),
                    ) {
                        for (media, entry) in more {
                            content
                                .entry(media.clone())
                                .or_insert_with(|| entry.clone());
                        }
                    }
                }
                None => {
                    responses.insert(status.to_string(), response);
                }
            }
        };
        // The answers the route's contract types.
        for (status, typed) in &contract.answers {
            // An error status answered in another media type too (a page for a browser) keeps
            // the row's description of it, and the error body is added below.
            let description = match def.answers.iter().find(|(s, _)| s == status) {
                Some((_, d)) if *status >= 400 && !matches!(typed, Answer::Json(_)) => d,
                _ => success_description(*status),
            };
            answer(
                *status,
                match typed {
                    Answer::Json(schema) => json!({
                        "description": description,
                        "content": {"application/json": {"schema": to_json(&schema(&mut schemas))}},
                    }),
                    Answer::Empty => json!({ "description": description }),
                    // A media range (`*/*`) answers stored bytes of any type, JSON included,
                    // so its schema constrains nothing; a named type is a string of that type.
                    Answer::Media(media) if media.contains('*') => json!({
                        "description": description,
                        "content": {*media: {"schema": {"description": "the stored bytes, of the type the Content-Type names"}}},
                    }),
                    Answer::Media(media) => json!({
                        "description": description,
                        "content": {*media: {"schema": {"type": "string", "contentMediaType": media}}},
                    }),
                },
            );
        }
        // A redirect (303) is the answer of success too.
        let success = |s: &u16| (200..300).contains(s) || *s == 303;
        if !def.answers.iter().any(|(s, _)| success(s))
            && !contract.answers.iter().any(|(s, _)| success(s))
        {
            answer(200, json!({"description": "Success"}));
        }
        // Every route's guard checks its parameters (crate::params).
        answer(400, json!({"$ref": "#/components/responses/BadRequest"}));
        for (status, description) in &def.answers {
            // A status the contract types (readiness's 503) carries that body, not an error.
            let typed = contract
                .answers
                .iter()
                .any(|(s, a)| s == status && matches!(a, Answer::Json(_)));
            let entry = if *status >= 400 && !typed {
                error_answer(description)
            } else {
                json!({ "description": description })
            };
            answer(*status, entry);
        }
        if def.access != Access::Public {
            // A one-time QR code token is refused (403) everywhere but at its exchange.
            answer(401, json!({"$ref": "#/components/responses/Unauthorized"}));
            answer(403, json!({"$ref": "#/components/responses/Forbidden"}));
        }
        if def.json {
            answer(406, json!({"$ref": "#/components/responses/NotAcceptable"}));
        }
        if let Some(profile) = def.rate {
            op.insert("x-rate-limit-profile".into(), json!(profile.name()));
            answer(429, json!({"$ref": "#/components/responses/RateLimited"}));
        }
        if idempotent {
            answer(
                409,
                error_answer(
                    "The first request with this Idempotency-Key is still running (code idempotency_in_progress)",
                ),
            );
            answer(
                422,
                error_answer(
                    "This Idempotency-Key was used for a different request (code idempotency_key_reused)",
                ),
            );
        }
        if !def.infallible {
            answer(500, json!({"$ref": "#/components/responses/Internal"}));
        }
        if def.mints_credentials {
            op.insert("x-mints-credentials".into(), json!(true));
        }
        let mut responses: Map<String, Value> = responses.into_iter().collect();
        if def.relays {
            responses.insert(
                "default".into(),
                json!({"description": "The service's own answer, relayed with its status, headers and body"}),
            );
        }
        if let Some(event) = def.audit_event() {
            op.insert("x-audit-action".into(), json!(event.action));
        }
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths
            .entry(def.path.replace("{*", "{"))
            .or_insert_with(|| json!({}));
        entry[def.method.as_str().to_ascii_lowercase()] = Value::Object(op);
    }
    let mut components = Map::new();
    for (name, schema) in schemas {
        components.entry(name).or_insert_with(|| to_json(&schema));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "idv",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hosted identity-verification platform server that speaks the Regula IDV Platform API. \
    Authenticate with `Authorization: ApiKey <key>` (scheme word in any case), `Basic`, `Bearer <access token>` or `Token <token>`, \
    or pass the same value URL-encoded in the `authorization` query parameter. Permissions are `scope:operation`; `X_all` covers \
    everyone's records, `X` the caller's own. Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}` with stable codes. \
    Session statuses: 0 not completed, 1 not verified, 2 verified, 3 approved, 4 pending, 1000 rejected."
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "ApiKey <key>"},
                "Basic": {"type": "http", "scheme": "basic"},
                "Bearer": {"type": "http", "scheme": "bearer"},
                "Token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <token>"}
            },
            "parameters": {
                "authorization": {"name": "authorization", "in": "query", "required": false, "schema": {"type": "string"}, "description": "The value of an Authorization header (ApiKey <key>, Basic ..., Bearer ..., Token ...), URL-encoded, for clients that cannot set headers; the header wins when both are given"}
            },
            "responses": {
                "NotAcceptable": {"description": "The Accept header admits no JSON (code not_acceptable)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "Internal": {"description": "The database or file storage failed (code internal_error); the error is logged with the request id the answer carries", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "BadRequest": {"description": "A parameter or body the route cannot take: a path parameter or query name or value that is not UTF-8 or holds a NUL (path parameters and query names: any control) character (code invalid_parameter, naming the parameter), or a body problem named in the message (codes such as invalid_request, malformed_json)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "Unauthorized": {"description": "No, bad, expired or revoked credentials (codes missing_credentials, invalid_credentials, expired_credentials, revoked_credentials)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "Forbidden": {"description": "The credentials lack every permission the route accepts (code forbidden; permission_escalation when granting more than the caller holds), or are a one-time QR code token, which works only at POST /api/deeplink/exchange", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "RateLimited": {"description": "Over the route's rate-limit profile (x-rate-limit-profile: s, m or l) for these credentials or this client address (code rate_limited); Retry-After gives the seconds to wait. Answers carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
            }
        }
    })
}

/// A query parameter as the document declares it.
fn query_parameter(q: &QueryParam) -> Value {
    let mut schema = match q.kind {
        ParamKind::Text => json!({"type": "string"}),
        ParamKind::Integer { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        ParamKind::Time => json!({
            "type": "string",
            "description": "ISO-8601 (2026-01-31T10:00:00Z, or a date 2026-01-31) or milliseconds since 1970",
            "examples": ["2026-01-31T10:00:00Z", "1769853600000"]
        }),
        ParamKind::OneOf(values) => json!({"type": "string", "enum": values}),
        ParamKind::Pattern(re) => json!({"type": "string", "pattern": re}),
    };
    if q.repeated {
        schema = json!({"type": "array", "items": schema});
        if q.required {
            schema["minItems"] = json!(1);
        }
    }
    let mut p = json!({
        "name": q.name,
        "in": "query",
        "required": q.required,
        "description": q.description,
        "schema": schema,
    });
    if q.repeated {
        p["style"] = json!("form");
        p["explode"] = json!(true);
    }
    p
}

fn all_schemes() -> Value {
    json!([{"ApiKey": []}, {"Basic": []}, {"Bearer": []}, {"Token": []}])
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.trim_start_matches("/api/").split('/') {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        let mut chars = seg.chars().filter(|c| c.is_ascii_alphanumeric());
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designed_5xx_answers_are_documented() {
        let doc = document("http://localhost:8000");
        let ops = |path: &str| doc["paths"][path].as_object().cloned().unwrap_or_default();
        let gateways = ops("/drapi/{path}");
        assert_eq!(gateways.len(), 5, "{gateways:?}");
        for (method, op) in gateways.iter().chain(ops("/faceapi/{path}").iter()) {
            for status in ["502", "503", "504"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} gateway {status}"
                );
            }
            let text = op["responses"]["503"]["description"].as_str().unwrap();
            assert!(text.contains("gateway_disabled"), "{text}");
        }
        assert!(doc["paths"]["/api/ready"]["get"]["responses"]["503"].is_object());
        assert!(doc["paths"]["/api/events/stream"]["get"]["responses"]["503"].is_object());
        assert!(doc["paths"]["/api/health"]["get"]["responses"]["503"].is_null());
        // The gateways relay the service's answers, whatever their status.
        assert!(doc["paths"]["/drapi/{path}"]["post"]["responses"]["default"].is_object());
        assert!(doc["paths"]["/api/health"]["get"]["responses"]["default"].is_null());
        // Every operation documents the parameter check's 400.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(op["responses"]["400"].is_object(), "{method} {path}");
            }
        }
        assert!(
            doc["components"]["responses"]["BadRequest"]["description"]
                .as_str()
                .unwrap()
                .contains("invalid_parameter")
        );
    }

    fn op<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path}");
        op
    }

    fn query<'a>(op: &'a Value, name: &str) -> &'a Value {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["in"] == "query" && p["name"] == name)
            .unwrap_or_else(|| panic!("no query parameter {name}"))
    }

    #[test]
    fn query_parameters_are_declared_with_schemas() {
        let doc = document("http://localhost:8000");
        let start = op(&doc, "post", "/api/sessions");
        assert_eq!(query(start, "workflowId")["required"], true);
        assert_eq!(query(start, "workflowId")["schema"]["type"], "string");
        let replay = op(&doc, "post", "/api/webhooks/{id}/replay");
        assert_eq!(query(replay, "since")["required"], true);
        let step = op(&doc, "post", "/api/sessions/{id}/step/{step}");
        assert_eq!(
            query(step, "type")["schema"]["enum"],
            json!(["data", "file"])
        );
        assert_eq!(query(step, "type")["required"], false);
        let link = op(&doc, "post", "/api/v1/deeplink");
        assert_eq!(query(link, "workflowId")["required"], true);
        assert_eq!(query(link, "workflowId")["schema"]["type"], "array");
        assert_eq!(query(link, "workflowId")["explode"], true);
        let qr = op(&doc, "get", "/api/deeplink/qrcode");
        assert_eq!(query(qr, "ttl")["schema"]["minimum"], 60);
        assert_eq!(query(qr, "ttl")["schema"]["maximum"], 604_800);
        let audit = op(&doc, "get", "/api/audit");
        for name in [
            "actor", "action", "target", "from", "to", "limit", "after", "order",
        ] {
            assert_eq!(query(audit, name)["required"], false, "{name}");
        }
        assert_eq!(
            query(audit, "order")["schema"]["enum"],
            json!(["asc", "desc"])
        );
        let events = op(&doc, "get", "/api/events");
        let types = query(events, "type")["schema"]["items"]["enum"]
            .as_array()
            .unwrap()
            .clone();
        let feed: Vec<Value> = crate::events::ALL
            .iter()
            .filter(|t| **t != crate::events::WEBHOOK_TEST)
            .map(|t| json!(t))
            .collect();
        assert_eq!(types, feed, "the feed's event types");
        assert_eq!(
            query(op(&doc, "delete", "/api/sessions/{id}"), "reason")["required"],
            false
        );
        // Every route that needs credentials takes them in the `authorization` parameter too.
        let needs = op(&doc, "get", "/api/workflows");
        assert!(
            needs["parameters"]
                .as_array()
                .unwrap()
                .contains(&json!({"$ref": "#/components/parameters/authorization"}))
        );
        assert!(op(&doc, "get", "/api/health")["parameters"].is_null());
    }

    #[test]
    fn every_answer_is_documented() {
        let doc = document("http://localhost:8000");
        let statuses = |method: &str, path: &str| -> Vec<String> {
            op(&doc, method, path)["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        let has = |method: &str, path: &str, want: &[&str]| {
            let got = statuses(method, path);
            for s in want {
                assert!(
                    got.iter().any(|g| g == s),
                    "{method} {path}: {s} in {got:?}"
                );
            }
        };
        let lacks = |method: &str, path: &str, status: &str| {
            let got = statuses(method, path);
            assert!(!got.iter().any(|g| g == status), "{method} {path}: {got:?}");
        };
        // Success codes other than 200 replace it.
        has("delete", "/api/sessions/{id}", &["204", "404", "409"]);
        lacks("delete", "/api/sessions/{id}", "200");
        has("post", "/api/webhooks", &["201", "413", "415"]);
        lacks("post", "/api/webhooks", "200");
        has("post", "/api/webhooks/{id}/replay", &["202", "404"]);
        has("post", "/api/auth/logout", &["204", "403"]);
        has(
            "put",
            "/api/v1/assets/{assetId}",
            &["200", "201", "413", "415"],
        );
        has(
            "get",
            "/api/sessions/{id}/files/{file}",
            &["200", "206", "304", "404", "410", "416"],
        );
        has(
            "get",
            "/api/v1/assets/{assetId}/content",
            &["200", "304", "404"],
        );
        has("get", "/api/sessions/{id}", &["404", "410"]);
        has(
            "patch",
            "/api/sessions/{id}",
            &["404", "409", "410", "412", "413", "415"],
        );
        has(
            "post",
            "/api/sessions/{id}/step/{step}",
            &["404", "409", "410", "413", "415", "422"],
        );
        has("post", "/api/auth/login", &["401", "429"]);
        has("get", "/api/deeplink/qrcode", &["404", "406", "429"]);
        // A start link redirects (no 200), and its refusals are pages or JSON errors.
        has("get", "/l/{code}", &["303", "404", "410", "429"]);
        lacks("get", "/l/{code}", "200");
        let gone = &op(&doc, "get", "/l/{code}")["responses"]["410"]["content"];
        assert!(gone["text/html"].is_object() && gone["application/json"].is_object());
        // 409 of a concurrent write and of a running Idempotency-Key: both causes listed.
        let text = op(&doc, "post", "/api/sessions")["responses"]["409"]["description"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("session_conflict") && text.contains("idempotency_in_progress"),
            "{text}"
        );
        // The guard's answers: 406 where JSON is answered, 500 where storage is touched.
        has("get", "/api/workflows", &["406", "500"]);
        lacks("get", "/api/sessions/{id}/export", "406");
        lacks("get", "/api/health", "500");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2') || s == "303"),
                    "{method} {path}: a success (or the redirect of one)"
                );
                if op["security"] != json!([]) {
                    for s in ["401", "403"] {
                        assert!(responses.contains_key(s), "{method} {path}: {s}");
                    }
                }
                if op.get("x-rate-limit-profile").is_some() {
                    assert!(responses.contains_key("429"), "{method} {path}: 429");
                }
            }
        }
    }
}
