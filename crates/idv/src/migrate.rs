//! `idv migrate --to-config FILE`: this install (database, files, secrets) into the database
//! and storage another configuration file names, e.g. from the embedded SQLite default to
//! PostgreSQL. The target must be empty; the command ends with the checks of the target.

use clap::Args;
use idv_server::config;
use idv_server::ops::backup;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct MigrateArgs {
    /// The target's configuration file (its database.url, storage and fernetKey). Read from
    /// the file alone: IDV_CONFIG__* variables apply to this install, not to the target.
    #[arg(long, value_name = "FILE")]
    pub to_config: PathBuf,
}

/// Exit status 0 when everything moved and the target passes its checks, 1 when the move
/// stopped or the target fails a check (the output lists what was not moved), 2 when it
/// could not begin.
pub async fn run(cli: &crate::Cli, args: &MigrateArgs) -> ExitCode {
    let source = match crate::load_config(cli) {
        Ok(c) => crate::open(c).await,
        Err(e) => Err(e),
    };
    let source = match source {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: this install: {e:#}");
            return ExitCode::from(2);
        }
    };
    let target = match config::load(Some(&args.to_config), std::iter::empty()) {
        Ok(c) => crate::open(c).await,
        Err(e) => Err(anyhow::anyhow!("{e}")),
    };
    let target = match target {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the target ({}): {e:#}", args.to_config.display());
            return ExitCode::from(2);
        }
    };
    if source.config.database.url == target.config.database.url {
        eprintln!("error: the target's database.url is this install's own database");
        return ExitCode::from(2);
    }
    let started = std::time::Instant::now();
    let moved = backup::migrate(&source, &target, |table, rows| {
        println!("  {table}: {rows} row(s)");
    })
    .await;
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: the migration did not complete: {e}");
            if e.partial {
                eprintln!(
                    "The target holds part of the data: start again with a new, empty database."
                );
            }
            return ExitCode::from(1);
        }
    };
    let rows: i64 = moved.tables.iter().map(|(_, n)| n).sum();
    println!(
        "Moved {} table(s), {rows} row(s) from {} to {} in {:.1} s",
        moved.tables.len(),
        source.store.backend(),
        target.store.backend(),
        started.elapsed().as_secs_f64()
    );
    if moved.shared_storage {
        println!("  files: both configurations name the same storage; nothing to copy");
    } else {
        println!(
            "  files: {} ({}) copied",
            moved.files,
            crate::backup::size(moved.bytes)
        );
    }
    if moved.resealed > 0 {
        println!(
            "  secrets: {} value(s) sealed again under the target's key",
            moved.resealed
        );
    }
    // The move is the first entry of the target's own chain after the copied ones.
    let recorded = crate::audit::record(
        &target,
        "install.migrated",
        source.store.backend(),
        serde_json::json!({
            "from": source.store.backend(),
            "to": target.store.backend(),
            "tables": moved.tables.len(),
            "rows": rows,
            "files": moved.files,
        }),
    )
    .await;
    if let Err(e) = recorded {
        eprintln!("warning: {e:#}");
    }
    let checked = match backup::check(&target).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot check the target: {e}");
            return ExitCode::from(1);
        }
    };
    if crate::backup::report(&checked) {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: the target fails its checks (see above)");
        ExitCode::from(1)
    }
}
