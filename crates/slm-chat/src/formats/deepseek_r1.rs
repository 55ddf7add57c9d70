//! DeepSeek-R1 and its distills:
//! `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{..}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>`.
//! The outer `<｜tool▁calls▁begin｜>`/`<｜tool▁calls▁end｜>` wrapper is dropped from the text.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::Shape;
use super::{call_rules, lit, repeated};

const CALL: Shape = Shape::Framed {
    name_end: "\n",
    args_open: "```json\n",
    close: &["```", "<｜tool▁call▁end｜>"],
    attr_name: false,
};

pub(crate) const SYNTAX: Syntax = Syntax {
    // llama.cpp: `(?:<｜tool▁call▁begin｜>)?function<｜tool▁sep｜>([^\n]+)\n```json\n`.
    openers: &[
        ("<｜tool▁call▁begin｜>function<｜tool▁sep｜>", CALL),
        ("function<｜tool▁sep｜>", CALL),
    ],
    silent: &[
        "<｜tool▁calls▁begin｜>",
        "<｜tool_calls_begin｜>",
        "<｜tool calls begin｜>",
        "<｜tool▁calls｜>",
        "<｜tool▁calls▁end｜>",
    ],
    bare_json: None,
};

/// llama.cpp: `src.find("<｜tool▁calls▁begin｜>")`.
pub(crate) fn detect(src: &str) -> bool {
    src.contains("<｜tool▁calls▁begin｜>")
}

/// The tool prompt of llama.cpp's `llama-cpp-deepseek-r1.jinja`.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing: Vec<String> = super::tools_json(tools)
        .iter()
        .map(|t| t.to_string())
        .collect();
    format!(
        "You can call any of the following function tools to satisfy the user's requests: {}\n\n\
         Example function tool call syntax:\n\n\
         <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>example_function_name\n```json\n{{\n  \"arg1\": \"some_value\"\n  ...\n}}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n",
        listing.join("\n")
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {} {} {}\n{}",
        lit("<｜tool▁calls▁begin｜>"),
        repeated("call", "\n", max_calls),
        lit("<｜tool▁calls▁end｜>"),
        call_rules(
            tools,
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>",
            "\n```json\n",
            &lit("\n```<｜tool▁call▁end｜>")
        )
    )
}
