//! Entry points shared by the fuzz targets (`fuzz/fuzz_targets/openai_response.rs`) and the
//! corpus replay test (`tests/fuzz_replay.rs`). Not part of the API: they exist so the same
//! code runs under `cargo fuzz` (nightly) and `cargo test` (stable).

use async_openai::types::chat::CreateChatCompletionResponse;

use crate::assemble::{Assembler, Chunk};
use crate::mapping;
use crate::reasoning::WithReasoning;

/// Feeds arbitrary bytes to the response mapping: the first byte chooses how the rest is read,
/// as a whole (non-streamed) response body (even) or as a server-sent event stream (odd).
/// Never panics; every outcome is a value or a typed error.
///
/// ```
/// slm_remote::fuzzing::openai_response(b"\x01data: {\"id\":\"x\"}\n\ndata: [DONE]\n\n");
/// ```
pub fn openai_response(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let _ = response_body(rest);
    } else {
        let _ = sse_stream(rest);
    }
}

/// A whole response body, mapped as `chat` maps it. Returns the answer's text when it maps.
pub fn response_body(body: &[u8]) -> Option<String> {
    let response: WithReasoning<CreateChatCompletionResponse> =
        serde_json::from_slice(body).ok()?;
    let (response, bad) = mapping::from_openai(response.body, response.reasoning, "fuzz").ok()?;
    let response = mapping::check_arguments(response, bad).ok()?;
    Some(response.text().to_string())
}

/// A server-sent event stream, split into events as the SSE specification says (lines end
/// with LF, CRLF or CR; `data:` lines are joined; a blank line dispatches; `[DONE]` ends),
/// each event's data read as a chunk and folded as `chat_stream` folds them. Returns the
/// streamed text when the stream maps to an answer; the text equals the answer's.
pub fn sse_stream(stream: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stream);
    let mut assembler = Assembler::default();
    let mut streamed = String::new();
    for data in sse_events(&text) {
        if data == "[DONE]" {
            break;
        }
        // async-openai ends the stream with an error on a chunk it cannot read.
        let chunk: Chunk = serde_json::from_str(&data).ok()?;
        for event in assembler.push(chunk) {
            if let slm_core::ChatEvent::TextDelta(piece) = event {
                streamed.push_str(&piece);
            }
        }
    }
    let (response, bad) = assembler.finish("fuzz").ok()?;
    assert_eq!(
        streamed,
        response.text(),
        "streamed text differs from the answer"
    );
    let response = mapping::check_arguments(response, bad).ok()?;
    Some(response.text().to_string())
}

/// The `data` of each event of an SSE stream.
fn sse_events(text: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Option<String> = None;
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    for line in normalized.split('\n') {
        if line.is_empty() {
            if let Some(d) = data.take() {
                events.push(d);
            }
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        if field == "data" {
            let d = data.get_or_insert_with(String::new);
            if !d.is_empty() {
                d.push('\n');
            }
            d.push_str(value);
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_folds_into_its_text() {
        let stream = concat!(
            "data: {\"id\":\"1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",",
            "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"id\":\"1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",",
            "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\r\n\r\n",
            "data: [DONE]\n\n"
        );
        assert_eq!(sse_stream(stream.as_bytes()).as_deref(), Some("Hello"));
        // Cut before the finish reason: no answer.
        let cut = &stream[..stream.find("\r\n").unwrap()];
        let first = &cut[..cut.find("\n\n").unwrap() + 2];
        assert_eq!(sse_stream(first.as_bytes()), None);
    }
}
