//! Chat templates: the model's Jinja `tokenizer.chat_template`, rendered with minijinja the way
//! Hugging Face transformers renders it.
//!
//! llama.cpp's `llama_chat_apply_template` only recognises known template families by marker
//! strings, so models with other templates would be prompted wrongly. Here the template itself
//! runs, with the variables transformers passes: `messages`, `tools`, `bos_token`, `eos_token`,
//! `add_generation_prompt`, `raise_exception`, `strftime_now`, and its `tojson` filter (no HTML
//! escaping, Python's separators). Python string methods (`.strip()`, `.split()`...) work through
//! minijinja-contrib's pycompat layer.
//!
//! Templates come from model files, so they are untrusted code: rendering runs on a budget of
//! [`ChatTemplate::FUEL`] instructions and [`ChatTemplate::RECURSION_LIMIT`] nested calls, and a
//! panic inside the engine is caught. A template that loops forever, recurses without end,
//! raises or crashes minijinja is a [`ChatError::Template`], never a hang or a panic.

use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, Value};
use serde::Serialize;
use slm_core::{Message, Role, ToolSpec};

use crate::ChatError;

/// A compiled chat template.
///
/// ```
/// use slm_core::Message;
/// use slm_chat::ChatTemplate;
/// let t = ChatTemplate::new(
///     "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
///     "<s>", "</s>",
/// ).unwrap();
/// let prompt = t.render(&[Message::user("Hi")], &[], true).unwrap();
/// assert_eq!(prompt, "<user>Hi<assistant>");
/// ```
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    env: Arc<Environment<'static>>,
    source: Arc<str>,
    bos_token: String,
    eos_token: String,
    now: Option<u64>,
}

const NAME: &str = "chat_template";

/// How a caught panic of the template engine is reported (the message follows): a fuzz target
/// asserts that no input reaches it.
///
/// ```
/// assert_eq!(slm_chat::template::PANIC_PREFIX, "the template engine panicked");
/// ```
pub const PANIC_PREFIX: &str = "the template engine panicked";

impl ChatTemplate {
    /// ChatML as Qwen2.5 writes it (tools in `<tools>`, calls in `<tool_call>` tags): the
    /// template of models whose file has none.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new(slm_chat::ChatTemplate::CHATML, "", "<|im_end|>").unwrap();
    /// let prompt = t.render(&[slm_core::Message::user("Hi")], &[], true).unwrap();
    /// assert_eq!(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    /// ```
    pub const CHATML: &'static str = include_str!("../templates/chatml_tools.jinja");

    /// Instructions one render may run: far above what real templates need for long
    /// conversations with tools (about a million for a thousand messages), low enough that a
    /// template that loops forever stops within a second.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "", "").unwrap();
    /// let err = t.render(&[], &[], false).unwrap_err();
    /// assert!(err.to_string().contains("fuel"), "{err}");
    /// ```
    pub const FUEL: u64 = 20_000_000;

    /// Depth of nested calls (macros, recursive loops, includes) a render may reach; a
    /// template that recurses deeper is an error before the thread's stack runs out.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "", "").unwrap();
    /// let err = t.render(&[], &[], false).unwrap_err();
    /// assert!(err.to_string().contains("recursion"), "{err}");
    /// ```
    pub const RECURSION_LIMIT: usize = 100;

    /// Compiles `source`; `bos_token` and `eos_token` are the texts templates see.
    ///
    /// ```
    /// let err = slm_chat::ChatTemplate::new("{% if %}", "", "").unwrap_err();
    /// assert!(matches!(err, slm_chat::ChatError::Template(_)));
    /// ```
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self, ChatError> {
        let source: String = source.into();
        let env = build_environment(&source, None, Self::FUEL)?;
        Ok(Self {
            env: Arc::new(env),
            source: source.into(),
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
            now: None,
        })
    }

    /// Pins the time `strftime_now` sees (seconds since the Unix epoch, UTC), for reproducible
    /// prompts from templates that print today's date.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("{{ strftime_now('%d %b %Y') }}", "", "").unwrap();
    /// let t = t.with_now(1_721_952_000).unwrap();
    /// assert_eq!(t.render(&[], &[], false).unwrap(), "26 Jul 2024");
    /// ```
    pub fn with_now(mut self, unix_secs: u64) -> Result<Self, ChatError> {
        let fuel = self.env.fuel().unwrap_or(Self::FUEL);
        self.env = Arc::new(build_environment(&self.source, Some(unix_secs), fuel)?);
        self.now = Some(unix_secs);
        Ok(self)
    }

    /// The template's source.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("x", "", "").unwrap();
    /// assert_eq!(t.source(), "x");
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders a conversation. Tools are passed the way OpenAI-style APIs and transformers do:
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`; tool calls
    /// as `{"id", "type": "function", "function": {"name", "arguments"}}` with `arguments` an
    /// object; a tool message gets the `name` of the call it answers.
    ///
    /// ```
    /// use slm_core::{Message, ToolSpec};
    /// let t = slm_chat::ChatTemplate::new(slm_chat::ChatTemplate::CHATML, "", "<|im_end|>").unwrap();
    /// let tool = ToolSpec::new("now", "Current time", serde_json::json!({"type": "object"}));
    /// let prompt = t.render(&[Message::user("Time?")], &[tool], true).unwrap();
    /// assert!(prompt.contains(r#"{"type": "function", "function": {"name": "now""#));
    /// assert!(prompt.ends_with("<|im_start|>assistant\n"));
    /// ```
    pub fn render(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String, ChatError> {
        self.render_context(messages, tools, add_generation_prompt, None)
    }

    /// [`render`](Self::render) with the template's `enable_thinking` variable set, as
    /// transformers' `apply_chat_template(..., enable_thinking=False)` sets it (Qwen3, SmolLM3
    /// and Granite templates read it; others ignore it).
    ///
    /// ```
    /// let source = "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}";
    /// let t = slm_chat::ChatTemplate::new(source, "", "").unwrap();
    /// assert_eq!(t.render_thinking(&[], &[], true, false).unwrap(), "<think>\n\n</think>\n\n");
    /// assert_eq!(t.render_thinking(&[], &[], true, true).unwrap(), "");
    /// assert_eq!(t.render(&[], &[], true).unwrap(), "");
    /// ```
    pub fn render_thinking(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
        enable_thinking: bool,
    ) -> Result<String, ChatError> {
        self.render_context(
            messages,
            tools,
            add_generation_prompt,
            Some(enable_thinking),
        )
    }

    fn render_context(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
        enable_thinking: Option<bool>,
    ) -> Result<String, ChatError> {
        let context = TemplateContext {
            messages: template_messages(messages),
            tools: (!tools.is_empty()).then(|| tools.iter().map(template_tool).collect()),
            bos_token: &self.bos_token,
            eos_token: &self.eos_token,
            add_generation_prompt,
            enable_thinking,
        };
        self.render_value(Value::from_serialize(&context))
    }

    /// Renders with arbitrary variables (a JSON object), for templates that take more than
    /// [`ChatTemplate::render`] passes. `bos_token` and `eos_token` are added unless given.
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("{{ bos_token }}{{ x | tojson }}", "<s>", "").unwrap();
    /// let out = t.render_json(&serde_json::json!({"x": {"a": [1, "é<"]}})).unwrap();
    /// assert_eq!(out, r#"<s>{"a": [1, "é<"]}"#);
    /// ```
    pub fn render_json(&self, variables: &serde_json::Value) -> Result<String, ChatError> {
        let mut variables = variables.clone();
        if let Some(map) = variables.as_object_mut() {
            map.entry("bos_token")
                .or_insert_with(|| self.bos_token.clone().into());
            map.entry("eos_token")
                .or_insert_with(|| self.eos_token.clone().into());
        }
        self.render_value(Value::from_serialize(&variables))
    }

    /// A copy that runs on another instruction budget (a fuzz target's smaller one).
    ///
    /// ```
    /// let t = slm_chat::ChatTemplate::new("{% for i in range(1000) %}{% endfor %}", "", "").unwrap();
    /// assert!(t.clone().with_fuel(100).unwrap().render(&[], &[], false).is_err());
    /// assert!(t.with_fuel(100_000).unwrap().render(&[], &[], false).is_ok());
    /// ```
    pub fn with_fuel(mut self, fuel: u64) -> Result<Self, ChatError> {
        self.env = Arc::new(build_environment(&self.source, self.now, fuel)?);
        Ok(self)
    }

    fn render_value(&self, context: Value) -> Result<String, ChatError> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| ChatError::Template(describe(&e)))?;
        // The template is the model file's code: a bug it triggers in minijinja or its
        // Python-compatibility layer must fail this render only.
        let rendered =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| template.render(context)))
                .map_err(|panic| {
                    ChatError::Template(format!("{PANIC_PREFIX}: {}", panic_message(&*panic)))
                })?;
        rendered.map_err(|e| ChatError::Template(describe(&e)))
    }
}

/// The text of a caught panic's payload (the backends' panic isolation reports it too).
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// assert_eq!(slm_chat::template::panic_message(&*payload), "boom");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn build_environment(
    source: &str,
    now: Option<u64>,
    fuel: u64,
) -> Result<Environment<'static>, ChatError> {
    let mut env = Environment::new();
    env.set_fuel(Some(fuel));
    env.set_recursion_limit(ChatTemplate::RECURSION_LIMIT);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_filter("tojson", tojson);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", move |format: String| {
        strftime(now.unwrap_or_else(unix_now), &format)
    });
    env.add_template_owned(NAME, source.to_string())
        .map_err(|e| ChatError::Template(describe(&e)))?;
    Ok(env)
}

fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[derive(Serialize)]
struct TemplateContext<'a> {
    messages: Vec<TemplateMessage>,
    tools: Option<Vec<TemplateTool>>,
    bos_token: &'a str,
    eos_token: &'a str,
    add_generation_prompt: bool,
    /// Unset unless the request says: templates test `enable_thinking is defined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_thinking: Option<bool>,
}

#[derive(Serialize)]
struct TemplateMessage {
    role: &'static str,
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<TemplateToolCall>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Serialize)]
struct TemplateToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: TemplateFunctionCall,
}

#[derive(Serialize)]
struct TemplateFunctionCall {
    name: String,
    arguments: serde_json::Value,
}

#[derive(Serialize)]
struct TemplateTool {
    #[serde(rename = "type")]
    kind: &'static str,
    function: TemplateFunction,
}

#[derive(Serialize)]
struct TemplateFunction {
    name: String,
    description: String,
    parameters: serde_json::Value,
}

fn template_tool(tool: &ToolSpec) -> TemplateTool {
    TemplateTool {
        kind: "function",
        function: TemplateFunction {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters: tool.parameters.clone(),
        },
    }
}

fn template_messages(messages: &[Message]) -> Vec<TemplateMessage> {
    messages
        .iter()
        .map(|m| {
            let name = (m.role == Role::Tool)
                .then(|| tool_name_for(messages, m.tool_call_id.as_deref()))
                .flatten();
            TemplateMessage {
                role: m.role.as_str(),
                content: m.content.clone(),
                tool_calls: (!m.tool_calls.is_empty()).then(|| {
                    m.tool_calls
                        .iter()
                        .map(|c| TemplateToolCall {
                            id: c.id.clone(),
                            kind: "function",
                            function: TemplateFunctionCall {
                                name: c.name.clone(),
                                arguments: c.arguments.clone(),
                            },
                        })
                        .collect()
                }),
                tool_call_id: m.tool_call_id.clone(),
                name,
            }
        })
        .collect()
}

fn tool_name_for(messages: &[Message], id: Option<&str>) -> Option<String> {
    let id = id?;
    messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .find(|c| c.id == id)
        .map(|c| c.name.clone())
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=...)`.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    let style = JsonStyle {
        indent,
        sort_keys: sort_keys.unwrap_or(false),
    };
    write_python_json(&mut out, &value, style, 0)?;
    Ok(Value::from_safe_string(out))
}

#[derive(Clone, Copy)]
struct JsonStyle {
    indent: Option<usize>,
    sort_keys: bool,
}

/// JSON as Python's `json.dumps` writes it: `", "` and `": "` separators without indent;
/// `","` and newlines with indent. Map keys keep their order unless sorted.
fn write_python_json(
    out: &mut String,
    value: &Value,
    style: JsonStyle,
    depth: usize,
) -> Result<(), minijinja::Error> {
    use minijinja::value::ValueKind;
    let newline = |out: &mut String, depth: usize| {
        if let Some(width) = style.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', width * depth));
        }
    };
    let item_sep = if style.indent.is_some() { "," } else { ", " };
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_python_json(out, item, style, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if style.sort_keys {
                keys.sort_by_key(|k| k.to_string());
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                let key_text = key
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| key.to_string());
                out.push_str(&serde_json::Value::String(key_text).to_string());
                out.push_str(": ");
                write_python_json(out, &value.get_item(key)?, style, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        _ => {
            let leaf = serde_json::to_value(value)
                .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            out.push_str(&leaf.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn python_json(value: &serde_json::Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    let style = JsonStyle {
        indent,
        sort_keys: false,
    };
    write_python_json(&mut out, &Value::from_serialize(value), style, 0).expect("plain JSON");
    out
}

fn raise_exception(message: String) -> Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// transformers' `strftime_now(format)` (UTC), for the `%d %b %Y`-style formats templates use.
pub(crate) fn strftime(unix_secs: u64, format: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let days = (unix_secs / 86_400) as i64;
    let secs_of_day = unix_secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = MONTHS[(month - 1) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year % 100)),
            Some('b') => out.push_str(&month_name[..3]),
            Some('B') => out.push_str(month_name),
            Some('H') => out.push_str(&format!("{:02}", secs_of_day / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs_of_day / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs_of_day % 60)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_matches_known_dates() {
        assert_eq!(strftime(0, "%d %b %Y"), "01 Jan 1970");
        // 2024-02-29 12:34:56 UTC
        assert_eq!(
            strftime(1_709_210_096, "%Y-%m-%d %H:%M:%S %B"),
            "2024-02-29 12:34:56 February"
        );
    }

    #[test]
    fn python_json_matches_json_dumps() {
        let v = serde_json::json!({"a": [1, 2.5, "x\n"], "b": {}, "c": null});
        assert_eq!(
            python_json(&v, None),
            r#"{"a": [1, 2.5, "x\n"], "b": {}, "c": null}"#
        );
        assert_eq!(
            python_json(&serde_json::json!({"a": [1]}), Some(2)),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn raise_exception_becomes_a_template_error() {
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}", "", "").unwrap();
        let err = t.render(&[], &[], false).unwrap_err();
        assert!(err.to_string().contains("no system role"), "{err}");
    }
}
