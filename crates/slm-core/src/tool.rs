//! Tool (function) declarations, calls and the choice of whether to call one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool the model may call: a name, what it does, and a JSON schema for its arguments.
///
/// ```
/// use slm_core::ToolSpec;
/// let spec = ToolSpec::new(
///     "get_weather",
///     "Current weather for a city",
///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
/// );
/// assert_eq!(spec.name, "get_weather");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The function name the model must use.
    pub name: String,
    /// What the tool does, shown to the model.
    #[serde(default)]
    pub description: String,
    /// JSON schema of the arguments object.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

impl ToolSpec {
    /// A tool declaration.
    ///
    /// ```
    /// let t = slm_core::ToolSpec::new("now", "Current time", serde_json::json!({"type": "object"}));
    /// assert_eq!(t.description, "Current time");
    /// ```
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// A call of a tool made by the model.
///
/// ```
/// use slm_core::ToolCall;
/// let call = ToolCall::new("call_1", "add", serde_json::json!({"a": 1, "b": 2}));
/// assert_eq!(call.arguments["b"], 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// An id that the tool result message refers back to.
    #[serde(default)]
    pub id: String,
    /// Name of the called tool.
    pub name: String,
    /// Arguments, as parsed JSON.
    #[serde(default)]
    pub arguments: Value,
}

impl ToolCall {
    /// A tool call.
    ///
    /// ```
    /// let c = slm_core::ToolCall::new("id", "f", serde_json::json!({}));
    /// assert_eq!(c.name, "f");
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }
}

/// Whether and which tool the model must call.
///
/// ```
/// use slm_core::ToolChoice;
/// let json = serde_json::to_value(ToolChoice::Named("search".into())).unwrap();
/// assert_eq!(json, serde_json::json!({"named": "search"}));
/// assert_eq!(ToolChoice::default(), ToolChoice::Auto);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides between text and tool calls.
    #[default]
    Auto,
    /// The model must answer in text.
    None,
    /// The model must call at least one of the declared tools.
    Required,
    /// The model must call this tool.
    Named(String),
}
