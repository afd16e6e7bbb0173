//! The native checks engine: reads and verifies a document's MRZ, crops its portrait and
//! matches faces, behind the HTTP contracts of Regula's Document Reader and Face API, so that a
//! workflow written for those services runs against it with only `services.docreader.url` and
//! `services.faceapi.url` changed.
//!
//! - [`docreader`]: `POST /api/process` and the transaction routes (Document Reader shapes);
//! - [`faceapi`]: `POST /api/match`, `POST /api/detect` (Face API shapes);
//! - [`ocr`]: finding and reading the MRZ with Tesseract;
//! - [`face`]: face detection and embeddings with dlib;
//! - [`picture`]: decoding uploaded images within size limits;
//! - [`synth`]: synthetic documents with a known MRZ, for the tests and benchmarks.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;

pub mod docreader;
pub mod face;
pub mod faceapi;
pub mod ocr;
pub mod picture;
pub mod synth;

/// Where the engine finds its model files, and its per-request limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The folder `scripts/install_checks.sh` filled.
    pub models: PathBuf,
    /// Largest request body accepted, in bytes (base64 images inside JSON).
    pub max_body: usize,
    /// Largest image accepted, in pixels (width × height), before it is decoded.
    pub max_pixels: u64,
    /// Requests processed at once; the others wait their turn (memory stays bounded).
    pub workers: usize,
}

impl Settings {
    pub fn new(models: PathBuf) -> Self {
        Settings {
            models,
            max_body: 40 * 1024 * 1024,
            max_pixels: 40_000_000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// A file in the models folder.
    pub fn model(&self, name: &str) -> PathBuf {
        self.models.join(name)
    }
}

/// The models folder when none is named: `$XDG_DATA_HOME/idv-checks/models`, else
/// `~/.local/share/idv-checks/models` (where `scripts/install_checks.sh` puts them).
pub fn default_models_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("idv-checks").join("models")
}

/// The loaded engine: models in memory, shared by every request.
pub struct Engine {
    pub settings: Settings,
    pub ocr: ocr::Ocr,
    pub faces: face::Faces,
    pub docreader: docreader::State,
    /// One permit per request being processed ([`Settings::workers`]).
    pub jobs: tokio::sync::Semaphore,
}

impl Engine {
    /// Loads every model; a missing file is an error naming it and the install script.
    pub fn load(settings: Settings) -> anyhow::Result<Arc<Engine>> {
        let ocr = ocr::Ocr::load(&settings)?;
        let faces = face::Faces::load(&settings)?;
        let docreader = docreader::State::new(&settings);
        let jobs = tokio::sync::Semaphore::new(settings.workers.max(1));
        Ok(Arc::new(Engine {
            settings,
            ocr,
            faces,
            docreader,
            jobs,
        }))
    }
}

/// Every route of the engine.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .merge(docreader::routes())
        .merge(faceapi::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            engine.settings.max_body,
        ))
        .with_state(engine)
}

/// Serves [`router`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
