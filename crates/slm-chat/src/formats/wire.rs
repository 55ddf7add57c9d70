//! slm's own format for every other template: `<tool_call name="f">{..}</tool_call>`
//! (`slm_core::wire`); the Hermes form `<tool_call>{"name": .., "arguments": ..}</tool_call>`
//! is read too.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::Shape;
use super::{call_rules, lit, repeated};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[
        (
            "<tool_call name=\"",
            Shape::Framed {
                name_end: "\">",
                args_open: "",
                close: &["</tool_call>"],
                attr_name: true,
            },
        ),
        ("<tool_call>", super::hermes::SHAPE),
    ],
    silent: &[],
    bare_json: None,
};

/// The fallback slm-llamacpp has always used.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing: Vec<String> = tools
        .iter()
        .map(|t| {
            serde_json::json!({"name": t.name, "description": t.description, "parameters": t.parameters})
                .to_string()
        })
        .collect();
    format!(
        "You can call these tools:\n{}\nTo call one, answer only with \
         <tool_call name=\"TOOL_NAME\">{{JSON arguments}}</tool_call>",
        listing.join("\n")
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {}\n{}",
        repeated("call", "\n", max_calls),
        call_rules(tools, "<tool_call name=\"", "\">", &lit("</tool_call>"))
    )
}
