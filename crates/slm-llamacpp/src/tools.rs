//! Local tool calls: which format the model is asked for, the grammar that forces a call, and
//! parsing calls out of the generated text.
//!
//! Templates that show tools in `<tool_call>` tags (Qwen, Hermes) get their own convention:
//! `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`. Other templates get slm-core's
//! `<tool_call name="...">{arguments}</tool_call>`, explained in a system message when the
//! template itself does not render tools.

use serde_json::{Value, json};
use slm_core::{ChatRequest, Message, Role, ToolCall, ToolChoice, ToolSpec, wire};

use crate::LlamaCppError;
use crate::constrain::ConstraintSpec;

/// How calls are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolFormat {
    /// `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>` (Qwen, Hermes).
    Hermes,
    /// `<tool_call name="f">{...}</tool_call>` (slm-core's wire format).
    Wire,
}

/// Most calls a forced answer may hold.
pub(crate) const MAX_FORCED_CALLS: usize = 4;

impl ToolFormat {
    /// The format a template teaches its model.
    pub(crate) fn for_template(source: &str) -> Self {
        if source.contains("<tool_call>") {
            ToolFormat::Hermes
        } else {
            ToolFormat::Wire
        }
    }
}

/// JSON-schema options for generated JSON: compact separators and no free whitespace, so a
/// constrained answer cannot spend its tokens on blanks.
pub(crate) fn with_compact_json(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(object) = schema.as_object_mut() {
        object.entry("x-guidance").or_insert_with(
            || json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "}),
        );
    }
    schema
}

/// The tools a forced answer may call: all declared ones, or the named one.
pub(crate) fn forced_tools(request: &ChatRequest) -> Result<Option<Vec<&ToolSpec>>, LlamaCppError> {
    match &request.tool_choice {
        ToolChoice::Auto | ToolChoice::None => Ok(None),
        ToolChoice::Required => {
            if request.tools.is_empty() {
                return Err(LlamaCppError::InvalidRequest(
                    "tool_choice is required but no tools are declared".into(),
                ));
            }
            Ok(Some(request.tools.iter().collect()))
        }
        ToolChoice::Named(name) => request
            .tool(name)
            .map(|t| Some(vec![t]))
            .ok_or_else(|| LlamaCppError::InvalidRequest(format!("tool {name:?} is not declared"))),
    }
}

/// The Lark grammar of one to [`MAX_FORCED_CALLS`] calls of `tools`, in `format`.
pub(crate) fn forced_call_grammar(
    tools: &[&ToolSpec],
    format: ToolFormat,
) -> Result<ConstraintSpec, LlamaCppError> {
    for t in tools {
        let ok = !t.name.is_empty()
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(LlamaCppError::InvalidRequest(format!(
                "tool name {:?} must be ASCII letters, digits, '_', '-' or '.'",
                t.name
            )));
        }
        if !t.parameters.is_object() {
            return Err(LlamaCppError::Schema(format!(
                "the parameters of tool {:?} are not a JSON schema object",
                t.name
            )));
        }
    }
    let repeat = format!("(\"\\n\" call){{0,{}}}", MAX_FORCED_CALLS - 1);
    let lark = match format {
        ToolFormat::Hermes => {
            // One document holds every tool's schema: their `$defs` move to its root.
            let mut defs = serde_json::Map::new();
            let alternatives: Vec<Value> = tools
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let arguments = hoist_defs(&t.parameters, &format!("tool{i}_"), &mut defs);
                    json!({
                        "type": "object",
                        "properties": {"name": {"const": t.name}, "arguments": arguments},
                        "required": ["name", "arguments"],
                        "additionalProperties": false,
                    })
                })
                .collect();
            let mut document = json!({ "anyOf": alternatives });
            if !defs.is_empty() {
                document["$defs"] = Value::Object(defs);
            }
            let body = with_compact_json(&document);
            format!(
                "start: call {repeat}\ncall: \"<tool_call>\\n\" %json {body} \"\\n</tool_call>\"\n"
            )
        }
        ToolFormat::Wire => {
            let mut lark = format!("start: call {repeat}\ncall: ");
            let names: Vec<String> = (0..tools.len()).map(|i| format!("call_{i}")).collect();
            lark.push_str(&names.join(" | "));
            lark.push('\n');
            for (name, t) in names.iter().zip(tools) {
                let args = with_compact_json(&t.parameters);
                lark.push_str(&format!(
                    "{name}: \"<tool_call name=\\\"{}\\\">\" %json {args} \"</tool_call>\"\n",
                    t.name
                ));
            }
            lark
        }
    };
    Ok(ConstraintSpec::Lark(lark))
}

/// Moves a schema's `$defs`/`definitions` into `defs` under `prefix`-ed names and rewrites its
/// local references to match, so the schema can be nested inside another document.
fn hoist_defs(schema: &Value, prefix: &str, defs: &mut serde_json::Map<String, Value>) -> Value {
    fn rewrite(value: &Value, prefix: &str) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), v.as_str()) {
                            ("$ref", Some(r)) => {
                                let target = r
                                    .strip_prefix("#/$defs/")
                                    .or_else(|| r.strip_prefix("#/definitions/"));
                                match target {
                                    Some(name) => Value::String(format!("#/$defs/{prefix}{name}")),
                                    None if r == "#" => {
                                        Value::String(format!("#/$defs/{prefix}root"))
                                    }
                                    None => v.clone(),
                                }
                            }
                            _ => rewrite(v, prefix),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| rewrite(v, prefix)).collect()),
            other => other.clone(),
        }
    }
    let mut rewritten = rewrite(schema, prefix);
    if let Some(map) = rewritten.as_object_mut() {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(own)) = map.remove(key) {
                for (name, def) in own {
                    defs.insert(format!("{prefix}{name}"), def);
                }
            }
        }
    }
    if serde_json::to_string(schema).is_ok_and(|s| s.contains("\"$ref\":\"#\"")) {
        defs.insert(format!("{prefix}root"), rewritten.clone());
    }
    rewritten
}

/// For templates that do not render `tools`: a system message that lists them and shows the
/// call format.
pub(crate) fn tool_instructions(tools: &[ToolSpec]) -> Message {
    let listing: Vec<String> = tools
        .iter()
        .map(|t| {
            json!({"name": t.name, "description": t.description, "parameters": t.parameters})
                .to_string()
        })
        .collect();
    Message::new(
        Role::System,
        format!(
            "You can call these tools:\n{}\nTo call one, answer only with \
             <tool_call name=\"TOOL_NAME\">{{JSON arguments}}</tool_call>",
            listing.join("\n")
        ),
    )
}

/// Calls found in a finished answer, and the text around them; `None` when it holds no
/// well-formed call.
pub(crate) fn parse_calls(text: &str) -> Option<(String, Vec<ToolCall>)> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return wire::parse_json_tool_calls(trimmed)
            .ok()
            .map(|calls| (String::new(), calls));
    }
    match wire::extract_tool_calls(text) {
        Ok((rest, calls)) if !calls.is_empty() => Some((rest.trim().to_string(), calls)),
        _ => None,
    }
}

/// Holds streamed text back once it may be a tool call, so calls never leak out as text.
#[derive(Debug)]
pub(crate) struct CallWatcher {
    /// Everything must be captured (a forced call).
    forced: bool,
    /// Capturing started; all further text goes to `captured`.
    capturing: bool,
    pending: String,
    pub(crate) captured: String,
    seen_text: bool,
}

const OPEN_TAG: &str = "<tool_call";

impl CallWatcher {
    pub(crate) fn new(forced: bool) -> Self {
        Self {
            forced,
            capturing: forced,
            pending: String::new(),
            captured: String::new(),
            seen_text: false,
        }
    }

    /// Returns the text that may be streamed now.
    pub(crate) fn push(&mut self, text: &str) -> String {
        if self.capturing {
            self.captured.push_str(text);
            return String::new();
        }
        self.pending.push_str(text);
        if !self.seen_text {
            let start = self.pending.trim_start();
            if start.is_empty() {
                return String::new();
            }
            self.seen_text = true;
            if start.starts_with('{') || start.starts_with('[') {
                // A bare JSON call may be coming: hold everything until the end.
                self.capturing = true;
                self.captured = std::mem::take(&mut self.pending);
                return String::new();
            }
        }
        if let Some(at) = self.pending.find(OPEN_TAG) {
            self.capturing = true;
            self.captured = self.pending.split_off(at);
            return std::mem::take(&mut self.pending);
        }
        // Keep a possible beginning of the tag.
        let keep = (1..OPEN_TAG.len().min(self.pending.len() + 1))
            .rev()
            .find(|&n| {
                let start = self.pending.len() - n;
                self.pending.is_char_boundary(start) && OPEN_TAG.starts_with(&self.pending[start..])
            })
            .unwrap_or(0);
        let cut = self.pending.len() - keep;
        let out = self.pending[..cut].to_string();
        self.pending.drain(..cut);
        out
    }

    /// Text still held back that is not part of a capture.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    pub(crate) fn is_forced(&self) -> bool {
        self.forced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_before_a_tag_streams_and_the_call_is_held() {
        let mut w = CallWatcher::new(false);
        assert_eq!(w.push("Let me check. <tool"), "Let me check. ");
        assert_eq!(w.push("_call name=\"f\">{}</tool_call>"), "");
        assert_eq!(w.captured, "<tool_call name=\"f\">{}</tool_call>");
        let (text, calls) = parse_calls(&format!("Let me check. {}", w.captured)).unwrap();
        assert_eq!(text, "Let me check.");
        assert_eq!(calls[0].name, "f");
    }

    #[test]
    fn a_false_start_is_released() {
        let mut w = CallWatcher::new(false);
        assert_eq!(w.push("a <tool"), "a ");
        assert_eq!(w.push("s are fun"), "<tools are fun");
        assert_eq!(w.finish(), "");
    }

    #[test]
    fn leading_json_is_held_until_the_end() {
        let mut w = CallWatcher::new(false);
        assert_eq!(w.push("  "), "");
        assert_eq!(w.push("{\"name\": \"f\", \"arguments\": {}}"), "");
        let (_, calls) = parse_calls(&w.captured).unwrap();
        assert_eq!(calls[0].name, "f");
    }

    #[test]
    fn hermes_calls_parse() {
        let text =
            "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>";
        let (rest, calls) = parse_calls(text).unwrap();
        assert!(rest.is_empty());
        assert_eq!(calls[0].arguments["b"], 2);
        assert!(parse_calls("no calls here").is_none());
    }

    #[test]
    fn nested_definitions_move_to_the_root() {
        let params = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}},
                            "$defs": {"x": {"type": "integer"}}});
        let mut defs = serde_json::Map::new();
        let out = hoist_defs(&params, "tool0_", &mut defs);
        assert_eq!(out["properties"]["a"]["$ref"], "#/$defs/tool0_x");
        assert!(out.get("$defs").is_none());
        assert_eq!(defs["tool0_x"], json!({"type": "integer"}));
    }

    #[test]
    fn bad_tool_names_are_refused_for_forced_calls() {
        let t = ToolSpec::new("bad name", "", json!({"type": "object"}));
        assert!(forced_call_grammar(&[&t], ToolFormat::Wire).is_err());
    }
}
