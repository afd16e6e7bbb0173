//! The OpenAPI 3.1 document, generated from the route table (each operation from its route's row)
//! so it cannot drift from the router.

use crate::routes::{Access, table};
use serde_json::{Map, Value, json};

/// The document for a server at `base_url`.
pub fn document(base_url: &str) -> Value {
    let mut paths = Map::new();
    for def in table() {
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
        if let Some(ex) = def.example {
            let example: Value = serde_json::from_str(ex).unwrap_or(Value::Null);
            op.insert(
                "requestBody".into(),
                json!({"content": {"application/json": {"schema": {"type": "object"}, "example": example}}}),
            );
        }
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "Success"}));
        // Every route's guard checks its parameters (crate::params).
        responses.insert(
            "400".into(),
            json!({"$ref": "#/components/responses/BadRequest"}),
        );
        for (status, description) in def.answers {
            responses.insert(status.to_string(), json!({ "description": description }));
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
        if let Some(profile) = def.rate {
            op.insert("x-rate-limit-profile".into(), json!(profile.name()));
            responses.insert(
                "429".into(),
                json!({"$ref": "#/components/responses/RateLimited"}),
            );
        }
        if idempotent {
            responses.insert("409".into(), json!({"description": "The first request with this Idempotency-Key is still running (code idempotency_in_progress)"}));
            responses.insert("422".into(), json!({"description": "This Idempotency-Key was used for a different request (code idempotency_key_reused)"}));
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
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "ApiKey <key>"},
                "Basic": {"type": "http", "scheme": "basic"},
                "Bearer": {"type": "http", "scheme": "bearer"},
                "Token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <token>"}
            },
            "responses": {
                "BadRequest": {"description": "A parameter or body the route cannot take: a path parameter or query name or value that is not UTF-8 or holds a NUL (path parameters and query names: any control) character (code invalid_parameter, naming the parameter), or a body problem named in the message (codes such as invalid_request, malformed_json)"},
                "Unauthorized": {"description": "No, bad, expired or revoked credentials (codes missing_credentials, invalid_credentials, expired_credentials, revoked_credentials)"},
                "Forbidden": {"description": "The credentials lack every permission the route accepts (code forbidden)"},
                "RateLimited": {"description": "Over the route's rate-limit profile (x-rate-limit-profile: s, m or l) for these credentials or this client address (code rate_limited); Retry-After gives the seconds to wait. Answers carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset"}
            }
        }
    })
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
