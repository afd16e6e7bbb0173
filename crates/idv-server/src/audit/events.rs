//! What the audit entry of a route records: its action name and where its target comes from.
//! Each route's event is declared in its row of the route table ([`crate::routes::table`]).

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
    pub(crate) failed_action: Option<&'static str>,
    pub target: Target,
    /// A second path parameter kept in `details` (the session of a file).
    pub(crate) detail_param: Option<(&'static str, &'static str)>,
}

impl Event {
    /// The event `action` with its target from `target`.
    pub const fn new(action: &'static str, target: Target) -> Event {
        Event {
            action,
            failed_action: None,
            target,
            detail_param: None,
        }
    }

    /// Recorded as `action` instead when the answer is not a success (logins).
    pub const fn failed_as(mut self, action: &'static str) -> Event {
        self.failed_action = Some(action);
        self
    }

    /// Keeps the path parameter `param` in `details` under `key`.
    pub const fn detail(mut self, key: &'static str, param: &'static str) -> Event {
        self.detail_param = Some((key, param));
        self
    }
}

/// The segment of `path` where `template` has `{name}` (percent-decoded).
pub(crate) fn param(template: &str, path: &str, name: &str) -> Option<String> {
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
    fn path_parameters_are_decoded() {
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
