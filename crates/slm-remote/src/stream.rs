//! Streaming: opens the event stream with retries, turns chunks into [`ChatEvent`]s, and ends
//! with the assembled response.
//!
//! A stream may be retried only while nothing has been handed to the caller: after the first
//! event, a failure ends the stream with its error (the caller already holds part of an
//! answer). Dropping the stream drops the HTTP response, which closes the connection.

use std::collections::VecDeque;
use std::time::Instant;

use async_openai::types::stream::StreamResponse;

use crate::assemble::Chunk;
use futures::StreamExt;
use slm_core::{ChatEvent, ChatRequest, ChatStream, Timings};
use tokio::sync::SemaphorePermit;

use crate::RemoteError;
use crate::assemble::Assembler;
use crate::engine::Engine;
use crate::mapping;
use crate::retry::Attempts;

/// Streams `request` from `engine`.
pub(crate) fn chat_stream(engine: &Engine, request: ChatRequest) -> ChatStream<'_> {
    let driver = Driver::new(engine, request);
    Box::pin(futures::stream::unfold(driver, |mut driver| async move {
        let item = driver.next().await?;
        Some((item, driver))
    }))
}

struct Driver<'a> {
    engine: &'a Engine,
    request: Option<ChatRequest>,
    body: Option<crate::mapping::Body>,
    started: Instant,
    attempts: Attempts,
    permit: Option<SemaphorePermit<'a>>,
    inner: Option<StreamResponse<Chunk>>,
    assembler: Assembler,
    pending: VecDeque<ChatEvent>,
    emitted: bool,
    done: bool,
    timings: Timings,
    first_token: Option<Instant>,
}

impl<'a> Driver<'a> {
    fn new(engine: &'a Engine, request: ChatRequest) -> Self {
        let started = Instant::now();
        Self {
            engine,
            request: Some(request),
            body: None,
            started,
            attempts: engine.attempts(started),
            permit: None,
            inner: None,
            assembler: Assembler::default(),
            pending: VecDeque::new(),
            emitted: false,
            done: false,
            timings: Timings::default(),
            first_token: None,
        }
    }

    async fn next(&mut self) -> Option<slm_core::Result<ChatEvent>> {
        match self.step().await {
            Ok(Some(event)) => Some(Ok(event)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.inner = None;
                self.permit = None;
                Some(Err(e.into()))
            }
        }
    }

    async fn step(&mut self) -> Result<Option<ChatEvent>, RemoteError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.emitted = true;
                return Ok(Some(event));
            }
            if self.done {
                return Ok(None);
            }
            if self.inner.is_none() {
                self.connect().await?;
            }
            let limit = self.attempts.remaining_timeout()?;
            let Some(inner) = self.inner.as_mut() else {
                continue;
            };
            match tokio::time::timeout(limit.duration, inner.next()).await {
                Err(_) => {
                    let error = limit.error(&self.attempts);
                    self.fail(error).await?;
                }
                Ok(None) if self.assembler.finished() => {
                    self.done = true;
                    self.inner = None;
                    self.permit = None;
                    return self.finish().map(Some);
                }
                Ok(None) => {
                    let cut = RemoteError::Connection(
                        "the event stream ended before the answer was finished".into(),
                    );
                    self.fail(cut).await?;
                }
                Ok(Some(Err(e))) => {
                    let error = self.engine.classify(e);
                    if self.assembler.finished() && matches!(error, RemoteError::Connection(_)) {
                        // The answer was complete; only the usage chunk or `[DONE]` was lost.
                        tracing::debug!(model = %self.engine.id(), %error, "stream broke after the answer finished");
                        self.done = true;
                        self.inner = None;
                        self.permit = None;
                        return self.finish().map(Some);
                    }
                    self.fail(error).await?;
                }
                Ok(Some(Ok(chunk))) => {
                    let events = self.assembler.push(chunk);
                    if !events.is_empty() && self.first_token.is_none() {
                        self.first_token = Some(Instant::now());
                    }
                    self.pending.extend(events);
                }
            }
        }
    }

    /// Takes a slot under the concurrency cap, then opens the stream, retrying per policy.
    async fn connect(&mut self) -> Result<(), RemoteError> {
        if self.body.is_none() {
            let request = self.request.take().unwrap_or_default();
            self.body = Some(self.engine.body(&request)?);
            self.timings.prep = self.started.elapsed();
        }
        if self.permit.is_none() {
            self.permit = Some(self.engine.acquire(&self.attempts).await?);
            self.timings.queue = self.started.elapsed().saturating_sub(self.timings.prep);
        }
        let Some(body) = self.body.as_ref() else {
            return Err(RemoteError::InvalidRequest("no request to send".into()));
        };
        loop {
            match self.attempts.run(self.engine.open_stream(body)).await {
                Ok((stream, send)) => {
                    self.inner = Some(stream);
                    self.timings.send = send;
                    return Ok(());
                }
                Err(e) => self.attempts.backoff(e).await?,
            }
        }
    }

    /// A failure while reading: retried from scratch only if nothing reached the caller yet.
    async fn fail(&mut self, error: RemoteError) -> Result<(), RemoteError> {
        self.inner = None;
        if self.emitted {
            return Err(error);
        }
        self.attempts.backoff(error).await?;
        self.assembler = Assembler::default();
        self.first_token = None;
        Ok(())
    }

    fn finish(&mut self) -> Result<ChatEvent, RemoteError> {
        let assembler = std::mem::take(&mut self.assembler);
        let (mut response, bad) = assembler.finish(self.engine.id())?;
        let now = Instant::now();
        let mut timings = self.timings;
        timings.total = now.duration_since(self.started);
        if let Some(first) = self.first_token {
            timings.time_to_first_token = first.duration_since(self.started);
            timings.decode_tokens_per_second = Timings::rate(
                response.usage.completion_tokens.saturating_sub(1),
                now.duration_since(first),
            );
        }
        response.timings = timings;
        tracing::debug!(model = %self.engine.id(), attempts = self.attempts.made(), "remote stream finished");
        let response = mapping::check_arguments(response, bad)?;
        Ok(ChatEvent::Done(Box::new(response)))
    }
}
