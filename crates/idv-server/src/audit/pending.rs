//! The audit entry of one request: what it needs from the request is taken before the
//! handler runs ([`Pending::of`]), the rest (outcome, and what the handler noted) from the
//! answer ([`Pending::entry`]).

use super::Note;
use super::events::{Event, Target, param};
use crate::auth::Principal;
use axum::extract::Request;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// What the audit entry of a request needs from the request, taken before it goes to the
/// handler.
pub struct Pending {
    event: Event,
    at: i64,
    target: Option<String>,
    details: Option<Value>,
    ip: Option<String>,
    request_id: Option<String>,
}

impl Pending {
    /// Takes what the entry needs from the request, before it goes to the handler; `at` is
    /// now on the server's clock.
    pub fn of(
        event: Event,
        template: &str,
        req: &Request,
        addr: Option<std::net::IpAddr>,
        at: i64,
    ) -> Self {
        let path = req.uri().path();
        let target = match event.target {
            Target::Param(name) => param(template, path, name),
            Target::Noted | Target::None => None,
        };
        let details = event.detail_param.and_then(|(key, name)| {
            param(template, path, name)
                .map(|v| Value::Object([(key.to_owned(), Value::String(v))].into_iter().collect()))
        });
        Pending {
            event,
            at,
            target,
            details,
            ip: addr.map(|a| a.to_string()),
            request_id: req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// The entry, once the answer is known.
    pub fn entry(
        self,
        principal: Option<&Arc<Principal>>,
        resp: &Response,
    ) -> idv_store::NewAuditEntry {
        let note = resp.extensions().get::<Note>();
        let (mut actor_id, mut kind, mut name) = match principal {
            Some(p) => super::actor_of(p),
            None => (None, "anonymous", None),
        };
        if let Some((id, tried)) = note.and_then(|n| n.actor.clone()) {
            if principal.is_none() {
                kind = if id.is_some() { "user" } else { "anonymous" };
                actor_id = id;
            }
            name = Some(tried);
        }
        // A redirect is a success too (the portal's sign-in answers 303).
        let success = resp.status().is_success() || resp.status().is_redirection();
        let action = match self.event.failed_action {
            Some(failed) if !success => failed,
            _ => self.event.action,
        };
        let mut details = self.details.unwrap_or(Value::Null);
        if let Some(extra) = note.and_then(|n| n.details.clone()) {
            details = match (details, extra) {
                (Value::Object(mut a), Value::Object(b)) => {
                    a.extend(b);
                    Value::Object(a)
                }
                (_, b) => b,
            };
        }
        if resp.headers().contains_key(crate::idempotency::REPLAYED) {
            details = match details {
                Value::Object(mut m) => {
                    m.insert("replayed".into(), true.into());
                    Value::Object(m)
                }
                _ => serde_json::json!({"replayed": true}),
            };
        }
        idv_store::NewAuditEntry {
            at: self.at,
            actor_id,
            actor_kind: kind.to_owned(),
            actor_name: name,
            action: action.to_owned(),
            target: self.target.or_else(|| note.and_then(|n| n.target.clone())),
            outcome: i32::from(resp.status().as_u16()),
            ip: self.ip,
            request_id: self.request_id,
            details,
        }
    }
}
