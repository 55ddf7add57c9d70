//! The errors of this crate.

use std::path::PathBuf;

/// What can go wrong when loading or running an ONNX model.
///
/// Every variant converts into [`slm_core::Error`] (the error every `ChatModel` returns); the
/// original stays reachable through [`slm_core::Error::downcast_ref`].
///
/// ```
/// use slm_onnx::OnnxError;
/// let e = OnnxError::MissingConfig { dir: "/models/x".into() };
/// assert!(e.to_string().contains("genai_config.json"));
/// let core: slm_core::Error = e.into();
/// assert!(matches!(core, slm_core::Error::ModelLoad(..)));
/// assert!(core.downcast_ref::<OnnxError>().is_some());
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// No ONNX Runtime library where it was looked for.
    #[error(
        "no ONNX Runtime library at {}: run scripts/setup.sh (it installs onnxruntime {wanted} into ~/.cache/slm/onnxruntime/), or point $SLM_ONNXRUNTIME (or $ORT_DYLIB_PATH, or LoadOptions::runtime) at a libonnxruntime.so of version {wanted} or later",
        path.display()
    )]
    RuntimeMissing {
        /// Where it was looked for.
        path: PathBuf,
        /// The version this crate needs (`1.31` or later).
        wanted: String,
    },
    /// The file exists but is not a loadable ONNX Runtime library, or its version is too old.
    #[error(
        "the ONNX Runtime library at {} is unusable: {reason} (found version {found}, wanted {wanted} or later); point $SLM_ONNXRUNTIME (or LoadOptions::runtime) at another libonnxruntime.so",
        path.display()
    )]
    RuntimeIncompatible {
        /// The library's path.
        path: PathBuf,
        /// The version it reports (`unknown` when it could not say).
        found: String,
        /// The version this crate needs.
        wanted: String,
        /// What is wrong.
        reason: String,
    },
    /// The model folder does not exist or holds no `genai_config.json`.
    #[error("{} is not an ONNX model folder: it has no genai_config.json", dir.display())]
    MissingConfig {
        /// The folder.
        dir: PathBuf,
    },
    /// `genai_config.json`, `tokenizer.json` or `tokenizer_config.json` is missing or invalid.
    #[error("invalid model folder {}: {reason}", dir.display())]
    InvalidFolder {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The graph's inputs or outputs do not match the configuration.
    #[error("the graph {} does not match genai_config.json: {reason}", path.display())]
    GraphMismatch {
        /// The `.onnx` file.
        path: PathBuf,
        /// What is missing or of the wrong type.
        reason: String,
    },
    /// The prompt does not fit the context window.
    #[error("the prompt needs {needed} tokens but the context holds {limit}")]
    PromptTooLong {
        /// Tokens of the prompt (plus one to generate).
        needed: usize,
        /// The model's context length.
        limit: usize,
    },
    /// ONNX Runtime failed (session creation or a run).
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// Tokenizing or detokenizing failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to render.
    #[error(transparent)]
    Template(#[from] slm_chat::ChatError),
    /// A response format's constraint could not be built or followed.
    #[error(transparent)]
    Constraint(#[from] slm_chat::constraint::ConstraintError),
    /// The request asks for something this backend does not do.
    #[error("unsupported request: {0}")]
    Unsupported(String),
    /// The caller went away (a dropped stream or future): generation stopped.
    #[error("cancelled")]
    Cancelled,
    /// The worker thread stopped (it panicked or the model was dropped).
    #[error("the model's worker thread stopped")]
    WorkerStopped,
}

impl From<ort::Error> for OnnxError {
    fn from(e: ort::Error) -> Self {
        OnnxError::Runtime(e.to_string())
    }
}

impl From<OnnxError> for slm_core::Error {
    fn from(e: OnnxError) -> Self {
        let message = e.to_string();
        let error = match &e {
            OnnxError::RuntimeMissing { .. }
            | OnnxError::RuntimeIncompatible { .. }
            | OnnxError::MissingConfig { .. }
            | OnnxError::InvalidFolder { .. }
            | OnnxError::GraphMismatch { .. } => slm_core::Error::ModelLoad(message, None),
            OnnxError::PromptTooLong { needed, limit } => slm_core::Error::ContextOverflow {
                needed: *needed,
                limit: *limit,
                source: None,
            },
            OnnxError::Template(_)
            | OnnxError::Unsupported(_)
            | OnnxError::Constraint(slm_chat::constraint::ConstraintError::Schema(_))
            | OnnxError::Constraint(slm_chat::constraint::ConstraintError::Grammar(_)) => {
                slm_core::Error::InvalidRequest(message, None)
            }
            OnnxError::Cancelled => return slm_core::Error::Cancelled,
            _ => slm_core::Error::Backend(message, None),
        };
        error.with_source(e)
    }
}
