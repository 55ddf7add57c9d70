//! Folds streamed chat-completion chunks into events and, at the end, one response.

use async_openai::types::chat::{CreateChatCompletionStreamResponse, FinishReason as OaFinish};
use slm_core::{ChatEvent, ChatResponse, Message, ToolCall, Usage};

use crate::RemoteError;
use crate::mapping::{BadArguments, finish_reason, parse_arguments, usage};
use crate::reasoning::WithReasoning;

/// A stream chunk, with the reasoning text it carries.
pub(crate) type Chunk = WithReasoning<CreateChatCompletionStreamResponse>;

/// A tool call being streamed: pieces with the same index are appended.
#[derive(Debug, Default, Clone)]
struct PartialCall {
    /// The `index` the server gave it.
    server_index: u32,
    id: Option<String>,
    name: String,
    arguments: String,
}

/// The state of one streamed answer.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    text: String,
    reasoning: Option<String>,
    calls: Vec<PartialCall>,
    finish: Option<OaFinish>,
    saw_finish: bool,
    usage: Option<Usage>,
}

impl Assembler {
    /// Takes one chunk and returns the events it carries.
    ///
    /// Chunks without choices (Azure's prompt-filter chunk first, the usage chunk last) only
    /// contribute usage. Only choice 0 is read: we never ask for more than one.
    pub(crate) fn push(&mut self, chunk: Chunk) -> Vec<ChatEvent> {
        let WithReasoning {
            body: chunk,
            reasoning,
        } = chunk;
        if let Some(u) = chunk.usage.as_ref() {
            self.usage = Some(usage(Some(u)));
        }
        let mut events = Vec::new();
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return events;
        };
        if let Some(piece) = reasoning {
            self.reasoning.get_or_insert_default().push_str(&piece);
            events.push(ChatEvent::ReasoningDelta(piece));
        }
        let delta = choice.delta;
        for piece in [delta.content, delta.refusal].into_iter().flatten() {
            if !piece.is_empty() {
                self.text.push_str(&piece);
                events.push(ChatEvent::TextDelta(piece));
            }
        }
        for call in delta.tool_calls.unwrap_or_default() {
            // Calls are kept in the order their index first appears and reported by that
            // position: a slot per possible index would let one chunk with `"index":
            // 4294967295` allocate 300 GB and abort the process (found by fuzzing).
            let index = match self.calls.iter().position(|c| c.server_index == call.index) {
                Some(position) => position,
                None => {
                    self.calls.push(PartialCall {
                        server_index: call.index,
                        ..PartialCall::default()
                    });
                    self.calls.len() - 1
                }
            };
            let slot = &mut self.calls[index];
            let function = call.function.unwrap_or_default();
            // OpenAI sends the id and name once; some servers (llama-cpp-python) repeat them
            // in every chunk. Only news is kept and reported.
            let id = call.id.filter(|id| slot.id.as_ref() != Some(id));
            if id.is_some() {
                slot.id = id.clone();
            }
            let name = function.name.filter(|n| !n.is_empty() && *n != slot.name);
            if let Some(name) = &name {
                slot.name.push_str(name);
            }
            let arguments = function.arguments.unwrap_or_default();
            slot.arguments.push_str(&arguments);
            events.push(ChatEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            });
        }
        if choice.finish_reason.is_some() {
            self.saw_finish = true;
            self.finish = choice.finish_reason;
        }
        events
    }

    /// Whether the server said why the answer ended.
    pub(crate) fn finished(&self) -> bool {
        self.saw_finish
    }

    /// The whole answer. Fails when the stream ended before the server said why it ended,
    /// i.e. it was cut.
    pub(crate) fn finish(
        self,
        model_id: &str,
    ) -> Result<(ChatResponse, Vec<BadArguments>), RemoteError> {
        if !self.saw_finish {
            return Err(RemoteError::Connection(
                "the event stream ended before the answer was finished (no finish_reason)".into(),
            ));
        }
        let mut bad = Vec::new();
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .enumerate()
            .filter(|(_, c)| !c.name.is_empty() || !c.arguments.is_empty())
            .map(|(i, c)| {
                let arguments = parse_arguments(&c.name, &c.arguments, &mut bad);
                ToolCall::new(
                    c.id.unwrap_or_else(|| format!("call_{i}")),
                    c.name,
                    arguments,
                )
            })
            .collect();
        let response = ChatResponse {
            finish_reason: finish_reason(self.finish, !tool_calls.is_empty()),
            message: Message {
                tool_calls,
                reasoning: self.reasoning,
                ..Message::assistant(self.text)
            },
            usage: self.usage.unwrap_or_default(),
            model: model_id.to_string(),
            ..ChatResponse::default()
        };
        Ok((response, bad))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use slm_core::FinishReason;

    use super::*;

    fn chunk(v: serde_json::Value) -> Chunk {
        let mut base =
            json!({"id": "c", "created": 0, "model": "m", "object": "chat.completion.chunk"});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn reassembles_tool_calls_split_across_chunks() {
        let mut a = Assembler::default();
        a.push(chunk(json!({"choices": [], "prompt_filter_results": []})));
        let e = a.push(chunk(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"ci"}}]}}]})));
        assert!(
            matches!(&e[0], ChatEvent::ToolCallDelta { index: 0, id: Some(id), .. } if id == "call_a")
        );
        a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "ty\": \"Oslo\"}"}},
            {"index": 1, "id": "call_b", "function": {"name": "now", "arguments": ""}}]}}]}),
        ));
        a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ));
        a.push(chunk(json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}})));
        let (r, bad) = a.finish("m").unwrap();
        assert!(bad.is_empty());
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        assert_eq!(r.message.tool_calls.len(), 2);
        assert_eq!(r.message.tool_calls[0].arguments, json!({"city": "Oslo"}));
        assert_eq!(r.message.tool_calls[1].arguments, json!({}));
        assert_eq!(r.usage, Usage::new(5, 9));
    }

    #[test]
    fn a_huge_tool_call_index_is_a_call_not_an_allocation() {
        let mut a = Assembler::default();
        let e = a.push(chunk(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": u32::MAX, "id": "call_z", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            "finish_reason": "tool_calls"}]})));
        assert!(
            matches!(&e[0], ChatEvent::ToolCallDelta { index: 0, .. }),
            "{e:?}"
        );
        let (r, bad) = a.finish("m").unwrap();
        assert!(bad.is_empty());
        assert_eq!(r.message.tool_calls.len(), 1);
        assert_eq!(r.message.tool_calls[0].id, "call_z");
    }

    #[test]
    fn repeated_ids_and_names_are_not_appended_twice() {
        let mut a = Assembler::default();
        for piece in ["{\"a\"", ": 1}"] {
            a.push(chunk(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_x", "type": "function", "function": {"name": "f", "arguments": piece}}]}}]})));
        }
        a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ));
        let (r, _) = a.finish("m").unwrap();
        assert_eq!(r.message.tool_calls[0].name, "f");
        assert_eq!(r.message.tool_calls[0].id, "call_x");
        assert_eq!(r.message.tool_calls[0].arguments, json!({"a": 1}));
    }

    #[test]
    fn reasoning_is_streamed_apart_and_kept_on_the_message() {
        let mut a = Assembler::default();
        let e = a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Two and "}}]}),
        ));
        assert_eq!(e, vec![ChatEvent::ReasoningDelta("Two and ".into())]);
        a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {"reasoning_content": "two."}}]}),
        ));
        let e = a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {"content": "4"}, "finish_reason": "stop"}]}),
        ));
        assert_eq!(e, vec![ChatEvent::TextDelta("4".into())]);
        let (r, _) = a.finish("m").unwrap();
        assert_eq!(r.text(), "4");
        assert_eq!(r.message.reasoning.as_deref(), Some("Two and two."));
    }

    #[test]
    fn a_stream_without_finish_reason_was_cut() {
        let mut a = Assembler::default();
        let e = a.push(chunk(
            json!({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
        ));
        assert_eq!(e, vec![ChatEvent::TextDelta("Hel".into())]);
        assert!(matches!(a.finish("m"), Err(RemoteError::Connection(_))));
    }
}
