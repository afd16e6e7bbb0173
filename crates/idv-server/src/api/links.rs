//! Request and response bodies: shareable start links of workflows. The link's URL (which holds
//! its code) is shown once, in the answer of its creation.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `POST /api/links` | [`StartLinkInput`] | 201 [`StartLinkCreated`] |
//! | `GET /api/links` | — | 200 [`StartLinkList`] |
//! | `GET /api/links/{id}` | — | 200 [`StartLinkView`] |
//! | `DELETE /api/links/{id}` | — | 200 [`StartLinkView`] (revoked) |
//! | `GET /l/{code}` | — | 303 to the capture page, or an HTML page saying why not |

use idv_core::time::iso;
use idv_store::StartLink;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A new start link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartLinkInput {
    /// The workflow each opening starts a session of.
    pub workflow_id: String,
    /// Openings allowed at most (1 to 1000000000); no limit when left out.
    #[serde(default)]
    pub max_uses: Option<i64>,
    /// Seconds until the link stops working (60 to 31536000, a year); never when left out.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Given to every session the link starts, with `startLinkId` added (a JSON object).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The sessions' locale (en, de-at); the workflow's when left out.
    #[serde(default)]
    pub locale: Option<String>,
}

/// A start link, without its URL.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartLinkView {
    pub id: String,
    pub workflow_id: String,
    /// Openings allowed at most; null: no limit.
    pub max_uses: Option<i64>,
    /// Openings so far (each started a session).
    pub uses: i64,
    /// When it stops working; null: never.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// When it was revoked; null while it works.
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The user or API key that created it.
    pub created_by: Option<String>,
    pub metadata: Value,
    pub locale: Option<String>,
}

impl From<&StartLink> for StartLinkView {
    fn from(l: &StartLink) -> Self {
        StartLinkView {
            id: l.id.clone(),
            workflow_id: l.workflow_id.clone(),
            max_uses: l.max_uses,
            uses: l.uses,
            expires_at: l.expires_at.map(iso),
            revoked_at: l.revoked_at.map(iso),
            created_at: iso(l.created_at),
            created_by: l.created_by.clone(),
            metadata: l.metadata.clone(),
            locale: l.locale.clone(),
        }
    }
}

/// A start link just created, with its URL: shown only here.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartLinkCreated {
    pub id: String,
    /// `<baseUrl>/l/<code>`: each opening starts a fresh session. Shown only here.
    pub url: String,
    pub workflow_id: String,
    pub max_uses: Option<i64>,
    pub uses: i64,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub metadata: Value,
    pub locale: Option<String>,
}

impl StartLinkCreated {
    pub fn new(l: &StartLink, url: String) -> Self {
        StartLinkCreated {
            id: l.id.clone(),
            url,
            workflow_id: l.workflow_id.clone(),
            max_uses: l.max_uses,
            uses: l.uses,
            expires_at: l.expires_at.map(iso),
            created_at: iso(l.created_at),
            metadata: l.metadata.clone(),
            locale: l.locale.clone(),
        }
    }
}

/// Start links, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartLinkList {
    pub items: Vec<StartLinkView>,
    pub total: usize,
}
