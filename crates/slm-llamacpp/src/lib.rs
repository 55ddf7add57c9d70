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
//! Structured output, tool calls, batching and LoRA use the same handle:
//!
//! ```
//! use slm_core::{ChatModel, ChatRequest, GenerationOptions, ResponseFormat, ToolChoice, ToolSpec};
//! use slm_llamacpp::{LlamaCppModel, LoadOptions};
//! use slm_llamacpp::testing::{TestModelSpec, write_test_lora, write_test_model};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("tiny.gguf");
//! # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
//! let lora = dir.path().join("adapter.gguf");
//! write_test_lora(&lora, &TestModelSpec::tiny(), 4, 1).unwrap();
//! let model = LlamaCppModel::load(
//!     &path,
//!     LoadOptions::default().with_max_sequences(4).with_lora_adapter(&lora),
//! ).unwrap();
//! let rt = tokio::runtime::Runtime::new().unwrap();
//!
//! // JSON that validates against a schema (grammar-constrained decoding).
//! let schema = serde_json::json!({"type": "object", "properties": {"ok": {"type": "boolean"}},
//!                                 "required": ["ok"], "additionalProperties": false});
//! let json = rt.block_on(model.chat(ChatRequest::builder().user("Status?")
//!     .response_format(ResponseFormat::json_schema("status", schema)).build())).unwrap();
//! let value: serde_json::Value = serde_json::from_str(json.text()).unwrap();
//! assert!(value["ok"].is_boolean());
//!
//! // A forced tool call names a declared tool with valid arguments.
//! let tool = ToolSpec::new("now", "The time", serde_json::json!({"type": "object",
//!     "properties": {}, "additionalProperties": false}));
//! let call = rt.block_on(model.chat(ChatRequest::builder().user("Time?").tool(tool)
//!     .tool_choice(ToolChoice::Required).build())).unwrap();
//! assert_eq!(call.message.tool_calls[0].name, "now");
//!
//! // Several requests share decode batches; a LoRA adapter applies per handle.
//! let ask = |q: &str| ChatRequest::builder().user(q)
//!     .options(GenerationOptions::deterministic().with_max_tokens(4)).build();
//! let answers = rt.block_on(model.chat_batch(vec![ask("a"), ask("b")]));
//! assert!(answers.iter().all(|a| a.is_ok()));
//! let tuned = model.with_lora(0, 1.0).unwrap();
//! assert!(rt.block_on(tuned.chat(ask("a"))).is_ok());
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
//!   ([`ChatTemplate`], from `slm-chat`, shared with the other local backends), instead of
//!   llama.cpp's pattern-matching `llama_chat_apply_template`.
//! - **Measured, not estimated:** usage counts real tokens; timings come from clocks around the
//!   decode calls.
//! - **llama.cpp's logs go to `tracing`** (target `llama-cpp-2`), never to stdout.
//! - **Test models are generated** ([`testing`]): no download, reproducible from a seed.
//! - **Constraints cost only on rejection.** Like llama.cpp's common sampler, a token is drawn
//!   from the free distribution and the grammar mask is computed only when the constraint
//!   rejects it. JSON schemas compile with llguidance by default ([`SchemaBackend`]); a schema a
//!   backend cannot enforce is an error, never an unconstrained answer: schemas whose keywords
//!   llama.cpp's converter would drop, whose patterns it cannot translate or would let write a
//!   raw quote, or whose `allOf` would make it recurse without end are refused up front, and
//!   grammar-constrained output is kept valid UTF-8 token by token.
//!   [`LlamaCppModel::check_constraint`] shows how far a constraint lets a given text through.
//! - **Batching is continuous**: requests join and leave the running batch; a prompt prefix
//!   shared with a running sequence is copied in the KV cache instead of decoded again.
#![deny(missing_docs)]

mod backend;
mod constrain;
mod draft_model;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod gguf;
mod model;
pub mod models;
mod options;
mod perplexity;
mod quantize;
mod sampling;
mod session;
pub mod source;
mod speculative;
pub mod testing;
mod tools;
mod utf8_guard;
mod worker;

pub use backend::backend;
pub use constrain::{ConstraintCheck, SchemaBackend};
pub use error::LlamaCppError;
pub use model::{LlamaCppModel, ModelInfo};
pub use options::{DraftModel, LoadOptions};
pub use perplexity::{
    ChunkPerplexity, PerplexityOptions, PerplexityReport, SHAKESPEARE_SAMPLE, perplexity,
};
pub use quantize::{QuantizeOptions, QuantizeReport, QuantizeType, TensorFallback, quantize};
pub use session::SessionInfo;
pub use slm_chat::ChatTemplate;
pub use tools::close_schema;
pub use worker::WorkerStats;
