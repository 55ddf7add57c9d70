//! # slm-llamacpp
//!
//! Local GGUF chat through llama.cpp, as a [`slm_core::ChatModel`].
//!
//! ```
//! use slm_core::{ChatModel, ChatRequest, GenerationOptions};
//! use slm_llamacpp::{LlamaCppModel, LoadOptions};
//! use slm_llamacpp::testing::{TestModelSpec, write_test_model};
//!
//! // A tiny random-weight model the crate writes itself (use a real GGUF file in practice).
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.gguf");
//! write_test_model(&path, &TestModelSpec::tiny()).unwrap();
//!
//! // Inspect it without loading it.
//! let info = slm_llamacpp::gguf::inspect(&path).unwrap();
//! assert_eq!(info.architecture, "llama");
//!
//! // Load it and chat; the handle is Send + Sync + Clone.
//! let model = LlamaCppModel::load(&path, LoadOptions::default().with_context_length(512)).unwrap();
//! let request = ChatRequest::builder()
//!     .system("You are terse.")
//!     .user("Say something.")
//!     .options(GenerationOptions::deterministic().with_max_tokens(16))
//!     .build();
//! let rt = tokio::runtime::Runtime::new().unwrap();
//! let answer = rt.block_on(model.chat(request.clone())).unwrap();
//! assert_eq!(answer.usage.completion_tokens, 16);
//!
//! // Streaming gives the same text, delta by delta.
//! let stream = model.chat_stream(request);
//! let (streamed, _) = rt.block_on(slm_core::collect_stream(stream)).unwrap();
//! assert_eq!(streamed, answer.text());
//! ```
//!
//! Design decisions:
//! - **One worker thread per model.** llama.cpp's model and context are not `Send`; a thread
//!   owns them and callers talk to it over channels. Its loop is a continuous-batching
//!   scheduler (one `llama_decode` over all active sequences, a sampler per request).
//! - **Nothing can abort the process.** GGUF headers are validated in pure Rust
//!   ([`gguf::GgufHeader::read`]) before llama.cpp opens a file; prompts are checked against the
//!   context before decoding ([`LlamaCppError::ContextOverflow`]); sampling options are
//!   range-checked; llama-cpp-2 is built with `common`, which turns grammar failures into errors.
//! - **Templates are Jinja, rendered by minijinja** the way transformers renders them
//!   ([`ChatTemplate`]), instead of llama.cpp's pattern-matching `llama_chat_apply_template`.
//! - **Measured, not estimated:** usage counts real tokens; timings come from clocks around the
//!   decode calls.
//! - **llama.cpp's logs go to `tracing`** (target `llama-cpp-2`), never to stdout.
//! - **Test models are generated** ([`testing`]): no download, reproducible from a seed.
#![deny(missing_docs)]

mod backend;
mod constrain;
mod error;
pub mod gguf;
mod model;
mod options;
mod quantize;
mod sampling;
mod template;
pub mod testing;
mod text;
mod tools;
mod worker;

pub use backend::backend;
pub use constrain::SchemaBackend;
pub use error::LlamaCppError;
pub use model::{LlamaCppModel, ModelInfo};
pub use options::LoadOptions;
pub use quantize::{QuantizeOptions, QuantizeReport, QuantizeType, TensorFallback, quantize};
pub use template::ChatTemplate;
pub use worker::WorkerStats;
