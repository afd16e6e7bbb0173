//! `logging`: Regula's block (`level`, `formatter`, `console`, `file`, `path`, `maxFileSize`,
//! `filesCount`), read by the binary when it sets up its log.
//!
//! - `level`: Regula's Python level names (`DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`;
//!   also `TRACE`, `WARN`, `OFF`), case-insensitive. `IDV_LOG` (a filter such as
//!   `debug,hyper=info`) wins over it when set.
//! - `formatter`: Regula's value is a Python format string, which is accepted and means the
//!   plain text lines; the value `json` gives one JSON object per line.
//! - `console`: lines go to standard error; `file`: lines go to `path/idv.log`, which is
//!   rotated at `maxFileSize` bytes keeping `filesCount` old files (`idv.log.1` newest), as
//!   Python's `RotatingFileHandler` does.

use serde::{Deserialize, Serialize};

/// The `logging` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Logging {
    /// The least severe level logged (Regula's names: DEBUG, INFO, WARNING, ERROR, CRITICAL).
    pub level: String,
    /// `json`: one JSON object per line; any other text (Regula's Python format string
    /// included): plain text lines.
    pub formatter: String,
    /// Lines go to standard error.
    pub console: bool,
    /// Lines go to `path/idv.log` too.
    pub file: bool,
    /// The folder of the log file.
    pub path: String,
    /// Bytes after which the log file is rotated (0: never).
    pub max_file_size: u64,
    /// Rotated files kept (`idv.log.1` … `idv.log.N`).
    pub files_count: u32,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "INFO".into(),
            formatter: "text".into(),
            console: true,
            file: false,
            path: "logs".into(),
            max_file_size: 10_485_760,
            files_count: 10,
        }
    }
}

/// A level as `tracing` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// The filter directive (`info`, `warn` …).
    pub fn directive(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

impl Logging {
    /// `level` as a tracing level: Python's names map to their nearest (`WARNING` → warn,
    /// `CRITICAL` and `FATAL` → error, `NOTSET` → trace).
    pub fn level(&self) -> Option<Level> {
        Some(match self.level.trim().to_ascii_uppercase().as_str() {
            "OFF" => Level::Off,
            "CRITICAL" | "FATAL" | "ERROR" => Level::Error,
            "WARNING" | "WARN" => Level::Warn,
            "INFO" => Level::Info,
            "DEBUG" => Level::Debug,
            "TRACE" | "NOTSET" => Level::Trace,
            _ => return None,
        })
    }

    /// One JSON object per line.
    pub fn json(&self) -> bool {
        self.formatter.trim().eq_ignore_ascii_case("json")
    }

    /// The checks: a known level, a folder when writing a file, at least one destination.
    pub fn validate(&self) -> Result<(), String> {
        if self.level().is_none() {
            return Err(format!(
                "bad value for `logging.level`: `{}`; give DEBUG, INFO, WARNING, ERROR or CRITICAL",
                self.level
            ));
        }
        if self.file && self.path.trim().is_empty() {
            return Err(
                "bad value for `logging.path`: empty while `logging.file` is true; give the log folder"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regula_levels_map() {
        let at = |l: &str| {
            Logging {
                level: l.into(),
                ..Default::default()
            }
            .level()
        };
        assert_eq!(at("INFO"), Some(Level::Info));
        assert_eq!(at("DEBUG"), Some(Level::Debug));
        assert_eq!(at("WARNING"), Some(Level::Warn));
        assert_eq!(at("ERROR"), Some(Level::Error));
        assert_eq!(at("CRITICAL"), Some(Level::Error));
        assert_eq!(at("warning"), Some(Level::Warn));
        assert_eq!(at("LOUD"), None);
        let e = Logging {
            level: "LOUD".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.contains("logging.level") && e.contains("LOUD"), "{e}");
    }

    #[test]
    fn formatter_json_or_anything_else() {
        let f = |s: &str| {
            Logging {
                formatter: s.into(),
                ..Default::default()
            }
            .json()
        };
        assert!(f("json") && f("JSON"));
        assert!(!f(
            "%(asctime)s.%(msecs)03d - %(name)s - %(levelname)s - %(message)s"
        ));
        assert!(!f("text"));
    }
}
