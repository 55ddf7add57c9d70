//! Chat messages and their roles.

use serde::{Deserialize, Serialize};

use crate::ToolCall;

/// Who speaks a [`Message`].
///
/// ```
/// use slm_core::Role;
/// assert_eq!(serde_json::to_string(&Role::Assistant).unwrap(), "\"assistant\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person (or program) asking.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, sent back to the model.
    Tool,
}

impl Role {
    /// The lowercase name used by chat templates and OpenAI-style APIs.
    ///
    /// ```
    /// assert_eq!(slm_core::Role::Tool.as_str(), "tool");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One turn of a conversation.
///
/// ```
/// use slm_core::{Message, Role};
/// let m = Message::user("What is RAG?");
/// assert_eq!(m.role, Role::User);
/// assert_eq!(m.content, "What is RAG?");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// The text of the turn (may be empty when the assistant only calls tools).
    #[serde(default)]
    pub content: String,
    /// Tool calls made by the assistant in this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`] messages: the id of the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An assistant's reasoning (a model's `<think>` section, a server's
    /// `reasoning_content`), kept apart from `content`: it never reaches JSON validation,
    /// tool-call parsing or citations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
}

impl Message {
    /// A message with the given role and text.
    ///
    /// ```
    /// let m = slm_core::Message::new(slm_core::Role::System, "Be brief.");
    /// assert!(m.tool_calls.is_empty());
    /// ```
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning: None,
        }
    }

    /// A system message.
    ///
    /// ```
    /// assert_eq!(slm_core::Message::system("x").role, slm_core::Role::System);
    /// ```
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    ///
    /// ```
    /// assert_eq!(slm_core::Message::user("x").role, slm_core::Role::User);
    /// ```
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    ///
    /// ```
    /// assert_eq!(slm_core::Message::assistant("x").role, slm_core::Role::Assistant);
    /// ```
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant message that calls tools.
    ///
    /// ```
    /// use slm_core::{Message, ToolCall};
    /// let call = ToolCall::new("call_0", "get_weather", serde_json::json!({"city": "Oslo"}));
    /// let m = Message::assistant_tool_calls(vec![call]);
    /// assert_eq!(m.tool_calls[0].name, "get_weather");
    /// ```
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::new(Role::Assistant, "")
        }
    }

    /// A tool result answering the call with id `tool_call_id`.
    ///
    /// ```
    /// let m = slm_core::Message::tool("call_0", "{\"temp\": 3}");
    /// assert_eq!(m.tool_call_id.as_deref(), Some("call_0"));
    /// ```
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}
