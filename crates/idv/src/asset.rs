//! `idv asset`: workflow assets, stored straight into the configured database and files (the
//! server need not run; a running one serves them at once).

use anyhow::{Result, anyhow};
use clap::Subcommand;
use idv_server::ops::assets::{self, AssetView};
use idv_server::state::AppState;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AssetCommand {
    /// Store FILE as asset NAME, replacing any asset of that name. The content type comes from
    /// the file's extension (png, jpg/jpeg, svg, gif, webp, json; else application/octet-stream).
    Put {
        /// The asset id workflows use: 1 to 128 letters, digits, `_`, `.` or `-`.
        name: String,
        file: PathBuf,
    },
    /// List assets.
    List,
    /// Delete an asset.
    Delete { name: String },
}

pub async fn run(state: &AppState, cmd: &AssetCommand) -> Result<()> {
    let fail = |e: idv_server::error::ApiError| anyhow!("{}", e.0.message);
    match cmd {
        AssetCommand::Put { name, file } => {
            let (a, created) = assets::put_file(state, name, file).await.map_err(fail)?;
            let view = AssetView::new(state, &a);
            println!(
                "Asset {}: {}, {} bytes, sha256 {} ({})",
                view.id,
                view.content_type,
                view.size,
                view.sha256,
                if created { "stored" } else { "replaced" }
            );
            println!("        URL: {}", view.url);
        }
        AssetCommand::List => {
            for a in assets::list(state).await.map_err(fail)? {
                let view = AssetView::new(state, &a);
                println!(
                    "{}\t{}\t{} bytes\t{}",
                    view.id, view.content_type, view.size, view.updated_at
                );
            }
        }
        AssetCommand::Delete { name } => {
            assets::delete(state, name).await.map_err(fail)?;
            println!("Asset {name} deleted");
        }
    }
    Ok(())
}
