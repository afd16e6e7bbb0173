//! Request and response bodies: the audit log.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/audit` ([`AuditQueryParams`]) | — | 200 [`AuditPage`] |
//! | `POST /api/audit/verify` | — | 200 [`AuditVerdict`] |

use idv_core::time::iso;
use idv_store::AuditRecord;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Who did it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// The user id or API key id; `null` for anonymous callers (a failed login).
    #[schema(required = true)]
    pub id: Option<String>,
    /// `user`, `apikey`, `cli` or `anonymous`.
    pub kind: String,
    /// The user or key name; for a login, the user name tried.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// One entry of the audit log, linked to the one before it by `prevHash`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    /// 1, 2, 3 ... without gaps.
    pub seq: i64,
    #[schema(format = DateTime)]
    pub at: String,
    pub actor: AuditActor,
    /// What happened: `session.read`, `apikey.created`, `auth.login_failed` ...
    pub action: String,
    /// What it happened to: a session id, a file id, a user id ...
    #[schema(required = true)]
    pub target: Option<String>,
    /// The HTTP status answered.
    pub outcome: i32,
    /// The client address.
    #[schema(required = true)]
    pub ip: Option<String>,
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// Anything else worth keeping (an object), or `null`.
    pub details: Value,
    /// Lower-case hex SHA-256 of the entry before.
    pub prev_hash: String,
    /// Lower-case hex SHA-256 of `prevHash` and this entry's canonical JSON.
    pub hash: String,
}

impl From<&AuditRecord> for AuditEntryView {
    fn from(r: &AuditRecord) -> Self {
        let e = &r.entry;
        AuditEntryView {
            seq: r.seq,
            at: iso(e.at),
            actor: AuditActor {
                id: e.actor_id.clone(),
                kind: e.actor_kind.clone(),
                name: e.actor_name.clone(),
            },
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome,
            ip: e.ip.clone(),
            request_id: e.request_id.clone(),
            details: e.details.clone(),
            prev_hash: r.prev_hash.clone(),
            hash: r.hash.clone(),
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// The `after` of the following page; `null` on the last one.
    #[schema(required = true)]
    pub next: Option<i64>,
}

/// What walking the audit chain found: every entry linked and hashed as written (`intact`),
/// or the first entry that is not.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerdict {
    pub intact: bool,
    /// Entries checked; `null` when the chain is broken.
    #[schema(required = true)]
    pub count: Option<i64>,
    /// The entry the chain is verified from (0, or the last entry retention removed);
    /// `null` when the chain is broken.
    #[schema(required = true)]
    pub anchor_seq: Option<i64>,
    /// The last entry checked; `null` when the chain is broken.
    #[schema(required = true)]
    pub head_seq: Option<i64>,
    /// The first entry that does not link or hash as written; `null` when intact.
    #[schema(required = true)]
    pub broken_at: Option<i64>,
    /// Why that entry breaks the chain; `null` when intact.
    #[schema(required = true)]
    pub reason: Option<String>,
}

impl From<crate::audit::verify::Verdict> for AuditVerdict {
    fn from(v: crate::audit::verify::Verdict) -> Self {
        use crate::audit::verify::Verdict;
        match v {
            Verdict::Intact {
                count,
                anchor_seq,
                head_seq,
            } => AuditVerdict {
                intact: true,
                count: Some(count),
                anchor_seq: Some(anchor_seq),
                head_seq: Some(head_seq),
                broken_at: None,
                reason: None,
            },
            Verdict::Broken { seq, reason } => AuditVerdict {
                intact: false,
                count: None,
                anchor_seq: None,
                head_seq: None,
                broken_at: Some(seq),
                reason: Some(reason),
            },
        }
    }
}

/// The filters of `GET /api/audit` (nothing else is accepted).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// A user or key id, or name.
    pub actor: Option<String>,
    /// An action name such as `session.read`.
    pub action: Option<String>,
    pub target: Option<String>,
    /// ISO-8601 (`2026-01-31T10:00:00Z`), a date (`2026-01-31`) or milliseconds since 1970.
    pub from: Option<String>,
    /// As `from`; not earlier than it.
    pub to: Option<String>,
    /// 1 to 1000; 100 when left out.
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    pub after: Option<i64>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use idv_store::NewAuditEntry;
    use serde_json::json;

    #[test]
    fn entries_keep_their_json_shape() {
        let r = AuditRecord {
            seq: 4,
            entry: NewAuditEntry {
                at: 0,
                actor_id: None,
                actor_kind: "anonymous".into(),
                actor_name: Some("admin".into()),
                action: "auth.login_failed".into(),
                target: None,
                outcome: 401,
                ip: Some("127.0.0.1".into()),
                request_id: None,
                details: json!({"b": 1, "a": 2}),
            },
            prev_hash: "p".into(),
            hash: "h".into(),
        };
        let expected = json!({
            "seq": 4,
            "at": "1970-01-01T00:00:00.000Z",
            "actor": {"id": null, "kind": "anonymous", "name": "admin"},
            "action": "auth.login_failed",
            "target": null,
            "outcome": 401,
            "ip": "127.0.0.1",
            "requestId": null,
            "details": {"b": 1, "a": 2},
            "prevHash": "p",
            "hash": "h",
        });
        // Compared as text: the field order is part of the answer.
        assert_eq!(
            serde_json::to_string(&AuditEntryView::from(&r)).unwrap(),
            expected.to_string()
        );
    }
}
