//! Streaming: the events a model emits while it answers, and how to fold them into a response.

use std::pin::Pin;

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::{ChatResponse, Result};

/// One event of a streamed answer. The last event of a successful stream is [`ChatEvent::Done`].
///
/// ```
/// use slm_core::ChatEvent;
/// let e = ChatEvent::TextDelta("Hel".into());
/// assert_eq!(e.text_delta(), Some("Hel"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// More text. Never splits a UTF-8 character (it is a `String`).
    TextDelta(String),
    /// More of the model's reasoning (its `<think>` section), which is not part of the text.
    ReasoningDelta(String),
    /// A piece of a tool call. Pieces with the same `index` belong to one call.
    ToolCallDelta {
        /// Which call of this answer (0-based).
        index: usize,
        /// The call's id, on the first piece.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The tool name, on the first piece.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// More of the JSON arguments text.
        #[serde(default)]
        arguments: String,
    },
    /// The whole answer, with usage and timings.
    Done(Box<ChatResponse>),
}

impl ChatEvent {
    /// The text of a [`ChatEvent::TextDelta`].
    ///
    /// ```
    /// assert_eq!(slm_core::ChatEvent::TextDelta("a".into()).text_delta(), Some("a"));
    /// ```
    pub fn text_delta(&self) -> Option<&str> {
        match self {
            ChatEvent::TextDelta(t) => Some(t),
            _ => None,
        }
    }
}

/// A stream of [`ChatEvent`]s. Errors end the stream.
pub type ChatStream<'a> = Pin<Box<dyn Stream<Item = Result<ChatEvent>> + Send + 'a>>;

/// Builds the events that stream a finished response: its text, its tool calls, then `Done`.
///
/// Backends that cannot stream use this, so every model streams.
///
/// ```
/// use slm_core::{ChatEvent, ChatResponse, events_of_response};
/// let events = events_of_response(ChatResponse::from_text("m", "hi"));
/// assert_eq!(events.len(), 2);
/// assert!(matches!(events[1], ChatEvent::Done(_)));
/// ```
pub fn events_of_response(response: ChatResponse) -> Vec<ChatEvent> {
    let mut events = Vec::new();
    if let Some(reasoning) = response
        .message
        .reasoning
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        events.push(ChatEvent::ReasoningDelta(reasoning.clone()));
    }
    if !response.message.content.is_empty() {
        events.push(ChatEvent::TextDelta(response.message.content.clone()));
    }
    for (index, call) in response.message.tool_calls.iter().enumerate() {
        events.push(ChatEvent::ToolCallDelta {
            index,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: call.arguments.to_string(),
        });
    }
    events.push(ChatEvent::Done(Box::new(response)));
    events
}

/// Drains a stream and returns its final response, checking that the streamed text matches it.
///
/// ```
/// use futures::stream;
/// use slm_core::{ChatResponse, collect_stream, events_of_response};
/// # futures::executor::block_on(async {
/// let events = events_of_response(ChatResponse::from_text("m", "hi"));
/// let s = Box::pin(stream::iter(events.into_iter().map(Ok)));
/// let (text, response) = collect_stream(s).await.unwrap();
/// assert_eq!(text, "hi");
/// assert_eq!(response.text(), "hi");
/// # });
/// ```
pub async fn collect_stream(mut stream: ChatStream<'_>) -> Result<(String, ChatResponse)> {
    use futures::StreamExt;
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::TextDelta(delta) => text.push_str(&delta),
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {}
            ChatEvent::Done(response) => return Ok((text, *response)),
        }
    }
    Err(crate::Error::Backend(
        "stream ended without a final Done event".into(),
        None,
    ))
}
