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
/// ```
/// use slm_core::GenerationOptions;
/// let o = GenerationOptions::deterministic().with_max_tokens(64);
/// assert_eq!(o.temperature, Some(0.0));
/// assert_eq!(o.seed, Some(42));
/// assert!(o.is_greedy());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenerationOptions {
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Softmax temperature; 0 means greedy decoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Keep only the `k` most likely tokens (0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Drop tokens below `min_p` × the probability of the most likely one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    /// Penalty on recently generated tokens (1.0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    /// Random seed, for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Generation stops before any of these strings; they are not part of the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

impl GenerationOptions {
    /// Greedy decoding: temperature 0, seed 42 (the evaluation default of seed 002).
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
