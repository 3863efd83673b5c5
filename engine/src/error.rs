//! The engine's error type: one enum, each variant carrying enough context (file, column, row,
//! config path) for a user to fix the problem without reading the code.

use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Every failure the engine reports.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The experiment config is invalid; every problem is listed with its path.
    #[error("invalid experiment config:\n{}", .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<crate::config::ConfigIssue>),
    /// A problem in the input data, located as precisely as possible.
    #[error("{file}{}{}: {message}", .column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default(), .row.map(|r| format!(", row {r}")).unwrap_or_default())]
    Data {
        /// The data file.
        file: PathBuf,
        /// The column, when the problem is in one.
        column: Option<String>,
        /// The 1-based data row (header excluded), when the problem is in one.
        row: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// Cross-validation cannot be set up (e.g. too few timestamps for the folds).
    #[error("cross-validation: {0}")]
    Cv(String),
    /// The worker threads could not be started.
    #[error("cannot start {threads} worker thread(s): {message}")]
    Threads {
        /// Threads asked for (0 = one per core).
        threads: usize,
        /// Why the pool could not be built.
        message: String,
    },
    /// The leakage policy is `strict` and leaks were found.
    #[error("leakage policy is strict and {} leak(s) were found: {}", .0.len(), .0.join(", "))]
    Leakage(Vec<String>),
    /// A saved model cannot be read or does not match its metadata.
    #[error("model: {0}")]
    Model(String),
    /// An I/O error with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl EngineError {
    /// Shorthand for a data error.
    pub fn data(
        file: impl Into<PathBuf>,
        column: Option<&str>,
        row: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self::Data {
            file: file.into(),
            column: column.map(str::to_owned),
            row,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_error_names_file_column_and_row() {
        let e = EngineError::data("p.csv", Some("ret_1"), Some(7), "cannot parse `x`");
        assert_eq!(
            e.to_string(),
            "p.csv, column `ret_1`, row 7: cannot parse `x`"
        );
    }
}
