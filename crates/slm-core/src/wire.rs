//! Tool-call wire formats, parsed and rendered in one place so backends and evaluators agree.
//!
//! Three textual forms are understood:
//! - the SLM Swap evaluation's wrapper `<tool_call name="get_weather">{"city": "Oslo"}</tool_call>`;
//! - the Hermes/Qwen wrapper `<tool_call>{"name": "get_weather", "arguments": {...}}</tool_call>`;
//! - a bare JSON object `{"name": "get_weather", "arguments": {...}}` (or a JSON array of them).
//!
//! ```
//! use slm_core::{ToolCall, wire};
//! let call = ToolCall::new("call_0", "get_weather", serde_json::json!({"city": "Oslo"}));
//! let text = wire::render_tool_calls(&[call.clone()]);
//! assert_eq!(text, r#"<tool_call name="get_weather">{"city":"Oslo"}</tool_call>"#);
//! assert_eq!(wire::parse_tool_calls(&text).unwrap(), vec![call]);
//! ```

use serde_json::{Map, Value};

use crate::ToolCall;

const OPEN: &str = "<tool_call";
const CLOSE: &str = "</tool_call>";

/// Why a text is not a well-formed tool call.
///
/// ```
/// let err = slm_core::wire::parse_tool_calls("<tool_call name=\"f\">{oops</tool_call>").unwrap_err();
/// assert!(matches!(err, slm_core::wire::WireError::InvalidArguments { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// No tool call was found where one was required.
    #[error("no tool call found")]
    NoToolCall,
    /// A `<tool_call` tag is not closed by `</tool_call>`.
    #[error("unclosed <tool_call> at byte {offset}")]
    Unclosed {
        /// Byte offset of the opening tag.
        offset: usize,
    },
    /// The opening tag is malformed (bad attribute, missing `>`).
    #[error("malformed <tool_call> tag at byte {offset}: {reason}")]
    BadTag {
        /// Byte offset of the opening tag.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The arguments are not valid JSON (or not an object).
    #[error("invalid arguments for tool call {name:?}: {reason}")]
    InvalidArguments {
        /// The tool's name, when known.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A JSON tool-call object lacks a string `name`.
    #[error("tool call object has no string \"name\"")]
    MissingName,
    /// Text other than tool calls surrounds them where only calls were expected.
    #[error("unexpected text outside tool calls: {0:?}")]
    TrailingText(String),
}

impl From<WireError> for crate::Error {
    fn from(e: WireError) -> Self {
        crate::Error::Parse(e.to_string(), None).with_source(e)
    }
}

/// Renders one call in the `<tool_call name="...">{json}</tool_call>` form.
///
/// ```
/// let c = slm_core::ToolCall::new("", "f", serde_json::json!({"x": 1}));
/// assert_eq!(slm_core::wire::render_tool_call(&c), r#"<tool_call name="f">{"x":1}</tool_call>"#);
/// ```
pub fn render_tool_call(call: &ToolCall) -> String {
    format!(
        "<tool_call name=\"{}\">{}</tool_call>",
        escape_attr(&call.name),
        // A closing tag inside a JSON string would end the call early: spell its `<` as
        // JSON's `\u003c`, which parses back to the same string.
        arguments_or_empty(&call.arguments)
            .to_string()
            .replace(CLOSE, "\\u003c/tool_call>")
    )
}

/// Renders calls one per line in the `<tool_call name="...">` form.
///
/// ```
/// let a = slm_core::ToolCall::new("", "f", serde_json::json!({}));
/// assert_eq!(slm_core::wire::render_tool_calls(&[a.clone(), a]).lines().count(), 2);
/// ```
pub fn render_tool_calls(calls: &[ToolCall]) -> String {
    calls
        .iter()
        .map(render_tool_call)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders a call as the JSON object `{"name": ..., "arguments": {...}}`.
///
/// ```
/// let c = slm_core::ToolCall::new("", "f", serde_json::json!({"x": 1}));
/// assert_eq!(slm_core::wire::render_json_tool_call(&c), r#"{"name":"f","arguments":{"x":1}}"#);
/// ```
pub fn render_json_tool_call(call: &ToolCall) -> String {
    // Written by hand so that "name" comes first whatever serde_json's map ordering is.
    format!(
        "{{\"name\":{},\"arguments\":{}}}",
        Value::String(call.name.clone()),
        arguments_or_empty(&call.arguments)
    )
}

/// Parses a text made only of tool calls (wrappers or JSON objects) and whitespace.
///
/// Calls get ids `call_0`, `call_1`, ... in order.
///
/// ```
/// let text = r#"  <tool_call name="a">{}</tool_call>
///   <tool_call>{"name": "b", "arguments": {"k": [1, 2]}}</tool_call> "#;
/// let calls = slm_core::wire::parse_tool_calls(text).unwrap();
/// assert_eq!(calls.len(), 2);
/// assert_eq!(calls[1].id, "call_1");
/// assert!(slm_core::wire::parse_tool_calls("hello").is_err());
/// ```
pub fn parse_tool_calls(text: &str) -> Result<Vec<ToolCall>, WireError> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return parse_json_tool_calls(trimmed);
    }
    let (rest, calls) = extract_tool_calls(text)?;
    if calls.is_empty() {
        return Err(WireError::NoToolCall);
    }
    if !rest.trim().is_empty() {
        return Err(WireError::TrailingText(rest.trim().to_string()));
    }
    Ok(calls)
}

/// Finds every `<tool_call ...>...</tool_call>` in a text, returning the text without them and
/// the calls. A text without tags gives no calls; a malformed tag gives an error.
///
/// ```
/// let (text, calls) = slm_core::wire::extract_tool_calls(
///     "Let me check. <tool_call name=\"weather\">{\"city\": \"Oslo\"}</tool_call>",
/// ).unwrap();
/// assert_eq!(text, "Let me check. ");
/// assert_eq!(calls[0].arguments["city"], "Oslo");
/// ```
pub fn extract_tool_calls(text: &str) -> Result<(String, Vec<ToolCall>), WireError> {
    let mut calls = Vec::new();
    let mut rest = String::new();
    let mut cursor = 0;
    while let Some(found) = text[cursor..].find(OPEN) {
        let start = cursor + found;
        rest.push_str(&text[cursor..start]);
        let (call, end) = parse_one_wrapper(text, start, calls.len())?;
        calls.push(call);
        cursor = end;
    }
    rest.push_str(&text[cursor..]);
    Ok((rest, calls))
}

/// Parses a bare JSON tool call object, or an array of them.
///
/// `arguments` may be an object or a string holding JSON (OpenAI's style); `parameters` is
/// accepted as a synonym.
///
/// ```
/// let calls = slm_core::wire::parse_json_tool_calls(r#"{"name": "f", "arguments": "{\"a\": 1}"}"#).unwrap();
/// assert_eq!(calls[0].arguments["a"], 1);
/// ```
pub fn parse_json_tool_calls(text: &str) -> Result<Vec<ToolCall>, WireError> {
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|e| WireError::InvalidArguments {
            name: String::new(),
            reason: e.to_string(),
        })?;
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    if items.is_empty() {
        return Err(WireError::NoToolCall);
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| tool_call_from_object(item, i))
        .collect()
}

fn tool_call_from_object(value: Value, index: usize) -> Result<ToolCall, WireError> {
    let Value::Object(mut object) = value else {
        return Err(WireError::MissingName);
    };
    let Some(Value::String(name)) = object.remove("name") else {
        return Err(WireError::MissingName);
    };
    // As in the tag form: a blank name names no tool (and could not be rendered back).
    if name.trim().is_empty() {
        return Err(WireError::MissingName);
    }
    let raw = object
        .remove("arguments")
        .or_else(|| object.remove("parameters"))
        .unwrap_or_else(|| Value::Object(Map::new()));
    let arguments = match raw {
        Value::String(s) => parse_arguments(&name, &s)?,
        other => other,
    };
    check_object(&name, &arguments)?;
    Ok(ToolCall::new(format!("call_{index}"), name, arguments))
}

fn parse_one_wrapper(
    text: &str,
    start: usize,
    index: usize,
) -> Result<(ToolCall, usize), WireError> {
    let after_open = start + OPEN.len();
    let tag_end = text[after_open..]
        .find('>')
        .map(|i| after_open + i)
        .ok_or(WireError::Unclosed { offset: start })?;
    let attrs = &text[after_open..tag_end];
    let close = text[tag_end..]
        .find(CLOSE)
        .map(|i| tag_end + i)
        .ok_or(WireError::Unclosed { offset: start })?;
    let body = text[tag_end + 1..close].trim();
    let end = close + CLOSE.len();
    let call = match parse_name_attr(attrs, start)? {
        Some(name) => {
            let arguments = if body.is_empty() {
                Value::Object(Map::new())
            } else {
                parse_arguments(&name, body)?
            };
            check_object(&name, &arguments)?;
            ToolCall::new(format!("call_{index}"), name, arguments)
        }
        None => {
            let value: Value =
                serde_json::from_str(body).map_err(|e| WireError::InvalidArguments {
                    name: String::new(),
                    reason: e.to_string(),
                })?;
            tool_call_from_object(value, index)?
        }
    };
    Ok((call, end))
}

/// Reads `name="..."` (or single quotes) from the attribute text of a tag; `None` when empty.
fn parse_name_attr(attrs: &str, offset: usize) -> Result<Option<String>, WireError> {
    let attrs = attrs.trim();
    if attrs.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| WireError::BadTag {
        offset,
        reason: reason.to_string(),
    };
    let value = attrs
        .strip_prefix("name")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('='))
        .map(str::trim_start)
        .ok_or_else(|| bad("expected name=\"...\""))?;
    let quote = value
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .ok_or_else(|| bad("attribute value must be quoted"))?;
    let inner = &value[1..];
    let close = inner
        .find(quote)
        .ok_or_else(|| bad("unterminated attribute value"))?;
    if !inner[close + 1..].trim().is_empty() {
        return Err(bad("unexpected attributes after name"));
    }
    let name = unescape_attr(&inner[..close]);
    if name.trim().is_empty() {
        return Err(bad("empty tool name"));
    }
    Ok(Some(name))
}

fn parse_arguments(name: &str, text: &str) -> Result<Value, WireError> {
    serde_json::from_str(text).map_err(|e| WireError::InvalidArguments {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

fn check_object(name: &str, arguments: &Value) -> Result<(), WireError> {
    if arguments.is_object() {
        Ok(())
    } else {
        Err(WireError::InvalidArguments {
            name: name.to_string(),
            reason: "arguments must be a JSON object".into(),
        })
    }
}

fn arguments_or_empty(arguments: &Value) -> Value {
    if arguments.is_null() {
        Value::Object(Map::new())
    } else {
        arguments.clone()
    }
}

/// `<` and `>` too: a `>` in a name would end the tag early.
fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape_attr(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn what_parses_renders_back_to_the_same_calls() {
        // Found by the tool_calls fuzz target: a blank name, a `>` in a name and a closing tag
        // inside an argument broke the round trip.
        assert_eq!(
            parse_tool_calls(r#"<tool_call>{"name": " ", "arguments": {}}</tool_call>"#),
            Err(WireError::MissingName)
        );
        for call in [
            ToolCall::new("call_0", "a>b<c&quot;", json!({})),
            ToolCall::new("call_0", "f", json!({"html": "<b>x</b></tool_call>"})),
        ] {
            let text = render_tool_calls(std::slice::from_ref(&call));
            assert_eq!(parse_tool_calls(&text).unwrap(), vec![call], "{text}");
        }
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        assert_eq!(parse_tool_calls(""), Err(WireError::NoToolCall));
        assert!(matches!(
            parse_tool_calls("<tool_call name=\"f\">{}"),
            Err(WireError::Unclosed { .. })
        ));
        assert!(matches!(
            parse_tool_calls("<tool_call nam=\"f\">{}</tool_call>"),
            Err(WireError::BadTag { .. })
        ));
        assert!(matches!(
            parse_tool_calls("<tool_call name=\"f\">[1]</tool_call>"),
            Err(WireError::InvalidArguments { .. })
        ));
        assert!(matches!(
            parse_tool_calls("<tool_call>{\"arguments\": {}}</tool_call>"),
            Err(WireError::MissingName)
        ));
        assert!(matches!(
            parse_tool_calls("<tool_call name=\"f\">{}</tool_call> and more"),
            Err(WireError::TrailingText(_))
        ));
    }

    #[test]
    fn single_quotes_and_spaces_are_tolerated() {
        let calls =
            parse_tool_calls("<tool_call  name = 'f' >\n {\"a\": 1}\n</tool_call>").unwrap();
        assert_eq!(calls, vec![ToolCall::new("call_0", "f", json!({"a": 1}))]);
    }

    #[test]
    fn json_array_of_calls() {
        let calls =
            parse_tool_calls(r#"[{"name":"a","arguments":{}},{"name":"b","parameters":{"x":2}}]"#)
                .unwrap();
        assert_eq!(calls[1], ToolCall::new("call_1", "b", json!({"x": 2})));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[ -~<>\"\\\\éß中]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_call() -> impl Strategy<Value = (String, Value)> {
        (
            "[a-zA-Z_][a-zA-Z0-9_.-]{0,20}",
            prop::collection::btree_map("[a-z_]{1,8}", arb_json(), 0..5),
        )
            .prop_map(|(name, args)| (name, Value::Object(args.into_iter().collect())))
    }

    proptest! {
        #[test]
        fn wrapper_round_trip(calls in prop::collection::vec(arb_call(), 1..4), sep in "[ \n\t]{0,3}") {
            let calls: Vec<ToolCall> = calls
                .into_iter()
                .enumerate()
                .map(|(i, (n, a))| ToolCall::new(format!("call_{i}"), n, a))
                .collect();
            let text = calls.iter().map(render_tool_call).collect::<Vec<_>>().join(&sep);
            prop_assert_eq!(parse_tool_calls(&text).unwrap(), calls);
        }

        #[test]
        fn json_object_round_trip((name, args) in arb_call()) {
            let call = ToolCall::new("call_0", name, args);
            let text = render_json_tool_call(&call);
            prop_assert_eq!(parse_tool_calls(&text).unwrap(), vec![call.clone()]);
            let hermes = format!("<tool_call>\n{text}\n</tool_call>");
            prop_assert_eq!(parse_tool_calls(&hermes).unwrap(), vec![call]);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,64}") {
            let _ = parse_tool_calls(&text);
            let _ = extract_tool_calls(&format!("<tool_call{text}"));
        }
    }
}
