//! `idv webhook`: webhook endpoints, written straight into the configured database (a running
//! server delivers to them at once). The secret is printed once, at creation.

use crate::audit;
use anyhow::{Result, anyhow};
use clap::Subcommand;
use idv_server::ops::webhooks::{self, WebhookInput};
use idv_server::state::AppState;
use serde_json::{Map, Value, json};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Create an endpoint and print it with its secret (shown only this once).
    Create {
        /// The URL that receives the events (http or https).
        #[arg(long)]
        url: String,
        /// Comma-separated event types (session.created, session.step_completed,
        /// session.status_changed, session.completed, session.expired, session.deleted,
        /// webhook.test), or * for all.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Only sessions of these workflows (comma-separated ids); all when absent.
        #[arg(long = "workflow", value_delimiter = ',')]
        workflow_ids: Vec<String>,
        /// An extra request header, NAME:VALUE (may repeat).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// Also sign with the server's Ed25519 key (v1a).
        #[arg(long)]
        ed25519: bool,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List endpoints: id, enabled, events, url (and why one was disabled).
    List,
    /// Delete an endpoint and its delivery log.
    Delete { id: String },
    /// Read a server's live event stream and POST every event, signed like a webhook, to a
    /// local URL (a tool for developing a receiver; one line per event on standard output).
    Listen(crate::webhook_listen::ListenArgs),
}

fn header_map(items: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for item in items {
        let (name, value) = item
            .split_once(':')
            .ok_or_else(|| anyhow!("--header `{item}` must be NAME:VALUE"))?;
        out.insert(name.trim().to_string(), json!(value.trim()));
    }
    Ok(out)
}

pub async fn run(state: &AppState, cmd: &WebhookCommand) -> Result<()> {
    let fail = |e: idv_server::error::ApiError| anyhow!("{}", e.0.message);
    match cmd {
        WebhookCommand::Create {
            url,
            events,
            description,
            workflow_ids,
            headers,
            ed25519,
            disabled,
        } => {
            let input = WebhookInput {
                url: Some(url.clone()),
                events: Some(events.iter().map(|e| e.trim().to_string()).collect()),
                enabled: Some(!disabled),
                description: Some(description.clone()),
                headers: Some(header_map(headers)?),
                workflow_ids: Some(workflow_ids.clone()),
                ed25519: Some(*ed25519),
            };
            let w = webhooks::create(state, None, input).await.map_err(fail)?;
            audit::record(state, "webhook.created", &w.id, json!({"url": w.url})).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&webhooks::view_with_secret(&w))?
            );
            eprintln!(
                "Keep the secret: it is not shown again (rotate it with POST /api/webhooks/{}/rotate-secret).",
                w.id
            );
        }
        WebhookCommand::List => {
            for w in webhooks::list(state).await.map_err(fail)? {
                let state = if w.enabled { "enabled" } else { "disabled" };
                let why = w
                    .disabled_reason
                    .as_deref()
                    .map(|r| format!("\t({r})"))
                    .unwrap_or_default();
                println!("{}\t{state}\t{}\t{}{why}", w.id, w.events.join(","), w.url);
            }
        }
        WebhookCommand::Delete { id } => {
            webhooks::delete(state, id).await.map_err(fail)?;
            audit::record(state, "webhook.deleted", id, Value::Null).await?;
            println!("Webhook {id} deleted");
        }
        // Handled in `main`: it talks to a server over HTTP and opens no database.
        WebhookCommand::Listen(_) => {}
    }
    Ok(())
}
