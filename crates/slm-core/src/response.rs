//! What a model answers: the message, why it stopped, tokens used and measured timings.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Message;

/// Why generation ended.
///
/// ```
/// assert_eq!(serde_json::to_string(&slm_core::FinishReason::ToolCalls).unwrap(), "\"tool_calls\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end: end-of-generation token or a stop string.
    #[default]
    Stop,
    /// The token limit (max tokens or the context) was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The provider's content filter withheld the answer.
    ContentFilter,
}

/// Token counts of one response.
///
/// ```
/// use slm_core::Usage;
/// let u = Usage::new(10, 5) + Usage::new(1, 1);
/// assert_eq!(u.total_tokens(), 17);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Prompt tokens served from a cache instead of being evaluated (part of
    /// `prompt_tokens`; OpenAI's `prompt_tokens_details.cached_tokens`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_prompt_tokens: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Usage {
    /// A usage record.
    ///
    /// ```
    /// assert_eq!(slm_core::Usage::new(3, 4).completion_tokens, 4);
    /// ```
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            cached_prompt_tokens: 0,
        }
    }

    /// The same record with `cached` of its prompt tokens served from a cache.
    ///
    /// ```
    /// let u = slm_core::Usage::new(100, 4).with_cached_prompt_tokens(90);
    /// assert_eq!(u.cached_prompt_tokens, 90);
    /// assert_eq!(u.total_tokens(), 104);
    /// ```
    pub fn with_cached_prompt_tokens(mut self, cached: u32) -> Self {
        self.cached_prompt_tokens = cached;
        self
    }

    /// Prompt plus completion tokens.
    ///
    /// ```
    /// assert_eq!(slm_core::Usage::new(3, 4).total_tokens(), 7);
    /// ```
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, rhs: Usage) -> Usage {
        Usage::new(
            self.prompt_tokens + rhs.prompt_tokens,
            self.completion_tokens + rhs.completion_tokens,
        )
        .with_cached_prompt_tokens(self.cached_prompt_tokens + rhs.cached_prompt_tokens)
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        *self = *self + rhs;
    }
}

/// Measured durations of one response. Durations serialize as milliseconds.
///
/// Every field is a measurement, never an estimate: backends leave a field at its default when
/// they cannot measure it.
///
/// ```
/// use std::time::Duration;
/// use slm_core::Timings;
/// let t = Timings { total: Duration::from_millis(120), ..Timings::default() };
/// let json = serde_json::to_value(&t).unwrap();
/// assert_eq!(json["total_ms"], 120.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Preparing the request: template rendering, tokenization, grammar compilation.
    #[serde(rename = "prep_ms", with = "crate::duration_ms")]
    pub prep: Duration,
    /// Waiting for the model to be free (local queue, concurrency cap).
    #[serde(rename = "queue_ms", with = "crate::duration_ms")]
    pub queue: Duration,
    /// Sending the request until the response headers arrived (remote models).
    #[serde(rename = "send_ms", with = "crate::duration_ms")]
    pub send: Duration,
    /// Evaluating the prompt (local models).
    #[serde(rename = "prompt_eval_ms", with = "crate::duration_ms")]
    pub prompt_eval: Duration,
    /// From the call until the first generated token.
    #[serde(rename = "time_to_first_token_ms", with = "crate::duration_ms")]
    pub time_to_first_token: Duration,
    /// From the call until the whole answer.
    #[serde(rename = "total_ms", with = "crate::duration_ms")]
    pub total: Duration,
    /// Prompt tokens per second, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_per_second: Option<f64>,
    /// Generated tokens per second after the first token, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_tokens_per_second: Option<f64>,
    /// Draft tokens proposed and accepted, when the answer was decoded speculatively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speculation: Option<Speculation>,
}

/// How speculative decoding went for one answer.
///
/// ```
/// let s = slm_core::Speculation { drafted: 40, accepted: 30 };
/// assert_eq!(s.acceptance_rate(), Some(0.75));
/// assert_eq!(slm_core::Speculation::default().acceptance_rate(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Speculation {
    /// Draft tokens checked by the model.
    pub drafted: u32,
    /// Draft tokens the model's own choice agreed with (kept without decoding them again).
    pub accepted: u32,
}

impl Speculation {
    /// `accepted / drafted`, when anything was drafted.
    ///
    /// ```
    /// assert_eq!(slm_core::Speculation { drafted: 4, accepted: 1 }.acceptance_rate(), Some(0.25));
    /// ```
    pub fn acceptance_rate(&self) -> Option<f64> {
        (self.drafted > 0).then(|| f64::from(self.accepted) / f64::from(self.drafted))
    }
}

impl Timings {
    /// Decode speed from a token count and the time spent generating after the first token.
    ///
    /// ```
    /// use std::time::Duration;
    /// let tps = slm_core::Timings::rate(11, Duration::from_secs(2));
    /// assert_eq!(tps, Some(5.5));
    /// assert_eq!(slm_core::Timings::rate(3, Duration::ZERO), None);
    /// ```
    pub fn rate(tokens: u32, elapsed: Duration) -> Option<f64> {
        let secs = elapsed.as_secs_f64();
        (secs > 0.0 && tokens > 0).then(|| tokens as f64 / secs)
    }
}

/// One model's share of a composed answer (draft, refine, fallback attempt, retrieval...).
///
/// ```
/// let s = slm_core::Stage::new("draft", "phi-4-mini");
/// assert_eq!(s.name, "draft");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stage {
    /// What the stage did ("draft", "refine", "attempt-1", "retrieve"...).
    pub name: String,
    /// The model that ran it.
    pub model: String,
    /// Its token usage.
    pub usage: Usage,
    /// Its timings.
    pub timings: Timings,
}

impl Stage {
    /// A stage with zero usage and timings.
    ///
    /// ```
    /// assert_eq!(slm_core::Stage::new("a", "m").usage.total_tokens(), 0);
    /// ```
    pub fn new(name: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            model: model.into(),
            ..Self::default()
        }
    }

    /// The stage record of a finished response.
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "hi");
    /// assert_eq!(slm_core::Stage::of("draft", &r).model, "m");
    /// ```
    pub fn of(name: impl Into<String>, response: &ChatResponse) -> Self {
        Self {
            name: name.into(),
            model: response.model.clone(),
            usage: response.usage,
            timings: response.timings,
        }
    }
}

/// The stages of a composed answer as they happen, and the one place their usage and
/// timings are summed: [`DraftRefine`](crate::DraftRefine), [`Fallback`](crate::Fallback) and
/// `slm_rag::RagModel` all put their answers together with it.
///
/// A stage recorded from a response that is itself composed is flattened: its inner stages
/// are kept, named `outer/inner` (`refine/attempt-2`), so every leaf model's share shows.
///
/// ```
/// use std::time::{Duration, Instant};
/// use slm_core::{ChatResponse, Stage, StageLog, Usage};
/// let mut log = StageLog::start();
/// let mut draft = ChatResponse::from_text("small", "draft");
/// draft.usage = Usage::new(10, 5);
/// log.push_response("draft", &draft);
/// let mut inner = ChatResponse::from_text("big", "final");
/// inner.usage = Usage::new(20, 8);
/// inner.stages = vec![Stage::of("attempt-1", &inner)];
/// let refine_started = Instant::now();
/// log.push_response("refine", &inner);
/// let answer = log.finish(inner, refine_started);
/// let names: Vec<_> = answer.stages.iter().map(|s| s.name.as_str()).collect();
/// assert_eq!(names, ["draft", "refine/attempt-1"]);
/// assert_eq!(answer.usage, Usage::new(30, 13));
/// ```
#[derive(Debug, Clone)]
pub struct StageLog {
    started: Instant,
    stages: Vec<Stage>,
}

impl StageLog {
    /// A log whose composition starts now.
    ///
    /// ```
    /// assert!(slm_core::StageLog::start().stages().is_empty());
    /// ```
    pub fn start() -> Self {
        Self::started_at(Instant::now())
    }

    /// A log whose composition started at `started`.
    ///
    /// ```
    /// let t = std::time::Instant::now();
    /// assert_eq!(slm_core::StageLog::started_at(t).started(), t);
    /// ```
    pub fn started_at(started: Instant) -> Self {
        Self {
            started,
            stages: Vec::new(),
        }
    }

    /// When the composition started.
    ///
    /// ```
    /// let log = slm_core::StageLog::start();
    /// assert!(log.started() <= std::time::Instant::now());
    /// ```
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records one stage as it is (a retrieval, a failed attempt...).
    ///
    /// ```
    /// let mut log = slm_core::StageLog::start();
    /// log.push(slm_core::Stage::new("retrieve", "bm25"));
    /// assert_eq!(log.stages()[0].name, "retrieve");
    /// ```
    pub fn push(&mut self, stage: Stage) {
        self.stages.push(stage);
    }

    /// Records a model's answer as stage `name`, or, when the answer is itself composed, its
    /// stages as `name/<inner stage>` (see [`ChatResponse::stages_as`]).
    ///
    /// ```
    /// use slm_core::{ChatResponse, Stage, StageLog};
    /// let mut log = StageLog::start();
    /// let mut nested = ChatResponse::from_text("big", "x");
    /// nested.stages = vec![Stage::new("draft", "small"), Stage::new("refine", "big")];
    /// log.push_response("answer", &nested);
    /// let names: Vec<_> = log.stages().iter().map(|s| s.name.as_str()).collect();
    /// assert_eq!(names, ["answer/draft", "answer/refine"]);
    /// ```
    pub fn push_response(&mut self, name: &str, response: &ChatResponse) {
        self.stages.extend(response.stages_as(name));
    }

    /// The stages recorded so far.
    ///
    /// ```
    /// assert_eq!(slm_core::StageLog::start().stages().len(), 0);
    /// ```
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The usage of all stages so far, summed.
    ///
    /// ```
    /// use slm_core::{ChatResponse, StageLog, Usage};
    /// let mut log = StageLog::start();
    /// let mut r = ChatResponse::from_text("m", "x");
    /// r.usage = Usage::new(3, 1);
    /// log.push_response("a", &r);
    /// log.push_response("b", &r);
    /// assert_eq!(log.usage(), Usage::new(6, 2));
    /// ```
    pub fn usage(&self) -> Usage {
        self.stages
            .iter()
            .map(|s| s.usage)
            .fold(Usage::default(), |a, b| a + b)
    }

    /// The composition's answer: `response` (the answer kept, already recorded as a stage)
    /// with the recorded stages, their summed usage and `prep`, `queue`, `send` and
    /// `prompt_eval` times, its time to first token counted from the composition's start
    /// (`call_started` is when the call that produced `response` began), and the total time
    /// since the start. Token rates stay those of `response`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use slm_core::{ChatResponse, Stage, StageLog};
    /// let started = Instant::now();
    /// let mut log = StageLog::started_at(started);
    /// let mut failed = Stage::new("attempt-1", "a");
    /// failed.timings.total = Duration::from_millis(5);
    /// log.push(failed);
    /// let mut kept = ChatResponse::from_text("b", "ok");
    /// kept.timings.time_to_first_token = Duration::from_millis(2);
    /// log.push_response("attempt-2", &kept);
    /// let answer = log.finish(kept, started + Duration::from_millis(5));
    /// assert_eq!(answer.timings.time_to_first_token, Duration::from_millis(7));
    /// assert_eq!(answer.stages.len(), 2);
    /// ```
    pub fn finish(self, mut response: ChatResponse, call_started: Instant) -> ChatResponse {
        let sum = |f: fn(&Timings) -> Duration| {
            self.stages.iter().map(|s| f(&s.timings)).sum::<Duration>()
        };
        response.usage = self.usage();
        response.timings = Timings {
            prep: sum(|t| t.prep),
            queue: sum(|t| t.queue),
            send: sum(|t| t.send),
            prompt_eval: sum(|t| t.prompt_eval),
            time_to_first_token: call_started.saturating_duration_since(self.started)
                + response.timings.time_to_first_token,
            total: self.started.elapsed(),
            ..response.timings
        };
        response.stages = self.stages;
        response
    }
}

/// A model's answer.
///
/// ```
/// use slm_core::{ChatResponse, FinishReason};
/// let r = ChatResponse::from_text("demo", "Paris");
/// assert_eq!(r.text(), "Paris");
/// assert_eq!(r.finish_reason, FinishReason::Stop);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant message: text and/or tool calls.
    pub message: Message,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Tokens used (summed over stages for compositions).
    pub usage: Usage,
    /// Measured durations (end to end for compositions).
    pub timings: Timings,
    /// Id of the model that produced the final message.
    pub model: String,
    /// For compositions: each model's share, in order. Empty for a single model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Problems found in the message's tool calls (undeclared tools or arguments, missing
    /// required arguments, schema violations), checked against the request's tools. The calls
    /// stay in the message as the model wrote them. Empty when every call is valid, or when the
    /// backend does not check (remote servers validate on their side).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_call_issues: Vec<crate::ToolCallIssue>,
}

impl Default for Message {
    fn default() -> Self {
        Message::assistant("")
    }
}

impl ChatResponse {
    /// A plain text answer with zero usage and timings.
    ///
    /// ```
    /// assert_eq!(slm_core::ChatResponse::from_text("m", "x").model, "m");
    /// ```
    pub fn from_text(model: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            message: Message::assistant(text),
            model: model.into(),
            ..Self::default()
        }
    }

    /// The answer's text.
    ///
    /// ```
    /// assert_eq!(slm_core::ChatResponse::from_text("m", "y").text(), "y");
    /// ```
    pub fn text(&self) -> &str {
        &self.message.content
    }

    /// This response's stages under `name`: itself as one stage, or, for a composition, each of
    /// its stages renamed `name/stage`. Nesting compositions therefore keeps every leaf model's
    /// usage and timings, which is what honest cost and latency reports need.
    ///
    /// ```
    /// use slm_core::{ChatResponse, Stage};
    /// let mut inner = ChatResponse::from_text("big", "x");
    /// inner.stages = vec![Stage::new("attempt-1", "a"), Stage::new("attempt-2", "big")];
    /// let names: Vec<_> = inner.stages_as("refine").into_iter().map(|s| s.name).collect();
    /// assert_eq!(names, ["refine/attempt-1", "refine/attempt-2"]);
    /// assert_eq!(ChatResponse::from_text("m", "y").stages_as("draft")[0].name, "draft");
    /// ```
    pub fn stages_as(&self, name: &str) -> Vec<Stage> {
        if self.stages.is_empty() {
            return vec![Stage::of(name, self)];
        }
        self.stages
            .iter()
            .map(|s| Stage {
                name: format!("{name}/{}", s.name),
                ..s.clone()
            })
            .collect()
    }

    /// The stages of a composed answer, or this response as its single stage.
    ///
    /// ```
    /// let r = slm_core::ChatResponse::from_text("m", "x");
    /// assert_eq!(r.stages_or_self().len(), 1);
    /// ```
    pub fn stages_or_self(&self) -> Vec<Stage> {
        if self.stages.is_empty() {
            vec![Stage::of("answer", self)]
        } else {
            self.stages.clone()
        }
    }
}
