//! Turns what async-openai and the transport report into a typed [`RemoteError`].

use async_openai::error::{OpenAIError, StreamError};
use serde_json::Value;

use crate::RemoteError;
use crate::endpoint::Endpoint;
use crate::transport::HttpFailure;

/// What the classifier needs to know about the model that made the call.
#[derive(Debug, Clone)]
pub(crate) struct CallSite {
    pub(crate) endpoint: Endpoint,
    /// `Some` for Azure: the deployment and api-version, for Azure's own errors.
    pub(crate) azure: Option<AzureSite>,
}

#[derive(Debug, Clone)]
pub(crate) struct AzureSite {
    pub(crate) deployment: String,
    pub(crate) api_version: String,
}

/// The `error` object of an OpenAI/Azure error body, read leniently.
#[derive(Debug, Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    inner: Option<Value>,
}

impl ErrorBody {
    fn parse(body: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(body).ok()?;
        let error = value.get("error")?;
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(Self {
            code: text(error.get("code")),
            message: text(error.get("message")).or_else(|| error.as_str().map(str::to_owned)),
            inner: error.get("innererror").cloned(),
        })
    }
}

impl CallSite {
    /// Classifies an error from async-openai.
    pub(crate) fn classify(&self, error: OpenAIError) -> RemoteError {
        match error {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
                Ok(failure) => self.http_failure(&failure),
                Err(other) => RemoteError::Connection(self.scrub(&chain(other.as_ref()))),
            },
            OpenAIError::Reqwest(e) if e.is_timeout() => {
                RemoteError::Connection(format!("timed out: {}", chain(&e)))
            }
            OpenAIError::Reqwest(e) if e.is_connect() => RemoteError::Connection(format!(
                "could not connect to {}: {}",
                self.endpoint.chat_url(),
                chain(&e)
            )),
            OpenAIError::Reqwest(e) => RemoteError::Connection(chain(&e)),
            OpenAIError::ApiError(api) => RemoteError::Http {
                status: api.status_code.as_u16(),
                code: api.api_error.code.clone(),
                message: self.scrub(&api.api_error.message),
                retry_after: None,
            },
            OpenAIError::JSONDeserialize(e, content) => self.bad_json(&e, &content),
            OpenAIError::StreamError(stream) => match *stream {
                StreamError::EventStream(text) if text.starts_with("Transport error") => {
                    RemoteError::Connection(format!("the event stream broke: {text}"))
                }
                StreamError::EventStream(text) => {
                    RemoteError::Parse(format!("malformed event stream: {text}"))
                }
                StreamError::UnknownEvent(event) => {
                    RemoteError::Parse(format!("unexpected stream event `{}`", event.event))
                }
            },
            OpenAIError::InvalidArgument(m) => RemoteError::InvalidRequest(m),
            other => RemoteError::Connection(self.scrub(&other.to_string())),
        }
    }

    /// A body that is not the JSON we expected; it may be an error object sent in a stream.
    fn bad_json(&self, error: &serde_json::Error, content: &str) -> RemoteError {
        if let Some(body) = ErrorBody::parse(content) {
            let message = self.scrub(body.message.as_deref().unwrap_or(content));
            if is_content_filter(&body) {
                return RemoteError::ContentFiltered {
                    message,
                    details: content_filter_details(&body),
                };
            }
            return RemoteError::StreamServerError {
                code: body.code,
                message,
            };
        }
        RemoteError::Parse(format!(
            "the server's answer is not a chat completion ({error}): {}",
            excerpt(&self.scrub(content))
        ))
    }

    /// Maps an error status answer.
    pub(crate) fn http_failure(&self, failure: &HttpFailure) -> RemoteError {
        let body = ErrorBody::parse(&failure.body).unwrap_or_default();
        let message = self.scrub(
            body.message
                .as_deref()
                .unwrap_or_else(|| excerpt(&failure.body)),
        );
        let url = failure.url.clone();
        let lower = message.to_ascii_lowercase();
        let status = failure.status;
        if status == 429 {
            return RemoteError::RateLimited {
                retry_after: failure.retry_after,
                message,
            };
        }
        if is_content_filter(&body) {
            return RemoteError::ContentFiltered {
                details: content_filter_details(&body),
                message,
            };
        }
        if let Some(azure) = &self.azure {
            if status == 404 && body.code.as_deref() == Some("DeploymentNotFound") {
                return RemoteError::DeploymentNotFound {
                    url,
                    deployment: azure.deployment.clone(),
                    message,
                };
            }
            let about_version = lower.contains("api version") || lower.contains("api-version");
            if matches!(status, 400 | 404) && about_version {
                return RemoteError::InvalidApiVersion {
                    api_version: azure.api_version.clone(),
                    url,
                    message,
                };
            }
        }
        match status {
            401 | 403 => RemoteError::Unauthorized { status, message },
            404 => RemoteError::EndpointNotFound { url, message },
            _ => RemoteError::Http {
                status,
                code: body.code,
                message,
                retry_after: failure.retry_after,
            },
        }
    }

    fn scrub(&self, text: &str) -> String {
        self.endpoint.scrub(text)
    }
}

/// Whether a 400 says the server does not know `stream_options` (older Azure api-versions,
/// some compatible servers).
pub(crate) fn rejects_stream_options(failure: &HttpFailure) -> bool {
    matches!(failure.status, 400 | 422) && failure.body.contains("stream_options")
}

/// Whether an error answer says the server does not know `response_format.type =
/// json_schema` (llama-cpp-python 0.3 answers 500 with a pydantic validation error naming
/// both; FastAPI servers in general 422).
pub(crate) fn rejects_json_schema(failure: &HttpFailure) -> bool {
    matches!(failure.status, 400 | 422 | 500)
        && failure.body.contains("json_schema")
        && failure.body.contains("response_format")
}

/// The [`HttpFailure`] inside an async-openai error, if that is what it is.
pub(crate) fn as_http_failure(error: &OpenAIError) -> Option<&HttpFailure> {
    match error {
        OpenAIError::Boxed(boxed) => boxed.downcast_ref::<HttpFailure>(),
        _ => None,
    }
}

fn is_content_filter(body: &ErrorBody) -> bool {
    let inner_code = body
        .inner
        .as_ref()
        .and_then(|i| i.get("code"))
        .and_then(Value::as_str);
    body.code.as_deref() == Some("content_filter")
        || inner_code == Some("ResponsibleAIPolicyViolation")
}

fn content_filter_details(body: &ErrorBody) -> Option<Value> {
    body.inner
        .as_ref()
        .and_then(|i| i.get("content_filter_result"))
        .cloned()
}

/// An error's message followed by its sources, which carry the useful part for reqwest.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first 500 characters of a body.
fn excerpt(body: &str) -> &str {
    match body.char_indices().nth(500) {
        Some((i, _)) => &body[..i],
        None => body,
    }
}
