//! # slm
//!
//! Run small language models locally and compare them with large hosted models.
//!
//! This facade re-exports the workspace's crates behind features of the same names (all on by
//! default), the way the `grep` crate re-exports ripgrep's parts:
//!
//! | feature | module | what it is |
//! | --- | --- | --- |
//! | (always) | [`core`] | the `ChatModel` trait, its types, compositions, cost model |
//! | `llamacpp` | `llamacpp` | local GGUF inference through llama.cpp |
//! | `remote` | `remote` | Azure OpenAI and OpenAI-compatible servers |
//! | `eval` | `eval` | structured-JSON and tool-call evaluation, compare, reports |
//! | `rag` | `rag` | BM25 retrieval and grounded generation |
//! | `cuda` | | GPU offload of local models (needs the CUDA toolkit) |
//!
//! Every part of slm names models the same way, with a [`ModelSpec`] (`smollm2`,
//! `openai:http://127.0.0.1:8080/v1#qwen2.5`, `fallback:smollm2,azure`, …), and opens them in one
//! place, [`open`]. The `slm` command (crate `slm-cli`) is built on this facade.
//!
//! ```
//! use slm::core::{ChatModel, ChatRequest, ScriptedModel};
//! # futures::executor::block_on(async {
//! let model = ScriptedModel::new("demo").reply("Hello from slm");
//! let answer = model.chat(ChatRequest::builder().user("Hi").build()).await.unwrap();
//! assert_eq!(answer.text(), "Hello from slm");
//! # });
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use slm_core as core;
pub use slm_core::{ChatModel, ChatRequest, ChatResponse, Error, Message};

mod open;
mod spec;
pub use open::{
    DEFAULT_LOCAL_PARALLEL, DEFAULT_REMOTE_CONCURRENCY, OpenOptions, OpenedModel, open,
    open_blocking, open_model,
};
#[cfg(feature = "llamacpp")]
pub use open::{DownloadEvent, DownloadReporter};
pub use spec::ModelSpec;

#[cfg(feature = "eval")]
pub use slm_eval as eval;
#[cfg(feature = "llamacpp")]
pub use slm_llamacpp as llamacpp;
#[cfg(feature = "onnx")]
pub use slm_onnx as onnx;
#[cfg(feature = "rag")]
pub use slm_rag as rag;
#[cfg(feature = "remote")]
pub use slm_remote as remote;
