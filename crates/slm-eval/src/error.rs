//! The one error type of this crate.

use std::path::PathBuf;

/// What can go wrong while preparing data, running an evaluation or comparing runs.
///
/// Every variant names the file (and line, where there is one) so a bad input is found at once.
///
/// ```
/// use slm_eval::EvalError;
/// let e = EvalError::Line { path: "data.jsonl".into(), line: 3, message: "missing field `prompt`".into() };
/// assert_eq!(e.to_string(), "data.jsonl:3: missing field `prompt`");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a JSONL file is malformed.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A whole JSON file (a report, an xLAM dump) is malformed.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A dataset has no cases.
    #[error("{0}: the dataset is empty")]
    EmptyDataset(PathBuf),
    /// Not enough usable rows to fill the requested splits.
    #[error("only {available} usable rows, but the splits need {needed}")]
    NotEnoughRows {
        /// Usable rows found.
        available: usize,
        /// Rows the splits need.
        needed: usize,
    },
    /// A results file does not belong to this dataset and model (resume refused).
    #[error("{path}: {message} (delete the file or pass another results path)")]
    ResultsMismatch {
        /// The results file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// Two reports cannot be compared.
    #[error("cannot compare: {0}")]
    Incomparable(String),
    /// A model spec or option is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The response cache cannot be opened, read or written (not an SQLite file, a full disk,
    /// another process holding the write lock for too long).
    #[error("response cache {path}: {message}")]
    Cache {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A report page or chart could not be rendered (a template or drawing error).
    #[error("cannot render the report: {0}")]
    Render(String),
}

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// An `InvalidRequest` with `e` as its source ([`slm_core::Error::downcast_ref`] gets it back).
impl From<EvalError> for slm_core::Error {
    fn from(e: EvalError) -> Self {
        slm_core::Error::InvalidRequest(e.to_string(), None).with_source(e)
    }
}

/// A `Result` whose error is [`EvalError`].
///
/// ```
/// fn parse(n: &str) -> slm_eval::Result<u32> {
///     n.parse().map_err(|_| slm_eval::EvalError::InvalidArgument(format!("not a number: {n}")))
/// }
/// assert!(parse("x").is_err());
/// ```
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
