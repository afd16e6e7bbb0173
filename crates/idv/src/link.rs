//! `idv link`: shareable start links of workflows, written straight into the configured
//! database (a running server opens them at once). The url is printed once, at creation.

use crate::audit;
use anyhow::{Result, anyhow};
use clap::Subcommand;
use idv_server::api::links::StartLinkInput;
use idv_server::config::Period;
use idv_server::ops::links;
use idv_server::state::AppState;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum LinkCommand {
    /// Create a start link and print its url (shown only this once): each opening starts a
    /// fresh session of the workflow.
    Create {
        /// The workflow the link starts.
        #[arg(long)]
        workflow: String,
        /// Openings allowed at most; no limit when absent.
        #[arg(long)]
        max_uses: Option<i64>,
        /// How long the link works: 7d, 12h, 30m, 45s or seconds; for ever when absent.
        #[arg(long)]
        expires: Option<String>,
        /// A JSON object every session gets as metadata (with startLinkId added).
        #[arg(long)]
        metadata: Option<String>,
        /// The sessions' locale (en, de-at); the workflow's when absent.
        #[arg(long)]
        locale: Option<String>,
    },
    /// List start links, newest first: id, workflow, uses/max, expiry, state.
    List {
        /// Only this workflow's links.
        #[arg(long)]
        workflow: Option<String>,
    },
    /// Revoke a start link: openings are refused from now on.
    Revoke { id: String },
}

pub async fn run(state: &AppState, cmd: &LinkCommand) -> Result<()> {
    let fail = |e: idv_server::error::ApiError| anyhow!("{}", e.0.message);
    match cmd {
        LinkCommand::Create {
            workflow,
            max_uses,
            expires,
            metadata,
            locale,
        } => {
            let expires_in = match expires {
                None => None,
                Some(text) => {
                    let seconds = Period::parse(text)
                        .map_err(|e| anyhow!("--expires: {e}"))?
                        .0;
                    Some(i64::try_from(seconds).map_err(|_| anyhow!("--expires is too long"))?)
                }
            };
            let metadata = match metadata {
                None => None,
                Some(text) => Some(
                    serde_json::from_str::<Value>(text)
                        .map_err(|e| anyhow!("--metadata is not JSON: {e}"))?,
                ),
            };
            let created = links::create(
                state,
                None,
                StartLinkInput {
                    workflow_id: workflow.clone(),
                    max_uses: *max_uses,
                    expires_in,
                    metadata,
                    locale: locale.clone(),
                },
            )
            .await
            .map_err(fail)?;
            let l = &created.link;
            audit::record(
                state,
                "start_link.created",
                &l.id,
                json!({"workflowId": l.workflow_id}),
            )
            .await?;
            println!("{}", created.url);
            eprintln!(
                "Start link {} of workflow {}: keep the url, it is not shown again (revoke it with `idv link revoke {}`).",
                l.id, l.workflow_id, l.id
            );
        }
        LinkCommand::List { workflow } => {
            let now = state.clock.now_ms();
            for l in links::list(state, workflow.as_deref())
                .await
                .map_err(fail)?
            {
                let max = l.max_uses.map(|m| m.to_string()).unwrap_or("-".into());
                let expires = l
                    .expires_at
                    .map(idv_core::time::iso)
                    .unwrap_or("never".into());
                let st = if l.revoked_at.is_some() {
                    "revoked"
                } else if l.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else if l.max_uses.is_some_and(|m| l.uses >= m) {
                    "used up"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}/{max}\t{expires}\t{st}",
                    l.id, l.workflow_id, l.uses
                );
            }
        }
        LinkCommand::Revoke { id } => {
            links::revoke(state, id).await.map_err(fail)?;
            audit::record(state, "start_link.revoked", id, Value::Null).await?;
            println!("Start link {id} revoked");
        }
    }
    Ok(())
}
