//! Hermes 2/3 Pro, Qwen 2.5, Qwen 3, QwQ and SmolLM3:
//! `<tool_call>\n{"name": "f", "arguments": {..}}\n</tool_call>`, one tag per call.
//!
//! As llama.cpp's Hermes parser, `<function=f>{..}</function>` and
//! `<function name="f">{..}</function>` are read too (some Qwen fine-tunes write them); its
//! other lenient forms (bare JSON, `<tool>`, `<json>`, Markdown fences…) are not.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::{List, Shape};
use super::{call_rules, lit, repeated};

pub(crate) const SHAPE: Shape = Shape::Json {
    list: List::One,
    args_keys: &["arguments", "parameters"],
    id_key: None,
    close: &["</tool_call>"],
};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[
        ("<tool_call>", SHAPE),
        (
            "<function=",
            Shape::Framed {
                name_end: ">",
                args_open: "",
                close: &["</function>"],
                attr_name: false,
            },
        ),
        (
            "<function name=\"",
            Shape::Framed {
                name_end: "\">",
                args_open: "",
                close: &["</function>"],
                attr_name: true,
            },
        ),
    ],
    silent: &[],
    bare_json: None,
};

/// llama.cpp: `src.find("<tool_call>")`.
pub(crate) fn detect(src: &str) -> bool {
    src.contains("<tool_call>")
}

/// The Hermes 2 Pro / Qwen 2.5 system prompt.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing: Vec<String> = super::tools_json(tools)
        .iter()
        .map(|t| t.to_string())
        .collect();
    format!(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{}\n</tools>\n\n\
         For each function call, return a json object with function name and arguments within \
         <tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call>",
        listing.join("\n")
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {}\n{}",
        repeated("call", "\n", max_calls),
        call_rules(
            tools,
            "<tool_call>\n{\"name\": \"",
            "\", \"arguments\": ",
            &lit("}\n</tool_call>")
        )
    )
}
