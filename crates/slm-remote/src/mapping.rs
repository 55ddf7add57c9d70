//! slm-core's request and response types ⇄ async-openai's chat-completions types.

use async_openai::types::chat::{
    ChatChoice, ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionNamedToolChoice, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestAssistantMessageContent, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestSystemMessageContent,
    ChatCompletionRequestToolMessage, ChatCompletionRequestToolMessageContent,
    ChatCompletionRequestUserMessage, ChatCompletionRequestUserMessageContent,
    ChatCompletionStreamOptions, ChatCompletionTool, ChatCompletionToolChoiceOption,
    ChatCompletionTools, CompletionUsage, CreateChatCompletionRequest,
    CreateChatCompletionResponse, FinishReason as OaFinish, FunctionCall, FunctionName,
    FunctionObject, ResponseFormat as OaFormat, ResponseFormatJsonSchema, StopConfiguration,
    ToolChoiceOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use slm_core::{
    ChatRequest, ChatResponse, FinishReason, GenerationOptions, Message, ResponseFormat, Role,
    ToolCall, ToolChoice, Usage,
};

use crate::RemoteError;

/// Which request field carries `max_tokens`.
///
/// `max_tokens` is what Azure api-versions before 2024-09-01-preview, llama.cpp's and
/// llama-cpp-python's servers, Ollama and vLLM read. OpenAI's reasoning models (o1, o3, gpt-5)
/// require `max_completion_tokens` instead.
///
/// ```
/// assert_eq!(slm_remote::MaxTokensField::default(), slm_remote::MaxTokensField::MaxTokens);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// Send `max_tokens`.
    #[default]
    MaxTokens,
    /// Send `max_completion_tokens`.
    MaxCompletionTokens,
}

/// Builds the chat-completions body for `request`, after checking its options' ranges.
///
/// OpenAI's fields carry temperature, top-p, presence and frequency penalties, seed, stop
/// strings and `parallel_tool_calls` (sent only with tools, as OpenAI requires). Options the API
/// has no field for (`top_k`, `min_p`, `repeat_penalty`, `repeat_last_n`, DRY) are not in this
/// typed body: [`sampling_extras`] carries them for servers that read them.
#[allow(deprecated)] // `max_tokens` and `seed` are deprecated by OpenAI, but Azure and local servers read them.
pub(crate) fn to_openai(
    request: &ChatRequest,
    model: &str,
    max_tokens_field: MaxTokensField,
) -> Result<CreateChatCompletionRequest, RemoteError> {
    if request.messages.is_empty() {
        return Err(RemoteError::InvalidRequest(
            "a chat request needs at least one message".into(),
        ));
    }
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let options = &request.options;
    options
        .validate()
        .map_err(|e| RemoteError::InvalidRequest(e.to_string()))?;
    let seed = options
        .seed
        .map(|s| {
            i64::try_from(s).map_err(|_| {
                RemoteError::InvalidRequest(format!("seed {s} does not fit the API's int64"))
            })
        })
        .transpose()?;
    let (max_tokens, max_completion_tokens) = match max_tokens_field {
        MaxTokensField::MaxTokens => (options.max_tokens, None),
        MaxTokensField::MaxCompletionTokens => (None, options.max_tokens),
    };
    Ok(CreateChatCompletionRequest {
        messages,
        model: model.to_string(),
        tools: tools(request),
        tool_choice: tool_choice(request)?,
        response_format: response_format(&request.response_format)?,
        temperature: options.temperature,
        top_p: options.top_p,
        presence_penalty: options.presence_penalty,
        frequency_penalty: options.frequency_penalty,
        parallel_tool_calls: request
            .parallel_tool_calls
            .filter(|_| !request.tools.is_empty()),
        seed,
        max_tokens,
        max_completion_tokens,
        stop: (!options.stop.is_empty())
            .then(|| StopConfiguration::StringArray(options.stop.clone())),
        ..Default::default()
    })
}

/// Sampling options OpenAI has no field for, under the names llama.cpp's server reads
/// (`top_k`, `min_p`, `repeat_penalty`, `repeat_last_n`, `dry_multiplier`, `dry_base`,
/// `dry_allowed_length`, `dry_penalty_last_n` (-1: the whole context),
/// `dry_sequence_breakers`); vLLM reads `top_k` and `min_p` too. Thinking travels as
/// `chat_template_kwargs.enable_thinking` (llama.cpp's server, vLLM, SGLang) and
/// `thinking_budget_tokens` (llama.cpp's server, `slm serve`). Only options that are set
/// appear. OpenAI-compatible models send them as extra top-level fields; Azure, which refuses
/// unknown fields, does not send them.
pub(crate) fn sampling_extras(options: &GenerationOptions) -> Map<String, Value> {
    let mut extra = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            extra.insert(key.to_string(), value);
        }
    };
    put("top_k", options.top_k.map(Value::from));
    put("min_p", options.min_p.map(f32_value));
    put("repeat_penalty", options.repeat_penalty.map(f32_value));
    put("repeat_last_n", options.repeat_last_n.map(Value::from));
    if let Some(dry) = &options.dry {
        put("dry_multiplier", Some(f32_value(dry.multiplier)));
        put("dry_base", Some(f32_value(dry.base)));
        put("dry_allowed_length", Some(Value::from(dry.allowed_length)));
        let last_n = dry.penalty_last_n.map_or(-1, i64::from);
        put("dry_penalty_last_n", Some(Value::from(last_n)));
        put(
            "dry_sequence_breakers",
            Some(Value::from(dry.sequence_breakers.clone())),
        );
    }
    if let Some(thinking) = options.thinking {
        let kwargs = serde_json::json!({"enable_thinking": !thinking.is_off()});
        put("chat_template_kwargs", Some(kwargs));
        put(
            "thinking_budget_tokens",
            thinking.budget_tokens.map(Value::from),
        );
    }
    extra
}

/// An `f32` as JSON in its shortest decimal form (0.8, not 0.800000011920929).
fn f32_value(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A request body: what async-openai's type carries, and extra top-level fields for the
/// server ([`sampling_extras`]).
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) request: CreateChatCompletionRequest,
    pub(crate) extra: Map<String, Value>,
}

/// How the body differs from OpenAI's for the server at hand (learnt at run time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WireStyle {
    /// Streamed: ask for a final usage chunk with `stream_options`.
    pub(crate) stream_usage: bool,
    /// Send a JSON schema as `{"type": "json_object", "schema": …}` (llama-cpp-python,
    /// Anyscale-style servers) instead of OpenAI's `{"type": "json_schema", …}`.
    pub(crate) schema_in_json_object: bool,
}

/// The body actually sent: `request` as async-openai's type, or as JSON when the server's
/// style needs a field async-openai cannot express.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum WireBody {
    Typed(Box<CreateChatCompletionRequest>),
    Json(Value),
}

/// The body for `body`, streamed or not, adjusted to `style`, with its extra fields.
pub(crate) fn wire_body(body: &Body, stream: bool, style: WireStyle) -> WireBody {
    let stream_options = (stream && style.stream_usage).then_some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    let request = CreateChatCompletionRequest {
        stream: stream.then_some(true),
        stream_options,
        ..body.request.clone()
    };
    let schema_format = match &request.response_format {
        Some(OaFormat::JsonSchema { json_schema }) if style.schema_in_json_object => {
            Some(serde_json::json!({"type": "json_object", "schema": json_schema.schema}))
        }
        _ => None,
    };
    if schema_format.is_none() && body.extra.is_empty() {
        return WireBody::Typed(Box::new(request));
    }
    // Through text, not `to_value`: `to_value` widens f32 to f64 (0.7 → 0.699999988079071),
    // while text keeps f32's shortest form.
    let mut json: Value = serde_json::to_string(&request)
        .and_then(|text| serde_json::from_str(&text))
        .unwrap_or(Value::Null);
    if let Some(format) = schema_format {
        json["response_format"] = format;
    }
    if let Value::Object(fields) = &mut json {
        fields.extend(body.extra.clone());
    }
    WireBody::Json(json)
}

/// Whether the request asks for a JSON schema.
pub(crate) fn uses_json_schema(request: &CreateChatCompletionRequest) -> bool {
    matches!(request.response_format, Some(OaFormat::JsonSchema { .. }))
}

fn message(index: usize, m: &Message) -> Result<ChatCompletionRequestMessage, RemoteError> {
    Ok(match m.role {
        Role::System => ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
            content: ChatCompletionRequestSystemMessageContent::Text(m.content.clone()),
            name: None,
        }),
        Role::User => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: ChatCompletionRequestUserMessageContent::Text(m.content.clone()),
            name: None,
        }),
        Role::Assistant => {
            let calls: Vec<_> = m
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    ChatCompletionMessageToolCalls::Function(ChatCompletionMessageToolCall {
                        id: call_id(&c.id, i),
                        function: FunctionCall {
                            name: c.name.clone(),
                            arguments: arguments_text(&c.arguments),
                        },
                    })
                })
                .collect();
            let content = (!m.content.is_empty() || calls.is_empty())
                .then(|| ChatCompletionRequestAssistantMessageContent::Text(m.content.clone()));
            ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content,
                tool_calls: (!calls.is_empty()).then_some(calls),
                ..Default::default()
            })
        }
        Role::Tool => {
            let tool_call_id = m.tool_call_id.clone().ok_or_else(|| {
                RemoteError::InvalidRequest(format!(
                    "message {index} is a tool result without tool_call_id"
                ))
            })?;
            ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                content: ChatCompletionRequestToolMessageContent::Text(m.content.clone()),
                tool_call_id,
            })
        }
    })
}

/// Tool calls need ids on the wire; calls made up by hand may have none.
fn call_id(id: &str, index: usize) -> String {
    if id.is_empty() {
        format!("call_{index}")
    } else {
        id.to_string()
    }
}

/// Arguments as the JSON text the API carries; raw arguments kept as a string go back as-is.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    }
}

fn tools(request: &ChatRequest) -> Option<Vec<ChatCompletionTools>> {
    (!request.tools.is_empty()).then(|| {
        request
            .tools
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.clone(),
                        description: (!t.description.is_empty()).then(|| t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect()
    })
}

fn tool_choice(
    request: &ChatRequest,
) -> Result<Option<ChatCompletionToolChoiceOption>, RemoteError> {
    use ChatCompletionToolChoiceOption::{Function, Mode};
    let no_tools = request.tools.is_empty();
    Ok(match &request.tool_choice {
        _ if no_tools && matches!(request.tool_choice, ToolChoice::Auto | ToolChoice::None) => None,
        ToolChoice::Required | ToolChoice::Named(_) if no_tools => {
            return Err(RemoteError::InvalidRequest(
                "tool_choice asks for a tool call but the request declares no tools".into(),
            ));
        }
        ToolChoice::Auto => Some(Mode(ToolChoiceOptions::Auto)),
        ToolChoice::None => Some(Mode(ToolChoiceOptions::None)),
        ToolChoice::Required => Some(Mode(ToolChoiceOptions::Required)),
        ToolChoice::Named(name) => {
            if request.tool(name).is_none() {
                return Err(RemoteError::InvalidRequest(format!(
                    "tool_choice names `{name}`, which the request does not declare"
                )));
            }
            Some(Function(ChatCompletionNamedToolChoice {
                function: FunctionName { name: name.clone() },
            }))
        }
    })
}

fn response_format(format: &ResponseFormat) -> Result<Option<OaFormat>, RemoteError> {
    Ok(match format {
        ResponseFormat::Text => None,
        ResponseFormat::Json => Some(OaFormat::JsonObject),
        ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        } => Some(OaFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: None,
                name: name.clone(),
                schema: schema.clone(),
                strict: Some(*strict),
            },
        }),
        ResponseFormat::Grammar { .. } => {
            return Err(RemoteError::InvalidRequest(
                "GBNF grammars are for local backends; remote chat-completions servers take a \
                 JSON schema (ResponseFormat::JsonSchema)"
                    .into(),
            ));
        }
    })
}

/// A tool call whose arguments did not parse.
#[derive(Debug, Clone)]
pub(crate) struct BadArguments {
    pub(crate) tool: String,
    pub(crate) raw: String,
    pub(crate) reason: String,
}

/// Parses a tool call's arguments; empty text means no arguments (`{}`). Unparseable text is
/// kept as `Value::String` and reported.
pub(crate) fn parse_arguments(tool: &str, raw: &str, bad: &mut Vec<BadArguments>) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(Default::default());
    }
    match serde_json::from_str(raw) {
        Ok(value) => value,
        Err(e) => {
            bad.push(BadArguments {
                tool: tool.to_string(),
                raw: raw.to_string(),
                reason: e.to_string(),
            });
            Value::String(raw.to_string())
        }
    }
}

/// Maps a finish reason; without one, tool calls mean `ToolCalls`.
pub(crate) fn finish_reason(reason: Option<OaFinish>, has_tool_calls: bool) -> FinishReason {
    match reason {
        Some(OaFinish::Length) => FinishReason::Length,
        Some(OaFinish::ToolCalls | OaFinish::FunctionCall) => FinishReason::ToolCalls,
        Some(OaFinish::ContentFilter) => FinishReason::ContentFilter,
        Some(OaFinish::Stop) if has_tool_calls => FinishReason::ToolCalls,
        Some(OaFinish::Stop) => FinishReason::Stop,
        None if has_tool_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    }
}

pub(crate) fn usage(usage: Option<&CompletionUsage>) -> Usage {
    usage
        .map(|u| {
            let cached = u
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0);
            Usage::new(u.prompt_tokens, u.completion_tokens).with_cached_prompt_tokens(cached)
        })
        .unwrap_or_default()
}

/// Maps a whole (non-streamed) answer. Timings are filled in by the caller.
pub(crate) fn from_openai(
    response: CreateChatCompletionResponse,
    reasoning: Option<String>,
    model_id: &str,
) -> Result<(ChatResponse, Vec<BadArguments>), RemoteError> {
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(RemoteError::Parse(
            "the server's answer has no choices".into(),
        ));
    };
    let ChatChoice {
        message,
        finish_reason: reason,
        ..
    } = choice;
    let mut bad = Vec::new();
    let tool_calls: Vec<ToolCall> = message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|call| match call {
            ChatCompletionMessageToolCalls::Function(f) => {
                let arguments = parse_arguments(&f.function.name, &f.function.arguments, &mut bad);
                ToolCall::new(f.id, f.function.name, arguments)
            }
            ChatCompletionMessageToolCalls::Custom(c) => {
                ToolCall::new(c.id, c.custom_tool.name, Value::String(c.custom_tool.input))
            }
        })
        .collect();
    let mut text = message.content.unwrap_or_default();
    if text.is_empty() {
        text = message.refusal.unwrap_or_default();
    }
    let finish = finish_reason(reason, !tool_calls.is_empty());
    let out = ChatResponse {
        message: Message {
            tool_calls,
            reasoning,
            ..Message::assistant(text)
        },
        finish_reason: finish,
        usage: usage(response.usage.as_ref()),
        model: model_id.to_string(),
        ..ChatResponse::default()
    };
    Ok((out, bad))
}

/// The error for the first bad tool call of a finished response.
pub(crate) fn check_arguments(
    response: ChatResponse,
    bad: Vec<BadArguments>,
) -> Result<ChatResponse, RemoteError> {
    match bad.into_iter().next() {
        None => Ok(response),
        Some(b) => Err(RemoteError::InvalidToolArguments {
            tool: b.tool,
            raw: b.raw,
            reason: b.reason,
            response: Box::new(response),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use slm_core::{GenerationOptions, Thinking, ToolSpec};

    use super::*;

    fn body(request: &ChatRequest) -> Value {
        serde_json::to_value(to_openai(request, "m", MaxTokensField::MaxTokens).unwrap()).unwrap()
    }

    #[test]
    fn maps_messages_options_and_formats() {
        let call = ToolCall::new("", "add", json!({"a": 1}));
        let request = ChatRequest::builder()
            .system("s")
            .user("u")
            .message(Message::assistant_tool_calls(vec![call]))
            .message(Message::tool("call_0", "2"))
            .options(
                GenerationOptions::deterministic()
                    .with_max_tokens(7)
                    .with_stop("END"),
            )
            .response_format(ResponseFormat::json_schema(
                "out",
                json!({"type": "object"}),
            ))
            .build();
        let b = body(&request);
        assert_eq!(b["messages"][0], json!({"role": "system", "content": "s"}));
        assert_eq!(
            b["messages"][2]["tool_calls"][0],
            json!({"id": "call_0", "type": "function", "function": {"name": "add", "arguments": "{\"a\":1}"}})
        );
        assert!(b["messages"][2].get("content").is_none());
        assert_eq!(
            b["messages"][3],
            json!({"role": "tool", "content": "2", "tool_call_id": "call_0"})
        );
        assert_eq!(b["seed"], 42);
        assert_eq!(b["temperature"], 0.0);
        assert_eq!(b["max_tokens"], 7);
        assert_eq!(b["stop"], json!(["END"]));
        assert_eq!(
            b["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
        );
        assert!(b.get("tool_choice").is_none());
    }

    #[test]
    fn rejects_what_the_api_cannot_express() {
        let no_tools = ChatRequest::builder()
            .user("u")
            .tool_choice(ToolChoice::Required)
            .build();
        assert!(to_openai(&no_tools, "m", MaxTokensField::MaxTokens).is_err());
        let unknown = ChatRequest::builder()
            .user("u")
            .tool(ToolSpec::new("f", "", json!({"type": "object"})))
            .tool_choice(ToolChoice::Named("g".into()))
            .build();
        assert!(to_openai(&unknown, "m", MaxTokensField::MaxTokens).is_err());
        let grammar = ChatRequest::builder()
            .user("u")
            .response_format(ResponseFormat::Grammar {
                gbnf: "root ::= \"a\"".into(),
            })
            .build();
        assert!(matches!(
            to_openai(&grammar, "m", MaxTokensField::MaxTokens),
            Err(RemoteError::InvalidRequest(_))
        ));
        assert!(to_openai(&ChatRequest::default(), "m", MaxTokensField::MaxTokens).is_err());
        let orphan = ChatRequest::new(vec![Message::new(Role::Tool, "x")]);
        assert!(to_openai(&orphan, "m", MaxTokensField::MaxTokens).is_err());
    }

    #[test]
    fn named_tool_choice_and_max_completion_tokens() {
        let request = ChatRequest::builder()
            .user("u")
            .tool(ToolSpec::new("f", "does f", json!({"type": "object"})))
            .tool_choice(ToolChoice::Named("f".into()))
            .max_tokens(3)
            .build();
        let b = serde_json::to_value(
            to_openai(&request, "m", MaxTokensField::MaxCompletionTokens).unwrap(),
        )
        .unwrap();
        assert_eq!(
            b["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(b["max_completion_tokens"], 3);
        assert!(b.get("max_tokens").is_none());
        assert_eq!(b["tools"][0]["function"]["description"], "does f");
    }

    #[test]
    fn wire_body_adapts_to_the_server() {
        let request = ChatRequest::builder()
            .user("u")
            .response_format(ResponseFormat::json_schema("p", json!({"type": "object"})))
            .build();
        let typed = Body {
            request: to_openai(&request, "m", MaxTokensField::MaxTokens).unwrap(),
            extra: Map::new(),
        };
        let json = |b: WireBody| serde_json::to_value(b).unwrap();
        let openai = json(wire_body(
            &typed,
            true,
            WireStyle {
                stream_usage: true,
                schema_in_json_object: false,
            },
        ));
        assert_eq!(openai["stream"], true);
        assert_eq!(openai["stream_options"], json!({"include_usage": true}));
        assert_eq!(openai["response_format"]["type"], "json_schema");
        let llama = json(wire_body(
            &typed,
            false,
            WireStyle {
                stream_usage: true,
                schema_in_json_object: true,
            },
        ));
        assert!(llama.get("stream").is_none() && llama.get("stream_options").is_none());
        assert_eq!(
            llama["response_format"],
            json!({"type": "json_object", "schema": {"type": "object"}})
        );
    }

    #[test]
    fn penalties_and_parallel_tool_calls_are_sent() {
        let tool = ToolSpec::new("f", "", json!({"type": "object"}));
        let options = GenerationOptions::default()
            .with_presence_penalty(0.5)
            .with_frequency_penalty(-0.25);
        let request = ChatRequest::builder()
            .user("u")
            .tool(tool)
            .parallel_tool_calls(false)
            .options(options.clone())
            .build();
        let b = body(&request);
        assert_eq!(b["presence_penalty"], 0.5);
        assert_eq!(b["frequency_penalty"], -0.25);
        assert_eq!(b["parallel_tool_calls"], false);
        // OpenAI refuses parallel_tool_calls without tools.
        let no_tools = ChatRequest::builder()
            .user("u")
            .parallel_tool_calls(false)
            .build();
        assert!(body(&no_tools).get("parallel_tool_calls").is_none());
        let bad = ChatRequest::builder()
            .user("u")
            .options(options.with_presence_penalty(2.5))
            .build();
        assert!(matches!(
            to_openai(&bad, "m", MaxTokensField::MaxTokens),
            Err(RemoteError::InvalidRequest(m)) if m.contains("presence_penalty")
        ));
    }

    #[test]
    fn llama_server_sampling_fields_travel_as_extras() {
        let options = GenerationOptions::default()
            .with_top_k(20)
            .with_min_p(0.1)
            .with_repeat_penalty(1.1)
            .with_repeat_last_n(128)
            .with_dry(slm_core::DrySampling::with_multiplier(0.8));
        assert!(sampling_extras(&GenerationOptions::deterministic()).is_empty());
        let extra = sampling_extras(&options);
        assert_eq!(extra["top_k"], 20);
        assert_eq!(extra["min_p"], json!(0.1));
        assert_eq!(extra["repeat_penalty"], json!(1.1));
        assert_eq!(extra["repeat_last_n"], 128);
        assert_eq!(extra["dry_multiplier"], json!(0.8));
        assert_eq!(extra["dry_base"], json!(1.75));
        assert_eq!(extra["dry_allowed_length"], 2);
        assert_eq!(extra["dry_penalty_last_n"], -1);
        assert_eq!(
            extra["dry_sequence_breakers"],
            json!(["\n", ":", "\"", "*"])
        );
        let request = ChatRequest::builder().user("u").options(options).build();
        let wire = wire_body(
            &Body {
                request: to_openai(&request, "m", MaxTokensField::MaxTokens).unwrap(),
                extra,
            },
            false,
            WireStyle::default(),
        );
        let sent = serde_json::to_value(wire).unwrap();
        assert_eq!(sent["top_k"], 20);
        assert_eq!(sent["dry_base"], json!(1.75));
        assert_eq!(sent["messages"][0]["content"], "u");
    }

    #[test]
    fn thinking_travels_as_template_kwargs_and_a_budget() {
        let off = sampling_extras(&GenerationOptions::default().with_thinking(Thinking::off()));
        assert_eq!(
            off["chat_template_kwargs"],
            json!({"enable_thinking": false})
        );
        assert!(!off.contains_key("thinking_budget_tokens"));
        let capped =
            sampling_extras(&GenerationOptions::default().with_thinking(Thinking::budget(64)));
        assert_eq!(
            capped["chat_template_kwargs"],
            json!({"enable_thinking": true})
        );
        assert_eq!(capped["thinking_budget_tokens"], 64);
    }

    #[test]
    fn unparseable_arguments_are_kept_raw() {
        let mut bad = Vec::new();
        assert_eq!(parse_arguments("f", "", &mut bad), json!({}));
        assert_eq!(parse_arguments("f", "{\"a\":1}", &mut bad), json!({"a": 1}));
        assert_eq!(parse_arguments("f", "{a:1", &mut bad), json!("{a:1"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].raw, "{a:1");
    }
}
