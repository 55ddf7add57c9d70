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
/// assert_eq!(core, slm_core::Error::ContextOverflow { needed: 600, limit: 512, source: None });
/// // The typed error stays reachable.
/// assert!(core.downcast_ref::<LlamaCppError>().is_some());
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
    /// The model's worker thread is gone (the model was dropped).
    #[error("the model worker stopped")]
    WorkerStopped,
    /// A bug (a panic) in slm-llamacpp or a library it runs (minijinja, llguidance,
    /// llama-cpp-2...) while handling this request. Only this request failed: its sequence's
    /// KV cache was cleared and the model keeps serving.
    #[error("internal error while answering this request (the model keeps serving): {message}")]
    WorkerPanicked {
        /// The panic's message.
        message: String,
    },
    /// An operation on the KV cache failed (a partial removal or a copy llama.cpp refused);
    /// the sequences concerned were cleared and their slots are not reused while dirty.
    #[error("KV cache: {0}")]
    KvCache(String),
    /// The draft model cannot draft for this model (another vocabulary, or it failed to load).
    #[error("{path}: draft model: {reason}")]
    DraftModel {
        /// The draft model's file.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// A saved session that cannot be restored: not a session file, truncated, for another
    /// model or written by another llama.cpp build (checked before llama.cpp reads it).
    #[error("{path}: session: {reason}")]
    Session {
        /// The session file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The input of [`crate::quantize`] is already quantized and
    /// [`crate::QuantizeOptions::allow_requantize`] is off.
    #[error(
        "{path} is already quantized ({input_type}); quantizing it again to {target} loses more quality than quantizing from the F16/F32 original: use that, or set QuantizeOptions::allow_requantize = true to requantize anyway"
    )]
    AlreadyQuantized {
        /// The input file.
        path: PathBuf,
        /// The type of most of its weights.
        input_type: crate::gguf::GgmlType,
        /// The requested target.
        target: crate::QuantizeType,
    },
    /// The output of [`crate::quantize`] is the input file itself (the same path, or a link to
    /// it): llama.cpp would truncate the model it is reading. Nothing was written.
    #[error(
        "the output {output} is the input file {input} itself (same path or a link to it); quantizing in place would destroy the model: choose another output path"
    )]
    QuantizeInPlace {
        /// The input file.
        input: PathBuf,
        /// The output path asked for.
        output: PathBuf,
    },
    /// The text given to [`crate::perplexity()`] has fewer than two chunks of tokens.
    #[error(
        "perplexity needs at least {needed} tokens (two chunks of {n_ctx}) but the text has {tokens}; give a longer text or a smaller n_ctx"
    )]
    TextTooShort {
        /// Tokens in the text (with BOS).
        tokens: usize,
        /// Tokens needed.
        needed: usize,
        /// The chunk size.
        n_ctx: u32,
    },
    /// A model known by name is not in the model cache (or is incomplete there).
    #[error(
        "model `{name}` is not in the model cache ({path}): {reason}; run `bash scripts/setup.sh` to download it, or set SLM_MODEL_PATH to a GGUF file"
    )]
    ModelNotCached {
        /// The model's short name.
        name: String,
        /// Where it was looked for.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A file's sha256 is not the one expected (a corrupt or substituted download).
    #[error("{path}: sha256 {actual} does not match the expected {expected}")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The sha256 it should have.
        expected: String,
        /// The sha256 it has.
        actual: String,
    },
    /// A model source string is malformed (`hf:owner/repo` without a file, a bad sha256...).
    #[error("invalid model source {source_text:?}: {reason}")]
    InvalidSource {
        /// The text given.
        source_text: String,
        /// What is wrong, and the accepted forms.
        reason: String,
    },
    /// The Hub has no such repository, revision or file, or refuses access to it.
    #[error(
        "{url}: HTTP {status} from the Hub: no such repository, revision or file (or a private or gated one: set HF_TOKEN)"
    )]
    HubNotFound {
        /// The URL asked for (never holds the token).
        url: String,
        /// The HTTP status (404, or 401/403 for private, gated or missing repositories).
        status: u16,
    },
    /// A download from the Hub failed (network, server error, unexpected response).
    #[error("{url}: download failed: {reason}")]
    Download {
        /// The URL asked for (never holds the token).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server closed the connection before the whole file came. Nothing is left in the cache.
    #[error("{url}: download truncated at {received} of {expected} bytes")]
    TruncatedDownload {
        /// The URL asked for.
        url: String,
        /// The file's size, as the server announced it.
        expected: u64,
        /// The bytes received.
        received: u64,
    },
    /// No GGUF file of a Hub repository matches the quantization asked for.
    #[error("{repo}: no .gguf file matches {quant:?}; the repository has: {available:?}")]
    NoMatchingFile {
        /// The repository.
        repo: String,
        /// The quantization asked for (empty: any GGUF file).
        quant: String,
        /// The repository's GGUF files.
        available: Vec<String>,
    },
    /// Several GGUF files of a Hub repository match the quantization asked for.
    #[error(
        "{repo}: several .gguf files match {quant:?}: {candidates:?}; name one: hf:{repo}/FILE"
    )]
    AmbiguousFile {
        /// The repository.
        repo: String,
        /// The quantization asked for (empty: any GGUF file).
        quant: String,
        /// The files that match.
        candidates: Vec<String>,
    },
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
                | LlamaCppError::ModelNotCached { .. }
                | LlamaCppError::ChecksumMismatch { .. }
                | LlamaCppError::HubNotFound { .. }
                | LlamaCppError::Download { .. }
                | LlamaCppError::TruncatedDownload { .. }
                | LlamaCppError::NoMatchingFile { .. }
                | LlamaCppError::AmbiguousFile { .. }
        )
    }
}

/// The core error of the same kind, with `e` as its source
/// ([`slm_core::Error::downcast_ref`] gets it back).
impl From<slm_chat::ChatError> for LlamaCppError {
    /// A template failure keeps its message under this crate's own variant.
    ///
    /// ```
    /// let err = slm_llamacpp::ChatTemplate::new("{% if %}", "", "").unwrap_err();
    /// let err = slm_llamacpp::LlamaCppError::from(err);
    /// assert!(matches!(err, slm_llamacpp::LlamaCppError::Template(_)));
    /// ```
    fn from(e: slm_chat::ChatError) -> Self {
        match e {
            slm_chat::ChatError::Template(message) => LlamaCppError::Template(message),
        }
    }
}

impl From<LlamaCppError> for slm_core::Error {
    fn from(e: LlamaCppError) -> Self {
        use slm_core::Error as E;
        let core = match &e {
            LlamaCppError::ContextOverflow { needed, limit } => E::ContextOverflow {
                needed: *needed,
                limit: *limit,
                source: None,
            },
            // slm-core's messages name the kind already: pass the detail, not our prefix.
            LlamaCppError::InvalidRequest(m) => E::InvalidRequest(m.clone(), None),
            LlamaCppError::InvalidOption(m) => E::Config(m.clone(), None),
            LlamaCppError::InvalidSource { .. } => E::Config(e.to_string(), None),
            LlamaCppError::ModelLoad(m) => E::ModelLoad(format!("llama.cpp: {m}"), None),
            LlamaCppError::Template(_) | LlamaCppError::Grammar(_) | LlamaCppError::Schema(_) => {
                E::InvalidRequest(e.to_string(), None)
            }
            e if e.is_file_error() => E::ModelLoad(e.to_string(), None),
            LlamaCppError::Lora(_) | LlamaCppError::DraftModel { .. } => {
                E::ModelLoad(e.to_string(), None)
            }
            other => E::Backend(other.to_string(), None),
        };
        core.with_source(e)
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
        // The typed error stays behind the core one.
        let core = slm_core::Error::from(LlamaCppError::WorkerStopped);
        assert_eq!(
            core.downcast_ref::<LlamaCppError>(),
            Some(&LlamaCppError::WorkerStopped)
        );
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
