//! Errors in OpenAI's JSON shape (`{"error": {"message", "type", "param", "code"}}`) with the
//! HTTP status the official SDKs map to their typed exceptions, and the one mapping of
//! `slm_core::Error` to statuses ([`ApiError::from_core`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: status, message, OpenAI's `type`, the request field at fault and a code.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub message: String,
    /// OpenAI's error `type` (`invalid_request_error`, `server_error`, ...).
    pub kind: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// A stable machine-readable code (`model_not_found`, `queue_full`, ...).
    pub code: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
        }
    }

    fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400: the request is malformed or asks for something this server cannot do.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 about one field.
    pub fn invalid_param(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::bad_request(message).with_param(param)
    }

    /// 401: no API key, or not one of the server's.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
            .with_code("invalid_api_key")
    }

    /// 404: the model is not served here.
    pub fn model_not_found(name: &str, served: &[String]) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "the model `{name}` does not exist; this server has {}",
                served.join(", ")
            ),
        )
        .with_param("model")
        .with_code("model_not_found")
    }

    /// 404 for a path this server does not have.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("no route {method} {path}"),
        )
        .with_code("unknown_url")
    }

    /// 413: the body is over `--max-body`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is over this server's limit of {limit} bytes"),
        )
        .with_code("request_too_large")
    }

    /// 429: every slot of the model is busy and its queue is full.
    pub fn queue_full(model: &str, queue: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            format!(
                "the model `{model}` is busy: all its slots are in use and {queue} requests \
                 already wait; retry later"
            ),
        )
        .with_code("queue_full")
    }

    /// 503: the model is still loading.
    pub fn loading(model: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_error",
            format!("the model `{model}` is loading; retry in a moment"),
        )
        .with_code("model_loading")
    }

    /// 503: the server is shutting down or the model could not load.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_error",
            message,
        )
    }

    /// 504: the request ran past `--timeout`; its generation was stopped.
    pub fn deadline(seconds: f64) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout_error",
            format!("the request ran past this server's deadline of {seconds} s and was stopped"),
        )
        .with_code("timeout")
    }

    /// 500: something failed inside the server.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The one mapping of a model's error to an HTTP status: the caller's fault is 400, an
    /// upstream server's answer keeps its meaning, everything else is the server's (5xx), with
    /// the backend's message.
    pub fn from_core(error: &slm_core::Error) -> Self {
        use slm_core::Error as E;
        let message = error.to_string();
        match error {
            E::InvalidRequest(..) => Self::bad_request(message),
            E::ContextOverflow { .. } => {
                Self::invalid_param("messages", message).with_code("context_length_exceeded")
            }
            E::ContentFiltered(..) => Self::bad_request(message).with_code("content_filter"),
            E::RateLimited { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
                    .with_code("rate_limit_exceeded")
            }
            E::Http { status, .. } => match *status {
                400 | 404 | 413 | 422 => Self::new(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                    "invalid_request_error",
                    message,
                ),
                429 => Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message),
                _ => Self::new(StatusCode::BAD_GATEWAY, "server_error", message)
                    .with_code("upstream_error"),
            },
            E::Connection(..) => Self::new(StatusCode::BAD_GATEWAY, "server_error", message)
                .with_code("upstream_error"),
            E::Timeout(..) => Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout_error", message)
                .with_code("timeout"),
            E::Cancelled => Self::unavailable(message).with_code("cancelled"),
            E::ModelLoad(..) => Self::unavailable(message).with_code("model_load_failed"),
            _ => Self::internal(message),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_statuses_clients_expect() {
        use slm_core::Error as E;
        let cases = [
            (E::InvalidRequest("x".into(), None), 400),
            (
                E::ContextOverflow {
                    needed: 9,
                    limit: 4,
                    source: None,
                },
                400,
            ),
            (E::Backend("boom".into(), None), 500),
            (E::Config("c".into(), None), 500),
            (
                E::RateLimited {
                    retry_after: None,
                    source: None,
                },
                429,
            ),
            (
                E::Http {
                    status: 404,
                    code: None,
                    body: "b".into(),
                    source: None,
                },
                404,
            ),
            (
                E::Http {
                    status: 401,
                    code: None,
                    body: "b".into(),
                    source: None,
                },
                502,
            ),
            (E::Connection("refused".into(), None), 502),
            (E::Timeout(std::time::Duration::from_secs(1), None), 504),
            (E::ModelLoad("m".into(), None), 503),
        ];
        for (error, status) in cases {
            let api = ApiError::from_core(&error);
            assert_eq!(api.status.as_u16(), status, "{error}");
            assert_eq!(api.body()["error"]["message"], error.to_string());
        }
    }

    #[test]
    fn the_body_has_openai_shape() {
        let body = ApiError::invalid_param("n", "only n=1").body();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["param"], "n");
        assert!(body["error"]["code"].is_null());
        let overflow = ApiError::from_core(&slm_core::Error::ContextOverflow {
            needed: 2,
            limit: 1,
            source: None,
        });
        assert_eq!(overflow.body()["error"]["code"], "context_length_exceeded");
    }
}
