//! The one error type every [`ChatModel`](crate::ChatModel) returns.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong when asking a model.
///
/// Messages never contain secrets: backends redact keys before building an error.
///
/// Every variant but `Cancelled` has a last field for the backend's own typed error, when the
/// error came from one (`None` otherwise): it is this error's
/// [`source()`](std::error::Error::source), and [`Error::downcast_ref`] gets it back as its
/// type (say `slm_remote::RemoteError::DeploymentNotFound`, with all its fields). The message
/// is complete without it; comparisons (`==`) ignore it.
///
/// ```
/// use slm_core::Error;
/// let e = Error::ContextOverflow { needed: 5000, limit: 4096, source: None };
/// assert!(!e.is_retryable());
/// assert_eq!(e.to_string(), "prompt needs 5000 tokens but the context holds 4096");
/// assert!(Error::RateLimited { retry_after: None, source: None }.is_retryable());
/// assert_eq!(Error::Backend("decode failed".into(), None).to_string(), "backend error: decode failed");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request itself is wrong (no messages, unknown tool, bad schema...).
    #[error("invalid request: {0}")]
    InvalidRequest(String, #[source] Option<ErrorSource>),
    /// The prompt does not fit the model's context window.
    #[error("prompt needs {needed} tokens but the context holds {limit}")]
    ContextOverflow {
        /// Tokens the prompt (plus any reserved room) needs.
        needed: usize,
        /// The context length.
        limit: usize,
        /// The backend's own error, when it came from one.
        source: Option<ErrorSource>,
    },
    /// The model could not be loaded (missing or malformed file...).
    #[error("model load failed: {0}")]
    ModelLoad(String, #[source] Option<ErrorSource>),
    /// The backend failed while generating.
    #[error("backend error: {0}")]
    Backend(String, #[source] Option<ErrorSource>),
    /// Configuration is missing or wrong (an unset variable, a bad URL...).
    #[error("configuration error: {0}")]
    Config(String, #[source] Option<ErrorSource>),
    /// An HTTP error answer.
    #[error("HTTP {status}{}: {body}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// The status code.
        status: u16,
        /// The provider's error code, when it sent one (e.g. `DeploymentNotFound`).
        code: Option<String>,
        /// The provider's message or an excerpt of the body.
        body: String,
        /// The backend's own error, when it came from one.
        source: Option<ErrorSource>,
    },
    /// The provider's content filter rejected the prompt or the answer.
    #[error("content filtered: {0}")]
    ContentFiltered(String, #[source] Option<ErrorSource>),
    /// Too many requests; wait `retry_after` if given.
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the provider asked us to wait.
        retry_after: Option<Duration>,
        /// The backend's own error, when it came from one.
        source: Option<ErrorSource>,
    },
    /// A connection could not be made or broke.
    #[error("connection error: {0}")]
    Connection(String, #[source] Option<ErrorSource>),
    /// The request or deadline timed out.
    #[error("timed out after {0:?}")]
    Timeout(Duration, #[source] Option<ErrorSource>),
    /// The request was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Output could not be parsed (malformed tool call, bad stream chunk, invalid JSON).
    #[error("parse error: {0}")]
    Parse(String, #[source] Option<ErrorSource>),
}

impl Error {
    /// Whether trying the same request again may succeed: rate limits, timeouts, connection
    /// errors and HTTP 500/502/503/504.
    ///
    /// ```
    /// use slm_core::Error;
    /// let http = |status| Error::Http { status, code: None, body: String::new(), source: None };
    /// assert!(http(503).is_retryable());
    /// assert!(!http(404).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Timeout(..) | Error::Connection(..) => true,
            Error::Http { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The backend's own typed error this error was converted from, when there is one.
    ///
    /// ```
    /// use slm_core::Error;
    /// let io = std::io::Error::other("disk full");
    /// let e = Error::Backend("writing the cache: disk full".into(), None).with_source(io);
    /// assert_eq!(e.backend_source().unwrap().to_string(), "disk full");
    /// assert!(Error::Cancelled.backend_source().is_none());
    /// ```
    pub fn backend_source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source_slot()?.as_ref().map(|s| &**s)
    }

    /// The first error of type `E` in the chain below this one: the backend's typed error,
    /// or one of its own sources.
    ///
    /// ```
    /// use slm_core::Error;
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("deployment `{0}` not found")]
    /// struct DeploymentNotFound(String);
    ///
    /// let e = Error::Http { status: 404, code: None, body: "no such deployment".into(), source: None }
    ///     .with_source(DeploymentNotFound("gpt".into()));
    /// assert_eq!(e.downcast_ref::<DeploymentNotFound>().unwrap().0, "gpt");
    /// assert!(e.downcast_ref::<std::io::Error>().is_none());
    /// // Comparisons ignore the source.
    /// assert_eq!(e, Error::Http { status: 404, code: None, body: "no such deployment".into(), source: None });
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.backend_source().map(|s| s as _);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<E>() {
                return Some(found);
            }
            next = error.source();
        }
        None
    }

    /// This error with `source` as its backend source (replacing any). `Cancelled` has no
    /// room for one and is returned as it is.
    ///
    /// ```
    /// use slm_core::Error;
    /// let e = Error::Parse("bad JSON".into(), None).with_source(std::io::Error::other("eof"));
    /// assert!(std::error::Error::source(&e).is_some());
    /// assert_eq!(e.to_string(), "parse error: bad JSON");
    /// ```
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        if let Some(slot) = self.source_slot_mut() {
            *slot = Some(ErrorSource::new(source));
        }
        self
    }

    fn source_slot(&self) -> Option<&Option<ErrorSource>> {
        match self {
            Error::InvalidRequest(_, source)
            | Error::ModelLoad(_, source)
            | Error::Backend(_, source)
            | Error::Config(_, source)
            | Error::ContentFiltered(_, source)
            | Error::Connection(_, source)
            | Error::Timeout(_, source)
            | Error::Parse(_, source)
            | Error::ContextOverflow { source, .. }
            | Error::Http { source, .. }
            | Error::RateLimited { source, .. } => Some(source),
            Error::Cancelled => None,
        }
    }

    fn source_slot_mut(&mut self) -> Option<&mut Option<ErrorSource>> {
        match self {
            Error::InvalidRequest(_, source)
            | Error::ModelLoad(_, source)
            | Error::Backend(_, source)
            | Error::Config(_, source)
            | Error::ContentFiltered(_, source)
            | Error::Connection(_, source)
            | Error::Timeout(_, source)
            | Error::Parse(_, source)
            | Error::ContextOverflow { source, .. }
            | Error::Http { source, .. }
            | Error::RateLimited { source, .. } => Some(source),
            Error::Cancelled => None,
        }
    }
}

/// A backend's typed error inside an [`enum@Error`], shared so `Error` stays `Clone`.
///
/// It dereferences to the error itself, which downcasts to the backend's type.
///
/// ```
/// use slm_core::ErrorSource;
/// let source = ErrorSource::new(std::io::Error::other("disk full"));
/// assert_eq!(source.to_string(), "disk full");
/// assert!(source.downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Clone)]
pub struct ErrorSource(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl ErrorSource {
    /// Wraps a backend's error.
    ///
    /// ```
    /// let s = slm_core::ErrorSource::new(std::fmt::Error);
    /// assert!(s.is::<std::fmt::Error>());
    /// ```
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(error))
    }
}

impl Deref for ErrorSource {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Errors are equal when they say the same: the same variant with the same fields, whatever
/// their sources.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        use Error as E;
        match (self, other) {
            (E::InvalidRequest(a, _), E::InvalidRequest(b, _))
            | (E::ModelLoad(a, _), E::ModelLoad(b, _))
            | (E::Backend(a, _), E::Backend(b, _))
            | (E::Config(a, _), E::Config(b, _))
            | (E::ContentFiltered(a, _), E::ContentFiltered(b, _))
            | (E::Connection(a, _), E::Connection(b, _))
            | (E::Parse(a, _), E::Parse(b, _)) => a == b,
            (E::Timeout(a, _), E::Timeout(b, _)) => a == b,
            (
                E::ContextOverflow { needed, limit, .. },
                E::ContextOverflow {
                    needed: n,
                    limit: l,
                    ..
                },
            ) => (needed, limit) == (n, l),
            (
                E::Http {
                    status, code, body, ..
                },
                E::Http {
                    status: s,
                    code: c,
                    body: b,
                    ..
                },
            ) => (status, code, body) == (s, c, b),
            (E::RateLimited { retry_after, .. }, E::RateLimited { retry_after: r, .. }) => {
                retry_after == r
            }
            (E::Cancelled, E::Cancelled) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("typed: {0}")]
    struct Typed(u32);

    #[test]
    fn the_source_is_the_typed_error_itself() {
        let e = Error::Timeout(Duration::from_secs(1), None).with_source(Typed(7));
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.downcast_ref::<Typed>().unwrap().0, 7);
        assert_eq!(e.downcast_ref::<Typed>().unwrap().0, 7);
        let cloned = e.clone();
        assert_eq!(cloned.downcast_ref::<Typed>().unwrap().0, 7);
        assert_eq!(e, Error::Timeout(Duration::from_secs(1), None));
        assert_ne!(e, Error::Timeout(Duration::from_secs(2), None));
    }

    #[test]
    fn downcast_walks_the_sources_of_the_source() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e =
            Error::Backend("outer".into(), None).with_source(Outer(std::io::Error::other("inner")));
        assert!(e.downcast_ref::<Outer>().is_some());
        assert_eq!(
            e.downcast_ref::<std::io::Error>().unwrap().to_string(),
            "inner"
        );
        assert!(
            Error::Cancelled
                .with_source(Typed(1))
                .downcast_ref::<Typed>()
                .is_none()
        );
    }
}
