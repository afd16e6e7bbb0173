//! Which routes are audited, under which action name, and what their target is: looked up once
//! per route from its method and path template, so routes added later (session status changes,
//! deletion, export, search) are audited as soon as they exist.

use axum::http::Method;

/// Where an entry's target comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The path segment of this `{name}` parameter.
    Param(&'static str),
    /// What the handler notes in its answer ([`super::Note`]), e.g. the id it created.
    Noted,
    None,
}

/// The audit event of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub action: &'static str,
    /// The action recorded when the answer is not a success (logins).
    pub failed_action: Option<&'static str>,
    pub target: Target,
    /// A second path parameter kept in `details` (the session of a file).
    pub detail_param: Option<(&'static str, &'static str)>,
}

const fn ev(action: &'static str, target: Target) -> Event {
    Event {
        action,
        failed_action: None,
        target,
        detail_param: None,
    }
}

/// The event of a route, if it is audited.
pub fn event_for(method: &Method, path: &str) -> Option<Event> {
    use Target::*;
    Some(match (method.as_str(), path) {
        ("GET", "/api/sessions/{id}") => ev("session.read", Param("id")),
        ("GET", "/api/sessions/{id}/export") => ev("session.exported", Param("id")),
        ("POST", "/api/sessions/search") => ev("session.searched", None),
        ("GET", "/api/sessions") => ev("session.listed", None),
        ("PATCH", "/api/sessions/{id}") => ev("session.status_changed", Param("id")),
        ("DELETE", "/api/sessions/{id}") => ev("session.deleted", Param("id")),
        ("GET", "/api/sessions/{id}/files/{file}") => Event {
            detail_param: Some(("session", "id")),
            ..ev("file.download", Param("file"))
        },
        ("POST", "/api/apikey") | ("POST", "/api/security/apikey") => ev("apikey.created", Noted),
        ("DELETE", "/api/apikey/{id}") | ("DELETE", "/api/security/apikey/{id}") => {
            ev("apikey.revoked", Param("id"))
        }
        ("POST", "/api/security/users") => ev("user.created", Noted),
        ("PATCH", "/api/security/users/{id}") => ev("user.updated", Param("id")),
        ("DELETE", "/api/security/users/{id}") => ev("user.deleted", Param("id")),
        ("POST", "/api/webhooks") => ev("webhook.created", Noted),
        ("PATCH", "/api/webhooks/{id}") => ev("webhook.updated", Param("id")),
        ("DELETE", "/api/webhooks/{id}") => ev("webhook.deleted", Param("id")),
        ("POST", "/api/webhooks/{id}/rotate-secret") => ev("webhook.secret_rotated", Param("id")),
        ("POST", "/api/security/roles") => ev("role.created", Noted),
        ("PATCH", "/api/security/roles/{name}") => ev("role.updated", Param("name")),
        ("DELETE", "/api/security/roles/{name}") => ev("role.deleted", Param("name")),
        ("POST", "/api/auth/login") => Event {
            failed_action: Some("auth.login_failed"),
            ..ev("auth.login", Noted)
        },
        ("POST", "/api/auth/logout") => ev("auth.logout", None),
        ("DELETE", "/api/workflows/{id}") => ev("workflow.deleted", Param("id")),
        ("DELETE", "/api/v1/assets/{assetId}") => ev("asset.deleted", Param("assetId")),
        _ => return Option::None,
    })
}

/// The segment of `path` where `template` has `{name}` (percent-decoded).
pub fn param(template: &str, path: &str, name: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) == Some(name))
        .map(|(_, seg)| decode_segment(seg))
}

/// A path segment with `%XX` escapes decoded (`+` stays `+` in paths).
fn decode_segment(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_actions_and_targets() {
        let e = event_for(&Method::GET, "/api/sessions/{id}").unwrap();
        assert_eq!((e.action, e.target), ("session.read", Target::Param("id")));
        let e = event_for(&Method::GET, "/api/sessions/{id}/files/{file}").unwrap();
        assert_eq!(e.action, "file.download");
        assert_eq!(
            event_for(&Method::DELETE, "/api/sessions/{id}")
                .unwrap()
                .action,
            "session.deleted"
        );
        assert_eq!(
            event_for(&Method::POST, "/api/auth/login")
                .unwrap()
                .failed_action,
            Some("auth.login_failed")
        );
        assert!(event_for(&Method::POST, "/api/sessions/{id}/step/{step}").is_none());
        assert!(event_for(&Method::GET, "/api/health").is_none());
        assert_eq!(
            param(
                "/api/sessions/{id}/files/{file}",
                "/api/sessions/abc/files/f%201",
                "file"
            )
            .as_deref(),
            Some("f 1")
        );
        assert_eq!(
            param("/api/sessions/{id}", "/api/sessions/abc", "id").as_deref(),
            Some("abc")
        );
    }
}
