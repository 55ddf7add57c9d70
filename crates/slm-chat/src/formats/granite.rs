//! Granite 3.x: `<|tool_call|>[{"name": "f", "arguments": {..}}]`, no closing tag; with
//! thinking, the answer is wrapped in `<response>…</response>` (dropped).

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::{List, Shape};
use super::{call_rules, lit, repeated};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[(
        "<|tool_call|>",
        Shape::Json {
            list: List::Array,
            args_keys: &["arguments", "parameters"],
            id_key: None,
            close: &[],
        },
    )],
    silent: &["<response>", "</response>"],
    bare_json: None,
};

/// llama.cpp: `src.find("elif thinking")` and `src.find("<|tool_call|>")`.
pub(crate) fn detect(src: &str) -> bool {
    src.contains("elif thinking") && src.contains("<|tool_call|>")
}

/// The wording of Granite 3.3's own system message with tools, and the tools as JSON.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing = serde_json::Value::Array(super::tools_json(tools));
    format!(
        "You are a helpful assistant with access to the following tools. When a tool is \
         required to answer the user's query, respond only with <|tool_call|> followed by a JSON \
         list of tools used. If a tool does not exist in the provided list of tools, notify the \
         user that you do not have the ability to fulfill the request.\n\nTools:\n{}",
        serde_json::to_string_pretty(&listing).expect("values serialize")
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {} {} {}\n{}",
        lit("<|tool_call|>["),
        repeated("call", ", ", max_calls),
        lit("]"),
        call_rules(tools, "{\"name\": \"", "\", \"arguments\": ", &lit("}"))
    )
}
