//! Request and response bodies: saved views (`/api/views/namespaces/{namespace}[/key/{key}]`).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A view's value: a session list definition that clients post as-is to
/// `POST /api/sessions/search`. Checked by [`crate::ops::views`], whose errors name the field
/// (code `invalid_view`); other fields are kept as given.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "camelCase")]
pub struct ViewValue {
    /// Generated when absent.
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub workflows: Option<Vec<String>>,
    pub columns: Option<Vec<super::sessions::ColumnSpec>>,
    pub sort: Option<Vec<super::sessions::SortKey>>,
    pub filter: Option<super::sessions::FilterGroup>,
    pub group_ids: Option<Vec<String>>,
    pub user_ids: Option<Vec<String>>,
}

/// A stored view.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct View<'a> {
    pub key: &'a str,
    /// The value as stored, its defaults filled.
    #[schema(value_type = ViewValue)]
    pub value: &'a Value,
    pub group_ids: &'a [String],
    pub user_ids: &'a [String],
    pub created_at: String,
    pub updated_at: String,
}

/// A page of a namespace's views.
#[derive(Serialize, ToSchema)]
pub struct ViewList<'a> {
    pub items: Vec<View<'a>>,
    pub total: i64,
}
