//! `idv-checks`: the native checks engine. `idv-checks serve --port N` answers the Document
//! Reader (`POST /api/process` …) and Face API (`POST /api/match`, `POST /api/detect`) calls
//! that workflows make; see `docs/checks.md`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "idv-checks",
    version,
    about = "Native document and face checks for idv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the Document Reader and Face API calls over HTTP.
    Serve {
        /// The port to listen on.
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// The address to listen on.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        host: IpAddr,
        /// The folder `scripts/install_checks.sh` filled with the model files.
        #[arg(long, env = "IDV_CHECKS_MODELS")]
        models: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IDV_CHECKS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Serve { port, host, models } => {
            let settings =
                idv_checks::Settings::new(models.unwrap_or_else(idv_checks::default_models_dir));
            let engine = idv_checks::Engine::load(settings)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await?;
                tracing::info!(addr = %listener.local_addr()?, "idv-checks listening");
                idv_checks::serve(listener, engine, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
            })
        }
    }
}
