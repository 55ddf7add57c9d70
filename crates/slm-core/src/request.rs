//! What is asked of a model: messages, tools, output format and sampling options.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Message, ToolChoice, ToolSpec};

/// The shape the answer must take.
///
/// ```
/// use slm_core::ResponseFormat;
/// let f = ResponseFormat::json_schema("person", serde_json::json!({"type": "object"}));
/// assert!(matches!(f, ResponseFormat::JsonSchema { strict: true, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// Any JSON object.
    Json,
    /// JSON that validates against `schema`.
    JsonSchema {
        /// A name for the schema (OpenAI requires one).
        name: String,
        /// The JSON schema.
        schema: Value,
        /// Whether the backend must enforce the schema exactly.
        #[serde(default = "yes")]
        strict: bool,
    },
    /// Output constrained by a GBNF grammar (local backends).
    Grammar {
        /// GBNF source whose start rule is `root`.
        gbnf: String,
    },
}

fn yes() -> bool {
    true
}

impl ResponseFormat {
    /// A strict JSON-schema format.
    ///
    /// ```
    /// let f = slm_core::ResponseFormat::json_schema("x", serde_json::json!({"type": "string"}));
    /// assert!(!f.is_text());
    /// ```
    pub fn json_schema(name: impl Into<String>, schema: Value) -> Self {
        Self::JsonSchema {
            name: name.into(),
            schema,
            strict: true,
        }
    }

    /// Whether this is plain text.
    ///
    /// ```
    /// assert!(slm_core::ResponseFormat::Text.is_text());
    /// ```
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text)
    }
}

/// Sampling and length options. `None` means "the backend's default".
///
/// Each field's doc states its range and the default a backend uses when it is unset; values
/// out of range are refused by [`GenerationOptions::validate`], which every backend calls, with
/// a typed [`InvalidOption`]. Penalties look back over generated tokens only.
///
/// ```
/// use slm_core::{DrySampling, GenerationOptions};
/// let o = GenerationOptions::deterministic().with_max_tokens(64);
/// assert_eq!(o.temperature, Some(0.0));
/// assert_eq!(o.seed, Some(42));
/// assert!(o.is_greedy());
///
/// let o = GenerationOptions::default()
///     .with_repeat_penalty(1.1)
///     .with_repeat_last_n(128)
///     .with_presence_penalty(0.5)
///     .with_dry(DrySampling::default());
/// assert!(o.validate().is_ok());
/// assert!(GenerationOptions::default().with_min_p(1.5).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenerationOptions {
    /// Upper bound on generated tokens; at least 1. Default: until the model stops or the
    /// context is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Softmax temperature, `>= 0`; 0 means greedy decoding. Default: 0.8 locally, the
    /// server's otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass, in `(0, 1]` (1 = off). Default: 0.95 locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Keep only the `k` most likely tokens (0 = off). Default: 40 locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Drop tokens below `min_p` × the probability of the most likely one, in `[0, 1]`
    /// (0 = off). Default: 0.05 locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    /// Divides the (positive) logit of every token seen in the last
    /// [`repeat_last_n`](Self::repeat_last_n) tokens; `> 0`, at most 10 (1 = off, 1.1 is a common
    /// choice). Default: 1 (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    /// Subtracted once from the logit of every token seen in the last `repeat_last_n` tokens
    /// (OpenAI's `presence_penalty`), in `[-2, 2]`. Default: 0 (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Subtracted from a token's logit once per time it was seen in the last `repeat_last_n`
    /// tokens (OpenAI's `frequency_penalty`), in `[-2, 2]`. Default: 0 (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// How many of the latest tokens the repeat, presence and frequency penalties look at
    /// (0 turns them off). Default: 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_last_n: Option<u32>,
    /// DRY ("don't repeat yourself") sampling: penalises tokens that would extend a repeated
    /// sequence. Default: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry: Option<DrySampling>,
    /// Random seed, for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Generation stops before any of these strings; they are not part of the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Prompt-lookup speculative decoding (local models): drafts copied from earlier text are
    /// checked in one batch. The answer does not change; only its speed. Default: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_lookup: Option<PromptLookup>,
    /// Reasoning of models that think in a `<think>` section before answering: off, or capped
    /// at a number of tokens. Default: as the model's template decides (usually on, uncapped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
}

/// Whether a reasoning model thinks before it answers, and for how long.
///
/// Off, the chat template is rendered with `enable_thinking = false` (Qwen3, SmolLM3, Granite
/// read it) and a section the prompt opens anyway (DeepSeek-R1 distills) is closed before the
/// answer, as llama.cpp's `--reasoning-budget 0` does. With a budget, local models close the
/// section themselves once it holds that many tokens and go on to the answer; remote servers
/// receive the budget as llama.cpp's server reads it. The reasoning counts toward `max_tokens`.
///
/// ```
/// use slm_core::{GenerationOptions, Thinking};
/// assert!(Thinking::off().is_off());
/// assert!(Thinking::budget(0).is_off());
/// assert_eq!(Thinking::budget(256).budget_tokens, Some(256));
/// let o = GenerationOptions::default().with_thinking(Thinking::off());
/// assert_eq!(o.thinking, Some(Thinking { enabled: false, budget_tokens: None }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thinking {
    /// Whether the model may think at all.
    pub enabled: bool,
    /// Most tokens of reasoning (0 is the same as off). `None`: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

impl Thinking {
    /// No reasoning: the model answers at once.
    ///
    /// ```
    /// assert!(!slm_core::Thinking::off().enabled);
    /// ```
    pub fn off() -> Self {
        Self {
            enabled: false,
            budget_tokens: None,
        }
    }

    /// Reasoning of at most `tokens` tokens (0: none).
    ///
    /// ```
    /// let t = slm_core::Thinking::budget(64);
    /// assert!(t.enabled && !t.is_off());
    /// ```
    pub fn budget(tokens: u32) -> Self {
        Self {
            enabled: true,
            budget_tokens: Some(tokens),
        }
    }

    /// Whether no reasoning at all is wanted (disabled, or a budget of 0).
    ///
    /// ```
    /// assert!(slm_core::Thinking { enabled: true, budget_tokens: Some(0) }.is_off());
    /// ```
    pub fn is_off(&self) -> bool {
        !self.enabled || self.budget_tokens == Some(0)
    }
}

/// Prompt-lookup ("n-gram") speculative decoding: when the last `n` generated tokens
/// (`ngram_max` down to `ngram_min`) appeared earlier in the prompt or the answer, the tokens
/// that followed them there are proposed as a draft of up to `max_draft` tokens, and the model
/// checks the whole draft in one batch. Each drafted position keeps the token the sampler
/// picks from the model's own distribution there, so greedy answers are identical and sampled
/// answers have the same distribution; extraction, JSON and RAG answers that copy spans of the
/// prompt go faster.
///
/// ```
/// let p = slm_core::PromptLookup::default();
/// assert_eq!((p.ngram_min, p.ngram_max, p.max_draft), (2, 4, 8));
/// let o = slm_core::GenerationOptions::default().with_prompt_lookup(p);
/// assert!(o.validate().is_ok());
/// let bad = slm_core::PromptLookup { ngram_min: 3, ngram_max: 2, max_draft: 8 };
/// assert!(slm_core::GenerationOptions::default().with_prompt_lookup(bad).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptLookup {
    /// Shortest n-gram matched, at least 1. Default: 2.
    pub ngram_min: u32,
    /// Longest n-gram matched (tried first), from `ngram_min` to 16. Default: 4.
    pub ngram_max: u32,
    /// Most draft tokens checked per step, 1 to 64. Default: 8.
    pub max_draft: u32,
}

impl Default for PromptLookup {
    fn default() -> Self {
        Self {
            ngram_min: 2,
            ngram_max: 4,
            max_draft: 8,
        }
    }
}

impl PromptLookup {
    fn validate(&self) -> Result<(), InvalidOption> {
        if self.ngram_min == 0 {
            return Err(InvalidOption::new(
                "prompt_lookup.ngram_min",
                0,
                "at least 1",
            ));
        }
        if self.ngram_max < self.ngram_min || self.ngram_max > 16 {
            return Err(InvalidOption::new(
                "prompt_lookup.ngram_max",
                self.ngram_max,
                "from ngram_min to 16",
            ));
        }
        if !(1..=64).contains(&self.max_draft) {
            return Err(InvalidOption::new(
                "prompt_lookup.max_draft",
                self.max_draft,
                "from 1 to 64",
            ));
        }
        Ok(())
    }
}

/// DRY sampling ("don't repeat yourself", as in llama.cpp and text-generation-webui): a token
/// that would extend a sequence already seen `n` tokens long, with `n >= allowed_length`, loses
/// `multiplier × base^(n − allowed_length)` from its logit. Sequence breakers (newlines,
/// punctuation) end the sequences it looks for.
///
/// The defaults are llama.cpp's recommended values.
///
/// ```
/// let dry = slm_core::DrySampling::default();
/// assert_eq!((dry.multiplier, dry.base, dry.allowed_length), (0.8, 1.75, 2));
/// assert_eq!(dry.penalty_last_n, None);
/// assert_eq!(dry.sequence_breakers, ["\n", ":", "\"", "*"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DrySampling {
    /// Strength, finite and `>= 0` (0 = off). Default: 0.8.
    pub multiplier: f32,
    /// Growth of the penalty with the repeated length, finite and `>= 1`. Default: 1.75.
    pub base: f32,
    /// Repeats up to this many tokens go unpenalised, at least 1. Default: 2.
    pub allowed_length: u32,
    /// How many of the latest tokens are searched for repeats (0 = off). Default: `None`, the
    /// whole context.
    pub penalty_last_n: Option<u32>,
    /// Strings that end a repeated sequence: non-empty, without NUL characters (llama.cpp
    /// reads at most 40 bytes of each). Default: `["\n", ":", "\"", "*"]`.
    pub sequence_breakers: Vec<String>,
}

impl Default for DrySampling {
    fn default() -> Self {
        Self {
            multiplier: 0.8,
            base: 1.75,
            allowed_length: 2,
            penalty_last_n: None,
            sequence_breakers: ["\n", ":", "\"", "*"].map(String::from).to_vec(),
        }
    }
}

impl DrySampling {
    /// DRY with this multiplier and the other defaults.
    ///
    /// ```
    /// assert_eq!(slm_core::DrySampling::with_multiplier(1.2).multiplier, 1.2);
    /// ```
    pub fn with_multiplier(multiplier: f32) -> Self {
        Self {
            multiplier,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), InvalidOption> {
        check("dry.multiplier", self.multiplier, "finite and >= 0", |m| {
            m >= 0.0
        })?;
        check("dry.base", self.base, "finite and >= 1", |b| b >= 1.0)?;
        if self.allowed_length == 0 {
            return Err(InvalidOption::new("dry.allowed_length", 0, "at least 1"));
        }
        if let Some(bad) = self
            .sequence_breakers
            .iter()
            .find(|b| b.is_empty() || b.contains('\0'))
        {
            return Err(InvalidOption::new(
                "dry.sequence_breakers",
                format!("{bad:?}"),
                "non-empty strings without NUL characters",
            ));
        }
        Ok(())
    }
}

/// A [`GenerationOptions`] value out of its range.
///
/// ```
/// let err = slm_core::GenerationOptions::default().with_top_p(0.0).validate().unwrap_err();
/// assert_eq!(err.option, "top_p");
/// assert_eq!(err.to_string(), "top_p must be in (0, 1], got 0");
/// let core: slm_core::Error = err.into();
/// assert!(matches!(core, slm_core::Error::InvalidRequest(..)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} must be {expected}, got {value}")]
pub struct InvalidOption {
    /// The option's name (`top_p`, `dry.base`, ...).
    pub option: &'static str,
    /// The value given.
    pub value: String,
    /// The allowed range.
    pub expected: &'static str,
}

impl InvalidOption {
    fn new(option: &'static str, value: impl ToString, expected: &'static str) -> Self {
        Self {
            option,
            value: value.to_string(),
            expected,
        }
    }
}

impl From<InvalidOption> for crate::Error {
    fn from(e: InvalidOption) -> Self {
        crate::Error::InvalidRequest(e.to_string(), None).with_source(e)
    }
}

/// `Ok` when `value` is finite and `ok(value)` holds.
fn check(
    option: &'static str,
    value: f32,
    expected: &'static str,
    ok: impl Fn(f32) -> bool,
) -> Result<(), InvalidOption> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(InvalidOption::new(option, value, expected))
    }
}

/// [`check`] for an option that may be unset.
fn check_opt(
    option: &'static str,
    value: Option<f32>,
    expected: &'static str,
    ok: impl Fn(f32) -> bool,
) -> Result<(), InvalidOption> {
    value.map_or(Ok(()), |v| check(option, v, expected, ok))
}

impl GenerationOptions {
    /// Greedy decoding: temperature 0, seed 42 (the SLM Swap evaluation's default).
    ///
    /// ```
    /// assert!(slm_core::GenerationOptions::deterministic().is_greedy());
    /// ```
    pub fn deterministic() -> Self {
        Self {
            temperature: Some(0.0),
            top_p: Some(1.0),
            seed: Some(42),
            ..Self::default()
        }
    }

    /// Whether decoding is greedy (temperature is 0).
    ///
    /// ```
    /// assert!(!slm_core::GenerationOptions::default().is_greedy());
    /// ```
    pub fn is_greedy(&self) -> bool {
        self.temperature.is_some_and(|t| t <= 0.0)
    }

    /// Checks every set option against the range its doc states.
    ///
    /// ```
    /// use slm_core::GenerationOptions;
    /// assert!(GenerationOptions::deterministic().validate().is_ok());
    /// let err = GenerationOptions::default().with_presence_penalty(3.0).validate().unwrap_err();
    /// assert_eq!(err.option, "presence_penalty");
    /// ```
    pub fn validate(&self) -> Result<(), InvalidOption> {
        if self.max_tokens == Some(0) {
            return Err(InvalidOption::new("max_tokens", 0, "at least 1"));
        }
        check_opt("temperature", self.temperature, "finite and >= 0", |t| {
            t >= 0.0
        })?;
        check_opt("top_p", self.top_p, "in (0, 1]", |p| p > 0.0 && p <= 1.0)?;
        check_opt("min_p", self.min_p, "in [0, 1]", |p| {
            (0.0..=1.0).contains(&p)
        })?;
        check_opt("repeat_penalty", self.repeat_penalty, "in (0, 10]", |r| {
            r > 0.0 && r <= 10.0
        })?;
        let openai_range = |p: f32| (-2.0..=2.0).contains(&p);
        check_opt(
            "presence_penalty",
            self.presence_penalty,
            "in [-2, 2]",
            openai_range,
        )?;
        check_opt(
            "frequency_penalty",
            self.frequency_penalty,
            "in [-2, 2]",
            openai_range,
        )?;
        if let Some(n) = self.repeat_last_n
            && n > i32::MAX as u32
        {
            return Err(InvalidOption::new("repeat_last_n", n, "at most 2^31 - 1"));
        }
        self.dry.as_ref().map_or(Ok(()), DrySampling::validate)?;
        self.prompt_lookup
            .as_ref()
            .map_or(Ok(()), PromptLookup::validate)
    }

    /// Sets [`thinking`](Self::thinking).
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_thinking(slm_core::Thinking::budget(32));
    /// assert_eq!(o.thinking.and_then(|t| t.budget_tokens), Some(32));
    /// ```
    pub fn with_thinking(mut self, thinking: Thinking) -> Self {
        self.thinking = Some(thinking);
        self
    }

    /// Sets `max_tokens`.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_max_tokens(8);
    /// assert_eq!(o.max_tokens, Some(8));
    /// ```
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the temperature.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_temperature(0.7);
    /// assert_eq!(o.temperature, Some(0.7));
    /// ```
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the nucleus sampling mass.
    ///
    /// ```
    /// assert_eq!(slm_core::GenerationOptions::default().with_top_p(0.9).top_p, Some(0.9));
    /// ```
    pub fn with_top_p(mut self, top_p: f32) -> Self {
        self.top_p = Some(top_p);
        self
    }

    /// Sets top-k (0 = off).
    ///
    /// ```
    /// assert_eq!(slm_core::GenerationOptions::default().with_top_k(20).top_k, Some(20));
    /// ```
    pub fn with_top_k(mut self, top_k: u32) -> Self {
        self.top_k = Some(top_k);
        self
    }

    /// Sets min-p (0 = off).
    ///
    /// ```
    /// assert_eq!(slm_core::GenerationOptions::default().with_min_p(0.1).min_p, Some(0.1));
    /// ```
    pub fn with_min_p(mut self, min_p: f32) -> Self {
        self.min_p = Some(min_p);
        self
    }

    /// Sets the repeat penalty (1 = off).
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_repeat_penalty(1.1);
    /// assert_eq!(o.repeat_penalty, Some(1.1));
    /// ```
    pub fn with_repeat_penalty(mut self, penalty: f32) -> Self {
        self.repeat_penalty = Some(penalty);
        self
    }

    /// Sets the presence penalty (0 = off).
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_presence_penalty(0.6);
    /// assert_eq!(o.presence_penalty, Some(0.6));
    /// ```
    pub fn with_presence_penalty(mut self, penalty: f32) -> Self {
        self.presence_penalty = Some(penalty);
        self
    }

    /// Sets the frequency penalty (0 = off).
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_frequency_penalty(0.3);
    /// assert_eq!(o.frequency_penalty, Some(0.3));
    /// ```
    pub fn with_frequency_penalty(mut self, penalty: f32) -> Self {
        self.frequency_penalty = Some(penalty);
        self
    }

    /// Sets how many tokens the repeat, presence and frequency penalties look back over.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_repeat_last_n(256);
    /// assert_eq!(o.repeat_last_n, Some(256));
    /// ```
    pub fn with_repeat_last_n(mut self, tokens: u32) -> Self {
        self.repeat_last_n = Some(tokens);
        self
    }

    /// Turns DRY sampling on.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_dry(slm_core::DrySampling::default());
    /// assert_eq!(o.dry.unwrap().multiplier, 0.8);
    /// ```
    pub fn with_dry(mut self, dry: DrySampling) -> Self {
        self.dry = Some(dry);
        self
    }

    /// Turns prompt-lookup speculative decoding on.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_prompt_lookup(slm_core::PromptLookup::default());
    /// assert_eq!(o.prompt_lookup.unwrap().max_draft, 8);
    /// ```
    pub fn with_prompt_lookup(mut self, lookup: PromptLookup) -> Self {
        self.prompt_lookup = Some(lookup);
        self
    }

    /// Sets the seed.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_seed(7);
    /// assert_eq!(o.seed, Some(7));
    /// ```
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Adds a stop string.
    ///
    /// ```
    /// let o = slm_core::GenerationOptions::default().with_stop("\n\n");
    /// assert_eq!(o.stop, vec!["\n\n".to_string()]);
    /// ```
    pub fn with_stop(mut self, stop: impl Into<String>) -> Self {
        self.stop.push(stop.into());
        self
    }
}

/// A request to a [`ChatModel`](crate::ChatModel).
///
/// ```
/// use slm_core::{ChatRequest, GenerationOptions};
/// let req = ChatRequest::builder()
///     .system("Answer in one word.")
///     .user("Capital of France?")
///     .options(GenerationOptions::deterministic())
///     .build();
/// assert_eq!(req.messages.len(), 2);
/// assert_eq!(req.last_user_text(), Some("Capital of France?"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool must be called.
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Whether one answer may hold several tool calls (OpenAI's `parallel_tool_calls`).
    /// `Some(false)`: at most one call (exactly one when a call is forced); `Some(true)` or
    /// `None` (the backend's default): local models allow up to four forced calls, remote
    /// servers decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// The shape of the answer.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Sampling and length options.
    #[serde(default)]
    pub options: GenerationOptions,
}

impl ChatRequest {
    /// A request with these messages and defaults for everything else.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::new(vec![slm_core::Message::user("hi")]);
    /// assert!(req.tools.is_empty());
    /// ```
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// A builder.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().user("hi").build();
    /// assert_eq!(req.messages.len(), 1);
    /// ```
    pub fn builder() -> ChatRequestBuilder {
        ChatRequestBuilder::default()
    }

    /// The text of the last user message, if any.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().user("a").assistant("b").user("c").build();
    /// assert_eq!(req.last_user_text(), Some("c"));
    /// ```
    pub fn last_user_text(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == crate::Role::User)
            .map(|m| m.content.as_str())
    }

    /// Finds a declared tool by name.
    ///
    /// ```
    /// use slm_core::{ChatRequest, ToolSpec};
    /// let req = ChatRequest::builder()
    ///     .user("hi")
    ///     .tool(ToolSpec::new("f", "", serde_json::json!({"type": "object"})))
    ///     .build();
    /// assert!(req.tool("f").is_some());
    /// assert!(req.tool("g").is_none());
    /// ```
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Builds a [`ChatRequest`] step by step.
///
/// ```
/// use slm_core::{ChatRequest, ResponseFormat, ToolChoice};
/// let req = ChatRequest::builder()
///     .user("Give me a person as JSON")
///     .response_format(ResponseFormat::Json)
///     .tool_choice(ToolChoice::None)
///     .max_tokens(32)
///     .build();
/// assert_eq!(req.options.max_tokens, Some(32));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChatRequestBuilder {
    request: ChatRequest,
}

impl ChatRequestBuilder {
    /// Appends a message.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().message(slm_core::Message::user("x")).build();
    /// assert_eq!(req.messages.len(), 1);
    /// ```
    pub fn message(mut self, message: Message) -> Self {
        self.request.messages.push(message);
        self
    }

    /// Appends messages.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().messages(vec![slm_core::Message::user("x")]).build();
    /// assert_eq!(req.messages.len(), 1);
    /// ```
    pub fn messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.request.messages.extend(messages);
        self
    }

    /// Appends a system message.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().system("s").build();
    /// assert_eq!(req.messages[0].role, slm_core::Role::System);
    /// ```
    pub fn system(self, content: impl Into<String>) -> Self {
        self.message(Message::system(content))
    }

    /// Appends a user message.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().user("u").build();
    /// assert_eq!(req.messages[0].role, slm_core::Role::User);
    /// ```
    pub fn user(self, content: impl Into<String>) -> Self {
        self.message(Message::user(content))
    }

    /// Appends an assistant message.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().assistant("a").build();
    /// assert_eq!(req.messages[0].role, slm_core::Role::Assistant);
    /// ```
    pub fn assistant(self, content: impl Into<String>) -> Self {
        self.message(Message::assistant(content))
    }

    /// Declares a tool.
    ///
    /// ```
    /// let t = slm_core::ToolSpec::new("f", "", serde_json::json!({"type": "object"}));
    /// let req = slm_core::ChatRequest::builder().tool(t).build();
    /// assert_eq!(req.tools.len(), 1);
    /// ```
    pub fn tool(mut self, tool: ToolSpec) -> Self {
        self.request.tools.push(tool);
        self
    }

    /// Declares tools.
    ///
    /// ```
    /// let t = slm_core::ToolSpec::new("f", "", serde_json::json!({"type": "object"}));
    /// let req = slm_core::ChatRequest::builder().tools(vec![t.clone(), t]).build();
    /// assert_eq!(req.tools.len(), 2);
    /// ```
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolSpec>) -> Self {
        self.request.tools.extend(tools);
        self
    }

    /// Sets the tool choice.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().tool_choice(slm_core::ToolChoice::Required).build();
    /// assert_eq!(req.tool_choice, slm_core::ToolChoice::Required);
    /// ```
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.request.tool_choice = choice;
        self
    }

    /// Allows or forbids several tool calls in one answer.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().parallel_tool_calls(false).build();
    /// assert_eq!(req.parallel_tool_calls, Some(false));
    /// let old: slm_core::ChatRequest = serde_json::from_str(r#"{"messages": []}"#).unwrap();
    /// assert_eq!(old.parallel_tool_calls, None);
    /// ```
    pub fn parallel_tool_calls(mut self, parallel: bool) -> Self {
        self.request.parallel_tool_calls = Some(parallel);
        self
    }

    /// Sets the response format.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().response_format(slm_core::ResponseFormat::Json).build();
    /// assert_eq!(req.response_format, slm_core::ResponseFormat::Json);
    /// ```
    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.request.response_format = format;
        self
    }

    /// Sets the generation options.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder()
    ///     .options(slm_core::GenerationOptions::deterministic())
    ///     .build();
    /// assert_eq!(req.options.seed, Some(42));
    /// ```
    pub fn options(mut self, options: GenerationOptions) -> Self {
        self.request.options = options;
        self
    }

    /// Sets `max_tokens` in the options.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().max_tokens(5).build();
    /// assert_eq!(req.options.max_tokens, Some(5));
    /// ```
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.request.options.max_tokens = Some(max_tokens);
        self
    }

    /// Finishes the request.
    ///
    /// ```
    /// let req = slm_core::ChatRequest::builder().build();
    /// assert!(req.messages.is_empty());
    /// ```
    pub fn build(self) -> ChatRequest {
        self.request
    }
}
