//! The llama.cpp backend: initialised once per process, with its logs sent to `tracing`.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

use crate::LlamaCppError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The process-wide llama.cpp backend. The first call initialises it and routes llama.cpp's
/// and ggml's logs to `tracing` (target `llama-cpp-2`), so nothing is printed to stdout.
///
/// ```
/// let a = slm_llamacpp::backend().unwrap() as *const _;
/// let b = slm_llamacpp::backend().unwrap() as *const _;
/// assert_eq!(a, b);
/// ```
pub fn backend() -> Result<&'static LlamaBackend, LlamaCppError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlamaCppError::ModelLoad(format!("llama.cpp backend: {e}")))
}
