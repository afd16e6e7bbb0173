//! Path and query parameters as the server takes them: the route guard's check that no
//! parameter holds text the database cannot store ([`check`]), and a `Query` extractor whose
//! rejection is the JSON error format ([`Query`]).
//!
//! PostgreSQL text cannot hold U+0000, and SQLite can; so that both backends answer alike, a
//! NUL never reaches either. Every route's decoded path parameters (identifiers: no control
//! character at all) and every query name (no control character) and value (no NUL) are
//! checked before the handler runs, and bytes that are not UTF-8 are refused in both. The
//! answer is 400 `invalid_parameter`, naming the parameter.

use crate::error::ApiError;
use axum::RequestExt;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use idv_core::ErrorCode;
use serde::de::DeserializeOwned;

/// Refuses a request whose path parameters or query string hold text the server does not take
/// (see the module documentation).
pub async fn check(req: &mut Request) -> Result<(), ApiError> {
    check_path(req).await?;
    check_query(req.uri().query().unwrap_or(""))
}

async fn check_path(req: &mut Request) -> Result<(), ApiError> {
    let params = match req.extract_parts::<RawPathParams>().await {
        Ok(p) => p,
        Err(RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            // axum names the parameter only in its message: "Invalid UTF-8 in `name`".
            let text = e.body_text();
            let name = text.split('`').nth(1).unwrap_or("?");
            return Err(invalid(format!(
                "path parameter `{name}` is not UTF-8 once percent-decoded; send it as UTF-8"
            )));
        }
        // A request that matched no route has no parameters to check.
        Err(_) => return Ok(()),
    };
    for (name, value) in &params {
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(invalid(format!(
                "path parameter `{name}` holds the control character {}, which no identifier \
                 holds; remove it",
                escaped(c)
            )));
        }
    }
    Ok(())
}

/// Checks every name and value of a raw query string.
pub(crate) fn check_query(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = match String::from_utf8(percent_decode(raw_name)) {
            Ok(n) => n,
            Err(e) => {
                return Err(invalid(format!(
                    "the query parameter name `{}` is not UTF-8 once percent-decoded; send it as \
                     UTF-8",
                    String::from_utf8_lossy(e.as_bytes())
                )));
            }
        };
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(invalid(format!(
                "the query parameter name `{}` holds the control character {}; remove it",
                name.escape_debug(),
                escaped(c)
            )));
        }
        let value = String::from_utf8(percent_decode(raw_value)).map_err(|_| {
            invalid(format!(
                "query parameter `{name}` is not UTF-8 once percent-decoded; send it as UTF-8"
            ))
        })?;
        if value.contains('\0') {
            return Err(invalid(format!(
                "query parameter `{name}` holds a NUL character (%00), which idv does not store; \
                 remove it"
            )));
        }
    }
    Ok(())
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameter, message)
}

/// A control character as a message shows it: `U+0000`.
fn escaped(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// `application/x-www-form-urlencoded` decoding to bytes: `+` is a space, `%XX` a byte, a `%`
/// not followed by two hex digits stays as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `axum::extract::Query`, with a rejection in the JSON error format (code `invalid_parameter`)
/// instead of plain text.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| Query(q))
            .map_err(|e| {
                invalid(format!(
                    "the query string cannot be read: {}",
                    e.body_text()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(query: &str) -> Option<&'static str> {
        check_query(query).err().map(|e| e.0.code.as_str())
    }

    #[test]
    fn query_text_the_database_cannot_hold_is_refused() {
        assert_eq!(code("a=1&b=two+words&c=%C3%A9&d&=x"), None);
        assert_eq!(
            code("reason=line%0Abreak"),
            None,
            "controls other than NUL in values"
        );
        assert_eq!(code("locale=en%00"), Some("invalid_parameter"));
        assert_eq!(code("x%00=1"), Some("invalid_parameter"));
        assert_eq!(code("x%01=1"), Some("invalid_parameter"));
        assert_eq!(code("locale=%FF"), Some("invalid_parameter"));
        assert_eq!(code("%FF=1"), Some("invalid_parameter"));
        // A lone or broken escape is kept as text, as form decoding does.
        assert_eq!(code("a=%&b=%4&c=%zz"), None);
        let e = check_query("ok=1&workflowId=a%00b").unwrap_err().0;
        assert!(e.message.contains("`workflowId`"), "{}", e.message);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%"), b"a b c%");
        assert_eq!(percent_decode("%ff%4"), vec![0xff, b'%', b'4']);
    }
}
