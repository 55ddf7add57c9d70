//! Entry points shared by the fuzz targets (`fuzz/fuzz_targets/`) and the corpus replay test
//! (`tests/fuzz_replay.rs`). Not part of the API: they exist so the same code runs under
//! `cargo fuzz` (nightly) and `cargo test` (stable). Each takes arbitrary bytes, never
//! panics on its own, and asserts the properties that must hold for any input.

use std::path::Path;

use slm_core::{Message, ToolCall, ToolSpec, wire};

use crate::gguf::{GgufHeader, GgufInfo};
use crate::tools::{CallWatcher, parse_calls};
use crate::{ChatTemplate, LlamaCppError};
use slm_chat::template::PANIC_PREFIX;

/// The GGUF header reader and the checks run before llama.cpp sees a file: the bytes are read
/// as a whole file.
///
/// ```
/// slm_llamacpp::fuzzing::gguf_header(b"GGUF\x03\0\0\0");
/// ```
pub fn gguf_header(data: &[u8]) {
    let path = Path::new("fuzz.gguf");
    let Ok(header) = GgufHeader::read_bytes(data, path) else {
        return;
    };
    // What the reader accepts, llama.cpp can read: every tensor's data inside the file.
    for t in &header.tensors {
        let end = t
            .n_bytes()
            .and_then(|n| header.data_offset.checked_add(t.offset)?.checked_add(n));
        assert!(
            end.is_some_and(|end| end <= header.file_size),
            "tensor {} lies past the end",
            t.name
        );
    }
    let _ = header.validate_for_loading(path);
    let _ = header.validate_lora(path);
    let _ = header.architecture();
    let info = GgufInfo::from_header(&header);
    let _ = info.memory_estimate(4096);
    if let Some(template) = header.get_str("tokenizer.chat_template") {
        let _ = ChatTemplate::new(template, "<s>", "</s>")
            .and_then(|t| t.with_fuel(FUZZ_FUEL))
            .and_then(|t| t.render(&[Message::user("hi")], &[], true));
    }
}

/// The tool-call parsers of generated text: slm-core's wire formats and slm-llamacpp's
/// stream watcher and answer parser. The first byte sets the size of the pieces the text is
/// streamed in.
///
/// ```
/// slm_llamacpp::fuzzing::tool_calls(b"\x03<tool_call name=\"f\">{\"a\": 1}</tool_call>");
/// ```
pub fn tool_calls(data: &[u8]) {
    let Some((&piece, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // Whatever parses renders to text that parses back to the same calls.
    if let Ok(calls) = wire::parse_tool_calls(&text) {
        let rendered = wire::render_tool_calls(&calls);
        let again = wire::parse_tool_calls(&rendered)
            .unwrap_or_else(|e| panic!("rendered calls do not parse ({e}): {rendered}"));
        assert!(
            same_calls(&again, &calls),
            "{rendered}: {again:?} != {calls:?}"
        );
        let json: Vec<String> = calls.iter().map(wire::render_json_tool_call).collect();
        let again = wire::parse_json_tool_calls(&format!("[{}]", json.join(",")))
            .unwrap_or_else(|e| panic!("rendered JSON calls do not parse ({e}): {json:?}"));
        assert!(
            same_calls(&again, &calls),
            "{json:?}: {again:?} != {calls:?}"
        );
    }
    if let Ok((rest, calls)) = wire::extract_tool_calls(&text) {
        assert!(rest.len() <= text.len());
        assert!(calls.iter().all(|c| c.arguments.is_object()));
    }
    let _ = wire::parse_json_tool_calls(&text);
    if let Some((_, calls)) = parse_calls(&text) {
        assert!(!calls.is_empty());
    }
    // Streamed through the watcher in pieces, the text comes out whole: what it let through,
    // then what it held back as a possible call.
    let size = usize::from(piece % 16) + 1;
    for forced in [false, true] {
        let mut watcher = CallWatcher::new(forced);
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while chars.peek().is_some() {
            let chunk: String = chars.by_ref().take(size).collect();
            out.push_str(&watcher.push(&chunk));
        }
        out.push_str(&watcher.finish());
        out.push_str(&watcher.captured);
        assert_eq!(out, text, "the watcher lost or reordered text");
    }
}

/// Whether two lists of calls have the same names and arguments (the parts of a call that
/// travel through text; ids are numbered). Floats may differ by a relative 1e-12: serde_json
/// (without its `float_roundtrip` feature) may read a float it wrote one unit in the last place
/// off.
fn same_calls(a: &[ToolCall], b: &[ToolCall]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.name == y.name && close(&x.arguments, &y.arguments))
}

fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// Instruction budget of the fuzz target's renders: small, so slow inputs stay cheap.
const FUZZ_FUEL: u64 = 200_000;

/// Chat templates, hostile ones and hostile inputs: `template \0 content \0 variables`, the
/// template compiled and rendered with a conversation around `content` (with a tool, a tool
/// call and its result) and, when `variables` is JSON, with those variables. Every failure
/// must be a [`LlamaCppError::Template`], and never a panic caught inside the engine.
///
/// ```
/// slm_llamacpp::fuzzing::chat_template(b"{% for m in messages %}{{ m.content }}{% endfor %}\0{{ 7 * 7 }}");
/// ```
pub fn chat_template(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let source = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let content = String::from_utf8_lossy(parts.next().unwrap_or(b"{{ raise_exception('x') }}"));
    let variables = parts.next();
    let template = match ChatTemplate::new(source.as_ref(), "<s>", "</s>")
        .and_then(|t| t.with_fuel(FUZZ_FUEL))
    {
        Ok(t) => t,
        Err(e) => return check_template_error(&e.into()),
    };
    let tool = ToolSpec::new(
        content.as_ref(),
        content.as_ref(),
        serde_json::json!({"type": "object", "properties": {"q": {"type": "string", "description": content}}}),
    );
    let call = ToolCall::new(
        "call_0",
        content.as_ref(),
        serde_json::json!({"q": content}),
    );
    let messages = [
        Message::system(content.as_ref()),
        Message::user(content.as_ref()),
        Message::assistant_tool_calls(vec![call]),
        Message::tool("call_0", content.as_ref()),
        Message::assistant(content.as_ref()),
    ];
    for (messages, tools) in [(&messages[..], &[][..]), (&messages[..2], &[tool][..])] {
        if let Err(e) = template.render(messages, tools, true) {
            check_template_error(&e.into());
        }
    }
    if let Some(variables) = variables.and_then(|v| serde_json::from_slice(v).ok())
        && let Err(e) = template.render_json(&variables)
    {
        check_template_error(&e.into());
    }
}

fn check_template_error(error: &LlamaCppError) {
    match error {
        LlamaCppError::Template(message) => {
            assert!(!message.starts_with(PANIC_PREFIX), "{message}");
        }
        other => panic!("not a template error: {other:?}"),
    }
}
