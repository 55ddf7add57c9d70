//! The one error type of `slm-rag`.

use std::path::PathBuf;

/// What can go wrong while indexing, saving, loading or answering.
///
/// Every error names what was wrong; none carries document text beyond a short excerpt.
///
/// ```
/// use slm_rag::RagError;
/// let e = RagError::DuplicateId("doc-1".into());
/// assert_eq!(e.to_string(), "a document with id \"doc-1\" is already in the index");
/// let core: slm_core::Error = e.into();
/// assert!(matches!(core, slm_core::Error::InvalidRequest(..)));
/// assert!(matches!(core.downcast_ref(), Some(RagError::DuplicateId(id)) if id == "doc-1"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RagError {
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the index magic bytes: it is not an `slm-rag` index.
    #[error("{0} is not an slm-rag index file (bad magic bytes)")]
    NotAnIndex(PathBuf),
    /// The file was written by a format version this build cannot read.
    #[error("index format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build reads and writes.
        supported: u16,
    },
    /// The file is damaged: truncated, checksum mismatch, or inconsistent content.
    #[error("corrupt index file: {0}")]
    Corrupt(String),
    /// The index was saved with a custom analyzer; load it with
    /// [`crate::Index::load_with_analyzer`].
    #[error(
        "the index was built with a custom analyzer ({0}); pass it to Index::load_with_analyzer"
    )]
    CustomAnalyzer(String),
    /// A document with this id is already indexed.
    #[error("a document with id {0:?} is already in the index")]
    DuplicateId(String),
    /// A parameter is out of range (k1 < 0, chunk overlap >= size, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A dataset file (BEIR corpus, queries or qrels) is malformed.
    #[error("{path}:{line}: {message}")]
    Dataset {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The chat request cannot be answered with retrieval (e.g. it has no user message).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl RagError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RagError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The core error of the same kind, with `e` as its source
/// ([`slm_core::Error::downcast_ref`] gets it back).
impl From<RagError> for slm_core::Error {
    fn from(e: RagError) -> Self {
        use slm_core::Error as E;
        let core = match &e {
            RagError::InvalidRequest(m) => E::InvalidRequest(m.clone(), None),
            RagError::DuplicateId(_) => E::InvalidRequest(e.to_string(), None),
            RagError::InvalidConfig(_) | RagError::CustomAnalyzer(_) => {
                E::Config(e.to_string(), None)
            }
            other => E::Backend(format!("retrieval failed: {other}"), None),
        };
        core.with_source(e)
    }
}

/// A `Result` whose error is [`RagError`].
pub type Result<T, E = RagError> = std::result::Result<T, E>;
