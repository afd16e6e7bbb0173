//! `idv view`: saved views (session list definitions), written straight into the configured
//! database, as Regula's `idv view create` does; a running server sees them at once.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use idv_server::ops::views;
use idv_server::state::AppState;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum ViewCommand {
    /// Create or replace a view and print it.
    Create {
        /// The view's key within its namespace (1 to 128 of A-Z a-z 0-9 _ . -).
        #[arg(long)]
        key: String,
        /// The namespace, e.g. active-views-3.
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        description: Option<String>,
        /// Comma-separated workflow ids whose sessions the view lists.
        #[arg(long, value_delimiter = ',')]
        workflows: Vec<String>,
        /// Comma-separated built-in session fields shown as columns, e.g. status.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
        /// Comma-separated workflow property ids shown as columns, e.g. FULL_NAME,AGE.
        #[arg(long, value_delimiter = ',')]
        properties: Vec<String>,
        /// Users who may see the view (comma-separated user ids); without it, everyone with
        /// view:read.
        #[arg(long = "userId", value_delimiter = ',')]
        user_ids: Vec<String>,
    },
    /// List the views of a namespace.
    List {
        #[arg(long)]
        namespace: String,
    },
    /// Delete a view.
    Delete {
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        key: String,
    },
}

fn clean(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn run(state: &AppState, cmd: &ViewCommand) -> Result<()> {
    let fail = |e: idv_server::error::ApiError| anyhow!("{}", e.0.message);
    match cmd {
        ViewCommand::Create {
            key,
            namespace,
            title,
            description,
            workflows,
            fields,
            properties,
            user_ids,
        } => {
            let columns: Vec<Value> = clean(fields)
                .into_iter()
                .map(|f| json!({"type": "field", "name": f}))
                .chain(
                    clean(properties)
                        .into_iter()
                        .map(|p| json!({"type": "property", "name": p})),
                )
                .collect();
            let value = json!({
                "title": title,
                "description": description.clone().unwrap_or_default(),
                "workflows": clean(workflows),
                "columns": columns,
                "groupIds": [],
                "userIds": clean(user_ids),
            });
            let v = views::put(state, None, namespace, key, value)
                .await
                .map_err(fail)?;
            let mut item = serde_json::to_value(views::item(&v))?;
            item["namespace"] = json!(v.namespace);
            println!("{}", serde_json::to_string_pretty(&item)?);
        }
        ViewCommand::List { namespace } => {
            let (items, _) = views::list(state, None, namespace, views::MAX_LIMIT, 0)
                .await
                .map_err(fail)?;
            for v in items {
                println!(
                    "{}\t{}\t{}\t{}",
                    v.key,
                    v.value.get("id").and_then(Value::as_str).unwrap_or("-"),
                    v.value.get("title").and_then(Value::as_str).unwrap_or("-"),
                    v.value
                        .get("workflows")
                        .and_then(Value::as_array)
                        .map(|w| w
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(","))
                        .unwrap_or_default()
                );
            }
        }
        ViewCommand::Delete { namespace, key } => {
            views::delete(state, None, namespace, key)
                .await
                .map_err(fail)?;
            println!("View {key} deleted from namespace {namespace}");
        }
    }
    Ok(())
}
