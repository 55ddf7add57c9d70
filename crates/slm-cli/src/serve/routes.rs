//! The HTTP routes: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`,
//! `GET /metrics`, and the API-key and counting middleware around them.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::json;
use slm_core::{ChatEvent, ChatModel, ChatRequest, ChatResponse};
use tokio::sync::{mpsc, oneshot};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use super::errors::ApiError;
use super::metrics::ChatOutcome;
use super::state::{AppState, Lease, ModelSlot, Ready, key_accepted};
use super::wire::{self, ChatCompletion, Chunk, Delivery, Delta, Envelope, finish_reason};

/// The server's routes over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let guarded = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .route("/models", get(list_models))
        .route("/v1/models/{*id}", get(get_model))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .merge(guarded)
        .route("/health", get(health))
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(state.max_body))
        // Failures are logged once, by the chat handler, with their cause.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        .with_state(state)
}

/// 401 unless the request carries one of the server's keys as `Authorization: Bearer KEY`.
async fn require_key(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if state.api_keys.is_empty() {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|v| {
            let (scheme, key) = v.split_at(v.len().min(7));
            scheme.eq_ignore_ascii_case(b"bearer ").then_some(key)
        });
    match given {
        None => {
            ApiError::unauthorized("this server needs an API key: send `Authorization: Bearer KEY`")
                .into_response()
        }
        Some(key) if key_accepted(&state.api_keys, key) => next.run(request).await,
        Some(_) => {
            ApiError::unauthorized("the API key is not one of this server's").into_response()
        }
    }
}

/// Counts every answer by route and status.
async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    state.metrics.http(&route, response.status().as_u16());
    response
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::no_route(method.as_str(), uri.path())
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let models: Vec<_> = state
        .models
        .iter()
        .map(|m| json!({"model": m.label, "status": m.status()}))
        .collect();
    let statuses: BTreeSet<&str> = state.models.iter().map(|m| m.status()).collect();
    let (status, text) = if statuses.contains("failed") {
        (StatusCode::SERVICE_UNAVAILABLE, "error")
    } else if statuses.contains("loading") {
        (StatusCode::SERVICE_UNAVAILABLE, "loading")
    } else {
        (StatusCode::OK, "ok")
    };
    (
        status,
        axum::Json(json!({"status": text, "models": models})),
    )
        .into_response()
}

fn model_entry(state: &AppState, m: &ModelSlot) -> serde_json::Value {
    json!({
        "id": m.label,
        "object": "model",
        "created": state.started,
        "owned_by": "slm",
        "status": m.status(),
        "aliases": m.aliases(),
        "slots": m.gauges().slots,
    })
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let data: Vec<_> = state
        .models
        .iter()
        .map(|m| model_entry(&state, m))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn get_model(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match state.find(Some(&id)) {
        Ok(m) => axum::Json(model_entry(&state, m)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let gauges: Vec<_> = state.models.iter().map(|m| m.gauges()).collect();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}

/// Records a chat request's outcome once, when dropped: a request dropped before it finished
/// (the client went away) counts as 499.
struct Recorder {
    state: Arc<AppState>,
    outcome: ChatOutcome,
    arrived: Instant,
    error: Option<String>,
}

impl Recorder {
    fn new(state: Arc<AppState>, arrived: Instant) -> Self {
        Self {
            state,
            outcome: ChatOutcome {
                model: "-".into(),
                status: 499,
                ..ChatOutcome::default()
            },
            arrived,
            error: None,
        }
    }

    fn first_token(&mut self) {
        if self.outcome.time_to_first_token.is_none() {
            self.outcome.time_to_first_token = Some(self.arrived.elapsed());
        }
    }

    fn answered(&mut self, response: &ChatResponse) {
        self.outcome.status = 200;
        self.outcome.prompt_tokens = response.usage.prompt_tokens;
        self.outcome.completion_tokens = response.usage.completion_tokens;
    }

    fn failed(&mut self, error: &ApiError) {
        self.outcome.status = error.status.as_u16();
        self.error = Some(error.message.clone());
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.outcome.latency = self.arrived.elapsed();
        self.state.metrics.chat(&self.outcome);
        let o = &self.outcome;
        let ttft_ms = o.time_to_first_token.map(|d| d.as_millis() as u64);
        let latency_ms = o.latency.as_millis() as u64;
        if o.status >= 500 && o.status != 503 {
            let error = self.error.as_deref().unwrap_or("");
            tracing::warn!(model = %o.model, status = o.status, latency_ms, error, "chat completion failed");
        } else {
            tracing::info!(
                model = %o.model,
                status = o.status,
                prompt_tokens = o.prompt_tokens,
                completion_tokens = o.completion_tokens,
                ttft_ms,
                latency_ms,
                "chat completion"
            );
        }
    }
}

/// `fut`, stopped at `deadline` if there is one.
async fn within<T>(
    deadline: Option<tokio::time::Instant>,
    fut: impl Future<Output = T>,
) -> Result<T, tokio::time::error::Elapsed> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await,
        None => Ok(fut.await),
    }
}

async fn chat_completions(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arrived = Instant::now();
    let mut recorder = Recorder::new(state.clone(), arrived);
    match prepare(&state, body, &mut recorder) {
        Ok((slot, ready, request, delivery)) => {
            let deadline = state
                .timeout
                .map(|t| tokio::time::Instant::from_std(arrived) + t);
            let job = Job {
                envelope: Envelope::new(&slot.label),
                slot,
                ready,
                request,
                deadline,
                timeout: state.timeout.unwrap_or_default(),
                recorder,
            };
            if delivery.stream {
                stream_answer(job, delivery.include_usage).await
            } else {
                whole_answer(job).await
            }
        }
        Err(error) => {
            recorder.failed(&error);
            error.into_response()
        }
    }
}

type Prepared = (Arc<ModelSlot>, Arc<Ready>, ChatRequest, Delivery);

/// Reads the body, finds the model and maps the request: every 4xx and 503 comes from here.
fn prepare(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
    recorder: &mut Recorder,
) -> Result<Prepared, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.max_body)
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    let parsed = wire::parse(&body)?;
    let slot = state.find(parsed.model.as_deref())?.clone();
    recorder.outcome.model = slot.label.clone();
    let (request, delivery) = parsed.into_chat()?;
    let ready = slot.ready()?;
    Ok((slot, ready, request, delivery))
}

/// One admitted chat request.
struct Job {
    envelope: Envelope,
    slot: Arc<ModelSlot>,
    ready: Arc<Ready>,
    request: ChatRequest,
    deadline: Option<tokio::time::Instant>,
    timeout: Duration,
    recorder: Recorder,
}

impl Job {
    fn deadline_error(&self) -> ApiError {
        ApiError::deadline(self.timeout.as_secs_f64())
    }

    /// Waits for a slot, within the deadline.
    async fn admit(&self) -> Result<Lease, ApiError> {
        within(self.deadline, self.slot.admit(&self.ready))
            .await
            .unwrap_or_else(|_| Err(self.deadline_error()))
    }
}

async fn whole_answer(mut job: Job) -> Response {
    let lease = match job.admit().await {
        Ok(lease) => lease,
        Err(e) => {
            job.recorder.failed(&e);
            return e.into_response();
        }
    };
    let admitted = job.recorder.arrived.elapsed();
    let model = job.ready.model.clone();
    let request = std::mem::take(&mut job.request);
    let answer = within(job.deadline, model.chat(request)).await;
    drop(lease);
    let result = match answer {
        Err(_) => Err(job.deadline_error()),
        Ok(Err(e)) => Err(ApiError::from_core(&e)),
        Ok(Ok(response)) => Ok(response),
    };
    match result {
        Ok(response) => {
            job.recorder.answered(&response);
            let ttft = response.timings.time_to_first_token;
            if !ttft.is_zero() {
                job.recorder.outcome.time_to_first_token = Some(admitted + ttft);
            }
            axum::Json(ChatCompletion::new(&job.envelope, response)).into_response()
        }
        Err(e) => {
            job.recorder.failed(&e);
            e.into_response()
        }
    }
}

/// Streams the answer as server-sent events. The first event is awaited before the response
/// starts, so a request the model refuses gets its proper status; the generation runs in a task
/// that stops (dropping the model's stream, which stops the model) when the client goes away or
/// the deadline passes.
async fn stream_answer(job: Job, include_usage: bool) -> Response {
    let lease = match job.admit().await {
        Ok(lease) => lease,
        Err(e) => {
            let mut job = job;
            job.recorder.failed(&e);
            return e.into_response();
        }
    };
    let (events, receiver) = mpsc::channel::<Event>(64);
    let (started, start) = oneshot::channel();
    tokio::spawn(pump(job, lease, include_usage, events, started));
    match start.await {
        Ok(Ok(())) => {
            let stream =
                tokio_stream::wrappers::ReceiverStream::new(receiver).map(Ok::<_, Infallible>);
            Sse::new(stream).into_response()
        }
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::internal("the answer stopped before it started").into_response(),
    }
}

fn data(chunk: &impl serde::Serialize) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_else(|e| {
        json!({"error": {"message": format!("serializing a chunk: {e}"), "type": "server_error"}})
            .to_string()
    }))
}

/// Drives the model's stream and turns its events into chunks.
async fn pump(
    mut job: Job,
    lease: Lease,
    include_usage: bool,
    events: mpsc::Sender<Event>,
    started: oneshot::Sender<Result<(), ApiError>>,
) {
    let _lease = lease;
    let model = job.ready.model.clone();
    let request = std::mem::take(&mut job.request);
    let mut stream = model.chat_stream(request);
    let mut started = Some(started);
    let mut text_sent = false;
    let mut calls_sent = BTreeSet::new();
    let envelope = job.envelope.clone();
    let chunk = |delta: Delta, finish: Option<&'static str>| {
        data(&Chunk::delta(&envelope, delta, finish, include_usage))
    };
    loop {
        let next = tokio::select! {
            biased;
            _ = events.closed() => return, // the client went away: 499
            next = within(job.deadline, stream.next()) => next,
        };
        let event = match next {
            Ok(Some(Ok(event))) => event,
            failure => {
                let error = match failure {
                    Err(_) => job.deadline_error(),
                    Ok(Some(Err(e))) => ApiError::from_core(&e),
                    _ => ApiError::internal("the model's stream ended without its answer"),
                };
                job.recorder.failed(&error);
                match started.take() {
                    Some(started) => {
                        let _ = started.send(Err(error));
                    }
                    None => {
                        let _ = events.send(data(&error.body())).await;
                    }
                }
                return;
            }
        };
        if let Some(started) = started.take() {
            if started.send(Ok(())).is_err() {
                return;
            }
            if events.send(chunk(Delta::role(), None)).await.is_err() {
                return;
            }
        }
        let mut out = Vec::new();
        match event {
            ChatEvent::TextDelta(text) => {
                if !text.is_empty() {
                    job.recorder.first_token();
                    text_sent = true;
                    out.push(chunk(Delta::text(text), None));
                }
            }
            ChatEvent::ReasoningDelta(text) => {
                if !text.is_empty() {
                    job.recorder.first_token();
                    out.push(chunk(Delta::reasoning(text), None));
                }
            }
            ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                job.recorder.first_token();
                calls_sent.insert(index);
                let delta = Delta::tool_call(&envelope, index, id, name, arguments);
                out.push(chunk(delta, None));
            }
            ChatEvent::Done(response) => {
                let message = &response.message;
                if !text_sent && !message.content.is_empty() {
                    job.recorder.first_token();
                    out.push(chunk(Delta::text(message.content.clone()), None));
                }
                for (index, call) in message.tool_calls.iter().enumerate() {
                    if !calls_sent.contains(&index) {
                        job.recorder.first_token();
                        out.push(chunk(Delta::whole_call(&envelope, index, call), None));
                    }
                }
                out.push(chunk(
                    Delta::default(),
                    Some(finish_reason(response.finish_reason)),
                ));
                if include_usage {
                    out.push(data(&Chunk::usage(&envelope, response.usage)));
                }
                out.push(Event::default().data("[DONE]"));
                for event in out {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                job.recorder.answered(&response);
                return;
            }
        }
        for event in out {
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
}
