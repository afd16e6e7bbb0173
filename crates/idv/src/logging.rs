//! The process's log, from the `logging` block ([`idv_server::config::logging`]): the level
//! (`IDV_LOG` wins when set), plain text or one JSON object per line, on standard error
//! (`console`) and/or in `path/idv.log` (`file`), rotated by size as Python's
//! `RotatingFileHandler` does (`maxFileSize`, `filesCount`).
//!
//! Every line logged while a request is served carries its `request_id` (the request span,
//! `idv_server`'s `request_log`): in text as `request{request_id=…}:`, in JSON under `span`.

use idv_server::config::logging::Logging;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

type Boxed = Box<
    dyn Layer<
            tracing_subscriber::layer::Layered<
                tracing_subscriber::EnvFilter,
                tracing_subscriber::Registry,
            >,
        > + Send
        + Sync,
>;

/// Sets up the log. `config` is the `logging` block for `idv serve`; other commands (`None`)
/// log warnings and errors as plain text on standard error. An error names what to fix.
pub fn init(config: Option<&Logging>) -> Result<(), String> {
    let default = match config {
        Some(c) => c
            .level()
            .map(|l| l.directive())
            .ok_or_else(|| format!("bad value for `logging.level`: `{}`", c.level))?,
        None => "warn",
    };
    // An empty IDV_LOG counts as unset.
    let filter = match std::env::var("IDV_LOG") {
        Ok(v) if !v.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&v)
            .map_err(|e| format!("bad IDV_LOG `{v}`: {e}"))?,
        _ => tracing_subscriber::EnvFilter::new(default),
    };
    let json = config.is_some_and(Logging::json);
    let mut layers: Vec<Boxed> = Vec::new();
    if config.is_none_or(|c| c.console) {
        // Colours only on a terminal: a log file or a collector gets plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        layers.push(layer(json, ansi, std::io::stderr));
    }
    if let Some(c) = config.filter(|c| c.file) {
        let file = Rotating::open(Path::new(&c.path), c.max_file_size, c.files_count)?;
        layers.push(layer(json, false, Mutex::new(file)));
    }
    // One filter for every destination, as a global layer: as a per-layer filter over the
    // list of destinations it let some events through and not others of the same level and
    // target (seen: `idv ready` and the scheduler's lines missing on PostgreSQL).
    tracing_subscriber::registry()
        .with(filter)
        .with(layers)
        .try_init()
        .map_err(|e| format!("cannot set up the log: {e}"))
}

/// A formatting layer writing to `writer`, as text or JSON lines.
fn layer<W>(json: bool, ansi: bool, writer: W) -> Boxed
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        fmt.with_ansi(ansi).boxed()
    }
}

/// `idv.log` in a folder, rotated when a line would take it past `max` bytes: `idv.log.1` …
/// `idv.log.<keep>` hold the older lines, `.1` the newest (0 kept: the file starts over).
pub struct Rotating {
    dir: PathBuf,
    max: u64,
    keep: u32,
    file: File,
    size: u64,
}

/// The log file's name in its folder.
pub const FILE_NAME: &str = "idv.log";

impl Rotating {
    /// Opens (creating the folder and the file) `dir/idv.log` for appending.
    pub fn open(dir: &Path, max: u64, keep: u32) -> Result<Rotating, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the log folder {} (logging.path): {e}",
                dir.display()
            )
        })?;
        let path = dir.join(FILE_NAME);
        let file = append(&path).map_err(|e| {
            format!(
                "cannot open the log file {} (logging.path): {e}",
                path.display()
            )
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Rotating {
            dir: dir.to_path_buf(),
            max,
            keep,
            file,
            size,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |i: u32| self.dir.join(format!("{FILE_NAME}.{i}"));
        let current = self.dir.join(FILE_NAME);
        if self.keep == 0 {
            self.file = File::create(&current)?;
        } else {
            let _ = std::fs::remove_file(name(self.keep));
            for i in (1..self.keep).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
            std::fs::rename(&current, name(1))?;
            self.file = append(&current)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for Rotating {
    /// One call per log line (the formatter writes each line whole).
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.max > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max {
            // A failed rotation keeps writing to the current file rather than losing lines.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeping_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Rotating::open(dir.path(), 25, 2).unwrap();
        for i in 0..7 {
            log.write_all(format!("line {i} of the log\n").as_bytes())
                .unwrap();
        }
        let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
        // 18 bytes a line, 25 at most a file: one line each; two old files kept.
        assert_eq!(read("idv.log"), "line 6 of the log\n");
        assert_eq!(read("idv.log.1"), "line 5 of the log\n");
        assert_eq!(read("idv.log.2"), "line 4 of the log\n");
        assert!(!dir.path().join("idv.log.3").exists());
        // Reopened, it appends and counts what is there.
        drop(log);
        let mut log = Rotating::open(dir.path(), 40, 2).unwrap();
        log.write_all(b"line 7 of the log\n").unwrap();
        assert_eq!(read("idv.log"), "line 6 of the log\nline 7 of the log\n");
        log.write_all(b"line 8 of the log\n").unwrap();
        assert_eq!(read("idv.log"), "line 8 of the log\n");
        assert_eq!(read("idv.log.1"), "line 6 of the log\nline 7 of the log\n");
    }
}
