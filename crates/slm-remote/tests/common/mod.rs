//! Test helpers: model constructors, SSE bodies, and a hand-rolled HTTP/1.1 server for the
//! faults wiremock cannot produce (a connection cut mid-stream, concurrency counting, noticing
//! a client that hangs up).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use slm_core::{ChatModel, ChatRequest};
use slm_remote::{AzureOpenAiModel, OpenAiCompatibleModel, RemoteError, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const KEY: &str = "test-key-5f1c9e";

/// The typed error behind a core error: its source, downcast.
pub fn typed(error: &slm_core::Error) -> RemoteError {
    error
        .downcast_ref::<RemoteError>()
        .cloned()
        .unwrap_or_else(|| panic!("no RemoteError behind {error:?}"))
}

/// The typed error of a `chat` call that must fail.
pub async fn remote_error(model: &dyn ChatModel, request: ChatRequest) -> RemoteError {
    match model.chat(request).await {
        Ok(response) => panic!("expected an error, got {response:?}"),
        Err(error) => typed(&error),
    }
}

/// Retries that do not slow the suite down.
pub fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .with_request_timeout(Duration::from_secs(5))
        .with_total_deadline(Duration::from_secs(20))
}

pub fn azure(base: &str, deployment: &str, policy: RetryPolicy) -> AzureOpenAiModel {
    AzureOpenAiModel::builder()
        .endpoint(format!("{base}/openai/deployments/{deployment}"))
        .api_version("2024-05-01-preview")
        .api_key(KEY)
        .retry(policy)
        .build()
        .unwrap()
}

pub fn compatible(base: &str, policy: RetryPolicy) -> OpenAiCompatibleModel {
    OpenAiCompatibleModel::builder(format!("{base}/v1"), "phi-4-mini")
        .retry(policy)
        .build()
        .unwrap()
}

/// A chat.completion.chunk with these fields added.
pub fn chunk(fields: Value) -> Value {
    let mut base =
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"});
    base.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    base
}

pub fn text_chunk(text: &str) -> Value {
    chunk(json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}))
}

pub fn finish_chunk(reason: &str) -> Value {
    chunk(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}))
}

/// An SSE body: one `data:` event per chunk, then `[DONE]`.
pub fn sse(chunks: &[Value]) -> String {
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    body
}

/// A plain chat.completion answer.
pub fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    })
}

/// One accepted connection of the raw server.
pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    /// Reads one request (head and Content-Length body); `None` if the client hung up.
    pub async fn read_request(&mut self) -> Option<String> {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = find(&data, b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while data.len() < head_end + length {
            let n = self.stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&buf[..n]);
        }
        Some(String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned())
    }

    pub async fn write(&mut self, bytes: &str) -> std::io::Result<()> {
        self.stream.write_all(bytes.as_bytes()).await?;
        self.stream.flush().await
    }

    /// Starts a chunked event-stream answer.
    pub async fn start_sse(&mut self) -> std::io::Result<()> {
        self.write(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await
    }

    /// Sends one HTTP chunk.
    pub async fn send_chunk(&mut self, data: &str) -> std::io::Result<()> {
        self.write(&format!("{:x}\r\n{data}\r\n", data.len())).await
    }

    /// A complete JSON answer.
    pub async fn respond_json(&mut self, status: u16, body: &Value) -> std::io::Result<()> {
        let body = body.to_string();
        self.write(&format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))
        .await
    }

    /// Waits until the client closes the connection (read gives EOF or an error).
    pub async fn wait_for_hangup(&mut self) {
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A TCP server on 127.0.0.1 that hands each connection to `handler`, counting them.
pub struct RawServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
}

impl RawServer {
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let handler = Arc::new(handler);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                tokio::spawn(async move { handler(Conn { stream }).await });
            }
        });
        Self { addr, connections }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
