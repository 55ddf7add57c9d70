//! The one error type of this crate, and its conversion into [`slm_core::Error`].

use std::time::Duration;

use slm_core::ChatResponse;

/// What can go wrong when talking to Azure OpenAI or an OpenAI-compatible server.
///
/// Messages quote the server where it explained itself, and never contain an API key: keys
/// travel only in headers, and server text is scrubbed of the key before it lands here.
///
/// ```
/// use slm_remote::RemoteError;
/// let e = RemoteError::RateLimited { retry_after: None, message: "slow down".into() };
/// assert!(e.is_retryable());
/// let core: slm_core::Error = e.into();
/// assert!(matches!(core, slm_core::Error::RateLimited { .. }));
/// // The core error keeps this one as its source, with every field.
/// let typed = core.downcast_ref::<RemoteError>().unwrap();
/// assert!(matches!(typed, RemoteError::RateLimited { message, .. } if message == "slow down"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The model was configured wrongly: a missing variable, a malformed URL, a key with
    /// characters no HTTP header may carry.
    #[error("configuration error: {0}")]
    Config(String),
    /// The request cannot be expressed in the chat-completions API.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Azure answered 404 `DeploymentNotFound`.
    #[error(
        "Azure answered DeploymentNotFound for deployment `{deployment}` at {url}: {}. \
         Check that AZURE_DEPLOYMENT names a deployment of this resource (Azure portal → \
         Deployments) and that it has finished deploying, and that AZURE_ENDPOINT has the \
         canonical form https://<resource>.openai.azure.com/openai/deployments/<deployment> \
         (the preview `models/chat/completions` path only works where the resource exposes it)",
        sentence(message)
    )]
    DeploymentNotFound {
        /// The URL that was tried (it never carries the key).
        url: String,
        /// The deployment name that was asked for.
        deployment: String,
        /// The server's message.
        message: String,
    },
    /// Azure rejected the `api-version` query parameter.
    #[error(
        "Azure rejected api-version `{api_version}` at {url}: {}. Set AZURE_API_VERSION to \
         a version this resource supports, e.g. 2024-10-21 or 2024-05-01-preview",
        sentence(message)
    )]
    InvalidApiVersion {
        /// The api-version that was sent.
        api_version: String,
        /// The URL that was tried.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The server knows no resource at this URL (404 without a more specific code).
    #[error(
        "no chat-completions endpoint at {url} (404: {message}). Check the base URL (OpenAI-compatible \
         servers usually end in /v1) and, for Azure, the endpoint and api-version"
    )]
    EndpointNotFound {
        /// The URL that was tried.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The key or token was refused (401 or 403).
    #[error(
        "HTTP {status}: access denied: {}. Check the API key or token",
        sentence(message)
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The provider's content filter rejected the prompt (HTTP 400 `content_filter`).
    #[error("content filtered: {message}")]
    ContentFiltered {
        /// The server's message.
        message: String,
        /// Azure's `innererror.content_filter_result`, when sent: which category fired.
        details: Option<serde_json::Value>,
    },
    /// HTTP 429: too many requests.
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the server asked us to wait (`retry-after-ms` or `retry-after`).
        retry_after: Option<Duration>,
        /// The server's message.
        message: String,
    },
    /// Any other error status.
    #[error("HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// The status code.
        status: u16,
        /// The provider's error code, when sent.
        code: Option<String>,
        /// The server's message or an excerpt of the body.
        message: String,
        /// How long the server asked us to wait, when it did (e.g. on 503).
        retry_after: Option<Duration>,
    },
    /// The server reported an error inside a 200 event stream.
    #[error("server error in stream{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    StreamServerError {
        /// The provider's error code, when sent.
        code: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The connection could not be made, broke, or the stream ended before the answer did.
    #[error("connection error: {0}")]
    Connection(String),
    /// One attempt took longer than the per-request timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The total deadline of the call (all attempts and waits) passed.
    #[error("deadline of {0:?} exceeded")]
    DeadlineExceeded(Duration),
    /// The server sent something that is not a chat completion: invalid JSON, a malformed
    /// stream event, no choices.
    #[error("parse error: {0}")]
    Parse(String),
    /// The model called a tool with arguments that are not JSON. The whole response is kept,
    /// with the raw arguments as a JSON string.
    #[error("tool call `{tool}` has arguments that are not JSON ({reason}): {raw}")]
    InvalidToolArguments {
        /// The tool that was called.
        tool: String,
        /// The arguments exactly as the model wrote them.
        raw: String,
        /// Why they do not parse.
        reason: String,
        /// The full answer, with `arguments` of the bad call set to `Value::String(raw)`.
        response: Box<ChatResponse>,
    },
}

impl RemoteError {
    /// Whether the same request may succeed when tried again: 429, 500, 502, 503, 504,
    /// connection errors and per-request timeouts.
    ///
    /// ```
    /// use slm_remote::RemoteError;
    /// assert!(RemoteError::Connection("reset".into()).is_retryable());
    /// assert!(!RemoteError::Parse("bad".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Connection(_) | Self::Timeout(_) => true,
            Self::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// How long the server asked to wait before the next try, when it said.
    ///
    /// ```
    /// use std::time::Duration;
    /// use slm_remote::RemoteError;
    /// let e = RemoteError::RateLimited { retry_after: Some(Duration::from_secs(2)), message: String::new() };
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A server's message followed by our own sentence: without its final period, so the two do
/// not meet as "try again.. Check".
fn sentence(message: &str) -> &str {
    message.trim_end().trim_end_matches('.')
}

/// The core error of the same kind, with `error` as its source (downcastable with
/// [`slm_core::Error::downcast_ref`]): typed details such as `DeploymentNotFound`'s deployment
/// or `InvalidToolArguments`' whole response stay reachable.
impl From<RemoteError> for slm_core::Error {
    fn from(error: RemoteError) -> Self {
        use slm_core::Error as E;
        let text = error.to_string();
        let core = match error.clone() {
            RemoteError::Config(m) => E::Config(m, None),
            RemoteError::InvalidRequest(m) => E::InvalidRequest(m, None),
            RemoteError::DeploymentNotFound { .. } => E::Http {
                status: 404,
                code: Some("DeploymentNotFound".into()),
                body: text,
                source: None,
            },
            RemoteError::InvalidApiVersion { .. } => E::Http {
                status: 400,
                code: Some("InvalidApiVersion".into()),
                body: text,
                source: None,
            },
            RemoteError::EndpointNotFound { .. } => E::Http {
                status: 404,
                code: None,
                body: text,
                source: None,
            },
            // The core error writes `HTTP {status}: ` itself: the body is the rest.
            RemoteError::Unauthorized { status, message } => E::Http {
                status,
                code: None,
                body: format!(
                    "access denied: {}. Check the API key or token",
                    sentence(&message)
                ),
                source: None,
            },
            RemoteError::ContentFiltered { message, .. } => E::ContentFiltered(message, None),
            RemoteError::RateLimited { retry_after, .. } => E::RateLimited {
                retry_after,
                source: None,
            },
            RemoteError::Http {
                status,
                code,
                message,
                ..
            } => E::Http {
                status,
                code,
                body: message,
                source: None,
            },
            RemoteError::StreamServerError { .. } => E::Backend(text, None),
            RemoteError::Connection(m) => E::Connection(m, None),
            RemoteError::Timeout(d) | RemoteError::DeadlineExceeded(d) => E::Timeout(d, None),
            RemoteError::Parse(m) => E::Parse(m, None),
            RemoteError::InvalidToolArguments { .. } => E::Parse(text, None),
        };
        core.with_source(error)
    }
}
