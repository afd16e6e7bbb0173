//! `idv`: the one binary. `idv serve` runs the platform; the other commands administer it
//! offline against the configured database, as Regula's CLI does.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use idv_server::config::{self, Config};
use idv_server::ops;
use idv_server::state::AppState;
use std::path::PathBuf;
use std::process::ExitCode;

mod asset;
mod audit;
mod backup;
mod link;
mod lint;
mod logging;
mod migrate;
mod run;
mod secrets;
mod session;
mod view;
mod webhook;
mod webhook_listen;

// glibc's allocator serialised the request path on its arena locks under load (seen in
// profiles of session reads); mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "idv",
    version,
    about = "A self-hosted identity-verification platform server (Regula IDV Platform API)"
)]
struct Cli {
    /// Configuration file; default ./config.yaml when present, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform server.
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Load workflow definitions and localization files.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Manage workflow assets (images served at /api/v1/assets/<id>/content).
    #[command(subcommand)]
    Asset(asset::AssetCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage saved views (session lists), as Regula's `idv view`.
    #[command(subcommand)]
    View(view::ViewCommand),
    /// Manage webhook endpoints (session events delivered to your URL, signed).
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Shareable start links of workflows: each opening starts a fresh session.
    #[command(subcommand)]
    Link(link::LinkCommand),
    /// Export sessions to archives and import them (here or into another install).
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The key that encrypts stored secrets: a new key, re-encryption after a key change.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Copy a SQLite install's database and files into a new folder while the server runs.
    /// Exit status 1 when rows' bytes were missing, 2 when nothing was written.
    Backup(backup::BackupArgs),
    /// Put a backup folder in place of this install's data and check it (integrity, audit
    /// chain, every file's bytes). Exit status 1 when a check fails, 2 when nothing was done.
    Restore(backup::RestoreArgs),
    /// Move this install (every table, file and secret) into the empty database and storage
    /// another configuration file names, e.g. SQLite to PostgreSQL.
    Migrate(migrate::MigrateArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain: prints OK with the number of entries, or the first broken
    /// entry and why (exit status 1).
    Verify,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Create(UserCreate),
    /// Delete a user.
    Delete {
        /// The login name of the user to delete.
        #[arg(long, short = 'n')]
        name: String,
    },
    /// List users.
    List,
}

#[derive(Args)]
struct UserCreate {
    /// The login name; unique.
    #[arg(long, short = 'n')]
    name: String,
    /// At least 8 characters; stored only as an Argon2id hash.
    #[arg(long, short = 'p')]
    password: String,
    #[arg(long, short = 'e')]
    email: Option<String>,
    /// Comma-separated role names: admin, verifier, device, demo or a custom role.
    #[arg(long, short = 'r', value_delimiter = ',')]
    roles: Vec<String>,
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create an API key and print it once.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// Comma-separated scope:operation list, e.g. "session_all:read,ephemeral_device:write".
        #[arg(long)]
        permissions: String,
        /// Lifetime in seconds; without it the key never expires.
        #[arg(long)]
        expires: Option<i64>,
    },
    /// List API keys (never their secrets).
    List,
    /// Revoke an API key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Load workflow and localization files (recognised by their shape).
    Apply {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check workflow and localization files without loading them: prints each problem as
    /// FILE:LINE: PATH: MESSAGE; exits 0 when all are fine, 1 on problems, 2 on unreadable files.
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Warnings (unreachable steps, unused rules …) fail the check too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Run a workflow offline against step submissions and canned action responses: prints
    /// every transition, property and status, then the final state. Exits 0 when every step
    /// ran, 1 when a step was refused or the workflow is invalid, 2 on unreadable files or a
    /// bad steps file.
    #[command(after_help = run::STEPS_HELP)]
    Run(run::RunArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration.
    Example,
    /// Load the configuration (file and IDV_CONFIG__ variables) and check it without starting:
    /// prints each of Regula's keys that idv accepts without using, with what idv uses
    /// instead, then OK. Exits 1 with the reason when the configuration would not start.
    Check,
}

fn load_config(cli: &Cli) -> Result<Config> {
    config::load(cli.config.as_deref(), std::env::vars()).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn open(config: Config) -> Result<AppState> {
    let base = config.effective_base_url(None);
    AppState::open(config, base)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn api_err(e: idv_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", ops::workflows::describe(&e))
}

fn python_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|r| format!("'{r}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Asset(cmd) => asset::run(&open(load_config(&cli)?).await?, cmd).await,
        Command::View(cmd) => view::run(&open(load_config(&cli)?).await?, cmd).await,
        Command::Webhook(webhook::WebhookCommand::Listen(args)) => {
            webhook_listen::listen(args.clone()).await
        }
        Command::Webhook(cmd) => webhook::run(&open(load_config(&cli)?).await?, cmd).await,
        Command::Link(cmd) => link::run(&open(load_config(&cli)?).await?, cmd).await,
        Command::Session(cmd) => session::run(&open(load_config(&cli)?).await?, cmd).await,
        Command::Secrets(cmd) => secrets::run(async || open(load_config(&cli)?).await, cmd).await,
        // Handled in `main`: they have exit statuses of their own.
        Command::Audit(_) | Command::Backup(_) | Command::Restore(_) | Command::Migrate(_) => {
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            let config = load_config(&cli)?;
            for notice in &config.notices {
                let kind = if notice.warn { "warning" } else { "note" };
                println!("{kind}: {}", notice.message);
            }
            println!(
                "OK: database {}, storage {}",
                config::redact_url(&config.database.url),
                config.storage.kind.as_str()
            );
            Ok(())
        }
        Command::Serve => {
            let config = load_config(&cli)?;
            let addr = format!("{}:{}", config.services.api.host, config.services.api.port);
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            idv_server::serve(listener, config, shutdown_signal())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        Command::User(cmd) => {
            let state = open(load_config(&cli)?).await?;
            match cmd {
                UserCommand::Create(u) => {
                    let input = ops::users::NewUser {
                        name: u.name.clone(),
                        password: u.password.clone(),
                        email: u.email.clone(),
                        roles: u
                            .roles
                            .iter()
                            .map(|r| r.trim().to_string())
                            .filter(|r| !r.is_empty())
                            .collect(),
                    };
                    let user = ops::users::create(&state, None, input)
                        .await
                        .map_err(api_err)?;
                    audit::record(
                        &state,
                        "user.created",
                        &user.id,
                        serde_json::json!({"name": user.name, "roles": user.roles}),
                    )
                    .await?;
                    println!("User: {}", user.name);
                    println!("        User ID: {}", user.id);
                    println!("        Email: {}", user.email.as_deref().unwrap_or("None"));
                    println!("        Roles: {}", python_list(&user.roles));
                    println!(
                        "        Active: {}",
                        if user.active { "True" } else { "False" }
                    );
                }
                UserCommand::Delete { name } => {
                    let user = ops::users::delete_by_name(&state, name)
                        .await
                        .map_err(api_err)?;
                    audit::record(
                        &state,
                        "user.deleted",
                        &user.id,
                        serde_json::json!({"name": user.name}),
                    )
                    .await?;
                    println!("User {} deleted (User ID: {})", user.name, user.id);
                }
                UserCommand::List => {
                    for u in state
                        .store
                        .user_list()
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                    {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            u.id,
                            u.name,
                            u.email.as_deref().unwrap_or("-"),
                            u.roles.join(","),
                            if u.active { "active" } else { "inactive" }
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Apikey(cmd) => {
            let state = open(load_config(&cli)?).await?;
            match cmd {
                ApikeyCommand::Create {
                    name,
                    permissions,
                    expires,
                } => {
                    let perms: Vec<String> = permissions
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect();
                    let (key, token) = ops::apikeys::create(&state, None, name, *expires, &perms)
                        .await
                        .map_err(api_err)?;
                    audit::record(
                        &state,
                        "apikey.created",
                        &key.id,
                        serde_json::json!({"name": key.name, "permissions": key.permissions}),
                    )
                    .await?;
                    println!("API key: {}", key.name);
                    println!("        ID: {}", key.id);
                    println!("        Permissions: {}", python_list(&key.permissions));
                    println!(
                        "        Expires: {}",
                        key.expires_at
                            .map(idv_core::time::iso)
                            .unwrap_or_else(|| "never".into())
                    );
                    println!("        Key: {token}");
                    eprintln!("Store the key now: it is not shown again.");
                }
                ApikeyCommand::List => {
                    for k in state
                        .store
                        .apikey_list(None)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                    {
                        let state_word = if k.revoked_at.is_some() {
                            "revoked".to_string()
                        } else if k.expires_at.is_some_and(|t| t <= state.clock.now_ms()) {
                            "expired".to_string()
                        } else {
                            "active".to_string()
                        };
                        println!(
                            "{}\t{}\t{}\t{}",
                            k.id,
                            k.name,
                            k.permissions.join(","),
                            state_word
                        );
                    }
                }
                ApikeyCommand::Revoke { id } => {
                    ops::apikeys::revoke(&state, id).await.map_err(api_err)?;
                    audit::record(&state, "apikey.revoked", id, serde_json::Value::Null).await?;
                    println!("API key {id} revoked");
                }
            }
            Ok(())
        }
        // Handled in `main`: it needs no runtime and has exit codes of its own.
        Command::Workflow(WorkflowCommand::Lint { .. }) => Ok(()),
        Command::Workflow(WorkflowCommand::Run(_)) => Ok(()),
        Command::Workflow(WorkflowCommand::Apply { files }) => {
            let state = open(load_config(&cli)?).await?;
            let mut failed = 0;
            for file in files {
                let text = match std::fs::read_to_string(file) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("{}: cannot read: {e}", file.display());
                        failed += 1;
                        continue;
                    }
                };
                match ops::workflows::apply(&state, &text, None, ops::workflows::Expect::Any).await
                {
                    Ok(ops::workflows::Applied::Workflow {
                        summary,
                        revision,
                        changed,
                    }) => println!(
                        "{}: workflow {} ({}) {} revision {revision}",
                        file.display(),
                        summary.id,
                        summary.name,
                        if changed { "stored as" } else { "unchanged at" }
                    ),
                    Ok(ops::workflows::Applied::Translations { entries, codes }) => {
                        println!(
                            "{}: {entries} translations for {}",
                            file.display(),
                            codes.join(", ")
                        )
                    }
                    Err(e) => {
                        eprintln!("{}: {}", file.display(), ops::workflows::describe(&e));
                        failed += 1;
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} file(s) were not loaded");
            }
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Workflow(WorkflowCommand::Lint {
        files,
        deny_warnings,
    }) = &cli.command
    {
        return lint::run(files, *deny_warnings);
    }
    if let Command::Workflow(WorkflowCommand::Run(args)) = &cli.command {
        return run::run(args);
    }
    let audit_command = matches!(cli.command, Command::Audit(_));
    // `idv serve` logs as its `logging` block says; the other commands warnings and errors.
    let logging = if matches!(cli.command, Command::Serve) {
        match load_config(&cli) {
            Ok(c) => Some(c.logging),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    if let Err(e) = logging::init(logging.as_ref()) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if audit_command {
        return runtime.block_on(audit::verify(&cli));
    }
    match &cli.command {
        Command::Backup(args) => return runtime.block_on(backup::run_backup(&cli, args)),
        Command::Restore(args) => return runtime.block_on(backup::run_restore(&cli, args)),
        Command::Migrate(args) => return runtime.block_on(migrate::run(&cli, args)),
        _ => {}
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
