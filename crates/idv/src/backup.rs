//! `idv backup DEST` and `idv restore SRC`: a consistent copy of a running SQLite install
//! (database and files) into a new folder that is itself a data folder, and that folder back
//! into place with its checks (`PRAGMA integrity_check`, the audit chain, every file's bytes).

use clap::Args;
use idv_server::ops::backup::{self, BackupError, Checked};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct BackupArgs {
    /// The folder to write into: it must not exist or be empty. It becomes a data folder: the
    /// database file, sessions/, assets/, workflows/, localization/ and the secrets key.
    pub dest: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A folder written by `idv backup`.
    pub src: PathBuf,
    /// Replace the data the configured install holds (stop its server first).
    #[arg(long)]
    pub force: bool,
}

/// Human-readable bytes.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Exit status 0 when the backup is whole, 1 when it was written but rows' bytes were missing
/// or damaged, 2 when nothing usable was written (a PostgreSQL install, a folder not empty).
pub async fn run_backup(cli: &crate::Cli, args: &BackupArgs) -> ExitCode {
    let state = match crate::load_config(cli) {
        Ok(c) => crate::open(c).await,
        Err(e) => Err(e),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let done = match backup::backup(&state, &args.dest).await {
        Ok(done) => done,
        Err(BackupError::Unsupported(m)) => {
            eprintln!("error: {m}");
            return ExitCode::from(2);
        }
        Err(BackupError::Failed(m)) => {
            eprintln!("error: {m}");
            if std::fs::read_dir(&args.dest).is_ok_and(|mut d| d.next().is_some())
                && !m.contains("is not empty")
            {
                eprintln!(
                    "{} holds an incomplete backup: remove it before trying again",
                    args.dest.display()
                );
            }
            return ExitCode::from(2);
        }
    };
    println!(
        "Backed up to {} in {:.1} s",
        args.dest.display(),
        done.took.as_secs_f64()
    );
    println!(
        "  database: {} ({}), {} session(s)",
        done.database.display(),
        size(done.database_bytes),
        done.sessions
    );
    println!(
        "  files: {} ({}), and {} workflow, localization and asset folder file(s)",
        done.files,
        size(done.bytes),
        done.folder_files
    );
    if done.key_file {
        println!("  secrets key: {} copied", backup::KEY_FILE);
    } else {
        println!("  secrets key: fernetKey is in the configuration; keep it with the backup");
    }
    if !done.deleted_meanwhile.is_empty() {
        println!(
            "  {} session(s) deleted while the backup ran are deleted in it too: {}",
            done.deleted_meanwhile.len(),
            done.deleted_meanwhile.join(", ")
        );
    }
    if !done.assets_changed.is_empty() {
        println!(
            "  {} asset(s) replaced or deleted while the backup ran are left out: {}",
            done.assets_changed.len(),
            done.assets_changed.join(", ")
        );
    }
    let recorded = crate::audit::record(
        &state,
        "install.backed_up",
        &args.dest.display().to_string(),
        serde_json::json!({
            "sessions": done.sessions,
            "files": done.files,
            "bytes": done.bytes,
            "deletedMeanwhile": done.deleted_meanwhile,
            "damaged": done.damaged.len(),
        }),
    )
    .await;
    if let Err(e) = recorded {
        eprintln!("warning: {e:#}");
    }
    if !done.damaged.is_empty() {
        eprintln!(
            "error: {} row(s) of the live install have no intact bytes (not in the backup):",
            done.damaged.len()
        );
        for d in &done.damaged {
            eprintln!("  {d}");
        }
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Prints the checks' findings; true when all passed.
pub(crate) fn report(checked: &Checked) -> bool {
    println!(
        "  checked: {} session(s), {} file(s) ({}) match their rows",
        checked.sessions,
        checked.files,
        size(checked.bytes)
    );
    if checked.integrity.is_empty() {
        println!("  database integrity: ok");
    } else {
        println!("  database integrity: {}", checked.integrity.join("; "));
    }
    println!("  audit chain: {}", checked.audit);
    for d in &checked.damaged {
        println!("  damaged: {d}");
    }
    checked.sound()
}

/// Exit status 0 when restored and every check passed, 1 when restored but a check failed,
/// 2 when nothing was restored.
pub async fn run_restore(cli: &crate::Cli, args: &RestoreArgs) -> ExitCode {
    let config = match crate::load_config(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    match backup::restore(config, &args.src, args.force).await {
        Ok(done) => {
            println!(
                "Restored {} into {} ({} file(s), {}{})",
                args.src.display(),
                done.database.display(),
                done.files,
                size(done.bytes),
                if done.key_file { ", secrets key" } else { "" }
            );
            if report(&done.checked) {
                ExitCode::SUCCESS
            } else {
                eprintln!("error: the restored install fails its checks (see above)");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
