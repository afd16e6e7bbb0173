//! The portal's one way to the data: each page and form calls the JSON API in-process, through
//! the same router, guard (permissions, rate limit, `Idempotency-Key`, audit) and handlers as
//! any client, as the signed-in user. Nothing here reads or writes the store itself.

use crate::routes::InProcess;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

/// The API router the portal calls (installed as a request extension by [`crate::app`]).
#[derive(Clone)]
pub struct PortalApi(pub Router);

/// The largest answer the portal reads into memory (an export zip is streamed instead).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// An API answer.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The body as `T`, when the call succeeded and the body is that JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Option<T> {
        if !self.ok() {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }

    /// The API error's `(code, message)`, when the body is the API's error body
    /// (`{"error": {code, message, details}}`).
    pub fn error(&self) -> (String, String) {
        let v = self.error_body();
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let code = field("code");
        let message = field("message");
        if message.is_empty() {
            (code, format!("the server answered {}", self.status))
        } else {
            (code, message)
        }
    }

    /// The `error` object of the API's error body (`{code, message, details}`); `null` when
    /// the body is none.
    pub fn error_body(&self) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v.get_mut("error").map(std::mem::take).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A caller of the API for one signed-in portal request.
#[derive(Clone)]
pub struct Caller {
    pub(super) api: Router,
    pub(super) principal: Arc<crate::auth::Principal>,
    pub(super) addr: Option<ConnectInfo<SocketAddr>>,
}

impl Caller {
    /// Sends one request and reads its whole answer.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(HeaderName, String)],
        body: Option<(&str, Bytes)>,
    ) -> Reply {
        let resp = self.raw(method, uri, headers, body).await;
        let (parts, body) = resp.into_parts();
        let body = axum::body::to_bytes(body, MAX_ANSWER)
            .await
            .unwrap_or_default();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends one request and hands back the answer as it comes (for downloads).
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(HeaderName, String)],
        body: Option<(&str, Bytes)>,
    ) -> axum::response::Response {
        let mut rb = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json, */*");
        for (k, v) in headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                rb = rb.header(k, v);
            }
        }
        let body = match body {
            Some((content_type, bytes)) => {
                rb = rb.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut req = rb.body(body).expect("a well-formed request");
        req.extensions_mut()
            .insert(InProcess(self.principal.clone()));
        if let Some(addr) = self.addr {
            req.extensions_mut().insert(addr);
        }
        match self.api.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, &[], None).await
    }

    /// `DELETE uri`, with an `Idempotency-Key` when given.
    pub async fn delete(&self, uri: &str, extra: &[(HeaderName, String)]) -> Reply {
        self.send(Method::DELETE, uri, extra, None).await
    }

    /// A JSON body sent with `method`, with an `Idempotency-Key` when given.
    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        body: &serde_json::Value,
        extra: &[(HeaderName, String)],
    ) -> Reply {
        let bytes = Bytes::from(serde_json::to_vec(body).expect("JSON values serialize"));
        self.send(method, uri, extra, Some(("application/json", bytes)))
            .await
    }
}

/// Percent-encodes one path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
