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
    /// Writes synthetic documents with a known MRZ (JPEG) and `expected.json` listing them.
    Synth {
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// How many documents.
        #[arg(long, default_value_t = 40)]
        count: usize,
        /// Writes PNG (lossless) instead of JPEG.
        #[arg(long)]
        png: bool,
        /// The portrait to print on them (default: faces/obama.jpg in the models folder).
        #[arg(long)]
        portrait: Option<PathBuf>,
        /// The models folder.
        #[arg(long, env = "IDV_CHECKS_MODELS")]
        models: Option<PathBuf>,
    },
    /// Reads the MRZ of image files and prints what was read, one JSON line per file.
    Read {
        /// JPEG or PNG files.
        files: Vec<PathBuf>,
        /// The models folder.
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
        Command::Synth {
            out,
            count,
            png,
            portrait,
            models,
        } => {
            let models = models.unwrap_or_else(idv_checks::default_models_dir);
            let portrait = portrait.unwrap_or_else(|| models.join("faces").join("obama.jpg"));
            let portrait = image::open(&portrait)
                .map_err(|e| anyhow::anyhow!("{}: {e}", portrait.display()))?
                .into_rgb8();
            let samples = idv_checks::synth::write_set(&out, count, &portrait, png)?;
            println!(
                "wrote {} documents and expected.json to {}",
                samples.len(),
                out.display()
            );
            Ok(())
        }
        Command::Read { files, models } => {
            let settings =
                idv_checks::Settings::new(models.unwrap_or_else(idv_checks::default_models_dir));
            let ocr = idv_checks::ocr::Ocr::load(&settings)?;
            let today = idv_checks::docreader::now().date_naive();
            for file in files {
                let bytes = std::fs::read(&file)?;
                let started = std::time::Instant::now();
                let result = idv_checks::picture::decode(&bytes, settings.max_pixels)
                    .map_err(anyhow::Error::from)
                    .and_then(|img| ocr.read(&img, today).map_err(anyhow::Error::from));
                let ms = started.elapsed().as_millis();
                let line = match result {
                    Ok(r) => serde_json::json!({
                        "file": file, "ms": ms, "lines": r.mrz.lines, "raw": r.raw_lines,
                        "checksValid": r.mrz.checks_valid(), "verified": r.verified(), "pass": r.pass, "template": r.template_lines, "angle": r.position.angle,
                    }),
                    Err(e) => serde_json::json!({"file": file, "ms": ms, "error": e.to_string()}),
                };
                println!("{line}");
            }
            Ok(())
        }
    }
}
