//! The part both remote models share: an async-openai client on our transport, the retry loop,
//! the concurrency cap, and timings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::error::OpenAIError;
use async_openai::types::chat::CreateChatCompletionResponse;
use async_openai::types::stream::StreamResponse;
use serde::{Deserialize, Serialize};
use slm_core::{Capabilities, ChatRequest, ChatResponse, Timings};
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::Instrument;

use crate::assemble::Chunk;
use crate::classify::{self, CallSite};
use crate::endpoint::Endpoint;
use crate::mapping::{self, Body, MaxTokensField, WireBody, WireStyle};
use crate::reasoning::WithReasoning;
use crate::retry::Attempts;
use crate::transport::{self, Transport};
use crate::{RemoteError, RetryPolicy};

/// Settings both remote models share: retries, the concurrency cap, and what to ask for.
///
/// ```
/// use slm_remote::RemoteOptions;
/// let o = RemoteOptions::default();
/// assert_eq!(o.max_concurrency, 16);
/// assert!(o.stream_usage);
/// assert!(o.capabilities.tools && o.capabilities.streaming && !o.capabilities.grammar);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteOptions {
    /// Attempts, backoff, per-request timeout and total deadline.
    pub retry: RetryPolicy,
    /// At most this many requests of one model are in flight; more wait (counted as `queue`
    /// time).
    pub max_concurrency: usize,
    /// Ask streams for a final usage chunk (`stream_options.include_usage`). When a server
    /// rejects the field, the model stops sending it and streams without usage.
    pub stream_usage: bool,
    /// Which field carries the token limit.
    pub max_tokens_field: MaxTokensField,
    /// What the model reports it can do.
    pub capabilities: Capabilities,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            max_concurrency: 16,
            stream_usage: true,
            max_tokens_field: MaxTokensField::default(),
            capabilities: Capabilities {
                streaming: true,
                tools: true,
                json_schema: true,
                ..Capabilities::default()
            },
        }
    }
}

/// One remote chat-completions endpoint, ready to call.
pub(crate) struct Engine {
    client: Client<Endpoint>,
    site: CallSite,
    id: String,
    /// The `model` field of the body (Azure deployments ignore it, other servers route on it).
    body_model: String,
    options: RemoteOptions,
    semaphore: Semaphore,
    /// Whether streams still ask for usage (cleared when the server rejects `stream_options`).
    stream_usage: AtomicBool,
    /// Whether JSON schemas go in a `json_object` format (set when `json_schema` is rejected).
    schema_in_json_object: AtomicBool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("id", &self.id)
            .field("url", &self.site.endpoint.chat_url())
            .field("endpoint", &self.site.endpoint)
            .field("options", &self.options)
            .finish()
    }
}

impl Engine {
    pub(crate) fn new(
        site: CallSite,
        id: String,
        body_model: String,
        options: RemoteOptions,
    ) -> Result<Self, RemoteError> {
        let max_concurrency = options.max_concurrency.max(1);
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(max_concurrency)
            .build()
            .map_err(|e| RemoteError::Config(format!("cannot build the HTTP client: {e}")))?;
        let client = Client::build(http.clone(), site.endpoint.clone())
            .with_http_service(Transport::new(http));
        Ok(Self {
            client,
            site,
            id,
            body_model,
            stream_usage: AtomicBool::new(options.stream_usage),
            schema_in_json_object: AtomicBool::new(false),
            semaphore: Semaphore::new(max_concurrency),
            options: RemoteOptions {
                max_concurrency,
                ..options
            },
        })
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn capabilities(&self) -> Capabilities {
        self.options.capabilities
    }

    pub(crate) fn chat_url(&self) -> String {
        self.site.endpoint.chat_url()
    }

    /// What decides the answers besides the request: the URL and the model name sent
    /// ([`slm_core::ChatModel::identity`]; no credentials).
    pub(crate) fn identity(&self) -> String {
        format!("{}#{}", self.chat_url(), self.body_model)
    }

    /// The body for `request`: the typed request, plus llama.cpp-style sampling fields
    /// ([`mapping::sampling_extras`]) except for Azure, which refuses unknown fields.
    pub(crate) fn body(&self, request: &ChatRequest) -> Result<Body, RemoteError> {
        let typed = mapping::to_openai(request, &self.body_model, self.options.max_tokens_field)?;
        let extra = match self.site.azure {
            Some(_) => Default::default(),
            None => mapping::sampling_extras(&request.options),
        };
        Ok(Body {
            request: typed,
            extra,
        })
    }

    pub(crate) fn attempts(&self, started: Instant) -> Attempts {
        Attempts::new(self.options.retry, started)
    }

    /// Waits for a free slot under the concurrency cap, until the call's deadline.
    pub(crate) async fn acquire(
        &self,
        attempts: &Attempts,
    ) -> Result<SemaphorePermit<'_>, RemoteError> {
        match tokio::time::timeout_at(attempts.deadline().into(), self.semaphore.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(RemoteError::Connection("the model was shut down".into())),
            Err(_) => Err(attempts.deadline_error()),
        }
    }

    /// One whole-answer call, with retries, in a `remote_chat` tracing span.
    pub(crate) async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, RemoteError> {
        let span = tracing::debug_span!("remote_chat", model = %self.id);
        self.chat_inner(request).instrument(span).await
    }

    async fn chat_inner(&self, request: ChatRequest) -> Result<ChatResponse, RemoteError> {
        let started = Instant::now();
        let body = self.body(&request)?;
        let prep = started.elapsed();
        let mut attempts = self.attempts(started);
        let _permit = self.acquire(&attempts).await?;
        let queue = started.elapsed().saturating_sub(prep);
        let (answer, send) = loop {
            let attempt = self.send(&body, false, |wire| async move {
                self.client
                    .chat()
                    .create_byot::<WireBody, WithReasoning<CreateChatCompletionResponse>>(wire)
                    .await
            });
            match attempts.run(attempt).await {
                Ok(done) => break done,
                Err(e) => attempts.backoff(e).await?,
            }
        };
        tracing::debug!(model = %self.id, attempts = attempts.made(), "remote chat answered");
        let (mut response, bad) = mapping::from_openai(answer.body, answer.reasoning, &self.id)?;
        response.timings = Timings {
            prep,
            queue,
            send,
            total: started.elapsed(),
            ..Timings::default()
        };
        mapping::check_arguments(response, bad)
    }

    /// Opens an event stream (one attempt). Returns it and the time until its headers.
    pub(crate) async fn open_stream(
        &self,
        body: &Body,
    ) -> Result<(StreamResponse<Chunk>, Duration), RemoteError> {
        self.send(body, true, |wire| async move {
            self.client
                .chat()
                .create_stream_byot::<WireBody, Chunk>(wire)
                .await
        })
        .await
    }

    /// Sends `body` once, in the wire style this server accepts. When the server rejects a
    /// field we can do without (`stream_options`, a `json_schema` response format), the
    /// rejection is remembered for this model and the request sent again at once, adjusted,
    /// within the same attempt. Returns the answer and the time until its headers.
    async fn send<T, F, Fut>(
        &self,
        body: &Body,
        stream: bool,
        call: F,
    ) -> Result<(T, Duration), RemoteError>
    where
        F: Fn(WireBody) -> Fut,
        Fut: Future<Output = Result<T, OpenAIError>>,
    {
        loop {
            let style = self.style();
            let sent_at = Instant::now();
            let (result, headers_at) =
                transport::observe(call(mapping::wire_body(body, stream, style))).await;
            let error = match result {
                Ok(answer) => return Ok((answer, since(sent_at, headers_at))),
                Err(e) => e,
            };
            if let Some(failure) = classify::as_http_failure(&error) {
                if stream && style.stream_usage && classify::rejects_stream_options(failure) {
                    tracing::info!(model = %self.id, "server rejects stream_options; streaming without usage");
                    self.stream_usage.store(false, Ordering::Relaxed);
                    continue;
                }
                if !style.schema_in_json_object
                    && mapping::uses_json_schema(&body.request)
                    && classify::rejects_json_schema(failure)
                {
                    tracing::info!(model = %self.id, "server rejects json_schema; sending the schema in a json_object format");
                    self.schema_in_json_object.store(true, Ordering::Relaxed);
                    continue;
                }
            }
            return Err(self.site.classify(error));
        }
    }

    fn style(&self) -> WireStyle {
        WireStyle {
            stream_usage: self.stream_usage.load(Ordering::Relaxed),
            schema_in_json_object: self.schema_in_json_object.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn classify(&self, error: OpenAIError) -> RemoteError {
        self.site.classify(error)
    }
}

fn since(start: Instant, at: Option<Instant>) -> Duration {
    at.map(|t| t.saturating_duration_since(start))
        .unwrap_or_default()
}
