//! The one error type every [`ChatModel`](crate::ChatModel) returns.

use std::time::Duration;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when asking a model.
///
/// Messages never contain secrets: backends redact keys before building an error.
///
/// ```
/// use slm_core::Error;
/// let e = Error::ContextOverflow { needed: 5000, limit: 4096 };
/// assert!(!e.is_retryable());
/// assert_eq!(e.to_string(), "prompt needs 5000 tokens but the context holds 4096");
/// assert!(Error::RateLimited { retry_after: None }.is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request itself is wrong (no messages, unknown tool, bad schema...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The prompt does not fit the model's context window.
    #[error("prompt needs {needed} tokens but the context holds {limit}")]
    ContextOverflow {
        /// Tokens the prompt (plus any reserved room) needs.
        needed: usize,
        /// The context length.
        limit: usize,
    },
    /// The model could not be loaded (missing or malformed file...).
    #[error("model load failed: {0}")]
    ModelLoad(String),
    /// The backend failed while generating.
    #[error("backend error: {0}")]
    Backend(String),
    /// Configuration is missing or wrong (an unset variable, a bad URL...).
    #[error("configuration error: {0}")]
    Config(String),
    /// An HTTP error answer.
    #[error("HTTP {status}{}: {body}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// The status code.
        status: u16,
        /// The provider's error code, when it sent one (e.g. `DeploymentNotFound`).
        code: Option<String>,
        /// The provider's message or an excerpt of the body.
        body: String,
    },
    /// The provider's content filter rejected the prompt or the answer.
    #[error("content filtered: {0}")]
    ContentFiltered(String),
    /// Too many requests; wait `retry_after` if given.
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
    },
    /// A connection could not be made or broke.
    #[error("connection error: {0}")]
    Connection(String),
    /// The request or deadline timed out.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The request was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Output could not be parsed (malformed tool call, bad stream chunk, invalid JSON).
    #[error("parse error: {0}")]
    Parse(String),
}

impl Error {
    /// Whether trying the same request again may succeed: rate limits, timeouts, connection
    /// errors and HTTP 500/502/503/504.
    ///
    /// ```
    /// use slm_core::Error;
    /// assert!(Error::Http { status: 503, code: None, body: String::new() }.is_retryable());
    /// assert!(!Error::Http { status: 404, code: None, body: String::new() }.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout(_) | Error::Connection(_) => true,
            Error::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}
