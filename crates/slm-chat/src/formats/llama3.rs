//! Llama 3.1, 3.2 and 3.3: a JSON object `{"name": "f", "parameters": {..}}` at the start of
//! the answer (or after `<|python_tag|>`); further calls may follow after whitespace or `;`.
//! The built-in tools' `<|python_tag|>python.call(code="..")` is read as a call of `python`
//! (llama.cpp reads it when the template mentions `<|python_tag|>`); Llama 3.2's Python-list
//! style `[f(a=1)]` is not.

use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::{List, Shape};
use super::{call_rules, lit, repeated};

const SHAPE: Shape = Shape::Json {
    list: List::One,
    args_keys: &["parameters", "arguments"],
    id_key: None,
    close: &[],
};

const BUILTIN: Shape = Shape::Python { close: None };

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[("<|python_tag|>", Shape::JsonOrPython(&SHAPE, &BUILTIN))],
    silent: &[],
    bare_json: Some(SHAPE),
};

/// llama.cpp: `src.find("<|start_header_id|>ipython<|end_header_id|>")`.
pub(crate) fn detect(src: &str) -> bool {
    src.contains("<|start_header_id|>ipython<|end_header_id|>")
}

/// The JSON tool-calling prompt of Llama 3.1's template.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let listing: Vec<String> = super::tools_json(tools)
        .iter()
        .map(|t| serde_json::to_string_pretty(t).expect("values serialize"))
        .collect();
    format!(
        "Given the following functions, please respond with a JSON for a function call with its \
         proper arguments that best answers the given prompt.\n\n\
         Respond in the format {{\"name\": function name, \"parameters\": dictionary of argument name and its value}}. \
         Do not use variables.\n\n{}",
        listing.join("\n\n")
    )
}

pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    format!(
        "start: {}\n{}",
        repeated("call", "\n", max_calls),
        call_rules(tools, "{\"name\": \"", "\", \"parameters\": ", &lit("}"))
    )
}
