//! Phi-4-mini: `<|tool_call|>[{"name": "f", "arguments": {..}}]<|/tool_call|>` (one object
//! without the list is read too, as llama.cpp's Phi-4-mini template writes it); tools are
//! listed in `<|tool|>…<|/tool|>` in the system message.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::{List, Shape};
use super::{call_rules, lit, repeated};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[(
        "<|tool_call|>",
        Shape::Json {
            list: List::Either,
            args_keys: &["arguments", "parameters"],
            id_key: None,
            close: &["<|/tool_call|>"],
        },
    )],
    silent: &[],
    bare_json: None,
};

/// `<|tool|>` or `<|tool_call|>` (llama.cpp has no Phi-4 handler; Granite, which also writes
/// `<|tool_call|>`, is detected first).
pub(crate) fn detect(src: &str) -> bool {
    src.contains("<|tool|>") || src.contains("<|tool_call|>")
}

/// Phi-4-mini's system message with tools: the tools in `<|tool|>…<|/tool|>`.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing: Vec<_> = tools
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
        .collect();
    format!(
        "You are a helpful assistant with some tools.<|tool|>{}<|/tool|>\n\
         To use tools, respond only with <|tool_call|>[{{\"name\": \"tool_name\", \"arguments\": {{...}}}}]<|/tool_call|>",
        serde_json::Value::Array(listing)
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {} {} {}\n{}",
        lit("<|tool_call|>["),
        repeated("call", ", ", max_calls),
        lit("]<|/tool_call|>"),
        call_rules(tools, "{\"name\": \"", "\", \"arguments\": ", &lit("}"))
    )
}
