//! # slm-core
//!
//! The one abstraction every part of `slm` plugs into: [`ChatModel`]. A local GGUF model, an
//! Azure deployment, a draft→refine pipeline or a RAG pipeline are all `ChatModel`s, so they nest
//! the way tower's `Service`s do, and every tool (evaluator, benchmarks, examples) takes
//! `&dyn ChatModel` or `Arc<dyn ChatModel>`.
//!
//! Two decisions shape the crate:
//! - **Everything is a value of one small trait.** Compositions ([`DraftRefine`], [`Fallback`])
//!   take `Arc<dyn ChatModel>` and are `ChatModel`s themselves; their responses list each model's
//!   share as [`Stage`]s so latency and cost stay honest.
//! - **Measurements are data.** Every [`ChatResponse`] carries [`Usage`] and measured
//!   [`Timings`]; a [`CostModel`] turns them into money.
//!
//! ```
//! use std::sync::Arc;
//! use slm_core::{ChatModel, ChatRequest, CostModel, DraftRefine, EscalationPolicy, Price, ScriptedModel};
//!
//! # futures::executor::block_on(async {
//! let small: Arc<dyn ChatModel> = Arc::new(ScriptedModel::new("phi-4-mini").reply("A short draft."));
//! let large: Arc<dyn ChatModel> = Arc::new(ScriptedModel::new("gpt-4o").reply("A polished answer."));
//! let hybrid = DraftRefine::new(small, large).policy(EscalationPolicy::DraftLongerThan(5));
//!
//! let answer = hybrid.chat(ChatRequest::builder().user("Brief me.").build()).await.unwrap();
//! assert_eq!(answer.text(), "A polished answer.");
//! assert_eq!(answer.stages.len(), 2);
//!
//! let costs = CostModel::new().price("gpt-4o", Price::per_million(2.5, 10.0));
//! assert!(costs.response_cost(&answer) >= 0.0);
//! # });
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod compose;
mod cost;
mod duration_ms;
mod error;
mod event;
mod message;
mod model;
mod request;
mod response;
mod scripted;
mod tool;
pub mod wire;

pub use compose::{Balanced, DraftRefine, EscalationPolicy, Fallback, FallbackWhen, ReplicaStats};
pub use cost::{CostModel, Price};
pub use error::{Error, ErrorSource, Result};
pub use event::{ChatEvent, ChatStream, collect_stream, events_of_response};
pub use message::{Message, Role};
pub use model::{Capabilities, ChatModel};
pub use request::{
    ChatRequest, ChatRequestBuilder, DrySampling, GenerationOptions, InvalidOption, PromptLookup,
    ResponseFormat, Thinking,
};
pub use response::{ChatResponse, FinishReason, Speculation, Stage, StageLog, Timings, Usage};
pub use scripted::ScriptedModel;
pub use tool::{ToolCall, ToolCallIssue, ToolCallProblem, ToolChoice, ToolSpec};

/// Re-exported so implementers of [`ChatModel`] need not depend on `async-trait` themselves.
pub use async_trait::async_trait;
