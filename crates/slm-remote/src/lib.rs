//! # slm-remote
//!
//! Azure OpenAI deployments and any OpenAI-compatible server (Foundry Local, Ollama, vLLM,
//! llama.cpp's server, OpenAI) as [`slm_core::ChatModel`]s, so a hosted reference model and a
//! local small model answer the same requests side by side.
//!
//! ## Tutorial
//!
//! Build a model, from the environment variables of the SLM Swap evaluation or explicitly:
//!
//! ```
//! use slm_core::{ChatModel, ChatRequest, GenerationOptions};
//! use slm_remote::{AzureOpenAiModel, OpenAiCompatibleModel, RetryPolicy};
//!
//! // AZURE_ENDPOINT, AZURE_DEPLOYMENT, AZURE_API_KEY and AZURE_API_VERSION.
//! let azure = AzureOpenAiModel::from_env();
//! # let _ = azure;
//!
//! // Foundry Local, Ollama, vLLM, llama.cpp: a base URL and a model name.
//! let local = OpenAiCompatibleModel::builder("http://localhost:5273/v1", "phi-4-mini")
//!     .retry(RetryPolicy::default().with_max_attempts(3))
//!     .max_concurrency(8)
//!     .build()
//!     .unwrap();
//! assert_eq!(local.id(), "phi-4-mini");
//!
//! // Requests are slm-core's; evaluations ask for temperature 0 and seed 42.
//! let request = ChatRequest::builder()
//!     .user("Capital of France?")
//!     .options(GenerationOptions::deterministic())
//!     .build();
//! # let _ = request;
//! ```
//!
//! Then `model.chat(request).await` answers with text, tool calls, usage and timings, and
//! `model.chat_stream(request)` streams [`slm_core::ChatEvent`]s ending with the same
//! response. Both are `ChatModel` methods, so these models nest in `DraftRefine` or
//! `Fallback` like any other. Their errors are [`slm_core::Error`]s that keep this crate's
//! typed [`RemoteError`] as their source:
//!
//! ```
//! use slm_remote::RemoteError;
//! let core: slm_core::Error = RemoteError::DeploymentNotFound {
//!     url: "https://r.openai.azure.com/openai/deployments/gpt/chat/completions".into(),
//!     deployment: "gpt".into(),
//!     message: "The API deployment for this resource does not exist.".into(),
//! }
//! .into();
//! assert!(matches!(core, slm_core::Error::Http { status: 404, .. }));
//! let Some(RemoteError::DeploymentNotFound { deployment, .. }) = core.downcast_ref() else {
//!     panic!("{core:?}")
//! };
//! assert_eq!(deployment, "gpt");
//! ```
//!
//! ## Design decisions
//!
//! - **async-openai for the API, our own tower service for HTTP.** Requests and responses use
//!   async-openai's chat types, its request building and its SSE parsing. It sends through a
//!   tower service; ours (the `middleware` feature) executes each request with reqwest exactly
//!   once and hands error answers back whole: status, `retry-after-ms`/`retry-after`, raw body.
//!   async-openai's default service retries on its own schedule, honours only whole-second
//!   `Retry-After`, and drops headers and unknown fields from errors.
//! - **Retries above async-openai.** Attempts, backoff with jitter, the per-request timeout and
//!   the total deadline are in one loop ([`RetryPolicy`]) that also covers reading the body.
//!   A stream is retried only until its first event reaches the caller.
//! - **Our own endpoint config.** `AzureConfig` cannot send a bearer token and panics on a key
//!   with a newline; our `Config` validates the key once and marks the header sensitive.
//!   Keys live in `secrecy::SecretString`, never in `Debug`, logs or errors; server text is
//!   scrubbed of the key before it becomes an error.
//! - **Degrade, don't fail.** Streams ask for usage with `stream_options`; a server that
//!   rejects that field (older Azure api-versions) is remembered and gets streams without it.
//!   A server that rejects `response_format: json_schema` (llama-cpp-python) gets the schema
//!   as `{"type": "json_object", "schema": …}`. Bodies are serialized from async-openai's
//!   types and adjusted as JSON (its `byot` feature).
//! - **Timings are measured, never guessed.** `send` runs until the response headers arrive,
//!   `queue` is the wait for a slot under the concurrency cap, `total` spans retries and
//!   backoff. Only streams see the first token, so only streamed answers carry
//!   `time_to_first_token` and a decode rate; whole answers leave them at zero. Usage is what
//!   the server reports (zero when a server sends none in a stream, as llama-cpp-python does).
//! - **Cancellation is drop.** Dropping a `chat` future or a stream closes the connection and
//!   frees the concurrency slot.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod assemble;
mod azure;
mod classify;
mod compatible;
mod endpoint;
mod engine;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod mapping;
mod reasoning;
mod retry;
mod stream;
mod transport;

pub use azure::{AZURE_ENV_VARS, AzureOpenAiModel, AzureOpenAiModelBuilder};
pub use compatible::{OpenAiCompatibleModel, OpenAiCompatibleModelBuilder};
pub use endpoint::Credential;
pub use engine::RemoteOptions;
pub use error::RemoteError;
pub use mapping::MaxTokensField;
pub use retry::RetryPolicy;
