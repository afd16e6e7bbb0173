//! Request bodies: JSON with errors that say where the problem is, text documents (YAML or
//! JSON), the `Accept` check, and size limits mapped to 413.

use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use idv_core::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The media type of a request, lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

pub fn is_json_type(mt: &str) -> bool {
    mt == "application/json" || (mt.starts_with("application/") && mt.ends_with("+json"))
}

/// True when `Accept` is absent or admits JSON.
pub fn accepts_json(headers: &HeaderMap) -> bool {
    let mut any = false;
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            any = true;
            let mut parts = item.split(';');
            let mt = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            if refused {
                continue;
            }
            if mt.is_empty() || mt == "*/*" || mt == "application/*" || is_json_type(&mt) {
                return true;
            }
        }
    }
    !any
}

async fn read_bytes(req: Request) -> ApiResult<Bytes> {
    // Bytes honours the DefaultBodyLimit layer (services.api.maxBodySize).
    Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the request body is larger than services.api.maxBodySize",
            )
        } else {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("cannot read the request body: {rejection}"),
            )
        }
    })
}

/// Parses JSON, reporting the line and column of a syntax error.
pub fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!(
                "the body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Turns parsed JSON into `T`, naming the field that does not fit.
pub fn from_value<T: DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let place = if path == "." {
            "the body".to_string()
        } else {
            format!("field `{path}`")
        };
        ApiError::new(ErrorCode::InvalidRequest, format!("{place}: {}", e.inner()))
    })
}

/// The JSON pointer of the first string (or key) holding a NUL character, if any. Such strings
/// cannot be stored in every database, so they are refused up front.
fn nul_path(v: &Value, at: &str) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => {
            Some(if at.is_empty() { "/".into() } else { at.into() })
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, &format!("{at}/{i}"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let here = format!("{at}/{k}");
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(x, &here)
            }
        }),
        _ => None,
    }
}

/// A JSON body: `Content-Type: application/json` (or none with an empty body, read as `{}`).
/// Also keeps the raw bytes, for storing exactly what the client sent.
pub struct JsonBody<T>(pub T, pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> ApiResult<Self> {
        let mt = media_type(req.headers());
        let bytes = read_bytes(req).await?;
        match mt.as_deref() {
            Some(m) if is_json_type(m) => {}
            None if bytes.is_empty() => {}
            None => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body with Content-Type: application/json",
                ));
            }
            Some(other) => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("Content-Type {other} is not accepted here; send application/json"),
                ));
            }
        }
        let value = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            Value::Object(Default::default())
        } else {
            parse_json(&bytes)?
        };
        if let Some(path) = nul_path(&value, "") {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "the string at {path} holds a NUL character (\\u0000), which idv does not store; remove it"
                ),
            ));
        }
        // The probe runs only for a body that is not an object (the common body skips it).
        if !value.is_object() && reads_object::<T>() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "the body is {}; it must be a JSON object ({{\"name\": value, ...}}) or empty",
                    json_kind(&value)
                ),
            ));
        }
        Ok(JsonBody(from_value(value)?, bytes))
    }
}

/// What a JSON value is, for messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// True when `T` is read from a JSON object (a struct or a map). serde would also read a
/// struct from an array, by field position (`[1]` as `{"overlapSeconds": 1}`); a body is
/// refused unless it is an object. Found by letting `T` ask a deserializer that holds nothing
/// for what it wants.
fn reads_object<T: DeserializeOwned>() -> bool {
    use serde::de::{Deserializer, Visitor};

    /// The answer of the probe: whether `T` asked for a struct or a map.
    #[derive(Debug)]
    struct Asked(bool);
    impl std::fmt::Display for Asked {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "probe")
        }
    }
    impl std::error::Error for Asked {}
    impl serde::de::Error for Asked {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Asked(false)
        }
    }

    struct Probe;
    impl<'de> Deserializer<'de> for Probe {
        type Error = Asked;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Asked> {
            Err(Asked(false))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Asked> {
            Err(Asked(true))
        }
        fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Asked> {
            Err(Asked(true))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct enum
            identifier ignored_any
        }
    }
    matches!(T::deserialize(Probe), Err(Asked(true)))
}

/// A JSON body type whose checks go beyond its shape and answer their own error codes (a
/// review's `invalid_status`, a search's paths into the filter tree): it is read from the
/// parsed JSON by its own parser rather than by serde.
pub trait CheckedBody: Sized {
    fn from_json(value: Value) -> ApiResult<Self>;
}

/// A JSON body read by its type's [`CheckedBody`] parser, with the same media type, syntax and
/// NUL checks as [`JsonBody`].
pub struct Checked<T>(pub T);

impl<S: Send + Sync, T: CheckedBody> FromRequest<S> for Checked<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let JsonBody(value, _) = JsonBody::<Value>::from_request(req, state).await?;
        Ok(Checked(T::from_json(value)?))
    }
}

/// A YAML or JSON document body (workflow and localization files).
pub struct DocumentBody(pub String);

pub const DOCUMENT_TYPES: &[&str] = &[
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "application/json",
];

impl<S: Send + Sync> FromRequest<S> for DocumentBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> ApiResult<Self> {
        let mt = media_type(req.headers());
        match mt.as_deref() {
            Some(m)
                if DOCUMENT_TYPES.contains(&m) || m.ends_with("+json") || m.ends_with("+yaml") => {}
            other => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!(
                        "Content-Type {} is not accepted here; send application/yaml, application/x-yaml, text/yaml or application/json",
                        other.unwrap_or("(none)")
                    ),
                ));
            }
        }
        let bytes = read_bytes(req).await?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the document is not UTF-8: {e}"),
            )
        })?;
        if mt.as_deref().is_some_and(is_json_type) {
            parse_json(text.as_bytes())?;
        }
        Ok(DocumentBody(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn nul_characters_are_found() {
        let v: Value = serde_json::from_str(r#"{"a": [1, "ok", "bad\u0000"]}"#).unwrap();
        assert_eq!(nul_path(&v, "").as_deref(), Some("/a/2"));
        let v: Value = serde_json::from_str(r#"{"a": "fine"}"#).unwrap();
        assert_eq!(nul_path(&v, ""), None);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Overlap {
        #[serde(default)]
        overlap_seconds: Option<i64>,
    }

    async fn read<T: DeserializeOwned>(body: &'static str) -> ApiResult<T> {
        let req = Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        JsonBody::<T>::from_request(req, &()).await.map(|b| b.0)
    }

    #[test]
    fn structs_and_maps_read_objects() {
        assert!(reads_object::<Overlap>());
        assert!(reads_object::<std::collections::HashMap<String, i64>>());
        assert!(reads_object::<crate::api::webhooks::RotateSecretInput>());
        assert!(!reads_object::<Value>());
        assert!(!reads_object::<Vec<i64>>());
        assert!(!reads_object::<i64>());
    }

    #[tokio::test]
    async fn a_struct_is_read_from_an_object_only() {
        let o: Overlap = read(r#"{"overlapSeconds": 5}"#).await.unwrap();
        assert_eq!(o.overlap_seconds, Some(5));
        let o: Overlap = read("").await.unwrap();
        assert_eq!(o.overlap_seconds, None);
        for body in ["[1]", "[]", "1", "\"x\"", "true", "null"] {
            let e = read::<Overlap>(body).await.unwrap_err();
            assert_eq!(e.0.code, ErrorCode::InvalidRequest, "{body}");
            assert!(
                e.0.message.contains("must be a JSON object"),
                "{body}: {}",
                e.0.message
            );
        }
        // Types that are not structs keep reading what they read.
        let v: Value = read("[1]").await.unwrap();
        assert_eq!(v, serde_json::json!([1]));
        let v: Vec<i64> = read("[1, 2]").await.unwrap();
        assert_eq!(v, vec![1, 2]);
    }

    #[test]
    fn accept_rules() {
        assert!(accepts_json(&HeaderMap::new()));
        assert!(accepts_json(&accept("application/json")));
        assert!(accepts_json(&accept("*/*")));
        assert!(accepts_json(&accept("text/html, */*;q=0.8")));
        assert!(accepts_json(&accept("application/problem+json")));
        assert!(!accepts_json(&accept("text/html")));
        assert!(!accepts_json(&accept("text/html, application/json;q=0")));
    }
}
