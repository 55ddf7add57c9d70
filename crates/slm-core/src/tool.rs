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

/// Something wrong with a tool call the model wrote: reported on
/// [`ChatResponse::tool_call_issues`](crate::ChatResponse::tool_call_issues) beside the call,
/// which is kept as written, so a caller can repair it, ask again or refuse to run it.
///
/// Forced calls ([`ToolChoice::Required`], [`ToolChoice::Named`]) of local models are
/// constrained to be valid and have none; calls a model writes on its own may.
///
/// ```
/// use slm_core::{ToolCallIssue, ToolCallProblem};
/// let issue = ToolCallIssue::new(0, "get_weather", ToolCallProblem::UnknownArgument { name: "type".into() });
/// assert_eq!(issue.to_string(), "call 0 of get_weather: undeclared argument \"type\"");
/// let json = serde_json::to_value(&issue).unwrap();
/// assert_eq!(json["problem"], serde_json::json!({"unknown_argument": {"name": "type"}}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallIssue {
    /// Index of the call in the message's `tool_calls`.
    pub call: usize,
    /// The name the call used.
    pub tool: String,
    /// What is wrong.
    pub problem: ToolCallProblem,
}

impl ToolCallIssue {
    /// An issue of call `call`.
    ///
    /// ```
    /// let i = slm_core::ToolCallIssue::new(1, "f", slm_core::ToolCallProblem::UnknownTool);
    /// assert_eq!(i.call, 1);
    /// ```
    pub fn new(call: usize, tool: impl Into<String>, problem: ToolCallProblem) -> Self {
        Self {
            call,
            tool: tool.into(),
            problem,
        }
    }
}

impl std::fmt::Display for ToolCallIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call {} of {}: {}", self.call, self.tool, self.problem)
    }
}

/// What is wrong with a tool call (see [`ToolCallIssue`]).
///
/// ```
/// let p = slm_core::ToolCallProblem::MissingArgument { name: "city".into() };
/// assert_eq!(p.to_string(), "missing required argument \"city\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallProblem {
    /// The call names a tool the request does not declare.
    #[error("the tool is not declared")]
    UnknownTool,
    /// An argument the tool's schema does not declare (and does not allow with
    /// `additionalProperties`).
    #[error("undeclared argument {name:?}")]
    UnknownArgument {
        /// The argument's name.
        name: String,
    },
    /// A required argument is missing.
    #[error("missing required argument {name:?}")]
    MissingArgument {
        /// The argument's name.
        name: String,
    },
    /// The arguments break the tool's schema some other way (a wrong type, a value outside an
    /// `enum`, an undeclared key in a nested object...).
    #[error("{path}: {message}")]
    InvalidArguments {
        /// JSON pointer to the offending value inside the arguments (`""` for the whole).
        path: String,
        /// The validator's message.
        message: String,
    },
    /// A second or later call although the request set `parallel_tool_calls` to false.
    #[error("more than one call although parallel_tool_calls is false")]
    ExtraCall,
}
