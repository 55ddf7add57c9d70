//! The HTTP layer under async-openai: one attempt, no retries, errors kept whole.
//!
//! async-openai sends every request through a tower service. Its default one retries 429 and
//! 5xx three times on its own schedule (honouring only whole-second `Retry-After`), and turns
//! error answers into an `ApiError` that has dropped the headers and any field it does not
//! know. We plug in [`Transport`] instead (`Client::with_http_service`, the crate's
//! `middleware` feature). It executes the request with reqwest exactly once and, on an error
//! status, returns an [`HttpFailure`] with the status, the wait the server asked for
//! (`retry-after-ms` / `retry-after`), the URL and the raw body. async-openai passes it
//! through as `OpenAIError::Boxed`, and [`crate::classify`] turns it into a typed error.
//! Retries, timeouts and deadlines live in [`crate::retry`], above async-openai, where they can
//! also cover reading the body.
//!
//! The transport also notes when the response headers arrived, into a task-local slot set
//! around each attempt, which gives the `send` timing.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;

use crate::retry::parse_retry_after;

/// Error bodies longer than this are cut (they are for people to read).
const MAX_ERROR_BODY: usize = 16 * 1024;

tokio::task_local! {
    static HEADERS_AT: Cell<Option<Instant>>;
}

/// Runs `attempt` while recording when response headers arrive; returns its output and that
/// instant.
pub(crate) async fn observe<T>(attempt: impl Future<Output = T>) -> (T, Option<Instant>) {
    HEADERS_AT
        .scope(Cell::new(None), async move {
            let out = attempt.await;
            (out, HEADERS_AT.with(Cell::get))
        })
        .await
}

/// An error status answer, read whole.
#[derive(Debug, Clone, thiserror::Error)]
#[error("HTTP {status} from {url}")]
pub(crate) struct HttpFailure {
    pub(crate) status: u16,
    pub(crate) url: String,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: String,
}

/// The tower service async-openai sends requests through.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
}

impl Transport {
    pub(crate) fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            let response = client.execute(request).await?;
            let _ = HEADERS_AT.try_with(|slot| slot.set(Some(Instant::now())));
            if response.status().is_success() {
                return Ok(response);
            }
            Err(OpenAIError::Boxed(Box::new(read_failure(response).await)))
        })
    }
}

async fn read_failure(response: reqwest::Response) -> HttpFailure {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = parse_retry_after(
        header("retry-after-ms").as_deref(),
        header("retry-after").as_deref(),
    );
    let status = response.status().as_u16();
    let url = response.url().to_string();
    let body = match response.bytes().await {
        Ok(bytes) => {
            let cut = &bytes[..bytes.len().min(MAX_ERROR_BODY)];
            String::from_utf8_lossy(cut).into_owned()
        }
        Err(e) => format!("(the error body could not be read: {e})"),
    };
    HttpFailure {
        status,
        url,
        retry_after,
        body,
    }
}
