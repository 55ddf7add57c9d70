//! OpenAI's chat-completions JSON as `slm serve` reads and writes it, and its mapping to and
//! from slm-core's types. (slm-remote's `mapping.rs` maps the other way, for the client side.)
//!
//! Besides OpenAI's fields, requests may carry llama.cpp server's sampling extensions (`top_k`,
//! `min_p`, `repeat_penalty`, `repeat_last_n`, `dry_*`, `grammar`), which slm-remote sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slm_core::{
    ChatRequest, ChatResponse, DrySampling, FinishReason, GenerationOptions, Message,
    ResponseFormat, Role, Timings, ToolCall, ToolChoice, ToolSpec, Usage,
};

use super::errors::ApiError;

/// `POST /v1/chat/completions`'s body.
#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model's name; absent means the server's first model.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    response_format: Option<WireResponseFormat>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    presence_penalty: Option<f32>,
    #[serde(default)]
    frequency_penalty: Option<f32>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    logprobs: Option<bool>,
    #[serde(default)]
    logit_bias: Option<serde_json::Map<String, Value>>,
    // llama.cpp server's extensions.
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    min_p: Option<f32>,
    #[serde(default)]
    repeat_penalty: Option<f32>,
    #[serde(default)]
    repeat_last_n: Option<u32>,
    #[serde(default)]
    dry_multiplier: Option<f32>,
    #[serde(default)]
    dry_base: Option<f32>,
    #[serde(default)]
    dry_allowed_length: Option<u32>,
    #[serde(default)]
    dry_penalty_last_n: Option<i64>,
    #[serde(default)]
    dry_sequence_breakers: Option<Vec<String>>,
    #[serde(default)]
    grammar: Option<String>,
    // slm's extension: prompt-lookup speculative decoding, `true` or
    // `{"ngram_min", "ngram_max", "max_draft"}`.
    #[serde(default)]
    prompt_lookup: Option<PromptLookupParam>,
    // Thinking, as llama.cpp's server and vLLM take it: the template's `enable_thinking`,
    // and a budget of reasoning tokens (-1: no cap, 0: no thinking).
    #[serde(default)]
    chat_template_kwargs: Option<serde_json::Map<String, Value>>,
    #[serde(default, alias = "reasoning_budget_tokens")]
    thinking_budget_tokens: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PromptLookupParam {
    On(bool),
    With(slm_core::PromptLookup),
}

impl PromptLookupParam {
    fn lookup(self) -> Option<slm_core::PromptLookup> {
        match self {
            PromptLookupParam::On(on) => on.then(slm_core::PromptLookup::default),
            PromptLookupParam::With(lookup) => Some(lookup),
        }
    }
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// One message of the conversation, as sent.
#[derive(Debug, Deserialize)]
pub struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

/// A message's content: a string or an array of parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    function: WireFunctionCall,
}

#[derive(Debug, Deserialize)]
struct WireFunctionCall {
    name: String,
    /// JSON text (OpenAI); an object is accepted too.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireTool {
    #[serde(rename = "type")]
    kind: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireToolChoice {
    Mode(String),
    Named {
        #[serde(rename = "type")]
        kind: String,
        function: FunctionName,
    },
}

#[derive(Debug, Deserialize)]
struct FunctionName {
    name: String,
}

#[derive(Debug, Deserialize)]
struct WireResponseFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    json_schema: Option<WireJsonSchema>,
    /// llama-cpp-python's `{"type": "json_object", "schema": …}`.
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct WireJsonSchema {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

/// How the answer is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Server-sent events rather than one JSON body.
    pub stream: bool,
    /// A last chunk with the usage (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<ChatCompletionRequest, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(format!("the body is not a chat completion request: {e}"))
    })
}

impl ChatCompletionRequest {
    /// The slm request and how to deliver its answer.
    pub fn into_chat(self) -> Result<(ChatRequest, Delivery), ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::invalid_param("n", "only n = 1 is supported"));
        }
        if self.logprobs == Some(true) {
            return Err(ApiError::invalid_param(
                "logprobs",
                "logprobs are not supported",
            ));
        }
        if self.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
            return Err(ApiError::invalid_param(
                "logit_bias",
                "logit_bias is not supported",
            ));
        }
        if self.messages.is_empty() {
            return Err(ApiError::invalid_param(
                "messages",
                "messages must not be empty",
            ));
        }
        let messages = self
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.into_message(i))
            .collect::<Result<Vec<_>, _>>()?;
        let tools = self
            .tools
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.into_spec(i))
            .collect::<Result<Vec<_>, _>>()?;
        let tool_choice = tool_choice(self.tool_choice, &tools)?;
        let mut response_format = match self.response_format {
            Some(format) => format.into_format()?,
            None => ResponseFormat::Text,
        };
        if let Some(gbnf) = self.grammar {
            if !response_format.is_text() {
                return Err(ApiError::invalid_param(
                    "grammar",
                    "grammar and response_format cannot be used together",
                ));
            }
            response_format = ResponseFormat::Grammar { gbnf };
        }
        let dry = dry(
            self.dry_multiplier,
            self.dry_base,
            self.dry_allowed_length,
            self.dry_penalty_last_n,
            self.dry_sequence_breakers,
        )?;
        let stop = match self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        };
        let options = GenerationOptions {
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            repeat_last_n: self.repeat_last_n,
            dry,
            seed: self.seed,
            stop: stop.into_iter().filter(|s| !s.is_empty()).collect(),
            prompt_lookup: self.prompt_lookup.and_then(PromptLookupParam::lookup),
            thinking: thinking(self.chat_template_kwargs, self.thinking_budget_tokens)?,
        };
        options
            .validate()
            .map_err(|e| ApiError::invalid_param(e.option, e.to_string()))?;
        let stream = self.stream.unwrap_or(false);
        let delivery = Delivery {
            stream,
            include_usage: stream
                && self
                    .stream_options
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false),
        };
        let request = ChatRequest {
            messages,
            tools,
            tool_choice,
            parallel_tool_calls: self.parallel_tool_calls,
            response_format,
            options,
        };
        Ok((request, delivery))
    }
}

impl WireMessage {
    fn into_message(self, index: usize) -> Result<Message, ApiError> {
        let at = |field: &str| format!("messages[{index}].{field}");
        let content = match self.content {
            None => String::new(),
            Some(content) => content
                .into_text()
                .map_err(|e| e.with_param(at("content")))?,
        };
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(ApiError::invalid_param(
                    at("role"),
                    format!(
                        "unknown role `{other}`: expected system, developer, user, assistant or tool"
                    ),
                ));
            }
        };
        let mut message = Message::new(role, content);
        if let Some(calls) = self.tool_calls {
            if role != Role::Assistant {
                return Err(ApiError::invalid_param(
                    at("tool_calls"),
                    "only assistant messages carry tool_calls",
                ));
            }
            message.tool_calls = calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| c.into_call(i).map_err(|e| e.with_param(at("tool_calls"))))
                .collect::<Result<_, _>>()?;
        }
        if role == Role::Tool {
            let id = self
                .tool_call_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid_param(at("tool_call_id"), "a tool message needs tool_call_id")
                })?;
            message.tool_call_id = Some(id);
        }
        Ok(message)
    }
}

impl Content {
    fn into_text(self) -> Result<String, ApiError> {
        match self {
            Content::Text(text) => Ok(text),
            Content::Parts(parts) => {
                let mut texts = Vec::with_capacity(parts.len());
                for part in parts {
                    match (part.kind.as_str(), part.text) {
                        ("text", Some(text)) => texts.push(text),
                        ("text", None) => {
                            return Err(ApiError::bad_request("a text content part needs `text`"));
                        }
                        (other, _) => {
                            return Err(ApiError::bad_request(format!(
                                "content parts of type `{other}` are not supported: this server \
                                 runs text models"
                            )));
                        }
                    }
                }
                Ok(texts.join("\n"))
            }
        }
    }
}

impl WireToolCall {
    fn into_call(self, index: usize) -> Result<ToolCall, ApiError> {
        if let Some(kind) = self.kind.as_deref()
            && kind != "function"
        {
            return Err(ApiError::bad_request(format!(
                "tool call {index} has type `{kind}`; only `function` is supported"
            )));
        }
        let arguments = match self.function.arguments {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(Value::String(raw)) if raw.trim().is_empty() => Value::Object(Default::default()),
            // Arguments that are not JSON stay as the text the model wrote.
            Some(Value::String(raw)) => serde_json::from_str(&raw).unwrap_or(Value::String(raw)),
            Some(other) => other,
        };
        Ok(ToolCall::new(
            self.id.unwrap_or_else(|| format!("call_{index}")),
            self.function.name,
            arguments,
        ))
    }
}

impl WireTool {
    fn into_spec(self, index: usize) -> Result<ToolSpec, ApiError> {
        if self.kind != "function" {
            return Err(ApiError::invalid_param(
                format!("tools[{index}].type"),
                format!(
                    "tools of type `{}` are not supported; use `function`",
                    self.kind
                ),
            ));
        }
        if self.function.name.is_empty() {
            return Err(ApiError::invalid_param(
                format!("tools[{index}].function.name"),
                "a tool needs a name",
            ));
        }
        let parameters = match self.function.parameters {
            None | Some(Value::Null) => serde_json::json!({"type": "object", "properties": {}}),
            Some(schema @ Value::Object(_)) => schema,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    format!("tools[{index}].function.parameters"),
                    "parameters must be a JSON schema object",
                ));
            }
        };
        Ok(ToolSpec::new(
            self.function.name,
            self.function.description.unwrap_or_default(),
            parameters,
        ))
    }
}

fn tool_choice(choice: Option<WireToolChoice>, tools: &[ToolSpec]) -> Result<ToolChoice, ApiError> {
    let choice = match choice {
        None => return Ok(ToolChoice::Auto),
        Some(WireToolChoice::Mode(mode)) => match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!(
                        "unknown tool_choice `{other}`: expected none, auto, required or a function"
                    ),
                ));
            }
        },
        Some(WireToolChoice::Named { kind, function }) => {
            if kind != "function" {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!("tool_choice of type `{kind}` is not supported; use `function`"),
                ));
            }
            if !tools.iter().any(|t| t.name == function.name) {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    format!(
                        "tool_choice names `{}`, which tools does not declare",
                        function.name
                    ),
                ));
            }
            ToolChoice::Named(function.name)
        }
    };
    if tools.is_empty() && matches!(choice, ToolChoice::Required | ToolChoice::Named(_)) {
        return Err(ApiError::invalid_param(
            "tool_choice",
            "tool_choice asks for a tool call but the request declares no tools",
        ));
    }
    Ok(choice)
}

impl WireResponseFormat {
    fn into_format(self) -> Result<ResponseFormat, ApiError> {
        match self.kind.as_str() {
            "text" => Ok(ResponseFormat::Text),
            "json_object" => match self.schema {
                None | Some(Value::Null) => Ok(ResponseFormat::Json),
                Some(schema) => Ok(ResponseFormat::json_schema(
                    "response",
                    checked_schema(schema, "response_format.schema")?,
                )),
            },
            "json_schema" => {
                let spec = self.json_schema.ok_or_else(|| {
                    ApiError::invalid_param(
                        "response_format.json_schema",
                        "response_format of type json_schema needs `json_schema`",
                    )
                })?;
                let Some(schema) = spec.schema.filter(|s| !s.is_null()) else {
                    return Ok(ResponseFormat::Json);
                };
                Ok(ResponseFormat::JsonSchema {
                    name: spec.name.unwrap_or_else(|| "response".into()),
                    schema: checked_schema(schema, "response_format.json_schema.schema")?,
                    strict: spec.strict.unwrap_or(false),
                })
            }
            other => Err(ApiError::invalid_param(
                "response_format.type",
                format!(
                    "unknown response_format `{other}`: expected text, json_object or json_schema"
                ),
            )),
        }
    }
}

/// The request's thinking option from `chat_template_kwargs.enable_thinking` and
/// `thinking_budget_tokens`; other template variables are refused (the server renders the
/// model's template with the variables it knows).
fn thinking(
    kwargs: Option<serde_json::Map<String, Value>>,
    budget: Option<i64>,
) -> Result<Option<slm_core::Thinking>, ApiError> {
    let mut enabled = None;
    for (key, value) in kwargs.unwrap_or_default() {
        match (key.as_str(), value) {
            ("enable_thinking", Value::Bool(on)) => enabled = Some(on),
            ("enable_thinking", _) => {
                return Err(ApiError::invalid_param(
                    "chat_template_kwargs.enable_thinking",
                    "chat_template_kwargs.enable_thinking must be true or false",
                ));
            }
            (other, _) => {
                return Err(ApiError::invalid_param(
                    format!("chat_template_kwargs.{other}"),
                    format!(
                        "chat_template_kwargs.{other} is not supported (only enable_thinking is)"
                    ),
                ));
            }
        }
    }
    let budget_tokens = match budget {
        None | Some(-1) => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            ApiError::invalid_param(
                "thinking_budget_tokens",
                format!(
                    "thinking_budget_tokens must be -1 (no cap) or from 0 to 2^32 - 1, got {n}"
                ),
            )
        })?),
    };
    if enabled.is_none() && budget_tokens.is_none() {
        return Ok(None);
    }
    Ok(Some(slm_core::Thinking {
        enabled: enabled.unwrap_or(true),
        budget_tokens,
    }))
}

fn checked_schema(schema: Value, param: &str) -> Result<Value, ApiError> {
    if schema.is_object() || schema.is_boolean() {
        Ok(schema)
    } else {
        Err(ApiError::invalid_param(
            param,
            "a JSON schema must be an object",
        ))
    }
}

/// DRY sampling from llama.cpp's fields; `None` when none is set.
fn dry(
    multiplier: Option<f32>,
    base: Option<f32>,
    allowed_length: Option<u32>,
    penalty_last_n: Option<i64>,
    breakers: Option<Vec<String>>,
) -> Result<Option<DrySampling>, ApiError> {
    if multiplier.is_none()
        && base.is_none()
        && allowed_length.is_none()
        && penalty_last_n.is_none()
        && breakers.is_none()
    {
        return Ok(None);
    }
    let mut dry = DrySampling::default();
    if let Some(m) = multiplier {
        dry.multiplier = m;
    }
    if let Some(b) = base {
        dry.base = b;
    }
    if let Some(a) = allowed_length {
        dry.allowed_length = a;
    }
    dry.penalty_last_n = match penalty_last_n {
        None | Some(-1) => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            ApiError::invalid_param(
                "dry_penalty_last_n",
                "dry_penalty_last_n must be -1 or >= 0",
            )
        })?),
    };
    if let Some(b) = breakers {
        dry.sequence_breakers = b;
    }
    Ok(Some(dry))
}

/// What every response and chunk of one request shares: its id, creation time and model.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `chatcmpl-…`.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model's name.
    pub model: String,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Envelope {
    /// A fresh envelope for a request to `model`.
    pub fn new(model: &str) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Self {
            id: format!("chatcmpl-{:x}{:06x}", now.as_micros(), n & 0xff_ffff),
            created: now.as_secs(),
            model: model.to_string(),
        }
    }
}

/// The server's build, for `system_fingerprint`.
pub const FINGERPRINT: &str = concat!("slm-", env!("CARGO_PKG_VERSION"));

/// A whole (non-streamed) answer.
#[derive(Debug, Serialize)]
pub struct ChatCompletion {
    id: String,
    object: &'static str,
    created: u64,
    model: String,
    system_fingerprint: &'static str,
    choices: Vec<Choice>,
    usage: WireUsage,
    /// slm's measured timings (an extension, like llama-server's `timings`).
    timings: Timings,
}

#[derive(Debug, Serialize)]
struct Choice {
    index: u32,
    message: ResponseMessage,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
struct ResponseMessage {
    role: &'static str,
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut>,
    refusal: Option<String>,
    /// The model's reasoning, where llama-server and DeepSeek's API put it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
}

#[derive(Debug, Serialize)]
struct ToolCallOut {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut,
}

#[derive(Debug, Serialize)]
struct FunctionOut {
    name: String,
    arguments: String,
}

/// Token counts in OpenAI's shape.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WireUsage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptTokensDetails,
}

/// The prompt tokens served from the prompt cache.
#[derive(Debug, Clone, Copy, Serialize)]
struct PromptTokensDetails {
    cached_tokens: u32,
}

impl From<Usage> for WireUsage {
    fn from(u: Usage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens(),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: u.cached_prompt_tokens,
            },
        }
    }
}

/// OpenAI's name of a finish reason.
pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// A call's id on the wire: its own, or one made from the request's and its index.
fn call_id(envelope: &Envelope, id: &str, index: usize) -> String {
    if id.is_empty() {
        format!("call_{}_{index}", &envelope.id["chatcmpl-".len()..])
    } else {
        id.to_string()
    }
}

/// Arguments as JSON text; arguments kept as unparsed text go back as written.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

impl ChatCompletion {
    /// The answer to send for `response`.
    pub fn new(envelope: &Envelope, response: ChatResponse) -> Self {
        let calls: Vec<ToolCallOut> = response
            .message
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| ToolCallOut {
                id: call_id(envelope, &c.id, i),
                kind: "function",
                function: FunctionOut {
                    name: c.name.clone(),
                    arguments: arguments_text(&c.arguments),
                },
            })
            .collect();
        let content = response.message.content;
        let content = (!content.is_empty() || calls.is_empty()).then_some(content);
        Self {
            id: envelope.id.clone(),
            object: "chat.completion",
            created: envelope.created,
            model: envelope.model.clone(),
            system_fingerprint: FINGERPRINT,
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant",
                    content,
                    tool_calls: calls,
                    refusal: None,
                    reasoning_content: response.message.reasoning,
                },
                logprobs: None,
                finish_reason: finish_reason(response.finish_reason),
            }],
            usage: response.usage.into(),
            timings: response.timings,
        }
    }
}

/// One `chat.completion.chunk` of a stream.
#[derive(Debug, Serialize)]
pub struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice>,
    /// Absent unless usage was asked for; then `null` on every chunk but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<WireUsage>>,
}

#[derive(Debug, Serialize)]
struct ChunkChoice {
    index: u32,
    delta: Delta,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// What a chunk adds to the answer.
#[derive(Debug, Default, Serialize)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    /// The model's reasoning, as llama-server and DeepSeek's API stream it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallChunk>,
}

#[derive(Debug, Serialize)]
struct ToolCallChunk {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionChunk,
}

#[derive(Debug, Serialize)]
struct FunctionChunk {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    arguments: String,
}

impl Delta {
    /// The first delta: the role.
    pub fn role() -> Self {
        Self {
            role: Some("assistant"),
            content: Some(String::new()),
            ..Self::default()
        }
    }

    /// A piece of text.
    pub fn text(text: String) -> Self {
        Self {
            content: Some(text),
            ..Self::default()
        }
    }

    /// A piece of reasoning (`reasoning_content`).
    pub fn reasoning(text: String) -> Self {
        Self {
            reasoning_content: Some(text),
            ..Self::default()
        }
    }

    /// A piece of tool call `index`: its id and name come with its first piece.
    pub fn tool_call(
        envelope: &Envelope,
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    ) -> Self {
        let id = match (id, &name) {
            (Some(id), _) => Some(call_id(envelope, &id, index)),
            (None, Some(_)) => Some(call_id(envelope, "", index)),
            (None, None) => None,
        };
        Self {
            tool_calls: vec![ToolCallChunk {
                index,
                kind: id.as_ref().map(|_| "function"),
                id,
                function: FunctionChunk { name, arguments },
            }],
            ..Self::default()
        }
    }

    /// Whole tool call `index`, for calls the stream did not deliver piece by piece.
    pub fn whole_call(envelope: &Envelope, index: usize, call: &ToolCall) -> Self {
        Self::tool_call(
            envelope,
            index,
            Some(call.id.clone()),
            Some(call.name.clone()),
            arguments_text(&call.arguments),
        )
    }
}

impl<'a> Chunk<'a> {
    /// A chunk carrying `delta`, and `finish` on the last one.
    pub fn delta(
        envelope: &'a Envelope,
        delta: Delta,
        finish: Option<&'static str>,
        include_usage: bool,
    ) -> Self {
        Self {
            id: &envelope.id,
            object: "chat.completion.chunk",
            created: envelope.created,
            model: &envelope.model,
            system_fingerprint: FINGERPRINT,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
            }],
            usage: include_usage.then_some(None),
        }
    }

    /// The usage chunk after the last choice chunk (no choices).
    pub fn usage(envelope: &'a Envelope, usage: Usage) -> Self {
        Self {
            id: &envelope.id,
            object: "chat.completion.chunk",
            created: envelope.created,
            model: &envelope.model,
            system_fingerprint: FINGERPRINT,
            choices: Vec::new(),
            usage: Some(Some(usage.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chat(body: Value) -> Result<(ChatRequest, Delivery), ApiError> {
        parse(body.to_string().as_bytes())?.into_chat()
    }

    #[test]
    fn a_full_request_maps_every_field() {
        let (req, delivery) = chat(json!({
            "model": "smollm2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "in Paris?"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "18C"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "parallel_tool_calls": false,
            "response_format": {"type": "text"},
            "seed": 7, "stop": "\n\n", "max_tokens": 5, "max_completion_tokens": 9,
            "temperature": 0.2, "top_p": 0.9, "presence_penalty": 0.5, "frequency_penalty": -0.5,
            "n": 1, "user": "ignored", "top_k": 20, "dry_multiplier": 0.8, "dry_penalty_last_n": -1,
            "stream": true, "stream_options": {"include_usage": true}
        }))
        .unwrap();
        assert_eq!(
            delivery,
            Delivery {
                stream: true,
                include_usage: true
            }
        );
        assert_eq!(req.messages.len(), 4);
        assert_eq!(req.messages[1].content, "Weather\nin Paris?");
        assert_eq!(
            req.messages[2].tool_calls[0].arguments,
            json!({"city": "Paris"})
        );
        assert_eq!(req.messages[3].tool_call_id.as_deref(), Some("c1"));
        assert_eq!(req.tool_choice, ToolChoice::Named("weather".into()));
        assert_eq!(req.parallel_tool_calls, Some(false));
        let o = &req.options;
        assert_eq!(
            (o.max_tokens, o.seed, o.top_k),
            (Some(9), Some(7), Some(20))
        );
        assert_eq!(o.stop, vec!["\n\n".to_string()]);
        assert_eq!(
            (o.temperature, o.frequency_penalty),
            (Some(0.2), Some(-0.5))
        );
        assert_eq!(o.dry.as_ref().unwrap().penalty_last_n, None);
    }

    #[test]
    fn thinking_comes_from_template_kwargs_and_a_budget() {
        let msgs = json!([{"role": "user", "content": "Hi"}]);
        let thinking = |extra: Value| {
            let mut body = json!({"messages": msgs});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            chat(body).map(|(req, _)| req.options.thinking)
        };
        assert_eq!(thinking(json!({})).unwrap(), None);
        let off = thinking(json!({"chat_template_kwargs": {"enable_thinking": false}}));
        assert_eq!(off.unwrap(), Some(slm_core::Thinking::off()));
        let capped = thinking(json!({"thinking_budget_tokens": 64}));
        assert_eq!(capped.unwrap(), Some(slm_core::Thinking::budget(64)));
        let alias = thinking(json!({"reasoning_budget_tokens": 0}))
            .unwrap()
            .unwrap();
        assert!(alias.is_off());
        assert_eq!(
            thinking(json!({"thinking_budget_tokens": -1})).unwrap(),
            None
        );
        for bad in [
            json!({"thinking_budget_tokens": -2}),
            json!({"chat_template_kwargs": {"enable_thinking": "no"}}),
            json!({"chat_template_kwargs": {"custom_instructions": "x"}}),
        ] {
            let err = thinking(bad.clone()).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn prompt_lookup_is_true_or_an_object_and_is_range_checked() {
        let msgs = json!([{"role": "user", "content": "x"}]);
        let (req, _) = chat(json!({"messages": msgs, "prompt_lookup": true})).unwrap();
        assert_eq!(
            req.options.prompt_lookup,
            Some(slm_core::PromptLookup::default())
        );
        let (req, _) = chat(json!({"messages": msgs, "prompt_lookup": false})).unwrap();
        assert_eq!(req.options.prompt_lookup, None);
        let (req, _) = chat(json!({"messages": msgs, "prompt_lookup": {"max_draft": 16}})).unwrap();
        assert_eq!(req.options.prompt_lookup.unwrap().max_draft, 16);
        let err = chat(json!({"messages": msgs, "prompt_lookup": {"max_draft": 0}})).unwrap_err();
        assert!(
            format!("{err:?}").contains("prompt_lookup.max_draft"),
            "{err:?}"
        );
    }

    #[test]
    fn response_formats_map_to_slm_formats() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let msgs = json!([{"role": "user", "content": "x"}]);
        let (req, _) = chat(json!({"messages": msgs, "response_format": {
            "type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": true}}}))
        .unwrap();
        assert_eq!(
            req.response_format,
            ResponseFormat::json_schema("A", schema.clone())
        );
        let (req, _) =
            chat(json!({"messages": msgs, "response_format": {"type": "json_object"}})).unwrap();
        assert_eq!(req.response_format, ResponseFormat::Json);
        let (req, _) = chat(
            json!({"messages": msgs, "response_format": {"type": "json_object", "schema": schema}}),
        )
        .unwrap();
        assert!(matches!(
            req.response_format,
            ResponseFormat::JsonSchema { .. }
        ));
        let (req, _) = chat(json!({"messages": msgs, "grammar": "root ::= \"a\""})).unwrap();
        assert!(matches!(
            req.response_format,
            ResponseFormat::Grammar { .. }
        ));
    }

    #[test]
    fn bad_requests_are_400_naming_the_field() {
        let msgs = json!([{"role": "user", "content": "x"}]);
        let cases = [
            (json!({"messages": msgs, "n": 2}), Some("n")),
            (json!({"messages": []}), Some("messages")),
            (
                json!({"messages": msgs, "temperature": -1}),
                Some("temperature"),
            ),
            (
                json!({"messages": msgs, "max_tokens": 0}),
                Some("max_tokens"),
            ),
            (
                json!({"messages": msgs, "tool_choice": "required"}),
                Some("tool_choice"),
            ),
            (
                json!({"messages": msgs, "tool_choice": "sometimes"}),
                Some("tool_choice"),
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                Some("messages[0].tool_call_id"),
            ),
            (
                json!({"messages": [{"role": "wizard", "content": "x"}]}),
                Some("messages[0].role"),
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                Some("messages[0].content"),
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "yaml"}}),
                Some("response_format.type"),
            ),
            (
                json!({"messages": msgs, "response_format": {"type": "json_schema", "json_schema": {"schema": 3}}}),
                Some("response_format.json_schema.schema"),
            ),
            (json!({"messages": "hello"}), None),
            (json!({"model": "m"}), None),
        ];
        for (body, param) in cases {
            let err = chat(body.clone()).unwrap_err();
            assert_eq!(err.status.as_u16(), 400, "{body}");
            assert_eq!(err.param.as_deref(), param, "{body}: {}", err.message);
        }
        assert_eq!(parse(b"{not json").unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn answers_and_chunks_have_openai_shape() {
        let envelope = Envelope::new("smollm2");
        assert!(envelope.id.starts_with("chatcmpl-"));
        let mut response = ChatResponse::from_text("m", "");
        response.message.tool_calls = vec![ToolCall::new("", "f", json!({"a": 1}))];
        response.finish_reason = FinishReason::ToolCalls;
        response.usage = Usage::new(10, 3);
        let body = serde_json::to_value(ChatCompletion::new(&envelope, response)).unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], "smollm2");
        let message = &body["choices"][0]["message"];
        assert!(message["content"].is_null());
        assert_eq!(
            message["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert!(
            message["tool_calls"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("call_")
        );
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            body["usage"],
            json!({
                "prompt_tokens": 10,
                "completion_tokens": 3,
                "total_tokens": 13,
                "prompt_tokens_details": {"cached_tokens": 0}
            })
        );

        let chunk =
            serde_json::to_value(Chunk::delta(&envelope, Delta::role(), None, true)).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(
            chunk["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert!(chunk["usage"].is_null() && chunk.as_object().unwrap().contains_key("usage"));
        let call = Delta::tool_call(&envelope, 0, None, Some("f".into()), String::new());
        let chunk = serde_json::to_value(Chunk::delta(&envelope, call, None, false)).unwrap();
        assert!(!chunk.as_object().unwrap().contains_key("usage"));
        assert_eq!(
            chunk["choices"][0]["delta"]["tool_calls"][0]["type"],
            "function"
        );
        let usage = serde_json::to_value(Chunk::usage(&envelope, Usage::new(4, 2))).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 6);
    }
}
