//! Try models in order until one answers acceptably.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;

use crate::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, Result,
    Stage, StageLog, Timings,
};

type Reject = Arc<dyn Fn(&ChatResponse) -> bool + Send + Sync>;

/// When [`Fallback`] moves on to the next model.
///
/// ```
/// use slm_core::{ChatResponse, Error, FallbackWhen};
/// let w = FallbackWhen::RetryableError;
/// assert!(w.rejects_error(&Error::Timeout(std::time::Duration::from_secs(1), None)));
/// assert!(!w.rejects_error(&Error::InvalidRequest("x".into(), None)));
/// let w = FallbackWhen::error_or(|r: &ChatResponse| r.text().is_empty());
/// assert!(w.rejects_response(&ChatResponse::from_text("m", "")));
/// ```
#[derive(Clone)]
pub enum FallbackWhen {
    /// On any error.
    AnyError,
    /// On errors for which [`Error::is_retryable`] holds.
    RetryableError,
    /// On any error, or when the predicate rejects the response.
    ErrorOrResponse(Reject),
}

impl FallbackWhen {
    /// Falls back on errors and on responses the predicate rejects.
    ///
    /// ```
    /// let w = slm_core::FallbackWhen::error_or(|_| false);
    /// assert!(w.rejects_error(&slm_core::Error::Cancelled));
    /// ```
    pub fn error_or(reject: impl Fn(&ChatResponse) -> bool + Send + Sync + 'static) -> Self {
        Self::ErrorOrResponse(Arc::new(reject))
    }

    /// Whether this error sends the request to the next model.
    ///
    /// ```
    /// assert!(slm_core::FallbackWhen::AnyError.rejects_error(&slm_core::Error::Cancelled));
    /// ```
    pub fn rejects_error(&self, error: &Error) -> bool {
        match self {
            Self::RetryableError => error.is_retryable(),
            Self::AnyError | Self::ErrorOrResponse(_) => true,
        }
    }

    /// Whether this response sends the request to the next model.
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "x");
    /// assert!(!slm_core::FallbackWhen::AnyError.rejects_response(&r));
    /// ```
    pub fn rejects_response(&self, response: &ChatResponse) -> bool {
        match self {
            Self::ErrorOrResponse(reject) => reject(response),
            _ => false,
        }
    }
}

impl std::fmt::Debug for FallbackWhen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AnyError => write!(f, "AnyError"),
            Self::RetryableError => write!(f, "RetryableError"),
            Self::ErrorOrResponse(_) => write!(f, "ErrorOrResponse(..)"),
        }
    }
}

/// Tries each model in turn: on an error (or a rejected response) the next one gets the request.
///
/// Every attempt appears as a [`Stage`] (`attempt-1`, `attempt-2`, ...), and usage sums the
/// attempts that answered, so a rejected answer's tokens are still counted.
///
/// ```
/// use std::sync::Arc;
/// use slm_core::{ChatModel, ChatRequest, Error, Fallback, ScriptedModel};
/// # futures::executor::block_on(async {
/// let flaky = Arc::new(ScriptedModel::new("remote").fail(Error::Timeout(Default::default(), None)));
/// let local = Arc::new(ScriptedModel::new("local").reply("from local"));
/// let model = Fallback::new(vec![flaky, local]);
/// let r = model.chat(ChatRequest::builder().user("hi").build()).await.unwrap();
/// assert_eq!(r.model, "local");
/// assert_eq!(r.stages.len(), 2);
/// # });
/// ```
#[derive(Clone)]
pub struct Fallback {
    models: Vec<Arc<dyn ChatModel>>,
    when: FallbackWhen,
    id: String,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("id", &self.id)
            .field("when", &self.when)
            .finish()
    }
}

impl Fallback {
    /// Falls back on any error, in the given order.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{ChatModel, Fallback, ScriptedModel};
    /// let f = Fallback::new(vec![Arc::new(ScriptedModel::new("a")), Arc::new(ScriptedModel::new("b"))]);
    /// assert_eq!(f.id(), "fallback(a|b)");
    /// ```
    pub fn new(models: Vec<Arc<dyn ChatModel>>) -> Self {
        let id = format!(
            "fallback({})",
            models.iter().map(|m| m.id()).collect::<Vec<_>>().join("|")
        );
        Self {
            models,
            when: FallbackWhen::AnyError,
            id,
        }
    }

    /// Sets when to fall back.
    ///
    /// ```
    /// use slm_core::{Fallback, FallbackWhen};
    /// let f = Fallback::new(vec![]).when(FallbackWhen::RetryableError);
    /// # let _ = f;
    /// ```
    pub fn when(mut self, when: FallbackWhen) -> Self {
        self.when = when;
        self
    }
}

fn failed_stage(index: usize, model: &dyn ChatModel, started: Instant) -> Stage {
    Stage {
        timings: Timings {
            total: started.elapsed(),
            ..Timings::default()
        },
        ..Stage::new(format!("attempt-{}", index + 1), model.id())
    }
}

/// The answer of attempt `index` (which began at `call_started`) after the failed or rejected
/// attempts in `log`.
fn finish(
    mut log: StageLog,
    response: ChatResponse,
    index: usize,
    call_started: Instant,
) -> ChatResponse {
    log.push_response(&format!("attempt-{}", index + 1), &response);
    log.finish(response, call_started)
}

#[async_trait]
impl ChatModel for Fallback {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        self.models
            .iter()
            .map(|m| m.capabilities())
            .reduce(|a, b| Capabilities {
                streaming: a.streaming && b.streaming,
                tools: a.tools && b.tools,
                json_schema: a.json_schema && b.json_schema,
                grammar: a.grammar && b.grammar,
                batching: false,
                context_length: a
                    .context_length
                    .zip(b.context_length)
                    .map(|(x, y)| x.min(y)),
            })
            .unwrap_or_default()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let mut log = StageLog::start();
        let mut last_error = Error::InvalidRequest("Fallback has no models".into(), None);
        for (i, model) in self.models.iter().enumerate() {
            let attempt_started = Instant::now();
            let is_last = i + 1 == self.models.len();
            match model.chat(request.clone()).await {
                Ok(r) if is_last || !self.when.rejects_response(&r) => {
                    return Ok(finish(log, r, i, attempt_started));
                }
                Ok(r) => {
                    tracing::debug!(model = model.id(), "response rejected, falling back");
                    log.push_response(&format!("attempt-{}", i + 1), &r);
                }
                Err(e) if !is_last && self.when.rejects_error(&e) => {
                    tracing::debug!(model = model.id(), error = %e, "falling back");
                    log.push(failed_stage(i, model.as_ref(), attempt_started));
                    last_error = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    /// Streams from the first model whose stream starts without an error. When responses can be
    /// rejected, whole answers are needed before deciding, so nothing streams until one is kept.
    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        if matches!(self.when, FallbackWhen::ErrorOrResponse(_)) {
            let answer = async move { self.chat(request).await };
            return Box::pin(futures::stream::once(answer).flat_map(|r| {
                let events: Vec<Result<ChatEvent>> = match r {
                    Ok(r) => crate::events_of_response(r).into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(events)
            }));
        }
        let started = Instant::now();
        let chosen = async move {
            let mut log = StageLog::started_at(started);
            for (i, model) in self.models.iter().enumerate() {
                let attempt_started = Instant::now();
                let mut stream = model.chat_stream(request.clone());
                let first = stream.next().await;
                let is_last = i + 1 == self.models.len();
                match first {
                    Some(Err(e)) if !is_last && self.when.rejects_error(&e) => {
                        tracing::debug!(model = model.id(), error = %e, "falling back");
                        log.push(failed_stage(i, model.as_ref(), attempt_started));
                    }
                    first => {
                        let mut log = Some(log);
                        let rest = futures::stream::iter(first)
                            .chain(stream)
                            .map(move |event| match event? {
                                ChatEvent::Done(r) => {
                                    let log =
                                        log.take().unwrap_or_else(|| StageLog::started_at(started));
                                    let done = finish(log, *r, i, attempt_started);
                                    Ok(ChatEvent::Done(Box::new(done)))
                                }
                                other => Ok(other),
                            });
                        return rest.boxed();
                    }
                }
            }
            futures::stream::iter(vec![Err(Error::InvalidRequest(
                "Fallback has no models".into(),
                None,
            ))])
            .boxed()
        };
        Box::pin(futures::stream::once(chosen).flatten())
    }
}
