//! Shareable start links. An opening is counted by one guarded `UPDATE … RETURNING`, so of
//! concurrent openings of a link with one use left exactly one counts.

use crate::convert::{backend, col, json_col, json_text, map_rows, unique_or_backend};
use crate::{Db, PgStore, Pools};
use async_trait::async_trait;
use idv_store::{StartLink, StartLinkId, StartLinkStore, StartLinkUse, StoreResult, WorkflowId};
use sqlx::postgres::PgRow;

const COLUMNS: &str = "id, workflow_id, code_hash, metadata, locale, max_uses, uses, expires_at, \
                       revoked_at, created_by, created_at";
/// The columns as read: the `json` column as its text, which keeps its key order.
const SELECTED: &str = "id, workflow_id, code_hash, metadata::text AS metadata, locale, max_uses, \
                        uses, expires_at, revoked_at, created_by, created_at";

fn from_row(row: &PgRow) -> StoreResult<StartLink> {
    Ok(StartLink {
        id: col(row, "id")?,
        workflow_id: col(row, "workflow_id")?,
        code_hash: col(row, "code_hash")?,
        metadata: json_col(row, "metadata")?,
        locale: col(row, "locale")?,
        max_uses: col(row, "max_uses")?,
        uses: col(row, "uses")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
        created_by: col(row, "created_by")?,
        created_at: col(row, "created_at")?,
    })
}

async fn one(db: &Db, filter: &str, value: &str) -> StoreResult<Option<StartLink>> {
    sqlx::query(&format!(
        "SELECT {SELECTED} FROM start_links WHERE {filter} = $1"
    ))
    .bind(value)
    .fetch_optional(db.read())
    .await
    .map_err(backend)?
    .as_ref()
    .map(from_row)
    .transpose()
}

#[async_trait]
impl StartLinkStore for PgStore {
    async fn start_link_create(&self, link: &StartLink) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO start_links ({COLUMNS}) \
             VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&link.id)
        .bind(&link.workflow_id)
        .bind(&link.code_hash)
        .bind(json_text(&link.metadata))
        .bind(&link.locale)
        .bind(link.max_uses)
        .bind(link.uses)
        .bind(link.expires_at)
        .bind(link.revoked_at)
        .bind(&link.created_by)
        .bind(link.created_at)
        .execute(self.pool.write())
        .await
        .map_err(unique_or_backend(|| format!("start link {}", link.id)))?;
        Ok(())
    }

    async fn start_link_get(&self, id: StartLinkId<'_>) -> StoreResult<Option<StartLink>> {
        let id = id.as_str();
        one(&self.pool, "id", id).await
    }

    async fn start_link_by_code_hash(&self, hash: &str) -> StoreResult<Option<StartLink>> {
        one(&self.pool, "code_hash", hash).await
    }

    async fn start_link_list(
        &self,
        workflow_id: Option<WorkflowId<'_>>,
    ) -> StoreResult<Vec<StartLink>> {
        let workflow_id = workflow_id.map(|w| w.as_str());
        let rows = sqlx::query(&format!(
            "SELECT {SELECTED} FROM start_links \
             WHERE ($1::text IS NULL OR workflow_id = $1::text) \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(workflow_id)
        .fetch_all(self.pool.read())
        .await
        .map_err(backend)?;
        map_rows(rows, from_row)
    }

    async fn start_link_revoke(&self, id: StartLinkId<'_>, at: i64) -> StoreResult<bool> {
        let id = id.as_str();
        let done = sqlx::query(
            "UPDATE start_links SET revoked_at = COALESCE(revoked_at, $2::bigint) WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(self.pool.write())
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() > 0)
    }

    async fn start_link_use(&self, id: StartLinkId<'_>, now: i64) -> StoreResult<StartLinkUse> {
        let id = id.as_str();
        let used = sqlx::query(&idv_store_sql::start_links::use_once(SELECTED))
            .bind(id)
            .bind(now)
            .fetch_optional(self.pool.write())
            .await
            .map_err(backend)?;
        if let Some(row) = used {
            return Ok(StartLinkUse::Used(Box::new(from_row(&row)?)));
        }
        Ok(idv_store::start_links::refusal(
            one(&self.pool, "id", id).await?.as_ref(),
            now,
        ))
    }
}
