//! The reasoning text servers send beside the answer, which async-openai's types do not carry:
//! `reasoning_content` (llama.cpp's server, vLLM, SGLang, DeepSeek's API, our `slm serve`) or
//! `reasoning` (OpenRouter, Ollama), in a whole answer's `message` or a chunk's `delta`.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A server's answer or stream chunk (`body`, async-openai's type) and the reasoning text of
/// its first choice.
#[derive(Debug, Clone)]
pub(crate) struct WithReasoning<T> {
    pub(crate) body: T,
    pub(crate) reasoning: Option<String>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WithReasoning<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let reasoning = first_choice_reasoning(&value);
        let body = T::deserialize(value).map_err(D::Error::custom)?;
        Ok(Self { body, reasoning })
    }
}

/// The reasoning of choice 0 (the only one we ask for), if the server sent any.
fn first_choice_reasoning(answer: &Value) -> Option<String> {
    let choice = answer
        .get("choices")?
        .as_array()?
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)?;
    let part = choice.get("message").or_else(|| choice.get("delta"))?;
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|key| part.get(key)?.as_str())
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use async_openai::types::chat::CreateChatCompletionStreamResponse;
    use serde_json::json;

    use super::*;

    fn chunk(delta: Value) -> WithReasoning<CreateChatCompletionStreamResponse> {
        serde_json::from_value(json!({"id": "c", "created": 0, "model": "m",
            "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}))
        .unwrap()
    }

    #[test]
    fn either_field_name_is_read_and_empty_is_none() {
        assert_eq!(
            chunk(json!({"reasoning_content": "hm"}))
                .reasoning
                .as_deref(),
            Some("hm")
        );
        assert_eq!(
            chunk(json!({"reasoning": "hm"})).reasoning.as_deref(),
            Some("hm")
        );
        assert_eq!(chunk(json!({"reasoning_content": ""})).reasoning, None);
        assert_eq!(chunk(json!({"content": "Hi"})).reasoning, None);
        let with = chunk(json!({"content": "Hi", "reasoning_content": null}));
        assert_eq!(with.body.choices[0].delta.content.as_deref(), Some("Hi"));
        assert_eq!(with.reasoning, None);
    }

    #[test]
    fn a_malformed_answer_is_still_an_error() {
        let bad: Result<WithReasoning<CreateChatCompletionStreamResponse>, _> =
            serde_json::from_value(json!({"choices": "no"}));
        assert!(bad.is_err());
    }
}
