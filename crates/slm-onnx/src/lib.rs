//! An ONNX Runtime backend for slm: decoder models in onnxruntime-genai's folder layout
//! (`genai_config.json`, `model.onnx`, `tokenizer.json`, `tokenizer_config.json`) as
//! [`slm_core::ChatModel`]s, beside the llama.cpp backend's GGUF files.
//!
//! - The ONNX Runtime C library is loaded at run time ([`runtime`]): `scripts/setup.sh`
//!   installs the pinned release into `~/.cache/slm/onnxruntime/`, where it is found without
//!   settings; `$SLM_ONNXRUNTIME` or [`LoadOptions::runtime`] point at another.
//! - The graph takes `input_ids`, `attention_mask`, `position_ids` and
//!   `past_key_values.N.key/value`, and returns `logits` and `present.N.key/value`: the prompt
//!   is run once (prefill), then one token per run with the keys and values carried over.
//! - Prompts come from the folder's chat template through [`slm_chat::ChatTemplate`] (the
//!   renderer the llama.cpp backend uses); JSON schemas are enforced through llguidance
//!   ([`slm_chat::constraint`]); text streams without splitting UTF-8 characters.
//!
//! `scripts/onnx/export.py` writes such folders: a tiny random model for tests, and
//! SmolLM2-135M-Instruct converted from its GGUF (float32 or 4-bit MatMulNBits).
//!
//! ```no_run
//! use slm_core::{ChatModel, ChatRequest, GenerationOptions};
//! # async fn demo() -> Result<(), slm_core::Error> {
//! let model = slm_onnx::OnnxModel::load("smollm2-135m-instruct-int4", slm_onnx::LoadOptions::default())?;
//! let request = ChatRequest::builder()
//!     .user("What is the capital of France?")
//!     .options(GenerationOptions::deterministic().with_max_tokens(32))
//!     .build();
//! let answer = model.chat(request).await?;
//! assert!(answer.text().contains("Paris"));
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod config;
mod error;
mod model;
pub mod runtime;
mod sampling;
mod worker;

pub use config::{DecoderSection, GenaiConfig, InputNames, ModelSection, OutputNames, TokenIds};
pub use error::OnnxError;
pub use model::{LoadOptions, OnnxModel};
