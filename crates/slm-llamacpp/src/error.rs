//! The crate's one error type, and its conversion into `slm_core::Error`.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `slm-llamacpp`.
///
/// At the [`slm_core::ChatModel`] boundary it converts into [`slm_core::Error`]:
/// file problems become `ModelLoad`, bad requests `InvalidRequest`, and an over-long prompt
/// `ContextOverflow`.
///
/// ```
/// use slm_llamacpp::LlamaCppError;
/// let e = LlamaCppError::ContextOverflow { needed: 600, limit: 512 };
/// let core: slm_core::Error = e.into();
/// assert_eq!(core, slm_core::Error::ContextOverflow { needed: 600, limit: 512 });
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LlamaCppError {
    /// The file does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The path asked for.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The file is empty.
    #[error("{path}: the file is empty")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the GGUF magic.
    #[error("{path}: not a GGUF file (starts with {magic:02x?})")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// Its first four bytes.
        magic: [u8; 4],
    },
    /// The GGUF version is not one llama.cpp reads (2 or 3).
    #[error("{path}: unsupported GGUF version {version} (llama.cpp reads 2 and 3)")]
    UnsupportedGgufVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The GGUF structure is broken (truncated, absurd counts, bad types...).
    #[error("{path}: malformed GGUF at byte {offset}: {reason}")]
    MalformedGguf {
        /// The file.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The GGUF file is well-formed but not a model llama.cpp can load safely.
    #[error("{path}: unsupported model: {reason}")]
    UnsupportedModel {
        /// The file.
        path: PathBuf,
        /// What is missing or inconsistent.
        reason: String,
    },
    /// llama.cpp refused the model or could not create a context.
    #[error("llama.cpp could not load the model: {0}")]
    ModelLoad(String),
    /// A load option is invalid.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The prompt does not fit the context.
    #[error("prompt needs {needed} tokens but the context holds {limit}")]
    ContextOverflow {
        /// Tokens needed.
        needed: usize,
        /// The context length.
        limit: usize,
    },
    /// The chat template failed to parse or render.
    #[error("chat template: {0}")]
    Template(String),
    /// A grammar failed to parse.
    #[error("invalid grammar: {0}")]
    Grammar(String),
    /// A JSON schema could not be turned into a grammar.
    #[error("unsupported JSON schema: {0}")]
    Schema(String),
    /// The request is wrong (no messages, unknown tool...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// llama.cpp failed while decoding.
    #[error("decode failed: {0}")]
    Decode(String),
    /// Quantization failed.
    #[error("quantization failed: {0}")]
    Quantize(String),
    /// A LoRA adapter could not be loaded or applied.
    #[error("LoRA adapter: {0}")]
    Lora(String),
    /// The model's worker thread is gone (it panicked or the model was dropped).
    #[error("the model worker stopped")]
    WorkerStopped,
}

impl LlamaCppError {
    pub(crate) fn io(path: &Path, error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::NotFound {
            LlamaCppError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            LlamaCppError::Io {
                path: path.to_path_buf(),
                message: error.to_string(),
            }
        }
    }

    /// Whether the error is about the model file (missing, malformed, unsupported).
    ///
    /// ```
    /// use slm_llamacpp::LlamaCppError;
    /// assert!(LlamaCppError::EmptyFile { path: "m.gguf".into() }.is_file_error());
    /// assert!(!LlamaCppError::WorkerStopped.is_file_error());
    /// ```
    pub fn is_file_error(&self) -> bool {
        matches!(
            self,
            LlamaCppError::NotFound { .. }
                | LlamaCppError::Io { .. }
                | LlamaCppError::EmptyFile { .. }
                | LlamaCppError::NotGguf { .. }
                | LlamaCppError::UnsupportedGgufVersion { .. }
                | LlamaCppError::MalformedGguf { .. }
                | LlamaCppError::UnsupportedModel { .. }
        )
    }
}

impl From<LlamaCppError> for slm_core::Error {
    fn from(e: LlamaCppError) -> Self {
        match e {
            LlamaCppError::ContextOverflow { needed, limit } => {
                slm_core::Error::ContextOverflow { needed, limit }
            }
            // slm-core's messages name the kind already: pass the detail, not our prefix.
            LlamaCppError::InvalidRequest(m) => slm_core::Error::InvalidRequest(m),
            LlamaCppError::InvalidOption(m) => slm_core::Error::Config(m),
            LlamaCppError::ModelLoad(m) => slm_core::Error::ModelLoad(format!("llama.cpp: {m}")),
            LlamaCppError::Template(_) | LlamaCppError::Grammar(_) | LlamaCppError::Schema(_) => {
                slm_core::Error::InvalidRequest(e.to_string())
            }
            e if e.is_file_error() => slm_core::Error::ModelLoad(e.to_string()),
            LlamaCppError::Lora(_) => slm_core::Error::ModelLoad(e.to_string()),
            other => slm_core::Error::Backend(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_do_not_repeat_their_kind() {
        let cases = [
            LlamaCppError::InvalidRequest("no messages".into()),
            LlamaCppError::InvalidOption("temperature -1".into()),
            LlamaCppError::ModelLoad("bad tensor".into()),
            LlamaCppError::Schema("`minProperties`".into()),
        ];
        let texts: Vec<String> = cases
            .into_iter()
            .map(|e| slm_core::Error::from(e).to_string())
            .collect();
        assert_eq!(
            texts,
            [
                "invalid request: no messages",
                "configuration error: temperature -1",
                "model load failed: llama.cpp: bad tensor",
                "invalid request: unsupported JSON schema: `minProperties`",
            ]
        );
    }
}
