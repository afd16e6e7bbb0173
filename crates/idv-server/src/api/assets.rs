//! Request and response bodies: workflow assets.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/v1/assets/{assetId}/content` | — | 200 the asset's bytes (its own type), 304 |
//! | `GET /api/v1/assets` | — | 200 `Vec<`[`AssetView`]`>` |
//! | `GET /api/v1/assets/{assetId}` | — | 200 [`AssetView`] |
//! | `PUT /api/v1/assets/{assetId}` | the raw bytes (any type) | 201 (new), 200 (replaced) [`AssetView`] |
//! | `DELETE /api/v1/assets/{assetId}` | — | 200 [`AssetDeleted`] |

use crate::state::AppState;
use idv_core::time::iso;
use idv_store::AssetRecord;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A workflow asset's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetView {
    /// 1 to 128 of `A-Za-z0-9_.-`.
    pub id: String,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes (also the content's `ETag`).
    pub sha256: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Where the bytes are served (public).
    pub url: String,
}

impl AssetView {
    pub fn new(state: &AppState, a: &AssetRecord) -> AssetView {
        AssetView {
            id: a.id.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            created_at: iso(a.created_at),
            updated_at: iso(a.updated_at),
            url: format!("{}/api/v1/assets/{}/content", state.base_url, a.id),
        }
    }
}

/// The answer to a deletion.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetDeleted {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

/// The body of `PUT /api/v1/assets/{assetId}`: the asset's bytes, of the type its
/// `Content-Type` names.
pub fn bytes_schema(_: &mut super::Schemas) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("The asset's bytes"))
        .build()
        .into()
}
