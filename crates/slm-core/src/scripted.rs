//! A deterministic test double that answers from a script.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Error, FinishReason,
    Message, Result, Timings, ToolCall, Usage,
};

#[derive(Debug, Clone)]
enum Step {
    Reply(Box<ChatResponse>),
    Fail(Error),
}

/// A model that returns queued answers in order, for unit-testing pipelines without a model.
///
/// Each answer streams word by word. Latency can be simulated; timings and usage are measured
/// like a real backend's (usage counts words, a stand-in for tokens). When the script runs out,
/// calls fail with [`Error::Backend`].
///
/// ```
/// use slm_core::{ChatModel, ChatRequest, Error, ScriptedModel};
/// # futures::executor::block_on(async {
/// let model = ScriptedModel::new("fake").reply("one").fail(Error::Cancelled);
/// let req = ChatRequest::builder().user("q").build();
/// assert_eq!(model.chat(req.clone()).await.unwrap().text(), "one");
/// assert_eq!(model.chat(req.clone()).await.unwrap_err(), Error::Cancelled);
/// assert!(model.chat(req).await.is_err());
/// assert_eq!(model.requests().len(), 3);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ScriptedModel {
    id: String,
    script: Arc<Mutex<VecDeque<Step>>>,
    seen: Arc<Mutex<Vec<ChatRequest>>>,
    first_token_latency: Duration,
    per_chunk_latency: Duration,
    capabilities: Capabilities,
    identity: Option<String>,
}

impl ScriptedModel {
    /// An empty script.
    ///
    /// ```
    /// assert_eq!(slm_core::ScriptedModel::new("m").remaining(), 0);
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            script: Arc::default(),
            seen: Arc::default(),
            first_token_latency: Duration::ZERO,
            per_chunk_latency: Duration::ZERO,
            capabilities: Capabilities {
                streaming: true,
                tools: true,
                ..Capabilities::default()
            },
            identity: None,
        }
    }

    /// Answers [`ChatModel::identity`] with `identity` (none by default, so scripted answers
    /// are never cached): for tests of response caches.
    ///
    /// ```
    /// use slm_core::{ChatModel, ScriptedModel};
    /// # futures::executor::block_on(async {
    /// let m = ScriptedModel::new("m").with_identity("scripted:v1");
    /// assert_eq!(m.identity().await.unwrap().as_deref(), Some("scripted:v1"));
    /// # });
    /// ```
    pub fn with_identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = Some(identity.into());
        self
    }

    /// Queues a text answer.
    ///
    /// ```
    /// assert_eq!(slm_core::ScriptedModel::new("m").reply("a").remaining(), 1);
    /// ```
    pub fn reply(self, text: impl Into<String>) -> Self {
        let response = ChatResponse::from_text(self.id.clone(), text);
        self.push(Step::Reply(Box::new(response)))
    }

    /// Queues an answer that calls one tool.
    ///
    /// ```
    /// let m = slm_core::ScriptedModel::new("m").tool_call("f", serde_json::json!({}));
    /// assert_eq!(m.remaining(), 1);
    /// ```
    pub fn tool_call(self, name: impl Into<String>, arguments: serde_json::Value) -> Self {
        let response = ChatResponse {
            message: Message::assistant_tool_calls(vec![ToolCall::new("call_0", name, arguments)]),
            finish_reason: FinishReason::ToolCalls,
            model: self.id.clone(),
            ..ChatResponse::default()
        };
        self.push(Step::Reply(Box::new(response)))
    }

    /// Queues a whole response (its usage and timings are replaced by measured ones).
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "x");
    /// assert_eq!(slm_core::ScriptedModel::new("m").respond(r).remaining(), 1);
    /// ```
    pub fn respond(self, response: ChatResponse) -> Self {
        self.push(Step::Reply(Box::new(response)))
    }

    /// Queues a failure.
    ///
    /// ```
    /// let m = slm_core::ScriptedModel::new("m").fail(slm_core::Error::Cancelled);
    /// assert_eq!(m.remaining(), 1);
    /// ```
    pub fn fail(self, error: Error) -> Self {
        self.push(Step::Fail(error))
    }

    /// Simulated latency before the first word and between words.
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = slm_core::ScriptedModel::new("m").latency(Duration::from_millis(5), Duration::ZERO);
    /// assert_eq!(m.remaining(), 0);
    /// ```
    pub fn latency(mut self, first_token: Duration, per_chunk: Duration) -> Self {
        self.first_token_latency = first_token;
        self.per_chunk_latency = per_chunk;
        self
    }

    /// Overrides the advertised capabilities.
    ///
    /// ```
    /// let caps = slm_core::Capabilities { context_length: Some(8), ..Default::default() };
    /// let m = slm_core::ScriptedModel::new("m").with_capabilities(caps);
    /// use slm_core::ChatModel;
    /// assert_eq!(m.capabilities().context_length, Some(8));
    /// ```
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// How many scripted answers are left.
    ///
    /// ```
    /// assert_eq!(slm_core::ScriptedModel::new("m").reply("a").reply("b").remaining(), 2);
    /// ```
    pub fn remaining(&self) -> usize {
        self.script.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Every request received so far.
    ///
    /// ```
    /// assert!(slm_core::ScriptedModel::new("m").requests().is_empty());
    /// ```
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn push(self, step: Step) -> Self {
        if let Ok(mut script) = self.script.lock() {
            script.push_back(step);
        }
        self
    }

    fn next_step(&self, request: &ChatRequest) -> Step {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(request.clone());
        }
        self.script
            .lock()
            .ok()
            .and_then(|mut s| s.pop_front())
            .unwrap_or_else(|| {
                Step::Fail(Error::Backend(
                    format!("ScriptedModel {:?}: script exhausted", self.id),
                    None,
                ))
            })
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_string).collect()
}

fn count_prompt_words(request: &ChatRequest) -> u32 {
    request
        .messages
        .iter()
        .map(|m| m.content.split_whitespace().count() as u32)
        .sum()
}

#[async_trait]
impl ChatModel for ScriptedModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        crate::collect_stream(self.chat_stream(request))
            .await
            .map(|(_, r)| r)
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        let step = self.next_step(&request);
        let prompt_tokens = count_prompt_words(&request);
        let (first, per_chunk) = (self.first_token_latency, self.per_chunk_latency);
        let stream = async_stream(step, prompt_tokens, first, per_chunk);
        Box::pin(stream)
    }

    async fn identity(&self) -> Result<Option<String>> {
        Ok(self.identity.clone())
    }
}

struct Playback {
    start: Instant,
    first: Duration,
    per_chunk: Duration,
    prompt_tokens: u32,
    step: Option<Step>,
    pending: VecDeque<ChatEvent>,
    ttft: Option<Duration>,
    response: Option<ChatResponse>,
    emitted_chunks: u32,
}

/// Plays a scripted step back as a stream, sleeping before the first word and between words so
/// that time to first token and totals are real measurements.
fn async_stream(
    step: Step,
    prompt_tokens: u32,
    first: Duration,
    per_chunk: Duration,
) -> impl futures::Stream<Item = Result<ChatEvent>> + Send {
    let state = Playback {
        start: Instant::now(),
        first,
        per_chunk,
        prompt_tokens,
        step: Some(step),
        pending: VecDeque::new(),
        ttft: None,
        response: None,
        emitted_chunks: 0,
    };
    futures::stream::unfold(state, |mut st| async move {
        if let Some(step) = st.step.take() {
            pause(st.first).await;
            match step {
                Step::Fail(e) => return Some((Err(e), st)),
                Step::Reply(r) => {
                    st.pending = words(&r.message.content)
                        .into_iter()
                        .map(ChatEvent::TextDelta)
                        .collect();
                    for (index, call) in r.message.tool_calls.iter().enumerate() {
                        st.pending.push_back(ChatEvent::ToolCallDelta {
                            index,
                            id: Some(call.id.clone()),
                            name: Some(call.name.clone()),
                            arguments: call.arguments.to_string(),
                        });
                    }
                    st.response = Some(*r);
                }
            }
        }
        if let Some(event) = st.pending.pop_front() {
            if st.ttft.is_some() && matches!(event, ChatEvent::TextDelta(_)) {
                pause(st.per_chunk).await;
            }
            st.ttft.get_or_insert_with(|| st.start.elapsed());
            st.emitted_chunks += 1;
            return Some((Ok(event), st));
        }
        let mut response = st.response.take()?;
        let total = st.start.elapsed();
        let ttft = st.ttft.unwrap_or(total);
        response.usage = Usage::new(st.prompt_tokens, st.emitted_chunks);
        response.timings = Timings {
            time_to_first_token: ttft,
            total,
            decode_tokens_per_second: Timings::rate(
                st.emitted_chunks.saturating_sub(1),
                total - ttft,
            ),
            ..Timings::default()
        };
        Some((Ok(ChatEvent::Done(Box::new(response))), st))
    })
}

/// Sleeps on tokio's timer, skipping zero durations so that scripts without latency run on any
/// executor.
async fn pause(duration: Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}
