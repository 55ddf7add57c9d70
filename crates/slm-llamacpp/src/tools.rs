//! Local tool calls: the grammar that forces a call in the model family's own syntax, and the
//! stream watcher of slm-core's generic format.
//!
//! Which syntax a model writes comes from its chat template ([`slm_chat::ToolFormat::detect`]):
//! Qwen/Hermes `<tool_call>` JSON, Llama 3's JSON, Phi-4-mini's `<|tool_call|>`, Mistral's
//! `[TOOL_CALLS]`, Gemma 3's `tool_code`, Granite, DeepSeek-R1, and otherwise slm-core's
//! `<tool_call name="...">{arguments}</tool_call>` (the generic "wire" format, explained in a
//! system message when the template itself does not render tools). The families' parsers live
//! in `slm-chat`; the wire format keeps this crate's [`CallWatcher`], which also takes a bare
//! JSON call.
//!
//! Forced calls are strict: each tool's parameter schema is closed ([`close_schema`]) before it
//! is compiled, so the grammar writes only declared argument names, and the required ones.
//! Calls the model writes on its own are checked against the same closed schemas
//! ([`CallRules`]) and their problems reported as [`ToolCallIssue`]s on the response.

use serde_json::{Map, Value, json};
use slm_chat::ToolFormat;
use slm_core::{ChatRequest, ToolCall, ToolCallIssue, ToolCallProblem, ToolChoice, ToolSpec, wire};

use crate::LlamaCppError;
use crate::constrain::ConstraintSpec;

/// Most calls a forced answer may hold.
pub(crate) const MAX_FORCED_CALLS: usize = 4;

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

/// What a forced answer may hold: calls of these tools, at most `max_calls` of them.
#[derive(Debug)]
pub(crate) struct ForcedCalls<'a> {
    pub(crate) tools: Vec<&'a ToolSpec>,
    pub(crate) max_calls: usize,
}

/// The calls a forced answer may hold: of all declared tools, or of the named one; one call when
/// the request sets `parallel_tool_calls` to false, else up to [`MAX_FORCED_CALLS`].
pub(crate) fn forced_tools(
    request: &ChatRequest,
) -> Result<Option<ForcedCalls<'_>>, LlamaCppError> {
    let tools = match &request.tool_choice {
        ToolChoice::Auto | ToolChoice::None => return Ok(None),
        ToolChoice::Required => {
            if request.tools.is_empty() {
                return Err(LlamaCppError::InvalidRequest(
                    "tool_choice is required but no tools are declared".into(),
                ));
            }
            request.tools.iter().collect()
        }
        ToolChoice::Named(name) => vec![request.tool(name).ok_or_else(|| {
            LlamaCppError::InvalidRequest(format!("tool {name:?} is not declared"))
        })?],
    };
    let max_calls = if request.parallel_tool_calls == Some(false) {
        1
    } else {
        MAX_FORCED_CALLS
    };
    Ok(Some(ForcedCalls { tools, max_calls }))
}

/// The Lark grammar of one to `forced.max_calls` calls of `forced.tools`, in `format`, each
/// tool's arguments constrained by its closed schema ([`close_schema`]).
pub(crate) fn forced_call_grammar(
    forced: &ForcedCalls<'_>,
    format: ToolFormat,
) -> Result<ConstraintSpec, LlamaCppError> {
    let tools = &forced.tools;
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
    // Each tool's closed schema, without free whitespace, at the root of its own `%json`.
    let closed: Vec<ToolSpec> = tools
        .iter()
        .map(|t| {
            ToolSpec::new(
                t.name.clone(),
                t.description.clone(),
                with_compact_json(&close_schema(&t.parameters)),
            )
        })
        .collect();
    Ok(ConstraintSpec::Lark(
        format.forced_call_grammar(&closed, forced.max_calls.max(1)),
    ))
}

/// A tool's parameter schema made strict for calls: objects that do not say otherwise take no
/// properties beyond those they declare.
///
/// The decision, in full:
/// - The arguments object itself (the root, when it is an object schema: `"type": "object"` or
///   `properties`) and every nested schema that declares `properties` get
///   `"additionalProperties": false`, unless they already say something about extra keys
///   (`additionalProperties`, `patternProperties` or `unevaluatedProperties`): an explicit
///   `true` or schema there keeps them open.
/// - A nested `{"type": "object"}` without `properties` is a free-form map and stays open.
/// - Sub-schemas under `properties`, `items`, `prefixItems`, `anyOf`, `oneOf`, `$defs`,
///   `definitions` and a schema-valued `additionalProperties` are closed the same way; the
///   parts of an `allOf` are not (each part would then forbid the others' properties).
/// - `required` is left as it is: the grammar already writes every required name.
///
/// Public so that a caller can ask for a call under a JSON schema of its own (a
/// `json_schema` response format) with the same strictness as a forced call.
///
/// ```
/// let params = serde_json::json!({
///     "type": "object",
///     "properties": {"city": {"type": "string"}, "filters": {"type": "object"}}
/// });
/// let closed = slm_llamacpp::close_schema(&params);
/// assert_eq!(closed["additionalProperties"], false);
/// // A free-form map stays open.
/// assert!(closed["properties"]["filters"].get("additionalProperties").is_none());
/// ```
pub fn close_schema(parameters: &Value) -> Value {
    let mut schema = parameters.clone();
    let root_is_object = schema.as_object().is_some_and(|m| {
        m.contains_key("properties")
            || match m.get("type") {
                Some(Value::String(t)) => t == "object",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                _ => false,
            }
    });
    close_node(&mut schema, root_is_object);
    schema
}

/// Closes `schema` (when `close_here` or it declares `properties`) and its sub-schemas.
fn close_node(schema: &mut Value, close_here: bool) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let says_extra = [
        "additionalProperties",
        "patternProperties",
        "unevaluatedProperties",
    ]
    .iter()
    .any(|k| map.contains_key(*k));
    if (close_here || map.contains_key("properties")) && !says_extra {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, value) in map.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                value
                    .as_object_mut()
                    .into_iter()
                    .flat_map(Map::values_mut)
                    .for_each(|sub| close_node(sub, false));
            }
            "items" | "additionalProperties" | "prefixItems" | "anyOf" | "oneOf" => match value {
                Value::Array(subs) => subs.iter_mut().for_each(|sub| close_node(sub, false)),
                sub => close_node(sub, false),
            },
            _ => {}
        }
    }
}

/// What the calls of one answer are checked against: the declared tools (their schemas
/// closed as for forced calls) and whether several calls are allowed.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallRules {
    tools: Vec<ToolSpec>,
    single_call: bool,
}

impl CallRules {
    pub(crate) fn of(request: &ChatRequest) -> Self {
        Self {
            tools: request.tools.clone(),
            single_call: request.parallel_tool_calls == Some(false),
        }
    }

    /// The problems of `calls`, in call order.
    pub(crate) fn check(&self, calls: &[ToolCall]) -> Vec<ToolCallIssue> {
        let mut issues = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            let issue = |problem| ToolCallIssue::new(i, call.name.clone(), problem);
            if self.single_call && i > 0 {
                issues.push(issue(ToolCallProblem::ExtraCall));
            }
            match self.tools.iter().find(|t| t.name == call.name) {
                None => issues.push(issue(ToolCallProblem::UnknownTool)),
                Some(tool) => issues.extend(
                    argument_problems(&tool.parameters, &call.arguments)
                        .into_iter()
                        .map(issue),
                ),
            }
        }
        issues
    }
}

/// Where `arguments` break the closed form of `parameters`.
fn argument_problems(parameters: &Value, arguments: &Value) -> Vec<ToolCallProblem> {
    let validator = match jsonschema::validator_for(&close_schema(parameters)) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(
                "a tool's parameter schema does not compile, its calls go unchecked: {e}"
            );
            return Vec::new();
        }
    };
    validator
        .iter_errors(arguments)
        .flat_map(|error| {
            let at_root = error.instance_path.as_str().is_empty();
            match error.kind {
                jsonschema::error::ValidationErrorKind::AdditionalProperties { ref unexpected }
                    if at_root =>
                {
                    unexpected
                        .iter()
                        .map(|name| ToolCallProblem::UnknownArgument { name: name.clone() })
                        .collect()
                }
                jsonschema::error::ValidationErrorKind::Required { ref property } if at_root => {
                    vec![ToolCallProblem::MissingArgument {
                        name: property.as_str().unwrap_or_default().to_string(),
                    }]
                }
                _ => vec![ToolCallProblem::InvalidArguments {
                    path: error.instance_path.to_string(),
                    message: error.to_string(),
                }],
            }
        })
        .collect()
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
    fn open_objects_are_closed_and_explicit_ones_kept() {
        let params = json!({"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"},
            "filter": {"type": "object", "properties": {"min": {"type": "integer"}}},
            "tags": {"type": "object"},
            "extra": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"properties": {"x": {}}}},
            "either": {"anyOf": [{"properties": {"a": {}}}, {"type": "string"}]},
            "both": {"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]},
            "ref": {"$ref": "#/$defs/point"}},
            "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}}}}});
        let closed = close_schema(&params);
        let props = &closed["properties"];
        assert_eq!(closed["additionalProperties"], false);
        assert_eq!(closed["required"], json!(["city"]));
        assert_eq!(props["filter"]["additionalProperties"], false);
        assert!(
            props["tags"].get("additionalProperties").is_none(),
            "free-form map"
        );
        assert_eq!(
            props["extra"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert_eq!(props["list"]["items"]["additionalProperties"], false);
        assert_eq!(props["either"]["anyOf"][0]["additionalProperties"], false);
        assert!(
            props["both"]["allOf"][0]
                .get("additionalProperties")
                .is_none()
        );
        assert_eq!(closed["$defs"]["point"]["additionalProperties"], false);
        // An explicit `true` keeps the root open; a non-object root is left alone.
        let open = json!({"type": "object", "properties": {}, "additionalProperties": true});
        assert_eq!(close_schema(&open), open);
        assert_eq!(
            close_schema(&json!({"type": "string"})),
            json!({"type": "string"})
        );
        assert_eq!(
            close_schema(&json!({"type": "object"})),
            json!({"type": "object", "additionalProperties": false})
        );
    }

    #[test]
    fn forced_grammars_use_the_closed_schema_and_the_call_limit() {
        let t = ToolSpec::new("f", "", json!({"type": "object", "properties": {"a": {}}}));
        let grammar = |max_calls, format| {
            let forced = ForcedCalls {
                tools: vec![&t],
                max_calls,
            };
            match forced_call_grammar(&forced, format).unwrap() {
                ConstraintSpec::Lark(lark) => lark,
                other => panic!("{other:?}"),
            }
        };
        for format in ToolFormat::ALL {
            let one = grammar(1, format);
            if format != ToolFormat::Gemma3 {
                // Gemma's Python-call syntax cannot embed a JSON schema.
                assert!(
                    one.contains("\"additionalProperties\":false"),
                    "{format:?}: {one}"
                );
            }
            assert_ne!(one, grammar(4, format), "{format:?}");
        }
    }

    #[test]
    fn auto_calls_are_checked_against_the_closed_schemas() {
        let tool = ToolSpec::new(
            "get_weather",
            "",
            json!({"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}),
        );
        let request = ChatRequest::builder()
            .user("u")
            .tool(tool)
            .parallel_tool_calls(false)
            .build();
        let rules = CallRules::of(&request);
        let calls = [
            ToolCall::new("0", "get_weather", json!({"city": "Lima", "days": 2})),
            ToolCall::new("1", "get_weather", json!({"days": "two", "type": "x"})),
            ToolCall::new("2", "nope", json!({})),
        ];
        assert!(rules.check(&calls[..1]).is_empty());
        let problems: Vec<(usize, ToolCallProblem)> = rules
            .check(&calls)
            .into_iter()
            .map(|i| (i.call, i.problem))
            .collect();
        assert!(problems.contains(&(1, ToolCallProblem::ExtraCall)));
        assert!(problems.contains(&(
            1,
            ToolCallProblem::UnknownArgument {
                name: "type".into()
            }
        )));
        assert!(problems.contains(&(
            1,
            ToolCallProblem::MissingArgument {
                name: "city".into()
            }
        )));
        assert!(problems.iter().any(|(i, p)| *i == 1
            && matches!(p, ToolCallProblem::InvalidArguments { path, .. } if path == "/days")));
        assert!(problems.contains(&(2, ToolCallProblem::UnknownTool)));
        assert_eq!(problems.iter().filter(|(i, _)| *i == 0).count(), 0);
    }

    #[test]
    fn bad_tool_names_are_refused_for_forced_calls() {
        let t = ToolSpec::new("bad name", "", json!({"type": "object"}));
        let forced = ForcedCalls {
            tools: vec![&t],
            max_calls: 1,
        };
        assert!(forced_call_grammar(&forced, ToolFormat::Wire).is_err());
    }
}
