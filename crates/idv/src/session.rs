//! `idv session export|import`: session archives written from and restored into the configured
//! database and file storage directly (the server need not run).

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use idv_server::ops::exchange::{self, Imported, Selection};
use idv_server::state::AppState;
use idv_store::SessionId;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Write one archive per session, session-<id>.zip, into DIR: the session, its stored
    /// rows, the workflow revision it runs on and its files, with a manifest of SHA-256 hashes.
    Export {
        /// The folder to write into (created if missing).
        #[arg(long, short = 'o', value_name = "DIR")]
        output: PathBuf,
        /// A session to export; repeat for more.
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<String>,
        /// Every session.
        #[arg(long)]
        all: bool,
        /// Only sessions matching this filter: the filter of `POST /api/sessions/search` (every
        /// field and operator it takes), or a whole search body such as a view's value. Example:
        /// '{"op":"$and","conditions":[{"field":"status","op":"$in","value":[2,3]},
        /// {"field":"createdAt","op":"$gte","value":"2026-01-01T00:00:00Z"}]}'
        #[arg(long, value_name = "JSON")]
        filter: Option<String>,
    },
    /// Import every *.zip session archive in DIR. Each archive is checked whole first (every
    /// SHA-256 against its manifest, entry names, sizes); a damaged one is refused and nothing
    /// of it is written. Ids and timestamps are kept. Exits non-zero when any archive failed.
    Import {
        /// The folder holding the archives.
        #[arg(long, short = 'i', value_name = "DIR")]
        input: PathBuf,
        /// Replace a session that already exists (with its files) instead of skipping it.
        #[arg(long)]
        overwrite: bool,
    },
}

pub async fn run(state: &AppState, cmd: &SessionCommand) -> Result<()> {
    match cmd {
        SessionCommand::Export {
            output,
            ids,
            all,
            filter,
        } => {
            let filter = match filter {
                None => None,
                Some(text) => {
                    let value: serde_json::Value = serde_json::from_str(text)
                        .map_err(|e| anyhow!("--filter is not JSON: {e}"))?;
                    Some(exchange::parse_filter(&value).map_err(|e| anyhow!("--filter: {e}"))?)
                }
            };
            let selection = Selection {
                ids: ids.clone(),
                all: *all,
                filter,
            };
            export(state, output, &selection).await
        }
        SessionCommand::Import { input, overwrite } => import(state, input, *overwrite).await,
    }
}

/// A bar on standard error for more than a few sessions; nothing when it is not a terminal.
fn progress(len: usize) -> ProgressBar {
    if len <= 3 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} sessions {elapsed}") {
        bar.set_style(style);
    }
    bar
}

async fn export(state: &AppState, dir: &Path, selection: &Selection) -> Result<()> {
    let ids = exchange::select_sessions(state, selection)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bar = progress(ids.len());
    let mut failed = 0;
    for id in &ids {
        match export_one(state, dir, id).await {
            Ok((path, done)) => bar.suspend(|| {
                println!(
                    "{}: session {}, {} file(s), {} bytes of files",
                    path.display(),
                    done.session_id,
                    done.files,
                    done.bytes
                )
            }),
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("session {id}: not exported: {e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "Exported {} session(s) to {}",
        ids.len() - failed,
        dir.display()
    );
    if failed > 0 {
        bail!("{failed} session(s) were not exported");
    }
    Ok(())
}

/// Writes `session-<id>.zip` through a `.part` file, renamed once complete, so a folder never
/// holds a half-written archive under the final name.
async fn export_one(
    state: &AppState,
    dir: &Path,
    id: &str,
) -> Result<(PathBuf, exchange::Exported)> {
    let (session, files) = state
        .store
        .session_with_files(SessionId::new(id))
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("no session with id {id}"))?;
    let name = exchange::archive_name(&session.id);
    let path = dir.join(&name);
    let part = dir.join(format!("{name}.part"));
    let file = std::fs::File::create(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let result = exchange::export_session(state, &session, &files, file).await;
    let (file, done) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(anyhow!("{}", e.0.message));
        }
    };
    file.sync_all()
        .with_context(|| format!("cannot write {}", part.display()))?;
    drop(file);
    std::fs::rename(&part, &path)
        .with_context(|| format!("cannot rename {} to {name}", part.display()))?;
    Ok((path, done))
}

async fn import(state: &AppState, dir: &Path, overwrite: bool) -> Result<()> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("zip")))
        .collect();
    archives.sort();
    if archives.is_empty() {
        bail!("{} holds no .zip archives", dir.display());
    }
    let bar = progress(archives.len());
    let (mut imported, mut skipped, mut failed) = (0, 0, 0);
    for path in &archives {
        let shown = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match exchange::import_archive(state, path, overwrite).await {
            Ok(Imported::Stored {
                session_id,
                workflow_id,
                workflow_revision,
                workflow_added,
                files,
                replaced,
            }) => {
                imported += 1;
                bar.suspend(|| {
                    println!(
                        "{shown}: {} session {session_id} ({files} file(s); workflow \
                         {workflow_id} revision {workflow_revision}{})",
                        if replaced { "replaced" } else { "imported" },
                        if workflow_added { ", added" } else { "" }
                    )
                });
            }
            Ok(Imported::Skipped { session_id }) => {
                skipped += 1;
                bar.suspend(|| {
                    eprintln!(
                        "{shown}: skipped: session {session_id} exists (--overwrite replaces it)"
                    )
                });
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("{shown}: refused: {e}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{imported} imported, {skipped} skipped, {failed} failed");
    if failed > 0 {
        bail!("{failed} archive(s) were not imported");
    }
    Ok(())
}
