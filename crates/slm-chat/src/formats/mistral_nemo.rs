//! Mistral Nemo and Mistral v3: `[TOOL_CALLS][{"name": "f", "arguments": {..}, "id":
//! "abcdefghi"}]` with 9-character alphanumeric ids, kept as the calls' ids.
//!
//! A call is announced once its id is known: with the usual order (name, arguments, id) its
//! arguments come in one piece when the object closes.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::{List, Shape};
use super::{call_rules, lit, repeated};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[(
        "[TOOL_CALLS]",
        Shape::Json {
            list: List::Either,
            args_keys: &["arguments", "parameters"],
            id_key: Some("id"),
            close: &[],
        },
    )],
    silent: &[],
    bare_json: None,
};

/// llama.cpp: `src.find("[TOOL_CALLS]")`.
pub(crate) fn detect(src: &str) -> bool {
    src.contains("[TOOL_CALLS]")
}

/// Mistral's `[AVAILABLE_TOOLS]` block and the call syntax.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    format!(
        "[AVAILABLE_TOOLS]{}[/AVAILABLE_TOOLS]\nTo call tools, answer only with \
         [TOOL_CALLS][{{\"name\": \"tool_name\", \"arguments\": {{...}}, \"id\": \"<9 letters or digits>\"}}]",
        serde_json::Value::Array(super::tools_json(tools))
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    let after = format!("{} /[a-zA-Z0-9]{{9}}/ {}", lit(", \"id\": \""), lit("\"}"));
    format!(
        "start: {} {} {}\n{}",
        lit("[TOOL_CALLS]["),
        repeated("call", ", ", max_calls),
        lit("]"),
        call_rules(tools, "{\"name\": \"", "\", \"arguments\": ", &after)
    )
}
