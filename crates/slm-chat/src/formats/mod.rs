//! Tool-call formats of model families: detection from the chat template, fallback
//! instructions, parsing (whole or streamed), and grammars that force calls.
//!
//! Each family lives in its own module; they share the incremental parser ([`StreamParser`])
//! and the `<think>` reasoning splitter ([`reasoning`]), which runs first so reasoning never
//! reaches tool-call parsing.
//!
//! ```
//! use slm_chat::formats::ToolFormat;
//! use slm_core::ToolSpec;
//! let tools = [ToolSpec::new("get_weather", "", serde_json::json!({"type": "object"}))];
//! let format = ToolFormat::detect("{% if tools %}<tool_call>{% endif %}");
//! assert_eq!(format, ToolFormat::Hermes);
//! let out = format.parse(
//!     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
//!     &tools,
//! );
//! assert_eq!(out.tool_calls[0].id, "call_0");
//! assert_eq!(out.tool_calls[0].arguments["city"], "Oslo");
//! ```

mod deepseek_r1;
mod engine;
mod gemma3;
mod granite;
mod hermes;
mod llama3;
mod mistral_nemo;
mod phi4_mini;
pub mod reasoning;
mod scan;
mod wire;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slm_core::{ToolCall, ToolSpec};

pub use engine::StreamParser;
pub use reasoning::{
    Piece, ReasoningSplitter, THINKING_CLOSE, prompt_opens_thinking, supports_thinking,
    template_opens_thinking,
};

/// A model family's way of writing tool calls.
///
/// ```
/// use slm_chat::formats::ToolFormat;
/// assert_eq!(ToolFormat::detect("[TOOL_CALLS]"), ToolFormat::MistralNemo);
/// assert_eq!(ToolFormat::MistralNemo.name(), "mistral-nemo");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolFormat {
    /// `<tool_call>\n{"name": .., "arguments": ..}\n</tool_call>`: Hermes 2/3 Pro, Qwen 2.5,
    /// Qwen 3, QwQ, SmolLM3.
    Hermes,
    /// `{"name": .., "parameters": ..}` at the start of the answer, possibly after
    /// `<|python_tag|>`: Llama 3.1, 3.2, 3.3.
    Llama3,
    /// `<|tool_call|>[{"name": .., "arguments": ..}]<|/tool_call|>`: Phi-4-mini.
    Phi4Mini,
    /// `[TOOL_CALLS][{"name": .., "arguments": .., "id": "abcdefghi"}]`: Mistral Nemo,
    /// Mistral v3.
    MistralNemo,
    /// A Python call in a `tool_code` fence: Gemma 3.
    Gemma3,
    /// `<|tool_call|>[{"name": .., "arguments": ..}]`: Granite 3.x.
    Granite,
    /// `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME` and a JSON
    /// fence: DeepSeek-R1 and its distills.
    DeepSeekR1,
    /// slm's own `<tool_call name="f">{json}</tool_call>`, for every other template.
    Wire,
}

/// Events of a streamed parse ([`StreamParser`]).
///
/// ```
/// use slm_chat::formats::FormatEvent;
/// let e = FormatEvent::ToolCallArguments { index: 0, fragment: "{\"a\"".into() };
/// assert!(matches!(e, FormatEvent::ToolCallArguments { index: 0, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormatEvent {
    /// Answer text.
    Text(String),
    /// Reasoning text.
    Reasoning(String),
    /// A call begins: its name is known.
    ToolCallStart {
        /// Position among the calls announced in this answer.
        index: usize,
        /// The model's id where the format has one, else `call_{index}`.
        id: String,
        /// The called tool.
        name: String,
    },
    /// More of a call's arguments, as JSON text.
    ToolCallArguments {
        /// The call, as announced.
        index: usize,
        /// The next piece of the arguments' JSON text.
        fragment: String,
    },
    /// An announced call turned out malformed and is withdrawn; its text follows as `Text`.
    ToolCallAborted {
        /// The call, as announced.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl FormatEvent {
    /// The event as slm-core streams it, where slm-core has one: text and call pieces.
    /// Reasoning and withdrawn calls have no `ChatEvent` yet (`None`); the final
    /// `ChatEvent::Done` response carries the parse that is right in the end.
    ///
    /// ```
    /// use slm_chat::formats::FormatEvent;
    /// use slm_core::ChatEvent;
    /// let start = FormatEvent::ToolCallStart { index: 0, id: "call_0".into(), name: "f".into() };
    /// assert!(matches!(start.to_chat_event(), Some(ChatEvent::ToolCallDelta { name: Some(_), .. })));
    /// assert_eq!(FormatEvent::Reasoning("hm".into()).to_chat_event(), None);
    /// ```
    pub fn to_chat_event(&self) -> Option<slm_core::ChatEvent> {
        use slm_core::ChatEvent;
        match self {
            FormatEvent::Text(t) => Some(ChatEvent::TextDelta(t.clone())),
            FormatEvent::ToolCallStart { index, id, name } => Some(ChatEvent::ToolCallDelta {
                index: *index,
                id: Some(id.clone()),
                name: Some(name.clone()),
                arguments: String::new(),
            }),
            FormatEvent::ToolCallArguments { index, fragment } => Some(ChatEvent::ToolCallDelta {
                index: *index,
                id: None,
                name: None,
                arguments: fragment.clone(),
            }),
            FormatEvent::Reasoning(_) | FormatEvent::ToolCallAborted { .. } => None,
        }
    }
}

/// What a model's answer holds.
///
/// ```
/// let out = slm_chat::formats::ParsedOutput::default();
/// assert!(out.tool_calls.is_empty() && out.reasoning.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedOutput {
    /// The answer text, without reasoning and well-formed calls.
    pub content: String,
    /// The reasoning, when a `<think>` section was opened.
    pub reasoning: Option<String>,
    /// The well-formed calls of declared tools, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why text that looked like a call was left as content.
    pub problems: Vec<String>,
}

impl ToolFormat {
    /// Every family, in detection order.
    ///
    /// ```
    /// assert_eq!(slm_chat::formats::ToolFormat::ALL.len(), 8);
    /// ```
    pub const ALL: [ToolFormat; 8] = [
        ToolFormat::DeepSeekR1,
        ToolFormat::Granite,
        ToolFormat::Hermes,
        ToolFormat::Phi4Mini,
        ToolFormat::Llama3,
        ToolFormat::MistralNemo,
        ToolFormat::Gemma3,
        ToolFormat::Wire,
    ];

    /// The family whose calls a chat template's model writes, from markers in its source.
    ///
    /// The order follows llama.cpp's `common_chat_templates_apply_jinja` and matters where
    /// markers overlap:
    /// 1. DeepSeek-R1: `<｜tool▁calls▁begin｜>`.
    /// 2. Granite: `elif thinking` and `<|tool_call|>` (before Phi-4-mini, which shares
    ///    `<|tool_call|>`).
    /// 3. Hermes: `<tool_call>` (Qwen 2.5/3, Hermes 2/3 Pro, SmolLM3).
    /// 4. Phi-4-mini: `<|tool|>` or `<|tool_call|>` (not in llama.cpp, which has no Phi-4
    ///    handler: checked after the formats it knows).
    /// 5. Llama 3.x: `<|start_header_id|>ipython<|end_header_id|>` (Llama 3.0 has no tools).
    /// 6. Mistral Nemo: `[TOOL_CALLS]`.
    /// 7. Gemma 3: `<start_of_turn>` (its templates do not render tools; llama.cpp uses its
    ///    generic format, this crate Google's `tool_code` style).
    /// 8. Wire for everything else.
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// assert_eq!(ToolFormat::detect("{{ bos_token }}<start_of_turn>user"), ToolFormat::Gemma3);
    /// assert_eq!(ToolFormat::detect("<|im_start|>"), ToolFormat::Wire);
    /// ```
    pub fn detect(template_source: &str) -> ToolFormat {
        let src = template_source;
        if deepseek_r1::detect(src) {
            ToolFormat::DeepSeekR1
        } else if granite::detect(src) {
            ToolFormat::Granite
        } else if hermes::detect(src) {
            ToolFormat::Hermes
        } else if phi4_mini::detect(src) {
            ToolFormat::Phi4Mini
        } else if llama3::detect(src) {
            ToolFormat::Llama3
        } else if mistral_nemo::detect(src) {
            ToolFormat::MistralNemo
        } else if gemma3::detect(src) {
            ToolFormat::Gemma3
        } else {
            ToolFormat::Wire
        }
    }

    /// A short stable name.
    ///
    /// ```
    /// assert_eq!(slm_chat::formats::ToolFormat::DeepSeekR1.name(), "deep-seek-r1");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ToolFormat::Hermes => "hermes",
            ToolFormat::Llama3 => "llama3",
            ToolFormat::Phi4Mini => "phi4-mini",
            ToolFormat::MistralNemo => "mistral-nemo",
            ToolFormat::Gemma3 => "gemma3",
            ToolFormat::Granite => "granite",
            ToolFormat::DeepSeekR1 => "deep-seek-r1",
            ToolFormat::Wire => "wire",
        }
    }

    fn syntax(self) -> engine::Syntax {
        match self {
            ToolFormat::Hermes => hermes::SYNTAX,
            ToolFormat::Llama3 => llama3::SYNTAX,
            ToolFormat::Phi4Mini => phi4_mini::SYNTAX,
            ToolFormat::MistralNemo => mistral_nemo::SYNTAX,
            ToolFormat::Gemma3 => gemma3::SYNTAX,
            ToolFormat::Granite => granite::SYNTAX,
            ToolFormat::DeepSeekR1 => deepseek_r1::SYNTAX,
            ToolFormat::Wire => wire::SYNTAX,
        }
    }

    /// Instructions listing `tools` and showing the call syntax, in the family's documented
    /// style, for templates that do not render `tools` themselves (put them in the system
    /// message).
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let tools = [slm_core::ToolSpec::new("add", "Adds", serde_json::json!({"type": "object"}))];
    /// assert!(ToolFormat::Hermes.system_instructions(&tools).contains("<tools>"));
    /// assert!(ToolFormat::Gemma3.system_instructions(&tools).contains("def add("));
    /// ```
    pub fn system_instructions(self, tools: &[ToolSpec]) -> String {
        match self {
            ToolFormat::Hermes => hermes::system_instructions(tools),
            ToolFormat::Llama3 => llama3::system_instructions(tools),
            ToolFormat::Phi4Mini => phi4_mini::system_instructions(tools),
            ToolFormat::MistralNemo => mistral_nemo::system_instructions(tools),
            ToolFormat::Gemma3 => gemma3::system_instructions(tools),
            ToolFormat::Granite => granite::system_instructions(tools),
            ToolFormat::DeepSeekR1 => deepseek_r1::system_instructions(tools),
            ToolFormat::Wire => wire::system_instructions(tools),
        }
    }

    /// Parses a whole answer (which does not start inside a reasoning section).
    ///
    /// With no `tools`, any name is accepted; otherwise a call of an undeclared tool is left
    /// as text and reported in `problems`.
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let out = ToolFormat::MistralNemo.parse(
    ///     "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}, \"id\": \"abcdefghi\"}]",
    ///     &[],
    /// );
    /// assert_eq!(out.tool_calls[0].id, "abcdefghi");
    /// ```
    pub fn parse(self, text: &str, tools: &[ToolSpec]) -> ParsedOutput {
        let mut parser = self.stream_parser(tools, false);
        parser.push(text);
        parser.finish().1
    }

    /// An incremental parser of an answer; `starts_in_reasoning` when the prompt already
    /// opened `<think>` (see [`prompt_opens_thinking`]).
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let mut p = ToolFormat::DeepSeekR1.stream_parser(&[], true);
    /// p.push("hmm</think>Hi");
    /// let (_, out) = p.finish();
    /// assert_eq!(out.reasoning.as_deref(), Some("hmm"));
    /// assert_eq!(out.content, "Hi");
    /// ```
    pub fn stream_parser(self, tools: &[ToolSpec], starts_in_reasoning: bool) -> StreamParser {
        StreamParser::new(self.syntax(), tools, starts_in_reasoning)
    }

    /// A llguidance Lark grammar forcing 1 to `max_calls` calls (at least one) of `tools` in
    /// this syntax, each tool's arguments constrained by `%json` with its schema as given
    /// (close it first if extra properties must be refused). With no tools, any name and any
    /// object are allowed.
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let tools = [slm_core::ToolSpec::new("add", "", serde_json::json!({"type": "object"}))];
    /// let lark = ToolFormat::Hermes.forced_call_grammar(&tools, 2);
    /// assert!(lark.starts_with("start: call (\"\\n\" call){0,1}\n"));
    /// assert!(lark.contains("%json {\"type\":\"object\"}"));
    /// ```
    pub fn forced_call_grammar(self, tools: &[ToolSpec], max_calls: usize) -> String {
        match self {
            ToolFormat::Hermes => hermes::grammar(tools, max_calls),
            ToolFormat::Llama3 => llama3::grammar(tools, max_calls),
            ToolFormat::Phi4Mini => phi4_mini::grammar(tools, max_calls),
            ToolFormat::MistralNemo => mistral_nemo::grammar(tools, max_calls),
            ToolFormat::Gemma3 => gemma3::grammar(tools, max_calls),
            ToolFormat::Granite => granite::grammar(tools, max_calls),
            ToolFormat::DeepSeekR1 => deepseek_r1::grammar(tools, max_calls),
            ToolFormat::Wire => wire::grammar(tools, max_calls),
        }
    }
}

/// A Lark string literal.
fn lit(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// `call (SEP call){0,max-1}`.
fn repeated(item: &str, sep: &str, max_calls: usize) -> String {
    match max_calls {
        0 | 1 => item.to_string(),
        n => format!("{item} ({} {item}){{0,{}}}", lit(sep), n - 1),
    }
}

/// `call: call_0 | call_1 ...` and one rule per tool: `"pre" NAME "mid" %json{schema} after`
/// (`after` is Lark). With no tools, one rule with any name and any object.
fn call_rules(tools: &[ToolSpec], pre: &str, mid: &str, after: &str) -> String {
    let any = [ToolSpec::new("", "", serde_json::json!({"type": "object"}))];
    let list: &[ToolSpec] = if tools.is_empty() { &any } else { tools };
    let names: Vec<String> = (0..list.len()).map(|i| format!("call_{i}")).collect();
    let mut lark = format!("call: {}\n", names.join(" | "));
    for (rule, tool) in names.iter().zip(list) {
        let schema = serde_json::to_string(&tool.parameters).expect("values serialize");
        let name = if tools.is_empty() {
            "NAME".to_string()
        } else {
            lit(&tool.name)
        };
        lark.push_str(&format!(
            "{rule}: {} {name} {} %json {schema} {after}\n",
            lit(pre),
            lit(mid)
        ));
    }
    if tools.is_empty() {
        lark.push_str("NAME: /[A-Za-z_][A-Za-z0-9_.-]*/\n");
    }
    lark
}

/// The tools as the OpenAI-style JSON objects templates list.
fn tools_json(tools: &[ToolSpec]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| {
            serde_json::json!({
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            })
        })
        .collect()
}
