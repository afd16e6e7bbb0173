//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from the router.

use crate::api::{self, Answer, Schemas};
use crate::routes::{Access, table};
use serde_json::{Map, Value, json};

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
        304 => "Not modified",
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
    for def in table() {
        let contract = api::contract_for(&def.method, def.path);
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
        let idempotent = crate::idempotency::applies_to(&def.method, def.path, def.tag);
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
        let mut responses = Map::new();
        if contract.answers.is_empty() {
            // A route that names no answer yet: any success, body undescribed.
            responses.insert("2XX".into(), json!({"description": "Success"}));
        }
        for (status, answer) in &contract.answers {
            let description = success_description(*status);
            let entry = match answer {
                Answer::Json(schema) => json!({
                    "description": description,
                    "content": {"application/json": {"schema": to_json(&schema(&mut schemas))}},
                }),
                Answer::Empty => json!({ "description": description }),
                Answer::Media(media) => json!({
                    "description": description,
                    "content": {*media: {"schema": {"type": "string", "contentMediaType": media}}},
                }),
            };
            responses.insert(status.to_string(), entry);
        }
        // Every route's guard checks its parameters (crate::params).
        responses.insert(
            "400".into(),
            json!({"$ref": "#/components/responses/BadRequest"}),
        );
        for (status, description) in server_answers(def.method.as_str(), def.path, def.tag) {
            let entry = if def.path == "/api/ready" {
                // Readiness answers its own body, not an error.
                json!({ "description": description })
            } else {
                error_answer(description)
            };
            responses.insert(status.into(), entry);
        }
        if def.access != Access::Public {
            responses.insert(
                "401".into(),
                json!({"$ref": "#/components/responses/Unauthorized"}),
            );
        }
        if matches!(def.access, Access::AnyOf(_)) {
            responses.insert(
                "403".into(),
                json!({"$ref": "#/components/responses/Forbidden"}),
            );
        }
        if let Some(profile) = crate::ratelimit::profile_for(&def.method, def.path) {
            op.insert("x-rate-limit-profile".into(), json!(profile.name()));
            responses.insert(
                "429".into(),
                json!({"$ref": "#/components/responses/RateLimited"}),
            );
        }
        if idempotent {
            responses.insert("409".into(), error_answer("The first request with this Idempotency-Key is still running (code idempotency_in_progress)"));
            responses.insert("422".into(), error_answer("This Idempotency-Key was used for a different request (code idempotency_key_reused)"));
        }
        if let Some(event) = crate::audit::events::event_for(&def.method, def.path) {
            op.insert("x-audit-action".into(), json!(event.action));
        }
        // Any other status is an error of the catalogue, except on the gateways, which relay
        // the service's own answers.
        let other = if def.tag == "gateways" {
            json!({"description": "The service's answer, relayed with its status and body"})
        } else {
            error_answer("An error: the body names its code (see the description of the API)")
        };
        responses.insert("default".into(), other);
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
            "responses": {
                "BadRequest": {"description": "A parameter or body the route cannot take: a path parameter or query name or value that is not UTF-8 or holds a NUL (path parameters and query names: any control) character (code invalid_parameter, naming the parameter), or a body problem named in the message (codes such as invalid_request, malformed_json)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "Unauthorized": {"description": "No, bad, expired or revoked credentials (codes missing_credentials, invalid_credentials, expired_credentials, revoked_credentials)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "Forbidden": {"description": "The credentials lack every permission the route accepts (code forbidden)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                "RateLimited": {"description": "Over the route's rate-limit profile (x-rate-limit-profile: s, m or l) for these credentials or this client address (code rate_limited); Retry-After gives the seconds to wait. Answers carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
            }
        }
    })
}

/// The 5xx answers a route gives by design (not failures): a fuzzer driven by this document
/// takes them as documented.
fn server_answers(method: &str, path: &str, tag: &str) -> Vec<(&'static str, &'static str)> {
    match (method, path) {
        ("GET", "/api/ready") => vec![(
            "503",
            "The database does not answer: {\"status\": \"unavailable\", \"database\"}",
        )],
        ("GET", "/api/events/stream") => vec![(
            "503",
            "The server already serves its maximum of streams (code unavailable); try again later",
        )],
        _ if tag == "gateways" => vec![
            (
                "502",
                "The service cannot be reached (code bad_gateway); the service's own answers are relayed with their status",
            ),
            (
                "503",
                "The gateway is off on this server (code gateway_disabled): services.docreader.enabled / services.faceapi.enabled and their url",
            ),
            (
                "504",
                "The service did not answer within services.api.timeout (code gateway_timeout)",
            ),
        ],
        _ => Vec::new(),
    }
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
}
